//! Test-only fault injection: proves the conformance suite can fail.
//!
//! Built with `--features fault-injection`, the runtime reads
//! `LITMUS_FAULT=<name>` and breaks exactly one requirement, the way a
//! real runtime might (ignoring a field, doing a step at the wrong time).
//! The meta-test (`cargo xtask faults`) runs the suite against each fault
//! and checks that a case citing the broken requirement fails. Without the
//! feature, [`active`] is a constant `false` and every fault compiles away.

use oci_spec::runtime::Spec;

/// One way to break the runtime, and the catalogue IDs it breaks.
pub struct Fault {
    pub name: &'static str,
    pub breaks: &'static [&'static str],
}

macro_rules! faults {
    ($($name:literal => [$($id:literal),+],)+) => {
        pub const FAULTS: &[Fault] = &[$(Fault { name: $name, breaks: &[$($id),+] },)+];
    };
}

faults! {
    // Fields the runtime ignores (see `distort`).
    "ignore-hostname" => ["config.hostname"],
    "ignore-domainname" => ["config.domainname"],
    "ignore-env" => ["config.process.env"],
    "ignore-cwd" => ["config.process.cwd"],
    "ignore-user" => ["config.process.user"],
    "ignore-umask" => ["config.process.umask"],
    "ignore-capabilities" => ["config.process.capabilities"],
    "ignore-rlimits" => ["config.process.rlimits"],
    "ignore-no-new-privileges" => ["config.process.no-new-privileges"],
    "ignore-oom-score-adj" => ["config.process.oom-score-adj"],
    "ignore-root-readonly" => ["config.root.readonly"],
    "ignore-mounts" => ["config.mounts.bind"],
    "ignore-masked-paths" => ["linux.masked-paths"],
    "ignore-readonly-paths" => ["linux.readonly-paths"],
    "ignore-sysctl" => ["linux.sysctl"],
    "ignore-personality" => ["linux.personality"],
    "ignore-device-rules" => ["linux.resources.devices"],
    "ignore-block-io" => ["linux.resources.block-io"],
    "ignore-io-priority" => ["config.process.io-priority"],
    "ignore-scheduler" => ["config.process.scheduler"],
    "ignore-time-offsets" => ["linux.namespaces.time-offsets"],
    "ignore-devices" => ["linux.devices.create"],
    "ignore-namespace-path" => ["linux.namespaces.join"],
    "ignore-memory-limit" => ["linux.resources.memory"],
    "ignore-pids-limit" => ["linux.resources.pids"],
    "ignore-unified" => ["linux.resources.unified"],
    "ignore-seccomp" => ["linux.seccomp.syscalls"],
    "ignore-seccomp-errno-ret" => ["linux.seccomp.errno-ret"],
    "ignore-seccomp-args" => ["linux.seccomp.args"],
    "ignore-annotations" => ["runtime.state.annotations"],
    "ignore-prestart-hooks" => ["config.hooks.prestart"],
    // Behaviour at the wrong time or missing.
    "exec-on-create" => ["runtime.create.no-user-program"],
    "poststart-during-create" => ["config.hooks.poststart"],
    "delete-keeps-state" => ["runtime.delete.resources"],
    "leak-runtime-fds" => ["runtime-linux.fds"],
    "no-dev-symlinks" => ["runtime-linux.dev-symlinks"],
    "status-always-running" => ["runtime.state.status-created"],
    "dumpable-runtime" => ["security.cve-2019-5736", "security.cve-2016-9962"],
    "replace-mismatched-device" => ["linux.devices.existing-mismatch"],
    "console-not-bound" => ["linux.devices.console"],
    "pty-not-stdio" => ["config.process.terminal"],
    "hook-state-without-pid" => ["config.hooks.state-stdin"],
    "mount-by-path" => ["security.cve-2021-30465"],
    "sysctl-after-mounts" => ["security.cve-2025-52881"],
    "console-follows-symlink" => ["security.cve-2025-52565"],
    "userns-skips-default-devices" => ["linux.devices.defaults"],
    "host-dir-fd-at-chdir" => ["security.cve-2024-21626"],
    "inheritable-from-bounding" => ["security.cve-2022-29162"],
    "unverified-dev-null" => ["security.cve-2025-31133"],
    "preserve-fds-own-descriptors" => ["security.preserved-fds"],
    "proc-through-symlink" => ["security.cve-2019-16884"],
    "close-range-after-filter" => ["runtime.lifecycle.create-env"],
    "require-mount-namespace" => ["linux.namespaces.inherit"],
    "lookup-after-filter" => ["runtime.lifecycle.create-env"],
    "time-offsets-after-setuid" => ["linux.namespaces.time-offsets"],
    "zombie-is-running" => ["runtime.state.status-stopped"],
    "sysctl-needs-new-namespace" => ["linux.sysctl"],
    // The command-line contract engines rely on.
    "pid-file-newline" => ["engine.pid-file"],
    "seccomp-agent-at-start" => ["engine.seccomp-agent-on-create"],
    "hooks-empty-env" => ["engine.hook-env"],
}

/// Whether fault `name` is the one this process was asked to inject.
#[cfg(feature = "fault-injection")]
pub fn active(name: &str) -> bool {
    debug_assert!(
        FAULTS.iter().any(|f| f.name == name),
        "unknown fault {name}"
    );
    std::env::var("LITMUS_FAULT").is_ok_and(|f| f == name)
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn active(_name: &str) -> bool {
    false
}

/// Applies the "ignore a field" faults to a validated config: the runtime
/// then behaves exactly as one that never read that field.
pub fn distort(spec: &mut Spec) {
    if !cfg!(feature = "fault-injection") {
        return;
    }
    if active("ignore-hostname") {
        spec.set_hostname(None);
    }
    if active("ignore-domainname") {
        spec.set_domainname(None);
    }
    if active("ignore-root-readonly") {
        if let Some(root) = spec.root_mut() {
            root.set_readonly(Some(false));
        }
    }
    if active("ignore-mounts") {
        let mounts = spec.mounts().clone().unwrap_or_default();
        spec.set_mounts(Some(
            mounts
                .into_iter()
                .filter(|m| m.typ().as_deref() != Some("bind"))
                .collect(),
        ));
    }
    if active("ignore-annotations") {
        spec.set_annotations(None);
    }
    if active("ignore-prestart-hooks") {
        if let Some(hooks) = spec.hooks_mut() {
            hooks.set_prestart(None);
        }
    }
    if let Some(process) = spec.process_mut() {
        if active("ignore-env") {
            process.set_env(Some(vec!["PATH=/usr/bin:/bin".into()]));
        }
        if active("ignore-io-priority") {
            process.set_io_priority(None);
        }
        if active("ignore-scheduler") {
            process.set_scheduler(None);
        }
        if active("ignore-cwd") {
            process.set_cwd("/".into());
        }
        if active("ignore-user") {
            process.set_user(Default::default());
        }
        if active("ignore-umask") {
            process.user_mut().set_umask(None);
        }
        if active("ignore-capabilities") {
            process.set_capabilities(None);
        }
        if active("ignore-rlimits") {
            process.set_rlimits(None);
        }
        if active("ignore-no-new-privileges") {
            process.set_no_new_privileges(None);
        }
        if active("ignore-oom-score-adj") {
            process.set_oom_score_adj(None);
        }
    }
    if let Some(linux) = spec.linux_mut() {
        if active("ignore-masked-paths") {
            linux.set_masked_paths(None);
        }
        if active("ignore-readonly-paths") {
            linux.set_readonly_paths(None);
        }
        if active("ignore-time-offsets") {
            linux.set_time_offsets(None);
        }
        if let Some(resources) = linux.resources_mut() {
            if active("ignore-device-rules") {
                resources.set_devices(None);
            }
            if active("ignore-block-io") {
                resources.set_block_io(None);
            }
        }
        if active("ignore-personality") {
            linux.set_personality(None);
        }
        if active("ignore-sysctl") {
            linux.set_sysctl(None);
        }
        if active("ignore-devices") {
            linux.set_devices(None);
        }
        if active("ignore-namespace-path") {
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
            if active("ignore-memory-limit") {
                resources.set_memory(None);
            }
            if active("ignore-pids-limit") {
                resources.set_pids(None);
            }
            if active("ignore-unified") {
                resources.set_unified(None);
            }
        }
        if let Some(seccomp) = linux.seccomp_mut() {
            if active("ignore-seccomp") {
                seccomp.set_syscalls(None);
            }
            let rules = seccomp.syscalls().clone().unwrap_or_default();
            let rules = rules.into_iter().map(|mut rule| {
                if active("ignore-seccomp-errno-ret") {
                    rule.set_errno_ret(None);
                }
                if active("ignore-seccomp-args") {
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
        let mut names: Vec<_> = FAULTS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FAULTS.len());
        assert!(FAULTS.iter().all(|f| !f.breaks.is_empty()));
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
