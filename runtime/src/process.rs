//! The container process's identity and limits: rlimits, user and groups,
//! capabilities, no_new_privs, umask, cwd, and finding the program to exec.
//!
//! Order matters and follows the kernel's rules:
//! rlimits first (raising a hard limit needs CAP_SYS_RESOURCE), then the
//! bounding set (needs CAP_SETPCAP), then the uid switch with KEEPCAPS so the
//! permitted set survives it, then the capability sets, then ambient.

use crate::fault::Fault;
use anyhow::{anyhow, bail, Context, Result};
use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{Capabilities, PosixRlimitType, Process};
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Ends a forked child of the runtime at once, as _exit(2): no atexit
/// handlers and no flush of stdio buffers, which belong to the parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes no pointers and never returns; skipping Rust's
    // destructors is the point (nothing of the parent's may run twice).
    unsafe { libc::_exit(code) }
}

/// The signals a caller uses to stop or poke a process: what `run`
/// forwards (with SIGWINCH) and what a created container's init exits on.
pub const CALLER_SIGNALS: [libc::c_int; 6] =
    [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];

/// Installs `handler` for each of `signals`.
///
/// # Safety
/// `handler` may run between any two instructions: it must make only
/// async-signal-safe calls and touch only atomics.
pub unsafe fn handle_signals(signals: &[libc::c_int], handler: extern "C" fn(libc::c_int)) {
    for &sig in signals {
        // SAFETY: the caller vouches for the handler (see above).
        unsafe { libc::signal(sig, handler as *const () as libc::sighandler_t) };
    }
}

pub fn set_rlimits(process: &Process) -> Result<()> {
    for rlimit in process.rlimits().iter().flatten() {
        nix::sys::resource::setrlimit(rlimit_resource(rlimit.typ()), rlimit.soft(), rlimit.hard())
            .with_context(|| format!("process.rlimits: setting {}", rlimit.typ()))?;
    }
    Ok(())
}

fn rlimit_resource(typ: PosixRlimitType) -> nix::sys::resource::Resource {
    use nix::sys::resource::Resource;
    use PosixRlimitType::*;
    match typ {
        RlimitCpu => Resource::RLIMIT_CPU,
        RlimitFsize => Resource::RLIMIT_FSIZE,
        RlimitData => Resource::RLIMIT_DATA,
        RlimitStack => Resource::RLIMIT_STACK,
        RlimitCore => Resource::RLIMIT_CORE,
        RlimitRss => Resource::RLIMIT_RSS,
        RlimitNproc => Resource::RLIMIT_NPROC,
        RlimitNofile => Resource::RLIMIT_NOFILE,
        RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        RlimitAs => Resource::RLIMIT_AS,
        RlimitLocks => Resource::RLIMIT_LOCKS,
        RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        RlimitNice => Resource::RLIMIT_NICE,
        RlimitRtprio => Resource::RLIMIT_RTPRIO,
        RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// The capability sets asked for, in the `caps` crate's terms.
struct Wanted {
    bounding: CapsHashSet,
    effective: CapsHashSet,
    permitted: CapsHashSet,
    inheritable: CapsHashSet,
    ambient: CapsHashSet,
}

fn to_caps(set: &Option<Capabilities>, field: &str) -> Result<CapsHashSet> {
    set.iter()
        .flatten()
        .map(|cap| {
            let name = serde_json::to_value(cap)?;
            let name = name.as_str().unwrap_or_default();
            name.parse::<Capability>().map_err(|_| {
                anyhow!("process.capabilities.{field}: {name} is not known to this runtime")
            })
        })
        .collect()
}

/// Drops the bounding set, switches user and group, and sets the
/// capability sets. Absent `capabilities` means an empty set everywhere.
pub fn set_identity_and_capabilities(process: &Process) -> Result<()> {
    let wanted = match process.capabilities() {
        Some(c) => Wanted {
            bounding: to_caps(c.bounding(), "bounding")?,
            effective: to_caps(c.effective(), "effective")?,
            permitted: to_caps(c.permitted(), "permitted")?,
            // Before runc 1.1.2 (CVE-2022-29162) an absent inheritable set
            // became the other sets, not an empty one.
            inheritable: match c.inheritable() {
                None if Fault::InheritableFromBounding.active() => {
                    to_caps(c.bounding(), "bounding")?
                }
                inheritable => to_caps(inheritable, "inheritable")?,
            },
            ambient: to_caps(c.ambient(), "ambient")?,
        },
        None => Wanted {
            bounding: CapsHashSet::new(),
            effective: CapsHashSet::new(),
            permitted: CapsHashSet::new(),
            inheritable: CapsHashSet::new(),
            ambient: CapsHashSet::new(),
        },
    };
    for cap in caps::all() {
        if !wanted.bounding.contains(&cap)
            && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false)
        {
            caps::drop(None, CapSet::Bounding, cap).with_context(|| {
                format!("process.capabilities: dropping {cap} from the bounding set")
            })?;
        }
    }

    nix::sys::prctl::set_keepcaps(true).context("PR_SET_KEEPCAPS")?;
    let user = process.user();
    let groups: Vec<Gid> =
        user.additional_gids().iter().flatten().map(|g| Gid::from_raw(*g)).collect();
    // setgroups is refused in a user namespace whose setgroups file says
    // "deny"; with no extra groups asked for there is nothing to do.
    if !groups.is_empty() || can_setgroups() {
        nix::unistd::setgroups(&groups).context("process.user.additionalGids: setgroups")?;
    }
    let gid = Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid)
        .with_context(|| format!("process.user.gid: setting {gid}"))?;
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid)
        .with_context(|| format!("process.user.uid: setting {uid}"))?;

    // The uid switch cleared the effective set; permitted survived (KEEPCAPS).
    // Effective is set before permitted shrinks, since effective ⊆ permitted.
    caps::set(None, CapSet::Effective, &wanted.effective)
        .context("process.capabilities.effective")?;
    caps::set(None, CapSet::Permitted, &wanted.permitted)
        .context("process.capabilities.permitted")?;
    caps::set(None, CapSet::Inheritable, &wanted.inheritable)
        .context("process.capabilities.inheritable")?;
    caps::clear(None, CapSet::Ambient).context("process.capabilities.ambient: clearing")?;
    for cap in &wanted.ambient {
        // Ambient needs the cap in permitted and inheritable; the spec
        // leaves the rest to the kernel's rules, so skip what it refuses.
        if wanted.permitted.contains(cap) && wanted.inheritable.contains(cap) {
            caps::raise(None, CapSet::Ambient, *cap)
                .with_context(|| format!("process.capabilities.ambient: {cap}"))?;
        }
    }
    nix::sys::prctl::set_keepcaps(false).context("PR_SET_KEEPCAPS")?;
    Ok(())
}

fn can_setgroups() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}

pub fn set_no_new_privileges(process: &Process) -> Result<()> {
    if process.no_new_privileges() == Some(true) {
        nix::sys::prctl::set_no_new_privs().context("process.noNewPrivileges")?;
    }
    Ok(())
}

/// config.md: "If unspecified, the umask should not be changed from the
/// calling process' umask."
pub fn set_umask(process: &Process) {
    if let Some(umask) = process.user().umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    }
}

/// process.ioPriority: ioprio_set(IOPRIO_WHO_PROCESS, self, class << 13 | level).
pub fn set_io_priority(process: &Process) -> Result<()> {
    use oci_spec::runtime::IOPriorityClass::*;
    let Some(io) = process.io_priority() else {
        return Ok(());
    };
    let class: i64 = match io.class() {
        IoprioClassRt => 1,
        IoprioClassBe => 2,
        IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&io.priority()) {
        bail!("process.ioPriority.priority: {} is not in 0..=7", io.priority());
    }
    const IOPRIO_WHO_PROCESS: i64 = 1;
    let value = class << 13 | io.priority();
    // SAFETY: integer arguments only.
    if unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) } < 0 {
        return Err(std::io::Error::last_os_error()).context("process.ioPriority: ioprio_set");
    }
    Ok(())
}

/// struct sched_attr of sched_setattr(2) (the first version, 48 bytes).
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// process.scheduler: the policy and its attributes, with sched_setattr.
pub fn set_scheduler(process: &Process) -> Result<()> {
    use oci_spec::runtime::LinuxSchedulerFlag as F;
    use oci_spec::runtime::LinuxSchedulerPolicy as P;
    let Some(sched) = process.scheduler() else {
        return Ok(());
    };
    let policy = match sched.policy() {
        P::SchedOther => 0,
        P::SchedFifo => 1,
        P::SchedRr => 2,
        P::SchedBatch => 3,
        P::SchedIso => bail!("process.scheduler.policy: SCHED_ISO is not implemented by Linux"),
        P::SchedIdle => 5,
        P::SchedDeadline => 6,
    };
    let flags = sched.flags().iter().flatten().fold(0u64, |all, flag| {
        all | match flag {
            F::SchedResetOnFork => 0x01,
            F::SchedFlagReclaim => 0x02,
            F::SchedFlagDLOverrun => 0x04,
            F::SchedFlagKeepPolicy => 0x08,
            F::SchedFlagKeepParams => 0x10,
            F::SchedFlagUtilClampMin => 0x20,
            F::SchedFlagUtilClampMax => 0x40,
        }
    });
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: sched.nice().unwrap_or(0),
        priority: sched.priority().unwrap_or(0).max(0) as u32,
        runtime: sched.runtime().unwrap_or(0),
        deadline: sched.deadline().unwrap_or(0),
        period: sched.period().unwrap_or(0),
    };
    // SAFETY: attr is a #[repr(C)] sched_attr whose size field is its own
    // size; the kernel reads it during the call only.
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) } < 0 {
        return Err(std::io::Error::last_os_error()).context("process.scheduler: sched_setattr");
    }
    Ok(())
}

/// process.apparmorProfile and process.selinuxLabel: what this thread
/// becomes at its next exec (validation has checked the module is enabled).
/// Both live in the task's credentials, so a fork made after this call
/// inherits them. Written while /proc is still the host's, before any
/// config mount could cover the file.
pub fn set_exec_labels(process: &oci_spec::runtime::Process) -> Result<()> {
    let set = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    if let Some(profile) = set(process.apparmor_profile()) {
        let request = format!("exec {profile}");
        // /proc/thread-self/attr/apparmor/exec since Linux 5.8, attr/exec before.
        std::fs::write("/proc/thread-self/attr/apparmor/exec", &request)
            .or_else(|_| std::fs::write("/proc/thread-self/attr/exec", &request))
            .with_context(|| format!("process.apparmorProfile: changing to {profile:?} on exec"))?;
    }
    if let Some(label) = set(process.selinux_label()) {
        // attr/exec belongs to the one major LSM the kernel runs; with
        // SELinux enabled that is SELinux, and it takes the bare context.
        std::fs::write("/proc/thread-self/attr/exec", &label)
            .with_context(|| format!("process.selinuxLabel: labelling the exec {label:?}"))?;
    }
    Ok(())
}

/// linux.personality: the execution domain. The spec defines no flags yet,
/// so any given are refused rather than silently dropped.
pub fn set_personality(personality: &oci_spec::runtime::LinuxPersonality) -> Result<()> {
    use oci_spec::runtime::LinuxPersonalityDomain;
    if personality.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        bail!("linux.personality.flags: no flags are defined by the spec");
    }
    // <linux/personality.h>: PER_LINUX = 0, PER_LINUX32 = 0x0008.
    let domain: libc::c_ulong = match personality.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    nix::sys::personality::set(nix::sys::personality::Persona::from_bits_retain(domain as _))
        .context("linux.personality")?;
    Ok(())
}

/// "0-3,7", the list syntax of cpuset (and of NUMA node lists), as a
/// bit mask of 64 per word; numbers must be below `limit`.
pub fn parse_cpuset_list(text: &str, limit: usize) -> Result<Vec<u64>> {
    let mut mask = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let number = |s: &str| -> Result<usize> {
            s.trim().parse().with_context(|| format!("{part:?} is not a number or range"))
        };
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(part)?, number(part)?),
        };
        if first > last {
            bail!("range {part:?} runs backwards");
        }
        if last >= limit {
            bail!("{last} is beyond the limit of {limit}");
        }
        for n in first..=last {
            if mask.len() <= n / 64 {
                mask.resize(n / 64 + 1, 0);
            }
            mask[n / 64] |= 1 << (n % 64);
        }
    }
    Ok(mask)
}

/// Starts `child`, just forked, on another of our CPUs.
///
/// A forked child is queued on its parent's CPU. Where the scheduler does
/// not spread new tasks (no SD_BALANCE_FORK domain, as in small VMs) it
/// runs only once the parent sleeps, so their work follows one another
/// even with a CPU idle. Measured here: a child of a busy parent started
/// after 3.6-4.0 ms, and after 0.12-0.14 ms on the other CPU when the
/// parent took its own CPU out of the child's mask and put it back. The
/// child keeps its queue on the other CPU (it is allowed there) and ends
/// with the affinity it was born with. With one CPU allowed, nothing to do.
pub fn start_elsewhere(child: nix::unistd::Pid) -> Result<()> {
    use nix::sched::{sched_getaffinity, sched_getcpu, sched_setaffinity, CpuSet};
    let Ok(ours) = sched_getaffinity(nix::unistd::Pid::from_raw(0)) else { return Ok(()) };
    let Ok(cpu) = sched_getcpu() else { return Ok(()) };
    let mut others = ours;
    if others.unset(cpu).is_err() || !(0..CpuSet::count()).any(|c| others.is_set(c) == Ok(true)) {
        return Ok(());
    }
    if sched_setaffinity(child, &others).is_err() {
        return Ok(()); // a hint: the child starts later, with its own mask
    }
    sched_setaffinity(child, &ours).context("restoring the intermediate's CPU affinity")
}

/// process.execCPUAffinity's `initial` or `final`: the calling process's
/// CPU affinity, unless the list is empty (then it is left alone).
pub fn set_cpu_affinity(list: Option<&str>, field: &str) -> Result<()> {
    let Some(list) = list.filter(|l| !l.trim().is_empty()) else {
        return Ok(());
    };
    let mut set = nix::sched::CpuSet::new();
    let mask = parse_cpuset_list(list, nix::sched::CpuSet::count())
        .with_context(|| format!("{field}: {list:?}"))?;
    for (word, bits) in mask.iter().enumerate() {
        for bit in (0..64).filter(|b| bits & (1 << b) != 0) {
            set.set(word * 64 + bit).with_context(|| format!("{field}: {list:?}"))?;
        }
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .with_context(|| format!("{field}: setting the CPU affinity to {list:?}"))
}

/// Finds `args[0]` the way execvp would with the container's PATH, and
/// checks it can be executed. The messages match runc's, which engines
/// (podman) turn into exit statuses 127 and 126.
pub fn find_executable(process: &Process) -> Result<PathBuf> {
    let name = process.args().iter().flatten().next().context("process.args: empty")?;
    // Relative names resolve against process.cwd, so the lookup does not
    // depend on having entered it yet (it runs before the seccomp filter).
    let candidate = |p: &Path| -> Result<Option<PathBuf>> {
        let at = process.cwd().join(p);
        match std::fs::metadata(&at) {
            Ok(meta) if meta.is_file() => {
                if meta.permissions().mode() & 0o111 == 0 {
                    bail!("exec: {:?}: permission denied", p);
                }
                Ok(Some(at))
            }
            Ok(_) => bail!("exec: {:?}: permission denied (not a regular file)", p),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("exec: {p:?}")),
        }
    };
    if name.contains('/') {
        return candidate(Path::new(name))?
            .ok_or_else(|| anyhow!("exec: {name:?}: no such file or directory"));
    }
    let path_var = process
        .env()
        .iter()
        .flatten()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        if let Some(found) = candidate(&Path::new(dir).join(name))? {
            return Ok(found);
        }
    }
    bail!("exec: {name:?}: executable file not found in $PATH")
}

/// Replaces this process with the container's program.
pub fn exec(program: &Path, process: &Process) -> Result<std::convert::Infallible> {
    let to_c = |s: &str| CString::new(s).map_err(|_| anyhow!("process: {s:?} contains a NUL byte"));
    let args = process.args().iter().flatten().map(|a| to_c(a)).collect::<Result<Vec<_>>>()?;
    let env = process.env().iter().flatten().map(|e| to_c(e)).collect::<Result<Vec<_>>>()?;
    let program = to_c(&program.to_string_lossy())?;
    nix::unistd::execve(&program, &args, &env).with_context(|| format!("exec {program:?}"))
}

/// Rust ignores SIGPIPE at startup and ignored signals survive exec: the
/// container must start with every disposition at its default and nothing
/// blocked.
pub fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: restores the default disposition; installs no handler.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
    let empty = nix::sys::signal::SigSet::empty();
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&empty),
        None,
    );
}

/// Marks every fd above the caller's inherited ones close-on-exec, so
/// nothing of the runtime's reaches the container, after checking that the
/// inherited ones are still the caller's.
///
/// Call it before the user's seccomp filter is loaded: a profile may deny
/// close_range (allow-lists older than Linux 5.9 do). Where close_range is
/// missing or refused anyway, each open fd is marked one by one.
pub fn close_fds_on_exec(inherited: &crate::fds::Inherited) -> Result<()> {
    inherited.verify()?;
    let first = 3 + inherited.count();
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on fds.
    let rc =
        unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if rc != 0 {
        // Missing (ENOSYS), or refused by a profile with whatever errno
        // it chose.
        let error = std::io::Error::last_os_error();
        if Fault::CloseRangeAfterFilter.active() {
            return Err(error).context("close_range");
        }
        mark_cloexec_from(first as i32)
            .with_context(|| format!("close_range failed ({error}); marking fds one by one"))?;
    }
    // Preserved fds must survive exec even if they were opened CLOEXEC.
    let keep = if Fault::LeakRuntimeFds.active() { 1024 } else { first };
    for fd in 3..keep {
        // SAFETY: clears FD_CLOEXEC on a number; a closed one is EBADF.
        unsafe { libc::fcntl(fd as i32, libc::F_SETFD, 0) };
    }
    Ok(())
}

/// Sets FD_CLOEXEC on every open fd from `first` on, from /proc/self/fd.
fn mark_cloexec_from(first: i32) -> Result<()> {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .context("listing /proc/self/fd")?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD only changes the flag; an fd that was the
        // listing's own (closed by now) gives EBADF, which is fine.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::ProcessBuilder;

    fn process(args: &[&str], env: &[&str]) -> Process {
        ProcessBuilder::default()
            .args(args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .env(env.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap()
    }

    #[test]
    fn programs_are_found_on_the_containers_path() {
        let found = find_executable(&process(&["sh"], &["PATH=/nonexistent:/bin"])).unwrap();
        assert_eq!(found, Path::new("/bin/sh"));
    }

    #[test]
    fn missing_and_non_executable_programs_say_so_like_runc() {
        let err = find_executable(&process(&["no-such-prog"], &["PATH=/bin"])).unwrap_err();
        assert!(err.to_string().contains("executable file not found in $PATH"), "{err}");
        let plain = tempfile::NamedTempFile::new().unwrap();
        std::fs::set_permissions(plain.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = find_executable(&process(&[plain.path().to_str().unwrap()], &[])).unwrap_err();
        assert!(err.to_string().contains("permission denied"), "{err}");
        let err = find_executable(&process(&["/no/such"], &[])).unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
    }

    #[test]
    fn capability_names_map_onto_the_kernels() {
        let set: Capabilities = serde_json::from_str(r#"["CAP_KILL","CAP_CHOWN"]"#).unwrap();
        let caps = to_caps(&Some(set), "bounding").unwrap();
        assert!(caps.contains(&Capability::CAP_KILL) && caps.contains(&Capability::CAP_CHOWN));
    }
}
