//! The command-line contract engines rely on (level ENGINE). The spec
//! leaves the command line open, but podman/conmon and containerd's shim
//! drive a runtime through runc's, and read back exact outputs: pid files,
//! the console socket's message, JSON logs, `ps --format json`, processes
//! left as their descendants. A runtime breaking any of this passes the
//! spec's cases and still breaks every container an engine starts, so each
//! item is a case here, reported apart from the spec verdict.

use super::seccomp::Agent;
use crate::case::{expect, expect_eq, fail, Checked, Verdict};
use crate::ctx::Ctx;
use crate::driver::How;
use litmus_probe::ProbeLine;
use oci_spec::runtime::{HookBuilder, HooksBuilder};
use std::path::{Path, PathBuf};
use std::time::Duration;

crate::cases! {
    Engine: {
        pid_files_hold_bare_host_pids => [ENGINE_PID_FILE],
        container_processes_stay_the_callers_descendants => [ENGINE_REPARENT],
        a_failed_create_is_reported_in_the_json_log => [ENGINE_LOG_JSON],
        global_flags_in_both_forms_and_a_new_root => [ENGINE_GLOBAL_FLAGS],
        calls_work_with_an_empty_environment => [ENGINE_ENVIRONMENT],
        delete_force_removes_every_state => [ENGINE_DELETE_FORCE],
        kill_takes_numeric_signals_and_all => [ENGINE_KILL_NUMERIC],
        ps_lists_host_pids_as_json => [ENGINE_PS_JSON],
        console_socket_gets_one_fd_in_one_message => [ENGINE_CONSOLE_SOCKET],
        a_created_container_killed_can_be_deleted_at_once => [ENGINE_KILL_THEN_DELETE],
        the_seccomp_agent_gets_the_listener_during_create => [ENGINE_SECCOMP_AGENT_ON_CREATE],
        container_hooks_without_env_get_the_process_env => [ENGINE_HOOK_ENV],
        exec_without_a_process_file_takes_the_containers_env_and_cwd => [ENGINE_EXEC_DEFAULTS],
    }
    Lifecycle: {
        an_exited_process_not_yet_reaped_is_stopped => [RUNTIME_STATE_STATUS_STOPPED],
    }
}

/// A process.json for `exec --process`, running the probe with `args`
/// (the fixture's user, env and capabilities, as engines send them).
pub(super) fn process_file(cx: &Ctx, name: &str, probe_args: &[&str]) -> Result<PathBuf, Verdict> {
    let process = cx.spec(probe_args).process().clone().expect("fixture process");
    let path = cx.work().join(format!("{name}.json"));
    let json = serde_json::to_vec(&process)?;
    std::fs::write(&path, json)?;
    Ok(path)
}

/// `exec --process --detach --pid-file` of the probe running `probe_args`
/// (which start with `report`), its stdout going to `NAME.out`; returns
/// (pid, stdout file) once the report is out, so the probe has blocked
/// the signals a case sends next (exec returns when the process runs,
/// not when it is ready).
fn exec_detached(
    cx: &mut Ctx,
    id: &str,
    name: &str,
    probe_args: &[&str],
) -> Result<(i32, PathBuf), Verdict> {
    let process = process_file(cx, name, probe_args)?;
    let pid_file = cx.work().join(format!("{name}.pid"));
    let out = cx.work().join(format!("{name}.out"));
    let (process_arg, pid_arg) = (process.display().to_string(), pid_file.display().to_string());
    let inv = cx.runtime.call_with_stdout(
        &["exec", "--process", &process_arg, "--detach", "--pid-file", &pid_arg, id],
        &out,
        cx.work(),
    )?;
    inv.expect_ok("exec --process --detach --pid-file to succeed")?;
    let pid = bare_pid(&pid_file, "exec --pid-file")?;
    cx.pids.push(pid);
    wait_for_report(&out, "the exec'd probe's report")?;
    Ok((pid, out))
}

/// Waits until the probe writing to `out` has printed its report.
fn wait_for_report(out: &Path, what: &str) -> Checked {
    crate::deadline::poll(Duration::from_secs(10), Duration::from_millis(5), || {
        litmus_probe::parse_output(&std::fs::read_to_string(out).unwrap_or_default())
            .into_iter()
            .any(|l| matches!(l, Ok(ProbeLine::Report(_))))
            .then_some(())
    })
    .map_err(|e| fail(what.to_string(), e.to_string()))
}

/// A created container running `probe_args`; returns (id, init pid).
fn created(cx: &mut Ctx, probe_args: &[&str]) -> Result<(String, i32), Verdict> {
    let spec = cx.spec(probe_args);
    let id = cx.new_container(&spec)?;
    let pid = cx.state(&id)?.pid;
    Ok((id, pid))
}

/// The parent pid of `pid` (from /proc/PID/stat), if it still exists.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The pid in a pid file, which must be bare decimal digits.
fn bare_pid(path: &Path, what: &str) -> Result<i32, Verdict> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("{what} to write {}", path.display()), e.to_string()))?;
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    expect(
        digits,
        format!("{what}: bare decimal digits (Go's strconv.Atoi rejects anything else)"),
        format!("{text:?}"),
    )?;
    text.parse().map_err(|e| fail(format!("{what}: a pid"), format!("{text:?}: {e}")))
}

fn pid_files_hold_bare_host_pids(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["wait-signal"]);
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    let init_file = cx.work().join("init.pid");
    let init_arg = init_file.display().to_string();
    let inv = cx.create_with(&id, bundle, &["--pid-file", &init_arg])?;
    inv.expect_ok("create --pid-file to succeed")?;
    let pid = bare_pid(&init_file, "create --pid-file")?;
    expect_eq("the pid file's pid (state's pid)", cx.state(&id)?.pid, pid)?;
    cx.start_ok(&id)?;
    let process = process_file(cx, "exec-process", &["wait-signal"])?;
    let exec_file = cx.work().join("exec.pid");
    let (process_arg, exec_arg) = (process.display().to_string(), exec_file.display().to_string());
    let inv =
        cx.call(&["exec", "--process", &process_arg, "--detach", "--pid-file", &exec_arg, &id])?;
    inv.expect_ok("exec --detach --pid-file to succeed")?;
    let exec_pid = bare_pid(&exec_file, "exec --pid-file")?;
    cx.pids.push(exec_pid);
    // A host pid of a process in the container: it shares init's pid
    // namespace.
    let ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    expect(
        ns(exec_pid).is_some() && ns(exec_pid) == ns(pid),
        "the exec pid file names a live host pid in the container's pid namespace",
        format!("pid {exec_pid}: {:?} (init: {:?})", ns(exec_pid), ns(pid)),
    )?;
    end_exec(cx, exec_pid)
}

/// Ends a `wait-signal` process started with exec --detach and reaps it,
/// as the engine (its subreaper) would before deleting the container.
fn end_exec(cx: &Ctx, exec_pid: i32) -> Checked {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(exec_pid),
        nix::sys::signal::Signal::SIGTERM,
    );
    cx.wait_exit(exec_pid)?;
    Ok(())
}

fn container_processes_stay_the_callers_descendants(cx: &mut Ctx) -> Checked {
    let me = std::process::id() as i32;
    let (id, pid) = created(cx, &["wait-signal"])?;
    expect_eq(
        "parent of the created container's init (the caller, a subreaper)",
        Some(me),
        parent_of(pid),
    )?;
    cx.start_ok(&id)?;
    let (exec_pid, _) = exec_detached(cx, &id, "exec", &["report", "wait-signal", "exit", "3"])?;
    expect_eq(
        "parent of the exec'd process once exec --detach returned",
        Some(me),
        parent_of(exec_pid),
    )?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(exec_pid),
        nix::sys::signal::Signal::SIGTERM,
    )?;
    expect_eq(
        "the exec'd process's exit status, as the engine's waitpid sees it",
        Some(3),
        cx.wait_exit(exec_pid)?,
    )
}

fn a_failed_create_is_reported_in_the_json_log(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&[]);
    if let Some(process) = spec.process_mut() {
        process.set_args(Some(vec!["/litmus-no-such-program".into()]));
    }
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.created.push(id.clone());
    let log = cx.work().join("log.json");
    let (log_arg, bundle_arg) =
        (log.display().to_string(), cx.bundle_path(bundle).display().to_string());
    let logged = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["--log", log_arg.as_str(), "--log-format", "json"];
        full.extend_from_slice(args);
        full.iter().map(|s| s.to_string()).collect()
    };
    let create = logged(&["create", "--bundle", &bundle_arg, &id]);
    let create: Vec<&str> = create.iter().map(String::as_str).collect();
    let mut failed = cx.call(&create)?;
    if failed.ok() {
        // The program may be looked up at start instead; podman maps
        // either failure the same way.
        let start = logged(&["start", &id]);
        let start: Vec<&str> = start.iter().map(String::as_str).collect();
        failed = cx.call(&start)?;
    }
    failed.expect_refused("create (or start) of a missing program to fail")?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let mut last_error = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let record: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            fail("--log-format json: every line of the log a JSON record", format!("{line:?}: {e}"))
        })?;
        if record["level"] == "error" {
            last_error = record["msg"].as_str().map(String::from);
        }
    }
    let Some(msg) = last_error else {
        return Err(fail("a level=error record with a msg in the --log file", format!("{text:?}")));
    };
    // podman's classification (case-insensitive): these turn into 127.
    let not_found = |s: &str| {
        let s = s.to_lowercase();
        s.contains("executable file not found in") || s.contains("no such file or directory")
    };
    expect(
        not_found(&msg),
        "the error's msg matching podman's \"not found\" patterns (exit 127)",
        msg.clone(),
    )?;
    expect(
        not_found(&failed.stderr),
        "the reason on stderr too (conmon forwards it when the log is not one JSON document)",
        failed.describe(),
    )
}

fn global_flags_in_both_forms_and_a_new_root(cx: &mut Ctx) -> Checked {
    let root = cx.runtime.root.clone();
    if root.exists() {
        return Err(fail("the case's root not created yet", root.display().to_string()));
    }
    let spec = cx.spec(&["wait-signal"]);
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.created.push(id.clone());
    let log = cx.work().join("log.json");
    let root_eq = format!("--root={}", root.display());
    let log_eq = format!("--log={}", log.display());
    let bundle_arg = cx.bundle_path(bundle).display().to_string();
    let raw = How { no_root_flag: true, env: None };
    // conmon's form: --log-format=json --log FILE, no --root (podman's
    // default root); the shim's: --root DIR --log FILE --log-format json.
    let inv = cx.call_as(
        &[&root_eq, &log_eq, "--log-format=json", "create", "--bundle", &bundle_arg, &id],
        &raw,
    )?;
    inv.expect_ok("create with --root=DIR (new) --log=FILE --log-format=json to succeed")?;
    let root_arg = root.display().to_string();
    let log_arg = log.display().to_string();
    let state = cx.call_as(
        &["--root", &root_arg, "--log", &log_arg, "--log-format", "json", "state", &id],
        &raw,
    )?;
    state.expect_ok("state with --root DIR --log FILE --log-format json to succeed")?;
    let seen = crate::state_view::StateView::parse(&state.stdout)?;
    cx.pids.push(seen.pid);
    expect_eq("status", "created", seen.status.as_str())?;
    let deleted = cx.call_as(&[&root_eq, "delete", "--force", &id], &raw)?;
    deleted.expect_ok("delete --force with --root=DIR to succeed")
}

fn calls_work_with_an_empty_environment(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["wait-signal"]);
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.created.push(id.clone());
    let bare =
        How { no_root_flag: false, env: Some(vec![("XDG_RUNTIME_DIR".into(), String::new())]) };
    let bundle_arg = cx.bundle_path(bundle).display().to_string();
    let inv = cx.call_as(&["create", "--bundle", &bundle_arg, &id], &bare)?;
    inv.expect_ok("create with an empty environment to succeed")?;
    let pid = cx.state(&id)?.pid;
    cx.pids.push(pid);
    cx.call_as(&["start", &id], &bare)?.expect_ok("start with an empty environment to succeed")?;
    cx.call_as(&["kill", &id, "9"], &bare)?
        .expect_ok("kill with an empty environment to succeed")?;
    cx.wait_exit(pid)?;
    cx.call_as(&["delete", &id], &bare)?.expect_ok("delete with an empty environment to succeed")
}

/// delete --force, then the container must be gone: exit 0, `state`
/// fails, its process exits.
fn force_delete_leaves_nothing(cx: &Ctx, id: &str, pid: i32, status: &str) -> Checked {
    let inv = cx.call(&["delete", "--force", id])?;
    inv.expect_ok(&format!("delete --force of a {status} container to succeed"))?;
    let state = cx.call(&["state", id])?;
    expect(
        !state.ok(),
        format!("no state for the deleted ({status}) container"),
        format!("state: {}", state.stdout.trim()),
    )?;
    cx.wait_exit(pid)
        .map_err(|v| v.seen_also(&format!("after delete --force of a {status} container")))?;
    Ok(())
}

fn delete_force_removes_every_state(cx: &mut Ctx) -> Checked {
    let (id, pid) = created(cx, &["wait-signal"])?;
    force_delete_leaves_nothing(cx, &id, pid, "created")?;

    let (id, pid) = created(cx, &["report", "wait-signal"])?;
    cx.start_and_await_report(&id)?;
    force_delete_leaves_nothing(cx, &id, pid, "running")?;

    let (id, pid) = created(cx, &["exit", "0"])?;
    cx.start_ok(&id)?;
    cx.wait_exit(pid)?;
    cx.wait_for_status(&id, "stopped")?;
    force_delete_leaves_nothing(cx, &id, pid, "stopped")?;

    let (id, pid) = created(cx, &["report", "wait-signal"])?;
    cx.start_and_await_report(&id)?;
    let paused = cx.call(&["pause", &id])?;
    if !paused.ok() {
        return Err(Verdict::Skip(format!(
            "created, running and stopped passed; pause does not work here, so the paused state is untested: {}",
            paused.describe()
        )));
    }
    force_delete_leaves_nothing(cx, &id, pid, "paused")
}

/// The signals the probe (running `wait-signal`) printed.
fn signals_seen(path: &Path) -> Vec<i32> {
    litmus_probe::parse_output(&std::fs::read_to_string(path).unwrap_or_default())
        .into_iter()
        .filter_map(|l| match l {
            Ok(ProbeLine::Signal { signal }) => Some(signal),
            _ => None,
        })
        .collect()
}

fn kill_takes_numeric_signals_and_all(cx: &mut Ctx) -> Checked {
    // init outlives the first two signals: were it to exit on the second,
    // the kernel would kill the exec'd process before it could report.
    let (id, pid) = created(cx, &["report", "wait-signal", "wait-signal", "wait-signal"])?;
    cx.start_ok(&id)?;
    let init_out = cx.stdout_path(&id);
    // Signals are blocked once the report is out (start returns when the
    // program runs, not when it is ready for them).
    wait_for_report(&init_out, "the probe's report after start")?;
    cx.call(&["kill", &id, "10"])?.expect_ok("kill ID 10 to succeed")?;
    crate::deadline::poll(Duration::from_secs(10), Duration::from_millis(5), || {
        signals_seen(&init_out).contains(&libc::SIGUSR1).then_some(())
    })
    .map_err(|e| fail("the container to receive signal 10 (SIGUSR1)", e.to_string()))?;

    // A second process, then kill --all: both get the signal.
    let (exec_pid, exec_out) = exec_detached(cx, &id, "exec", &["report", "wait-signal"])?;
    cx.call(&["kill", "--all", &id, "15"])?.expect_ok("kill --all ID 15 to succeed")?;
    crate::deadline::poll(Duration::from_secs(10), Duration::from_millis(5), || {
        (signals_seen(&init_out).contains(&libc::SIGTERM)
            && signals_seen(&exec_out).contains(&libc::SIGTERM))
        .then_some(())
    })
    .map_err(|e| {
        fail(
            "kill --all: init and the exec'd process both receive signal 15",
            format!(
                "init saw {:?}, the exec'd process {:?} ({e})",
                signals_seen(&init_out),
                signals_seen(&exec_out)
            ),
        )
    })?;
    // Reaped first: an exiting pid-namespace init waits until every
    // process of its namespace has been reaped by its parent (us).
    cx.wait_exit(exec_pid)?;
    cx.call(&["kill", &id, "9"])?.expect_ok("kill ID 9 to succeed")?;
    cx.wait_exit(pid)?;
    Ok(())
}

fn ps_lists_host_pids_as_json(cx: &mut Ctx) -> Checked {
    let (id, pid) = created(cx, &["wait-signal"])?;
    cx.start_ok(&id)?;
    let inv = cx.call(&["ps", "--format", "json", &id])?;
    inv.expect_ok("ps --format json to succeed")?;
    let pids: Vec<i32> = serde_json::from_str(inv.stdout.trim()).map_err(|e| {
        fail("a JSON array of host pids on stdout", format!("{:?}: {e}", inv.stdout))
    })?;
    expect(pids.contains(&pid), format!("the init's host pid {pid} listed"), format!("{pids:?}"))
}

fn console_socket_gets_one_fd_in_one_message(cx: &mut Ctx) -> Checked {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let socket_path = cx.work().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket_path)
        .map_err(|e| anyhow::anyhow!("binding the console socket: {e}"))?;
    listener.set_nonblocking(true)?;
    crate::rootless::give_path(&socket_path)?;
    let mut spec = cx.spec(&["wait-signal"]);
    if let Some(process) = spec.process_mut() {
        process.set_terminal(Some(true));
    }
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    let socket_arg = socket_path.display().to_string();
    let inv = cx.create_with(&id, bundle, &["--console-socket", &socket_arg])?;
    inv.expect_ok("create --console-socket to succeed")?;
    let stream = crate::deadline::poll(Duration::from_secs(10), Duration::from_millis(5), || {
        listener.accept().ok().map(|(s, _)| s)
    })
    .map_err(|e| fail("the runtime to connect to the console socket", e.to_string()))?;
    stream.set_nonblocking(true)?;
    // Room for more than go-runc accepts, so extra fds or bytes are seen.
    let mut data = vec![0u8; 8192];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 16]);
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    let msg =
        recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            .map_err(|e| fail("a message on the console socket", e.to_string()))?;
    let bytes = msg.bytes;
    let mut messages = 0;
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs()? {
        messages += 1;
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            fds.extend(received.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    expect_eq("control messages", 1, messages)?;
    expect_eq("fds passed (SCM_RIGHTS)", 1, fds.len())?;
    expect(
        bytes < 4096,
        "a data payload under 4096 bytes (go-runc reads the name into 4096)",
        format!("{bytes} bytes"),
    )?;
    expect(crate::console::is_pty_master(&fds[0]), "the fd is a pty master", "another kind of fd")
}

/// How many containers the kill-then-delete case tries: the exit after
/// SIGKILL races the caller's next call, and one try loses only sometimes.
const KILL_DELETE_TRIES: usize = 6;

fn a_created_container_killed_can_be_deleted_at_once(cx: &mut Ctx) -> Checked {
    for attempt in 1..=KILL_DELETE_TRIES {
        let (id, pid) = created(cx, &["wait-signal"])?;
        cx.call(&["kill", &id, "9"])?.expect_ok("kill ID 9 of a created container to succeed")?;
        // No wait and no reaping between the two calls: the caller (like
        // an engine's cleanup path) deletes as soon as kill returned.
        let deleted = cx.delete(&id)?;
        deleted
            .expect_ok("delete right after kill 9 returned to succeed")
            .map_err(|v| v.seen_also(&format!("container {attempt} of {KILL_DELETE_TRIES}")))?;
        cx.expect_no_state(&id, "no state after delete")?;
        cx.wait_exit(pid)?;
    }
    Ok(())
}

fn the_seccomp_agent_gets_the_listener_during_create(cx: &mut Ctx) -> Checked {
    let agent = Agent::listen(cx)?;
    let mut spec = agent.notified_getpgid(cx, None);
    // The filter loaded last (after the identity change), as with most
    // engine configs: the listener must still reach the agent at create.
    if let Some(process) = spec.process_mut() {
        process.set_no_new_privileges(Some(true));
    }
    let id = cx.new_container(&spec)?;
    let pid = cx.state(&id)?.pid;
    // The agent waits for the listener before it calls start.
    let (_message, fds) =
        agent.receive().map_err(|v| v.seen_also("accepting after create, before start"))?;
    expect_eq("one fd passed (SCM_RIGHTS)", 1, fds.len())?;
    for fd in fds {
        let _ = nix::unistd::close(fd);
    }
    cx.start_ok(&id)?;
    cx.wait_exit(pid)?;
    Ok(())
}

/// `exec ID /litmus-probe report` (no --process): the process gets the
/// config's env and cwd, and an `--env` on top (youki issue #3428: its
/// exec'd processes did not inherit config.json's env).
fn exec_without_a_process_file_takes_the_containers_env_and_cwd(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report", "wait-signal"]);
    if let Some(process) = spec.process_mut() {
        let mut env = process.env().clone().unwrap_or_default();
        env.push("LITMUS_CONFIG_ENV=from-config".into());
        process.set_env(Some(env));
        process.set_cwd("/tmp".into());
    }
    let id = cx.new_container(&spec)?;
    cx.start_and_await_report(&id)?;
    let out = cx.work().join("exec-defaults.out");
    let inv = cx.runtime.call_with_stdout(
        &["exec", "--env", "LITMUS_EXEC_ENV=from-flag", &id, "/litmus-probe", "report"],
        &out,
        cx.work(),
    )?;
    inv.expect_ok("exec ID CMD to succeed")?;
    let text = std::fs::read_to_string(&out)?;
    let report = litmus_probe::parse_output(&text)
        .into_iter()
        .find_map(|l| match l {
            Ok(ProbeLine::Report(r)) => Some(r),
            _ => None,
        })
        .ok_or_else(|| fail("the exec'd probe's report", text.clone()))?;
    expect_eq(
        "$LITMUS_CONFIG_ENV in the exec'd process",
        Some("from-config"),
        report.env_var("LITMUS_CONFIG_ENV"),
    )?;
    expect_eq("$LITMUS_EXEC_ENV from --env", Some("from-flag"), report.env_var("LITMUS_EXEC_ENV"))?;
    expect_eq("the exec'd process's cwd (process.cwd)", "/tmp", report.cwd.as_str())
}

fn container_hooks_without_env_get_the_process_env(cx: &mut Ctx) -> Checked {
    // startContainer runs in the container: its file lands in the rootfs.
    let hook = HookBuilder::default()
        .path("/bin/sh")
        .args(vec![
            "sh".to_string(),
            "-c".to_string(),
            "cat >/dev/null; echo \"$LITMUS_HOOK_ENV\" > /litmus-hook-env".to_string(),
        ])
        .build()?;
    let hooks = HooksBuilder::default().start_container(vec![hook]).build()?;
    let mut spec = cx.spec(&["exit", "0"]);
    if let Some(process) = spec.process_mut() {
        let mut env = process.env().clone().unwrap_or_default();
        env.push("LITMUS_HOOK_ENV=from-process-env".into());
        process.set_env(Some(env));
    }
    spec.set_hooks(Some(hooks));
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.create_ok(&id, bundle)?;
    let pid = cx.state(&id)?.pid;
    let started = cx.start(&id)?;
    started.expect_ok("start with a startContainer hook to succeed")?;
    cx.wait_exit(pid)?;
    let written = cx.bundle_ref(bundle).rootfs().join("litmus-hook-env");
    expect_eq(
        "LITMUS_HOOK_ENV as the startContainer hook saw it",
        "from-process-env",
        std::fs::read_to_string(&written).unwrap_or_default().trim(),
    )
}

/// An engine that is the container's subreaper may reap it late; until
/// then the exited process is a zombie. It has exited, so the container is
/// stopped (runtime.md: "stopped: the container process has exited").
fn an_exited_process_not_yet_reaped_is_stopped(cx: &mut Ctx) -> Checked {
    let (id, pid) = created(cx, &["exit", "0"])?;
    cx.start_ok(&id)?;
    // We are its subreaper and do not reap it before the state is stopped:
    // for a runtime whose init is our child, it is a zombie meanwhile.
    cx.wait_for_status(&id, "stopped")?;
    cx.wait_exit(pid)?;
    Ok(())
}
