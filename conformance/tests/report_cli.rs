//! `litmus report` from the command line: reports in, matrix files out,
//! and a file that is not a report named in the error.

use assert_cmd::Command;
use predicates::str::contains;

fn report(runtime_version: &str, outcome: &str) -> String {
    serde_json::json!({
        "litmus": {"runtime": "/bin/rt", "runtime_version": runtime_version,
                   "spec_version": "1.3.0", "litmus_version": "0.1.0",
                   "host": {"kernel": "6.1.0", "cgroup": "v2", "security_module": "none",
                            "date": "2026-12-03T00:00:00Z"}},
        "summary": {},
        "results": [{"name": "umask_is_set", "area": "process", "level": "MUST",
                     "requirements": ["config.process.umask"], "outcome": outcome,
                     "expected": "umask 0o027", "seen": "umask 0o022"}],
    })
    .to_string()
}

#[test]
fn reports_merge_into_markdown_and_html_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    std::fs::write(&a, report("rt version 1.0", "pass")).unwrap();
    std::fs::write(&b, report("rt version 2.0", "fail")).unwrap();
    let (md, html) = (dir.path().join("m.md"), dir.path().join("m.html"));
    Command::cargo_bin("litmus")
        .unwrap()
        .arg("report")
        .args([&a, &b])
        .arg("--markdown")
        .arg(&md)
        .arg("--html")
        .arg(&html)
        .assert()
        .success();
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("| `umask_is_set` | MUST | pass | **FAIL** |"), "{md}");
    assert!(md.contains("seen: umask 0o022"), "{md}");
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("rt 2.0"), "{html}");
}

#[test]
fn a_file_that_is_not_a_report_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "[1, 2]").unwrap();
    Command::cargo_bin("litmus")
        .unwrap()
        .arg("report")
        .arg(&junk)
        .assert()
        .code(2)
        .stderr(contains("junk.json: not a litmus JSON report"));
}
