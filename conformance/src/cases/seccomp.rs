//! config-linux.md "seccomp": what the filter does to the container's
//! syscalls, observed by the probe making raw syscalls.
//!
//! The syscalls under test are getpgid(2) and getsid(2): harmless, never
//! used by the probe or a runtime's exec path, and with integer arguments
//! that argument conditions can match. Errnos are unusual ones (EXDEV,
//! ENOTBLK) so that a filter that is missing, or applied with a
//! different errno, cannot pass by accident.

use crate::case::{expect, expect_eq, fail, Checked, Verdict};
use crate::cases::syscall_names;
use crate::ctx::{Ctx, ProbeRun};
use litmus_probe::ProbeLine;
use oci_spec::runtime::{LinuxSeccomp, Spec};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

crate::cases! {
    Seccomp: {
        notify_with_no_agent_listening_is_an_error => [LINUX_SECCOMP_NOTIFY_UNREACHABLE],
        errno_ret_on_an_action_without_errno_is_an_error => [LINUX_SECCOMP_ERRNO_UNSUPPORTED],
        seccomp_rule_returns_its_errno => [LINUX_SECCOMP_SYSCALLS, LINUX_SECCOMP_ERRNO_RET],
        seccomp_errno_defaults_to_eperm => [LINUX_SECCOMP_ERRNO_DEFAULT],
        seccomp_default_action_uses_default_errno =>
            [LINUX_SECCOMP_DEFAULT_ACTION, LINUX_SECCOMP_DEFAULT_ERRNO_RET],
        seccomp_argument_conditions_select_calls => [LINUX_SECCOMP_ARGS],
        seccomp_kill_process_kills => [LINUX_SECCOMP_SYSCALLS],
        an_allow_list_from_before_linux_5_3_runs_the_container =>
            [LINUX_SECCOMP_SYSCALLS, RUNTIME_LIFECYCLE_CREATE_ENV],
        seccomp_notify_hands_the_listener_to_the_agent => [LINUX_SECCOMP_NOTIFY],
    }
}

const EXDEV: i32 = libc::EXDEV;
const ENOTBLK: i32 = libc::ENOTBLK;

/// The probe argument making syscall `nr` with `args`.
pub(super) fn call(nr: i64, args: &[u64]) -> String {
    std::iter::once(nr.to_string())
        .chain(args.iter().map(u64::to_string))
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn with_seccomp(mut spec: Spec, profile: Value) -> Spec {
    let seccomp: LinuxSeccomp = serde_json::from_value(profile).expect("case profiles are valid");
    spec.linux_mut().as_mut().expect("fixture specs have linux").set_seccomp(Some(seccomp));
    spec
}

/// The errnos of the probe's syscalls, in order (None: it succeeded).
fn syscall_errnos(run: &ProbeRun, expected_calls: usize) -> Result<Vec<Option<i32>>, Verdict> {
    let errnos: Vec<Option<i32>> = run
        .lines
        .iter()
        .filter_map(|l| match l {
            ProbeLine::Syscall { errno, .. } => Some(*errno),
            _ => None,
        })
        .collect();
    expect(
        errnos.len() == expected_calls,
        format!("{expected_calls} syscall results from the probe"),
        format!("{} (output: {})", errnos.len(), run.raw.trim()),
    )?;
    Ok(errnos)
}

fn seccomp_rule_returns_its_errno(cx: &mut Ctx) -> Checked {
    let getpgid = call(libc::SYS_getpgid, &[0]);
    let getsid = call(libc::SYS_getsid, &[0]);
    let spec = with_seccomp(
        cx.spec(&["syscall", &getpgid, "syscall", &getsid, "report"]),
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": EXDEV}]
        }),
    );
    let run = cx.run_probe(&spec)?;
    let errnos = syscall_errnos(&run, 2)?;
    expect_eq("getpgid's errno (rule: ERRNO, errnoRet EXDEV)", Some(EXDEV), errnos[0])?;
    expect_eq("getsid's errno (no rule: allowed)", None, errnos[1])?;
    expect_eq("Seccomp mode in /proc/self/status", Some(2), run.report()?.seccomp_mode)
}

fn seccomp_errno_defaults_to_eperm(cx: &mut Ctx) -> Checked {
    let getpgid = call(libc::SYS_getpgid, &[0]);
    let spec = with_seccomp(
        cx.spec(&["syscall", &getpgid]),
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO"}]
        }),
    );
    let run = cx.run_probe(&spec)?;
    let errnos = syscall_errnos(&run, 1)?;
    expect_eq("getpgid's errno (ERRNO without errnoRet)", Some(libc::EPERM), errnos[0])
}

fn seccomp_default_action_uses_default_errno(cx: &mut Ctx) -> Checked {
    if !cfg!(target_arch = "x86_64") {
        return Err(Verdict::Skip("the allow-list of this case is x86_64's syscall table".into()));
    }
    // Everything but getpgid is allowed, so the container starts and only
    // getpgid meets the default action.
    let allowed: Vec<&str> =
        syscall_names::X86_64.iter().copied().filter(|name| *name != "getpgid").collect();
    let getpgid = call(libc::SYS_getpgid, &[0]);
    let getsid = call(libc::SYS_getsid, &[0]);
    let spec = with_seccomp(
        cx.spec(&["syscall", &getpgid, "syscall", &getsid]),
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": ENOTBLK,
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]
        }),
    );
    let run = cx.run_probe(&spec)?;
    let errnos = syscall_errnos(&run, 2)?;
    expect_eq(
        "getpgid's errno (default action, defaultErrnoRet ENOTBLK)",
        Some(ENOTBLK),
        errnos[0],
    )?;
    expect_eq("getsid's errno (allowed by a rule)", None, errnos[1])
}

fn seccomp_argument_conditions_select_calls(cx: &mut Ctx) -> Checked {
    // getpgid: ERRNO only when arg0 == 4242. getsid: ERRNO only when
    // (arg0 & 0xff00) == 0x1200. Unmatched calls reach the kernel, which
    // answers ESRCH for these pids.
    let calls = [
        call(libc::SYS_getpgid, &[4242]),
        call(libc::SYS_getpgid, &[4243]),
        call(libc::SYS_getsid, &[0x1234]),
        call(libc::SYS_getsid, &[0x2234]),
    ];
    let mut args = Vec::new();
    for c in &calls {
        args.extend(["syscall", c.as_str()]);
    }
    let spec = with_seccomp(
        cx.spec(&args),
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": EXDEV,
                 "args": [{"index": 0, "value": 4242, "op": "SCMP_CMP_EQ"}]},
                {"names": ["getsid"], "action": "SCMP_ACT_ERRNO", "errnoRet": EXDEV,
                 "args": [{"index": 0, "value": 0xff00, "valueTwo": 0x1200, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }),
    );
    let run = cx.run_probe(&spec)?;
    let errnos = syscall_errnos(&run, 4)?;
    expect_eq("getpgid(4242) (SCMP_CMP_EQ 4242 matches)", Some(EXDEV), errnos[0])?;
    expect_eq("getpgid(4243) (no match: the kernel's ESRCH)", Some(libc::ESRCH), errnos[1])?;
    expect_eq("getsid(0x1234) (MASKED_EQ 0xff00/0x1200 matches)", Some(EXDEV), errnos[2])?;
    expect_eq("getsid(0x2234) (no match: the kernel's ESRCH)", Some(libc::ESRCH), errnos[3])
}

fn seccomp_kill_process_kills(cx: &mut Ctx) -> Checked {
    let getpgid = call(libc::SYS_getpgid, &[0]);
    let spec = with_seccomp(
        cx.spec(&["syscall", &getpgid, "exit", "0"]),
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_KILL_PROCESS"}]
        }),
    );
    let run = cx.run_probe(&spec)?;
    expect(
        run.lines.is_empty(),
        "no result from getpgid (the process is killed in the call)",
        run.raw.trim().to_string(),
    )?;
    if let Some(code) = run.exit_code {
        expect_eq("exit status (128 + SIGSYS)", 128 + libc::SIGSYS, code)?;
    }
    Ok(())
}

fn seccomp_notify_hands_the_listener_to_the_agent(cx: &mut Ctx) -> Checked {
    let agent = Agent::listen(cx)?;
    let spec = agent.notified_getpgid(cx, Some("litmus-agent-metadata"));
    let id = cx.new_container(&spec)?;
    let pid = cx.state(&id)?.pid;
    // The runtime may connect during create or start; start must not wait
    // for the agent, so it is called before accepting.
    cx.start_ok(&id)?;
    let (message, fds) = agent.receive()?;
    let doc: Value = serde_json::from_slice(&message)
        .map_err(|e| fail("a JSON container process state", format!("{e}: {message:?}")))?;
    expect_eq("fds in the message", json!(["seccompFd"]), doc["fds"].clone())?;
    expect_eq("metadata", json!("litmus-agent-metadata"), doc["metadata"].clone())?;
    expect_eq("state.id", json!(id), doc["state"]["id"].clone())?;
    expect_eq("one fd passed (SCM_RIGHTS)", 1, fds.len())?;
    let target = std::fs::read_link(format!("/proc/self/fd/{}", fds[0])).unwrap_or_default();
    expect(
        target.to_string_lossy().contains("seccomp"),
        "the passed fd is a seccomp listener (anon_inode:seccomp notify)",
        target.display().to_string(),
    )?;
    // Closing the listener answers pending and future notifications with
    // ENOSYS, which lets the container finish.
    for fd in fds {
        let _ = nix::unistd::close(fd);
    }
    cx.wait_exit(pid)?;
    Ok(())
}

/// A seccomp agent: a socket at the profile's listenerPath, to which the
/// runtime must send the container's listener fd.
pub(super) struct Agent {
    socket: std::os::unix::net::UnixListener,
    path: std::path::PathBuf,
}

impl Agent {
    pub fn listen(cx: &Ctx) -> Result<Agent, Verdict> {
        let path = cx.work().join("agent.sock");
        let socket = std::os::unix::net::UnixListener::bind(&path)
            .map_err(|e| anyhow::anyhow!("binding the agent socket: {e}"))?;
        socket.set_nonblocking(true)?;
        crate::rootless::give_path(&path)?;
        Ok(Agent { socket, path })
    }

    /// A probe calling getpgid under a filter that notifies this agent of
    /// the call (and allows every other).
    pub fn notified_getpgid(&self, cx: &Ctx, metadata: Option<&str>) -> Spec {
        let getpgid = call(libc::SYS_getpgid, &[0]);
        let mut profile = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": self.path,
            "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_NOTIFY"}]
        });
        if let Some(metadata) = metadata {
            profile["listenerMetadata"] = json!(metadata);
        }
        with_seccomp(cx.spec(&["syscall", &getpgid]), profile)
    }

    /// Accepts one connection and reads its message and the fds passed
    /// with it.
    pub fn receive(&self) -> Result<(Vec<u8>, Vec<std::os::fd::RawFd>), Verdict> {
        let agent = &self.socket;
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::AsRawFd;
        let deadline = Instant::now() + crate::deadline::scaled(Duration::from_secs(10));
        let stream = loop {
            match agent.accept() {
                Ok((stream, _)) => break stream,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => {
                    return Err(fail(
                        "the runtime to connect to listenerPath",
                        format!("no connection ({e})"),
                    ))
                }
            }
        };
        stream.set_read_timeout(Some(crate::deadline::scaled(Duration::from_secs(10))))?;
        let mut buffer = vec![0u8; 64 * 1024];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 8]);
        let mut iov = [std::io::IoSliceMut::new(&mut buffer)];
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| fail("a message on the agent socket", e.to_string()))?;
        let mut fds = Vec::new();
        for cmsg in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(received) = cmsg {
                fds.extend(received);
            }
        }
        let len = msg.bytes;
        Ok((buffer[..len].to_vec(), fds))
    }
}

/// The first syscall Linux 5.3 added; close_range (5.9), openat2 (5.6)
/// and faccessat2 (5.8) come after it in the table.
const FIRST_SYSCALL_OF_5_3: &str = "clone3";

/// Engines shipped allow-lists for years (Docker's and containerd's
/// defaults: `defaultAction: SCMP_ACT_ERRNO` and the syscalls known when
/// they were written). With noNewPrivileges false the runtime loads the
/// filter before it changes identity, so every syscall it makes after
/// that goes through the user's profile: one it cannot do without
/// (close_range, say) and the container never starts, though the config
/// is valid. Here the allow-list is every x86_64 syscall before Linux
/// 5.3, once with noNewPrivileges false and once true; the container must
/// run and the filter be in force (close_range gets the default errno).
fn an_allow_list_from_before_linux_5_3_runs_the_container(cx: &mut Ctx) -> Checked {
    if !cfg!(target_arch = "x86_64") {
        return Err(Verdict::Skip("the allow-list is x86_64's syscall table".into()));
    }
    let table = syscall_names::X86_64;
    let end = table
        .iter()
        .position(|name| *name == FIRST_SYSCALL_OF_5_3)
        .expect("clone3 is in the x86_64 table");
    let allowed = &table[..end];
    let close_range = call(libc::SYS_close_range, &[1000, 1001, 0]);
    for no_new_privileges in [false, true] {
        let mut spec = with_seccomp(
            cx.spec(&["syscall", &close_range, "report"]),
            json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": ENOTBLK,
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]
            }),
        );
        spec.process_mut()
            .as_mut()
            .expect("fixture specs have a process")
            .set_no_new_privileges(Some(no_new_privileges));
        let run = cx
            .run_probe(&spec)
            .map_err(|v| v.seen_also(&format!("noNewPrivileges {no_new_privileges}")))?;
        let errnos = syscall_errnos(&run, 1)?;
        // runc answers ENOSYS for syscalls newer than every syscall a
        // profile names, so that libc falls back: the filter is in force
        // either way, which is what this case is about (the default errno
        // itself is seccomp_default_action_uses_default_errno's).
        expect(
            matches!(errnos[0], Some(ENOTBLK) | Some(libc::ENOSYS)),
            format!("close_range refused by the profile (defaultErrnoRet ENOTBLK, or ENOSYS for a syscall newer than the profile; noNewPrivileges {no_new_privileges})"),
            format!("close_range's errno: {:?}", errnos[0]),
        )?;
    }
    Ok(())
}

/// listenerPath where no agent listens: sending the listener fails, which
/// is an error (at create, or at start for a runtime that sends then), and
/// the program does not run.
fn notify_with_no_agent_listening_is_an_error(cx: &mut Ctx) -> Checked {
    let getpgid = call(libc::SYS_getpgid, &[0]);
    let spec = with_seccomp(
        cx.spec(&["marker", "/ran", "syscall", &getpgid]),
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": cx.work().join("nobody-listens.sock"),
            "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    );
    cx.refused_at_create_or_start(&spec, "a seccomp listener no agent can receive")
}

/// errnoRet with SCMP_ACT_ALLOW, and defaultErrnoRet with a default action
/// that returns no errno: each is an error.
fn errno_ret_on_an_action_without_errno_is_an_error(cx: &mut Ctx) -> Checked {
    let profiles = [
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_ALLOW", "errnoRet": 5}]
        }),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 5}),
    ];
    for profile in profiles {
        let spec = with_seccomp(cx.spec(&["marker", "/ran", "exit", "0"]), profile.clone());
        cx.refused_at_create_or_start(&spec, &format!("the profile {profile}"))?;
    }
    Ok(())
}
