//! Driving a runtime through its command line only: the suite never links a
//! runtime. Every call has a deadline, and its output goes to files so a
//! container that inherits stdout cannot stall us.

use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one runtime command may take before it counts as hung.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// A runtime binary and the private `--root` of one case.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub binary: PathBuf,
    pub root: PathBuf,
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

    /// "`runtime create c1` exited 1: <stderr>", for failure messages.
    pub fn describe(&self) -> String {
        let status = match (self.timed_out, self.code) {
            (true, _) => "timed out".to_string(),
            (_, Some(c)) => format!("exited {c}"),
            (_, None) => "was killed by a signal".to_string(),
        };
        let stderr = self.stderr.trim();
        let stderr = if stderr.len() > 600 {
            &stderr[stderr.len() - 600..]
        } else {
            stderr
        };
        format!(
            "`{}` {status}{}",
            self.args.join(" "),
            if stderr.is_empty() {
                String::new()
            } else {
                format!(": {stderr}")
            }
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
        let stderr_path = unique_file(work, "stderr");
        let stdout = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(stdout_file)?;
        let stderr = std::fs::File::create(&stderr_path)?;
        let mut full = vec!["--root".to_string(), self.root.display().to_string()];
        full.extend(args.iter().map(|a| a.to_string()));
        // Copied above any target number first (close-on-exec), so that
        // placing one at 3 + i never overwrites another still to be placed.
        let high = pass
            .iter()
            .map(|fd| clone_above(*fd, PASS_ABOVE))
            .collect::<Result<Vec<_>>>()?;
        let high_raw: Vec<i32> = high.iter().map(|fd| fd.as_raw_fd()).collect();
        let mut command = Command::new(&self.binary);
        command
            .args(&full)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
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
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let (code, timed_out) = loop {
            if let Some(status) = child.try_wait()? {
                break (status.code(), false);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break (None, true);
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let _ = std::fs::remove_file(&stderr_path);
        let mut display = vec![self
            .binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()];
        display.extend(args.iter().map(|a| a.to_string()));
        Ok(Invocation {
            args: display,
            code,
            stdout: String::new(),
            stderr,
            timed_out,
        })
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
        inv.stdout = std::fs::read_to_string(&out).unwrap_or_default();
        let _ = std::fs::remove_file(&out);
        Ok(inv)
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
    let numeric = version.split(['-', '+']).next()?;
    let parts: Vec<&str> = numeric.split('.').collect();
    let is_version = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()));
    is_version.then(|| version.to_string())
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
        assert_eq!(
            spec_version_from_features(r#"{"ociVersionMax":"../x"}"#),
            None
        );
        assert_eq!(
            spec_version_from_features(r#"{"ociVersionMax":"1.99999999999.0"}"#),
            None
        );
        assert_eq!(spec_version_from_features("not json"), None);
    }
}
