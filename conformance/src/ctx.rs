//! The context a case runs in: its own bundle directory, its own
//! `--root`, and helpers that drive the runtime and read the probe.

use crate::console::ConsoleSocket;
use crate::deadline;
use crate::driver::{Invocation, Runtime};
use crate::state_view::StateView;
use crate::verdict::{expect, fail, Checked, Verdict};
use anyhow::{anyhow, Context, Result};
use litmus_bundle::{default_spec, Bundle, RootfsBuilder};
use litmus_probe::{PathReport, ProbeLine, Report};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One of the case's bundles: only [`Ctx::bundle`] makes one, so it
/// always names a bundle of this case.
#[derive(Clone, Copy, Debug)]
pub struct BundleRef(usize);

/// The per-case environment.
pub struct Ctx<'a> {
    pub runtime: Runtime,
    rootfs: &'a RootfsBuilder,
    work: PathBuf,
    bundles: Vec<Bundle>,
    /// Every ID created, deleted with --force when the case ends.
    pub created: Vec<String>,
    /// Every container pid seen, checked for leaks when the case ends.
    pub pids: Vec<i32>,
    next_id: u32,
    case_name: &'static str,
}

/// What a finished probe container left behind.
pub struct ProbeRun {
    pub lines: Vec<ProbeLine>,
    pub exit_code: Option<i32>,
    pub raw: String,
    /// `state` right after create.
    pub created_state: StateView,
}

impl ProbeRun {
    pub fn report(&self) -> Result<&Report, Verdict> {
        self.lines
            .iter()
            .find_map(|l| match l {
                ProbeLine::Report(r) => Some(r.as_ref()),
                _ => None,
            })
            .ok_or_else(|| fail("the probe's report on the container's stdout", self.seen()))
    }

    pub fn path(&self, path: &str) -> Result<&PathReport, Verdict> {
        self.lines
            .iter()
            .find_map(|l| match l {
                ProbeLine::Path(p) if p.path == path => Some(p),
                _ => None,
            })
            .ok_or_else(|| fail(format!("the probe's view of {path}"), self.seen()))
    }

    /// The probe's `tty` line: (stdio targets, isatty of each, controlling).
    pub fn tty(&self) -> Result<(&[String], &[bool], bool), Verdict> {
        self.lines
            .iter()
            .find_map(|l| match l {
                ProbeLine::Tty { stdio, isatty, controlling } => {
                    Some((stdio.as_slice(), isatty.as_slice(), *controlling))
                }
                _ => None,
            })
            .ok_or_else(|| fail("the probe's view of its terminal", self.seen()))
    }

    fn seen(&self) -> String {
        if self.raw.trim().is_empty() {
            format!("no output (container exit status {:?})", self.exit_code)
        } else {
            self.raw.chars().take(800).collect()
        }
    }
}

impl<'a> Ctx<'a> {
    pub fn new(
        runtime_binary: &Path,
        rootfs: &'a RootfsBuilder,
        work: PathBuf,
        case_name: &'static str,
    ) -> Ctx<'a> {
        let root = work.join("runtime-root");
        if let Some(user) = crate::rootless::user() {
            if let Err(e) = user.give(&work) {
                eprintln!("litmus: --rootless: {e:#}");
            }
        }
        Ctx {
            runtime: Runtime::new(runtime_binary, root),
            rootfs,
            work,
            bundles: Vec::new(),
            created: Vec::new(),
            pids: Vec::new(),
            next_id: 0,
            case_name,
        }
    }

    pub fn work(&self) -> &Path {
        &self.work
    }

    /// A config running the probe with `probe_args`, with a writable root so
    /// probes can leave markers.
    pub fn spec(&self, probe_args: &[&str]) -> Spec {
        let mut spec = default_spec(probe_args);
        if let Some(root) = spec.root_mut() {
            root.set_readonly(Some(false));
        }
        spec
    }

    /// A fresh bundle (bundles live until the case ends).
    pub fn bundle(&mut self, spec: &Spec) -> Result<BundleRef> {
        let bundle = match crate::rootless::user() {
            Some(user) => {
                let mut spec = spec.clone();
                user.adapt(&mut spec);
                let bundle = Bundle::new(self.rootfs, &spec)?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(bundle.path(), std::fs::Permissions::from_mode(0o755))?;
                user.own_rootfs(&bundle.rootfs())?;
                bundle
            }
            None => Bundle::new(self.rootfs, spec)?,
        };
        self.bundles.push(bundle);
        Ok(BundleRef(self.bundles.len() - 1))
    }

    /// Replaces a bundle's config.json with `spec` (in --rootless runs,
    /// as the user's engine would send it).
    pub fn write_config(&self, bundle: BundleRef, spec: &Spec) -> Result<()> {
        let mut spec = spec.clone();
        if let Some(user) = crate::rootless::user() {
            user.adapt(&mut spec);
        }
        self.bundles[bundle.0].write_config(&spec)
    }

    /// Replaces a bundle's config.json with `bytes`; a JSON document is
    /// adapted in --rootless runs, anything else is written as it is.
    pub fn write_raw_config(&self, bundle: BundleRef, bytes: &[u8]) -> Result<()> {
        let adapted = crate::rootless::user().and_then(|user| {
            let mut config: serde_json::Value = serde_json::from_slice(bytes).ok()?;
            user.adapt_json(&mut config);
            serde_json::to_vec(&config).ok()
        });
        self.bundles[bundle.0].write_raw_config(adapted.as_deref().unwrap_or(bytes))
    }

    pub fn bundle_path(&self, bundle: BundleRef) -> &Path {
        self.bundles[bundle.0].path()
    }

    pub fn bundle_ref(&self, bundle: BundleRef) -> &Bundle {
        &self.bundles[bundle.0]
    }

    /// A container ID unique to this case.
    /// The suite's pid is part of it, so leftovers of an earlier run (a
    /// runtime that leaked a cgroup) never collide with this run's IDs.
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!(
            "litmus-{}-{}-{}",
            self.case_name.replace('_', "-"),
            std::process::id(),
            self.next_id
        )
    }

    fn stdout_file(&self, id: &str) -> PathBuf {
        self.work.join(format!("{id}.out"))
    }

    /// `create ID --bundle B`, the container's stdout going to a file.
    pub fn create(&mut self, id: &str, bundle: BundleRef) -> Result<Invocation> {
        self.create_with(id, bundle, &[])
    }

    /// `create` with extra options (`--console-socket S`, `--pid-file F`).
    pub fn create_with(
        &mut self,
        id: &str,
        bundle: BundleRef,
        options: &[&str],
    ) -> Result<Invocation> {
        self.create_passing(id, bundle, options, &[])
    }

    /// `create` with `pass[i]` open as fd 3 + i in the runtime (for
    /// `--preserve-fds`).
    pub fn create_passing(
        &mut self,
        id: &str,
        bundle: BundleRef,
        options: &[&str],
        pass: &[std::os::fd::BorrowedFd],
    ) -> Result<Invocation> {
        self.created.push(id.to_string());
        self.place_in_delegated_cgroup(id, bundle);
        let bundle_path = self.bundles[bundle.0].path().display().to_string();
        let out = self.stdout_file(id);
        let mut args = vec!["create", "--bundle", &bundle_path];
        args.extend_from_slice(options);
        args.push(id);
        let inv = self.runtime.call_passing(&args, &out, &self.work, pass)?;
        if inv.ok() {
            if let Ok(state) = self.state(id) {
                self.pids.push(state.pid);
            }
        }
        Ok(inv)
    }

    /// Under --rootless with a delegated cgroup v2 subtree: the config's
    /// cgroupsPath is container `id`'s place in it (named by the ID, so the
    /// leak check finds what the runtime leaves). A config that is not JSON
    /// is left as it is.
    fn place_in_delegated_cgroup(&self, id: &str, bundle: BundleRef) {
        let Some(path) = crate::rootless::user().and_then(|u| u.cgroups_path(id)) else {
            return;
        };
        let config = self.bundles[bundle.0].config_path();
        let Ok(mut json) = std::fs::read(&config)
            .map_err(anyhow::Error::from)
            .and_then(|b| Ok(serde_json::from_slice::<serde_json::Value>(&b)?))
        else {
            return;
        };
        if let Some(linux) = json.get_mut("linux").and_then(|l| l.as_object_mut()) {
            linux.insert("cgroupsPath".into(), path.into());
            let _ = std::fs::write(&config, json.to_string());
        }
    }

    /// A runtime command whose stdout we want, with `pass[i]` as fd 3 + i.
    pub fn call_passing(
        &self,
        args: &[&str],
        pass: &[std::os::fd::BorrowedFd],
    ) -> Result<Invocation> {
        self.runtime.call_capturing(args, &self.work, pass)
    }

    /// A runtime command run as `how` says (an engine's flags or
    /// environment); its stdout (and a container's, if one inherits it)
    /// is returned.
    pub fn call_as(&self, args: &[&str], how: &crate::driver::How) -> Result<Invocation> {
        let out = self.work.join(format!("call-{}.out", self.next_call()));
        let mut inv = self.runtime.call_as(args, &out, &self.work, &[], how)?;
        inv.stdout = crate::driver::read_head(&out, crate::driver::STDOUT_KEPT);
        Ok(inv)
    }

    fn next_call(&self) -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    /// Where container `id`'s stdout goes (its probe lines).
    pub fn stdout_path(&self, id: &str) -> PathBuf {
        self.stdout_file(id)
    }

    /// A created container: a bundle for `spec`, a fresh ID, and `create`,
    /// failing the case if the runtime refuses. Returns the ID.
    pub fn new_container(&mut self, spec: &Spec) -> Result<String, Verdict> {
        let bundle = self.bundle(spec)?;
        let id = self.new_id();
        self.create_ok(&id, bundle)?;
        Ok(id)
    }

    /// `create` that must be refused: it fails, and no container is left
    /// (`state` no longer answers for the ID). Returns the refusal.
    pub fn create_refused(
        &mut self,
        id: &str,
        bundle: BundleRef,
        expected: &str,
    ) -> Result<Invocation, Verdict> {
        let inv = self.create(id, bundle)?;
        inv.expect_refused(expected)?;
        let state = self.call(&["state", id])?;
        expect(
            !state.ok(),
            "no container after the failed create",
            format!("state still answers: {}", state.stdout.trim()),
        )?;
        Ok(inv)
    }

    /// The runtime refuses `spec` at create, or else at start; either way
    /// its program (which starts with `marker /ran`) does not run.
    pub fn refused_at_create_or_start(&mut self, spec: &Spec, what: &str) -> Checked {
        let bundle = self.bundle(spec)?;
        let id = self.new_id();
        let created = self.create(&id, bundle)?;
        if created.ok() {
            self.start(&id)?.expect_refused(&format!("create or start with {what} to fail"))?;
        }
        expect(!self.program_ran(bundle), format!("the program not to run with {what}"), "it ran")
    }

    /// create, failing the case if the runtime refuses.
    pub fn create_ok(&mut self, id: &str, bundle: BundleRef) -> Result<(), Verdict> {
        let inv = self.create(id, bundle)?;
        inv.expect_ok("create to succeed")
    }

    pub fn call(&self, args: &[&str]) -> Result<Invocation> {
        self.runtime.call(args, &self.work)
    }

    pub fn start(&self, id: &str) -> Result<Invocation> {
        self.call(&["start", id])
    }

    pub fn start_ok(&self, id: &str) -> Result<(), Verdict> {
        let inv = self.start(id)?;
        inv.expect_ok("start to succeed")
    }

    pub fn delete(&self, id: &str) -> Result<Invocation> {
        self.call(&["delete", id])
    }

    pub fn kill(&self, id: &str, signal: &str) -> Result<Invocation> {
        self.call(&["kill", id, signal])
    }

    /// `state ID`, parsed.
    pub fn state(&self, id: &str) -> Result<StateView> {
        let inv = self.call(&["state", id])?;
        if !inv.ok() {
            return Err(anyhow!("{}", inv.describe()));
        }
        StateView::parse(&inv.stdout).context("state output")
    }

    /// Polls `state` until `status` (or the deadline).
    pub fn wait_for_status(&self, id: &str, status: &str) -> Result<(), Verdict> {
        self.poll_state(id, &format!("status {status}"), |seen| seen == Some(status))
    }

    /// Waits until container `id` is stopped, or gone (a runtime that
    /// destroys a container itself, as after a failing hook).
    pub fn wait_stopped_or_gone(&self, id: &str) -> Result<(), Verdict> {
        self.poll_state(id, "status stopped, or no container", |seen| {
            seen.is_none_or(|s| s == "stopped")
        })
    }

    /// Polls `state` until `done` accepts the status (None: the runtime
    /// has no such container).
    fn poll_state(
        &self,
        id: &str,
        expected: &str,
        done: impl Fn(Option<&str>) -> bool,
    ) -> Result<(), Verdict> {
        let mut last = String::new();
        deadline::poll(WAIT, Duration::from_millis(10), || {
            let inv = match self.call(&["state", id]) {
                Ok(inv) => inv,
                Err(e) => {
                    last = format!("{e:#}");
                    return None;
                }
            };
            let status = match (inv.ok(), StateView::parse(&inv.stdout)) {
                (false, _) => None,
                (true, Ok(state)) => Some(state.status),
                (true, Err(e)) => {
                    last = format!("{e:#}");
                    return None;
                }
            };
            last = status.clone().unwrap_or_else(|| inv.describe());
            done(status.as_deref()).then_some(())
        })
        .map_err(|expired| fail(expected, format!("status {last}: {expired}")))
    }

    /// Starts the created container `id` and waits for its process to
    /// exit; returns the exit code as [`Ctx::wait_exit`] does.
    pub fn start_to_exit(&self, id: &str) -> Result<Option<i32>, Verdict> {
        let pid = self.state(id)?.pid;
        self.start_ok(id)?;
        self.wait_exit(pid)
    }

    /// Waits for the container process `pid` to exit (we are the subreaper
    /// of every container init) and returns its exit code.
    pub fn wait_exit(&self, pid: i32) -> Result<Option<i32>, Verdict> {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        let exited = deadline::poll(EXIT_WAIT, Duration::from_millis(2), || {
            match waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => Some(Some(code)),
                Ok(WaitStatus::Signaled(_, sig, _)) => Some(Some(128 + sig as i32)),
                Ok(_) => None,
                // Not our child (a runtime that keeps its own monitor
                // process): fall back to watching /proc.
                Err(_) => {
                    (!Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid)).then_some(None)
                }
            }
        });
        exited.map_err(|expired| {
            fail("the container process to exit", format!("pid {pid} still running: {expired}"))
        })
    }

    /// create + start + wait for exit + read the probe's output + delete.
    pub fn run_probe(&mut self, spec: &Spec) -> Result<ProbeRun, Verdict> {
        self.run_probe_inspecting(spec, |_| ()).map(|(run, ())| run)
    }

    /// [`Ctx::run_probe`], with `inspect` looking at the created container
    /// from the host (its cgroups, say) before it is started.
    pub fn run_probe_inspecting<T>(
        &mut self,
        spec: &Spec,
        inspect: impl FnOnce(&StateView) -> T,
    ) -> Result<(ProbeRun, T), Verdict> {
        let bundle = self.bundle(spec)?;
        let id = self.new_id();
        self.create_ok(&id, bundle)?;
        let created_state = self.state(&id)?;
        let seen = inspect(&created_state);
        self.start_ok(&id)?;
        let exit_code = self.wait_exit(created_state.pid)?;
        let raw = crate::driver::read_head(&self.stdout_file(&id), crate::driver::STDOUT_KEPT);
        Ok((self.finish_probe(&id, raw, exit_code, created_state), seen))
    }

    /// The probe of container `id` has exited, leaving `raw`: its lines,
    /// once the container is deleted.
    fn finish_probe(
        &self,
        id: &str,
        raw: String,
        exit_code: Option<i32>,
        created_state: StateView,
    ) -> ProbeRun {
        let lines = litmus_probe::parse_output(&raw).into_iter().filter_map(Result::ok).collect();
        let _ = self.delete(id);
        ProbeRun { lines, exit_code, raw, created_state }
    }

    /// Like [`Ctx::run_probe`] with `process.terminal: true`: the pty
    /// master must arrive on `--console-socket`, and the probe's output is
    /// read from it, as an engine attached to the container would.
    pub fn run_probe_on_terminal(&mut self, spec: &Spec) -> Result<ProbeRun, Verdict> {
        self.run_probe_on_terminal_with(spec, |_| Ok(()))
    }

    /// [`Ctx::run_probe_on_terminal`], with `shape_rootfs` changing the
    /// bundle's rootfs before create (a hostile image).
    pub fn run_probe_on_terminal_with(
        &mut self,
        spec: &Spec,
        shape_rootfs: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<ProbeRun, Verdict> {
        let mut spec = spec.clone();
        if let Some(process) = spec.process_mut() {
            process.set_terminal(Some(true));
        }
        let bundle = self.bundle(&spec)?;
        shape_rootfs(&self.bundles[bundle.0].rootfs())?;
        let id = self.new_id();
        let console = ConsoleSocket::bind(&self.work)?;
        let socket = console.path().display().to_string();
        let inv = self.create_with(&id, bundle, &["--console-socket", &socket])?;
        inv.expect_ok("create with --console-socket to succeed")?;
        let master = console
            .receive_master(deadline::scaled(Duration::from_secs(5)))
            .map_err(|e| fail("the pty master on --console-socket", format!("{e:#}")))?;
        expect(
            crate::console::is_pty_master(&master),
            "the fd sent on the console socket to be a pty master",
            "an fd TIOCGPTN refuses",
        )?;
        let created_state = self.state(&id)?;
        self.start_ok(&id)?;
        let raw = crate::console::read_until_closed(master, deadline::scaled(WAIT));
        let exit_code = self.wait_exit(created_state.pid)?;
        Ok(self.finish_probe(&id, raw, exit_code, created_state))
    }

    /// The probe output written so far by container `id`.
    pub fn output_of(&self, id: &str) -> Vec<ProbeLine> {
        let raw = crate::driver::read_head(&self.stdout_file(id), crate::driver::STDOUT_KEPT);
        litmus_probe::parse_output(&raw).into_iter().filter_map(Result::ok).collect()
    }

    /// `start`, then the probe's report: the program is running (and any
    /// signal it waits for is blocked, so it will be queued).
    pub fn start_and_await_report(&self, id: &str) -> Checked {
        self.start_ok(id)?;
        self.wait_for_output(id, "the probe's report after start", |l| {
            matches!(l, ProbeLine::Report(_))
        })
        .map(drop)
    }

    /// Passes if the runtime has no state for `id` (gone, or never made).
    pub fn expect_no_state(&self, id: &str, what: &str) -> Checked {
        self.call(&["state", id])?.expect_refused(what)
    }

    /// Whether the probe of `bundle` ran (its program starts with
    /// `marker /ran`).
    pub fn program_ran(&self, bundle: BundleRef) -> bool {
        self.bundle_ref(bundle).rootfs().join("ran").exists()
    }

    /// A started container whose probe has reported and now waits for a
    /// signal: the common subject of state, kill and delete cases.
    pub fn running_container(&mut self) -> Result<String, Verdict> {
        let spec = self.spec(&["report", "wait-signal"]);
        let id = self.new_container(&spec)?;
        self.start_and_await_report(&id)?;
        Ok(id)
    }

    /// Waits until container `id` has printed a line matching `pred`.
    pub fn wait_for_output(
        &self,
        id: &str,
        what: &str,
        pred: impl Fn(&ProbeLine) -> bool,
    ) -> Result<ProbeLine, Verdict> {
        deadline::poll(WAIT, Duration::from_millis(5), || {
            self.output_of(id).into_iter().find(&pred)
        })
        .map_err(|expired| fail(what.to_string(), expired.to_string()))
    }

    /// What this case owns, for the leak check.
    pub fn owned(&self) -> crate::leaks::Owned<'_> {
        let mut dirs = vec![self.work.clone()];
        dirs.extend(self.bundles.iter().map(|b| b.path().to_path_buf()));
        crate::leaks::Owned { ids: &self.created, dirs, state_root: &self.runtime.root }
    }

    /// Removes what the case created; returns what the runtime leaked
    /// (and then removes that too, so nothing outlives the suite).
    pub fn clean_up(&mut self) -> Vec<String> {
        for id in self.created.clone() {
            let _ = self.call(&["delete", "--force", id.as_str()]);
        }
        for &pid in &self.pids {
            // Reap our own zombies: they are not leaks.
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
        let mut leftovers = crate::leaks::find_after(&self.owned(), deadline::scaled(LEAK_GRACE));
        for &pid in &self.pids {
            let alive = pid > 0 && Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid);
            if alive && !leftovers.contains(&crate::leaks::Leftover::Process(pid)) {
                leftovers.push(crate::leaks::Leftover::Process(pid));
            }
        }
        crate::leaks::remove(&leftovers);
        leftovers.iter().map(|l| l.to_string()).collect()
    }
}

/// How long a case waits for a state or a line of output (scaled).
const WAIT: Duration = Duration::from_secs(10);
/// How long a container process may take to exit (scaled).
const EXIT_WAIT: Duration = Duration::from_secs(15);

/// How long after delete --force a leftover may take to disappear.
const LEAK_GRACE: Duration = Duration::from_secs(2);

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false)
}
