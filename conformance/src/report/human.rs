//! The report for people: a table per area, then each failure with what
//! was expected and what was seen, then the summary line.

use super::{RunInfo, Summary};
use crate::catalogue;
use crate::runner::{CaseResult, Outcome};
use std::collections::BTreeMap;
use std::fmt::Write;

pub fn human(results: &[CaseResult], info: &RunInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "litmus {} against {} ({}), runtime-spec {}",
        info.litmus_version, info.runtime, info.runtime_version, info.spec_version
    );
    if let Some(note) = &info.note {
        let _ = writeln!(out, "note: {note}");
    }
    out.push('\n');
    let mut by_area: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for r in results {
        by_area.entry(r.area).or_default().push(r);
    }
    let width = results.iter().map(|r| r.name.len()).max().unwrap_or(10);
    for (area, cases) in &by_area {
        let s = Summary::of(&cases.iter().map(|c| (*c).clone()).collect::<Vec<_>>());
        let _ = writeln!(
            out,
            "{area} ({} passed, {} failed, {} skipped)",
            s.passed, s.failed, s.skipped
        );
        for r in cases {
            let mark = match r.outcome {
                Outcome::Pass => "PASS",
                Outcome::Fail { .. } => "FAIL",
                Outcome::Skip { .. } => "SKIP",
            };
            let beyond = if r.beyond_declared { "  (beyond the declared version)" } else { "" };
            let _ = writeln!(
                out,
                "  {mark}  {:<width$}  {:<6}  {}{beyond}",
                r.name,
                r.level.to_string(),
                r.requirements.join(", ")
            );
        }
        out.push('\n');
    }
    let failures: Vec<&CaseResult> =
        results.iter().filter(|r| matches!(r.outcome, Outcome::Fail { .. })).collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "Failures:\n");
        for r in failures {
            let Outcome::Fail { expected, seen } = &r.outcome else {
                continue;
            };
            let beyond = if r.beyond_declared {
                format!(
                    ", beyond the declared runtime-spec {}: outside the verdict",
                    info.spec_version
                )
            } else {
                String::new()
            };
            let _ = writeln!(out, "  {} [{}{beyond}]", r.name, r.level);
            for id in &r.requirements {
                if let Some(req) = catalogue::find(id) {
                    let _ = writeln!(out, "    {id}: {}\n      {}", req.text, req.link());
                }
            }
            let _ = writeln!(out, "    expected: {expected}\n    seen:     {seen}\n");
        }
    }
    let skips: Vec<&CaseResult> =
        results.iter().filter(|r| matches!(r.outcome, Outcome::Skip { .. })).collect();
    if !skips.is_empty() {
        let _ = writeln!(out, "Skipped:\n");
        for r in skips {
            if let Outcome::Skip { reason } = &r.outcome {
                let _ = writeln!(out, "  {}: {reason}", r.name);
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", Summary::of(results).line());
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;

    #[test]
    fn human_snapshot() {
        insta::assert_snapshot!(super::human(&fixtures::results(), &fixtures::info()));
    }
}
