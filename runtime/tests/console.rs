//! Root integration tests of process.terminal: the console socket, the
//! foreground relay of `run` and `exec --tty`, and the errors runc gives.

mod common;

use common::{shell, Env};
use oci_spec::runtime::Spec;
use std::io::Read;
use std::os::unix::net::UnixListener;

fn with_terminal(mut spec: Spec) -> Spec {
    spec.process_mut().as_mut().unwrap().set_terminal(Some(true));
    spec
}

#[test]
fn run_in_the_foreground_relays_the_containers_pty() {
    let env = Env::new();
    let bundle = env.bundle(&with_terminal(shell("tty; echo hi; exit 3")));
    let output = env.run(&bundle, "t-run-tty").output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    // "\r\n": the output went through a pty's line discipline.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("/dev/pts/") && stdout.ends_with("\r\nhi\r\n"), "{stdout:?}");
    assert!(env.state_dirs().is_empty());
}

#[test]
fn a_detached_terminal_needs_a_console_socket_and_leaves_nothing() {
    let env = Env::new();
    let bundle = env.bundle(&with_terminal(shell("true")));
    let (ok, stderr) = env.create(&bundle, "t-no-socket", &[]);
    assert!(!ok);
    assert!(stderr.contains("--console-socket"), "{stderr}");
    assert!(env.state_dirs().is_empty(), "a failed create left state");

    // The other way round: a socket without a terminal is refused too.
    let bundle = env.bundle(&shell("true"));
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("console.sock");
    let _listener = UnixListener::bind(&socket).unwrap();
    let (ok, stderr) =
        env.create(&bundle, "t-socket-no-tty", &["--console-socket".as_ref(), socket.as_os_str()]);
    assert!(!ok);
    assert!(stderr.contains("process.terminal is false"), "{stderr}");
    assert!(env.state_dirs().is_empty());
}

#[test]
fn the_master_arrives_on_the_console_socket_and_exec_tty_gets_its_own_pty() {
    let env = Env::new();
    let bundle = env.bundle(&with_terminal(shell("tty; sleep 60")));
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let (ok, stderr) =
        env.create(&bundle, "t-console", &["--console-socket".as_ref(), socket.as_os_str()]);
    assert!(ok, "create: {stderr}");
    let (stream, _) = listener.accept().unwrap();
    let master = litmus_runtime::console::receive_master(&stream).unwrap();
    env.runtime().args(["start", "t-console"]).assert().success();
    let mut terminal = std::fs::File::from(master);
    let mut seen = [0u8; 64];
    let n = terminal.read(&mut seen).unwrap();
    let init_tty = String::from_utf8_lossy(&seen[..n]).trim().to_string();
    assert!(init_tty.starts_with("/dev/pts/"), "{init_tty:?}");

    // Foreground exec --tty: a new pty from the container's devpts.
    let output = env
        .runtime()
        .args(["exec", "--tty", "t-console", "/bin/sh", "-c", "tty"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let exec_tty = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(
        exec_tty.starts_with("/dev/pts/") && exec_tty != init_tty,
        "exec got {exec_tty:?}, init has {init_tty:?}"
    );
    // Detached exec --tty has nobody to hand the master to.
    let output = env
        .runtime()
        .args(["exec", "--tty", "--detach", "t-console", "/bin/sh", "-c", "tty"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--console-socket"));
    env.runtime().args(["delete", "--force", "t-console"]).assert().success();
    assert!(env.state_dirs().is_empty());
}
