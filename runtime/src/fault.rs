//! Test-only fault injection: proves the conformance suite can fail.
//!
//! Built with `--features fault-injection`, the runtime reads
//! `LITMUS_FAULT=<name>` and breaks exactly one requirement, the way a
//! real runtime might (ignoring a field, doing a step at the wrong time).
//! The meta-test (`cargo xtask faults`) runs the suite against each fault
//! and checks that a case citing the broken requirement fails. Without the
//! feature, [`Fault::active`] is a constant `false` and every fault compiles
//! away. The branches stay inline where a fault acts: each names the very
//! step it moves or skips, which is what the meta-test proves a case sees.

use oci_spec::runtime::{Linux, LinuxResources, LinuxSeccomp, LinuxSyscall, Process, Spec};

macro_rules! faults {
    ($($variant:ident = $name:literal => [$($id:literal),+],)+) => {
        /// One way to break the runtime. A fault is named by its variant,
        /// so a misspelt one does not compile.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Fault {
            $($variant,)+
        }

        impl Fault {
            pub const ALL: &'static [Fault] = &[$(Fault::$variant,)+];

            /// The name `LITMUS_FAULT` takes.
            pub fn name(self) -> &'static str {
                match self {
                    $(Fault::$variant => $name,)+
                }
            }

            /// The catalogue IDs of the requirements it breaks (checked
            /// against the suite's catalogue by `litmus run --requirement`,
            /// which refuses an unknown ID, in `cargo xtask faults`).
            pub fn breaks(self) -> &'static [&'static str] {
                match self {
                    $(Fault::$variant => &[$($id),+],)+
                }
            }
        }
    };
}

faults! {
    // Fields the runtime ignores (see `distort`).
    IgnoreHostname = "ignore-hostname" => ["config.hostname"],
    IgnoreDomainname = "ignore-domainname" => ["config.domainname"],
    IgnoreEnv = "ignore-env" => ["config.process.env"],
    IgnoreCwd = "ignore-cwd" => ["config.process.cwd"],
    IgnoreUser = "ignore-user" => ["config.process.user"],
    IgnoreUmask = "ignore-umask" => ["config.process.umask"],
    IgnoreCapabilities = "ignore-capabilities" => ["config.process.capabilities"],
    IgnoreRlimits = "ignore-rlimits" => ["config.process.rlimits"],
    IgnoreNoNewPrivileges = "ignore-no-new-privileges" => ["config.process.no-new-privileges"],
    IgnoreOomScoreAdj = "ignore-oom-score-adj" => ["config.process.oom-score-adj"],
    IgnoreRootReadonly = "ignore-root-readonly" => ["config.root.readonly"],
    IgnoreMounts = "ignore-mounts" => ["config.mounts.bind"],
    IgnoreMaskedPaths = "ignore-masked-paths" => ["linux.masked-paths"],
    IgnoreReadonlyPaths = "ignore-readonly-paths" => ["linux.readonly-paths"],
    IgnoreSysctl = "ignore-sysctl" => ["linux.sysctl"],
    IgnorePersonality = "ignore-personality" => ["linux.personality"],
    IgnoreDeviceRules = "ignore-device-rules" => ["linux.resources.devices"],
    IgnoreBlockIo = "ignore-block-io" => ["linux.resources.block-io"],
    IgnoreIoPriority = "ignore-io-priority" => ["config.process.io-priority"],
    IgnoreScheduler = "ignore-scheduler" => ["config.process.scheduler"],
    IgnoreTimeOffsets = "ignore-time-offsets" => ["linux.namespaces.time-offsets"],
    IgnoreDevices = "ignore-devices" => ["linux.devices.create"],
    IgnoreNamespacePath = "ignore-namespace-path" => ["linux.namespaces.join"],
    IgnoreMemoryLimit = "ignore-memory-limit" => ["linux.resources.memory"],
    IgnorePidsLimit = "ignore-pids-limit" => ["linux.resources.pids"],
    IgnoreUnified = "ignore-unified" => ["linux.resources.unified"],
    IgnoreSeccomp = "ignore-seccomp" => ["linux.seccomp.syscalls"],
    IgnoreSeccompErrnoRet = "ignore-seccomp-errno-ret" => ["linux.seccomp.errno-ret"],
    IgnoreSeccompArgs = "ignore-seccomp-args" => ["linux.seccomp.args"],
    IgnoreAnnotations = "ignore-annotations" => ["runtime.state.annotations"],
    IgnorePrestartHooks = "ignore-prestart-hooks" => ["config.hooks.prestart"],
    // Behaviour at the wrong time or missing.
    ExecOnCreate = "exec-on-create" => ["runtime.create.no-user-program"],
    PoststartDuringCreate = "poststart-during-create" => ["config.hooks.poststart"],
    DeleteKeepsState = "delete-keeps-state" => ["runtime.delete.resources"],
    LeakRuntimeFds = "leak-runtime-fds" => ["runtime-linux.fds"],
    NoDevSymlinks = "no-dev-symlinks" => ["runtime-linux.dev-symlinks"],
    StatusAlwaysRunning = "status-always-running" => ["runtime.state.status-created"],
    DumpableRuntime = "dumpable-runtime" => ["security.cve-2019-5736", "security.cve-2016-9962"],
    ReplaceMismatchedDevice = "replace-mismatched-device" => ["linux.devices.existing-mismatch"],
    ConsoleNotBound = "console-not-bound" => ["linux.devices.console"],
    PtyNotStdio = "pty-not-stdio" => ["config.process.terminal"],
    HookStateWithoutPid = "hook-state-without-pid" => ["config.hooks.state-stdin"],
    MountByPath = "mount-by-path" => ["security.cve-2021-30465"],
    SysctlAfterMounts = "sysctl-after-mounts" => ["security.cve-2025-52881"],
    ConsoleFollowsSymlink = "console-follows-symlink" => ["security.cve-2025-52565"],
    UsernsSkipsDefaultDevices = "userns-skips-default-devices" => ["linux.devices.defaults"],
    HostDirFdAtChdir = "host-dir-fd-at-chdir" => ["security.cve-2024-21626"],
    InheritableFromBounding = "inheritable-from-bounding" => ["security.cve-2022-29162"],
    UnverifiedDevNull = "unverified-dev-null" => ["security.cve-2025-31133"],
    PreserveFdsOwnDescriptors = "preserve-fds-own-descriptors" => ["security.preserved-fds"],
    ProcThroughSymlink = "proc-through-symlink" => ["security.cve-2019-16884"],
    CloseRangeAfterFilter = "close-range-after-filter" => ["runtime.lifecycle.create-env"],
    RequireMountNamespace = "require-mount-namespace" => ["linux.namespaces.inherit"],
    LookupAfterFilter = "lookup-after-filter" => ["runtime.lifecycle.create-env"],
    TimeOffsetsAfterSetuid = "time-offsets-after-setuid" => ["linux.namespaces.time-offsets"],
    ZombieIsRunning = "zombie-is-running" => ["runtime.state.status-stopped"],
    SysctlNeedsNewNamespace = "sysctl-needs-new-namespace" => ["linux.sysctl"],
    PoststartFailureIgnored = "poststart-failure-ignored" => ["config.hooks.poststart-failure-error"],
    IgnoreIntelRdt = "ignore-intel-rdt" => ["linux.intel-rdt"],
    IgnoreMemoryPolicy = "ignore-memory-policy" => ["linux.memory-policy"],
    IgnoreNetDevices = "ignore-net-devices" => ["linux.net-devices"],
    NetDeviceAddressesDropped = "net-device-addresses-dropped" => ["linux.net-devices"],
    RecursiveOptionsIgnored = "recursive-options-ignored" => ["config.mounts.recursive-options"],
    IgnoreExecCpuAffinity = "ignore-exec-cpu-affinity" => ["config.process.exec-cpu-affinity"],
    IgnoreIdmap = "ignore-idmap" => ["config.mounts.idmap"],
    RemountIgnored = "remount-ignored" => ["config.mounts.linux-options"],
    PoststopStopsAtFailure = "poststop-stops-at-failure" => ["config.hooks.poststop-failure"],
    ChownRootfsForUserns = "chown-rootfs-for-userns" => ["linux.namespaces.user-mappings-no-chown"],
    AgentUnreachableIgnored = "agent-unreachable-ignored" => ["linux.seccomp.notify-unreachable"],
    ErrnoRetOnAnyAction = "errno-ret-on-any-action" => ["linux.seccomp.errno-unsupported"],
    RelativeDestinationRefused = "relative-destination-refused" => ["config.mounts.destination-absolute"],
    ConsoleSizeNeedsTerminal = "console-size-needs-terminal" => ["config.process.console-size"],
    OldestVersionRefused = "oldest-version-refused" => ["features.versions-accepted"],
    TimeNamespaceListedNotAccepted = "time-namespace-listed-not-accepted" => ["features.honest"],
    FeaturesExtraField = "features-extra-field" => ["features.known-fields"],
    ClearingOptionsIgnored = "clearing-options-ignored" => ["config.mounts.linux-options"],
    MountPropagationIgnored = "mount-propagation-ignored" => ["config.mounts.propagation"],
    // Rootless (the meta-test runs these with `litmus run --rootless`).
    RootlessRangeOffByOne = "rootless-range-off-by-one" => ["linux.namespaces.user-mappings"],
    RootlessLimitsIgnored = "rootless-limits-ignored" => ["linux.resources.memory"],
    RootlessDevicesUnbound = "rootless-devices-unbound" => ["linux.devices.create"],
    RootlessDeleteKeepsState = "rootless-delete-keeps-state" => ["runtime.delete.resources"],
    // Installed setuid root to help unprivileged users (the meta-test runs
    // a setuid copy under --rootless): drops the user namespace and runs
    // the container as the host's root.
    SetuidDropsUserns = "setuid-drops-userns" => ["security.rootless-no-host-privilege"],
    // The command-line contract engines rely on.
    PidFileNewline = "pid-file-newline" => ["engine.pid-file"],
    SeccompAgentAtStart = "seccomp-agent-at-start" => ["engine.seccomp-agent-on-create"],
    HooksEmptyEnv = "hooks-empty-env" => ["engine.hook-env"],
}

impl Fault {
    /// Whether this is the fault the process was asked to inject.
    #[cfg(feature = "fault-injection")]
    pub fn active(self) -> bool {
        std::env::var("LITMUS_FAULT").is_ok_and(|f| f == self.name())
    }

    #[cfg(not(feature = "fault-injection"))]
    #[inline(always)]
    pub fn active(self) -> bool {
        false
    }
}

/// Applies the "ignore a field" faults to the config as loaded, before
/// validation: the runtime then behaves exactly as one that never read
/// that field (not even to check it).
pub fn distort(spec: &mut Spec) {
    if !cfg!(feature = "fault-injection") {
        return;
    }
    let Some(fault) = Fault::ALL.iter().find(|f| f.active()) else {
        return;
    };
    let bind = Some("bind");
    match fault {
        Fault::IgnoreHostname => on(Some(spec), |s| s.set_hostname(None)),
        Fault::IgnoreDomainname => on(Some(spec), |s| s.set_domainname(None)),
        Fault::IgnoreAnnotations => on(Some(spec), |s| s.set_annotations(None)),
        Fault::IgnoreRootReadonly => on(spec.root_mut().as_mut(), |r| r.set_readonly(Some(false))),
        Fault::IgnorePrestartHooks => on(spec.hooks_mut().as_mut(), |h| h.set_prestart(None)),
        Fault::IgnoreIdmap => {
            let mut mounts = spec.mounts().clone().unwrap_or_default();
            for m in &mut mounts {
                let options = m.options().clone().unwrap_or_default();
                let kept = options.into_iter().filter(|o| o != "idmap" && o != "ridmap").collect();
                m.set_options(Some(kept)).set_uid_mappings(None).set_gid_mappings(None);
            }
            spec.set_mounts(Some(mounts));
        }
        Fault::IgnoreMounts => {
            let mounts = spec.mounts().iter().flatten();
            let kept = mounts.filter(|m| m.typ().as_deref() != bind).cloned().collect();
            spec.set_mounts(Some(kept));
        }
        Fault::IgnoreEnv => {
            on(process(spec), |p| p.set_env(Some(vec!["PATH=/usr/bin:/bin".into()])))
        }
        Fault::IgnoreIoPriority => on(process(spec), |p| p.set_io_priority(None)),
        Fault::IgnoreScheduler => on(process(spec), |p| p.set_scheduler(None)),
        Fault::IgnoreCwd => on(process(spec), |p| p.set_cwd("/".into())),
        Fault::IgnoreUser => on(process(spec), |p| p.set_user(Default::default())),
        Fault::IgnoreUmask => on(process(spec).map(|p| p.user_mut()), |u| u.set_umask(None)),
        Fault::IgnoreCapabilities => on(process(spec), |p| p.set_capabilities(None)),
        Fault::IgnoreRlimits => on(process(spec), |p| p.set_rlimits(None)),
        Fault::IgnoreNoNewPrivileges => on(process(spec), |p| p.set_no_new_privileges(None)),
        Fault::IgnoreOomScoreAdj => on(process(spec), |p| p.set_oom_score_adj(None)),
        Fault::IgnoreMaskedPaths => on(linux(spec), |l| l.set_masked_paths(None)),
        Fault::IgnoreReadonlyPaths => on(linux(spec), |l| l.set_readonly_paths(None)),
        Fault::IgnoreTimeOffsets => on(linux(spec), |l| l.set_time_offsets(None)),
        Fault::IgnorePersonality => on(linux(spec), |l| l.set_personality(None)),
        Fault::IgnoreSysctl => on(linux(spec), |l| l.set_sysctl(None)),
        Fault::IgnoreDevices => on(linux(spec), |l| l.set_devices(None)),
        Fault::IgnoreIntelRdt => on(linux(spec), |l| l.set_intel_rdt(None)),
        Fault::IgnoreMemoryPolicy => on(linux(spec), |l| l.set_memory_policy(None)),
        Fault::IgnoreNetDevices => on(linux(spec), |l| l.set_net_devices(None)),
        Fault::IgnoreDeviceRules => on(resources(spec), |r| r.set_devices(None)),
        Fault::IgnoreBlockIo => on(resources(spec), |r| r.set_block_io(None)),
        Fault::IgnoreMemoryLimit => on(resources(spec), |r| r.set_memory(None)),
        Fault::IgnorePidsLimit => on(resources(spec), |r| r.set_pids(None)),
        Fault::IgnoreUnified => on(resources(spec), |r| r.set_unified(None)),
        Fault::IgnoreSeccomp => on(seccomp(spec), |f| f.set_syscalls(None)),
        Fault::IgnoreSeccompErrnoRet => each_rule(spec, |r| r.set_errno_ret(None)),
        Fault::IgnoreSeccompArgs => each_rule(spec, |r| r.set_args(None)),
        Fault::IgnoreNamespacePath => on(linux(spec), |l| {
            let mut namespaces = l.namespaces().clone();
            for namespace in namespaces.iter_mut().flatten() {
                namespace.set_path(None);
            }
            l.set_namespaces(namespaces)
        }),
        _ => {}
    }
}

/// Changes a part of the config that may be absent.
fn on<T>(part: Option<&mut T>, change: impl FnOnce(&mut T) -> &mut T) {
    if let Some(part) = part {
        change(part);
    }
}

fn process(spec: &mut Spec) -> Option<&mut Process> {
    spec.process_mut().as_mut()
}

fn linux(spec: &mut Spec) -> Option<&mut Linux> {
    spec.linux_mut().as_mut()
}

fn resources(spec: &mut Spec) -> Option<&mut LinuxResources> {
    linux(spec)?.resources_mut().as_mut()
}

fn seccomp(spec: &mut Spec) -> Option<&mut LinuxSeccomp> {
    linux(spec)?.seccomp_mut().as_mut()
}

fn each_rule(spec: &mut Spec, change: impl Fn(&mut LinuxSyscall) -> &mut LinuxSyscall) {
    on(seccomp(spec), |f| {
        let mut rules = f.syscalls().clone();
        for rule in rules.iter_mut().flatten() {
            change(rule);
        }
        f.set_syscalls(rules)
    })
}
