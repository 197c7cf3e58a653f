//! What the guest wrote to its second serial port, between markers:
//! `=== LITMUS BOOTED`, `=== LITMUS SUMMARY BEGIN`, `=== LITMUS JSON BEGIN` (the suite's
//! JSON report),
//! `=== LITMUS END rc=N uptime=S`, and per runtime test binary
//! `=== LITMUS TESTS BEGIN name=NAME` ... `=== LITMUS TESTS END name=NAME rc=N`.

use crate::libtest::BinaryRun;

#[derive(Debug, Default, PartialEq)]
pub struct GuestResults {
    pub booted_at: Option<f64>,
    pub summary: String,
    /// The suite's JSON report (`litmus run --format json`).
    pub report: String,
    pub rc: Option<i32>,
    pub ended_at: Option<f64>,
    /// The runtime's root integration test binaries, in the order they ran.
    pub tests: Vec<BinaryRun>,
    /// The suite run as an unprivileged user (`--rootless`, v2 guests):
    /// its summary, JSON report and exit status.
    pub rootless_summary: String,
    pub rootless_report: String,
    pub rootless_rc: Option<i32>,
}

fn field<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    line.split_whitespace().find_map(|w| w.strip_prefix(key)?.parse().ok())
}

pub fn parse(serial: &str) -> GuestResults {
    let mut results = GuestResults::default();
    let mut section = "";
    // A marker is at the start of a line, but the output before it may
    // not have ended with a newline: split there too.
    let lines = serial.lines().flat_map(|line| match line.find("=== LITMUS ") {
        Some(at) if at > 0 => vec![&line[..at], &line[at..]],
        _ => vec![line],
    });
    for line in lines {
        let line = line.trim_end_matches('\r');
        if let Some(marker) = line.strip_prefix("=== LITMUS ") {
            if marker.starts_with("BOOTED") {
                results.booted_at = field(marker, "uptime=");
            } else if marker.starts_with("SUMMARY BEGIN") {
                section = "summary";
            } else if marker.starts_with("JSON BEGIN") {
                section = "report";
            } else if marker.starts_with("ROOTLESS SUMMARY BEGIN") {
                section = "rootless summary";
            } else if marker.starts_with("ROOTLESS JSON BEGIN") {
                section = "rootless report";
            } else if marker.starts_with("ROOTLESS END") {
                results.rootless_rc = field(marker, "rc=");
                section = "";
            } else if marker.starts_with("TESTS BEGIN") {
                results.tests.push(BinaryRun {
                    name: field(marker, "name=").unwrap_or_default(),
                    ..BinaryRun::default()
                });
                section = "tests";
            } else if marker.starts_with("TESTS END") {
                if let Some(run) = results.tests.last_mut() {
                    run.rc = field(marker, "rc=");
                }
                section = "";
            } else if marker.starts_with("END") {
                results.rc = field(marker, "rc=");
                results.ended_at = field(marker, "uptime=");
                section = "";
            }
            continue;
        }
        let target = match section {
            "summary" => &mut results.summary,
            "report" => &mut results.report,
            "rootless summary" => &mut results.rootless_summary,
            "rootless report" => &mut results.rootless_report,
            "tests" => match results.tests.last_mut() {
                Some(run) => &mut run.output,
                None => continue,
            },
            _ => continue,
        };
        target.push_str(line);
        target.push('\n');
    }
    results
}

/// Whether the suite's JSON report has `case` and it passed.
pub fn case_passed(report: &str, case: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(report).is_ok_and(|doc| {
        doc["results"].as_array().is_some_and(|results| {
            results.iter().any(|r| r["name"] == case && r["outcome"] == "pass")
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_case_passed_only_when_present_and_passed() {
        let report = r#"{"results": [
            {"name": "apparmor_profile_is_applied", "outcome": "pass"},
            {"name": "selinux_label_is_applied", "outcome": "skip", "reason": "off"},
            {"name": "umask_is_set", "outcome": "fail"}]}"#;
        assert!(super::case_passed(report, "apparmor_profile_is_applied"));
        assert!(!super::case_passed(report, "selinux_label_is_applied"));
        assert!(!super::case_passed(report, "umask_is_set"));
        assert!(!super::case_passed(report, "mount_label_is_applied"));
        assert!(!super::case_passed("{\"resu", "apparmor_profile_is_applied"));
    }

    #[test]
    fn sections_and_status_are_read() {
        let serial = "noise\n=== LITMUS BOOTED mode=v2 uptime=2.50\n=== LITMUS SUMMARY BEGIN\n\
                      64 passed, 0 failed\n=== LITMUS JSON BEGIN\n{}\n\
                      === LITMUS END rc=0 uptime=80.25\n";
        let r = super::parse(serial);
        assert_eq!(r.booted_at, Some(2.5));
        assert_eq!(r.summary, "64 passed, 0 failed\n");
        assert_eq!(r.report, "{}\n");
        assert_eq!(r.rc, Some(0));
        assert_eq!(r.ended_at, Some(80.25));
        assert_eq!(super::parse("kernel panic").rc, None);
    }

    #[test]
    fn the_rootless_run_is_read_apart() {
        let serial = "=== LITMUS JSON BEGIN\n{\"a\": 1}\n=== LITMUS ROOTLESS SUMMARY BEGIN\n\
                      140 passed\n=== LITMUS ROOTLESS JSON BEGIN\n{\"b\": 2}\n\
                      === LITMUS ROOTLESS END rc=1\n=== LITMUS END rc=0 uptime=9.0\n";
        let r = super::parse(serial);
        assert_eq!(r.report, "{\"a\": 1}\n");
        assert_eq!(r.rootless_summary, "140 passed\n");
        assert_eq!(r.rootless_report, "{\"b\": 2}\n");
        assert_eq!((r.rootless_rc, r.rc), (Some(1), Some(0)));
        assert_eq!(
            super::parse(serial.split("=== LITMUS ROOTLESS").next().unwrap()).rootless_rc,
            None
        );
    }

    #[test]
    fn a_marker_after_output_without_a_newline_still_counts() {
        let serial = "=== LITMUS JSON BEGIN\n{\"a\": 1}=== LITMUS TESTS BEGIN name=cli\n\
                      test a ... ok\n=== LITMUS TESTS END name=cli rc=0\n";
        let r = super::parse(serial);
        assert_eq!(r.report, "{\"a\": 1}\n");
        assert_eq!(r.tests.len(), 1);
        assert!(r.tests[0].passed());
    }

    #[test]
    fn each_test_binary_is_read_with_its_status() {
        let serial = "=== LITMUS TESTS BEGIN name=cli\ntest a ... ok\n\
                      === LITMUS TESTS END name=cli rc=0\n\
                      === LITMUS TESTS BEGIN name=operations\ntest b ... FAILED\n\
                      === LITMUS END rc=0 uptime=9.0\n";
        let r = super::parse(serial);
        assert_eq!(r.tests.len(), 2);
        assert_eq!(r.tests[0].name, "cli");
        assert_eq!(r.tests[0].rc, Some(0));
        assert_eq!(r.tests[0].output, "test a ... ok\n");
        // Cut off before its END marker: no status, so not passed.
        assert_eq!(r.tests[1].rc, None);
        assert!(!r.tests[1].passed());
    }
}
