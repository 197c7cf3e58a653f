//! litmus-probe: runs as the container process and does what its arguments
//! say, in order, printing one JSON line per observation.
//!
//!   report              everything the process sees (ids, caps, mounts...)
//!   path P              what is at path P (type, mode, device numbers, rw)
//!   sysctl KEY          the value of a sysctl (dotted name)
//!   marker P            create file P (tells the suite "I ran")
//!   tty                 what stdio is, and whether there is a controlling tty
//!   sleep SECS          sleep
//!   wait-signal         block until a catchable signal arrives, report it
//!   fork N              try to start N processes, report how many started
//!   syscall NR,A0,..    make raw syscall NR with up to six integer args
//!   grab-exe SECS       for SECS, open every other /proc/PID/exe (O_PATH)
//!   alloc MIB           allocate and touch MIB mebibytes (OOM cases)
//!   hold MIB            the same, kept until the probe exits
//!   exit N              exit with status N
//!
//! Lifecycle cases chain these ("marker /tmp/ran wait-signal exit 3") so
//! they need no shell tricks and wait on events, not sleeps.

use litmus_probe::{gather, ProbeLine};
use nix::sys::signal::{SigSet, Signal};
use std::io::Write;
use std::time::Duration;

fn emit(line: &ProbeLine) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, line);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

fn fail(action: &str, message: String) -> ! {
    emit(&ProbeLine::Error { action: action.to_string(), message });
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "wait-signal") {
        block_waited_signals();
    }
    let mut rest = args.iter();
    while let Some(action) = rest.next() {
        let mut operand = || {
            rest.next()
                .cloned()
                .unwrap_or_else(|| fail(action, format!("{action} needs an operand")))
        };
        match action.as_str() {
            "report" => emit(&ProbeLine::Report(Box::new(gather::report()))),
            "path" => emit(&ProbeLine::Path(gather::path(&operand()))),
            "sysctl" => {
                let key = operand();
                let value = gather::sysctl(&key);
                emit(&ProbeLine::Sysctl { key, value });
            }
            "marker" => {
                let path = operand();
                if let Err(e) = std::fs::write(&path, b"ran\n") {
                    fail(action, format!("writing {path}: {e}"));
                }
            }
            "sleep" => {
                let secs: f64 = parse(action, &operand());
                std::thread::sleep(Duration::from_secs_f64(secs));
            }
            "wait-signal" => emit(&ProbeLine::Signal { signal: wait_for_signal() }),
            "fork" => {
                let requested: u32 = parse(action, &operand());
                emit(&ProbeLine::Fork { requested, succeeded: fork_children(requested) });
            }
            "syscall" => emit(&raw_syscall(action, &operand())),
            "grab-exe" => emit(&ProbeLine::Exes {
                grabbed: grab_exes(Duration::from_secs_f64(parse(action, &operand()))),
            }),
            "reach" => emit(&reach(parse(action, &operand()))),
            "tty" => emit(&gather::tty()),
            "fds" => emit(&ProbeLine::Fds { fds: gather::fds() }),
            "alloc" => drop(allocate(parse(action, &operand()))),
            "hold" => std::mem::forget(allocate(parse(action, &operand()))),
            "exit" => std::process::exit(parse(action, &operand())),
            other => fail(other, format!("unknown probe action {other:?}")),
        }
    }
}

fn parse<T: std::str::FromStr>(action: &str, value: &str) -> T {
    value.parse().unwrap_or_else(|_| fail(action, format!("bad operand {value:?}")))
}

/// The signals `wait-signal` waits for.
const WAITED_SIGNALS: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGTERM,
    libc::SIGWINCH,
];

fn waited_set() -> SigSet {
    let mut set = SigSet::empty();
    for &sig in WAITED_SIGNALS {
        set.add(Signal::try_from(sig).expect("a signal number"));
    }
    set
}

/// As pid 1 of a pid namespace, the probe is sent signals that have no
/// handler only if they are blocked (the kernel drops them otherwise). So
/// when a `wait-signal` is coming, they are blocked before the first
/// action: any cue the probe gives (a report, a marker) comes after, and a
/// signal sent on that cue is queued until `sigwait` takes it.
fn block_waited_signals() {
    let _ = waited_set().thread_block();
}

fn wait_for_signal() -> i32 {
    block_waited_signals();
    match waited_set().wait() {
        Ok(sig) => sig as i32,
        Err(_) => fail("wait-signal", "sigwait failed".into()),
    }
}

fn fork_children(requested: u32) -> u32 {
    use nix::unistd::{fork, ForkResult};
    let mut children = Vec::new();
    for _ in 0..requested {
        // SAFETY: the probe is single-threaded, and the child only calls
        // pause and _exit.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                nix::unistd::pause();
                // SAFETY: _exit takes no pointers; the child must not run
                // the parent's exit handlers.
                unsafe { libc::_exit(0) };
            }
            Ok(ForkResult::Parent { child }) => children.push(child),
            Err(_) => break,
        }
    }
    let succeeded = children.len() as u32;
    for pid in children {
        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    }
    succeeded
}

fn allocate(mib: usize) -> Vec<Vec<u8>> {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for _ in 0..mib {
        // Touch every page so the memory is really charged to the cgroup.
        let block = vec![1u8; 1 << 20];
        blocks.push(block);
    }
    std::hint::black_box(blocks)
}

/// `syscall NR,A0,A1,...`: one raw syscall with integer arguments.
fn raw_syscall(action: &str, operand: &str) -> ProbeLine {
    let mut numbers = operand.split(',').map(|n| parse::<i64>(action, n));
    let nr = numbers.next().unwrap_or_else(|| fail(action, "no syscall number".into()));
    let args: Vec<u64> = numbers.map(|a| a as u64).collect();
    if args.len() > 6 {
        fail(action, format!("{} arguments (at most 6)", args.len()));
    }
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(&args);
    // SAFETY: the probe's purpose: the case chooses integer arguments for
    // a syscall whose effect on the container it wants to see. None is a
    // pointer the probe's own memory depends on (a bad one gives EFAULT).
    let ret = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    let errno = (ret == -1).then(|| std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    ProbeLine::Syscall { nr, args, ret, errno }
}

/// What a CVE-2016-9962 attacker tries on a runtime process that joined
/// the container: read its fd table, and seize it with ptrace. PTRACE_SEIZE
/// does not stop the tracee, and the probe's exit detaches it.
fn reach(pid: i32) -> ProbeLine {
    // Listing /proc/PID/fd is plain DAC (root may); following an entry
    // takes a ptrace access check, which a non-dumpable process refuses.
    let fds_error = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
        Err(e) => Some(format!("listing: {e}")),
        Ok(dir) => {
            let entries: Vec<_> = dir.flatten().map(|e| e.path()).collect();
            let followed = entries.iter().map(std::fs::read_link).find(|r| r.is_ok());
            match (followed, entries.first()) {
                (Some(_), _) => None,
                (None, Some(first)) => Some(format!(
                    "{} entries, none followed ({}: {})",
                    entries.len(),
                    first.display(),
                    std::fs::read_link(first).err().map(|e| e.to_string()).unwrap_or_default()
                )),
                (None, None) => Some("no fds".into()),
            }
        }
    };
    // SAFETY: PTRACE_SEIZE with null addr and data reads and writes no
    // memory of ours.
    let seized = unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    let ptrace_error = (seized != 0).then(|| std::io::Error::last_os_error().to_string());
    ProbeLine::Reach { pid, fds_error, ptrace_error }
}

/// What a CVE-2019-5736 attacker does first: get a handle on the binary of
/// any other process that shows up (a runtime joining the container).
/// Only O_PATH handles are taken, and nothing is ever written.
fn grab_exes(duration: Duration) -> Vec<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let me = std::process::id().to_string();
    let deadline = std::time::Instant::now() + duration;
    let mut grabbed = std::collections::BTreeSet::new();
    while std::time::Instant::now() < deadline {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            break;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == me || !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            use std::os::unix::fs::OpenOptionsExt;
            let Ok(exe) = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH)
                .open(format!("/proc/{name}/exe"))
            else {
                continue;
            };
            // The handle's own metadata (fstat on an O_PATH fd): the binary.
            if let Ok(meta) = exe.metadata() {
                grabbed.insert((meta.dev(), meta.ino()));
            }
        }
    }
    grabbed.into_iter().collect()
}
