//! config.md "hooks": when each kind runs, in which order, with what on stdin.

use crate::case::{expect, expect_eq, fail, Checked, Verdict};
use crate::ctx::{BundleRef, Ctx};
use crate::state_view::StateView;
use oci_spec::runtime::{Hook, HookBuilder, HooksBuilder};
use std::path::Path;

crate::cases! {
    Hooks: {
        hooks_run_in_lifecycle_order_with_state =>
            [CONFIG_HOOKS_PRESTART, CONFIG_HOOKS_CREATE_RUNTIME, CONFIG_HOOKS_CREATE_CONTAINER, CONFIG_HOOKS_START_CONTAINER, CONFIG_HOOKS_POSTSTART, CONFIG_HOOKS_POSTSTOP, CONFIG_HOOKS_STATE_STDIN, CONFIG_HOOKS_ORDER],
        hooks_receive_the_container_state =>
            [CONFIG_HOOKS_STATE_STDIN, RUNTIME_STATE_FIELDS, RUNTIME_STATE_BUNDLE_ABSOLUTE, RUNTIME_STATE_PID_HOST],
        failing_prestart_hook_fails_create =>
            [CONFIG_HOOKS_PRESTART_FAILURE, RUNTIME_ERRORS_NO_CHANGE],
        failing_create_runtime_hook_fails_create => [CONFIG_HOOKS_CREATE_RUNTIME_FAILURE],
        failing_create_container_hook_fails_create => [CONFIG_HOOKS_CREATE_CONTAINER_FAILURE],
        failing_start_container_hook_fails_start => [CONFIG_HOOKS_START_CONTAINER_FAILURE],
        failing_poststart_hook_is_an_error_and_stops_the_container =>
            [CONFIG_HOOKS_POSTSTART_FAILURE_ERROR],
        failing_poststart_hook_leaves_the_container_running => [CONFIG_HOOKS_POSTSTART_FAILURE],
        hook_timeout_aborts_the_hook => [CONFIG_HOOKS_TIMEOUT],
        failing_poststop_hook_does_not_fail_delete => [CONFIG_HOOKS_POSTSTOP_FAILURE],
    }
}

/// A hook that appends "<name> state|nostate" to `log`, depending on
/// whether a state document with the container's id arrived on stdin.
fn logging_hook(name: &str, log: &Path) -> Hook {
    let script = format!(
        r#"s=$(cat); case "$s" in *'"id"'*) w=state;; *) w=nostate;; esac; echo "{name} $w" >> {}"#,
        log.display()
    );
    HookBuilder::default()
        .path("/bin/sh")
        .args(vec!["sh".to_string(), "-c".to_string(), script])
        .build()
        .expect("static hook fields")
}

/// A hook that saves its stdin to `file`.
fn saving_hook(file: &Path) -> Hook {
    HookBuilder::default()
        .path("/bin/sh")
        .args(vec!["sh".to_string(), "-c".to_string(), format!("cat > {}", file.display())])
        .build()
        .expect("static hook fields")
}

fn failing_hook() -> Hook {
    HookBuilder::default()
        .path("/bin/sh")
        .args(vec!["sh".to_string(), "-c".to_string(), "cat >/dev/null; exit 7".to_string()])
        .build()
        .expect("static hook fields")
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(String::from).collect()
}

fn hooks_run_in_lifecycle_order_with_state(cx: &mut Ctx) -> Checked {
    let log = cx.work().join("hooks.log");
    // startContainer runs inside the container: its log is in the rootfs.
    let inner_log = Path::new("/litmus-hooks.log");
    let hooks = HooksBuilder::default()
        .prestart(vec![logging_hook("prestart-1", &log), logging_hook("prestart-2", &log)])
        .create_runtime(vec![logging_hook("createRuntime", &log)])
        .create_container(vec![logging_hook("createContainer", &log)])
        .start_container(vec![logging_hook("startContainer", inner_log)])
        .poststart(vec![logging_hook("poststart", &log)])
        .poststop(vec![logging_hook("poststop", &log)])
        .build()?;
    let mut spec = cx.spec(&["exit", "0"]);
    spec.set_version("1.0.2".into());
    spec.set_hooks(Some(hooks));
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.create_ok(&id, bundle)?;
    expect_eq(
        "hooks run by create",
        vec![
            "prestart-1 state",
            "prestart-2 state",
            "createRuntime state",
            "createContainer state",
        ],
        lines(&log).iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    let pid = cx.state(&id)?.pid;
    cx.start_ok(&id)?;
    expect_eq(
        "poststart ran before start returned",
        Some("poststart state".to_string()),
        lines(&log).get(4).cloned(),
    )?;
    cx.wait_exit(pid)?;
    let rootfs = cx.bundle_ref(bundle).rootfs();
    expect_eq(
        "startContainer (inside the container)",
        vec!["startContainer state".to_string()],
        lines(&rootfs.join("litmus-hooks.log")),
    )?;
    let deleted = cx.delete(&id)?;
    deleted.expect_ok("delete to succeed")?;
    expect_eq(
        "poststop ran before delete returned",
        Some("poststop state".to_string()),
        lines(&log).get(5).cloned(),
    )
}

/// Not just "something with an id": the document on each host-side hook's
/// stdin is this container's state: its id, its absolute bundle path, the
/// host pid of its process (createRuntime, poststart), an ociVersion.
fn hooks_receive_the_container_state(cx: &mut Ctx) -> Checked {
    let saved = |kind: &str| cx.work().join(format!("state-{kind}.json"));
    let (create_runtime, poststart, poststop) =
        (saved("createRuntime"), saved("poststart"), saved("poststop"));
    let hooks = HooksBuilder::default()
        .create_runtime(vec![saving_hook(&create_runtime)])
        .poststart(vec![saving_hook(&poststart)])
        .poststop(vec![saving_hook(&poststop)])
        .build()?;
    let mut spec = cx.spec(&["wait-signal"]);
    spec.set_hooks(Some(hooks));
    let bundle = cx.bundle(&spec)?;
    let bundle_path = cx.bundle_path(bundle).to_path_buf();
    let id = cx.new_id();
    cx.create_ok(&id, bundle)?;
    let pid = cx.state(&id)?.pid;
    cx.start_ok(&id)?;
    let killed = cx.kill(&id, "KILL")?;
    killed.expect_ok("kill to succeed")?;
    cx.wait_exit(pid)?;
    let deleted = cx.delete(&id)?;
    deleted.expect_ok("delete to succeed")?;
    for (kind, file, with_pid) in [
        ("createRuntime", &create_runtime, true),
        ("poststart", &poststart, true),
        ("poststop", &poststop, false),
    ] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let state = StateView::parse(&text).map_err(|e| {
            fail(format!("{kind} hook: a state document on stdin"), format!("{e:#}"))
        })?;
        expect(
            !state.oci_version.is_empty(),
            format!("{kind} hook: state.ociVersion set"),
            text.clone(),
        )?;
        expect_eq(&format!("{kind} hook: state.id"), id.as_str(), &state.id)?;
        expect_eq(
            &format!("{kind} hook: state.bundle"),
            bundle_path.display().to_string(),
            state.bundle,
        )?;
        if with_pid {
            expect_eq(&format!("{kind} hook: state.pid"), pid, state.pid)?;
        }
    }
    Ok(())
}

fn failing_prestart_hook_fails_create(cx: &mut Ctx) -> Checked {
    let hooks = HooksBuilder::default().prestart(vec![failing_hook()]).build();
    failing_hook_fails_create(cx, hooks?)
}

fn failing_create_runtime_hook_fails_create(cx: &mut Ctx) -> Checked {
    let hooks = HooksBuilder::default().create_runtime(vec![failing_hook()]).build();
    failing_hook_fails_create(cx, hooks?)
}

fn failing_create_container_hook_fails_create(cx: &mut Ctx) -> Checked {
    let hooks = HooksBuilder::default().create_container(vec![failing_hook()]).build();
    failing_hook_fails_create(cx, hooks?)
}

/// "If any [of these] hooks fail, the runtime MUST generate an error, stop
/// the container": create fails, and the program never runs.
fn failing_hook_fails_create(cx: &mut Ctx, hooks: oci_spec::runtime::Hooks) -> Checked {
    let mut spec = cx.spec(&["marker", "/ran", "exit", "0"]);
    spec.set_hooks(Some(hooks));
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.create_refused(&id, bundle, "create with a failing hook to fail")?;
    expect(!cx.program_ran(bundle), "the program not to run", "the program ran")
}

/// A failing poststop hook gets a warning at most: delete succeeds, the
/// container is gone, and the poststop hook after it still runs (youki
/// stops at the first failure, its PR #3407 notes).
fn failing_poststop_hook_does_not_fail_delete(cx: &mut Ctx) -> Checked {
    let log = cx.work().join("poststop.log");
    let hooks = HooksBuilder::default()
        .poststop(vec![failing_hook(), logging_hook("after-the-failure", &log)])
        .build()?;
    let mut spec = cx.spec(&["exit", "0"]);
    spec.set_hooks(Some(hooks));
    let id = cx.new_container(&spec)?;
    cx.start_to_exit(&id)?;
    let inv = cx.delete(&id)?;
    inv.expect_ok("delete to succeed despite the failing poststop hook")?;
    cx.expect_no_state(&id, "the container to be gone")?;
    // "the remaining hooks and lifecycle continue as if the hook had succeeded"
    expect_eq(
        "the poststop hook after the failing one to have run",
        vec!["after-the-failure state".to_string()],
        lines(&log),
    )
}

/// startContainer failing: `start` reports the error and the user's
/// program is not run.
fn failing_start_container_hook_fails_start(cx: &mut Ctx) -> Checked {
    let hooks = HooksBuilder::default().start_container(vec![failing_hook()]).build()?;
    let mut spec = cx.spec(&["marker", "/ran", "exit", "0"]);
    spec.set_hooks(Some(hooks));
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.create_ok(&id, bundle)?;
    let start = cx.start(&id)?;
    start.expect_refused("start with a failing startContainer hook to fail")?;
    expect(!cx.program_ran(bundle), "the program not to run", "the program ran")
}

/// A created container whose program leaves /ran and waits for a signal,
/// with a poststart hook that fails.
fn created_with_failing_poststart(cx: &mut Ctx) -> Result<(String, BundleRef), Verdict> {
    let hooks = HooksBuilder::default().poststart(vec![failing_hook()]).build()?;
    let mut spec = cx.spec(&["marker", "/ran", "wait-signal"]);
    spec.set_hooks(Some(hooks));
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.create_ok(&id, bundle)?;
    Ok((id, bundle))
}

/// poststart failing, since 1.3: "generate an error, stop the container,
/// and continue the lifecycle at step 12". start fails; the program (which
/// ran: poststart follows it) is stopped, and the container is either
/// destroyed already or left stopped for delete, which then removes all.
fn failing_poststart_hook_is_an_error_and_stops_the_container(cx: &mut Ctx) -> Checked {
    let (id, bundle) = created_with_failing_poststart(cx)?;
    cx.start(&id)?.expect_refused("start to fail when a poststart hook fails")?;
    cx.wait_stopped_or_gone(&id)?;
    expect(cx.program_ran(bundle), "the program to have run before poststart", "no marker")
}

/// poststart failing: "the runtime MUST log a warning, but the remaining
/// hooks and lifecycle continue": the program keeps running.
fn failing_poststart_hook_leaves_the_container_running(cx: &mut Ctx) -> Checked {
    let (id, bundle) = created_with_failing_poststart(cx)?;
    let _ = cx.start(&id)?;
    let state = cx.state(&id)?;
    expect_eq("status after a failing poststart hook", "running", state.status.as_str())?;
    expect(cx.program_ran(bundle), "the program to have run", "no marker from the program")
}

/// A prestart hook that would sleep 30 s with `timeout: 1`: create must
/// give up on it (and fail) well before the suite's own 20 s deadline.
fn hook_timeout_aborts_the_hook(cx: &mut Ctx) -> Checked {
    let sleeper = HookBuilder::default()
        .path("/bin/sh")
        .args(vec!["sh".into(), "-c".into(), "cat >/dev/null; exec sleep 30".into()])
        .timeout(1)
        .build()?;
    let hooks = HooksBuilder::default().prestart(vec![sleeper]).build()?;
    let mut spec = cx.spec(&["exit", "0"]);
    spec.set_hooks(Some(hooks));
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    let started = std::time::Instant::now();
    let inv = cx.create(&id, bundle)?;
    let took = started.elapsed();
    expect(
        !inv.ok()
            && !inv.timed_out
            && took < crate::deadline::scaled(std::time::Duration::from_secs(10)),
        "create to fail within a few seconds (hook timeout 1 s)",
        format!("{} after {took:.1?}", inv.describe()),
    )
}
