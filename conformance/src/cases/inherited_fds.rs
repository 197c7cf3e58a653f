//! Security: the descriptors a container process inherits.
//!
//! `--preserve-fds N` hands the caller's fds 3..3+N-1 to the container. A
//! runtime that trusts N and lets its own descriptors fill the holes (its
//! state directory, its sync sockets) gives the container a handle on the
//! host: `/proc/self/fd/3/../..` then walks the host filesystem (the
//! CVE-2024-21626 class). The cases pass real files, compare what the
//! probe holds with them by device and inode, and check every way a
//! process enters a container: create + start, run, exec, a terminal.

use crate::case::{expect, fail, Checked, Verdict};
use crate::ctx::Ctx;
use litmus_bundle::PROBE_PATH_IN_ROOTFS;
use litmus_probe::{FdView, ProbeLine};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;

crate::cases! {
    Security: {
        preserved_fds_are_exactly_the_callers => [SECURITY_PRESERVED_FDS],
        no_runtime_fd_reaches_exec_or_terminal_processes =>
            [SECURITY_PRESERVED_FDS, RUNTIME_LINUX_FDS],
    }
}

/// How many files the cases pass, and the larger N they claim.
const PASSED: usize = 2;
const CLAIMED: &str = "8";

/// Files in the case's work directory, passed to the runtime as fds 3...
struct Passed {
    files: Vec<File>,
}

impl Passed {
    fn new(cx: &Ctx, count: usize) -> anyhow::Result<Passed> {
        let files = (0..count)
            .map(|i| {
                let path = cx.work().join(format!("passed-fd-{i}"));
                std::fs::write(&path, format!("passed as fd {}\n", 3 + i))?;
                Ok(File::open(&path)?)
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Passed { files })
    }

    fn none() -> Passed {
        Passed { files: Vec::new() }
    }

    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.files.iter().map(|f| f.as_fd()).collect()
    }

    fn identity(&self, fd: i32) -> Option<(u64, u64)> {
        let file = self.files.get(usize::try_from(fd - 3).ok()?)?;
        let meta = file.metadata().ok()?;
        Some((meta.dev(), meta.ino()))
    }
}

/// The probe's `fds` line among `lines`.
fn fds_line(lines: impl IntoIterator<Item = ProbeLine>, raw: &str) -> Result<Vec<FdView>, Verdict> {
    lines
        .into_iter()
        .find_map(|line| match line {
            ProbeLine::Fds { fds } => Some(fds),
            _ => None,
        })
        .ok_or_else(|| {
            fail(
                "the probe's list of its open fds",
                format!("no such line in {:?}", raw.chars().take(400).collect::<String>()),
            )
        })
}

/// Fails unless the process holds exactly fds 3..3+count-1, each the file
/// passed at that position, and nothing else above stdio.
fn expect_exactly(seen: &[FdView], passed: &Passed, how: &str) -> Checked {
    let mut wrong = Vec::new();
    for view in seen {
        match passed.identity(view.fd) {
            Some(id) if id == (view.dev, view.ino) => {}
            Some(_) => wrong.push(format!(
                "fd {} is {} instead of the file litmus passed",
                view.fd, view.target
            )),
            None => {
                wrong.push(format!("fd {} -> {} (litmus passed no such fd)", view.fd, view.target))
            }
        }
    }
    for i in 0..passed.files.len() as i32 {
        if !seen.iter().any(|v| v.fd == 3 + i) {
            wrong.push(format!("fd {} (passed) is missing", 3 + i));
        }
    }
    let expected = match passed.files.len() {
        0 => "no fd above stdio".to_string(),
        n => format!("exactly fds 3..{} as litmus passed them", 2 + n),
    };
    expect(wrong.is_empty(), format!("{how}: {expected}"), wrong.join("; "))
}

/// Creates and starts a probe `fds` container with `passed` and
/// `--preserve-fds claimed`: what it holds, or why the runtime refused.
fn create_with_fds(
    cx: &mut Ctx,
    passed: &Passed,
    claimed: &str,
) -> Result<Result<Vec<FdView>, String>, Verdict> {
    let spec = cx.spec(&["fds"]);
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    let inv = cx.create_passing(&id, bundle, &["--preserve-fds", claimed], &passed.fds())?;
    if !inv.ok() {
        return Ok(Err(inv.describe()));
    }
    cx.start_to_exit(&id)?;
    let lines = cx.output_of(&id);
    fds_line(lines, "").map(Ok)
}

/// An exec of the probe's `fds` into running container `id`.
fn exec_with_fds(
    cx: &Ctx,
    id: &str,
    passed: &Passed,
    claimed: Option<&str>,
) -> Result<Result<Vec<FdView>, String>, Verdict> {
    let mut args = vec!["exec"];
    if let Some(claimed) = claimed {
        args.extend(["--preserve-fds", claimed]);
    }
    args.extend([id, PROBE_PATH_IN_ROOTFS, "fds"]);
    let inv = cx.call_passing(&args, &passed.fds())?;
    if !inv.ok() {
        return Ok(Err(inv.describe()));
    }
    let lines = litmus_probe::parse_output(&inv.stdout).into_iter().filter_map(Result::ok);
    fds_line(lines, &inv.stdout).map(Ok)
}

/// A running container to exec into.
fn running_container(cx: &mut Ctx) -> Result<String, Verdict> {
    let spec = cx.spec(&["sleep", "60"]);
    let id = cx.new_container(&spec)?;
    cx.start_ok(&id)?;
    Ok(id)
}

fn preserved_fds_are_exactly_the_callers(cx: &mut Ctx) -> Checked {
    let passed = Passed::new(cx, PASSED)?;
    let exact = PASSED.to_string();

    // The count matches what the caller passed: the normal use.
    let seen = create_with_fds(cx, &passed, &exact)?.map_err(|refused| {
        fail(format!("create --preserve-fds {exact} with fds 3 and 4 open to succeed"), refused)
    })?;
    expect_exactly(&seen, &passed, &format!("create --preserve-fds {exact}"))?;

    // More than the caller passed: the holes must not be the runtime's.
    if let Ok(seen) = create_with_fds(cx, &passed, CLAIMED)? {
        expect_exactly(
            &seen,
            &passed,
            &format!("create --preserve-fds {CLAIMED} with only {PASSED} fds passed (refusing is fine too)"),
        )?;
    }

    // run: the same through the one-shot path.
    let spec = cx.spec(&["fds"]);
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.created.push(id.clone());
    let bundle_path = cx.bundle_path(bundle).display().to_string();
    let inv = cx.call_passing(
        &["run", "--bundle", &bundle_path, "--preserve-fds", CLAIMED, &id],
        &passed.fds(),
    )?;
    if inv.ok() {
        let lines = litmus_probe::parse_output(&inv.stdout).into_iter().filter_map(Result::ok);
        let seen = fds_line(lines, &inv.stdout)?;
        expect_exactly(
            &seen,
            &passed,
            &format!(
                "run --preserve-fds {CLAIMED} with only {PASSED} fds passed (refusing is fine too)"
            ),
        )?;
    }

    // exec: exactly, then more than passed.
    let id = running_container(cx)?;
    match exec_with_fds(cx, &id, &passed, Some(&exact))? {
        Ok(seen) => expect_exactly(&seen, &passed, &format!("exec --preserve-fds {exact}"))?,
        Err(refused) => {
            return Err(fail(
                format!("exec --preserve-fds {exact} with fds 3 and 4 open to succeed"),
                refused,
            ))
        }
    }
    if let Ok(seen) = exec_with_fds(cx, &id, &passed, Some(CLAIMED))? {
        expect_exactly(
            &seen,
            &passed,
            &format!("exec --preserve-fds {CLAIMED} with only {PASSED} fds passed (refusing is fine too)"),
        )?;
    }
    Ok(())
}

/// Without --preserve-fds, an exec'd process and a process on a terminal
/// (its pty master sent over --console-socket) hold nothing above stdio:
/// no sync socket, no state directory, no console socket.
fn no_runtime_fd_reaches_exec_or_terminal_processes(cx: &mut Ctx) -> Checked {
    let id = running_container(cx)?;
    match exec_with_fds(cx, &id, &Passed::none(), None)? {
        Ok(seen) => expect_exactly(&seen, &Passed::none(), "exec")?,
        Err(refused) => return Err(fail("exec to succeed", refused)),
    }
    let spec = cx.spec(&["fds"]);
    let run = cx.run_probe_on_terminal(&spec)?;
    let seen = fds_line(run.lines, &run.raw)?;
    expect_exactly(&seen, &Passed::none(), "a process on a terminal (--console-socket)")
}
