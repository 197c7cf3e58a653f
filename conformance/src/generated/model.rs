//! What a generated config varies, within what the host can give: every
//! value drawn here is one a conforming runtime must run as asked, so any
//! difference the probe sees is the runtime's. The model is small on
//! purpose: it is what a failure prints after shrinking.

use crate::capability;
use anyhow::{Context, Result};
use litmus_bundle::default_spec;
use oci_spec::runtime::{
    Capability, LinuxCapabilitiesBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, MountBuilder,
    PosixRlimitBuilder, PosixRlimitType, Spec, UserBuilder,
};
use proptest::prelude::*;
use proptest::sample::subsequence;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// One generated container. A failure report shows it through
/// [`Generated::to_json`], which leaves out the fields at their defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Generated {
    pub hostname: Option<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    /// Bounding, permitted and effective.
    pub capabilities: Vec<Capability>,
    /// Ambient and inheritable: a subset of `capabilities`.
    pub ambient: Vec<Capability>,
    pub rlimits: Vec<Rlimit>,
    /// Namespaces besides the mount namespace (always new).
    pub namespaces: Vec<Namespace>,
    pub sysctls: BTreeMap<String, String>,
    pub tmpfs: Vec<Tmpfs>,
    pub binds: Vec<Bind>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub root_readonly: bool,
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
    pub seccomp: Option<Seccomp>,
    pub devices: Vec<Device>,
    /// Namespaces joined by path (a pod's shared ones), each held by a
    /// process litmus starts for the run.
    pub joined: Vec<Namespace>,
    /// Runtime-side hooks, one per phase, each appending its phase's name
    /// to [`HOOK_LOG`] in the work directory.
    pub hooks: Vec<HookPhase>,
    /// `linux.resources`, of the controllers the host has.
    pub resources: Option<Resources>,
}

/// Limits of `linux.resources` whose value the container's cgroup files
/// show unchanged. Each is present only where the host has its
/// controller; cpu shares only under cgroup v1, because on v2 they become
/// cpu.weight by a conversion the spec leaves open (runc and crun differ).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    /// (quota, period) in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<(i64, u64)>,
}

impl Resources {
    fn is_empty(&self) -> bool {
        *self == Resources::default()
    }

    fn to_spec(&self) -> Result<oci_spec::runtime::LinuxResources> {
        use oci_spec::runtime::{
            LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
        };
        let mut resources = LinuxResourcesBuilder::default();
        if let Some(mib) = self.memory_mib {
            resources =
                resources.memory(LinuxMemoryBuilder::default().limit(mib * 1024 * 1024).build()?);
        }
        if let Some(limit) = self.pids {
            resources = resources.pids(LinuxPidsBuilder::default().limit(limit).build()?);
        }
        if self.cpu_shares.is_some() || self.cpu_quota.is_some() {
            let mut cpu = LinuxCpuBuilder::default();
            if let Some(shares) = self.cpu_shares {
                cpu = cpu.shares(shares);
            }
            if let Some((quota, period)) = self.cpu_quota {
                cpu = cpu.quota(quota).period(period);
            }
            resources = resources.cpu(cpu.build()?);
        }
        Ok(resources.build()?)
    }
}

/// The cgroup controllers a generated config may limit: those the host
/// has mounted, read once.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Controllers {
    pub memory: bool,
    pub pids: bool,
    pub cpu_quota: bool,
    /// cgroup v1's cpu.shares (see [`Resources`]).
    pub cpu_shares: bool,
}

impl Controllers {
    /// v1 hierarchies under /sys/fs/cgroup/CONTROLLER, else the v2
    /// controllers of /sys/fs/cgroup/cgroup.controllers.
    pub fn of_host() -> Controllers {
        Controllers::of(Path::new("/sys/fs/cgroup"))
    }

    fn of(root: &Path) -> Controllers {
        let v2: Vec<String> = std::fs::read_to_string(root.join("cgroup.controllers"))
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect();
        let has = |v1_file: &str, v2_name: &str| {
            root.join(v1_file).exists() || v2.iter().any(|c| c == v2_name)
        };
        Controllers {
            memory: has("memory/memory.limit_in_bytes", "memory"),
            pids: has("pids/cgroup.procs", "pids"),
            cpu_quota: has("cpu/cpu.cfs_quota_us", "cpu"),
            cpu_shares: root.join("cpu/cpu.shares").exists(),
        }
    }
}

/// Where the generated hooks write, in the config's work directory.
pub const HOOK_LOG: &str = "hooks.log";

/// The hook phases that run in the runtime's namespaces, in lifecycle
/// order (prestart is deprecated, and still sent by engines' plugins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HookPhase {
    Prestart,
    CreateRuntime,
    Poststart,
    Poststop,
}

impl HookPhase {
    pub const ALL: [HookPhase; 4] =
        [HookPhase::Prestart, HookPhase::CreateRuntime, HookPhase::Poststart, HookPhase::Poststop];

    pub fn name(self) -> &'static str {
        match self {
            HookPhase::Prestart => "prestart",
            HookPhase::CreateRuntime => "createRuntime",
            HookPhase::Poststart => "poststart",
            HookPhase::Poststop => "poststop",
        }
    }
}

/// A character device of `linux.devices` (a copy of a memory device, so
/// nothing is reachable through it that the container does not have).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub path: String,
    pub major: i64,
    pub minor: i64,
    pub file_mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Paths and numbers of the devices tried: /dev/null, /dev/zero and
/// /dev/full under new names, one in a directory the runtime must make.
const DEVICES: &[(&str, i64, i64)] =
    &[("/dev/litmus-null", 1, 3), ("/dev/litmus-zero", 1, 5), ("/dev/litmus/full", 1, 7)];

impl Device {
    /// How the statement reads in a view: what stat shows.
    pub fn describe(kind: &str, major: i64, minor: i64, mode: u32, uid: u32, gid: u32) -> String {
        format!("{kind} {major}:{minor} mode {mode:o} uid {uid} gid {gid}")
    }
}

/// A seccomp profile of the shapes engines send: an allow-list (default
/// SCMP_ACT_ERRNO, every other call allowed; `old`: written before the
/// calls of Linux 4.11 on, statx and close_range among them, existed) or
/// a deny-list (default SCMP_ACT_ALLOW). It denies some of [`DENIABLE`],
/// calls whose kernel answer (with these arguments) is another errno, so
/// the probe sees whether the filter is there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Seccomp {
    pub allow_list: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub old: bool,
    /// errnoRet of the denials (None: the spec's EPERM).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub errno: Option<u32>,
    pub denied: Vec<String>,
    /// keyctl is decided by a condition on its first argument (the
    /// probe's 9999) rather than by its name alone.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub keyctl_by_arg: bool,
}

/// (name, number, probe arguments, errno the kernel gives without a
/// filter): an unknown keyctl operation, and a NULL key type.
pub const DENIABLE: &[(&str, i64, &[u64], i32)] = &[
    ("keyctl", libc::SYS_keyctl, &[9999], libc::EOPNOTSUPP),
    ("add_key", libc::SYS_add_key, &[0, 0, 0, 0, 0], libc::EFAULT),
    ("request_key", libc::SYS_request_key, &[0, 0, 0, 0], libc::EFAULT),
];

/// errnoRet values a profile may give: none is a kernel answer above.
const SECCOMP_ERRNOS: &[u32] = &[1, 5, 13, 38];

impl Seccomp {
    /// The errno the probe's call of `name` gets under this profile.
    pub fn expected_errno(&self, name: &str) -> i32 {
        let kernel = DENIABLE.iter().find(|d| d.0 == name).map_or(0, |d| d.3);
        if self.denied.iter().any(|d| d == name) {
            self.errno.map_or(libc::EPERM, |e| e as i32)
        } else {
            kernel
        }
    }

    /// The `linux.seccomp` document.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let errno_ret = |rule: &mut serde_json::Value| {
            if let Some(e) = self.errno {
                rule["errnoRet"] = json!(e);
            }
        };
        let keyctl_condition = |op: &str| json!([{"index": 0, "value": 9999, "op": op}]);
        let denied = |name: &str| self.denied.iter().any(|d| d == name);
        if self.allow_list {
            let newest = if self.old {
                crate::cases::syscall_names::X86_64
                    .iter()
                    .position(|n| *n == "statx")
                    .unwrap_or(usize::MAX)
            } else {
                usize::MAX
            };
            let mut names: Vec<&str> = crate::cases::syscall_names::X86_64
                .iter()
                .take(newest)
                .copied()
                .filter(|n| !denied(n))
                .collect();
            let mut rules = Vec::new();
            if self.keyctl_by_arg && denied("keyctl") {
                // Allowed except for the probe's operation.
                rules.push(json!({"names": ["keyctl"], "action": "SCMP_ACT_ALLOW",
                    "args": keyctl_condition("SCMP_CMP_NE")}));
            }
            names.retain(|n| !(self.keyctl_by_arg && *n == "keyctl"));
            rules.insert(0, json!({"names": names, "action": "SCMP_ACT_ALLOW"}));
            let mut profile = json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules});
            if let Some(e) = self.errno {
                profile["defaultErrnoRet"] = json!(e);
            }
            profile
        } else {
            let mut rules = Vec::new();
            for name in &self.denied {
                let mut rule = json!({"names": [name], "action": "SCMP_ACT_ERRNO"});
                if name == "keyctl" && self.keyctl_by_arg {
                    rule["args"] = keyctl_condition("SCMP_CMP_EQ");
                }
                errno_ret(&mut rule);
                rules.push(rule);
            }
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
        }
    }
}

/// The fixture config's own values: what a field left out of a shrunk
/// config falls back to.
impl Generated {
    /// The model as a failure report shows it and shrinking cuts it: only
    /// the fields that differ from [`Generated::default`] (the fixture
    /// config's own values), so each key is a choice the draw made.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("the model serializes");
        let defaults = serde_json::to_value(Generated::default()).expect("the model serializes");
        if let (Some(fields), Some(defaults)) = (value.as_object_mut(), defaults.as_object()) {
            fields.retain(|name, field| defaults.get(name) != Some(field));
        }
        value
    }
}

impl Default for Generated {
    fn default() -> Generated {
        Generated {
            hostname: None,
            env: BTreeMap::new(),
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
            umask: None,
            capabilities: Vec::new(),
            ambient: Vec::new(),
            rlimits: Vec::new(),
            namespaces: Vec::new(),
            sysctls: BTreeMap::new(),
            tmpfs: Vec::new(),
            binds: Vec::new(),
            masked_paths: Vec::new(),
            readonly_paths: Vec::new(),
            root_readonly: false,
            no_new_privileges: false,
            oom_score_adj: None,
            seccomp: None,
            devices: Vec::new(),
            joined: Vec::new(),
            hooks: Vec::new(),
            resources: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    Pid,
    Ipc,
    Uts,
    Network,
    Cgroup,
}

impl Namespace {
    pub const ALL: [Namespace; 5] =
        [Namespace::Pid, Namespace::Ipc, Namespace::Uts, Namespace::Network, Namespace::Cgroup];

    /// Its name under /proc/self/ns.
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::Pid => "pid",
            Namespace::Ipc => "ipc",
            Namespace::Uts => "uts",
            Namespace::Network => "net",
            Namespace::Cgroup => "cgroup",
        }
    }

    /// The types a generated config may join by path: a joined pid
    /// namespace needs its init alive for the whole run, a cgroup one says
    /// nothing the probe can check beyond the inode.
    pub const JOINABLE: [Namespace; 3] = [Namespace::Ipc, Namespace::Uts, Namespace::Network];

    pub fn clone_flag(self) -> nix::sched::CloneFlags {
        use nix::sched::CloneFlags;
        match self {
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Network => CloneFlags::CLONE_NEWNET,
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        }
    }

    fn spec_type(self) -> LinuxNamespaceType {
        match self {
            Namespace::Pid => LinuxNamespaceType::Pid,
            Namespace::Ipc => LinuxNamespaceType::Ipc,
            Namespace::Uts => LinuxNamespaceType::Uts,
            Namespace::Network => LinuxNamespaceType::Network,
            Namespace::Cgroup => LinuxNamespaceType::Cgroup,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rlimit {
    pub kind: RlimitKind,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RlimitKind {
    Nofile,
    Core,
    Memlock,
    Msgqueue,
    Nice,
    Rtprio,
    Sigpending,
    Nproc,
}

impl RlimitKind {
    pub const ALL: [RlimitKind; 8] = [
        RlimitKind::Nofile,
        RlimitKind::Core,
        RlimitKind::Memlock,
        RlimitKind::Msgqueue,
        RlimitKind::Nice,
        RlimitKind::Rtprio,
        RlimitKind::Sigpending,
        RlimitKind::Nproc,
    ];

    /// The row of /proc/self/limits, as the probe reports it.
    pub fn limits_row(self) -> &'static str {
        match self {
            RlimitKind::Nofile => "Max open files",
            RlimitKind::Core => "Max core file size",
            RlimitKind::Memlock => "Max locked memory",
            RlimitKind::Msgqueue => "Max msgqueue size",
            RlimitKind::Nice => "Max nice priority",
            RlimitKind::Rtprio => "Max realtime priority",
            RlimitKind::Sigpending => "Max pending signals",
            RlimitKind::Nproc => "Max processes",
        }
    }

    fn resource(self) -> nix::sys::resource::Resource {
        use nix::sys::resource::Resource;
        match self {
            RlimitKind::Nofile => Resource::RLIMIT_NOFILE,
            RlimitKind::Core => Resource::RLIMIT_CORE,
            RlimitKind::Memlock => Resource::RLIMIT_MEMLOCK,
            RlimitKind::Msgqueue => Resource::RLIMIT_MSGQUEUE,
            RlimitKind::Nice => Resource::RLIMIT_NICE,
            RlimitKind::Rtprio => Resource::RLIMIT_RTPRIO,
            RlimitKind::Sigpending => Resource::RLIMIT_SIGPENDING,
            RlimitKind::Nproc => Resource::RLIMIT_NPROC,
        }
    }

    fn spec_type(self) -> PosixRlimitType {
        match self {
            RlimitKind::Nofile => PosixRlimitType::RlimitNofile,
            RlimitKind::Core => PosixRlimitType::RlimitCore,
            RlimitKind::Memlock => PosixRlimitType::RlimitMemlock,
            RlimitKind::Msgqueue => PosixRlimitType::RlimitMsgqueue,
            RlimitKind::Nice => PosixRlimitType::RlimitNice,
            RlimitKind::Rtprio => PosixRlimitType::RlimitRtprio,
            RlimitKind::Sigpending => PosixRlimitType::RlimitSigpending,
            RlimitKind::Nproc => PosixRlimitType::RlimitNproc,
        }
    }

    /// The lowest soft limit that still lets the probe run: it opens a
    /// few files, and the kernel refuses execve past RLIMIT_NPROC.
    fn floor(self) -> u64 {
        match self {
            RlimitKind::Nofile => 64,
            RlimitKind::Nproc => 4096,
            _ => 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tmpfs {
    pub destination: String,
    /// Among ro, nosuid, nodev, noexec.
    pub flags: Vec<String>,
    pub mode: u32,
    pub size_kib: u64,
}

/// A bind mount of a fresh host directory holding a file named `marker`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bind {
    pub destination: String,
    pub readonly: bool,
}

/// What the host offers, read once before generating.
#[derive(Clone, Debug)]
pub struct Host {
    /// Hard limits this process holds: without CAP_SYS_RESOURCE nobody
    /// here can raise them, so generated limits stay below.
    pub hard_limits: Vec<(RlimitKind, u64)>,
    /// oom_score_adj can only be lowered below our own with CAP_SYS_RESOURCE.
    pub oom_score_adj_min: i32,
    /// process.user.umask came with runtime-spec 1.1.0.
    pub umask: bool,
    /// linux.seccomp.defaultErrnoRet came with runtime-spec 1.1.0.
    pub default_errno_ret: bool,
    pub masked_candidates: Vec<String>,
    pub readonly_candidates: Vec<String>,
    /// Capabilities this process holds: a runtime started by us cannot
    /// give more (root here lacks CAP_SYS_RESOURCE, for one).
    pub capabilities: Vec<Capability>,
    pub controllers: Controllers,
}

/// Values large enough to mean "unlimited" are capped so generated limits
/// stay readable.
const LIMIT_CAP: u64 = 1 << 20;

impl Host {
    pub fn probe(spec_version: &str) -> Host {
        let hard_limits = RlimitKind::ALL
            .iter()
            .filter_map(|&kind| {
                let (_, hard) = nix::sys::resource::getrlimit(kind.resource()).ok()?;
                let hard = hard.min(LIMIT_CAP);
                (hard >= kind.floor()).then_some((kind, hard))
            })
            .collect();
        let oom_score_adj_min = std::fs::read_to_string("/proc/self/oom_score_adj")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let existing = |paths: &[&str]| -> Vec<String> {
            paths.iter().filter(|p| Path::new(p).exists()).map(|p| p.to_string()).collect()
        };
        let held = own_capability_mask();
        Host {
            controllers: Controllers::of_host(),
            capabilities: capability::ALL
                .iter()
                .copied()
                .filter(|&c| held & (1 << capability::number(c)) != 0)
                .collect(),
            hard_limits,
            oom_score_adj_min,
            umask: crate::catalogue::version_le("1.1.0", spec_version),
            default_errno_ret: crate::catalogue::version_le("1.1.0", spec_version),
            masked_candidates: existing(&[
                "/proc/kcore",
                "/proc/keys",
                "/proc/timer_list",
                "/proc/sched_debug",
                "/proc/scsi",
                "/sys/firmware",
                "/proc/acpi",
            ]),
            readonly_candidates: existing(&[
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ]),
        }
    }
}

/// This process's permitted set, from /proc/self/status.
fn own_capability_mask() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapPrm:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .unwrap_or(0)
}

/// Directories of the fixture rootfs a process may start in.
const CWDS: &[&str] = &["/", "/tmp", "/bin", "/etc", "/dev"];
const TMPFS_DESTINATIONS: &[&str] = &["/mnt/a", "/mnt/b", "/srv/data", "/tmp/t", "/opt/x/y"];
const BIND_DESTINATIONS: &[&str] = &["/data", "/mnt/c", "/home/shared"];
const MOUNT_FLAGS: &[&str] = &["ro", "nosuid", "nodev", "noexec"];
/// Namespaced sysctls and the values tried, by the namespace they need.
const SYSCTLS: &[(Namespace, &str, u32, u32)] = &[
    (Namespace::Ipc, "kernel.msgmax", 1024, 65536),
    (Namespace::Ipc, "kernel.shmmni", 1024, 8192),
    (Namespace::Ipc, "fs.mqueue.msg_max", 10, 100),
    (Namespace::Network, "net.ipv4.ip_forward", 0, 1),
    (Namespace::Network, "net.ipv4.tcp_keepalive_time", 60, 7200),
];

fn id() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(1000), Just(65534), 1u32..60000]
}

fn capabilities(host: &Host) -> impl Strategy<Value = Vec<Capability>> {
    subsequence(host.capabilities.clone(), 0..=host.capabilities.len())
}

/// Each of `items` present or not: shrinking drops them one by one.
fn some_of<T: std::fmt::Debug + Clone + 'static>(
    items: Vec<BoxedStrategy<T>>,
) -> impl Strategy<Value = Vec<T>> {
    items
        .into_iter()
        .map(proptest::option::of)
        .collect::<Vec<_>>()
        .prop_map(|chosen| chosen.into_iter().flatten().collect())
}

fn rlimits(host: &Host) -> impl Strategy<Value = Vec<Rlimit>> {
    some_of(
        host.hard_limits
            .iter()
            .map(|&(kind, max)| {
                (kind.floor()..=max)
                    .prop_flat_map(move |hard| (kind.floor()..=hard, Just(hard)))
                    .prop_map(move |(soft, hard)| Rlimit { kind, soft, hard })
                    .boxed()
            })
            .collect(),
    )
}

fn tmpfs() -> impl Strategy<Value = Vec<Tmpfs>> {
    some_of(
        TMPFS_DESTINATIONS
            .iter()
            .map(|&destination| {
                (
                    subsequence(MOUNT_FLAGS.to_vec(), 0..=MOUNT_FLAGS.len()),
                    prop_oneof![Just(0o755u32), Just(0o700), Just(0o1777)],
                    64u64..4096,
                )
                    .prop_map(move |(flags, mode, size_kib)| Tmpfs {
                        destination: destination.to_string(),
                        flags: flags.into_iter().map(String::from).collect(),
                        mode,
                        size_kib,
                    })
                    .boxed()
            })
            .collect(),
    )
}

fn binds() -> impl Strategy<Value = Vec<Bind>> {
    some_of(
        BIND_DESTINATIONS
            .iter()
            .map(|&destination| {
                any::<bool>()
                    .prop_map(move |readonly| Bind {
                        destination: destination.to_string(),
                        readonly,
                    })
                    .boxed()
            })
            .collect(),
    )
}

fn sysctls() -> impl Strategy<Value = Vec<(Namespace, String, String)>> {
    some_of(
        SYSCTLS
            .iter()
            .map(|&(ns, key, low, high)| {
                (low..=high).prop_map(move |v| (ns, key.to_string(), v.to_string())).boxed()
            })
            .collect(),
    )
}

fn seccomp(host: &Host) -> impl Strategy<Value = Seccomp> {
    let default_errno_ret = host.default_errno_ret;
    (
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(proptest::sample::select(SECCOMP_ERRNOS)),
        subsequence(DENIABLE.iter().map(|d| d.0).collect::<Vec<_>>(), 1..=DENIABLE.len()),
        any::<bool>(),
    )
        .prop_map(move |(allow_list, old, errno, denied, keyctl_by_arg)| Seccomp {
            allow_list,
            old: old && allow_list,
            // An allow-list's denials are its default action, whose errno
            // is defaultErrnoRet (1.1.0).
            errno: errno.filter(|_| !allow_list || default_errno_ret),
            denied: denied.into_iter().map(String::from).collect(),
            keyctl_by_arg,
        })
}

fn devices() -> impl Strategy<Value = Vec<Device>> {
    some_of(
        DEVICES
            .iter()
            .map(|&(path, major, minor)| {
                (prop_oneof![Just(0o600u32), Just(0o640), Just(0o666)], id(), id())
                    .prop_map(move |(file_mode, uid, gid)| Device {
                        path: path.to_string(),
                        major,
                        minor,
                        file_mode,
                        uid,
                        gid,
                    })
                    .boxed()
            })
            .collect(),
    )
}

/// Limits a probe still runs under: at least 32 MiB, 16 tasks and a
/// tenth of a CPU (under a lower quota a loaded host would time it out).
fn resources(controllers: Controllers) -> impl Strategy<Value = Resources> {
    let when = |on: bool| if on { 0..=1usize } else { 0..=0 };
    (
        proptest::collection::vec(32i64..=512, when(controllers.memory)),
        proptest::collection::vec(16i64..=4096, when(controllers.pids)),
        proptest::collection::vec(2u64..=8192, when(controllers.cpu_shares)),
        proptest::collection::vec(
            (10_000u64..=500_000)
                .prop_flat_map(|period| ((period / 10) as i64..=2 * period as i64, Just(period))),
            when(controllers.cpu_quota),
        ),
    )
        .prop_map(|(memory, pids, shares, quota)| Resources {
            memory_mib: memory.first().copied(),
            pids: pids.first().copied(),
            cpu_shares: shares.first().copied(),
            cpu_quota: quota.first().copied(),
        })
}

/// Generated containers for `host`.
pub fn strategy(host: &Host) -> impl Strategy<Value = Generated> {
    let process = (
        proptest::option::of("[a-z][a-z0-9-]{0,14}"),
        proptest::collection::btree_map("G_[A-Z0-9_]{1,8}", "[ -~]{0,24}", 0..4),
        proptest::sample::select(CWDS),
        (id(), id(), proptest::collection::vec(id(), 0..4)),
        proptest::option::of(0u32..=0o777),
        capabilities(host).prop_flat_map(|caps| {
            let len = caps.len();
            (Just(caps.clone()), subsequence(caps, 0..=len))
        }),
        any::<bool>(),
        proptest::option::of(host.oom_score_adj_min..=1000),
    );
    let container = (
        rlimits(host),
        subsequence(Namespace::ALL.to_vec(), 0..=Namespace::ALL.len()),
        sysctls(),
        tmpfs(),
        binds(),
        subsequence(host.masked_candidates.clone(), 0..=host.masked_candidates.len()),
        subsequence(host.readonly_candidates.clone(), 0..=host.readonly_candidates.len()),
        any::<bool>(),
    );
    let umask_supported = host.umask;
    let extra = (
        proptest::option::of(seccomp(host)),
        devices(),
        subsequence(Namespace::JOINABLE.to_vec(), 0..=Namespace::JOINABLE.len()),
        subsequence(HookPhase::ALL.to_vec(), 0..=HookPhase::ALL.len()),
        proptest::option::of(resources(host.controllers)),
    );
    (process, container, extra).prop_map(move |(process, container, (seccomp, devices, joined, hooks, resources))| {
        let (hostname, env, cwd, (uid, gid, additional_gids), umask, (caps, ambient), nnp, oom) =
            process;
        let (rlimits, namespaces, sysctls, tmpfs, binds, masked, readonly, root_readonly) =
            container;
        Generated {
            hostname,
            env,
            cwd: cwd.to_string(),
            uid,
            gid,
            additional_gids,
            umask: umask.filter(|_| umask_supported),
            capabilities: caps,
            ambient,
            rlimits,
            sysctls: sysctls.into_iter().map(|(_, k, v)| (k, v)).collect(),
            namespaces,
            tmpfs,
            binds,
            masked_paths: masked,
            readonly_paths: readonly,
            root_readonly,
            no_new_privileges: nnp,
            oom_score_adj: oom,
            seccomp,
            devices,
            joined,
            hooks,
            resources,
        }
        .normalized()
    })
}

impl Generated {
    /// The same config with the spec's dependencies between fields
    /// restored: a hostname needs its own UTS namespace, a sysctl the
    /// namespace it belongs to, an ambient capability its bounding one.
    /// Shrinking cuts fields independently; this keeps every cut valid.
    pub fn normalized(mut self) -> Generated {
        // A type is either new or joined; joined wins.
        let joined = self.joined.clone();
        self.namespaces.retain(|ns| !joined.contains(ns));
        let has = |ns: Namespace| self.namespaces.contains(&ns) || self.joined.contains(&ns);
        if !has(Namespace::Uts) {
            self.hostname = None;
        }
        let needs = |key: &str| SYSCTLS.iter().find(|s| s.1 == key).map(|s| s.0);
        let sysctls = std::mem::take(&mut self.sysctls);
        self.sysctls = sysctls.into_iter().filter(|(k, _)| needs(k).is_some_and(has)).collect();
        let caps = self.capabilities.clone();
        self.ambient.retain(|c| caps.contains(c));
        self.hooks.sort();
        self.hooks.dedup();
        if let Some(seccomp) = &mut self.seccomp {
            seccomp.old &= seccomp.allow_list;
            seccomp.keyctl_by_arg &= seccomp.denied.iter().any(|d| d == "keyctl");
            if seccomp.denied.is_empty() {
                self.seccomp = None;
            }
        }
        if self.resources.as_ref().is_some_and(Resources::is_empty) {
            self.resources = None;
        }
        self
    }

    /// The probe's command line: a full report, then each path and sysctl
    /// the config says something about.
    pub fn probe_args(&self) -> Vec<String> {
        let mut args = vec!["report".to_string()];
        let paths = self
            .tmpfs
            .iter()
            .map(|t| t.destination.clone())
            .chain(self.binds.iter().map(|b| format!("{}/marker", b.destination)))
            .chain(self.masked_paths.iter().cloned())
            .chain(self.devices.iter().map(|d| d.path.clone()));
        for path in paths {
            args.extend(["path".to_string(), path]);
        }
        for key in self.sysctls.keys() {
            args.extend(["sysctl".to_string(), key.clone()]);
        }
        if self.seccomp.is_some() {
            for (_, nr, call_args, _) in DENIABLE {
                let call = std::iter::once(nr.to_string())
                    .chain(call_args.iter().map(u64::to_string))
                    .collect::<Vec<_>>()
                    .join(",");
                args.extend(["syscall".to_string(), call]);
            }
        }
        args
    }

    /// The config.json this model stands for; bind sources are made
    /// under `work`.
    /// `joined` gives the path of each namespace in [`Generated::joined`].
    pub fn to_spec(&self, work: &Path, joined: &[(Namespace, String)]) -> Result<Spec> {
        let args = self.probe_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut spec = default_spec(&args);
        spec.set_hostname(self.hostname.clone());

        let process = spec.process_mut().as_mut().expect("fixture specs have a process");
        let mut env = process.env().clone().unwrap_or_default();
        env.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        process.set_env(Some(env));
        process.set_cwd(self.cwd.clone().into());
        let mut user = UserBuilder::default()
            .uid(self.uid)
            .gid(self.gid)
            .additional_gids(self.additional_gids.clone());
        if let Some(umask) = self.umask {
            user = user.umask(umask);
        }
        process.set_user(user.build()?);
        let set = |caps: &[Capability]| caps.iter().copied().collect::<HashSet<_>>();
        process.set_capabilities(Some(
            LinuxCapabilitiesBuilder::default()
                .bounding(set(&self.capabilities))
                .permitted(set(&self.capabilities))
                .effective(set(&self.capabilities))
                .inheritable(set(&self.ambient))
                .ambient(set(&self.ambient))
                .build()?,
        ));
        let rlimits = self
            .rlimits
            .iter()
            .map(|r| {
                PosixRlimitBuilder::default()
                    .typ(r.kind.spec_type())
                    .soft(r.soft)
                    .hard(r.hard)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        process.set_rlimits(Some(rlimits));
        process.set_no_new_privileges(Some(self.no_new_privileges));
        process.set_oom_score_adj(self.oom_score_adj);

        if let Some(root) = spec.root_mut() {
            root.set_readonly(Some(self.root_readonly));
        }
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        for t in &self.tmpfs {
            let mut options = t.flags.clone();
            options.push(format!("mode={:o}", t.mode));
            options.push(format!("size={}k", t.size_kib));
            mounts.push(
                MountBuilder::default()
                    .destination(&t.destination)
                    .typ("tmpfs")
                    .source("tmpfs")
                    .options(options)
                    .build()?,
            );
        }
        for (i, b) in self.binds.iter().enumerate() {
            let source = work.join(format!("bind-source-{i}"));
            std::fs::create_dir_all(&source)
                .with_context(|| format!("creating {}", source.display()))?;
            std::fs::write(source.join("marker"), b.destination.as_bytes())?;
            let mut options = vec!["rbind".to_string()];
            if b.readonly {
                options.push("ro".to_string());
            }
            mounts.push(
                MountBuilder::default()
                    .destination(&b.destination)
                    .typ("bind")
                    .source(source)
                    .options(options)
                    .build()?,
            );
        }
        spec.set_mounts(Some(mounts));

        let linux = spec.linux_mut().as_mut().expect("fixture specs have linux");
        let mut namespaces =
            vec![LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Mount).build()?];
        for ns in &self.namespaces {
            namespaces.push(LinuxNamespaceBuilder::default().typ(ns.spec_type()).build()?);
        }
        for ns in &self.joined {
            let path = joined.iter().find(|(n, _)| n == ns).map(|(_, p)| p.clone()).with_context(
                || format!("no holder of the {} namespace to join", ns.proc_name()),
            )?;
            namespaces
                .push(LinuxNamespaceBuilder::default().typ(ns.spec_type()).path(path).build()?);
        }
        linux.set_namespaces(Some(namespaces));
        linux.set_sysctl(Some(self.sysctls.clone().into_iter().collect()));
        linux.set_masked_paths(Some(self.masked_paths.clone()));
        linux.set_readonly_paths(Some(self.readonly_paths.clone()));
        if let Some(seccomp) = &self.seccomp {
            linux.set_seccomp(Some(serde_json::from_value(seccomp.to_json())?));
        }
        if !self.hooks.is_empty() {
            let log = work.join(HOOK_LOG);
            let hook = |phase: HookPhase| -> Result<Vec<oci_spec::runtime::Hook>> {
                if !self.hooks.contains(&phase) {
                    return Ok(Vec::new());
                }
                Ok(vec![oci_spec::runtime::HookBuilder::default()
                    .path("/bin/sh")
                    .args(vec![
                        "sh".to_string(),
                        "-c".to_string(),
                        format!("cat >/dev/null; echo {} >> {}", phase.name(), log.display()),
                    ])
                    .build()?])
            };
            #[allow(deprecated)]
            let hooks = oci_spec::runtime::HooksBuilder::default()
                .prestart(hook(HookPhase::Prestart)?)
                .create_runtime(hook(HookPhase::CreateRuntime)?)
                .poststart(hook(HookPhase::Poststart)?)
                .poststop(hook(HookPhase::Poststop)?)
                .build()?;
            spec.set_hooks(Some(hooks));
        }
        let linux = spec.linux_mut().as_mut().expect("fixture specs have linux");
        if !self.devices.is_empty() {
            let mut devices = linux.devices().clone().unwrap_or_default();
            for d in &self.devices {
                devices.push(
                    oci_spec::runtime::LinuxDeviceBuilder::default()
                        .path(&d.path)
                        .typ(oci_spec::runtime::LinuxDeviceType::C)
                        .major(d.major)
                        .minor(d.minor)
                        .file_mode(d.file_mode)
                        .uid(d.uid)
                        .gid(d.gid)
                        .build()?,
                );
            }
            linux.set_devices(Some(devices));
        }
        if let Some(resources) = &self.resources {
            linux.set_resources(Some(resources.to_spec()?));
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(allow_list: bool, old: bool, errno: Option<u32>, by_arg: bool) -> Seccomp {
        Seccomp {
            allow_list,
            old,
            errno,
            denied: vec!["keyctl".into(), "add_key".into()],
            keyctl_by_arg: by_arg,
        }
    }

    fn names(rule: &serde_json::Value) -> Vec<String> {
        rule["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn a_report_shows_only_the_fields_a_draw_changed_and_reads_back() {
        assert_eq!(Generated::default().to_json(), serde_json::json!({}));
        let model = Generated {
            hostname: Some("h".into()),
            uid: 1000,
            cwd: "/tmp".into(),
            root_readonly: true,
            ..Generated::default()
        };
        let json = model.to_json();
        assert_eq!(
            json,
            serde_json::json!({"hostname": "h", "uid": 1000, "cwd": "/tmp", "root_readonly": true})
        );
        assert_eq!(serde_json::from_value::<Generated>(json).unwrap(), model);
    }

    #[test]
    fn a_deny_list_lists_the_denied_calls_with_their_errno() {
        let json = profile(false, false, Some(13), true).to_json();
        assert_eq!(json["defaultAction"], "SCMP_ACT_ALLOW");
        let rules = json["syscalls"].as_array().unwrap();
        assert_eq!(names(&rules[0]), ["keyctl"]);
        assert_eq!(rules[0]["args"][0]["op"], "SCMP_CMP_EQ");
        assert_eq!(rules[1]["errnoRet"], 13);
        let spec: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(json).unwrap();
        assert_eq!(spec.syscalls().as_ref().unwrap().len(), 2);
    }

    #[test]
    fn an_old_allow_list_leaves_out_statx_and_later_calls_and_the_denied_ones() {
        let json = profile(true, true, Some(38), false).to_json();
        assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(json["defaultErrnoRet"], 38);
        let allowed = names(&json["syscalls"][0]);
        for gone in ["statx", "close_range", "openat2", "keyctl", "add_key"] {
            assert!(!allowed.iter().any(|n| n == gone), "{gone} allowed");
        }
        for kept in ["read", "execve", "request_key", "newfstatat"] {
            assert!(allowed.iter().any(|n| n == kept), "{kept} missing");
        }
        let recent = profile(true, false, None, true).to_json();
        let allowed = names(&recent["syscalls"][0]);
        assert!(allowed.iter().any(|n| n == "close_range"));
        assert!(!allowed.iter().any(|n| n == "keyctl"));
        assert_eq!(names(&recent["syscalls"][1]), ["keyctl"]);
        assert_eq!(recent["syscalls"][1]["args"][0]["op"], "SCMP_CMP_NE");
    }

    #[test]
    fn expected_errnos_are_the_profiles_for_denied_calls_and_the_kernels_otherwise() {
        let p = profile(false, false, None, false);
        assert_eq!(p.expected_errno("keyctl"), libc::EPERM);
        assert_eq!(p.expected_errno("request_key"), libc::EFAULT);
        let p = profile(false, false, Some(5), false);
        assert_eq!(p.expected_errno("add_key"), 5);
        for errno in SECCOMP_ERRNOS {
            assert!(DENIABLE.iter().all(|d| d.3 != *errno as i32));
        }
    }

    #[test]
    fn controllers_are_read_from_v1_hierarchies_or_the_v2_list() {
        let v1 = tempfile::tempdir().unwrap();
        for file in ["memory/memory.limit_in_bytes", "cpu/cpu.cfs_quota_us", "cpu/cpu.shares"] {
            let path = v1.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let found = Controllers::of(v1.path());
        assert_eq!(
            found,
            Controllers { memory: true, pids: false, cpu_quota: true, cpu_shares: true }
        );
        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "cpuset cpu io memory pids\n")
            .unwrap();
        assert_eq!(
            Controllers::of(v2.path()),
            Controllers { memory: true, pids: true, cpu_quota: true, cpu_shares: false }
        );
    }

    #[test]
    fn limits_are_drawn_only_for_the_hosts_controllers() {
        use proptest::strategy::ValueTree;
        let draw = |controllers: Controllers| {
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            (0..200)
                .filter_map(|_| {
                    resources(controllers).new_tree(&mut runner).unwrap().current().into()
                })
                .collect::<Vec<Resources>>()
        };
        let none = draw(Controllers::default());
        assert!(none.iter().all(Resources::is_empty));
        let v2 = Controllers { memory: true, pids: true, cpu_quota: true, cpu_shares: false };
        let drawn = draw(v2);
        assert!(drawn.iter().all(|r| r.cpu_shares.is_none()));
        assert!(drawn.iter().any(|r| r.memory_mib.is_some() && r.pids.is_some()));
        for r in &drawn {
            assert!(r.memory_mib.is_none_or(|m| m >= 32));
            assert!(r.pids.is_none_or(|p| p >= 16));
            if let Some((quota, period)) = r.cpu_quota {
                assert!(quota as u64 * 10 >= period, "below a tenth of a CPU: {r:?}");
            }
        }
        let spec = Resources {
            memory_mib: Some(40),
            pids: Some(20),
            cpu_shares: Some(10),
            cpu_quota: Some((5000, 50_000)),
        }
        .to_spec()
        .unwrap();
        assert_eq!(spec.memory().as_ref().unwrap().limit(), Some(40 << 20));
        assert_eq!(spec.pids().as_ref().unwrap().limit(), 20);
        assert_eq!(spec.cpu().as_ref().unwrap().quota(), Some(5000));
        assert_eq!(spec.cpu().as_ref().unwrap().shares(), Some(10));
    }
}
