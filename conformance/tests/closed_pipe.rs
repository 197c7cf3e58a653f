//! litmus as a Unix filter: a reader that stops early ends it quietly.
//!
//! Alone in its own test binary on purpose: a test thread spawning another
//! child at the same moment would hold a copy of a pipe end until that
//! child's exec.

/// A reader that closes the pipe early (`litmus requirements | head -1`)
/// ends litmus by SIGPIPE, quietly, as any Unix filter; not with a panic.
#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    // The reader is gone before litmus starts: a pipe whose read end is
    // closed (closing ours after the spawn raced litmus's first write,
    // which fits in the pipe's buffer: exit 0 on a loaded host).
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("litmus"))
        .arg("requirements")
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}: {stderr}");
}
