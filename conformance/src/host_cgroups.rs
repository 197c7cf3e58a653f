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

/// The first of `files` found in one of `dirs` (v1: the controller's
/// hierarchy; v2: the one directory), with its trimmed content.
pub fn read_first(dirs: &[PathBuf], files: &[&str]) -> Option<(String, String)> {
    dirs.iter().find_map(|dir| {
        files.iter().find_map(|file| {
            let value = std::fs::read_to_string(dir.join(file)).ok()?;
            Some((file.to_string(), value.trim().to_string()))
        })
    })
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

    #[test]
    fn the_first_file_found_is_read_in_the_order_given() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(b.path().join("memory.max"), "1048576\n").unwrap();
        std::fs::write(b.path().join("pids.max"), "max\n").unwrap();
        let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
        let found = read_first(&dirs, &["memory.limit_in_bytes", "memory.max"]);
        assert_eq!(found, Some(("memory.max".to_string(), "1048576".to_string())));
        assert_eq!(read_first(&dirs, &["cpu.max"]), None);
    }
}
