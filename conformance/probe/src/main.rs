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
//!   exit N              exit with status N
//!
//! Lifecycle cases chain these ("marker /tmp/ran wait-signal exit 3") so
//! they need no shell tricks and wait on events, not sleeps.

use litmus_probe::{gather, ProbeLine};
use std::io::Write;
use std::time::Duration;

fn emit(line: &ProbeLine) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, line);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

fn fail(action: &str, message: String) -> ! {
    emit(&ProbeLine::Error {
        action: action.to_string(),
        message,
    });
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
            "wait-signal" => emit(&ProbeLine::Signal {
                signal: wait_for_signal(),
            }),
            "fork" => {
                let requested: u32 = parse(action, &operand());
                emit(&ProbeLine::Fork {
                    requested,
                    succeeded: fork_children(requested),
                });
            }
            "syscall" => emit(&raw_syscall(action, &operand())),
            "grab-exe" => emit(&ProbeLine::Exes {
                grabbed: grab_exes(Duration::from_secs_f64(parse(action, &operand()))),
            }),
            "reach" => emit(&reach(parse(action, &operand()))),
            "tty" => emit(&gather::tty()),
            "fds" => emit(&ProbeLine::Fds { fds: gather::fds() }),
            "alloc" => allocate(parse(action, &operand())),
            "exit" => std::process::exit(parse(action, &operand())),
            other => fail(other, format!("unknown probe action {other:?}")),
        }
    }
}

fn parse<T: std::str::FromStr>(action: &str, value: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| fail(action, format!("bad operand {value:?}")))
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

fn waited_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset only write the set they are given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in WAITED_SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// As pid 1 of a pid namespace, the probe is sent signals that have no
/// handler only if they are blocked (the kernel drops them otherwise). So
/// when a `wait-signal` is coming, they are blocked before the first
/// action: any cue the probe gives (a report, a marker) comes after, and a
/// signal sent on that cue is queued until `sigwait` takes it.
fn block_waited_signals() {
    let set = waited_set();
    // SAFETY: sigprocmask reads the set; the probe is single-threaded.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

fn wait_for_signal() -> i32 {
    block_waited_signals();
    let set = waited_set();
    let mut received = 0;
    // SAFETY: sigwait reads the set and writes one int.
    if unsafe { libc::sigwait(&set, &mut received) } != 0 {
        fail("wait-signal", "sigwait failed".into());
    }
    received
}

fn fork_children(requested: u32) -> u32 {
    let mut children = Vec::new();
    for _ in 0..requested {
        match unsafe { libc::fork() } {
            0 => {
                unsafe { libc::pause() };
                unsafe { libc::_exit(0) };
            }
            pid if pid > 0 => children.push(pid),
            _ => break,
        }
    }
    let succeeded = children.len() as u32;
    for pid in children {
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    succeeded
}

fn allocate(mib: usize) {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for _ in 0..mib {
        // Touch every page so the memory is really charged to the cgroup.
        let block = vec![1u8; 1 << 20];
        blocks.push(block);
    }
    std::hint::black_box(&blocks);
}

/// `syscall NR,A0,A1,...`: one raw syscall with integer arguments.
fn raw_syscall(action: &str, operand: &str) -> ProbeLine {
    let mut numbers = operand.split(',').map(|n| parse::<i64>(action, n));
    let nr = numbers
        .next()
        .unwrap_or_else(|| fail(action, "no syscall number".into()));
    let args: Vec<u64> = numbers.map(|a| a as u64).collect();
    if args.len() > 6 {
        fail(action, format!("{} arguments (at most 6)", args.len()));
    }
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(&args);
    let ret = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    let errno = (ret == -1).then(|| std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    ProbeLine::Syscall {
        nr,
        args,
        ret,
        errno,
    }
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
                    std::fs::read_link(first)
                        .err()
                        .map(|e| e.to_string())
                        .unwrap_or_default()
                )),
                (None, None) => Some("no fds".into()),
            }
        }
    };
    let seized = unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    let ptrace_error = (seized != 0).then(|| std::io::Error::last_os_error().to_string());
    ProbeLine::Reach {
        pid,
        fds_error,
        ptrace_error,
    }
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
            let path = std::ffi::CString::new(format!("/proc/{name}/exe")).expect("no NUL");
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
            if fd < 0 {
                continue;
            }
            if let Ok(meta) = std::fs::metadata(format!("/proc/self/fd/{fd}")) {
                grabbed.insert((meta.dev(), meta.ino()));
            }
            unsafe { libc::close(fd) };
        }
    }
    grabbed.into_iter().collect()
}
