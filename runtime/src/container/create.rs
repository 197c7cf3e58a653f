//! `create`: validate, record, fork into namespaces, build the container,
//! and leave its init waiting for `start`.
//!
//! Anything that fails after the state directory exists is undone by
//! [`Undo`]: the processes are killed, the cgroup and the state directory
//! removed. A failed create leaves nothing behind.

use crate::cgroups::{self, Cgroup, Layout};
use crate::cli::CreateArgs;
use crate::config::{self, Validated};
use crate::fault::Fault;
use crate::fds::Inherited;
use crate::hooks::{self, Phase};
use crate::init::{self, InitContext};
use crate::namespaces::Plan;
use crate::state::{read_proc_stat, ContainerDir, Record, State, Status};
use crate::sync::{self, ParentEnd, ToChild, ToParent};
use crate::trace;
use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The exec socket's name in the container's state directory.
pub const EXEC_SOCKET: &str = "exec.sock";

/// A unix socket path must fit in 108 bytes; state directories of engines
/// (and long IDs) do not. Going through an open fd of the directory keeps
/// the path short whatever the directory's length.
pub struct SocketPath {
    _dir: std::fs::File,
    path: PathBuf,
}

impl SocketPath {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

pub fn short_socket_path(state_dir: &Path) -> Result<SocketPath> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(state_dir)
        .with_context(|| format!("opening {}", state_dir.display()))?;
    let path = PathBuf::from(format!("/proc/self/fd/{}/{EXEC_SOCKET}", dir.as_raw_fd()));
    Ok(SocketPath { _dir: dir, path })
}

/// What a successful create leaves for the caller (`run` waits on the pid).
pub struct Created {
    pub pid: i32,
    /// The socket the pty master arrived on, when the caller relays the
    /// terminal itself (foreground `run` without --console-socket).
    pub console: Option<UnixStream>,
    /// The state directory, still locked, its record and the config as
    /// saved: `run` starts the container without reading them back.
    pub dir: ContainerDir,
    pub record: Record,
    pub spec: Validated,
}

/// `create`: the container outlives this command.
pub fn create(root: &Path, args: &CreateArgs, inherited: &Inherited) -> Result<Created> {
    create_for(root, args, inherited, false)
}

/// `foreground`: the caller stays attached (`run` without --detach) and
/// can relay a terminal itself, so process.terminal needs no socket.
pub fn create_for(
    root: &Path,
    args: &CreateArgs,
    inherited: &Inherited,
    foreground: bool,
) -> Result<Created> {
    let config_span = trace::span("config");
    let bundle = args
        .bundle
        .canonicalize()
        .with_context(|| format!("bundle {} does not exist", args.bundle.display()))?;
    let mut loaded = config::load(&bundle)?;
    crate::fault::distort(&mut loaded);
    if Fault::SetuidDropsUserns.active() {
        setuid_drops_user_namespace(&mut loaded);
    }
    let mut spec = config::validate(loaded, &bundle)?;
    if crate::rootless::active() {
        crate::rootless::check(&spec)?;
    }
    announce_listen_fds(spec.process_mut());
    let terminal = spec.process().terminal() == Some(true);
    let console = console_socket(terminal, args.console_socket.as_deref(), foreground)?;
    let rootfs = config::rootfs_path(&spec, &bundle)?.canonicalize()?;
    drop(config_span);

    let dir = {
        let _t = trace::span("state.dir");
        ContainerDir::create(root, &args.id)?
    };
    let mut undo = Undo::new(dir);
    let for_container = console.as_ref().map(|(theirs, _)| theirs);
    let record = build(&mut undo, args, inherited, &spec, &bundle, &rootfs, for_container)?;
    let pid = undo.init.expect("build sets the init pid");
    let dir = undo.disarm();
    Ok(Created { pid, console: console.and_then(|(_, ours)| ours), dir, record, spec })
}

/// The socket the container's pty master is sent on, as runc decides it:
/// a terminal needs a console socket unless we relay it ourselves, and a
/// console socket without a terminal is a mistake worth reporting.
pub type ConsoleSockets = (UnixStream, Option<UnixStream>);

pub fn console_socket(
    terminal: bool,
    path: Option<&Path>,
    foreground: bool,
) -> Result<Option<ConsoleSockets>> {
    match (terminal, path) {
        (false, Some(_)) => {
            bail!("--console-socket: given, but process.terminal is false (no pty to send)")
        }
        (false, None) => Ok(None),
        (true, None) if !foreground => bail!(
            "--console-socket: required when process.terminal is true and the container \
             outlives this command"
        ),
        (true, path) => crate::console::socket_for(path).map(Some),
    }
}

/// Socket activation: the container's process learns of the fds like any
/// activated service, with itself as LISTEN_PID (pid 1 of its namespace).
fn announce_listen_fds(process: &mut oci_spec::runtime::Process) {
    let listen = crate::fds::listen_fds();
    if listen == 0 {
        return;
    }
    let mut env = process.env().clone().unwrap_or_default();
    env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
    env.push(format!("LISTEN_FDS={listen}"));
    env.push("LISTEN_PID=1".to_string());
    process.set_env(Some(env));
}

#[allow(clippy::too_many_arguments)]
fn build(
    undo: &mut Undo,
    args: &CreateArgs,
    inherited: &Inherited,
    spec: &Validated,
    bundle: &Path,
    rootfs: &Path,
    console: Option<&UnixStream>,
) -> Result<Record> {
    let dir = undo.dir.as_ref().expect("armed");
    let state_span = trace::span("state.create");
    dir.save_config(spec)?;
    let mut record = Record {
        state: State {
            oci_version: spec.version().clone(),
            id: args.id.clone(),
            status: Status::Creating,
            pid: 0,
            bundle: bundle.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            created: now_rfc3339(),
            owner: owner_name(),
            annotations: spec.annotations().clone().unwrap_or_default(),
        },
        pid_start_time: 0,
        cgroup_path: String::new(),
    };
    let linux = spec.linux();
    record.cgroup_path = cgroups::container_path(linux.cgroups_path().as_deref(), &args.id)?;
    // Recorded before it exists: if we are killed right after creating it,
    // `delete --force` still knows to remove it.
    dir.save(&record)?;
    // Device rules wait until the container's /dev is built: a rule that
    // denies mknod must not stop the runtime creating the nodes asked for.
    drop(state_span);

    let prepare_span = trace::span("fork.prepare");
    let exec_socket = UnixListener::bind(short_socket_path(dir.path())?.path())
        .with_context(|| format!("creating the exec socket in {}", dir.path().display()))?;
    let plan = Plan::new(&linux.namespaces().clone().unwrap_or_default());
    if !plan.has(oci_spec::runtime::LinuxNamespaceType::Mount) {
        undo.host_mounts = Some(rootfs.to_path_buf());
    }
    if Fault::ChownRootfsForUserns.active() {
        chown_for_user_namespace(spec, rootfs);
    }
    // In our namespaces, before the fork: init inherits the trees.
    let idmapped = crate::rootfs::idmap::prepare(spec, bundle)?;
    let cx = InitContext {
        idmapped: &idmapped,
        spec,
        bundle,
        rootfs,
        plan: &plan,
        exec_socket: &exec_socket,
        no_pivot: args.no_pivot,
        inherited,
        console,
    };

    let (mut channel, child_channel): (ParentEnd, _) = sync::pair()?;
    let lock_fd = dir.lock_fd();
    drop(prepare_span);
    let fork_span = trace::span("fork.intermediate");
    // SAFETY: the runtime is single-threaded here, so the child cannot
    // inherit a lock held by another thread.
    let intermediate = match unsafe { nix::unistd::fork() }.context("fork")? {
        ForkResult::Child => {
            drop(channel);
            // SAFETY: closes this process's copy of the lock fd (see
            // ContainerDir::lock_fd) without unlocking the shared open
            // file; the child never returns, so the ContainerDir that owns
            // the number is never dropped here. (Proved by the kill sweep
            // in tests/killed.rs: a fault for it would be caught only when
            // a kill lands in the ~1 ms between init's Ready and create's
            // exit, too rarely for the suite's meta-test.)
            unsafe { libc::close(lock_fd) };
            trace::set_process("intermediate");
            init::intermediate(child_channel, &cx)
        }
        ForkResult::Parent { child } => child,
    };
    undo.intermediate = Some(intermediate);
    // It makes the namespaces on another CPU while we make the cgroup.
    crate::process::start_elsewhere(intermediate)?;
    drop(fork_span);
    drop(child_channel);

    // The intermediate makes the namespaces while we make the cgroup, then
    // waits for `Fork`: the init is born in the container's cgroup, forked
    // into it (cgroup v2, no new user namespace, not rootless) or by an
    // intermediate we moved there. Until then no process of the container
    // but the intermediate exists, so a create failing here kills one
    // process and sees its channel close.
    channel.tell(&ToChild::Go)?;
    let (resources, device_rules) = split_device_rules(linux.resources().as_ref());
    let joined = join_cgroup(
        &mut undo.cgroup,
        &mut record,
        dir,
        &mut channel,
        intermediate,
        resources.as_ref(),
        plan.creates(oci_spec::runtime::LinuxNamespaceType::User),
    );
    if let Err(e) = joined {
        // The intermediate's own failure, if it failed first, says more.
        let _ = kill(intermediate, Signal::SIGKILL);
        return Err(match channel.recv("the intermediate's report") {
            Ok(ToParent::Failed { error }) => anyhow::anyhow!(error),
            _ => e,
        });
    }
    let namespaces_span = trace::span("wait.namespaces");
    let pid = loop {
        match channel.expect("the container init's pid")? {
            ToParent::MapIds { pid } => {
                let _t = trace::span("id.mappings");
                write_id_mappings(spec, pid)?;
                channel.tell(&ToChild::IdsMapped)?;
            }
            ToParent::InitPid { pid } => break pid,
            other => bail!("sync: unexpected {other:?}"),
        }
    };
    drop(namespaces_span);
    undo.init = Some(pid);
    if let Some(devices) = linux.net_devices() {
        crate::net_devices::move_into(devices, pid)?;
    }
    // The init builds the container while we record its pid and reap the
    // intermediate. (Killed before the record is saved, create leaves an
    // init that exits on its own: the channel's end closes with us.)
    record.state.pid = pid;
    let state_json = serde_json::to_string(&record.state)?;
    // The init mounts from the moment it has the state: the wait starts
    // before the message goes, or the trace could show it mounting first.
    let mounts_span = trace::span("wait.mounts");
    channel.tell(&ToChild::State { json: state_json.clone() })?;
    {
        let _t = trace::span("state.pid");
        record.pid_start_time = read_proc_stat(pid).map(|(_, t)| t).unwrap_or_default();
        dir.save(&record)?;
    }
    {
        let _t = trace::span("wait.intermediate");
        let _ = waitpid(intermediate, None);
    }
    undo.intermediate = None;

    match channel.expect("the container to reach the createRuntime hooks")? {
        ToParent::RunCreateHooks => {}
        other => bail!("sync: unexpected {other:?}"),
    }
    drop(mounts_span);
    let hooks_span = trace::span("hooks.create");
    // Rootless, device rules are not applied even in a delegated cgroup,
    // as runc does: the v1 devices controller and v2's eBPF filter need
    // the host's root (CAP_SYS_ADMIN, CAP_BPF), and in a user namespace no
    // device node can be made anyway; those bound in open as the host's
    // permissions allow the user.
    let device_rules = device_rules.filter(|_| !crate::rootless::active());
    if let (Some(device_rules), Some(cgroup)) = (&device_rules, &undo.cgroup) {
        cgroup.apply(device_rules)?;
    }
    hooks::run_phase(spec.hooks(), Phase::Prestart, &state_json)?;
    hooks::run_phase(spec.hooks(), Phase::CreateRuntime, &state_json)?;
    drop(hooks_span);
    let ready_span = trace::span("wait.ready");
    channel.tell(&ToChild::HooksDone)?;
    match channel.expect("the container to be created")? {
        ToParent::Ready => {}
        other => bail!("sync: unexpected {other:?}"),
    }
    drop(ready_span);

    let _t = trace::span("state.created");
    record.state.status = Status::Created;
    dir.save(&record)?;
    if Fault::PoststartDuringCreate.active() {
        let json = serde_json::to_string(&record.state)?;
        hooks::run_phase(spec.hooks(), Phase::Poststart, &json)?;
    }
    if let Some(pid_file) = &args.pid_file {
        write_pid_file(pid_file, pid)?;
    }
    Ok(record)
}

/// Creates the container's cgroup and tells the intermediate to fork the
/// init: into the cgroup (CLONE_INTO_CGROUP), or where it is once we have
/// moved it there.
fn join_cgroup(
    cgroup: &mut Option<Cgroup>,
    record: &mut Record,
    dir: &ContainerDir,
    channel: &mut ParentEnd,
    intermediate: Pid,
    resources: Option<&oci_spec::runtime::LinuxResources>,
    new_user_namespace: bool,
) -> Result<()> {
    let cgroup_span = trace::span("cgroup.create");
    let layout = Layout::detect()?;
    // On v2 the init can be born in the cgroup: nothing to migrate. Not
    // with a new user namespace: the intermediate is then no longer the
    // host's root and may not write into it.
    let born_in_cgroup =
        matches!(layout, Layout::V2 { .. }) && !new_user_namespace && !crate::rootless::active();
    match Cgroup::create(&layout, &record.cgroup_path, resources) {
        Ok(created) => *cgroup = Some(created),
        // Rootless without a delegated cgroup: the container runs in ours,
        // as runc's; limits it cannot honour are refused by name.
        Err(e) if crate::rootless::active() && crate::rootless::is_permission_error(&e) => {
            let limits = crate::rootless::limits_set(resources);
            if !limits.is_empty() && !Fault::RootlessLimitsIgnored.active() {
                return Err(crate::rootless::no_cgroup_for(&limits, &e));
            }
            record.cgroup_path.clear();
            dir.save(record)?;
        }
        Err(e) => return Err(e),
    }
    drop(cgroup_span);

    let Some(cgroup) = cgroup else {
        // Only rootless goes without a cgroup, and rootless is never born in one.
        anyhow::ensure!(!born_in_cgroup, "no cgroup to fork the container init into");
        return channel.tell(&ToChild::Fork { into: None });
    };
    if born_in_cgroup {
        let dir = cgroup.v2_dir().context("a cgroup v2 layout without a cgroup directory")?;
        return channel.tell(&ToChild::Fork { into: Some(dir.to_path_buf()) });
    }
    {
        let _t = trace::span("cgroup.attach");
        cgroup.add_process(intermediate.as_raw())?;
    }
    channel.tell(&ToChild::Fork { into: None })
}

/// Fault only: invoked setuid root (euid 0, real uid not), the user
/// namespace and its mappings are dropped "to help", so the container
/// runs as the host's root.
fn setuid_drops_user_namespace(spec: &mut oci_spec::runtime::Spec) {
    if !nix::unistd::geteuid().is_root() || nix::unistd::getuid().is_root() {
        return;
    }
    if let Some(linux) = spec.linux_mut().as_mut() {
        let mut namespaces = linux.namespaces().clone().unwrap_or_default();
        namespaces.retain(|ns| ns.typ() != oci_spec::runtime::LinuxNamespaceType::User);
        linux.set_namespaces(Some(namespaces));
        linux.set_uid_mappings(None);
        linux.set_gid_mappings(None);
    }
}

/// The pre-idmapping way of giving a user namespace its rootfs: every
/// file chowned to the host ids of the container's root (fault only).
fn chown_for_user_namespace(spec: &Validated, rootfs: &Path) {
    let linux = spec.linux();
    let host = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.iter().flatten().find(|m| m.container_id() == 0).map(|m| m.host_id())
    };
    let (Some(uid), Some(gid)) = (host(linux.uid_mappings()), host(linux.gid_mappings())) else {
        return;
    };
    let mut dirs = vec![rootfs.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let _ = std::os::unix::fs::lchown(&path, Some(uid), Some(gid));
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(path);
            }
        }
    }
}

/// `resources` without its device rules, and the device rules alone.
fn split_device_rules(
    resources: Option<&oci_spec::runtime::LinuxResources>,
) -> (Option<oci_spec::runtime::LinuxResources>, Option<oci_spec::runtime::LinuxResources>) {
    let Some(resources) = resources else {
        return (None, None);
    };
    let mut rest = resources.clone();
    let Some(rules) = rest.devices().clone() else {
        return (Some(rest), None);
    };
    rest.set_devices(None);
    let mut devices = oci_spec::runtime::LinuxResources::default();
    devices.set_devices(Some(rules));
    (Some(rest), Some(devices))
}

/// uid_map and gid_map of the child's new user namespace, written by us
/// (its parent, privileged in the parent namespace).
fn write_id_mappings(spec: &Validated, pid: i32) -> Result<()> {
    let linux = spec.linux();
    if crate::rootless::active() {
        let maps = |m: &Option<Vec<_>>| m.clone().unwrap_or_default();
        return crate::rootless::write_mappings(
            pid,
            &maps(linux.uid_mappings()),
            &maps(linux.gid_mappings()),
        );
    }
    let format = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>()
    };
    for (file, maps, field) in [
        ("uid_map", linux.uid_mappings(), "linux.uidMappings"),
        ("gid_map", linux.gid_mappings(), "linux.gidMappings"),
    ] {
        let text = format(maps);
        if text.is_empty() {
            continue;
        }
        std::fs::write(format!("/proc/{pid}/{file}"), &text)
            .with_context(|| format!("{field}: writing {file}"))?;
    }
    Ok(())
}

/// Who created the container, as runc names them: the user name of our
/// euid, or "#UID" when the host has no name for it.
fn owner_name() -> String {
    let uid = nix::unistd::geteuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => format!("#{uid}"),
    }
}

/// The host pid, no newline, written then renamed so readers never see a
/// partial file.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp: PathBuf = path.with_extension("litmus-tmp");
    let text = if Fault::PidFileNewline.active() { format!("{pid}\n") } else { pid.to_string() };
    std::fs::write(&tmp, text).with_context(|| format!("--pid-file {}", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("--pid-file {}", path.display()))
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

/// Undoes a partial create when dropped while armed.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Option<Cgroup>,
    intermediate: Option<Pid>,
    init: Option<i32>,
    /// A rootfs whose mounts are on the host (no mount namespace).
    host_mounts: Option<PathBuf>,
}

impl Undo {
    fn new(dir: ContainerDir) -> Undo {
        Undo { dir: Some(dir), cgroup: None, intermediate: None, init: None, host_mounts: None }
    }

    /// The create succeeded: nothing is undone; the directory goes on.
    fn disarm(&mut self) -> ContainerDir {
        self.dir.take().expect("armed")
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        for pid in self.intermediate.into_iter().chain(self.init.map(Pid::from_raw)) {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        if let Some(cgroup) = &self.cgroup {
            crate::container::kill_all_and_remove(cgroup);
        }
        if let Some(rootfs) = &self.host_mounts {
            crate::rootfs::unmount_all_under(rootfs);
        }
        let _ = dir.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let ts = now_rfc3339();
        assert_eq!(ts.len(), "2026-11-23T12:00:00.000000000Z".len(), "{ts}");
        assert!(ts.starts_with("20") && ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    }

    #[test]
    fn pid_files_hold_the_pid_without_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pid");
        write_pid_file(&path, 4242).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242");
    }
}
