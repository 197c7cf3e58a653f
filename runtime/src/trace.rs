//! `LITMUS_RUNTIME_TRACE=FILE`: a timeline of one command, phase by phase,
//! across the processes it forks (runtime, intermediate, container init).
//!
//! Each phase is one JSON object on its own line, appended when the phase
//! ends:
//!
//! ```json
//! {"process":"init","phase":"rootfs.mounts","start_ns":81234,"end_ns":93100,"pid":1}
//! ```
//!
//! Times are CLOCK_MONOTONIC in nanoseconds, the clock every process on the
//! host shares (and Rust's `Instant`), so a caller that reads it before the
//! spawn and after the wait places the runtime's own phases on its own
//! timeline (`cargo xtask bench --profile` does). A container given a time
//! namespace with a monotonic offset shifts its init's times by that offset.
//!
//! Hand-written rather than a `tracing` layer: the lines must come out of
//! three processes that fork without exec, through one `O_APPEND` fd (each
//! line is one write(2), whole, whatever the order), and cost nothing but an
//! atomic load when the variable is unset.

use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

/// The environment variable naming the trace file.
pub const VARIABLE: &str = "LITMUS_RUNTIME_TRACE";

/// The trace file, or -1 when tracing is off.
static FD: AtomicI32 = AtomicI32::new(-1);
/// Which process this is: an index into [`PROCESSES`].
static PROCESS: AtomicU8 = AtomicU8::new(0);

/// The processes a trace line can come from.
pub const PROCESSES: [&str; 3] = ["runtime", "intermediate", "init"];

/// Opens the trace file named by [`VARIABLE`], if set. The fd is
/// close-on-exec: the container's program never sees it. A file that
/// cannot be opened is reported and tracing stays off; the command runs.
pub fn init() {
    let Some(path) = std::env::var_os(VARIABLE).filter(|p| !p.is_empty()) else {
        return;
    };
    use std::os::fd::IntoRawFd;
    match std::fs::OpenOptions::new().create(true).append(true).open(&path) {
        // std opens with O_CLOEXEC.
        Ok(file) => FD.store(file.into_raw_fd(), Ordering::Relaxed),
        Err(e) => eprintln!("litmus-runtime: {VARIABLE}={}: {e}", path.to_string_lossy()),
    }
}

/// Names the process the following lines come from (after a fork).
pub fn set_process(name: &'static str) {
    let index = PROCESSES.iter().position(|p| *p == name).unwrap_or(0);
    PROCESS.store(index as u8, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    FD.load(Ordering::Relaxed) >= 0
}

/// CLOCK_MONOTONIC now, in nanoseconds.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given, nothing else.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A phase from now until the guard is dropped.
#[must_use = "the phase ends when the guard is dropped"]
pub struct Span {
    phase: &'static str,
    start_ns: u64,
}

pub fn span(phase: &'static str) -> Option<Span> {
    enabled().then(|| Span { phase, start_ns: now_ns() })
}

impl Drop for Span {
    fn drop(&mut self) {
        record(self.phase, self.start_ns, now_ns());
    }
}

/// One phase that ran from `start_ns` to `end_ns`.
pub fn record(phase: &str, start_ns: u64, end_ns: u64) {
    let fd = FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    let line = line(phase, start_ns, end_ns);
    // One write(2) on an O_APPEND fd: the line lands whole, after every
    // line written before it by any process. A failed write is dropped:
    // a trace never changes what the command does.
    // SAFETY: writes line's bytes to an fd this module opened.
    let _ = unsafe { libc::write(fd, line.as_ptr().cast(), line.len()) };
}

fn line(phase: &str, start_ns: u64, end_ns: u64) -> String {
    let process = PROCESSES[PROCESS.load(Ordering::Relaxed) as usize % PROCESSES.len()];
    let mut line = serde_json::json!({
        "process": process,
        "phase": phase,
        "start_ns": start_ns,
        "end_ns": end_ns,
        "pid": std::process::id(),
    })
    .to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object_naming_process_and_phase() {
        set_process("init");
        let text = line("rootfs.mounts", 10, 25);
        set_process("runtime");
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1, "{text}");
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["process"], "init");
        assert_eq!(doc["phase"], "rootfs.mounts");
        assert_eq!((doc["start_ns"].as_u64(), doc["end_ns"].as_u64()), (Some(10), Some(25)));
    }

    #[test]
    fn the_clock_moves_forward() {
        let a = now_ns();
        let b = now_ns();
        assert!(a > 0 && b >= a);
    }
}
