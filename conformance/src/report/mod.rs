//! Report formats. Each takes the same results and run description and
//! returns text; the caller decides where it goes.

mod human;
mod json;
mod junit;
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
}

impl Summary {
    pub fn of(results: &[CaseResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            match r.outcome {
                Outcome::Pass => s.passed += 1,
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
                duration: Duration::from_millis(7),
            },
            CaseResult {
                name: "memory_limit_is_applied",
                area: "resources",
                level: Level::Must,
                requirements: vec!["linux.resources.memory"],
                outcome: Outcome::Skip { reason: "no memory controller".into() },
                duration: Duration::from_millis(1),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
