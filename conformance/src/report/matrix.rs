//! `litmus report`: JSON reports of any number of runs (runtimes,
//! versions, hosts, kernels, cgroup layouts) merged into one matrix, rows
//! the cases grouped by area, one column per run. Written as markdown (a
//! results page) or as one static HTML file (no server, no external
//! assets) with filters and every failure's text a click away.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One JSON report as `litmus run --format json` writes it. Only what a
/// merge needs is read; unknown fields are ignored, so reports of other
/// litmus versions merge too.
#[derive(Clone, Debug, Deserialize)]
pub struct Report {
    pub litmus: Info,
    pub results: Vec<Result1>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Info {
    pub runtime: String,
    #[serde(default)]
    pub runtime_version: String,
    #[serde(default)]
    pub spec_version: String,
    #[serde(default)]
    pub litmus_version: String,
    #[serde(default)]
    pub host: super::Host,
    #[serde(default)]
    pub note: Option<String>,
}

/// One case's result.
#[derive(Clone, Debug, Deserialize)]
pub struct Result1 {
    pub name: String,
    pub area: String,
    pub level: String,
    #[serde(default)]
    pub requirements: Vec<String>,
    pub outcome: String,
    #[serde(default)]
    pub expected: Option<String>,
    #[serde(default)]
    pub seen: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub beyond_declared: bool,
}

impl Report {
    pub fn parse(text: &str, origin: &str) -> Result<Report> {
        let report: Report = serde_json::from_str(text)
            .with_context(|| format!("{origin}: not a litmus JSON report"))?;
        for r in &report.results {
            if !matches!(r.outcome.as_str(), "pass" | "fail" | "skip") {
                bail!("{origin}: case {}: unknown outcome {:?}", r.name, r.outcome);
            }
        }
        Ok(report)
    }
}

/// A column: one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// "runc 1.1.5" (the version line's program and version).
    pub runtime: String,
    /// "6.1.0-28 v2": kernel and cgroup layout.
    pub host: String,
    pub spec_version: String,
    pub date: String,
    pub litmus_version: String,
    /// How the host ran it (`litmus run --note`).
    pub note: String,
}

impl Column {
    fn of(info: &Info) -> Column {
        Column {
            runtime: runtime_label(info),
            host: [info.host.kernel.as_str(), info.host.cgroup.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
            spec_version: info.spec_version.clone(),
            date: info.host.date.clone(),
            litmus_version: info.litmus_version.clone(),
            note: info.note.clone().unwrap_or_default(),
        }
    }

    pub fn label(&self) -> String {
        if self.host.is_empty() {
            self.runtime.clone()
        } else {
            format!("{} @ {}", self.runtime, self.host)
        }
    }
}

/// "runc version 1.1.5+ds1" → "runc 1.1.5+ds1"; else the binary's name.
fn runtime_label(info: &Info) -> String {
    let words: Vec<&str> = info.runtime_version.split_whitespace().collect();
    let version = words.iter().find(|w| w.starts_with(|c: char| c.is_ascii_digit()));
    let name = std::path::Path::new(&info.runtime)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| info.runtime.clone());
    match (words.first(), version) {
        (Some(program), Some(version)) => format!("{program} {version}"),
        _ => name,
    }
}

/// One cell: a case's result in one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub outcome: String,
    /// "expected …; seen …" of a failure, the reason of a skip.
    pub detail: String,
    pub beyond_declared: bool,
}

/// A row: one case.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub name: String,
    pub area: String,
    pub level: String,
    pub requirements: Vec<String>,
    /// One per column; None where that run did not have the case.
    pub cells: Vec<Option<Cell>>,
}

impl Row {
    fn failed_anywhere(&self) -> bool {
        self.cells.iter().flatten().any(|c| c.outcome == "fail")
    }
}

pub struct Matrix {
    pub columns: Vec<Column>,
    /// (runtime prefix, case) → why that runtime fails that case.
    pub explanations: Vec<(String, String, String)>,
    /// Areas in name order; within an area, rows with a failure first.
    pub areas: BTreeMap<String, Vec<Row>>,
}

impl Matrix {
    pub fn merge(reports: &[Report]) -> Matrix {
        let columns: Vec<Column> = reports.iter().map(|r| Column::of(&r.litmus)).collect();
        let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
        for (i, report) in reports.iter().enumerate() {
            for r in &report.results {
                let row = rows.entry((r.area.clone(), r.name.clone())).or_insert_with(|| Row {
                    name: r.name.clone(),
                    area: r.area.clone(),
                    level: r.level.clone(),
                    requirements: r.requirements.clone(),
                    cells: vec![None; reports.len()],
                });
                let detail = match r.outcome.as_str() {
                    "fail" => format!(
                        "expected: {}\nseen: {}",
                        r.expected.as_deref().unwrap_or(""),
                        r.seen.as_deref().unwrap_or("")
                    ),
                    "skip" => r.reason.clone().unwrap_or_default(),
                    _ => String::new(),
                };
                row.cells[i] = Some(Cell {
                    outcome: r.outcome.clone(),
                    detail,
                    beyond_declared: r.beyond_declared,
                });
            }
        }
        let mut areas: BTreeMap<String, Vec<Row>> = BTreeMap::new();
        for ((area, _), row) in rows {
            areas.entry(area).or_default().push(row);
        }
        for rows in areas.values_mut() {
            // Stable: failures first, then by name as collected.
            rows.sort_by_key(|r| !r.failed_anywhere());
        }
        Matrix { columns, areas, explanations: Vec::new() }
    }

    /// Reads explanations: one per line, `RUNTIME CASE: why`, where
    /// RUNTIME is how a column's runtime starts ("runc 1.1.5") and CASE the
    /// case's name; `#` starts a comment line.
    pub fn explain(&mut self, text: &str, origin: &str) -> Result<()> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || format!("{origin}:{}: expected `RUNTIME CASE: why`", n + 1);
            let (key, why) = line.split_once(": ").with_context(bad)?;
            let (runtime, case) = key.rsplit_once(' ').with_context(bad)?;
            self.explanations.push((runtime.to_string(), case.to_string(), why.to_string()));
        }
        Ok(())
    }

    /// Why column `i`'s runtime fails `case`, if an explanation says.
    pub fn why(&self, i: usize, case: &str) -> Option<&str> {
        let runtime = &self.columns[i].runtime;
        self.explanations
            .iter()
            .find(|(r, c, _)| c == case && runtime.starts_with(r.as_str()))
            .map(|(_, _, why)| why.as_str())
    }

    /// Failures no explanation covers, as "label: case".
    pub fn unexplained(&self) -> Vec<String> {
        let mut out = Vec::new();
        for row in self.areas.values().flatten() {
            for (i, cell) in row.cells.iter().enumerate() {
                if cell.as_ref().is_some_and(|c| c.outcome == "fail")
                    && self.why(i, &row.name).is_none()
                {
                    out.push(format!("{}: {}", self.columns[i].label(), row.name));
                }
            }
        }
        out
    }

    /// (passed, failed, skipped) of column `i`.
    pub fn counts(&self, i: usize) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for cell in self.areas.values().flatten().filter_map(|r| r.cells[i].as_ref()) {
            match cell.outcome.as_str() {
                "pass" => counts.0 += 1,
                "fail" => counts.1 += 1,
                _ => counts.2 += 1,
            }
        }
        counts
    }

    /// Column `i` as a row of the runs table, under [`RUN_HEADERS`].
    fn run_cells(&self, i: usize) -> [String; 10] {
        let c = &self.columns[i];
        let (passed, failed, skipped) = self.counts(i);
        [
            (i + 1).to_string(),
            c.runtime.clone(),
            c.host.clone(),
            c.spec_version.clone(),
            passed.to_string(),
            failed.to_string(),
            skipped.to_string(),
            c.date.clone(),
            c.litmus_version.clone(),
            c.note.clone(),
        ]
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from("# litmus results matrix\n\n");
        let _ = writeln!(out, "| {} |", RUN_HEADERS.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(RUN_HEADERS.len()));
        for i in 0..self.columns.len() {
            let cells: Vec<String> = self.run_cells(i).iter().map(|c| md(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out += "\npass, **FAIL**, skip; † beyond the runtime's declared spec version (outside its \
                verdict); blank: not in that run. Failures are listed under the tables.\n";
        let mut failures = String::new();
        for (area, rows) in &self.areas {
            let _ = write!(out, "\n## {area}\n\n| case | level |");
            for i in 0..self.columns.len() {
                let _ = write!(out, " {} |", i + 1);
            }
            out += "\n|---|---|";
            out += &"---|".repeat(self.columns.len());
            out += "\n";
            for row in rows {
                let _ = write!(out, "| `{}` | {} |", row.name, row.level);
                for (i, cell) in row.cells.iter().enumerate() {
                    let text = match cell {
                        None => String::new(),
                        Some(c) => {
                            let mark = if c.beyond_declared { "†" } else { "" };
                            match c.outcome.as_str() {
                                "fail" => {
                                    let why = match self.why(i, &row.name) {
                                        Some(why) => format!(" **Why:** {}", md(why)),
                                        None if self.explanations.is_empty() => String::new(),
                                        None => " **Why:** not explained yet.".to_string(),
                                    };
                                    let _ = writeln!(
                                        failures,
                                        "- `{}` on run {} ({}): {}.{why}",
                                        row.name,
                                        i + 1,
                                        md(&self.columns[i].label()),
                                        md(&c.detail.replace('\n', "; "))
                                    );
                                    format!("**FAIL**{mark}")
                                }
                                other => format!("{other}{mark}"),
                            }
                        }
                    };
                    let _ = write!(out, " {text} |");
                }
                out += "\n";
            }
        }
        if !failures.is_empty() {
            out += "\n## Failures\n\n";
            out += &failures;
        }
        out
    }

    pub fn html(&self) -> String {
        let mut out = String::new();
        out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
        out += "<title>litmus results matrix</title>\n<style>";
        out += HTML_STYLE;
        out += "</style></head><body>\n<h1>litmus results matrix</h1>\n";
        out += "<table id=\"runs\"><thead><tr>";
        for header in RUN_HEADERS {
            let _ = write!(out, "<th>{header}</th>");
        }
        out += "</tr></thead><tbody>\n";
        for i in 0..self.columns.len() {
            out += "<tr>";
            for cell in self.run_cells(i) {
                let _ = write!(out, "<td>{}</td>", esc(&cell));
            }
            out += "</tr>\n";
        }
        out += "</tbody></table>\n<form id=\"filters\">";
        let levels: std::collections::BTreeSet<&str> =
            self.areas.values().flatten().map(|r| r.level.as_str()).collect();
        out += &select("area", self.areas.keys().map(String::as_str));
        out += &select("level", levels.into_iter());
        out += &select("status", ["fail", "pass", "skip"].into_iter());
        out += "<span id=\"shown\"></span></form>\n";
        out += "<p class=\"legend\">† beyond the runtime's declared spec version (outside its \
                verdict). Click a failure or skip for its text.</p>\n";
        out += "<table id=\"matrix\"><thead><tr><th>case</th><th>area</th><th>level</th>";
        for (i, c) in self.columns.iter().enumerate() {
            let _ =
                write!(out, "<th title=\"{}\">{} {}</th>", esc(&c.label()), i + 1, esc(&c.runtime));
        }
        out += "</tr></thead><tbody>\n";
        for (area, rows) in &self.areas {
            for row in rows {
                let statuses: Vec<&str> =
                    row.cells.iter().flatten().map(|c| c.outcome.as_str()).collect();
                let _ = write!(
                    out,
                    "<tr data-area=\"{}\" data-level=\"{}\" data-status=\"{}\"><td title=\"{}\">{}</td>\
                     <td>{}</td><td>{}</td>",
                    esc(area),
                    esc(&row.level),
                    statuses.join(" "),
                    esc(&row.requirements.join(", ")),
                    esc(&row.name),
                    esc(area),
                    esc(&row.level)
                );
                for (i, cell) in row.cells.iter().enumerate() {
                    match cell {
                        None => out += "<td class=\"none\"></td>",
                        Some(c) => {
                            let mark = if c.beyond_declared { "†" } else { "" };
                            let why = match self.why(i, &row.name) {
                                Some(why) if c.outcome == "fail" => format!("\nwhy: {why}"),
                                _ => String::new(),
                            };
                            let detail = c.detail.clone() + &why;
                            if detail.is_empty() {
                                let _ = write!(out, "<td class=\"{0}\">{0}{mark}</td>", c.outcome);
                            } else {
                                let _ = write!(
                                    out,
                                    "<td class=\"{0}\"><details><summary>{0}{mark}</summary><pre>{1}</pre></details></td>",
                                    c.outcome,
                                    esc(&detail)
                                );
                            }
                        }
                    }
                }
                out += "</tr>\n";
            }
        }
        out += "</tbody></table>\n<script>";
        out += HTML_SCRIPT;
        out += "</script></body></html>\n";
        out
    }
}

const RUN_HEADERS: [&str; 10] = [
    "run",
    "runtime",
    "host",
    "spec declared",
    "passed",
    "failed",
    "skipped",
    "date",
    "litmus",
    "how it ran",
];

fn select<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> String {
    let mut out = format!("<label>{name} <select name=\"{name}\"><option value=\"\">all</option>");
    for v in values {
        let _ = write!(out, "<option>{}</option>", esc(v));
    }
    out + "</select></label> "
}

/// Text in HTML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Text in a markdown table cell.
fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('<', "&lt;").replace('\n', " ")
}

const HTML_STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:2px 6px;\
text-align:left;vertical-align:top}th{background:#f3f3f3;position:sticky;top:0}\
td.pass{background:#e6f4e6}td.fail{background:#fbe3e3;font-weight:bold}td.skip{background:#f1f1f1;\
color:#666}td.none{background:#fff}pre{white-space:pre-wrap;max-width:40em;font-weight:normal}\
summary{cursor:pointer}#filters label{margin-right:1em}.legend{color:#555}";

/// Hides rows that do not match the three filters; counts what is shown.
const HTML_SCRIPT: &str = "\
const form=document.getElementById('filters');\
function apply(){const a=form.area.value,l=form.level.value,s=form.status.value;let n=0;\
for(const r of document.querySelectorAll('#matrix tbody tr')){\
const ok=(!a||r.dataset.area===a)&&(!l||r.dataset.level===l)&&(!s||r.dataset.status.split(' ').includes(s));\
r.style.display=ok?'':'none';if(ok)n++;}\
document.getElementById('shown').textContent=n+' cases shown';}\
form.addEventListener('change',apply);apply();";

#[cfg(test)]
mod tests {
    use super::*;

    fn report(runtime: &str, version: &str, kernel: &str, results: serde_json::Value) -> Report {
        let doc = serde_json::json!({
            "litmus": {
                "runtime": runtime, "runtime_version": version, "spec_version": "1.2.0",
                "litmus_version": "0.1.0",
                "host": {"kernel": kernel, "cgroup": "v2", "security_module": "none",
                         "date": "2026-12-03T00:00:00Z"}
            },
            "summary": {},
            "results": results,
        });
        Report::parse(&doc.to_string(), "test").unwrap()
    }

    fn two_runs() -> Vec<Report> {
        vec![
            report(
                "/usr/sbin/runc",
                "runc version 1.1.5+ds1",
                "6.1.0",
                serde_json::json!([
                    {"name": "a_case", "area": "lifecycle", "level": "MUST", "requirements": ["r.one"], "outcome": "pass"},
                    {"name": "b_case", "area": "lifecycle", "level": "MUST", "requirements": ["r.two"], "outcome": "fail", "expected": "x <1>", "seen": "y | z"},
                    {"name": "c_case", "area": "process", "level": "SHOULD", "requirements": [], "outcome": "skip", "reason": "no resctrl", "beyond_declared": true},
                ]),
            ),
            report(
                "/opt/crun",
                "crun version 1.8.1",
                "6.12.0",
                serde_json::json!([
                    {"name": "b_case", "area": "lifecycle", "level": "MUST", "requirements": ["r.two"], "outcome": "pass"},
                ]),
            ),
        ]
    }

    #[test]
    fn runs_merge_into_rows_by_case_with_failures_first() {
        let m = Matrix::merge(&two_runs());
        assert_eq!(m.columns[0].label(), "runc 1.1.5+ds1 @ 6.1.0 v2");
        assert_eq!(m.columns[1].runtime, "crun 1.8.1");
        let lifecycle = &m.areas["lifecycle"];
        assert_eq!(lifecycle[0].name, "b_case", "failures first");
        assert_eq!(lifecycle[1].cells[1], None, "a_case is not in the second run");
        assert_eq!(m.counts(0), (1, 1, 1));
        assert_eq!(m.counts(1), (1, 0, 0));
    }

    #[test]
    fn markdown_lists_every_failure_and_escapes_table_text() {
        let text = Matrix::merge(&two_runs()).markdown();
        insta::assert_snapshot!(text);
        assert!(text.contains("- `b_case` on run 1"), "{text}");
        assert!(text.contains("y \\| z"), "{text}");
    }

    #[test]
    fn html_is_one_file_with_escaped_details_and_filters() {
        let html = Matrix::merge(&two_runs()).html();
        assert!(html.contains("x &lt;1&gt;"), "escaped failure text");
        assert!(!html.contains("src=") && !html.contains("href="), "no external assets");
        assert!(html.contains("data-status=\"fail pass\""));
        assert_eq!(html.matches("<tr data-area=").count(), 3);
    }

    #[test]
    fn explanations_follow_failures_and_the_unexplained_are_listed() {
        let mut m = Matrix::merge(&two_runs());
        assert_eq!(m.unexplained(), vec!["runc 1.1.5+ds1 @ 6.1.0 v2: b_case".to_string()]);
        m.explain("# comment\n\nrunc 1.1.5 b_case: runc does not do it (issue #1)\n", "x").unwrap();
        assert!(m.unexplained().is_empty());
        assert!(m.markdown().contains("**Why:** runc does not do it (issue #1)"));
        assert!(m.html().contains("why: runc does not do it"));
        let e = m.explain("runc_only_one_word\n", "x.txt").unwrap_err();
        assert!(e.to_string().starts_with("x.txt:1: expected"), "{e}");
    }

    #[test]
    fn what_is_not_a_report_is_refused_naming_the_file() {
        let e = Report::parse("{}", "x.json").unwrap_err();
        assert!(format!("{e:#}").starts_with("x.json: not a litmus JSON report"), "{e:#}");
        let bad = r#"{"litmus":{"runtime":"r"},"results":[{"name":"n","area":"a","level":"MUST","outcome":"maybe"}]}"#;
        let e = Report::parse(bad, "y.json").unwrap_err();
        assert!(format!("{e:#}").contains("unknown outcome \"maybe\""), "{e:#}");
    }
}
