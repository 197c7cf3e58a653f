//! Driving a runtime through its command line only: the suite never links a
//! runtime. Every call has a deadline, and its output goes to files so a
//! container that inherits stdout cannot stall us.

use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long one runtime command may take before it counts as hung.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// A runtime binary and the private `--root` of one case.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub binary: PathBuf,
    pub root: PathBuf,
    /// A network namespace the runtime runs in instead of ours (cases that
    /// give the runtime host devices to move keep them off the real host).
    pub net_namespace: Option<std::sync::Arc<OwnedFd>>,
    /// The unprivileged user every command runs as (`--rootless`).
    pub user: Option<&'static crate::rootless::User>,
}

impl Runtime {
    pub fn new(binary: &Path, root: PathBuf) -> Runtime {
        Runtime {
            binary: binary.to_path_buf(),
            root,
            net_namespace: None,
            user: crate::rootless::user(),
        }
    }
}

/// The result of one runtime command.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Invocation {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Passes if the call succeeded; fails expecting `what` otherwise.
    pub fn expect_ok(&self, what: &str) -> crate::verdict::Checked {
        crate::verdict::expect(self.ok(), what, self.describe())
    }

    /// Passes if the call failed; fails expecting `what` otherwise.
    pub fn expect_refused(&self, what: &str) -> crate::verdict::Checked {
        crate::verdict::expect(!self.ok(), what, self.describe())
    }

    /// "`runtime create c1` exited 1: <stderr>", for failure messages.
    pub fn describe(&self) -> String {
        let status = match (self.timed_out, self.code) {
            (true, _) => format!(
                "timed out (killed after {:.0}s)",
                crate::deadline::scaled(COMMAND_TIMEOUT).as_secs_f64()
            ),
            (_, Some(c)) => format!("exited {c}"),
            (_, None) => "was killed by a signal".to_string(),
        };
        let stderr = tail_chars(self.stderr.trim(), 600);
        format!(
            "`{}` {status}{}",
            self.args.join(" "),
            if stderr.is_empty() { String::new() } else { format!(": {stderr}") }
        )
    }
}

impl Runtime {
    /// Runs `args` with `--root`; the container (if one inherits our stdio)
    /// writes to `stdout_file`.
    pub fn call_with_stdout(
        &self,
        args: &[&str],
        stdout_file: &Path,
        work: &Path,
    ) -> Result<Invocation> {
        self.call_passing(args, stdout_file, work, &[])
    }

    /// [`Runtime::call_with_stdout`] with `pass[i]` open as fd 3 + i in the
    /// runtime, as an engine passes fds for `--preserve-fds`; nothing else
    /// of ours is inherited.
    pub fn call_passing(
        &self,
        args: &[&str],
        stdout_file: &Path,
        work: &Path,
        pass: &[BorrowedFd],
    ) -> Result<Invocation> {
        self.call_as(args, stdout_file, work, pass, &How::default())
    }

    /// The general form: `how` says whether `--root` is prepended and what
    /// environment the runtime gets.
    pub fn call_as(
        &self,
        args: &[&str],
        stdout_file: &Path,
        work: &Path,
        pass: &[BorrowedFd],
        how: &How,
    ) -> Result<Invocation> {
        let stderr_path = unique_file(work, "stderr");
        let stdout = std::fs::OpenOptions::new().create(true).append(true).open(stdout_file)?;
        let stderr = std::fs::File::create(&stderr_path)?;
        let mut full = if how.no_root_flag {
            Vec::new()
        } else {
            vec!["--root".to_string(), self.root.display().to_string()]
        };
        full.extend(args.iter().map(|a| a.to_string()));
        // Copied above any target number first (close-on-exec), so that
        // placing one at 3 + i never overwrites another still to be placed.
        let high =
            pass.iter().map(|fd| clone_above(*fd, PASS_ABOVE)).collect::<Result<Vec<_>>>()?;
        let high_raw: Vec<i32> = high.iter().map(|fd| fd.as_raw_fd()).collect();
        let mut command = self.command(work);
        if let Some(env) = &how.env {
            command.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
        }
        command.args(&full).stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        if let Some(user) = self.user {
            // After any env_clear above: what the user's session has.
            user.session_env(&mut command);
        }
        if let Some(namespace) = &self.net_namespace {
            let fd = namespace.as_raw_fd();
            // SAFETY: runs between fork and exec; setns is a plain syscall
            // (async-signal-safe) on an fd that outlives the spawn.
            unsafe {
                command.pre_exec(move || {
                    if libc::setns(fd, libc::CLONE_NEWNET) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        if !high_raw.is_empty() {
            // SAFETY: runs between fork and exec; dup2 is async-signal-safe
            // and the closure touches only the copied Vec of plain ints.
            unsafe {
                command.pre_exec(move || {
                    for (i, fd) in high_raw.iter().enumerate() {
                        if libc::dup2(*fd, 3 + i as i32) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        let spawned = command.spawn();
        drop(high);
        let mut child = spawned.with_context(|| format!("starting {}", self.binary.display()))?;
        let status =
            litmus_bundle::wait::exit_within(&mut child, crate::deadline::scaled(COMMAND_TIMEOUT))?;
        let (code, timed_out) = (status.and_then(|s| s.code()), status.is_none());
        let stderr = read_tail(&stderr_path, STDERR_KEPT);
        let _ = std::fs::remove_file(&stderr_path);
        let mut display = vec![self
            .binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()];
        display.extend(args.iter().map(|a| a.to_string()));
        Ok(Invocation { args: display, code, stdout: String::new(), stderr, timed_out })
    }

    /// The runtime binary as a command, run as the --rootless user (its
    /// ids; std drops root's supplementary groups) in `work` when there is
    /// one. Arguments, `--root` included, are the caller's.
    pub fn command(&self, work: &Path) -> Command {
        let mut command = Command::new(&self.binary);
        if let Some(user) = self.user {
            command.uid(user.uid).gid(user.gid).current_dir(work);
            user.session_env(&mut command);
        }
        command
    }

    /// Runs a command whose stdout we want (state, list, features).
    pub fn call(&self, args: &[&str], work: &Path) -> Result<Invocation> {
        self.call_capturing(args, work, &[])
    }

    /// [`Runtime::call`] with `pass[i]` open as fd 3 + i in the runtime.
    pub fn call_capturing(
        &self,
        args: &[&str],
        work: &Path,
        pass: &[BorrowedFd],
    ) -> Result<Invocation> {
        let out = unique_file(work, "stdout");
        let mut inv = self.call_passing(args, &out, work, pass)?;
        inv.stdout = read_head(&out, STDOUT_KEPT);
        let _ = std::fs::remove_file(&out);
        Ok(inv)
    }
}

/// How a runtime command is run, beyond its arguments (as an engine runs
/// it): the default prepends the case's `--root` and passes our
/// environment.
#[derive(Clone, Debug, Default)]
pub struct How {
    /// The arguments carry their own global flags (`--root=DIR` ...).
    pub no_root_flag: bool,
    /// Exactly this environment instead of ours.
    pub env: Option<Vec<(String, String)>>,
}

/// How much of a runtime's stderr is kept (its end): error messages are at
/// the end, and a runtime may print megabytes.
const STDERR_KEPT: usize = 64 * 1024;
/// How much of a command's stdout is kept (its start): state and features
/// documents are small, probe output a few KiB.
pub const STDOUT_KEPT: usize = 16 * 1024 * 1024;

/// The first `keep` bytes a runtime (or a container) wrote to `path`, as
/// text: invalid UTF-8 is replaced, never a reason to fail.
pub fn read_head(path: &Path, keep: usize) -> String {
    use std::io::Read;
    let mut bytes = Vec::new();
    match std::fs::File::open(path) {
        Ok(file) => match file.take(keep as u64).read_to_end(&mut bytes) {
            Ok(_) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => String::new(),
        },
        Err(_) => String::new(),
    }
}

/// The last `keep` bytes written to `path`, as text (see [`read_head`]).
pub fn read_tail(path: &Path, keep: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > keep as u64 && file.seek(SeekFrom::Start(len - keep as u64)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    match file.take(keep as u64).read_to_end(&mut bytes) {
        Ok(_) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    }
}

/// The last `n` characters of `text` (not bytes: never splits one).
pub fn tail_chars(text: &str, n: usize) -> &str {
    match text.char_indices().rev().nth(n.saturating_sub(1)) {
        Some((i, _)) if n > 0 => &text[i..],
        _ if n == 0 => "",
        _ => text,
    }
}

/// Passed fds are staged above this number before they are placed.
const PASS_ABOVE: i32 = 512;

/// A close-on-exec copy of `fd` numbered `min` or above.
fn clone_above(fd: BorrowedFd, min: i32) -> Result<OwnedFd> {
    let fd = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(min))
        .context("duplicating an fd to pass")?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new fd that nothing else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

fn unique_file(dir: &Path, prefix: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    dir.join(format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// The runtime-spec version a runtime's `features` output declares
/// (`ociVersionMax`), if it is a version at all. The output is untrusted:
/// anything else yields None.
pub fn spec_version_from_features(stdout: &str) -> Option<String> {
    let features: serde_json::Value = serde_json::from_str(stdout).ok()?;
    let version = features["ociVersionMax"].as_str()?;
    crate::catalogue::release(version).map(|_| version.to_string())
}

#[cfg(test)]
mod output_tests {
    use super::*;

    #[test]
    fn tails_never_split_a_character() {
        let text = "é".repeat(700);
        assert_eq!(tail_chars(&text, 600).chars().count(), 600);
        assert_eq!(tail_chars("abc", 600), "abc");
        assert_eq!(tail_chars("abc", 2), "bc");
        assert_eq!(tail_chars("abc", 0), "");
    }

    #[test]
    fn any_bytes_and_any_size_become_a_readable_description() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stderr");
        let mut bytes = vec![0xff, 0xfe, 0x00, b'\n'];
        bytes.extend("ü".repeat(100_000).as_bytes());
        bytes.extend(b"the real error");
        std::fs::write(&path, &bytes).unwrap();
        let stderr = read_tail(&path, STDERR_KEPT);
        assert!(stderr.len() <= STDERR_KEPT + 4 && stderr.ends_with("the real error"));
        let inv = Invocation {
            args: vec!["rt".into(), "create".into()],
            code: Some(1),
            stdout: String::new(),
            stderr,
            timed_out: false,
        };
        let text = inv.describe();
        assert!(text.starts_with("`rt create` exited 1: ") && text.ends_with("the real error"));
        let head = read_head(&path, 3);
        assert_eq!(head, "\u{fffd}\u{fffd}\u{0}");
    }
}

#[cfg(test)]
mod features_tests {
    use super::spec_version_from_features;

    #[test]
    fn reads_oci_version_max_and_refuses_garbage() {
        assert_eq!(
            spec_version_from_features(r#"{"ociVersionMax":"1.2.0"}"#).as_deref(),
            Some("1.2.0")
        );
        assert_eq!(
            spec_version_from_features(r#"{"ociVersionMax":"1.0.2-dev"}"#).as_deref(),
            Some("1.0.2-dev")
        );
        assert_eq!(spec_version_from_features(r#"{"ociVersionMax":"../x"}"#), None);
        assert_eq!(spec_version_from_features(r#"{"ociVersionMax":"1.2"}"#), None);
        // Any SemVer is a version, however large (compared as u64s).
        assert_eq!(
            spec_version_from_features(r#"{"ociVersionMax":"1.99999999999.0"}"#).as_deref(),
            Some("1.99999999999.0")
        );
        assert_eq!(spec_version_from_features("not json"), None);
    }
}
