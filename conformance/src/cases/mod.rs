//! The case registry: every area module lists its cases in `CASES`, and
//! this is the one place that gathers them.

mod devices;
mod engine;
mod engine_shapes;
mod features;
mod filesystem;
mod hooks;
mod idmapped_mounts;
mod inherited_fds;
mod lifecycle;
mod mount_options;
pub(crate) mod namespaces;
mod net_devices;
mod process;
mod realworld;
mod resources;
mod robustness;
mod rootless;
mod seccomp;
mod security;
pub(crate) mod syscall_names;
mod validity;

use crate::case::Case;

const AREAS: &[&[Case]] = &[
    lifecycle::CASES,
    features::CASES,
    process::CASES,
    filesystem::CASES,
    mount_options::CASES,
    idmapped_mounts::CASES,
    namespaces::CASES,
    net_devices::CASES,
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
    rootless::CASES,
];

pub fn all() -> impl Iterator<Item = &'static Case> {
    AREAS.iter().flat_map(|cases| cases.iter())
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
            assert!(!case.requirements.is_empty(), "{} cites no requirement", case.name);
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
}
