//! What the benchmarks share: the runtimes under test, one bundle per
//! scenario, and running a runtime command the way an engine would.
//!
//! Runtimes: litmus-runtime (the shipped build: static, `ship` profile), and runc and crun when they
//! are installed. `LITMUS_BENCH_RUNTIMES="name=/path,..."` adds any other,
//! so users bench their own. Each runtime gets a private `--root`.

pub mod profile;
pub mod rounds;

use anyhow::{bail, Context, Result};
use litmus_bundle::{default_spec, Bundle, RootfsBuilder};
use oci_spec::runtime::Spec;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long any one runtime command of a benchmark may take: far above
/// what one needs, so that only a hang reaches it.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

/// Waits for `child` (a runtime command) at most [`COMMAND_DEADLINE`].
pub fn finish(mut child: std::process::Child, what: &str) -> Result<std::process::ExitStatus> {
    litmus_bundle::wait::exit_within(&mut child, COMMAND_DEADLINE)?
        .with_context(|| format!("{what}: still running after {COMMAND_DEADLINE:?}, killed"))
}

pub struct Runtime {
    pub name: String,
    pub binary: PathBuf,
    pub root: tempfile::TempDir,
}

impl Runtime {
    fn new(name: &str, binary: PathBuf) -> Result<Runtime> {
        Ok(Runtime {
            name: name.to_string(),
            binary: same_footing(name, &binary)?,
            root: tempfile::Builder::new().prefix("litmus-bench-root").tempdir_in(state_parent())?,
        })
    }

    /// The runtime with `args`, stdio on /dev/null: a container inherits
    /// them, so a pipe here would stay open as long as the container.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root").arg(self.root.path()).args(args);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    }

    /// Runs `args`, failing with the runtime's stderr unless it exits 0
    /// within [`COMMAND_DEADLINE`]. Output goes to files, not pipes, for
    /// the reason above.
    pub fn ok(&self, args: &[&str]) -> Result<()> {
        let done = litmus_bundle::wait::output_within(&mut self.command(args), COMMAND_DEADLINE)?;
        if !done.success() {
            bail!(
                "{} {}: exited {:?}: {}",
                self.name,
                args.join(" "),
                done.code(),
                done.stderr_text().trim()
            );
        }
        Ok(())
    }

    /// Runs `args` and returns the exit code (None: killed by a signal).
    pub fn status(&self, args: &[&str]) -> Result<Option<i32>> {
        Ok(finish(self.command(args).spawn()?, &args.join(" "))?.code())
    }
}

/// Where the runtimes' private `--root` directories go: `LITMUS_BENCH_ROOTS`
/// if set (`cargo xtask bench` mounts a tmpfs there, as engines keep their
/// runtimes' state on /run, a tmpfs under systemd), else the temp dir. On a
/// disk, every state file a runtime replaces frees blocks, and an ext4
/// mounted with `discard` (cloud images are) waits for the discard there:
/// measured 3 synchronous discards per `run` here.
pub fn state_parent() -> PathBuf {
    std::env::var_os("LITMUS_BENCH_ROOTS").map(PathBuf::from).unwrap_or_else(std::env::temp_dir)
}

/// Under `cargo xtask bench`, each runtime runs from a copy of its binary
/// loaded the way an installed one is after a boot: written, synced,
/// dropped from the page cache, then read back from disk on its first exec
/// (readahead, large folios). How a file came into the page cache decides
/// how many page faults its start takes: a binary the linker had just
/// written ran 11% slower than a copy of itself in one interleaved run, and
/// crun from its package 10% faster than from a copy on a tmpfs.
fn same_footing(name: &str, binary: &Path) -> Result<PathBuf> {
    if std::env::var_os("LITMUS_BENCH_ROOTS").is_none() {
        return Ok(binary.to_path_buf());
    }
    let dir = extra_results_dir().join("bin");
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join(name);
    let _ = std::fs::remove_file(&copy);
    std::fs::copy(binary, &copy)
        .with_context(|| format!("copying {} to {}", binary.display(), copy.display()))?;
    let file = std::fs::File::open(&copy)?;
    file.sync_all()?;
    use std::os::fd::AsRawFd;
    // SAFETY: an advice on an fd we own; no memory is involved.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        bail!("posix_fadvise({}): {}", copy.display(), std::io::Error::from_raw_os_error(rc));
    }
    Ok(copy)
}

/// litmus-runtime, runc and crun as found, then the user's extra ones.
pub fn runtimes() -> Result<Vec<Runtime>> {
    let mut found = Vec::new();
    // `cargo xtask bench` passes the shipped build it made; a bare `cargo
    // bench` makes it here.
    let ours = match std::env::var_os("LITMUS_RUNTIME") {
        Some(path) => PathBuf::from(path),
        None => litmus_bundle::shipped_runtime()?,
    };
    found.push(Runtime::new("litmus-runtime", ours)?);
    for (name, candidates) in [
        ("runc", &["/usr/sbin/runc", "/usr/bin/runc"][..]),
        ("crun", &["/usr/bin/crun", "/usr/sbin/crun"][..]),
    ] {
        if let Some(path) = candidates.iter().map(PathBuf::from).find(|p| p.exists()) {
            found.push(Runtime::new(name, path)?);
        }
    }
    if let Ok(extra) = std::env::var("LITMUS_BENCH_RUNTIMES") {
        for entry in extra.split(',').filter(|e| !e.is_empty()) {
            let (name, path) =
                entry.split_once('=').context("LITMUS_BENCH_RUNTIMES entries are name=/path")?;
            found.push(Runtime::new(name, PathBuf::from(path))?);
        }
    }
    Ok(found)
}

/// The shared busybox rootfs (no probe needed beyond the fixture's).
pub fn rootfs() -> Result<RootfsBuilder> {
    RootfsBuilder::with_probe(litmus_bundle::probe_binary()?)
}

/// A bundle running `args`, with a read-only root as engines use.
pub fn bundle(
    rootfs: &RootfsBuilder,
    args: &[&str],
    edit: impl FnOnce(&mut Spec),
) -> Result<Bundle> {
    let mut spec = default_spec(&[]);
    spec.process_mut()
        .as_mut()
        .expect("fixture specs have a process")
        .set_args(Some(args.iter().map(|a| a.to_string()).collect()));
    edit(&mut spec);
    Bundle::new(rootfs, &spec)
}

/// A memory limit (and the same memory+swap limit, so the kernel cannot
/// swap instead of killing).
pub fn limit_memory(spec: &mut Spec, bytes: i64) {
    let mut memory = oci_spec::runtime::LinuxMemory::default();
    memory.set_limit(Some(bytes));
    if Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
        || Path::new("/sys/fs/cgroup/memory.swap.max").exists()
    {
        memory.set_swap(Some(bytes));
    }
    let mut resources = oci_spec::runtime::LinuxResources::default();
    resources.set_memory(Some(memory));
    spec.linux_mut().as_mut().expect("fixture specs have linux").set_resources(Some(resources));
}

/// Unique container IDs within one process.
pub fn next_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Criterion settings: quick (for CI) when LITMUS_BENCH_QUICK is set.
pub fn quick() -> bool {
    std::env::var_os("LITMUS_BENCH_QUICK").is_some()
}

/// Where the benches leave the figures that are not timings (peak RSS,
/// OOM event latency) for `cargo xtask bench`.
pub fn extra_results_dir() -> PathBuf {
    let dir = litmus_bundle::workspace_root().join("target/litmus-bench");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Peak RSS in KiB of the runtime process during one `run`: its VmHWM,
/// sampled until it exits. (wait4's ru_maxrss would be useless here: it
/// keeps the high-water mark from before exec, i.e. this bench's size.)
pub fn peak_rss_kib(runtime: &Runtime, bundle: &Bundle) -> Result<i64> {
    let id = next_id("rss");
    let bundle_path = bundle.path().display().to_string();
    let mut child = runtime.command(&["run", "--bundle", &bundle_path, &id]).spawn()?;
    let status = format!("/proc/{}/status", child.id());
    let deadline = std::time::Instant::now() + COMMAND_DEADLINE;
    let mut peak = 0;
    loop {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("run still running after {COMMAND_DEADLINE:?}, killed");
        }
        if let Ok(text) = std::fs::read_to_string(&status) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if child.try_wait()?.is_some() {
            return Ok(peak);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Runs `f` `n` times and returns the median duration.
pub fn median_of(n: usize, mut f: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    let mut samples = (0..n).map(|_| f()).collect::<Result<Vec<_>>>()?;
    samples.sort();
    Ok(samples[samples.len() / 2])
}

/// Polls `done` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> Result<()> {
    litmus_bundle::wait::poll(timeout, Duration::from_millis(1), || done().then_some(()))
        .map_err(|e| anyhow::anyhow!("timed out: {e}"))
}

/// create, attach `events`, start: the time until `events` prints the OOM.
pub fn start_to_oom_event(rt: &Runtime, bundle: &str) -> Result<Duration> {
    let id = next_id("oomev");
    rt.ok(&["create", "--bundle", bundle, &id])?;
    let mut events = rt.command(&["events", &id]);
    let mut events = events.stdout(Stdio::piped()).spawn()?;
    let lines = BufReader::new(events.stdout.take().expect("piped"));
    // A reader thread, so a runtime whose `events` never reports cannot hang us.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            if line.contains(r#""type":"oom""#) {
                let _ = tx.send(Instant::now());
                return;
            }
        }
    });
    let began = Instant::now();
    let outcome = rt.ok(&["start", &id]).and_then(|()| {
        let seen = rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| anyhow::anyhow!("no OOM event within 10s"))?;
        Ok(seen - began)
    });
    let _ = events.kill();
    let _ = events.wait();
    let _ = rt.ok(&["delete", "--force", &id]);
    outcome
}
