//! The runtime's own root integration tests run in the guest as plain
//! libtest binaries (stable libtest has no JUnit output): their human
//! output is read back here and merged into the run's reports (merged.rs),
//! beside the suite's cases.

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
}
