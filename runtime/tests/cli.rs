//! Root integration tests: litmus-runtime driven through its command line
//! with busybox bundles, success and error paths, and nothing left behind.

use oci_spec::runtime::{HookBuilder, HooksBuilder, Spec};
use std::path::Path;

mod common;

use common::{cgroup_dir, shell, Env};

#[test]
fn run_of_a_busybox_shell_prints_and_returns_its_exit_status() {
    let env = Env::new();
    let bundle = env.bundle(&shell("echo hello from $(hostname); exit 3"));
    env.run(&bundle, "t-run").assert().code(3).stdout("hello from litmus\n");
    assert!(env.state_dirs().is_empty(), "run without --keep deletes the container");
    assert!(!cgroup_dir("t-run").exists());
}

#[test]
fn run_reports_death_by_signal_as_128_plus_the_signal() {
    let env = Env::new();
    let bundle = env.bundle(&shell("sleep 60"));
    let mut run = env
        .std_runtime()
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg("t-sig")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // pid 1 of a pid namespace ignores SIGKILL from inside: kill from here.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let state = env.runtime().args(["state", "t-sig"]).output().unwrap();
        if String::from_utf8_lossy(&state.stdout).contains("\"running\"") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "container never reached running");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    env.runtime().args(["kill", "t-sig", "KILL"]).assert().success();
    let status = common::expect_exit(&mut run, common::DEADLINE, "run after kill KILL");
    assert_eq!(status.code(), Some(137));
    assert!(env.state_dirs().is_empty());
}

#[test]
fn a_missing_bundle_is_an_error_naming_container_and_bundle() {
    let env = Env::new();
    let stderr = env.create_refused(Path::new("/nonexistent/bundle"), "t-missing");
    assert!(
        stderr.contains("container t-missing: create") && stderr.contains("/nonexistent/bundle"),
        "{stderr}"
    );
}

#[test]
fn invalid_json_is_reported_with_line_and_column() {
    let env = Env::new();
    let bundle = env.bundle(&shell("true"));
    bundle
        .write_raw_config(b"{\n  \"ociVersion\": \"1.0.2\",\n  \"root\": {\"path\": \"rootfs\"\n")
        .unwrap();
    let stderr = env.create_refused(bundle.path(), "t-json");
    assert!(stderr.contains("line 4, column 0") || stderr.contains("line 4"), "{stderr}");
}

#[test]
fn an_unknown_namespace_type_is_rejected() {
    let env = Env::new();
    let bundle = env.bundle(&shell("true"));
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.config_path()).unwrap()).unwrap();
    json["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({"type": "bogus"}));
    bundle.write_raw_config(json.to_string().as_bytes()).unwrap();
    let stderr = env.create_refused(bundle.path(), "t-ns");
    assert!(stderr.contains("bogus"), "{stderr}");
}

#[test]
fn lifecycle_errors_change_nothing_and_force_delete_cleans_up() {
    let env = Env::new();
    let bundle = env.bundle(&shell("sleep 60"));
    let pid_file = bundle.path().join("pid");
    let (ok, stderr) =
        env.create(&bundle, "t-life", &["--pid-file".as_ref(), pid_file.as_os_str()]);
    assert!(ok, "{stderr}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(!pid.ends_with('\n') && pid.parse::<i32>().is_ok(), "pid file {pid:?}");

    // Duplicate ID: refused, the first container untouched.
    let (ok, stderr) = env.create(&bundle, "t-life", &[]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    let state = env.runtime().args(["state", "t-life"]).assert().success();
    let state: serde_json::Value = serde_json::from_slice(&state.get_output().stdout).unwrap();
    assert_eq!(state["status"], "created");
    assert_eq!(state["pid"].to_string(), pid);

    env.runtime().args(["start", "t-life"]).assert().success();
    env.runtime().args(["start", "t-life"]).assert().failure();
    env.runtime().args(["delete", "t-life"]).assert().failure();
    assert!(cgroup_dir("t-life").exists());
    env.runtime().args(["delete", "--force", "t-life"]).assert().success();
    assert!(env.state_dirs().is_empty());
    assert!(!cgroup_dir("t-life").exists(), "delete removes the cgroup");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(&pid),
        "delete --force kills the process"
    );
    // runc: delete --force of a missing container succeeds; plain delete does not.
    env.runtime().args(["delete", "--force", "t-life"]).assert().success();
    env.runtime().args(["delete", "t-life"]).assert().failure();
}

fn is_zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z")).unwrap_or(true)
}

#[test]
fn kill_of_a_stopped_container_is_refused() {
    let env = Env::new();
    let bundle = env.bundle(&shell("exit 0"));
    env.runtime().args(["run", "--keep", "-b"]).arg(bundle.path()).arg("t-kill").assert().success();
    let state = env.runtime().args(["state", "t-kill"]).assert().success();
    assert!(String::from_utf8_lossy(&state.get_output().stdout).contains("\"stopped\""));
    env.runtime().args(["kill", "t-kill", "KILL"]).assert().failure();
    env.runtime().args(["delete", "t-kill"]).assert().success();
}

#[test]
fn a_failing_prestart_hook_leaves_nothing_behind_and_logs_json() {
    let env = Env::new();
    let mut spec = shell("true");
    let hook = HookBuilder::default().path("/bin/false").build().unwrap();
    spec.set_hooks(Some(HooksBuilder::default().prestart(vec![hook]).build().unwrap()));
    let bundle = env.bundle(&spec);
    let log = bundle.path().join("log.json");
    env.runtime()
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "create", "-b"])
        .arg(bundle.path())
        .arg("t-hook")
        .assert()
        .failure();
    assert!(env.state_dirs().is_empty(), "no state dir after a failed create");
    assert!(!cgroup_dir("t-hook").exists(), "no cgroup after a failed create");
    let line = std::fs::read_to_string(&log).unwrap();
    let entry: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(entry["level"], "error");
    assert!(entry["msg"].as_str().unwrap().contains("prestart hook 0"), "{entry}");
    assert!(entry["time"].is_string());
}

#[test]
fn spec_writes_a_config_that_runs() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    env.runtime().args(["spec", "--bundle"]).arg(dir.path()).assert().success();
    env.runtime().args(["spec", "--bundle"]).arg(dir.path()).assert().failure();
    let spec = Spec::load(dir.path().join("config.json")).unwrap();
    assert_eq!(spec.root().as_ref().unwrap().path(), Path::new("rootfs"));
}

fn with_seccomp(mut spec: Spec, profile: serde_json::Value) -> Spec {
    spec.linux_mut().as_mut().unwrap().set_seccomp(Some(serde_json::from_value(profile).unwrap()));
    spec
}

#[test]
fn seccomp_errno_rule_reaches_the_shell() {
    let env = Env::new();
    let mut spec = with_seccomp(
        shell("mkdir /tmp/blocked; echo status=$?"),
        serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV}]
        }),
    );
    spec.root_mut().as_mut().unwrap().set_readonly(Some(false));
    let bundle = env.bundle(&spec);
    let assert = env.run(&bundle, "t-seccomp").assert().success().stdout("status=1\n");
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("cross-device"), "EXDEV from the filter: {stderr}");
    assert!(env.state_dirs().is_empty());
}

#[test]
fn a_bad_seccomp_profile_is_refused_naming_the_field() {
    let env = Env::new();
    let spec = with_seccomp(
        shell("true"),
        serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]
        }),
    );
    let bundle = env.bundle(&spec);
    let stderr = env.create_refused(bundle.path(), "t-badseccomp");
    assert!(stderr.contains("linux.seccomp.syscalls[0]"), "{stderr}");
}

/// podman --read-only puts tmpfs with runc's `tmpcopyup` on /tmp, /run...
#[test]
fn a_tmpcopyup_tmpfs_starts_with_what_it_covers() {
    let env = Env::new();
    let mut spec = shell("cat /etc/hostname; echo new > /etc/added; ls -ld /etc | cut -c1-10");
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(
        oci_spec::runtime::MountBuilder::default()
            .destination("/etc")
            .typ("tmpfs")
            .source("tmpfs")
            .options(vec!["nosuid".into(), "tmpcopyup".into()])
            .build()
            .unwrap(),
    );
    spec.set_mounts(Some(mounts));
    let bundle = env.bundle(&spec);
    env.run(&bundle, "t-copyup").assert().success().stdout("litmus\ndrwxr-xr-x\n");
    assert!(
        !bundle.rootfs().join("etc/added").exists(),
        "the write went to the tmpfs, not the rootfs"
    );
}

#[test]
fn exec_flags_engines_pass_are_honoured_or_refused_by_name() {
    let env = Env::new();
    let bundle = env.bundle(&shell("sleep 60"));
    let (ok, stderr) = env.create(&bundle, "t-exec-flags", &[]);
    assert!(ok, "{stderr}");
    let refused =
        env.runtime().args(["exec", "--cgroup", "sub", "t-exec-flags", "true"]).assert().failure();
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(stderr.contains("--cgroup: not supported"), "{stderr}");
    env.runtime().args(["start", "t-exec-flags"]).assert().success();
    env.runtime().args(["pause", "t-exec-flags"]).assert().success();
    for flags in [&[][..], &["--ignore-paused"][..]] {
        let paused = env
            .runtime()
            .arg("exec")
            .args(flags)
            .args(["--detach", "t-exec-flags", "true"])
            .assert()
            .failure();
        let stderr = String::from_utf8_lossy(&paused.get_output().stderr).to_string();
        assert!(stderr.contains("cannot exec in a paused container"), "{stderr}");
    }
    env.runtime().args(["resume", "t-exec-flags"]).assert().success();
    env.runtime().args(["exec", "--ignore-paused", "t-exec-flags", "true"]).assert().success();
    env.runtime().args(["delete", "--force", "t-exec-flags"]).assert().success();
}
