//! The runtime's own root integration tests run in the guest as plain
//! libtest binaries (stable libtest has no JUnit output): their human
//! output is read back here and merged into the mode's JUnit report, beside
//! the suite's cases.

/// One `test NAME ... ok|FAILED|ignored` line, with the captured output
/// libtest printed for it when it failed.
#[derive(Debug, PartialEq)]
pub struct TestCase {
    pub name: String,
    pub outcome: Outcome,
    pub output: String,
}

#[derive(Debug, PartialEq, Clone, Copy)]
pub enum Outcome {
    Passed,
    Failed,
    Ignored,
}

/// A test binary's run: its name (cli, console, ...), exit status and output.
#[derive(Debug, Default, PartialEq)]
pub struct BinaryRun {
    pub name: String,
    pub rc: Option<i32>,
    pub output: String,
}

impl BinaryRun {
    pub fn passed(&self) -> bool {
        self.rc == Some(0)
    }

    /// The test cases in libtest's pretty output.
    pub fn cases(&self) -> Vec<TestCase> {
        let mut cases: Vec<TestCase> = self
            .output
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix("test ")?;
                let (name, result) = rest.rsplit_once(" ... ")?;
                let outcome = match result.trim() {
                    "ok" => Outcome::Passed,
                    "FAILED" => Outcome::Failed,
                    r if r.starts_with("ignored") => Outcome::Ignored,
                    _ => return None,
                };
                Some(TestCase { name: name.to_string(), outcome, output: String::new() })
            })
            .collect();
        // Failure details follow as "---- NAME stdout ----" sections.
        let mut current: Option<usize> = None;
        for line in self.output.lines() {
            if let Some(name) =
                line.strip_prefix("---- ").and_then(|l| l.strip_suffix(" stdout ----"))
            {
                current = cases.iter().position(|c| c.name == name);
                continue;
            }
            if line == "failures:" || line.starts_with("test result:") {
                current = None;
            }
            if let Some(i) = current {
                cases[i].output.push_str(line);
                cases[i].output.push('\n');
            }
        }
        cases
    }
}

/// The suite's JUnit report with one more `<testsuite>` per test binary,
/// and the totals on `<testsuites>` recomputed. A binary that died before
/// printing its results (rc != 0, no failed case) becomes a failed case of
/// its own, so a crash is never a green report.
pub fn merge_junit(suite_xml: &str, runs: &[BinaryRun]) -> String {
    let attr = |name: &str| -> u64 {
        let root = suite_xml
            .find("<testsuites")
            .map(|i| &suite_xml[i..])
            .and_then(|s| s.split_once('>').map(|(head, _)| head))
            .unwrap_or("");
        root.split_once(&format!(" {name}=\""))
            .and_then(|(_, v)| v.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (mut tests, mut failures, mut skipped) = (attr("tests"), attr("failures"), attr("skipped"));
    let errors = attr("errors");
    let inner = suite_xml
        .find("<testsuites")
        .and_then(|start| {
            let body_start = start + suite_xml[start..].find('>')? + 1;
            let body_end = suite_xml.rfind("</testsuites>")?;
            (body_start <= body_end).then(|| &suite_xml[body_start..body_end])
        })
        .unwrap_or("");
    let mut extra = String::new();
    for run in runs {
        let mut cases = run.cases();
        if !run.passed() && !cases.iter().any(|c| c.outcome == Outcome::Failed) {
            cases.push(TestCase {
                name: "(test binary)".into(),
                outcome: Outcome::Failed,
                output: format!("exited {:?} without a failed test:\n{}", run.rc, run.output),
            });
        }
        let count = |o: Outcome| cases.iter().filter(|c| c.outcome == o).count() as u64;
        let (f, s) = (count(Outcome::Failed), count(Outcome::Ignored));
        tests += cases.len() as u64;
        failures += f;
        skipped += s;
        extra += &format!(
            "    <testsuite name=\"litmus-runtime root tests: {}\" tests=\"{}\" skipped=\"{s}\" errors=\"0\" failures=\"{f}\">\n",
            escape(&run.name),
            cases.len()
        );
        for case in &cases {
            extra += &format!(
                "        <testcase name=\"{}\" classname=\"litmus_runtime.{}\"",
                escape(&case.name),
                escape(&run.name)
            );
            extra += &match case.outcome {
                Outcome::Passed => "/>\n".to_string(),
                Outcome::Ignored => ">\n            <skipped/>\n        </testcase>\n".to_string(),
                Outcome::Failed => format!(
                    ">\n            <failure message=\"test failed\">{}</failure>\n        </testcase>\n",
                    escape(&case.output)
                ),
            };
        }
        extra += "    </testsuite>\n";
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"litmus\" tests=\"{tests}\" skipped=\"{skipped}\" failures=\"{failures}\" errors=\"{errors}\">{inner}{extra}</testsuites>\n"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\nrunning 3 tests\n\
        test pause_freezes_and_resume_thaws ... ok\n\
        test update_changes_memory_and_pids_limits ... FAILED\n\
        test slow_one ... ignored, needs a disk\n\n\
        failures:\n\n\
        ---- update_changes_memory_and_pids_limits stdout ----\n\
        assertion `left == right` failed\n  left: \"max\"\n right: \"7\"\n\n\
        failures:\n    update_changes_memory_and_pids_limits\n\n\
        test result: FAILED. 1 passed; 1 failed; 1 ignored\n";

    fn run(rc: i32, output: &str) -> BinaryRun {
        BinaryRun { name: "operations".into(), rc: Some(rc), output: output.into() }
    }

    #[test]
    fn libtest_lines_become_cases_with_their_failure_output() {
        let cases = run(101, OUTPUT).cases();
        let outcomes: Vec<_> = cases.iter().map(|c| (c.name.as_str(), c.outcome)).collect();
        assert_eq!(
            outcomes,
            [
                ("pause_freezes_and_resume_thaws", Outcome::Passed),
                ("update_changes_memory_and_pids_limits", Outcome::Failed),
                ("slow_one", Outcome::Ignored),
            ]
        );
        assert!(cases[1].output.contains("right: \"7\""), "{:?}", cases[1]);
        assert!(!cases[1].output.contains("test result"));
        assert_eq!(cases[0].output, "");
    }

    #[test]
    fn merged_report_adds_a_suite_per_binary_and_recomputes_totals() {
        let suite = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
            <testsuites name=\"litmus\" tests=\"2\" skipped=\"1\" failures=\"0\" errors=\"0\">\n\
            <testsuite name=\"devices\"><testcase name=\"a\"/><testcase name=\"b\"><skipped/></testcase></testsuite>\n\
            </testsuites>\n";
        let merged = merge_junit(suite, &[run(101, OUTPUT)]);
        assert!(
            merged.contains("tests=\"5\" skipped=\"2\" failures=\"1\" errors=\"0\""),
            "{merged}"
        );
        assert!(merged.contains("<testsuite name=\"devices\">"));
        assert!(merged.contains("litmus-runtime root tests: operations"));
        assert!(merged.contains("right: &quot;7&quot;"), "{merged}");
        assert_eq!(merged.matches("</testsuites>").count(), 1);
    }

    #[test]
    fn a_binary_that_crashed_without_results_is_a_failure() {
        let merged = merge_junit("", &[run(134, "running 7 tests\nAborted\n")]);
        assert!(merged.contains("failures=\"1\""), "{merged}");
        assert!(merged.contains("(test binary)"));
        assert!(!run(134, "").passed());
    }
}
