//! Root integration tests of the operations engines use beyond the spec's
//! lifecycle: exec, ps, pause/resume, update, events (stats and OOM).

mod common;

use common::{shell, Env};
use oci_spec::runtime::{
    Linux, LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Spec,
};
use std::time::{Duration, Instant};

/// A running container whose process sleeps; returns the init's host pid.
fn running(env: &Env, spec: &Spec, id: &str) -> (litmus_bundle::Bundle, i32) {
    let bundle = env.bundle(spec);
    let (ok, stderr) = env.create(&bundle, id, &[]);
    assert!(ok, "create: {stderr}");
    env.runtime().args(["start", id]).assert().success();
    let state = env.runtime().args(["state", id]).output().unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    (bundle, state["pid"].as_i64().unwrap() as i32)
}

fn status(env: &Env, id: &str) -> String {
    let state = env.runtime().args(["state", id]).output().unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap_or_default();
    state["status"].as_str().unwrap_or_default().to_string()
}

fn delete(env: &Env, id: &str) {
    env.runtime().args(["delete", "--force", id]).assert().success();
    assert!(env.state_dirs().is_empty(), "delete left state behind");
}

#[test]
fn exec_joins_the_containers_namespaces_and_returns_the_status() {
    let env = Env::new();
    let (_bundle, pid) = running(&env, &shell("sleep 60"), "t-exec");
    let host_pid_ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    let output = env
        .runtime()
        .args(["exec", "t-exec", "/bin/sh", "-c", "hostname; readlink /proc/self/ns/pid; exit 5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout,
        format!("litmus\n{}\n", host_pid_ns.display()),
        "hostname and pid namespace of the container"
    );
    delete(&env, "t-exec");
}

#[test]
fn exec_flags_set_env_cwd_and_user() {
    let env = Env::new();
    let (_bundle, _) = running(&env, &shell("sleep 60"), "t-exec-flags");
    env.runtime()
        .args(["exec", "-e", "FOO=bar", "--cwd", "/tmp", "-u", "1000:1001", "t-exec-flags"])
        .args(["/bin/sh", "-c", "echo $FOO $(pwd) $(id -u) $(id -g)"])
        .assert()
        .success()
        .stdout("bar /tmp 1000 1001\n");
    let stderr = env.failing(&["exec", "t-exec-flags", "/no/such/program"]);
    assert!(stderr.contains("/no/such/program"), "{stderr}");
    delete(&env, "t-exec-flags");
}

#[test]
fn detached_exec_writes_its_pid_and_joins_the_cgroup() {
    let env = Env::new();
    let (_bundle, _) = running(&env, &shell("sleep 60"), "t-exec-d");
    let scratch = tempfile::tempdir().unwrap();
    let pid_file = scratch.path().join("exec.pid");
    // std's Command: the detached process keeps stdout open, so a pipe
    // (as assert_cmd uses) would not reach EOF.
    let exec = common::bounded(
        env.std_runtime().args(["exec", "--detach", "--pid-file"]).arg(&pid_file).args([
            "t-exec-d",
            "/bin/sleep",
            "60",
        ]),
        "exec --detach",
    );
    assert!(exec.success(), "{}", exec.stderr_text());
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let ps = env.runtime().args(["ps", "--format", "json", "t-exec-d"]).output().unwrap();
    let pids: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap();
    assert!(pids.contains(&pid), "exec'd pid {pid} in the cgroup's {pids:?}");
    delete(&env, "t-exec-d");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid));
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
        .unwrap_or(true)
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let env = Env::new();
    let (_bundle, _) = running(&env, &shell("sleep 60"), "t-pause");
    let freezer = common::cgroup_file("t-pause", ("freezer", "freezer.state"), "cgroup.freeze");
    let (frozen, thawed) = match common::cgroup_v2() {
        true => ("1", "0"),
        false => ("FROZEN", "THAWED"),
    };
    env.runtime().args(["pause", "t-pause"]).assert().success();
    assert_eq!(status(&env, "t-pause"), "paused");
    assert_eq!(std::fs::read_to_string(&freezer).unwrap().trim(), frozen);
    // A paused container cannot be paused again or exec'd into.
    env.runtime().args(["pause", "t-pause"]).assert().failure();
    env.runtime().args(["exec", "t-pause", "true"]).assert().failure();
    env.runtime().args(["resume", "t-pause"]).assert().success();
    assert_eq!(status(&env, "t-pause"), "running");
    assert_eq!(std::fs::read_to_string(&freezer).unwrap().trim(), thawed);
    // Deleting a paused container must not hang on frozen tasks.
    env.runtime().args(["pause", "t-pause"]).assert().success();
    delete(&env, "t-pause");
    assert!(!freezer.exists());
}

#[test]
fn update_changes_memory_and_pids_limits() {
    let env = Env::new();
    let (_bundle, _) = running(&env, &shell("sleep 60"), "t-update");
    env.runtime()
        .args(["update", "--memory", "64m", "--pids-limit", "7", "t-update"])
        .assert()
        .success();
    let read = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap().trim().to_string();
    let memory = ("memory", "memory.limit_in_bytes");
    assert_eq!(read(common::cgroup_file("t-update", memory, "memory.max")), "67108864");
    let pids = ("pids", "pids.max");
    assert_eq!(read(common::cgroup_file("t-update", pids, "pids.max")), "7");
    let stderr = env.failing(&["update", "t-update"]);
    assert!(stderr.contains("nothing to update"), "{stderr}");
    delete(&env, "t-update");
}

#[test]
fn events_stats_reports_memory_and_pids() {
    let env = Env::new();
    let (_bundle, _) = running(&env, &shell("sleep 60"), "t-stats");
    let output = env.runtime().args(["events", "--stats", "t-stats"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let event: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(event["type"], "stats");
    assert_eq!(event["id"], "t-stats");
    assert!(event["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
    assert!(event["data"]["pids"]["current"].as_u64().unwrap() >= 1);
    delete(&env, "t-stats");
}

#[test]
fn oom_kill_exits_137_and_events_reports_it() {
    let env = Env::new();
    let mut spec = litmus_bundle::default_spec(&["alloc", "256"]);
    let limit: i64 = 16 << 20;
    let mut memory = oci_spec::runtime::LinuxMemory::default();
    memory.set_limit(Some(limit));
    if std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        memory.set_swap(Some(limit));
    }
    let mut resources = oci_spec::runtime::LinuxResources::default();
    resources.set_memory(Some(memory));
    spec.linux_mut().as_mut().unwrap().set_resources(Some(resources));
    let bundle = env.bundle(&spec);
    let (ok, stderr) = env.create(&bundle, "t-oom", &[]);
    assert!(ok, "create: {stderr}");
    let events_out = tempfile::NamedTempFile::new().unwrap();
    let mut events = env
        .std_runtime()
        .args(["events", "--interval", "50ms", "t-oom"])
        .stdout(events_out.reopen().unwrap())
        .spawn()
        .unwrap();
    // events writes its first stats only once it listens for the OOM: the
    // cue to start (an OOM before that is not its to see, as with runc).
    let deadline = Instant::now() + common::DEADLINE;
    while !std::fs::read_to_string(events_out.path()).unwrap().contains(r#""type":"stats""#) {
        assert!(Instant::now() < deadline, "events never printed its first stats");
        std::thread::sleep(Duration::from_millis(10));
    }
    env.runtime().args(["start", "t-oom"]).assert().success();
    let deadline = Instant::now() + Duration::from_secs(20);
    while status(&env, "t-oom") != "stopped" {
        assert!(Instant::now() < deadline, "the OOM killer never stopped the container");
        std::thread::sleep(Duration::from_millis(20));
    }
    // events ends by itself once the container has stopped.
    common::expect_exit(&mut events, common::DEADLINE, "events after the container stopped");
    let stdout = std::fs::read_to_string(events_out.path()).unwrap();
    assert!(stdout.lines().any(|l| l.contains(r#""type":"oom""#)), "events printed: {stdout}");
    // v1 memory.oom_control, v2 memory.events: both count "oom_kill N".
    let oom_file = common::cgroup_file("t-oom", ("memory", "memory.oom_control"), "memory.events");
    let oom_counts = std::fs::read_to_string(oom_file).unwrap();
    assert!(!oom_counts.contains("oom_kill 0"), "{oom_counts}");
    delete(&env, "t-oom");

    // `run` reports the OOM kill as 128 + SIGKILL.
    let bundle = env.bundle(&spec);
    env.run(&bundle, "t-oom-run").assert().code(137);
}

/// `spec` in a new user namespace (ids mapped onto themselves) that
/// shares the host's namespace of type `shared`.
fn in_a_user_namespace_sharing(spec: &mut Spec, shared: LinuxNamespaceType) {
    let linux = spec.linux_mut().as_mut().unwrap();
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    namespaces.retain(|n| n.typ() != shared && n.typ() != LinuxNamespaceType::User);
    namespaces
        .push(LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::User).build().unwrap());
    linux.set_namespaces(Some(namespaces));
    for set in [Linux::set_uid_mappings, Linux::set_gid_mappings] {
        let map = LinuxIdMappingBuilder::default().container_id(0u32).host_id(0u32).size(65536u32);
        set(linux, Some(vec![map.build().unwrap()]));
    }
}

/// In a user namespace that shares the host's network namespace (a
/// rootless config without one), sysfs may not be mounted (EPERM: only
/// the network namespace's owner may); the host's /sys is bound instead,
/// read-only as the mount asks, as runc does.
#[test]
fn sysfs_in_a_user_namespace_without_a_network_namespace_is_bound() {
    let env = Env::new();
    let mut spec = shell(
        "test -d /sys/kernel && grep ' /sys ' /proc/self/mountinfo | grep -q ' ro[, ]' \
         && echo bound-read-only",
    );
    in_a_user_namespace_sharing(&mut spec, LinuxNamespaceType::Network);
    let sys = spec.mounts().iter().flatten().find(|m| m.destination().as_os_str() == "/sys");
    assert_eq!(sys.and_then(|m| m.typ().as_deref()), Some("sysfs"), "the fixture mounts sysfs");
    let bundle = env.bundle(&spec);
    let out = env.run(&bundle, "t-sysfs-bind").assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert_eq!(stdout.trim(), "bound-read-only");
}

/// In a user namespace sharing the host's cgroup namespace, cgroup2 may
/// not be mounted (EPERM); on a cgroup v2 host the host's hierarchy is
/// bound instead (on v1 the controllers are bound anyway).
#[test]
fn cgroup2_in_a_user_namespace_without_a_cgroup_namespace_is_bound() {
    let env = Env::new();
    let mut spec = shell("grep -q ' /sys/fs/cgroup ' /proc/self/mountinfo && echo mounted");
    in_a_user_namespace_sharing(&mut spec, LinuxNamespaceType::Cgroup);
    let cgroup = spec.mounts().iter().flatten().find(|m| m.typ().as_deref() == Some("cgroup"));
    assert!(cgroup.is_some(), "the fixture mounts cgroups");
    let bundle = env.bundle(&spec);
    let out = env.run(&bundle, "t-cgroup-bind").assert().success();
    assert_eq!(String::from_utf8_lossy(&out.get_output().stdout).trim(), "mounted");
}
