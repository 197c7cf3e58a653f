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

use oci_spec::runtime::Spec;

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
    if Fault::IgnoreHostname.active() {
        spec.set_hostname(None);
    }
    if Fault::IgnoreDomainname.active() {
        spec.set_domainname(None);
    }
    if Fault::IgnoreRootReadonly.active() {
        if let Some(root) = spec.root_mut() {
            root.set_readonly(Some(false));
        }
    }
    if Fault::IgnoreMounts.active() {
        let mounts = spec.mounts().clone().unwrap_or_default();
        spec.set_mounts(Some(
            mounts
                .into_iter()
                .filter(|m| m.typ().as_deref() != Some("bind"))
                .collect(),
        ));
    }
    if Fault::IgnoreAnnotations.active() {
        spec.set_annotations(None);
    }
    if Fault::IgnorePrestartHooks.active() {
        if let Some(hooks) = spec.hooks_mut() {
            hooks.set_prestart(None);
        }
    }
    if let Some(process) = spec.process_mut() {
        if Fault::IgnoreEnv.active() {
            process.set_env(Some(vec!["PATH=/usr/bin:/bin".into()]));
        }
        if Fault::IgnoreIoPriority.active() {
            process.set_io_priority(None);
        }
        if Fault::IgnoreScheduler.active() {
            process.set_scheduler(None);
        }
        if Fault::IgnoreCwd.active() {
            process.set_cwd("/".into());
        }
        if Fault::IgnoreUser.active() {
            process.set_user(Default::default());
        }
        if Fault::IgnoreUmask.active() {
            process.user_mut().set_umask(None);
        }
        if Fault::IgnoreCapabilities.active() {
            process.set_capabilities(None);
        }
        if Fault::IgnoreRlimits.active() {
            process.set_rlimits(None);
        }
        if Fault::IgnoreNoNewPrivileges.active() {
            process.set_no_new_privileges(None);
        }
        if Fault::IgnoreOomScoreAdj.active() {
            process.set_oom_score_adj(None);
        }
    }
    if let Some(linux) = spec.linux_mut() {
        if Fault::IgnoreMaskedPaths.active() {
            linux.set_masked_paths(None);
        }
        if Fault::IgnoreReadonlyPaths.active() {
            linux.set_readonly_paths(None);
        }
        if Fault::IgnoreTimeOffsets.active() {
            linux.set_time_offsets(None);
        }
        if let Some(resources) = linux.resources_mut() {
            if Fault::IgnoreDeviceRules.active() {
                resources.set_devices(None);
            }
            if Fault::IgnoreBlockIo.active() {
                resources.set_block_io(None);
            }
        }
        if Fault::IgnorePersonality.active() {
            linux.set_personality(None);
        }
        if Fault::IgnoreSysctl.active() {
            linux.set_sysctl(None);
        }
        if Fault::IgnoreDevices.active() {
            linux.set_devices(None);
        }
        if Fault::IgnoreNamespacePath.active() {
            let namespaces = linux.namespaces().clone().unwrap_or_default();
            linux.set_namespaces(Some(
                namespaces
                    .into_iter()
                    .map(|mut n| {
                        n.set_path(None);
                        n
                    })
                    .collect(),
            ));
        }
        if let Some(resources) = linux.resources_mut() {
            if Fault::IgnoreMemoryLimit.active() {
                resources.set_memory(None);
            }
            if Fault::IgnorePidsLimit.active() {
                resources.set_pids(None);
            }
            if Fault::IgnoreUnified.active() {
                resources.set_unified(None);
            }
        }
        if let Some(seccomp) = linux.seccomp_mut() {
            if Fault::IgnoreSeccomp.active() {
                seccomp.set_syscalls(None);
            }
            let rules = seccomp.syscalls().clone().unwrap_or_default();
            let rules = rules.into_iter().map(|mut rule| {
                if Fault::IgnoreSeccompErrnoRet.active() {
                    rule.set_errno_ret(None);
                }
                if Fault::IgnoreSeccompArgs.active() {
                    rule.set_args(None);
                }
                rule
            });
            seccomp.set_syscalls(Some(rules.collect()).filter(|r: &Vec<_>| !r.is_empty()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names_are_unique_and_each_breaks_something() {
        let mut names: Vec<_> = Fault::ALL.iter().map(|f| f.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Fault::ALL.len());
        assert!(Fault::ALL.iter().all(|f| !f.breaks().is_empty()));
    }

    #[cfg(not(feature = "fault-injection"))]
    #[test]
    fn without_the_feature_nothing_is_distorted() {
        std::env::set_var("LITMUS_FAULT", "ignore-hostname");
        let mut spec = Spec::default();
        spec.set_hostname(Some("kept".into()));
        distort(&mut spec);
        assert_eq!(spec.hostname().as_deref(), Some("kept"));
    }
}
