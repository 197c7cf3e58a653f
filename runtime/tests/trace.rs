//! Root integration test of LITMUS_RUNTIME_TRACE: one `run`'s phases from
//! all three processes, on one clock, and nothing of it in the container.

mod common;

use common::{shell, Env};
use serde_json::Value;

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[test]
fn a_traced_run_times_every_process_on_one_clock_and_the_container_never_sees_the_file() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    // The container lists its open fds: the trace's must not be among them.
    let bundle = env.bundle(&shell("ls -l /proc/self/fd/ | grep -c trace.jsonl; true"));
    let output = env.run(&bundle, "t-trace").env("LITMUS_RUNTIME_TRACE", &trace).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "0", "the fd leaked in");

    let phases = lines(&trace);
    let find = |process: &str, phase: &str| {
        phases
            .iter()
            .find(|p| p["process"] == process && p["phase"] == phase)
            .unwrap_or_else(|| panic!("no {process} {phase} in {phases:#?}"))
    };
    let span = |p: &Value| (p["start_ns"].as_u64().unwrap(), p["end_ns"].as_u64().unwrap());
    for p in &phases {
        let (start, end) = span(p);
        assert!(end >= start, "{p}");
    }
    // The init mounts as soon as it exists; it passes its cgroup point
    // (the state, then the cgroup namespace and the cgroup mount) only
    // once the runtime is done with the cgroup. The runtime's wait ends
    // after the init's mounts: one clock for all three.
    let (_, namespaces_end) = span(find("intermediate", "namespaces"));
    let (mounts_start, mounts_end) = span(find("init", "rootfs.prepare"));
    assert!(namespaces_end <= mounts_start, "{phases:#?}");
    let (_, state_end) = span(find("init", "wait.state"));
    let (cgroup_mount_start, _) = span(find("init", "mount /sys/fs/cgroup"));
    assert!(mounts_start <= state_end && state_end <= cgroup_mount_start, "{phases:#?}");
    let (_, created_end) = span(find("runtime", "cgroup.create"));
    assert!(created_end <= state_end, "{phases:#?}");
    let attaching = |p: &&Value| {
        p["process"] == "runtime" && p["phase"].as_str().unwrap().starts_with("cgroup.attach")
    };
    for attach in phases.iter().filter(attaching) {
        assert!(span(attach).1 <= state_end, "{attach} {phases:#?}");
    }
    let (_, wait_end) = span(find("runtime", "wait.mounts"));
    assert!(mounts_end <= wait_end, "{phases:#?}");
    let (cli_start, _) = span(find("runtime", "cli.parse"));
    let (_, delete_end) = span(find("runtime", "delete"));
    assert!(phases.iter().all(|p| {
        let (s, e) = span(p);
        s >= cli_start && e <= delete_end
    }));
    find("init", "before.exec");
}

#[test]
fn a_trace_file_that_cannot_be_opened_is_reported_and_the_run_goes_on() {
    let env = Env::new();
    let bundle = env.bundle(&shell("true"));
    env.run(&bundle, "t-trace-bad")
        .env("LITMUS_RUNTIME_TRACE", "/nonexistent-dir/trace.jsonl")
        .assert()
        .success()
        .stderr(predicates::str::contains("LITMUS_RUNTIME_TRACE=/nonexistent-dir/trace.jsonl"));
    assert!(env.state_dirs().is_empty());
}

#[test]
fn without_a_mount_namespace_the_init_mounts_nothing_before_the_state() {
    // Its mounts are the host's: a create failing before State unmounts
    // what it knows of, and must not race a mount made meanwhile.
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    let mut spec = shell("true");
    let linux = spec.linux_mut().as_mut().unwrap();
    let mut namespaces = linux.namespaces().clone().unwrap();
    namespaces.retain(|n| n.typ() != oci_spec::runtime::LinuxNamespaceType::Mount);
    linux.set_namespaces(Some(namespaces));
    linux.set_masked_paths(None);
    linux.set_readonly_paths(None);
    spec.root_mut().as_mut().unwrap().set_readonly(Some(false));
    let bundle = env.bundle(&spec);
    let output =
        env.run(&bundle, "t-trace-nomnt").env("LITMUS_RUNTIME_TRACE", &trace).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let phases = lines(&trace);
    let init = |phase: &str| {
        phases.iter().find(|p| p["process"] == "init" && p["phase"] == phase).cloned()
    };
    let state_end =
        init("wait.state").expect("the init waited for the state")["end_ns"].as_u64().unwrap();
    let mounts: Vec<&Value> = phases
        .iter()
        .filter(|p| p["process"] == "init" && p["phase"].as_str().unwrap().starts_with("mount /"))
        .collect();
    assert!(!mounts.is_empty(), "{phases:#?}");
    for m in mounts {
        assert!(state_end <= m["start_ns"].as_u64().unwrap(), "{m} before the state: {phases:#?}");
    }
}
