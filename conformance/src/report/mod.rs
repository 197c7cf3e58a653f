//! Report formats. Each takes the same results and run description and
//! returns text; the caller decides where it goes.

mod human;
mod json;
mod junit;
pub mod matrix;
mod tap;

use crate::catalogue::Level;
use crate::runner::{CaseResult, Outcome};
use serde::Serialize;

pub use human::human;
pub use json::json;
pub use junit::junit;
pub use tap::tap;

/// What was run against what.
#[derive(Clone, Debug, Serialize)]
pub struct RunInfo {
    pub runtime: String,
    pub runtime_version: String,
    pub spec_version: String,
    pub litmus_version: String,
    /// Where it ran: what a merged matrix needs to tell runs apart.
    pub host: Host,
    /// How this host has to run the runtime (`--note`), if it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The host a run was made on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Host {
    /// The kernel release (uname -r).
    pub kernel: String,
    /// "v1", "v2" or "hybrid" (v1 controllers beside a cgroup2 mount).
    pub cgroup: String,
    /// The active major security module: "apparmor", "selinux" or "none".
    pub security_module: String,
    /// When the run started (RFC 3339, UTC).
    pub date: String,
}

impl Host {
    pub fn detect() -> Host {
        let kernel = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let cgroup = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            "v2"
        } else if litmus_bundle::is_hybrid_cgroup_host() {
            "hybrid"
        } else {
            "v1"
        };
        let lsm = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
        let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|v| v.trim() == "Y");
        let security_module = if lsm.split(',').any(|m| m == "selinux")
            && std::path::Path::new("/sys/fs/selinux/enforce").exists()
        {
            "selinux"
        } else if apparmor {
            "apparmor"
        } else {
            "none"
        };
        Host {
            kernel,
            cgroup: cgroup.into(),
            security_module: security_module.into(),
            date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub failed_must: usize,
    /// Failures of the engine contract (level ENGINE), outside the spec
    /// verdict.
    pub failed_engine: usize,
    /// Cases of rules newer than the runtime's declared spec version that
    /// ran, and of those the failures: shown, outside the verdict.
    pub ran_beyond: usize,
    pub failed_beyond: usize,
}

impl Summary {
    pub fn of(results: &[CaseResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            if r.beyond_declared && !matches!(r.outcome, Outcome::Skip { .. }) {
                s.ran_beyond += 1;
            }
            match r.outcome {
                Outcome::Pass => s.passed += 1,
                Outcome::Fail { .. } if r.beyond_declared => {
                    s.failed += 1;
                    s.failed_beyond += 1;
                }
                Outcome::Fail { .. } => {
                    s.failed += 1;
                    match r.level {
                        Level::Must => s.failed_must += 1,
                        Level::Engine => s.failed_engine += 1,
                        _ => {}
                    }
                }
                Outcome::Skip { .. } => s.skipped += 1,
            }
        }
        s
    }

    /// The closing line CI systems recognise.
    pub fn line(&self) -> String {
        let mut line =
            format!("{} passed, {} failed, {} skipped", self.passed, self.failed, self.skipped);
        if self.failed_engine > 0 {
            line += &format!(
                " ({} of the failures: engine contract, outside the spec verdict)",
                self.failed_engine
            );
        }
        if self.ran_beyond > 0 {
            line += &format!(
                " ({} cases of rules newer than the runtime's declared spec version ran, {} \
                 failed: outside the verdict)",
                self.ran_beyond, self.failed_beyond
            );
        }
        line
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use std::time::Duration;

    pub fn info() -> RunInfo {
        RunInfo {
            runtime: "/usr/bin/example-runtime".into(),
            runtime_version: "example 1.0".into(),
            spec_version: "1.2.0".into(),
            litmus_version: "0.0.0-test".into(),
            host: Host {
                kernel: "6.1.0-test".into(),
                cgroup: "v2".into(),
                security_module: "none".into(),
                date: "2026-12-03T00:00:00Z".into(),
            },
            note: None,
        }
    }

    pub fn results() -> Vec<CaseResult> {
        vec![
            CaseResult {
                name: "create_leaves_container_created",
                area: "lifecycle",
                level: Level::Must,
                requirements: vec!["runtime.create.status"],
                outcome: Outcome::Pass,
                beyond_declared: false,
                duration: Duration::from_millis(42),
            },
            CaseResult {
                name: "umask_is_set",
                area: "process",
                level: Level::Must,
                requirements: vec!["config.process.umask"],
                outcome: Outcome::Fail {
                    expected: "umask = Some(23)".into(),
                    seen: "umask = Some(18) <&\"escaped\">".into(),
                },
                beyond_declared: false,
                duration: Duration::from_millis(7),
            },
            CaseResult {
                name: "memory_limit_is_applied",
                area: "resources",
                level: Level::Must,
                requirements: vec!["linux.resources.memory"],
                outcome: Outcome::Skip { reason: "no memory controller".into() },
                beyond_declared: false,
                duration: Duration::from_millis(1),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_beyond_the_declared_version_are_outside_the_verdict() {
        let mut results = fixtures::results();
        results[1].beyond_declared = true;
        results[0].beyond_declared = true;
        let summary = Summary::of(&results);
        assert_eq!((summary.failed, summary.failed_must), (1, 0));
        assert_eq!((summary.ran_beyond, summary.failed_beyond), (2, 1));
        assert!(summary.line().contains("2 cases of rules newer"), "{}", summary.line());
        let json = serde_json::to_value(&results[1]).unwrap();
        assert_eq!(json["beyond_declared"], true);
        assert!(serde_json::to_value(&results[2]).unwrap().get("beyond_declared").is_none());
    }

    #[test]
    fn engine_failures_are_counted_apart_from_must_failures() {
        let mut results = fixtures::results();
        let mut engine = results[1].clone();
        engine.level = Level::Engine;
        engine.name = "pid_files_hold_bare_host_pids";
        results.push(engine);
        let summary = Summary::of(&results);
        assert_eq!((summary.failed, summary.failed_must, summary.failed_engine), (2, 1, 1));
        assert!(
            summary.line().contains("1 of the failures: engine contract"),
            "{}",
            summary.line()
        );
        let without: Vec<_> = results.into_iter().filter(|r| r.level != Level::Engine).collect();
        assert!(!Summary::of(&without).line().contains("engine"));
    }
}
