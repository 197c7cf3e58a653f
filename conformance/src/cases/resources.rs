//! config-linux.md "control groups": limits as the host's cgroupfs shows them.

use crate::case::{expect, expect_eq, Area, Case, Checked, Ctx, Verdict};
use crate::cases::host_cgroup_dirs;
use oci_spec::runtime::{LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder, Spec};
use std::path::PathBuf;

pub const CASES: &[Case] = &[
    Case {
        name: "device_rules_are_enforced",
        area: Area::Resources,
        requirements: &["linux.resources.devices"],
        run: device_rules_are_enforced,
    },
    Case {
        name: "cpu_quota_and_shares_are_applied",
        area: Area::Resources,
        requirements: &["linux.resources.cpu"],
        run: cpu_quota_and_shares_are_applied,
    },
    Case {
        name: "update_changes_the_running_containers_limits",
        area: Area::Resources,
        requirements: &["linux.resources.update"],
        run: update_changes_the_running_containers_limits,
    },
    Case {
        name: "memory_limit_is_applied",
        area: Area::Resources,
        requirements: &["linux.resources.memory"],
        run: memory_limit_is_applied,
    },
    Case {
        name: "pids_limit_is_applied",
        area: Area::Resources,
        requirements: &["linux.resources.pids"],
        run: pids_limit_is_applied,
    },
    Case {
        name: "cgroups_path_is_used",
        area: Area::Resources,
        requirements: &["linux.cgroups.path"],
        run: cgroups_path_is_used,
    },
];

/// Creates a container from `spec` and returns the host directories of
/// its cgroup, read from /proc/<pid>/cgroup.
fn created_cgroup_dirs(cx: &mut Ctx, spec: &Spec) -> Result<Vec<PathBuf>, Verdict> {
    let bundle = cx.bundle(spec)?;
    let id = cx.new_id();
    cx.create_ok(&id, bundle)?;
    let pid = cx.state(&id)?.pid;
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).map_err(anyhow::Error::from)?;
    Ok(host_cgroup_dirs(&text))
}

/// The first of `dirs` that has `file` (v1: the controller's hierarchy).
fn read_control(dirs: &[PathBuf], files: &[&str]) -> Result<(String, String), Verdict> {
    for dir in dirs {
        for file in files {
            if let Ok(value) = std::fs::read_to_string(dir.join(file)) {
                return Ok((file.to_string(), value.trim().to_string()));
            }
        }
    }
    Err(Verdict::Skip(format!(
        "no {files:?} in the container's cgroups {dirs:?} (controller not available here)"
    )))
}

fn memory_limit_is_applied(cx: &mut Ctx) -> Checked {
    let limit: i64 = 48 * 1024 * 1024;
    let resources = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(limit)
                .build()
                .map_err(anyhow::Error::from)?,
        )
        .build()
        .map_err(anyhow::Error::from)?;
    let mut spec = cx.spec(&["exit", "0"]);
    spec.linux_mut()
        .as_mut()
        .expect("fixture linux")
        .set_resources(Some(resources));
    let dirs = created_cgroup_dirs(cx, &spec)?;
    let (file, value) = read_control(&dirs, &["memory.limit_in_bytes", "memory.max"])?;
    expect_eq(&file, limit.to_string(), value)
}

fn pids_limit_is_applied(cx: &mut Ctx) -> Checked {
    let resources = LinuxResourcesBuilder::default()
        .pids(
            LinuxPidsBuilder::default()
                .limit(17)
                .build()
                .map_err(anyhow::Error::from)?,
        )
        .build()
        .map_err(anyhow::Error::from)?;
    let mut spec = cx.spec(&["exit", "0"]);
    spec.linux_mut()
        .as_mut()
        .expect("fixture linux")
        .set_resources(Some(resources));
    let dirs = created_cgroup_dirs(cx, &spec)?;
    let (file, value) = read_control(&dirs, &["pids.max"])?;
    expect_eq(&file, "17", value.as_str())
}

fn cgroups_path_is_used(cx: &mut Ctx) -> Checked {
    let path = format!("/litmus-suite/{}", cx.new_id());
    let mut spec = cx.spec(&["exit", "0"]);
    spec.linux_mut()
        .as_mut()
        .expect("fixture linux")
        .set_cgroups_path(Some(path.clone().into()));
    let dirs = created_cgroup_dirs(cx, &spec)?;
    expect(
        !dirs.is_empty(),
        "the container in a cgroup of its own",
        "it shares the caller's cgroups",
    )?;
    for dir in &dirs {
        expect(
            dir.ends_with(path.trim_start_matches('/')),
            format!("cgroup path ending in {path}"),
            dir.display().to_string(),
        )?;
    }
    Ok(())
}

/// v1 cpu.cfs_quota_us/cfs_period_us and cpu.shares, or v2's cpu.max
/// ("QUOTA PERIOD"; shares map to cpu.weight, which is checked for change).
fn cpu_quota_and_shares_are_applied(cx: &mut Ctx) -> Checked {
    let cpu = oci_spec::runtime::LinuxCpuBuilder::default()
        .quota(25_000i64)
        .period(100_000u64)
        .shares(512u64)
        .build()
        .map_err(anyhow::Error::from)?;
    let resources = LinuxResourcesBuilder::default()
        .cpu(cpu)
        .build()
        .map_err(anyhow::Error::from)?;
    let mut spec = cx.spec(&["exit", "0"]);
    spec.linux_mut()
        .as_mut()
        .expect("fixture linux")
        .set_resources(Some(resources));
    let dirs = created_cgroup_dirs(cx, &spec)?;
    let (file, value) = read_control(&dirs, &["cpu.cfs_quota_us", "cpu.max"])?;
    if file == "cpu.max" {
        return expect_eq("cpu.max", "25000 100000", value.as_str());
    }
    expect_eq("cpu.cfs_quota_us", "25000", value.as_str())?;
    let (_, shares) = read_control(&dirs, &["cpu.shares"])?;
    expect_eq("cpu.shares", "512", shares.as_str())
}

/// `update --pids-limit` (runc's flag; `--resources` is the other form)
/// on a running container reaches its cgroup.
fn update_changes_the_running_containers_limits(cx: &mut Ctx) -> Checked {
    let resources = LinuxResourcesBuilder::default()
        .pids(
            LinuxPidsBuilder::default()
                .limit(40)
                .build()
                .map_err(anyhow::Error::from)?,
        )
        .build()
        .map_err(anyhow::Error::from)?;
    let mut spec = cx.spec(&["wait-signal"]);
    spec.linux_mut()
        .as_mut()
        .expect("fixture linux")
        .set_resources(Some(resources));
    let dirs = created_cgroup_dirs(cx, &spec)?;
    let id = cx.created.last().cloned().expect("created above");
    cx.start_ok(&id)?;
    let (file, before) = read_control(&dirs, &["pids.max"])?;
    expect_eq(&file, "40", before.as_str())?;
    let update = cx.call(&["update", "--pids-limit", "23", &id])?;
    expect(
        update.ok(),
        "update --pids-limit 23 to succeed",
        update.describe(),
    )?;
    let (_, after) = read_control(&dirs, &["pids.max"])?;
    expect_eq("pids.max after update", "23", after.as_str())
}

/// /dev/kmsg's numbers (1:11) at a private path, with CAP_SYSLOG so the
/// kernel itself lets root open it: readable when a rule allows c 1:11,
/// not when one denies it (v1 devices.allow/deny, v2 an eBPF program).
fn device_rules_are_enforced(cx: &mut Ctx) -> Checked {
    let allowed = kmsg_spec(cx, true)?;
    let control = cx.run_probe(&allowed)?;
    if !control.path(KMSG_PATH)?.readable {
        return Err(Verdict::Skip(
            "/dev/kmsg (1:11) cannot be opened here even when the rules allow it".into(),
        ));
    }
    let denied = kmsg_spec(cx, false)?;
    let run = cx.run_probe(&denied)?;
    expect(
        !run.path(KMSG_PATH)?.readable,
        "c 1:11 denied by linux.resources.devices: open fails",
        "the device opened",
    )
}

const KMSG_PATH: &str = "/dev/litmus-kmsg";

/// A probe reading KMSG_PATH (c 1:11) with CAP_SYSLOG, and one device
/// rule allowing or denying c 1:11.
fn kmsg_spec(cx: &Ctx, allow: bool) -> anyhow::Result<Spec> {
    use oci_spec::runtime::{
        Capability, LinuxDeviceBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    };
    let mut spec = cx.spec(&["path", KMSG_PATH]);
    let process = spec.process_mut().as_mut().expect("fixture process");
    let mut caps = process.capabilities().clone().unwrap_or_default();
    let add = |set: &Option<oci_spec::runtime::Capabilities>| {
        let mut set = set.clone().unwrap_or_default();
        set.insert(Capability::Syslog);
        Some(set)
    };
    let (b, e, p) = (
        add(caps.bounding()),
        add(caps.effective()),
        add(caps.permitted()),
    );
    caps.set_bounding(b).set_effective(e).set_permitted(p);
    process.set_capabilities(Some(caps));
    let device = LinuxDeviceBuilder::default()
        .path(KMSG_PATH)
        .typ(LinuxDeviceType::C)
        .major(1)
        .minor(11)
        .file_mode(0o600u32)
        .build()?;
    let rule = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .typ(LinuxDeviceType::C)
        .major(1)
        .minor(11)
        .access("rwm")
        .build()?;
    let linux = spec.linux_mut().as_mut().expect("fixture linux");
    linux.set_devices(Some(vec![device]));
    linux.set_resources(Some(
        LinuxResourcesBuilder::default()
            .devices(vec![rule])
            .build()?,
    ));
    Ok(spec)
}
