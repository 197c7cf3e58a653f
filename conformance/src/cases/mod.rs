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

/// The cases that run many containers (sweeps, one container per item),
/// longest first: the runner starts them before the rest, so that no
/// worker is still in one of them while the others sit idle at the end.
/// (Catalogue order put them last: a run waited ~8 s on one worker.)
pub const HEAVY: &[&str] = &[
    "configs_captured_from_engines_run",
    "features_list_only_what_the_runtime_recognizes",
    "killed_create_leaves_nothing_after_delete",
    "mount_destination_swapped_for_a_symlink_stays_inside",
    "delete_force_removes_every_state",
    "a_created_container_killed_can_be_deleted_at_once",
    "linux_mount_options_have_their_mount8_meaning",
    "container_cannot_grab_the_runtime_binary",
    "preserved_fds_are_exactly_the_callers",
];

/// The order to start `cases` in: indices of the heavy ones (in HEAVY's
/// order), then the others as given.
pub fn start_order(cases: &[&Case]) -> Vec<usize> {
    let heaviness = |name: &str| HEAVY.iter().position(|h| *h == name).unwrap_or(HEAVY.len());
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_by_key(|&i| heaviness(cases[i].name)); // stable: the rest keep their order
    order
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
    fn heavy_cases_exist_and_start_first() {
        let names: HashSet<_> = all().map(|c| c.name).collect();
        for heavy in HEAVY {
            assert!(names.contains(heavy), "HEAVY names {heavy}, which is not a case");
        }
        let cases: Vec<&Case> = all().collect();
        let order = start_order(&cases);
        let started: Vec<&str> = order.iter().map(|&i| cases[i].name).collect();
        assert_eq!(&started[..HEAVY.len()], HEAVY);
        let rest: Vec<&str> = cases.iter().map(|c| c.name).filter(|n| !HEAVY.contains(n)).collect();
        assert_eq!(&started[HEAVY.len()..], &rest[..], "the others keep catalogue order");
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..cases.len()).collect::<Vec<_>>(), "each case once");
    }

    #[test]
    fn case_names_are_unique() {
        let mut seen = HashSet::new();
        for case in all() {
            assert!(seen.insert(case.name), "duplicate case {}", case.name);
        }
    }
}
