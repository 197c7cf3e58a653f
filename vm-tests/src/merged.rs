//! One report for a whole `cargo xtask vm-test` run: every (kernel, cgroup
//! layout) boot, its suite results and runtime tests, with the kernel and
//! the layout on every case. JSON for tools, JUnit (quick-junit) for CI
//! dashboards. A layout a kernel cannot give is there as "not available"
//! with the reason, never as passed.

use crate::libtest::{self, BinaryRun};
use crate::results::GuestResults;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::{json, Value};

/// One (kernel, layout) pair of the matrix.
#[derive(Debug)]
pub struct Boot {
    /// The series named by `--kernel` ("5.10").
    pub kernel: String,
    /// `uname -r` of that kernel.
    pub release: String,
    pub layout: String,
    pub outcome: BootOutcome,
    /// Seconds from starting QEMU to its exit (both boots, if retried).
    pub wall_s: f64,
    /// Why the pair was booted a second time, if it was.
    pub retried: Option<String>,
}

#[derive(Debug)]
pub enum BootOutcome {
    /// The kernel cannot give the layout: why.
    NotAvailable(String),
    /// The guest ran (its results may still be partial: no `rc`).
    Ran(GuestResults),
}

impl Boot {
    fn results(&self) -> Option<&GuestResults> {
        match &self.outcome {
            BootOutcome::Ran(r) => Some(r),
            BootOutcome::NotAvailable(_) => None,
        }
    }

    /// The suite's own JSON report from the guest, if it arrived whole.
    pub fn report(&self) -> Option<Value> {
        serde_json::from_str(&self.results()?.report).ok()
    }

    /// "ran", "not available" or "no result" (the guest died or hung).
    pub fn status(&self) -> &'static str {
        match self.results() {
            None => "not available",
            Some(r) if r.rc.is_some() && self.report().is_some() => "ran",
            Some(_) => "no result",
        }
    }

    fn label(&self) -> String {
        format!("{} {}", self.kernel, self.layout)
    }
}

fn count(runs: &[BinaryRun], outcome: libtest::Outcome) -> usize {
    runs.iter().flat_map(|r| r.cases()).filter(|c| c.outcome == outcome).count()
}

/// The merged JSON document.
pub fn json(boots: &[Boot]) -> Value {
    let mut runs = Vec::new();
    let mut results = Vec::new();
    let mut runtime_tests = Vec::new();
    for boot in boots {
        let report = boot.report();
        let mut run = json!({
            "kernel": boot.kernel,
            "release": boot.release,
            "layout": boot.layout,
            "status": boot.status(),
            "wall_s": (boot.wall_s * 10.0).round() / 10.0,
        });
        if let Some(why) = &boot.retried {
            run["retried"] = json!(why);
        }
        match &boot.outcome {
            BootOutcome::NotAvailable(why) => run["why"] = json!(why),
            BootOutcome::Ran(r) => {
                run["booted_s"] = json!(r.booted_at);
                run["done_s"] = json!(r.ended_at);
                run["suite_rc"] = json!(r.rc);
                if let Some(report) = &report {
                    run["summary"] = report["summary"].clone();
                    run["litmus"] = report["litmus"].clone();
                }
                run["runtime_tests"] = json!({
                    "binaries": r.tests.len(),
                    "passed": count(&r.tests, libtest::Outcome::Passed),
                    "failed": count(&r.tests, libtest::Outcome::Failed),
                    "ignored": count(&r.tests, libtest::Outcome::Ignored),
                });
                for test_run in &r.tests {
                    for case in test_run.cases() {
                        runtime_tests.push(json!({
                            "kernel": boot.kernel, "layout": boot.layout,
                            "binary": test_run.name, "name": case.name,
                            "outcome": format!("{:?}", case.outcome).to_lowercase(),
                        }));
                    }
                }
            }
        }
        for result in report.iter().flat_map(|r| r["results"].as_array().cloned()).flatten() {
            let mut result = result;
            result["kernel"] = json!(boot.kernel);
            result["layout"] = json!(boot.layout);
            results.push(result);
        }
        runs.push(run);
    }
    json!({ "runs": runs, "results": results, "runtime_tests": runtime_tests })
}

/// The merged JUnit document: a suite per boot and per runtime test
/// binary, each case carrying kernel and layout as properties.
pub fn junit(boots: &[Boot]) -> String {
    let mut report = Report::new("litmus vm-test");
    for boot in boots {
        let props = |case: &mut TestCase| {
            case.add_property(Property::new("kernel", boot.release.as_str()));
            case.add_property(Property::new("layout", boot.layout.as_str()));
        };
        let mut suite = TestSuite::new(format!("litmus suite @ {}", boot.label()));
        match (boot.status(), &boot.outcome) {
            (_, BootOutcome::NotAvailable(why)) => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(format!("layout not available on this kernel: {why}"));
                let mut case = TestCase::new("(layout)", status);
                props(&mut case);
                suite.add_test_case(case);
            }
            ("no result", BootOutcome::Ran(r)) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message("the guest gave no whole report (died, hung or was killed)");
                status.set_description(r.summary.clone());
                let mut case = TestCase::new("(guest)", status);
                props(&mut case);
                suite.add_test_case(case);
            }
            _ => {}
        }
        for result in boot.report().iter().flat_map(|r| r["results"].as_array().cloned()).flatten()
        {
            let text = |key: &str| result[key].as_str().unwrap_or_default().to_string();
            let status = match text("outcome").as_str() {
                "pass" => TestCaseStatus::success(),
                "skip" => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(text("reason"));
                    status
                }
                _ => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_message(format!("expected {}", text("expected")));
                    status.set_description(format!(
                        "expected: {}\nseen: {}",
                        text("expected"),
                        text("seen")
                    ));
                    status
                }
            };
            let mut case = TestCase::new(text("name"), status);
            case.set_classname(format!("litmus.{}.{}", boot.label(), text("area")));
            props(&mut case);
            case.add_property(Property::new("level", text("level")));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
        for run in boot.results().map(|r| r.tests.as_slice()).unwrap_or_default() {
            let mut suite = TestSuite::new(format!(
                "litmus-runtime root tests: {} @ {}",
                run.name,
                boot.label()
            ));
            let mut cases = run.cases();
            if !run.passed() && !cases.iter().any(|c| c.outcome == libtest::Outcome::Failed) {
                cases.push(libtest::TestCase {
                    name: "(test binary)".into(),
                    outcome: libtest::Outcome::Failed,
                    output: format!("exited {:?} without a failed test:\n{}", run.rc, run.output),
                });
            }
            for c in cases {
                let status = match c.outcome {
                    libtest::Outcome::Passed => TestCaseStatus::success(),
                    libtest::Outcome::Ignored => TestCaseStatus::skipped(),
                    libtest::Outcome::Failed => {
                        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        status.set_description(c.output.clone());
                        status
                    }
                };
                let mut case = TestCase::new(c.name.clone(), status);
                props(&mut case);
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
    }
    report.to_string().unwrap_or_else(|e| format!("<!-- junit serialization failed: {e} -->"))
}

/// The table printed at the end of a run: one line per boot.
pub fn table(boots: &[Boot]) -> String {
    let mut out = format!(
        "  {:<6} {:<7} {:>6} {:>7} {:>7}  {}\n",
        "kernel", "layout", "boot", "done", "wall", "suite (passed/failed/skipped); runtime tests"
    );
    for boot in boots {
        let secs = |t: Option<f64>| t.map_or("-".to_string(), |t| format!("{t:.1}s"));
        let line = match &boot.outcome {
            BootOutcome::NotAvailable(why) => {
                format!("{:>6} {:>7} {:>7}  not available: {why}", "-", "-", "-")
            }
            BootOutcome::Ran(r) => {
                let suite = match boot.report() {
                    Some(report) => {
                        let s = &report["summary"];
                        format!("{}/{}/{}", s["passed"], s["failed"], s["skipped"])
                    }
                    None => "no whole report".to_string(),
                };
                let tests = if r.tests.is_empty() {
                    "not run here".to_string()
                } else {
                    format!(
                        "{}/{}/{}",
                        count(&r.tests, libtest::Outcome::Passed),
                        count(&r.tests, libtest::Outcome::Failed),
                        count(&r.tests, libtest::Outcome::Ignored)
                    )
                };
                format!(
                    "{:>6} {:>7} {:>6.1}s  {suite}; {tests}",
                    secs(r.booted_at),
                    secs(r.ended_at),
                    boot.wall_s
                )
            }
        };
        let retried = if boot.retried.is_some() { " (booted twice: kernel stall)" } else { "" };
        out += &format!("  {:<6} {:<7} {line}{retried}\n", boot.kernel, boot.layout);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(rc: Option<i32>, report: &str) -> GuestResults {
        GuestResults {
            booted_at: Some(2.5),
            summary: "2 passed".into(),
            report: report.into(),
            rc,
            ended_at: Some(90.0),
            tests: vec![BinaryRun {
                name: "cli".into(),
                rc: Some(0),
                output: "test a ... ok\ntest b ... ignored\n".into(),
            }],
            ..GuestResults::default()
        }
    }

    const REPORT: &str = r#"{"litmus": {"host": {"kernel": "5.10.0-32-amd64", "cgroup": "v2"}},
        "summary": {"passed": 1, "failed": 1, "skipped": 1},
        "results": [
          {"name": "umask_is_set", "area": "process", "level": "MUST", "outcome": "pass"},
          {"name": "rro_is_applied", "area": "filesystem", "level": "SHOULD", "outcome": "skip",
           "reason": "mount_setattr(2) is missing: it came with Linux 5.12"},
          {"name": "pids_limit_is_applied", "area": "resources", "level": "MUST",
           "outcome": "fail", "expected": "pids.max 17", "seen": "max"}]}"#;

    fn boots() -> Vec<Boot> {
        vec![
            Boot {
                kernel: "5.10".into(),
                release: "5.10.0-32-amd64".into(),
                layout: "v2".into(),
                outcome: BootOutcome::Ran(guest(Some(1), REPORT)),
                wall_s: 100.04,
                retried: Some("the first boot's kernel stalled".into()),
            },
            Boot {
                kernel: "6.12".into(),
                release: "6.12.117+deb13-amd64".into(),
                layout: "v1".into(),
                outcome: BootOutcome::NotAvailable("CONFIG_MEMCG_V1 is not set".into()),
                wall_s: 0.0,
                retried: None,
            },
            Boot {
                kernel: "6.1".into(),
                release: "6.1.0-50-amd64".into(),
                layout: "hybrid".into(),
                outcome: BootOutcome::Ran(guest(None, "{\"truncat")),
                wall_s: 900.0,
                retried: None,
            },
        ]
    }

    #[test]
    fn every_case_carries_its_kernel_and_layout_and_every_boot_its_status() {
        let doc = json(&boots());
        let runs = doc["runs"].as_array().unwrap();
        let statuses: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["ran", "not available", "no result"]);
        assert_eq!(runs[1]["why"], "CONFIG_MEMCG_V1 is not set");
        assert_eq!(runs[0]["retried"], "the first boot's kernel stalled");
        assert!(runs[1].get("retried").is_none());
        assert_eq!(runs[0]["summary"]["failed"], 1);
        assert_eq!(runs[0]["runtime_tests"]["ignored"], 1);
        let results = doc["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        assert!(results.iter().all(|r| r["kernel"] == "5.10" && r["layout"] == "v2"));
        assert_eq!(doc["runtime_tests"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn junit_never_reports_an_unavailable_or_dead_boot_as_passed() {
        let xml = junit(&boots());
        assert!(xml.contains("litmus suite @ 5.10 v2"));
        assert!(xml.contains("<property name=\"kernel\" value=\"5.10.0-32-amd64\"/>"));
        assert!(xml.contains("layout not available on this kernel: CONFIG_MEMCG_V1"));
        assert!(xml.contains("the guest gave no whole report"));
        assert!(xml.contains("mount_setattr(2) is missing"));
        assert!(xml.contains("seen: max"));
        let failures: u32 = xml
            .split_once("<testsuites")
            .and_then(|(_, rest)| rest.split_once("failures=\""))
            .and_then(|(_, rest)| rest.split('"').next()?.parse().ok())
            .unwrap();
        assert_eq!(failures, 1);
        assert!(xml.contains("errors=\"1\""), "{xml}");
    }

    #[test]
    fn the_table_has_a_line_per_boot() {
        let table = table(&boots());
        assert_eq!(table.lines().count(), 4);
        assert!(table.contains("1/1/1; 1/0/1 (booted twice: kernel stall)"), "{table}");
        assert!(table.contains("not available: CONFIG_MEMCG_V1"), "{table}");
        assert!(table.contains("no whole report"), "{table}");
    }

    #[test]
    fn a_test_binary_that_crashed_without_results_is_a_failure() {
        let mut results = guest(Some(0), REPORT);
        results.tests = vec![BinaryRun {
            name: "cli".into(),
            rc: Some(134),
            output: "running 7 tests\nAborted\n".into(),
        }];
        let boot = Boot {
            kernel: "6.1".into(),
            release: "6.1.0-50-amd64".into(),
            layout: "v2".into(),
            outcome: BootOutcome::Ran(results),
            wall_s: 1.0,
            retried: None,
        };
        let xml = junit(&[boot]);
        assert!(xml.contains("(test binary)") && xml.contains("exited Some(134)"), "{xml}");
        assert!(xml.contains("failures=\"2\""), "{xml}");
    }
}
