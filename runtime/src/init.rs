//! The two processes `create` forks, in the order they run.
//!
//! [`intermediate`] enters and creates the namespaces (a new pid namespace
//! only applies to children, hence a second fork) and reports the init's pid.
//! [`container_init`] builds the container inside them, then waits for
//! `start` on the exec socket and execs the user's program.

use crate::config::Validated;
use crate::fault::Fault;
use crate::fds::Inherited;
use crate::hooks::{self, Phase};
use crate::namespaces::Plan;
use crate::sync::{ChildEnd, ToChild, ToParent};
use crate::{console, process, rootfs, seccomp};
use anyhow::{bail, Context, Result};
use nix::unistd::{ForkResult, Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// What the forked processes need from `create`.
pub struct InitContext<'a> {
    pub spec: &'a Validated,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub plan: &'a Plan,
    pub exec_socket: &'a UnixListener,
    pub no_pivot: bool,
    /// The caller's fds (3..) the container keeps.
    pub inherited: &'a Inherited,
    /// Where the pty master goes when process.terminal is true.
    pub console: Option<&'a UnixStream>,
    /// The detached idmapped trees of `idmap`/`ridmap` mounts.
    pub idmapped: &'a rootfs::idmap::IdmappedTrees,
}

/// Runs in the first child. Never returns: exits with the status to report.
pub fn intermediate(mut channel: ChildEnd, cx: &InitContext) -> ! {
    let result = (|channel: &mut ChildEnd| -> Result<()> {
        // The container's init is this binary until it execs the user's
        // program: keep container processes from ptracing it or opening
        // its /proc/PID/exe (CVE-2016-9962, CVE-2019-5736).
        {
            let _t = crate::trace::span("wait.go");
            match channel.recv("the go-ahead")? {
                ToChild::Go => {}
                other => bail!("sync: expected Go, got {other:?}"),
            }
        }
        let namespaces_span = crate::trace::span("namespaces");
        // oom_score_adj before that, inherited by the init: once
        // non-dumpable, our /proc files are the host root's, and an
        // unprivileged runtime could not write them.
        if let Some(adj) = cx.spec.process().oom_score_adj() {
            std::fs::write("/proc/self/oom_score_adj", adj.to_string())
                .context("process.oomScoreAdj")?;
        }
        if !Fault::DumpableRuntime.active() {
            nix::sys::prctl::set_dumpable(false).context("PR_SET_DUMPABLE")?;
        }
        cx.plan.join_all()?;
        // All but the cgroup namespace, which the init makes once it is in
        // the container's cgroup (build_container).
        let cgroup_ns = nix::sched::CloneFlags::CLONE_NEWCGROUP;
        nix::sched::unshare(cx.plan.create - cgroup_ns).context("creating namespaces (unshare)")?;
        let new_user = cx.plan.creates(LinuxNamespaceType::User);
        if new_user {
            // As runc does: dumpable while the parent writes our maps (and
            // we our time offsets), or our /proc files belong to the host's
            // root and an unprivileged runtime cannot write them. Nothing
            // of the container runs yet.
            nix::sys::prctl::set_dumpable(true).context("PR_SET_DUMPABLE")?;
        }
        // Before the identity change: once non-dumpable again, our /proc
        // files belong to the host's root, which we stop being once we
        // become root of a new user namespace (EACCES).
        if cx.plan.creates(LinuxNamespaceType::Time) && !Fault::TimeOffsetsAfterSetuid.active() {
            write_time_offsets(cx.spec)?;
        }
        if new_user {
            channel.send(&ToParent::MapIds { pid: nix::unistd::getpid().as_raw() })?;
        }
        // `create` sends Fork before it reads MapIds: one order here.
        drop(namespaces_span);
        let born_into = {
            let _t = crate::trace::span("wait.cgroup");
            match channel.recv("the cgroup")? {
                ToChild::Fork { into } => into,
                other => bail!("sync: expected Fork, got {other:?}"),
            }
        };
        let namespaces_span = crate::trace::span("namespaces.user");
        if new_user {
            match channel.recv("the id mappings")? {
                ToChild::IdsMapped => {}
                other => bail!("sync: expected IdsMapped, got {other:?}"),
            }
            if !Fault::DumpableRuntime.active() {
                nix::sys::prctl::set_dumpable(false).context("PR_SET_DUMPABLE")?;
            }
            // Become root of the new user namespace (if it maps 0).
            let _ = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
            let _ = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
        }
        if cx.plan.creates(LinuxNamespaceType::Time) && Fault::TimeOffsetsAfterSetuid.active() {
            write_time_offsets(cx.spec)?;
        }
        drop(namespaces_span);
        let _fork = crate::trace::span("fork.init");
        let forked = match born_into.as_deref() {
            Some(dir) => fork_into_cgroup(dir)?,
            // SAFETY: the intermediate process is single-threaded.
            None => unsafe { nix::unistd::fork() }.context("forking the container init")?,
        };
        match forked {
            ForkResult::Child => {
                std::mem::forget(_fork);
                crate::trace::set_process("init");
                container_init(channel, cx)
            }
            ForkResult::Parent { child } => {
                channel.send(&ToParent::InitPid { pid: child.as_raw() })
            }
        }
    })(&mut channel);
    exit_reporting(&mut channel, result)
}

/// Forks the init into the container's cgroup v2 directory `dir`
/// (CLONE_INTO_CGROUP). Where clone3 is refused (a kernel before 5.7, a
/// seccomp filter answering ENOSYS), we join the cgroup ourselves and fork
/// as before.
fn fork_into_cgroup(dir: &std::path::Path) -> Result<ForkResult> {
    let cgroup = std::fs::File::open(dir)
        .with_context(|| format!("opening the container's cgroup {}", dir.display()))?;
    // SAFETY: the intermediate process is single-threaded.
    match unsafe { crate::cgroups::v2::fork_into(std::os::fd::AsFd::as_fd(&cgroup)) } {
        Ok(forked) => Ok(forked),
        Err(refused) => {
            let procs = dir.join("cgroup.procs");
            std::fs::write(&procs, "0").with_context(|| {
                format!("joining {} (clone3 into it: {refused})", procs.display())
            })?;
            // SAFETY: the intermediate process is single-threaded.
            unsafe { nix::unistd::fork() }.context("forking the container init")
        }
    }
}

/// linux.timeOffsets: unshare(CLONE_NEWTIME) put our children in a new
/// time namespace; its clocks can be offset until the first one enters.
fn write_time_offsets(spec: &Spec) -> Result<()> {
    let offsets = spec.linux().as_ref().and_then(|l| l.time_offsets().clone()).unwrap_or_default();
    let mut text = String::new();
    for (clock, offset) in &offsets {
        if clock != "monotonic" && clock != "boottime" {
            bail!("linux.timeOffsets: unknown clock {clock:?} (monotonic or boottime)");
        }
        let (secs, nanos) = (offset.secs().unwrap_or(0), offset.nanosecs().unwrap_or(0));
        text += &format!("{clock} {secs} {nanos}\n");
    }
    if text.is_empty() {
        return Ok(());
    }
    std::fs::write("/proc/self/timens_offsets", text).context("linux.timeOffsets")
}

/// Reports `result` to the parent and exits.
fn exit_reporting(channel: &mut ChildEnd, result: Result<()>) -> ! {
    match result {
        Ok(()) => crate::process::exit_now(0),
        Err(e) => {
            let _ = channel.send(&ToParent::Failed { error: format!("{e:#}") });
            crate::process::exit_now(1)
        }
    }
}

/// Runs as the container's pid 1 (in a new pid namespace). Never returns.
fn container_init(channel: &mut ChildEnd, cx: &InitContext) -> ! {
    let result = build_container(channel, cx);
    let built = match result {
        Ok(built) => built,
        Err(e) => exit_reporting(channel, Err(e)),
    };
    channel.close();
    // From here the parent is gone: errors go to the `start` caller.
    let error = match wait_for_start_and_exec(cx, built) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    eprintln!("litmus-runtime: container init: {error:#}");
    crate::process::exit_now(1)
}

/// What init holds while it waits for `start`.
struct Built {
    program: std::path::PathBuf,
    /// The state document the parent sent (for startContainer hooks).
    state_json: String,
    /// A seccomp filter to load right before exec (noNewPrivileges set).
    late_filter: Option<seccomp::Filter>,
    /// Whether the fds were already marked close-on-exec (before an
    /// early filter).
    fds_marked: bool,
}

/// linux.sysctl: each key written under `proc_sys`.
fn write_sysctls(spec: &oci_spec::runtime::Spec, proc_sys: &Path) -> Result<()> {
    for (key, value) in spec.linux().as_ref().and_then(|l| l.sysctl().clone()).unwrap_or_default() {
        let path = proc_sys.join(key.replace('.', "/"));
        std::fs::write(&path, &value)
            .with_context(|| format!("linux.sysctl: setting {key}={value}"))?;
    }
    Ok(())
}

/// Everything up to "created".
fn build_container(channel: &mut ChildEnd, cx: &InitContext) -> Result<Built> {
    let spec = cx.spec;
    let process = spec.process();
    nix::unistd::setsid().context("setsid")?;
    let setup_span = crate::trace::span("setup");

    if cx.plan.has(LinuxNamespaceType::Uts) {
        if let Some(hostname) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
            nix::unistd::sethostname(hostname).context("hostname")?;
        }
        if let Some(domainname) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
            set_domainname(domainname)?;
        }
    }
    process::set_exec_labels(process)?;
    let sysctl_fault = Fault::SysctlAfterMounts.active();
    drop(setup_span);

    // The mounts start at once. Before the first cgroup mount (or after
    // the mounts; before any without a mount namespace, see
    // rootfs::prepare) we take the state, which `create` sends once it has
    // our pid and has handed us any netDevices (a sysctl may name one),
    // then make the cgroup namespace (its root is our cgroup, ours from
    // birth) and write the sysctls.
    let mut state_json = None;
    let mut at_cgroups = || -> Result<()> {
        if state_json.is_some() {
            return Ok(());
        }
        {
            let _t = crate::trace::span("wait.state");
            match channel.recv("the container state")? {
                ToChild::State { json } => state_json = Some(json),
                other => bail!("sync: expected State, got {other:?}"),
            }
        }
        let _t = crate::trace::span("cgroupns+sysctls");
        let cgroup_ns = nix::sched::CloneFlags::CLONE_NEWCGROUP;
        if cx.plan.create.contains(cgroup_ns) {
            nix::sched::unshare(cgroup_ns).context("creating the cgroup namespace (unshare)")?;
        }
        // Namespaced sysctls apply to the writer's namespaces, so the
        // host's /proc works here, and no config mount (all under the
        // rootfs) can cover a /proc/sys file there and take the write
        // (CVE-2025-52881).
        if !sysctl_fault {
            write_sysctls(spec, Path::new("/proc/sys"))?;
        }
        Ok(())
    };
    let mounts_span = crate::trace::span("rootfs.prepare");
    rootfs::prepare(
        &rootfs::Setup {
            spec,
            rootfs: cx.rootfs,
            bundle: cx.bundle,
            // mknod is denied in any user namespace but the host's: ours,
            // or a rootless engine's we were started in.
            in_user_namespace: cx.plan.creates(LinuxNamespaceType::User)
                || crate::rootless::in_user_namespace(),
            new_cgroup_namespace: cx.plan.creates(LinuxNamespaceType::Cgroup),
            own_mount_namespace: cx.plan.has(LinuxNamespaceType::Mount),
            idmapped: cx.idmapped,
        },
        &mut at_cgroups,
    )?;
    at_cgroups()?;
    let state_json = state_json.expect("at_cgroups received the state");
    if sysctl_fault {
        // The pre-fix way: through the container's /proc, after its mounts.
        write_sysctls(spec, &cx.rootfs.join("proc/sys"))?;
    }
    // Resolved inside the rootfs, magic links refused: `cwd:
    // /proc/self/fd/N` cannot lead out through an fd (CVE-2024-21626).
    let cwd_checked = rootfs::ensure_dir(cx.rootfs, process.cwd()).context("process.cwd");
    if !Fault::HostDirFdAtChdir.active() {
        cwd_checked?;
    }

    drop(mounts_span);
    // prestart and createRuntime hooks run in the runtime's namespace,
    // and the device rules are applied meanwhile. Without hooks to wait
    // for, nothing up to Ready depends on them (no device is opened: a
    // terminal's /dev/ptmx would be), so we go on and wait before the
    // identity change and any seccomp filter.
    channel.send(&ToParent::RunCreateHooks)?;
    let wait_late = [Phase::Prestart, Phase::CreateRuntime, Phase::CreateContainer]
        .into_iter()
        .all(|phase| hooks::of_phase(spec.hooks(), phase).is_empty())
        && cx.console.is_none();
    if !wait_late {
        let _t = crate::trace::span("wait.hooks");
        channel.recv("the createRuntime hooks")?;
    }
    let seccomp_span = crate::trace::span("hooks+seccomp");
    // createContainer hooks: container namespaces, before pivot_root, so
    // their path still resolves in the runtime's filesystem.
    hooks::run_phase(spec.hooks(), Phase::CreateContainer, &state_json)?;

    // Compiled and connected to its agent while listenerPath still resolves.
    let filter = match spec.linux().seccomp().as_ref() {
        Some(profile) => {
            let mut filter = seccomp::compile(profile)?;
            filter.connect_agent(profile)?;
            Some(filter)
        }
        None => None,
    };

    // The pre-CVE-2024-21626 runc: a host directory still open when the
    // unchecked cwd is entered, so `cwd: /proc/self/fd/N` leaves the rootfs.
    let _host_dir = Fault::HostDirFdAtChdir.active().then(|| std::fs::File::open("/sys/fs/cgroup"));
    drop(seccomp_span);
    let pivot_span = crate::trace::span("rootfs.pivot");
    rootfs::pivot(cx.rootfs, cx.no_pivot, cx.plan.has(LinuxNamespaceType::Mount))?;
    // After the pivot (the pty comes from the container's devpts), before
    // finalize (which may make /dev read-only).
    if let Some(socket) = cx.console {
        console::set_up(socket, true)?;
    }
    drop(pivot_span);
    let finalize_span = crate::trace::span("rootfs.finalize");
    rootfs::finalize(spec)?;
    drop(finalize_span);
    let process_span = crate::trace::span("process");

    process::set_rlimits(process)?;
    process::set_io_priority(process)?;
    process::set_scheduler(process)?;
    if let Some(personality) = spec.linux().personality().as_ref() {
        process::set_personality(personality)?;
    }
    if let Some(policy) = spec.linux().memory_policy() {
        crate::memory_policy::apply(policy)?;
    }
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the
    // process may be about to lose: load it now, before the identity change.
    // From the filter on, every syscall goes through the user's profile:
    // the fds are marked before it (close_range may be denied), and what
    // follows is only what the identity change and the exec need.
    // The program is found before any filter: an allow-list older than
    // the calls a lookup makes today (statx, faccessat2) must not turn
    // into "no such file" (runc's Go lookup uses calls old lists allow).
    let program = if Fault::LookupAfterFilter.active() {
        None
    } else {
        Some(process::find_executable(process)?)
    };
    // With no_new_privs the filter is loaded after the identity change,
    // still during create when an agent waits at listenerPath (runc hands
    // it the listener then; an agent may wait for it before calling
    // start), else as late as possible, just before the exec.
    let nnp = process.no_new_privileges() == Some(true);
    let agent_waits =
        filter.as_ref().is_some_and(|f| f.has_agent()) && !Fault::SeccompAgentAtStart.active();
    // Before any filter: a profile need not allow what this read takes.
    if wait_late {
        let _t = crate::trace::span("wait.hooks");
        channel.recv("the device rules")?;
    }
    let fds_marked =
        filter.is_some() && (!nnp || agent_waits) && !Fault::CloseRangeAfterFilter.active();
    if fds_marked {
        process::close_fds_on_exec(cx.inherited)?;
    }
    let late_filter = match filter {
        Some(filter) if !nnp => {
            filter.load(&state_json)?;
            None
        }
        other => other,
    };
    process::set_identity_and_capabilities(process)?;
    process::set_no_new_privileges(process)?;
    let late_filter = match late_filter {
        Some(filter) if agent_waits => {
            filter.load(&state_json)?;
            None
        }
        other => other,
    };
    process::set_umask(process);
    nix::unistd::chdir(process.cwd())
        .with_context(|| format!("process.cwd: entering {}", process.cwd().display()))?;
    let program = match program {
        Some(program) => program,
        None => process::find_executable(process)?,
    };
    install_exit_on_signal();
    drop(process_span);
    channel.send(&ToParent::Ready)?;
    Ok(Built { program, state_json, late_filter, fds_marked })
}

/// Blocks until `start` connects, runs startContainer hooks, and execs.
/// The exec socket is close-on-exec: `start` sees EOF when exec succeeded,
/// or a message when something failed.
fn wait_for_start_and_exec(cx: &InitContext, built: Built) -> Result<std::convert::Infallible> {
    if Fault::ExecOnCreate.active() {
        process::exec(&built.program, cx.spec.process())?;
    }
    let waiting = crate::trace::now_ns();
    let (mut conn, _) = cx.exec_socket.accept().context("waiting for start")?;
    let mut go = [0u8; 1];
    conn.read_exact(&mut go).context("reading start's request")?;
    crate::trace::record("wait.start", waiting, crate::trace::now_ns());
    let go_at = crate::trace::now_ns();
    let outcome = (|| {
        let state = running_state(&built.state_json);
        let process = cx.spec.process();
        hooks::run_all_in_container(
            &hooks::of_phase(cx.spec.hooks(), Phase::StartContainer),
            Phase::StartContainer,
            &state,
            process.env().as_deref().unwrap_or_default(),
        )?;
        process::reset_signals();
        if !built.fds_marked {
            process::close_fds_on_exec(cx.inherited)?;
        }
        if let Some(filter) = built.late_filter {
            filter.load(&state)?;
        }
        crate::trace::record("before.exec", go_at, crate::trace::now_ns());
        process::exec(&built.program, cx.spec.process())
    })();
    let Err(error) = outcome;
    let _ = writeln!(conn, "{error:#}");
    Err(error)
}

/// The state startContainer hooks see: the one `create` sent, now running.
fn running_state(created_state: &str) -> String {
    let mut state: serde_json::Value = serde_json::from_str(created_state).unwrap_or_default();
    state["status"] = "running".into();
    state.to_string()
}

fn set_domainname(name: &str) -> Result<()> {
    // SAFETY: reads exactly name.len() bytes of `name` (no NUL needed).
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("domainname");
    }
    Ok(())
}

/// While it waits for `start`, init is pid 1 of its namespace, where
/// signals without a handler are ignored. `kill` of a created container
/// must still stop it, so the usual terminating signals exit.
fn install_exit_on_signal() {
    extern "C" fn exit_on(sig: libc::c_int) {
        crate::process::exit_now(128 + sig);
    }
    // SAFETY: exit_on only calls _exit, which is async-signal-safe.
    unsafe { crate::process::handle_signals(&crate::process::CALLER_SIGNALS, exit_on) };
}
