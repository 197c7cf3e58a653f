//! Bounded waits, one implementation for every harness (suite, runtime
//! tests, engines, benches, vm-test): nothing litmus starts may hang it.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// Waits at most `limit` for `child`; past it the child is killed and
/// reaped, and the answer is `None`.
pub fn exit_within(child: &mut Child, limit: Duration) -> std::io::Result<Option<ExitStatus>> {
    if let Some(status) = child.wait_timeout(limit)? {
        return Ok(Some(status));
    }
    let _ = child.kill();
    child.wait()?;
    Ok(None)
}

/// [`exit_within`] for tests: a child still running at `limit` is a
/// failure that says what was awaited.
pub fn expect_exit(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    match exit_within(child, limit) {
        Ok(Some(status)) => status,
        Ok(None) => panic!("{what}: still running after {limit:?}, killed"),
        Err(e) => panic!("{what}: waiting failed: {e}"),
    }
}

/// What a command run by [`output_within`] left: its status (`None`:
/// killed at the deadline) and everything it wrote.
#[derive(Debug)]
pub struct Captured {
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Captured {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `cmd` (stdin from /dev/null) for at most `limit`, its output
/// going to files rather than pipes: a container that inherits them and
/// outlives the command does not keep us waiting for EOF, and a command
/// that writes a lot never blocks on a full pipe.
pub fn output_within(cmd: &mut Command, limit: Duration) -> std::io::Result<Captured> {
    output_of_input_within(cmd, Stdio::null(), limit)
}

/// [`output_within`] with `input` as the command's stdin (a file, so
/// that nothing waits on a pipe either way).
pub fn output_of_input_within(
    cmd: &mut Command,
    input: impl Into<Stdio>,
    limit: Duration,
) -> std::io::Result<Captured> {
    let out = tempfile::tempfile()?;
    let err = tempfile::tempfile()?;
    let mut child = cmd.stdin(input).stdout(out.try_clone()?).stderr(err.try_clone()?).spawn()?;
    let status = exit_within(&mut child, limit)?;
    Ok(Captured { status, stdout: read_all(out)?, stderr: read_all(err)? })
}

fn read_all(mut file: std::fs::File) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek};
    let mut bytes = Vec::new();
    file.rewind()?;
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A condition that did not hold within its deadline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expired {
    pub waited: Duration,
}

impl std::fmt::Display for Expired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nothing after {:.1}s", self.waited.as_secs_f64())
    }
}

impl std::error::Error for Expired {}

/// Checks `check` every `every` until it gives a value, for at most
/// `limit` (it is always checked at least once, and once more at the end).
pub fn poll<T>(
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, Expired> {
    let started = Instant::now();
    let deadline = started + limit;
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(Expired { waited: started.elapsed() });
        }
        std::thread::sleep(every.min(deadline.saturating_duration_since(Instant::now())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_quick_child_gives_its_status_and_a_slow_one_is_killed_at_the_limit() {
        let mut quick = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
        let status = exit_within(&mut quick, Duration::from_secs(10)).unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(3));

        let mut slow = Command::new("sleep").arg("30").spawn().unwrap();
        let started = Instant::now();
        assert_eq!(exit_within(&mut slow, Duration::from_millis(100)).unwrap(), None);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(slow.try_wait().unwrap().is_some(), "killed and reaped");
    }

    #[test]
    #[should_panic(expected = "sleeping: still running after")]
    fn expect_exit_fails_naming_what_was_awaited() {
        let mut slow = Command::new("sleep").arg("30").spawn().unwrap();
        expect_exit(&mut slow, Duration::from_millis(50), "sleeping");
    }

    #[test]
    fn output_within_keeps_what_was_written_even_when_the_command_is_killed() {
        let done = output_within(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 4"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(
            (done.code(), done.stdout_text(), done.stderr_text()),
            (Some(4), "out\n".into(), "err\n".into())
        );

        // The grandchild keeps the output open and outlives the command:
        // no wait for EOF.
        let started = Instant::now();
        let detached = output_within(
            Command::new("sh").args(["-c", "sleep 30 & echo started"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(detached.success());
        assert!(started.elapsed() < Duration::from_secs(10));

        let hung = output_within(
            Command::new("sh").args(["-c", "echo before; exec sleep 30"]),
            Duration::from_millis(200),
        )
        .unwrap();
        assert_eq!((hung.status, hung.stdout_text()), (None, "before\n".into()));
    }

    #[test]
    fn poll_returns_the_value_or_how_long_it_waited() {
        let mut n = 0;
        let got = poll(Duration::from_secs(5), Duration::ZERO, || {
            n += 1;
            (n == 3).then_some(n)
        });
        assert_eq!(got, Ok(3));
        let expired =
            poll(Duration::from_millis(30), Duration::from_millis(5), || None::<()>).unwrap_err();
        assert!(expired.waited >= Duration::from_millis(30));
        assert!(expired.to_string().starts_with("nothing after 0."), "{expired}");
    }
}
