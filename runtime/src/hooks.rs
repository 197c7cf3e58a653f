//! Running lifecycle hooks: the container state on stdin, `timeout` honoured.

use crate::fault::Fault;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Which hook list, for messages.
#[derive(Clone, Copy, Debug)]
pub enum Phase {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Phase::Prestart => "prestart",
            Phase::CreateRuntime => "createRuntime",
            Phase::CreateContainer => "createContainer",
            Phase::StartContainer => "startContainer",
            Phase::Poststart => "poststart",
            Phase::Poststop => "poststop",
        };
        f.write_str(name)
    }
}

/// The hooks of `phase` in `hooks`, in order.
pub fn of_phase(hooks: &Option<oci_spec::runtime::Hooks>, phase: Phase) -> Vec<Hook> {
    let Some(hooks) = hooks else {
        return Vec::new();
    };
    #[allow(deprecated)]
    let list = match phase {
        Phase::Prestart => hooks.prestart(),
        Phase::CreateRuntime => hooks.create_runtime(),
        Phase::CreateContainer => hooks.create_container(),
        Phase::StartContainer => hooks.start_container(),
        Phase::Poststart => hooks.poststart(),
        Phase::Poststop => hooks.poststop(),
    };
    list.clone().unwrap_or_default()
}

/// The environment of a hook that gives no `env` (the spec leaves it
/// open). runc and crun run runtime-side hooks with the runtime's own
/// environment and container-side ones (createContainer, startContainer)
/// with the container process's, and hooks written for them rely on it.
#[derive(Clone, Copy)]
pub enum Fallback<'a> {
    Runtime,
    Process(&'a [String]),
}

/// Runs every hook of a runtime-side phase in order, stopping at the first
/// failure.
pub fn run_all(hooks: &[Hook], phase: Phase, state_json: &str) -> Result<()> {
    run_all_with(hooks, phase, state_json, Fallback::Runtime)
}

/// [`run_all`] over the config's hooks of `phase`.
pub fn run_phase(
    hooks: &Option<oci_spec::runtime::Hooks>,
    phase: Phase,
    state_json: &str,
) -> Result<()> {
    run_all(&of_phase(hooks, phase), phase, state_json)
}

/// [`run_phase`] for the phases whose failure the spec only has logged
/// (poststop; poststart before 1.3): each failure is a warning, and "the
/// remaining hooks and lifecycle continue as if the hook had succeeded".
/// Returns the failures' messages.
pub fn run_phase_warning(
    hooks: &Option<oci_spec::runtime::Hooks>,
    phase: Phase,
    state_json: &str,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for (i, hook) in of_phase(hooks, phase).iter().enumerate() {
        if let Err(e) = run(hook, state_json, Fallback::Runtime) {
            let message = format!("{phase} hook {i} ({}): {e:#}", hook.path().display());
            tracing::warn!("{message}");
            warnings.push(message);
            if Fault::PoststopStopsAtFailure.active() {
                break;
            }
        }
    }
    warnings
}

/// [`run_all`] for container-side hooks: `process_env` stands in for a
/// missing `env`.
pub fn run_all_in_container(
    hooks: &[Hook],
    phase: Phase,
    state_json: &str,
    process_env: &[String],
) -> Result<()> {
    let fallback = if Fault::HooksEmptyEnv.active() {
        Fallback::Process(&[])
    } else {
        Fallback::Process(process_env)
    };
    run_all_with(hooks, phase, state_json, fallback)
}

fn run_all_with(hooks: &[Hook], phase: Phase, state_json: &str, fallback: Fallback) -> Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        run(hook, state_json, fallback)
            .with_context(|| format!("{phase} hook {i} ({})", hook.path().display()))?;
    }
    Ok(())
}

/// How much of a hook's stderr a failure reports (the end of it).
const STDERR_TAIL: usize = 64 * 1024;

fn run(hook: &Hook, state_json: &str, fallback: Fallback) -> Result<()> {
    let args = hook.args().clone().unwrap_or_default();
    let mut command = Command::new(hook.path());
    if let Some((argv0, rest)) = args.split_first() {
        command.arg0(argv0).args(rest);
    }
    let env = match (hook.env(), fallback) {
        (Some(env), _) => Some(env.as_slice()),
        (None, Fallback::Process(env)) => Some(env),
        (None, Fallback::Runtime) => None,
    };
    if let Some(env) = env {
        command.env_clear().envs(env.iter().filter_map(|kv| kv.split_once('=')));
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group: a timeout kills what it started too.
        .process_group(0);
    let mut child = command.spawn().context("starting")?;
    let without_pid;
    let state_json = if Fault::HookStateWithoutPid.active() {
        without_pid = state_json.replace("\"pid\":", "\"pid-gone\":");
        &without_pid
    } else {
        state_json
    };
    let mut io = HookIo::new(child.stdin.take(), child.stderr.take(), state_json)?;
    // No timeout means none: the spec leaves it to the hook (runc waits
    // too). The hook's pipes are served meanwhile, so it never blocks on us.
    let deadline =
        hook.timeout().map(|secs| Instant::now() + Duration::from_secs(secs.max(1) as u64));
    loop {
        io.serve(Duration::from_millis(5));
        if let Some(status) = child.try_wait()? {
            io.serve(Duration::ZERO);
            if status.success() {
                return Ok(());
            }
            bail!("exited with {status}: {}", io.stderr_tail().trim());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            return Err(anyhow!(
                "timed out after {}s (its process group was killed): {}",
                hook.timeout().unwrap_or_default(),
                io.stderr_tail().trim()
            ));
        }
    }
}

/// The hook's stdin (the state, written as it reads) and stderr (read as
/// it writes, the last [`STDERR_TAIL`] bytes kept), without threads: init
/// runs hooks too, and stays single-threaded for its later setns/unshare.
struct HookIo<'a> {
    stdin: Option<std::process::ChildStdin>,
    input: &'a [u8],
    stderr: Option<std::process::ChildStderr>,
    tail: Vec<u8>,
}

impl<'a> HookIo<'a> {
    fn new(
        stdin: Option<std::process::ChildStdin>,
        stderr: Option<std::process::ChildStderr>,
        input: &'a str,
    ) -> Result<HookIo<'a>> {
        for fd in [stdin.as_ref().map(|s| s.as_fd()), stderr.as_ref().map(|s| s.as_fd())]
            .into_iter()
            .flatten()
        {
            let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)?;
            let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags))?;
        }
        Ok(HookIo { stdin, input: input.as_bytes(), stderr, tail: Vec::new() })
    }

    /// Waits up to `wait` for either pipe to be ready, then moves what it
    /// can without blocking.
    fn serve(&mut self, wait: Duration) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = Vec::new();
        if let Some(stdin) = &self.stdin {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLOUT));
        }
        if let Some(stderr) = &self.stderr {
            fds.push(PollFd::new(stderr.as_fd(), PollFlags::POLLIN));
        }
        if fds.is_empty() {
            std::thread::sleep(wait);
        } else {
            let ms = PollTimeout::from(wait.as_millis().min(u16::MAX as u128) as u16);
            let _ = poll(&mut fds, ms);
        }
        drop(fds);
        self.write_input();
        self.read_stderr();
    }

    fn write_input(&mut self) {
        let Some(stdin) = &mut self.stdin else {
            return;
        };
        while !self.input.is_empty() {
            match stdin.write(self.input) {
                Ok(n) => self.input = &self.input[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                // EPIPE: a hook that does not read stdin is fine.
                Err(_) => break,
            }
        }
        self.stdin = None; // all written (or refused): EOF for the hook
    }

    fn read_stderr(&mut self) {
        use std::io::Read;
        let Some(stderr) = &mut self.stderr else {
            return;
        };
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stderr.read(&mut buf) {
                Ok(0) => {
                    self.stderr = None;
                    return;
                }
                Ok(n) => {
                    self.tail.extend_from_slice(&buf[..n]);
                    if self.tail.len() > 2 * STDERR_TAIL {
                        self.tail.drain(..self.tail.len() - STDERR_TAIL);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.stderr = None;
                    return;
                }
            }
        }
    }

    fn stderr_tail(&self) -> String {
        let start = self.tail.len().saturating_sub(STDERR_TAIL);
        String::from_utf8_lossy(&self.tail[start..]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::HookBuilder;

    fn sh(script: &str, timeout: Option<i64>) -> Hook {
        let b = HookBuilder::default().path("/bin/sh").args(vec![
            "sh".to_string(),
            "-c".to_string(),
            script.to_string(),
        ]);
        match timeout {
            Some(t) => b.timeout(t).build().unwrap(),
            None => b.build().unwrap(),
        }
    }

    #[test]
    fn hooks_get_the_state_on_stdin() {
        let out = tempfile::NamedTempFile::new().unwrap();
        let hook = sh(&format!("cat > {}", out.path().display()), None);
        run_all(&[hook], Phase::Prestart, r#"{"id":"x"}"#).unwrap();
        assert_eq!(std::fs::read_to_string(out.path()).unwrap(), r#"{"id":"x"}"#);
    }

    /// What `env` a hook without one sees, per fallback.
    fn env_seen(hook_env: Option<Vec<String>>, fallback: Fallback) -> String {
        let out = tempfile::NamedTempFile::new().unwrap();
        let script = format!("echo \"$LITMUS_A|$LITMUS_B\" > {}", out.path().display());
        let mut hook = sh(&script, None);
        hook.set_env(hook_env);
        run_all_with(&[hook], Phase::StartContainer, "{}", fallback).unwrap();
        std::fs::read_to_string(out.path()).unwrap().trim().to_string()
    }

    #[test]
    fn a_hook_without_env_gets_the_fallback_and_one_with_env_only_its_own() {
        let process = ["LITMUS_A=process".to_string()];
        assert_eq!(env_seen(None, Fallback::Process(&process)), "process|");
        assert_eq!(
            env_seen(Some(vec!["LITMUS_B=own".into()]), Fallback::Process(&process)),
            "|own"
        );
        // The runtime's own environment: the test process's.
        let inherited = std::env::var("LITMUS_A").unwrap_or_default();
        assert_eq!(env_seen(None, Fallback::Runtime), format!("{inherited}|"));
    }

    #[test]
    fn a_failing_hook_is_an_error_with_its_stderr() {
        let err = run_all(&[sh("echo nope >&2; exit 3", None)], Phase::Poststop, "{}").unwrap_err();
        let dir = tempfile::tempdir().unwrap();
        let after = dir.path().join("after");
        let hooks: oci_spec::runtime::Hooks = serde_json::from_value(serde_json::json!({
            "poststop": [sh("exit 3", None), sh(&format!("touch {}", after.display()), None)]
        }))
        .unwrap();
        let warnings = run_phase_warning(&Some(hooks), Phase::Poststop, "{}");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(after.exists(), "the hook after the failing one ran");
        let msg = format!("{err:#}");
        assert!(msg.contains("poststop hook 0") && msg.contains("nope"), "{msg}");
    }

    #[test]
    fn a_chatty_failing_hook_is_drained_and_reported() {
        let started = Instant::now();
        // 200 KB on stderr is three pipe buffers: read only at exit, the
        // hook would block forever.
        let script = "i=0; while [ $i -lt 2000 ]; do echo 'line of a chatty hook, one hundred bytes long......................................'; i=$((i+1)); done >&2; echo last words >&2; exit 1";
        let err = run_all(&[sh(script, None)], Phase::CreateRuntime, "{}").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("last words"), "{}", &msg[msg.len().saturating_sub(200)..]);
        assert!(msg.len() < STDERR_TAIL + 1024, "{} bytes", msg.len());
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_hook_that_ignores_a_large_state_does_not_block() {
        let state = format!(r#"{{"id":"x","annotations":{{"a":"{}"}}}}"#, "x".repeat(300_000));
        run_all(&[sh("exit 0", None)], Phase::Prestart, &state).unwrap();
        let out = tempfile::NamedTempFile::new().unwrap();
        let hook = sh(&format!("cat > {}", out.path().display()), None);
        run_all(&[hook], Phase::Prestart, &state).unwrap();
        assert_eq!(std::fs::read_to_string(out.path()).unwrap().len(), state.len());
    }

    #[test]
    fn a_timeout_kills_the_hooks_whole_process_group() {
        let marker = tempfile::NamedTempFile::new().unwrap();
        // The background child would touch the marker after 3 s.
        let script = format!("(sleep 3; echo alive > {}) & sleep 30", marker.path().display());
        let err = run_all(&[sh(&script, Some(1))], Phase::Prestart, "{}").unwrap_err();
        assert!(format!("{err:#}").contains("timed out"), "{err:#}");
        std::thread::sleep(Duration::from_secs(4));
        assert_eq!(std::fs::read_to_string(marker.path()).unwrap(), "");
    }

    #[test]
    fn the_timeout_is_honoured() {
        let started = Instant::now();
        let err = run_all(&[sh("exec sleep 30", Some(1))], Phase::Prestart, "{}").unwrap_err();
        assert!(format!("{err:#}").contains("timed out"));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
