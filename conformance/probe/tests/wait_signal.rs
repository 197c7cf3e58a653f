//! The probe's cue for a signal comes only once the signal cannot be lost.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The signal arrives after the report (the cue) and before `wait-signal`
/// runs: it must be queued, not act (here, as a non-init process, its
/// default action would kill the probe; as pid 1 the kernel would drop it).
#[test]
fn a_signal_sent_on_the_report_cue_is_received() {
    let mut probe = Command::new(env!("CARGO_BIN_EXE_litmus-probe"))
        .args(["report", "sleep", "0.3", "wait-signal"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(probe.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("\"kind\":\"report\""), "{first}");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(probe.id() as i32, libc::SIGUSR1) };
    let second = lines.next().unwrap().unwrap();
    assert_eq!(second, format!(r#"{{"kind":"signal","signal":{}}}"#, libc::SIGUSR1));
    assert!(probe.wait().unwrap().success());
}
