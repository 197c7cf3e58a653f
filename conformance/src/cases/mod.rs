//! The case registry: every area module lists its cases in `CASES`, and
//! this is the one place that gathers them.

mod devices;
mod engine;
mod engine_shapes;
mod filesystem;
mod hooks;
mod inherited_fds;
mod lifecycle;
pub(crate) mod namespaces;
mod process;
mod realworld;
mod resources;
mod robustness;
mod seccomp;
mod security;
pub(crate) mod syscall_names;
mod validity;

use crate::case::Case;
use std::path::PathBuf;

const AREAS: &[&[Case]] = &[
    lifecycle::CASES,
    process::CASES,
    filesystem::CASES,
    namespaces::CASES,
    engine_shapes::CASES,
    devices::CASES,
    hooks::CASES,
    resources::CASES,
    seccomp::CASES,
    robustness::CASES,
    security::CASES,
    inherited_fds::CASES,
    validity::CASES,
    realworld::CASES,
    engine::CASES,
];

pub fn all() -> impl Iterator<Item = &'static Case> {
    AREAS.iter().flat_map(|cases| cases.iter())
}

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
    use crate::catalogue;
    use std::collections::HashSet;

    #[test]
    fn every_case_cites_a_catalogued_requirement() {
        // Citing an unknown one does not compile (catalogue::req); a
        // constant is also in the catalogue by construction.
        for case in all() {
            assert!(
                !case.requirements.is_empty(),
                "{} cites no requirement",
                case.name
            );
            for r in case.requirements {
                assert_eq!(catalogue::find(r.id).map(|c| c.text), Some(r.text));
            }
        }
    }

    #[test]
    fn case_names_are_unique() {
        let mut seen = HashSet::new();
        for case in all() {
            assert!(seen.insert(case.name), "duplicate case {}", case.name);
        }
    }

    #[test]
    fn cgroup_lines_map_to_host_directories() {
        let dirs = host_cgroup_dirs("4:memory:/litmus/c1\n9:name=systemd:/litmus/c1\n");
        assert!(
            dirs.contains(&PathBuf::from("/sys/fs/cgroup/memory/litmus/c1")),
            "{dirs:?}"
        );
        assert!(
            dirs.contains(&PathBuf::from("/sys/fs/cgroup/systemd/litmus/c1")),
            "{dirs:?}"
        );
    }
}
