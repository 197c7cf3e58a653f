//! Running lifecycle hooks: the container state on stdin, `timeout` honoured.

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
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

/// Runs every hook of a phase in order, stopping at the first failure.
pub fn run_all(hooks: &[Hook], phase: Phase, state_json: &str) -> Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        run(hook, state_json)
            .with_context(|| format!("{phase} hook {i} ({})", hook.path().display()))?;
    }
    Ok(())
}

fn run(hook: &Hook, state_json: &str) -> Result<()> {
    let args = hook.args().clone().unwrap_or_default();
    let mut command = Command::new(hook.path());
    if let Some((argv0, rest)) = args.split_first() {
        command.arg0(argv0).args(rest);
    }
    command
        .env_clear()
        .envs(
            hook.env()
                .iter()
                .flatten()
                .filter_map(|kv| kv.split_once('=')),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().context("starting")?;
    // A hook that does not read stdin must not make us fail: ignore EPIPE.
    if let Some(mut stdin) = child.stdin.take() {
        let without_pid;
        let state_json = if crate::fault::active("hook-state-without-pid") {
            without_pid = state_json.replace("\"pid\":", "\"pid-gone\":");
            &without_pid
        } else {
            state_json
        };
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = hook
        .timeout()
        .map(|secs| Instant::now() + Duration::from_secs(secs.max(1) as u64));
    loop {
        if let Some(status) = child.try_wait()? {
            if status.success() {
                return Ok(());
            }
            let mut stderr = String::new();
            if let Some(mut err) = child.stderr.take() {
                use std::io::Read;
                let _ = err.read_to_string(&mut stderr);
            }
            bail!("exited with {status}: {}", stderr.trim());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(anyhow!(
                "timed out after {}s",
                hook.timeout().unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
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
        assert_eq!(
            std::fs::read_to_string(out.path()).unwrap(),
            r#"{"id":"x"}"#
        );
    }

    #[test]
    fn a_failing_hook_is_an_error_with_its_stderr() {
        let err = run_all(&[sh("echo nope >&2; exit 3", None)], Phase::Poststop, "{}").unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("poststop hook 0") && msg.contains("nope"),
            "{msg}"
        );
    }

    #[test]
    fn the_timeout_is_honoured() {
        let started = Instant::now();
        let err = run_all(&[sh("exec sleep 30", Some(1))], Phase::Prestart, "{}").unwrap_err();
        assert!(format!("{err:#}").contains("timed out"));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
