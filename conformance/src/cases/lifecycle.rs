//! runtime.md: the operations and the states they move a container through.

use crate::case::{expect, expect_eq, fail, Checked};
use crate::ctx::Ctx;
use litmus_probe::ProbeLine;

crate::cases! {
    Lifecycle: {
        operations_without_an_id_are_errors => [RUNTIME_OPERATIONS_ID_REQUIRED],
        features_versions_are_accepted_as_oci_version => [FEATURES_VERSIONS_ACCEPTED],
        create_needs_an_id_and_a_bundle =>
            [RUNTIME_CREATE_ARGS_REQUIRED, RUNTIME_CREATE_ERROR_NO_CONTAINER],
        features_give_the_supported_version_range => [FEATURES_REQUIRED_FIELDS],
        create_leaves_container_created => [RUNTIME_CREATE_STATUS, RUNTIME_STATE_STATUS_CREATED],
        create_does_not_run_the_program => [RUNTIME_CREATE_NO_USER_PROGRAM],
        start_runs_the_program => [RUNTIME_START_RUNS_PROGRAM, RUNTIME_STATE_STATUS_RUNNING],
        start_twice_is_an_error => [RUNTIME_START_NOT_CREATED],
        start_without_process_is_an_error => [RUNTIME_START_NO_PROCESS],
        start_of_missing_container_is_an_error => [RUNTIME_START_MISSING],
        state_of_missing_container_is_an_error => [RUNTIME_STATE_OP_MISSING],
        state_has_the_spec_fields =>
            [RUNTIME_STATE_FIELDS, RUNTIME_STATE_OP_RETURNS_STATE, RUNTIME_STATE_PID_HOST, RUNTIME_STATE_BUNDLE_ABSOLUTE],
        state_keeps_annotations => [RUNTIME_STATE_ANNOTATIONS, CONFIG_ANNOTATIONS],
        duplicate_id_is_rejected => [RUNTIME_CREATE_DUPLICATE_ID, RUNTIME_STATE_ID_UNIQUE],
        kill_delivers_the_signal => [RUNTIME_KILL_SENDS_SIGNAL],
        kill_of_stopped_container_is_an_error =>
            [RUNTIME_KILL_NOT_RUNNING, RUNTIME_STATE_STATUS_STOPPED],
        delete_of_running_container_is_an_error => [RUNTIME_DELETE_NOT_STOPPED],
        delete_removes_the_container => [RUNTIME_DELETE_RESOURCES, RUNTIME_LIFECYCLE_DELETE_UNDO],
        delete_of_missing_container_is_an_error => [RUNTIME_DELETE_MISSING],
        config_changes_after_create_are_ignored => [RUNTIME_LIFECYCLE_CONFIG_IMMUTABLE],
        invalid_config_is_rejected_cleanly =>
            [RUNTIME_LIFECYCLE_CREATE_ERROR, RUNTIME_ERRORS_NO_CHANGE],
    }
}

/// A config without `process`: the runtime may refuse it at create
/// (process is required by start, and a runtime may check early), or
/// create the container and then refuse start. Either way an error, and
/// nothing runs: a container left after a refused create is a failure too.
fn start_without_process_is_an_error(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["exit", "0"]);
    spec.set_process(None);
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    if cx.create(&id, bundle)?.ok() {
        cx.start(&id)?.expect_refused("start without process to fail")?;
        let status = cx.state(&id)?.status;
        expect(status != "running", "the container not running after the refused start", status)
    } else {
        cx.expect_no_state(&id, "no container after create refused the config")
    }
}

fn create_leaves_container_created(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["exit", "0"]);
    let id = cx.new_container(&spec)?;
    expect_eq("status after create", "created", &cx.state(&id)?.status)
}

/// A runtime that runs the program at create would show the probe's
/// command line on the container's pid, and the probe's marker.
fn create_does_not_run_the_program(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["marker", "/ran", "report", "wait-signal"]);
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.create_ok(&id, bundle)?;
    let pid = cx.state(&id)?.pid;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    expect(
        !cmdline.contains("litmus-probe"),
        "the container process not yet running the program",
        format!("pid {pid} runs `{cmdline}`"),
    )?;
    let marker = cx.bundle_ref(bundle).rootfs().join("ran");
    expect(
        !marker.exists(),
        "no marker before start",
        "the program ran during create (marker exists)",
    )?;
    // The same marker does appear after start: the check above can fail.
    cx.start_and_await_report(&id)?;
    expect(marker.exists(), "the marker after start", "no marker after start")
}

fn start_runs_the_program(cx: &mut Ctx) -> Checked {
    let id = cx.running_container()?;
    expect_eq("status while the program runs", "running", &cx.state(&id)?.status)
}

fn start_twice_is_an_error(cx: &mut Ctx) -> Checked {
    let id = cx.running_container()?;
    let again = cx.start(&id)?;
    again.expect_refused("a second start to fail")?;
    let reports = cx.output_of(&id).iter().filter(|l| matches!(l, ProbeLine::Report(_))).count();
    expect_eq("probe reports (program runs)", 1, reports)?;
    expect_eq("status after the failed start", "running", &cx.state(&id)?.status)
}

fn start_of_missing_container_is_an_error(cx: &mut Ctx) -> Checked {
    let inv = cx.start("litmus-no-such-container")?;
    inv.expect_refused("start of a missing container to fail")
}

fn state_of_missing_container_is_an_error(cx: &mut Ctx) -> Checked {
    let inv = cx.call(&["state", "litmus-no-such-container"])?;
    inv.expect_refused("state of a missing container to fail")
}

fn state_has_the_spec_fields(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["exit", "0"]);
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.create_ok(&id, bundle)?;
    let state = cx.state(&id)?;
    for field in ["ociVersion", "id", "status", "pid", "bundle"] {
        expect(
            state.json.get(field).is_some(),
            format!("state field {field}"),
            state.json.to_string(),
        )?;
    }
    expect_eq("state.id", id.as_str(), state.json["id"].as_str().unwrap_or_default())?;
    let bundle_path = cx.bundle_path(bundle).canonicalize()?;
    expect_eq(
        "state.bundle",
        bundle_path.display().to_string(),
        state.json["bundle"].as_str().unwrap_or_default().to_string(),
    )?;
    // The pid is the host's view: /proc/<pid> on the host is in the
    // container's pid namespace, unlike ours.
    let host_ns = std::fs::read_link("/proc/self/ns/pid")?;
    let container_ns = std::fs::read_link(format!("/proc/{}/ns/pid", state.pid));
    // litmus as a user may not read the link of the runtime's (not
    // dumpable) init; its status, readable by anyone, shows its pid in
    // every pid namespace it is in: more than one when it has its own.
    let nested = || {
        std::fs::read_to_string(format!("/proc/{}/status", state.pid)).ok().is_some_and(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .is_some_and(|pids| pids.split_whitespace().count() > 1)
        })
    };
    let in_own = match &container_ns {
        Ok(ns) => *ns != host_ns,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => nested(),
        Err(_) => false,
    };
    expect(
        in_own,
        format!(
            "state.pid {} to be a host pid of a process in the container's pid namespace",
            state.pid
        ),
        format!("/proc/{}/ns/pid is {container_ns:?}", state.pid),
    )
}

fn state_keeps_annotations(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["exit", "0"]);
    spec.set_annotations(Some([("org.litmus.case".to_string(), "annotations".to_string())].into()));
    let id = cx.new_container(&spec)?;
    let state = cx.state(&id)?;
    expect_eq(
        "state.annotations[org.litmus.case]",
        Some("annotations"),
        state.json["annotations"]["org.litmus.case"].as_str(),
    )
}

fn duplicate_id_is_rejected(cx: &mut Ctx) -> Checked {
    let first = cx.spec(&["report", "wait-signal"]);
    let b1 = cx.bundle(&first)?;
    let second = cx.spec(&["marker", "/second", "exit", "0"]);
    let b2 = cx.bundle(&second)?;
    let id = cx.new_id();
    cx.create_ok(&id, b1)?;
    let pid = cx.state(&id)?.pid;
    let again = cx.create(&id, b2)?;
    again.expect_refused("a second create with the same ID to fail")?;
    let state = cx.state(&id)?;
    expect_eq("the first container's pid", pid, state.pid)?;
    expect_eq("the first container's status", "created", &state.status)
}

fn kill_delivers_the_signal(cx: &mut Ctx) -> Checked {
    let id = cx.running_container()?;
    let inv = cx.kill(&id, "USR1")?;
    inv.expect_ok("kill USR1 to succeed")?;
    let line = cx.wait_for_output(&id, "the probe to receive a signal", |l| {
        matches!(l, ProbeLine::Signal { .. })
    })?;
    expect_eq("signal received", ProbeLine::Signal { signal: libc::SIGUSR1 }, line)
}

fn kill_of_stopped_container_is_an_error(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["exit", "0"]);
    let id = cx.new_container(&spec)?;
    cx.start_to_exit(&id)?;
    expect_eq("status after the program exited", "stopped", &cx.state(&id)?.status)?;
    let inv = cx.kill(&id, "KILL")?;
    inv.expect_refused("kill of a stopped container to fail")
}

fn delete_of_running_container_is_an_error(cx: &mut Ctx) -> Checked {
    let id = cx.running_container()?;
    let inv = cx.delete(&id)?;
    inv.expect_refused("delete of a running container to fail")?;
    expect_eq("status after the refused delete", "running", &cx.state(&id)?.status)
}

fn delete_removes_the_container(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["exit", "0"]);
    let id = cx.new_container(&spec)?;
    let pid = cx.state(&id)?.pid;
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    cx.start_ok(&id)?;
    cx.wait_exit(pid)?;
    let inv = cx.delete(&id)?;
    inv.expect_ok("delete of a stopped container to succeed")?;
    cx.expect_no_state(&id, "state to fail after delete")?;
    for dir in crate::host_cgroups::host_cgroup_dirs(&cgroups) {
        expect(
            !dir.exists(),
            "the container's cgroup to be removed",
            format!("{} still exists", dir.display()),
        )?;
    }
    Ok(())
}

fn delete_of_missing_container_is_an_error(cx: &mut Ctx) -> Checked {
    let inv = cx.delete("litmus-no-such-container")?;
    inv.expect_refused("delete of a missing container to fail")
}

fn config_changes_after_create_are_ignored(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["marker", "/original", "exit", "0"]);
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.create_ok(&id, bundle)?;
    let pid = cx.state(&id)?.pid;
    let changed = cx.spec(&["marker", "/changed", "exit", "0"]);
    cx.write_config(bundle, &changed)?;
    cx.start_ok(&id)?;
    cx.wait_exit(pid)?;
    let rootfs = cx.bundle_ref(bundle).rootfs();
    expect(
        rootfs.join("original").exists() && !rootfs.join("changed").exists(),
        "the program from config.json at create time",
        "the edited config.json took effect",
    )
}

fn invalid_config_is_rejected_cleanly(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["exit", "0"]);
    let bundle = cx.bundle(&spec)?;
    cx.write_raw_config(bundle, b"{\"ociVersion\": \"1.0.2\", \"process\": ")?;
    let id = cx.new_id();
    cx.create_refused(&id, bundle, "create with a truncated config.json to fail").map(drop)
}

/// `create` without an ID, and with a bundle that does not exist, must
/// fail and leave no container.
fn create_needs_an_id_and_a_bundle(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["exit", "0"]);
    let bundle = cx.bundle(&spec)?;
    let path = cx.bundle_path(bundle).display().to_string();
    let no_id = cx.call(&["create", "--bundle", &path])?;
    no_id.expect_refused("create without an ID to fail")?;
    let id = cx.new_id();
    cx.created.push(id.clone());
    let missing = format!("{path}-does-not-exist");
    let no_bundle = cx.call(&["create", "--bundle", &missing, &id])?;
    no_bundle.expect_refused("create with a missing bundle to fail")?;
    cx.expect_no_state(&id, "no container after the failed create")
}

/// features.md: ociVersionMin and ociVersionMax are REQUIRED SemVer
/// strings, the minimum no newer than the maximum.
fn features_give_the_supported_version_range(cx: &mut Ctx) -> Checked {
    let features = cx.call(&["features"])?;
    features.expect_ok("features to succeed")?;
    let doc = super::features::parse(&features)?;
    let version = |key: &str| -> Result<String, crate::case::Verdict> {
        let v = doc[key].as_str().unwrap_or_default().to_string();
        expect(
            semver::Version::parse(&v).is_ok(),
            format!("{key}: a SemVer version"),
            format!("{:?}", doc[key]),
        )?;
        Ok(v)
    };
    let (min, max) = (version("ociVersionMin")?, version("ociVersionMax")?);
    expect(
        crate::catalogue::version_le(&min, &max),
        "ociVersionMin <= ociVersionMax",
        format!("{min} > {max}"),
    )
}

/// state, start, kill and delete each need the container's ID.
fn operations_without_an_id_are_errors(cx: &mut Ctx) -> Checked {
    for operation in ["state", "start", "kill", "delete"] {
        cx.call(&[operation])?.expect_refused(&format!("{operation} without an ID to fail"))?;
    }
    Ok(())
}

/// A config whose ociVersion is features' ociVersionMin, and one with its
/// ociVersionMax, both run.
fn features_versions_are_accepted_as_oci_version(cx: &mut Ctx) -> Checked {
    let doc = super::features::features(cx)?;
    for key in ["ociVersionMin", "ociVersionMax"] {
        let Some(version) = doc[key].as_str() else {
            return Err(fail(format!("features.{key}"), format!("{:?}", doc[key])));
        };
        let mut spec = cx.spec(&["report"]);
        spec.set_version(version.to_string());
        cx.run_probe(&spec)
            .map_err(|v| v.seen_also(&format!("config ociVersion {version} (features {key})")))?
            .report()?;
    }
    Ok(())
}
