//! Real-world inputs (area `realworld`): seccomp profiles as engines ship
//! them and configs as `spec` commands write them, from the corpus built
//! at test time (see crate::realworld). A valid config must run as it says
//! whatever its vintage: an allow-list written before close_range existed,
//! noNewPrivileges true or false, a rootless layout.

use super::seccomp::with_seccomp;
use crate::case::{fail, Checked, Verdict};
use crate::ctx::Ctx;
use crate::realworld::{self, Target};
use litmus_probe::ProbeLine;
use oci_spec::runtime::Spec;
use serde_json::Value;
use std::path::Path;

crate::cases! {
    Realworld: {
        engine_seccomp_profiles_run_and_are_active =>
            [RUNTIME_LIFECYCLE_CREATE_ENV, LINUX_SECCOMP_SYSCALLS],
        configs_captured_from_engines_run => [RUNTIME_LIFECYCLE_CREATE_ENV, CONFIG_PROCESS_USER],
        configs_written_by_spec_commands_run => [RUNTIME_LIFECYCLE_CREATE_ENV, CONFIG_PROCESS_USER],
    }
}

/// Syscalls that tell a profile's denial apart from the kernel's answer:
/// called with these arguments they fail without a filter with an errno
/// other than EPERM (bad pointer, unknown operation), and engine profiles
/// deny them for a container without extra capabilities.
const PROBES: &[(&str, i64, &[u64])] = &[
    ("keyctl", libc::SYS_keyctl, &[9999]),
    ("add_key", libc::SYS_add_key, &[0, 0, 0, 0, 0]),
    ("request_key", libc::SYS_request_key, &[0, 0, 0, 0]),
    ("syslog", libc::SYS_syslog, &[9999, 0, 0]),
];

fn probe_args() -> Vec<String> {
    let mut args = vec!["report".to_string()];
    for (_, nr, call_args) in PROBES {
        args.push("syscall".into());
        args.push(super::seccomp::call(*nr, call_args));
    }
    args
}

/// The errno of each PROBES call, in order (None: it succeeded or the
/// probe did not report it).
fn errnos(lines: &[ProbeLine]) -> Vec<Option<i32>> {
    let mut seen = lines.iter().filter_map(|l| match l {
        ProbeLine::Syscall { nr, errno, .. } => Some((*nr, *errno)),
        _ => None,
    });
    PROBES.iter().map(|(_, nr, _)| seen.find(|(n, _)| n == nr).and_then(|(_, e)| e)).collect()
}

fn engine_seccomp_profiles_run_and_are_active(cx: &mut Ctx) -> Checked {
    let corpus = realworld::corpus().map_err(Verdict::Skip)?;
    let profiles = realworld::files(&corpus.join("seccomp"));
    if profiles.is_empty() {
        return Err(Verdict::Skip(format!("no seccomp profiles in {}/seccomp", corpus.display())));
    }
    let args = probe_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let base = cx.spec(&args);
    let caps: Vec<String> = base
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().clone())
        .into_iter()
        .flatten()
        .map(|c| format!("CAP_{c}"))
        .collect();
    let target = Target { caps: &caps, arch: "amd64", kernel: Target::host_kernel() };
    // What the kernel answers without a filter.
    let baseline = errnos(&cx.run_probe(&base)?.lines);
    let mut failures = Vec::new();
    for path in &profiles {
        let label = realworld::label(path);
        let profile: Value = match std::fs::read(path).and_then(|b| Ok(serde_json::from_slice(&b)?))
        {
            Ok(v) => v,
            Err(e) => return Err(fail(format!("{label}: a JSON profile"), format!("{e:#}"))),
        };
        let resolved = realworld::resolve_profile(&profile, &target).map_err(|e| {
            fail(format!("{label}: a profile litmus can resolve"), format!("{e:#}"))
        })?;
        for nnp in [true, false] {
            let mut spec = with_seccomp(base.clone(), resolved.clone());
            if let Some(process) = spec.process_mut() {
                process.set_no_new_privileges(Some(nnp));
            }
            if let Err(why) = check_profile_run(cx, &spec, &resolved, &baseline) {
                failures.push(format!("{label} (noNewPrivileges {nnp}): {why}"));
            }
        }
    }
    all_right(
        failures,
        format!(
            "each of {} engine profiles to start the container and deny what it denies",
            profiles.len()
        ),
    )
}

/// One run under a resolved profile: the container starts, the probe
/// reports, and every probe syscall the profile denies (and the kernel
/// would answer differently) returns the profile's errno.
fn check_profile_run(
    cx: &mut Ctx,
    spec: &Spec,
    resolved: &Value,
    baseline: &[Option<i32>],
) -> Result<(), String> {
    let run = cx.run_probe(spec).map_err(|v| describe(&v))?;
    run.report().map_err(|v| describe(&v))?;
    let seen = errnos(&run.lines);
    let mut conclusive = 0;
    for (i, (name, _, _)) in PROBES.iter().enumerate() {
        let Some(expected) = realworld::denies_with(resolved, name) else {
            continue;
        };
        if baseline[i] == Some(expected) {
            continue;
        }
        conclusive += 1;
        if seen[i] != Some(expected) {
            return Err(format!(
                "{name}: errno {:?} (the profile's {expected}; without it {:?})",
                seen[i], baseline[i]
            ));
        }
    }
    if conclusive == 0 {
        return Err(format!(
            "none of the probe's syscalls ({}) tells this profile's denial from the kernel's answer",
            PROBES.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(())
}

fn describe(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Fail { expected, seen } => format!("expected {expected}, saw {seen}"),
        Verdict::Skip(why) => format!("could not run: {why}"),
    }
}

/// A config written by a `spec` command, made to run the probe from the
/// bundle's rootfs; everything else is kept as written.
fn adapted(path: &Path, probe: &[&str]) -> Result<Spec, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let spec: Spec = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    running_the_probe(spec, probe)
}

/// `spec` with the probe as its program (`probe` its actions), on no
/// terminal, in the bundle's rootfs; everything else as written.
fn running_the_probe(mut spec: Spec, probe: &[&str]) -> Result<Spec, String> {
    let fixture_process =
        litmus_bundle::default_spec(probe).process().clone().expect("fixture process");
    let process = spec.process_mut().as_mut().ok_or("no process")?;
    process.set_args(fixture_process.args().clone());
    process.set_terminal(Some(false));
    if let Some(root) = spec.root_mut() {
        root.set_path("rootfs".into());
    }
    Ok(spec)
}

fn configs_written_by_spec_commands_run(cx: &mut Ctx) -> Checked {
    let mut configs = Vec::new();
    // The runtime's own `spec`, written now.
    let own_dir = cx.work().join("own-spec");
    std::fs::create_dir_all(&own_dir)?;
    let own_arg = own_dir.display().to_string();
    let own = cx.call(&["spec", "--bundle", &own_arg])?;
    let own_config = own_dir.join("config.json");
    let mut notes = Vec::new();
    if own.ok() && own_config.exists() {
        configs.push(("the runtime's own spec".to_string(), own_config));
    } else {
        notes.push(format!("the runtime's `spec` did not write one ({})", own.describe()));
    }
    if let Ok(corpus) = realworld::corpus() {
        for path in realworld::files(&corpus.join("configs")) {
            configs.push((realworld::label(&path), path));
        }
    } else if let Err(why) = realworld::corpus() {
        notes.push(why);
    }
    if configs.is_empty() {
        return Err(Verdict::Skip(notes.join("; ")));
    }
    let mut failures = Vec::new();
    for (label, path) in &configs {
        let spec = match adapted(path, &["report"]) {
            Ok(spec) => spec,
            Err(why) => {
                failures.push(format!("{label}: not a config ({why})"));
                continue;
            }
        };
        if let Some(wrong) = what_is_wrong(cx, &spec) {
            failures.push(format!("{label}: {wrong}"));
        }
    }
    all_right(
        failures,
        format!("each of {} configs written by spec commands to run as it says", configs.len()),
    )
}

/// config.json documents podman 4.3.1 and containerd 1.6.20 wrote for real
/// scenarios, captured by `cargo xtask engines --record DIR` (a wrapper
/// that copies the bundle's config and notes the kind of every mount
/// source at create time).
const ENGINE_CONFIGS: &[(&str, &str)] = &[
    ("podman-4.3.1_echo", include_str!("../../fixtures/engine-configs/podman-4.3.1_echo.json")),
    (
        "podman-4.3.1_env-workdir-user-hostname",
        include_str!("../../fixtures/engine-configs/podman-4.3.1_env-workdir-user-hostname.json"),
    ),
    (
        "podman-4.3.1_read-only",
        include_str!("../../fixtures/engine-configs/podman-4.3.1_read-only.json"),
    ),
    (
        "podman-4.3.1_cap-drop",
        include_str!("../../fixtures/engine-configs/podman-4.3.1_cap-drop.json"),
    ),
    (
        "podman-4.3.1_bind-volume",
        include_str!("../../fixtures/engine-configs/podman-4.3.1_bind-volume.json"),
    ),
    (
        "podman-4.3.1_pids-limit",
        include_str!("../../fixtures/engine-configs/podman-4.3.1_pids-limit.json"),
    ),
    (
        "podman-4.3.1_memory-oom-137",
        include_str!("../../fixtures/engine-configs/podman-4.3.1_memory-oom-137.json"),
    ),
    ("podman-4.3.1_tty", include_str!("../../fixtures/engine-configs/podman-4.3.1_tty.json")),
    (
        "containerd-1.6.20_run-exit-code",
        include_str!("../../fixtures/engine-configs/containerd-1.6.20_run-exit-code.json"),
    ),
    (
        "containerd-1.6.20_env",
        include_str!("../../fixtures/engine-configs/containerd-1.6.20_env.json"),
    ),
    (
        "containerd-1.6.20_memory-oom-137",
        include_str!("../../fixtures/engine-configs/containerd-1.6.20_memory-oom-137.json"),
    ),
];

/// An engine's config made runnable here, everything else kept as the
/// engine wrote it: the bundle's rootfs, the probe as the program (no
/// terminal), a stand-in of the recorded kind for each bind source of the
/// capture host, and a cgroup path of this run under the same nesting.
fn replayable(cx: &Ctx, label: &str, fixture: &str, index: usize) -> Result<Spec, String> {
    let doc: Value = serde_json::from_str(fixture).map_err(|e| e.to_string())?;
    let mut config = doc["config"].clone();
    let sources = doc["sources"].as_object().cloned().unwrap_or_default();
    let stand_ins = cx.work().join(format!("sources-{index}"));
    for (i, mount) in config["mounts"].as_array_mut().into_iter().flatten().enumerate() {
        let Some(source) = mount["source"].as_str().map(String::from) else {
            continue;
        };
        let stand_in = stand_ins.join(i.to_string());
        match sources.get(&source).and_then(Value::as_str) {
            Some("file") => {
                std::fs::create_dir_all(&stand_ins).map_err(|e| e.to_string())?;
                std::fs::write(&stand_in, format!("{label}\n")).map_err(|e| e.to_string())?;
            }
            Some("dir") => std::fs::create_dir_all(&stand_in).map_err(|e| e.to_string())?,
            _ => continue,
        }
        mount["source"] = Value::String(stand_in.display().to_string());
    }
    if let Some(path) = config["linux"]["cgroupsPath"].as_str() {
        let leaf = path.rsplit('/').next().unwrap_or("c");
        let depth = path.trim_matches('/').split('/').count();
        let mut replaced = format!("/litmus-engine-configs-{}", std::process::id());
        if depth > 1 {
            replaced += &format!("/{index}-{}", &leaf[..leaf.len().min(24)]);
        } else {
            replaced += &format!("-{index}");
        }
        config["linux"]["cgroupsPath"] = Value::String(replaced);
    }
    let spec: Spec = serde_json::from_value(config).map_err(|e| e.to_string())?;
    running_the_probe(spec, &["report"])
}

fn configs_captured_from_engines_run(cx: &mut Ctx) -> Checked {
    let mut failures = Vec::new();
    for (index, (label, fixture)) in ENGINE_CONFIGS.iter().enumerate() {
        let spec = match replayable(cx, label, fixture, index) {
            Ok(spec) => spec,
            Err(why) => {
                failures.push(format!("{label}: not replayable ({why})"));
                continue;
            }
        };
        if let Some(wrong) = what_is_wrong(cx, &spec) {
            failures.push(format!("{label}: {wrong}"));
        }
    }
    remove_engine_cgroup_parents();
    all_right(
        failures,
        format!(
            "each of {} configs captured from podman and containerd to run as it says",
            ENGINE_CONFIGS.len()
        ),
    )
}

/// Runs `spec` with the probe; what the container shows against what the
/// config says (user, hostname, no_new_privs, a seccomp filter, a
/// read-only root), or None when all of it holds.
fn what_is_wrong(cx: &mut Ctx, spec: &Spec) -> Option<String> {
    let process = spec.process().clone().unwrap_or_default();
    let expected_uid = process.user().uid();
    let expected_nnp = process.no_new_privileges() == Some(true);
    let has_seccomp = spec.linux().as_ref().is_some_and(|l| l.seccomp().is_some());
    let expected_host = spec.hostname().clone();
    let read_only = spec.root().as_ref().and_then(|r| r.readonly()) == Some(true);
    let run = match cx.run_probe(spec) {
        Ok(run) => run,
        Err(v) => return Some(describe(&v)),
    };
    let report = match run.report() {
        Ok(report) => report,
        Err(v) => return Some(describe(&v)),
    };
    let mut wrong = Vec::new();
    if report.ids.uid != expected_uid {
        wrong.push(format!("uid {} (config {expected_uid})", report.ids.uid));
    }
    if let Some(host) = expected_host.filter(|h| *h != report.hostname) {
        wrong.push(format!("hostname {:?} (config {host:?})", report.hostname));
    }
    if report.no_new_privs != Some(u32::from(expected_nnp)) {
        wrong.push(format!("no_new_privs {:?} (config {expected_nnp})", report.no_new_privs));
    }
    if has_seccomp && report.seccomp_mode != Some(2) {
        wrong.push(format!(
            "seccomp mode {:?} (the config's profile: 2, filter)",
            report.seccomp_mode
        ));
    }
    if read_only && !report.mount_at("/").is_some_and(|m| m.is_readonly()) {
        wrong.push("/ writable (config: root.readonly)".into());
    }
    (!wrong.is_empty()).then(|| wrong.join(", "))
}

/// Passes when nothing went wrong, else fails listing every failure.
fn all_right(failures: Vec<String>, expected: String) -> Checked {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(fail(expected, failures.join("; ")))
    }
}

/// The parents of the nested cgroup paths above: runtimes remove the
/// container's own cgroup, not the parents they had to make.
fn remove_engine_cgroup_parents() {
    let parent = format!("litmus-engine-configs-{}", std::process::id());
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        let _ = std::fs::remove_dir(hierarchy.path().join(&parent));
    }
    let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&parent));
}
