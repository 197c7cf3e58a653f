//! `run`: create + start, then (unless detached) wait for the container,
//! forwarding signals to it, and return its exit status.

use super::create::create_for;
use super::{delete, delete_knowing, start_loaded};
use crate::cli::CreateArgs;
use crate::console;
use crate::fds::Inherited;
use anyhow::{Context, Result};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

/// The pid signals are forwarded to (0 until the container exists).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if let (true, Ok(sig)) = (pid > 0, nix::sys::signal::Signal::try_from(sig)) {
        // kill(2) is async-signal-safe; nix only converts the numbers.
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
    }
}

/// Returns the exit status `run` should exit with.
pub fn run(
    root: &Path,
    args: &CreateArgs,
    detach: bool,
    keep: bool,
    inherited: &Inherited,
) -> Result<i32> {
    // The container's init is our grandchild; as a subreaper we inherit it
    // when the intermediate process exits, and can wait for it.
    if !detach {
        nix::sys::prctl::set_child_subreaper(true).context("PR_SET_CHILD_SUBREAPER")?;
    }
    let created = create_for(root, args, inherited, !detach)?;
    let (dir, mut record, spec) = (created.dir, created.record, created.spec);
    if detach {
        start_loaded(&dir, &mut record, Some(&spec))?;
        return Ok(0);
    }
    forward_signals_to(created.pid);
    let relay = match &created.console {
        Some(socket) => Some(console::relay(console::receive_master(socket)?)?),
        None => None,
    };
    // Still locked since create: nothing came between. What create
    // wrote is not read back.
    let started = start_loaded(&dir, &mut record, Some(&spec));
    // Unlocked while the container runs: `state`, `kill` and the like
    // must not wait for it.
    drop(dir);
    if let Err(e) = started {
        let _ = delete(root, &args.id, true);
        return Err(e);
    }
    let status = {
        let _t = crate::trace::span("wait.container");
        wait_for(created.pid)?
    };
    drop(relay);
    if !keep {
        let _t = crate::trace::span("delete");
        delete_knowing(root, &args.id, true, Some(&spec))?;
    }
    Ok(status)
}

/// From now on, the signals a shell or engine sends us go to `pid`.
pub fn forward_signals_to(pid: i32) {
    FORWARD_TO.store(pid, Ordering::Relaxed);
    // SAFETY: forward reads an atomic and calls kill(2): both are
    // async-signal-safe.
    unsafe {
        crate::process::handle_signals(&crate::process::CALLER_SIGNALS, forward);
        crate::process::handle_signals(&[libc::SIGWINCH], forward);
    }
}

/// Waits for `pid`; the shell convention for the status: the exit code, or
/// 128 + the signal that killed it.
pub fn wait_for(pid: i32) -> Result<i32> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waiting for the container process"),
        }
    }
}
