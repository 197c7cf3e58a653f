//! config.md "process": what the container's program really gets.

use crate::case::{expect, expect_eq, Checked, Verdict};
use crate::ctx::Ctx;
use litmus_bundle::APPARMOR_PROFILE;
use oci_spec::runtime::{
    Capability, LinuxCapabilitiesBuilder, PosixRlimitBuilder, PosixRlimitType, UserBuilder,
};
use std::collections::HashSet;

crate::cases! {
    Process: {
        console_size_is_ignored_without_a_terminal => [CONFIG_PROCESS_CONSOLE_SIZE],
        io_priority_is_set => [CONFIG_PROCESS_IO_PRIORITY],
        scheduler_policy_is_set => [CONFIG_PROCESS_SCHEDULER],
        apparmor_profile_is_applied => [CONFIG_PROCESS_APPARMOR],
        selinux_label_is_applied => [CONFIG_PROCESS_SELINUX],
        personality_is_set => [LINUX_PERSONALITY],
        memory_policy_is_set => [LINUX_MEMORY_POLICY],
        exec_cpu_affinity_final_is_applied_and_absent_leaves_it => [CONFIG_PROCESS_EXEC_CPU_AFFINITY],
        memory_policy_on_absent_nodes_is_an_error => [LINUX_MEMORY_POLICY],
        terminal_is_the_process_stdio_and_controlling_tty => [CONFIG_PROCESS_TERMINAL],
        args_and_env_reach_the_program =>
            [CONFIG_PROCESS_ARGS, CONFIG_PROCESS_ENV, RUNTIME_LIFECYCLE_CREATE_ENV],
        cwd_is_set => [CONFIG_PROCESS_CWD],
        user_and_groups_are_set => [CONFIG_PROCESS_USER],
        umask_is_set => [CONFIG_PROCESS_UMASK],
        capability_sets_are_exact => [CONFIG_PROCESS_CAPABILITIES],
        rlimits_are_set => [CONFIG_PROCESS_RLIMITS],
        no_new_privileges_is_set => [CONFIG_PROCESS_NO_NEW_PRIVILEGES],
        oom_score_adj_is_set => [CONFIG_PROCESS_OOM_SCORE_ADJ],
        oom_score_adj_is_inherited_when_unset => [CONFIG_PROCESS_OOM_SCORE_ADJ_UNSET],
        no_runtime_fds_leak_into_the_container => [RUNTIME_LINUX_FDS],
    }
}

fn process_mut(spec: &mut oci_spec::runtime::Spec) -> &mut oci_spec::runtime::Process {
    spec.process_mut().as_mut().expect("fixture specs have a process")
}

fn args_and_env_reach_the_program(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    let env =
        vec!["PATH=/bin:/usr/bin".to_string(), "LITMUS_VALUE=with spaces = and equals".to_string()];
    process_mut(&mut spec).set_env(Some(env.clone()));
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    expect_eq(
        "argv",
        vec!["/litmus-probe".to_string(), "report".to_string()],
        report.args.clone(),
    )?;
    // Every configured variable, exactly; runtimes may add others (runc
    // adds HOME), which the spec does not forbid.
    for kv in &env {
        let (name, value) = kv.split_once('=').expect("fixture env has '='");
        expect_eq(&format!("${name}"), Some(value), report.env_var(name))?;
    }
    Ok(())
}

fn cwd_is_set(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    process_mut(&mut spec).set_cwd("/tmp".into());
    let run = cx.run_probe(&spec)?;
    expect_eq("cwd", "/tmp", run.report()?.cwd.as_str())
}

fn user_and_groups_are_set(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    let user = UserBuilder::default()
        .uid(1000u32)
        .gid(1000u32)
        .additional_gids(vec![1001u32, 65534])
        .build()?;
    process_mut(&mut spec).set_user(user);
    let run = cx.run_probe(&spec)?;
    let ids = &run.report()?.ids;
    expect_eq("uid/euid", (1000, 1000), (ids.uid, ids.euid))?;
    expect_eq("gid/egid", (1000, 1000), (ids.gid, ids.egid))?;
    let groups: HashSet<u32> = ids.groups.iter().copied().collect();
    expect(
        groups.contains(&1001) && groups.contains(&65534),
        "supplementary groups 1001 and 65534",
        format!("groups {:?}", ids.groups),
    )
}

fn umask_is_set(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    let user = UserBuilder::default().uid(0u32).gid(0u32).umask(0o027u32).build()?;
    process_mut(&mut spec).set_user(user);
    let run = cx.run_probe(&spec)?;
    expect_eq("umask", Some(0o027), run.report()?.umask)
}

fn mask(caps: &[Capability]) -> u64 {
    crate::capability::mask(caps)
}

fn capability_sets_are_exact(cx: &mut Ctx) -> Checked {
    use Capability::*;
    let bounding = vec![Chown, Kill, NetBindService, NetRaw];
    let permitted = [Chown, Kill, NetBindService];
    let effective = [Chown, Kill];
    let inheritable = vec![Kill, NetBindService];
    let ambient = vec![Kill];
    let caps = LinuxCapabilitiesBuilder::default()
        .bounding(bounding.iter().copied().collect::<HashSet<_>>())
        .permitted(permitted.iter().copied().collect::<HashSet<_>>())
        .effective(effective.iter().copied().collect::<HashSet<_>>())
        .inheritable(inheritable.iter().copied().collect::<HashSet<_>>())
        .ambient(ambient.iter().copied().collect::<HashSet<_>>())
        .build()?;
    // A non-root user, so exec does not grant root's implicit file
    // capabilities: after exec, permitted and effective are exactly the
    // ambient set, while bounding and inheritable pass through unchanged.
    let mut spec = cx.spec(&["report"]);
    let user = UserBuilder::default().uid(1000u32).gid(1000u32).build()?;
    process_mut(&mut spec).set_user(user);
    process_mut(&mut spec).set_capabilities(Some(caps));
    let run = cx.run_probe(&spec)?;
    let seen = &run.report()?.capabilities;
    let hex = |v: u64| format!("{v:#x}");
    expect_eq("bounding set", hex(mask(&bounding)), hex(seen.bounding))?;
    expect_eq("inheritable set", hex(mask(&inheritable)), hex(seen.inheritable))?;
    expect_eq("ambient set", hex(mask(&ambient)), hex(seen.ambient))?;
    expect_eq("permitted set (= ambient after exec)", hex(mask(&ambient)), hex(seen.permitted))?;
    expect_eq("effective set (= ambient after exec)", hex(mask(&ambient)), hex(seen.effective))
}

fn rlimits_are_set(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    let rlimits = vec![
        PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .soft(321u64)
            .hard(654u64)
            .build()?,
        PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitCore)
            .soft(0u64)
            .hard(4096u64)
            .build()?,
    ];
    process_mut(&mut spec).set_rlimits(Some(rlimits));
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    expect_eq(
        "RLIMIT_NOFILE",
        Some((Some(321), Some(654))),
        report.rlimits.get("Max open files").copied(),
    )?;
    // /proc/self/limits shows RLIMIT_CORE in bytes.
    expect_eq(
        "RLIMIT_CORE",
        Some((Some(0), Some(4096))),
        report.rlimits.get("Max core file size").copied(),
    )
}

fn no_new_privileges_is_set(cx: &mut Ctx) -> Checked {
    for wanted in [true, false] {
        let mut spec = cx.spec(&["report"]);
        process_mut(&mut spec).set_no_new_privileges(Some(wanted));
        let run = cx.run_probe(&spec)?;
        expect_eq(
            &format!("NoNewPrivs with noNewPrivileges={wanted}"),
            Some(u32::from(wanted)),
            run.report()?.no_new_privs,
        )?;
    }
    Ok(())
}

fn oom_score_adj_is_set(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    process_mut(&mut spec).set_oom_score_adj(Some(345));
    let run = cx.run_probe(&spec)?;
    expect_eq("oom_score_adj", Some(345), run.report()?.oom_score_adj)
}

fn oom_score_adj_is_inherited_when_unset(cx: &mut Ctx) -> Checked {
    let ours = std::fs::read_to_string("/proc/self/oom_score_adj")?;
    let ours: i32 = ours.trim().parse().unwrap_or(0);
    let mut spec = cx.spec(&["report"]);
    process_mut(&mut spec).set_oom_score_adj(None);
    let run = cx.run_probe(&spec)?;
    expect_eq("oom_score_adj (the caller's)", Some(ours), run.report()?.oom_score_adj)
}

fn no_runtime_fds_leak_into_the_container(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["report"]);
    let run = cx.run_probe(&spec)?;
    let fds = &run.report()?.extra_fds;
    expect(fds.is_empty(), "only stdin, stdout and stderr open", format!("also open: {fds:?}"))
}

/// The pty's master went to the console socket (checked by the helper);
/// its slave must be fds 0, 1 and 2 and the controlling terminal.
fn terminal_is_the_process_stdio_and_controlling_tty(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["tty"]);
    let run = cx.run_probe_on_terminal(&spec)?;
    let (stdio, isatty, controlling) = run.tty()?;
    expect_eq("isatty(0), isatty(1), isatty(2)", &[true, true, true][..], isatty)?;
    expect(
        stdio.iter().all(|t| t.starts_with("/dev/pts/")) && stdio.windows(2).all(|w| w[0] == w[1]),
        "fds 0, 1 and 2 on one /dev/pts/N",
        format!("{stdio:?}"),
    )?;
    expect_eq("a controlling terminal (/dev/tty opens)", true, controlling)
}

/// The kernel shows the container's process confined by the profile named
/// in process.apparmorProfile (litmus's own, in complain mode, so it
/// changes nothing else). A runtime that ignores the field leaves the
/// process "unconfined".
fn apparmor_profile_is_applied(cx: &mut Ctx) -> Checked {
    ensure_apparmor_profile_loaded()?;
    let mut spec = cx.spec(&["path", "/proc/self/attr/current"]);
    process_mut(&mut spec).set_apparmor_profile(Some(APPARMOR_PROFILE.to_string()));
    let run = cx.run_probe(&spec)?;
    let label = run.path("/proc/self/attr/current")?.content.clone();
    expect_eq(
        "the process's AppArmor label",
        Some(format!("{APPARMOR_PROFILE} (complain)")),
        label.map(|l| l.trim_end_matches(['\0', '\n']).to_string()),
    )
}

/// Skips unless AppArmor is on and the suite's profile is loaded, loading
/// it with apparmor_parser when that is installed.
fn ensure_apparmor_profile_loaded() -> Result<(), Verdict> {
    let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled");
    if enabled.map(|e| e.trim() != "Y").unwrap_or(true) {
        return Err(Verdict::Skip("AppArmor is not enabled on this host".into()));
    }
    let loaded = || {
        std::fs::read_to_string("/sys/kernel/security/apparmor/profiles")
            .map(|list| list.lines().any(|l| l.split(' ').next() == Some(APPARMOR_PROFILE)))
            .unwrap_or(false)
    };
    if loaded() {
        return Ok(());
    }
    let parsed = litmus_bundle::apparmor_parser(&["-r"]);
    if loaded() {
        return Ok(());
    }
    let why = match parsed {
        Ok(out) => out.stderr_text().trim().to_string(),
        Err(e) => format!("apparmor_parser: {e}"),
    };
    Err(Verdict::Skip(format!(
        "the AppArmor profile {APPARMOR_PROFILE} is not loaded and could not be ({why})"
    )))
}

/// The container's process runs with the SELinux context given in
/// process.selinuxLabel (one the host's policy defines and the suite does
/// not run under, so a runtime that ignores the field leaves the process
/// in the suite's own context).
fn selinux_label_is_applied(cx: &mut Ctx) -> Checked {
    let labels = crate::selinux::usable_labels()?;
    let mut spec = cx.spec(&["path", "/proc/self/attr/current"]);
    process_mut(&mut spec).set_selinux_label(Some(labels.process.to_string()));
    let run = cx.run_probe(&spec)?;
    let label = run.path("/proc/self/attr/current")?.content.clone();
    expect_eq(
        "the process's SELinux context",
        Some(labels.process.to_string()),
        label.map(|l| l.trim_end_matches(['\0', '\n']).to_string()),
    )
}

/// PER_LINUX32 (0x0008) as the execution domain: the low byte of
/// personality(0xffffffff) inside the container.
fn personality_is_set(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    let personality = oci_spec::runtime::LinuxPersonalityBuilder::default()
        .domain(oci_spec::runtime::LinuxPersonalityDomain::PerLinux32)
        .build()?;
    if let Some(linux) = spec.linux_mut() {
        linux.set_personality(Some(personality));
    }
    let run = cx.run_probe(&spec)?;
    let seen = run.report()?.personality;
    expect_eq("execution domain (personality & 0xff)", Some(0x0008), seen.map(|p| p & 0xff))
}

/// `exec` of a probe with execCPUAffinity.final set to the last CPU the
/// container may use: the process runs on that CPU alone. An exec without
/// execCPUAffinity keeps the affinity the kernel gives it in the
/// container's cgroup, the init's (the runtime must not change it).
fn exec_cpu_affinity_final_is_applied_and_absent_leaves_it(cx: &mut Ctx) -> Checked {
    let id = cx.running_container()?;
    let init = cx.state(&id)?.pid;
    let status = std::fs::read_to_string(format!("/proc/{init}/status"))?;
    let init_cpus = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let last = init_cpus.split([',', '-']).filter_map(|c| c.parse::<u32>().ok()).max();
    let Some(last) = last.filter(|_| init_cpus.contains([',', '-'])) else {
        return Err(Verdict::Skip(format!(
            "the container may use one CPU only ({init_cpus}): no affinity to tell apart"
        )));
    };
    let exec_report = |cx: &mut Ctx, name: &str, affinity: Option<String>| {
        let path = super::engine::process_file(cx, name, &["report"])?;
        if let Some(list) = affinity {
            let mut process: oci_spec::runtime::Process =
                serde_json::from_slice(&std::fs::read(&path)?)?;
            let affinity = serde_json::from_value(serde_json::json!({"final": list}))?;
            process.set_exec_cpu_affinity(Some(affinity));
            std::fs::write(&path, serde_json::to_vec(&process)?)?;
        }
        let out = cx.work().join(format!("{name}.out"));
        let path = path.display().to_string();
        let inv =
            cx.runtime.call_with_stdout(&["exec", "--process", &path, &id], &out, cx.work())?;
        inv.expect_ok("exec --process to succeed")?;
        let text = std::fs::read_to_string(&out)?;
        litmus_probe::parse_output(&text)
            .into_iter()
            .find_map(|l| match l {
                Ok(litmus_probe::ProbeLine::Report(r)) => Some(r.cpus_allowed),
                _ => None,
            })
            .ok_or_else(|| crate::case::fail("the exec'd probe's report", text))
    };
    let pinned = exec_report(cx, "pinned", Some(last.to_string()))?;
    expect_eq("the exec'd process's CPUs with execCPUAffinity.final", last.to_string(), pinned)?;
    let left = exec_report(cx, "unpinned", None)?;
    expect_eq("the exec'd process's CPUs without execCPUAffinity (the init's)", init_cpus, left)
}

/// The host's NUMA nodes ("0", "0-1"...), or a skip when the kernel has
/// no NUMA support (no policy can be set at all then).
fn host_numa_nodes() -> Result<String, Verdict> {
    std::fs::read_to_string("/sys/devices/system/node/possible")
        .map(|s| s.trim().to_string())
        .map_err(|_| Verdict::Skip("this kernel has no NUMA support (CONFIG_NUMA): no /sys/devices/system/node/possible".into()))
}

fn with_memory_policy(spec: &mut oci_spec::runtime::Spec, policy: serde_json::Value) -> Checked {
    let policy: oci_spec::runtime::LinuxMemoryPolicy = serde_json::from_value(policy)?;
    spec.linux_mut().as_mut().expect("fixture linux").set_memory_policy(Some(policy));
    Ok(())
}

/// MPOL_BIND to node 0 with MPOL_F_STATIC_NODES: get_mempolicy(2) inside
/// the container returns that mode, flag and nodemask. (Every NUMA kernel
/// has node 0; the default policy is MPOL_DEFAULT with no nodes, so a
/// runtime that ignores the field is seen.)
fn memory_policy_is_set(cx: &mut Ctx) -> Checked {
    host_numa_nodes()?;
    let mut spec = cx.spec(&["report"]);
    with_memory_policy(
        &mut spec,
        serde_json::json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
    )?;
    let run = cx.run_probe(&spec)?;
    let seen = run.report()?.memory_policy.clone();
    // <linux/mempolicy.h>: MPOL_BIND = 2, MPOL_F_STATIC_NODES = 1 << 15.
    let expected = litmus_probe::MemoryPolicy { mode: 2 | 1 << 15, nodes: vec![1] };
    expect_eq("get_mempolicy (mode | flags, nodemask)", Some(expected), seen)
}

/// A policy binding memory to a node the host does not have cannot be
/// set (set_mempolicy fails with EINVAL): the container must not start
/// with a policy other than the one asked for.
fn memory_policy_on_absent_nodes_is_an_error(cx: &mut Ctx) -> Checked {
    let possible = host_numa_nodes()?;
    if possible.split([',', '-']).any(|n| n == "1023") {
        return Err(Verdict::Skip(format!("this host has NUMA node 1023 (possible: {possible})")));
    }
    let mut spec = cx.spec(&["marker", "/ran", "exit", "0"]);
    with_memory_policy(&mut spec, serde_json::json!({"mode": "MPOL_BIND", "nodes": "1023"}))?;
    cx.refused_at_create_or_start(&spec, "memoryPolicy MPOL_BIND to absent node 1023")
}

/// One raw syscall made by the probe as the container process; its return.
fn probe_syscall(
    cx: &mut Ctx,
    spec: oci_spec::runtime::Spec,
    call: &str,
) -> Result<i64, crate::case::Verdict> {
    let run = cx.run_probe(&spec)?;
    run.lines
        .iter()
        .find_map(|l| match l {
            litmus_probe::ProbeLine::Syscall { ret, .. } => Some(*ret),
            _ => None,
        })
        .ok_or_else(|| crate::case::fail(format!("the probe's {call} result"), run.raw.clone()))
}

/// IOPRIO_CLASS_IDLE (3), level 0 (a class any process may take):
/// ioprio_get(IOPRIO_WHO_PROCESS, 0) inside is 3 << 13.
fn io_priority_is_set(cx: &mut Ctx) -> Checked {
    const IOPRIO_GET: i64 = 252; // x86_64
    let mut spec = cx.spec(&["syscall", &format!("{IOPRIO_GET},1,0")]);
    let io = oci_spec::runtime::LinuxIOPriorityBuilder::default()
        .class(oci_spec::runtime::IOPriorityClass::IoprioClassIdle)
        .priority(0i64)
        .build()?;
    if let Some(process) = spec.process_mut() {
        process.set_io_priority(Some(io));
    }
    let ret = probe_syscall(cx, spec, "ioprio_get")?;
    expect_eq("ioprio_get (class << 13 | level)", 3 << 13, ret)
}

/// SCHED_BATCH (3): sched_getscheduler(0) inside returns it.
fn scheduler_policy_is_set(cx: &mut Ctx) -> Checked {
    const SCHED_GETSCHEDULER: i64 = 145; // x86_64
    let mut spec = cx.spec(&["syscall", &format!("{SCHED_GETSCHEDULER},0")]);
    let scheduler = oci_spec::runtime::SchedulerBuilder::default()
        .policy(oci_spec::runtime::LinuxSchedulerPolicy::SchedBatch)
        .nice(5)
        .build()?;
    if let Some(process) = spec.process_mut() {
        process.set_scheduler(Some(scheduler));
    }
    let ret = probe_syscall(cx, spec, "sched_getscheduler")?;
    expect_eq("sched_getscheduler (SCHED_BATCH = 3)", 3, ret)
}

/// consoleSize with terminal false: the size is ignored, the process runs
/// on the streams it was given.
fn console_size_is_ignored_without_a_terminal(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    let size = oci_spec::runtime::BoxBuilder::default().height(24u64).width(80u64).build()?;
    if let Some(process) = spec.process_mut() {
        process.set_terminal(Some(false));
        process.set_console_size(Some(size));
    }
    cx.run_probe(&spec)?.report().map(drop)
}
