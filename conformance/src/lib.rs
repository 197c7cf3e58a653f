//! litmus: an OCI runtime-spec conformance suite that checks any
//! runc-compatible runtime through its command line.
//!
//! [`catalogue`] lists the spec's requirements; [`cases`] holds the checks,
//! each citing the requirements it proves; [`case`] is the context a case
//! runs in ([`driver`] calls the runtime, the probe reports from inside);
//! [`runner`] runs them in parallel with leak checks; [`report`] writes
//! human, TAP, JUnit and JSON reports.

pub mod capability;
pub mod case;
pub mod cases;
pub mod catalogue;
pub mod console;
pub mod ctx;
pub mod deadline;
pub mod diff;
pub mod driver;
pub mod generated;
pub mod host_cgroups;
pub mod leaks;
pub mod preflight;
pub mod realworld;
pub mod report;
pub mod rootless;
pub mod runner;
pub mod scratch_net;
pub mod selinux;
pub mod state_view;
pub mod trace;
pub mod verdict;
