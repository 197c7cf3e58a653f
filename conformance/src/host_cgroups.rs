//! Where a container's cgroups are on the host, from what the container
//! (or the runtime's `ps`) sees in /proc/PID/cgroup.

use std::path::PathBuf;

/// Host directories of the cgroups listed in a /proc/PID/cgroup text,
/// leaving out the ones the suite itself is in (a hybrid host's unified
/// line, hierarchies the runtime does not manage).
pub fn host_cgroup_dirs(proc_cgroup: &str) -> Vec<PathBuf> {
    let ours = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let unified_root = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        PathBuf::from("/sys/fs/cgroup")
    } else {
        PathBuf::from("/sys/fs/cgroup/unified")
    };
    proc_cgroup
        .lines()
        .filter(|line| !ours.lines().any(|o| o == *line))
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let rel = path.trim_start_matches('/');
            Some(if controllers.is_empty() {
                unified_root.join(rel)
            } else {
                PathBuf::from("/sys/fs/cgroup")
                    .join(controllers.strip_prefix("name=").unwrap_or(controllers))
                    .join(rel)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_lines_map_to_host_directories() {
        let dirs = host_cgroup_dirs("4:memory:/litmus/c1\n9:name=systemd:/litmus/c1\n");
        assert!(dirs.contains(&PathBuf::from("/sys/fs/cgroup/memory/litmus/c1")), "{dirs:?}");
        assert!(dirs.contains(&PathBuf::from("/sys/fs/cgroup/systemd/litmus/c1")), "{dirs:?}");
    }
}
