//! TAP version 13: one test point per case; skips as `# SKIP`, failures
//! with a YAML block of what was expected and seen. Our own: the format is
//! a few lines, and the report_writers fuzzer checks what we write; the TAP
//! crates (testanything) add nothing over that and are no longer updated.

use super::RunInfo;
use crate::runner::{CaseResult, Outcome};

pub fn tap(results: &[CaseResult], info: &RunInfo) -> String {
    let mut out = format!(
        "TAP version 13\n1..{}\n# runtime: {} ({})\n",
        results.len(),
        // A runtime's name or version with a newline would start a line
        // of its own, e.g. a forged "ok" (found by the report_writers fuzzer).
        one_line(&info.runtime),
        one_line(&info.runtime_version)
    );
    for (i, r) in results.iter().enumerate() {
        let n = i + 1;
        let title = format!("{} [{}] {}", r.name, r.level, r.requirements.join(","));
        match &r.outcome {
            Outcome::Pass => out += &format!("ok {n} - {title}\n"),
            Outcome::Skip { reason } => {
                out += &format!("ok {n} - {title} # SKIP {}\n", one_line(reason))
            }
            Outcome::Fail { expected, seen } => {
                out += &format!(
                    "not ok {n} - {title}\n  ---\n  expected: {}\n  seen: {}\n  ...\n",
                    yaml_string(expected),
                    yaml_string(seen)
                );
            }
        }
    }
    out
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A double-quoted YAML scalar: safe for any text.
fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;

    #[test]
    fn tap_snapshot() {
        insta::assert_snapshot!(super::tap(&fixtures::results(), &fixtures::info()));
    }

    #[test]
    fn a_runtime_name_cannot_forge_test_points() {
        let mut info = fixtures::info();
        info.runtime = "\nok 99 - forged".into();
        info.runtime_version = "1\nnot ok 98".into();
        let tap = super::tap(&[], &info);
        assert!(tap.lines().all(|l| !l.starts_with("ok ") && !l.starts_with("not ok ")), "{tap}");
    }

    #[test]
    fn multi_line_reasons_stay_on_one_line() {
        assert_eq!(super::one_line("a\nb"), "a b");
        assert_eq!(super::yaml_string("x\ny \"q\""), r#""x\ny \"q\"""#);
    }
}
