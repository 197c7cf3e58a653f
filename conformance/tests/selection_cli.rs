//! Which cases a run selects, from the command line (`--list` needs no
//! runtime and no root).

use assert_cmd::Command;

fn listed(args: &[&str]) -> Vec<String> {
    let out = Command::cargo_bin("litmus")
        .unwrap()
        .args(["run", "--runtime", "/bin/true", "--list"])
        .args(args)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    text.lines().filter_map(|l| l.split_whitespace().next()).map(String::from).collect()
}

#[test]
fn exclude_leaves_out_the_cases_it_names() {
    let all = listed(&["--area", "rootless"]);
    assert!(all.len() >= 7 && all.iter().any(|c| c.contains("devices")), "{all:?}");
    let kept = listed(&["--area", "rootless", "--exclude", "devices", "--exclude", "setuid"]);
    assert_eq!(kept.len(), all.len() - 2, "{kept:?}");
    assert!(kept.iter().all(|c| !c.contains("devices") && !c.contains("setuid")), "{kept:?}");
}
