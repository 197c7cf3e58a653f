//! config-linux.md "control groups": limits as the host's cgroupfs shows them.

use crate::case::{expect, expect_eq, Checked, Verdict};
use crate::ctx::Ctx;
use crate::host_cgroups::{host_cgroup_dirs, read_first};
use oci_spec::runtime::{LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder, Spec};
use std::path::PathBuf;

crate::cases! {
    Resources: {
        intel_rdt_without_resctrl_is_an_error => [LINUX_INTEL_RDT],
        block_io_throttle_is_applied => [LINUX_RESOURCES_BLOCK_IO],
        hugepage_limit_is_applied => [LINUX_RESOURCES_HUGEPAGE_LIMITS],
        device_rules_are_enforced => [LINUX_RESOURCES_DEVICES],
        cpu_quota_and_shares_are_applied => [LINUX_RESOURCES_CPU],
        update_changes_the_running_containers_limits => [LINUX_RESOURCES_UPDATE],
        update_below_usage_with_check_before_update_is_refused =>
            [LINUX_RESOURCES_MEMORY_CHECK_BEFORE_UPDATE],
        memory_limit_is_applied => [LINUX_RESOURCES_MEMORY],
        pids_limit_is_applied => [LINUX_RESOURCES_PIDS],
        unified_keys_are_written_or_refused => [LINUX_RESOURCES_UNIFIED],
        cgroups_path_is_used => [LINUX_CGROUPS_PATH],
    }
}

/// Creates a container from `spec` and returns the host directories of
/// its cgroup, read from /proc/<pid>/cgroup.
fn created_cgroup_dirs(cx: &mut Ctx, spec: &Spec) -> Result<Vec<PathBuf>, Verdict> {
    let id = cx.new_container(spec)?;
    let pid = cx.state(&id)?.pid;
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    Ok(host_cgroup_dirs(&text))
}

/// [`created_cgroup_dirs`] of a probe that exits at once, under `resources`.
fn cgroup_dirs_limited_by(
    cx: &mut Ctx,
    resources: oci_spec::runtime::LinuxResources,
) -> Result<Vec<PathBuf>, Verdict> {
    let mut spec = cx.spec(&["exit", "0"]);
    spec.linux_mut().as_mut().expect("fixture linux").set_resources(Some(resources));
    created_cgroup_dirs(cx, &spec)
}

/// [`read_first`] of the container's cgroups, or SKIP: the controller is
/// not available here.
fn read_control(dirs: &[PathBuf], files: &[&str]) -> Result<(String, String), Verdict> {
    read_first(dirs, files).ok_or_else(|| {
        Verdict::Skip(format!(
            "no {files:?} in the container's cgroups {dirs:?} (controller not available here)"
        ))
    })
}

fn memory_limit_is_applied(cx: &mut Ctx) -> Checked {
    let limit: i64 = 48 * 1024 * 1024;
    let resources = LinuxResourcesBuilder::default()
        .memory(LinuxMemoryBuilder::default().limit(limit).build()?)
        .build()?;
    let dirs = cgroup_dirs_limited_by(cx, resources)?;
    let (file, value) = read_control(&dirs, &["memory.limit_in_bytes", "memory.max"])?;
    expect_eq(&file, limit.to_string(), value)
}

fn pids_limit_is_applied(cx: &mut Ctx) -> Checked {
    let resources = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(17).build()?)
        .build()?;
    let dirs = cgroup_dirs_limited_by(cx, resources)?;
    let (file, value) = read_control(&dirs, &["pids.max"])?;
    expect_eq(&file, "17", value.as_str())
}

/// linux.resources.unified: on a cgroup v2 host each key is written to the
/// file of that name in the container's cgroup, and a key naming no file
/// fails create; on a v1 or hybrid host (the runtime's cgroups are v1) any
/// key fails create, since it cannot be applied.
fn unified_keys_are_written_or_refused(cx: &mut Ctx) -> Checked {
    let with_unified = |cx: &Ctx, key: &str, value: &str| -> Result<Spec, Verdict> {
        let resources = LinuxResourcesBuilder::default()
            .unified(
                [(key.to_string(), value.to_string())]
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            )
            .build()?;
        let mut spec = cx.spec(&["exit", "0"]);
        spec.linux_mut().as_mut().expect("fixture linux").set_resources(Some(resources));
        Ok(spec)
    };
    let refused = |cx: &mut Ctx, spec: &Spec, why: &str| -> Checked {
        let bundle = cx.bundle(spec)?;
        let id = cx.new_id();
        let inv = cx.create(&id, bundle)?;
        expect(!inv.ok(), format!("create to fail: {why}"), inv.describe())
    };
    let pure_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    if !pure_v2 {
        let spec = with_unified(cx, "pids.max", "23")?;
        return refused(cx, &spec, "unified keys need cgroup v2 and this host's cgroups are v1");
    }
    let dirs = created_cgroup_dirs(cx, &with_unified(cx, "pids.max", "23")?)?;
    let (file, value) = read_control(&dirs, &["pids.max"])?;
    expect_eq(&file, "23", value.as_str())?;
    let spec = with_unified(cx, "litmus.no-such-file", "1")?;
    refused(cx, &spec, "unified key litmus.no-such-file names no cgroup file")
}

fn cgroups_path_is_used(cx: &mut Ctx) -> Checked {
    let path = format!("/litmus-suite/{}", cx.new_id());
    let mut spec = cx.spec(&["exit", "0"]);
    spec.linux_mut().as_mut().expect("fixture linux").set_cgroups_path(Some(path.clone().into()));
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
        .build()?;
    let resources = LinuxResourcesBuilder::default().cpu(cpu).build()?;
    let dirs = cgroup_dirs_limited_by(cx, resources)?;
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
        .pids(LinuxPidsBuilder::default().limit(40).build()?)
        .build()?;
    let mut spec = cx.spec(&["wait-signal"]);
    spec.linux_mut().as_mut().expect("fixture linux").set_resources(Some(resources));
    let dirs = created_cgroup_dirs(cx, &spec)?;
    let id = cx.created.last().cloned().expect("created above");
    cx.start_ok(&id)?;
    let (file, before) = read_control(&dirs, &["pids.max"])?;
    expect_eq(&file, "40", before.as_str())?;
    let update = cx.call(&["update", "--pids-limit", "23", &id])?;
    update.expect_ok("update --pids-limit 23 to succeed")?;
    let (_, after) = read_control(&dirs, &["pids.max"])?;
    expect_eq("pids.max after update", "23", after.as_str())
}

/// A container holding 48 MiB under a 256 MiB limit; `update -r` with
/// a 16 MiB limit and memory.checkBeforeUpdate must be refused, leaving
/// the limit as it was and the container running (not OOM-killed). Under
/// cgroup v1 the kernel refuses such a limit too; under v2 it would take
/// it and kill: there only the runtime's check passes the case.
fn update_below_usage_with_check_before_update_is_refused(cx: &mut Ctx) -> Checked {
    let limit: i64 = 256 << 20;
    let resources = LinuxResourcesBuilder::default()
        .memory(oci_spec::runtime::LinuxMemoryBuilder::default().limit(limit).build()?)
        .build()?;
    let mut spec = cx.spec(&["hold", "48", "report", "wait-signal"]);
    spec.linux_mut().as_mut().expect("fixture linux").set_resources(Some(resources));
    let dirs = created_cgroup_dirs(cx, &spec)?;
    let id = cx.created.last().cloned().expect("created above");
    cx.start_and_await_report(&id)?;
    let update = cx.work().join("check-before-update.json");
    let json = serde_json::json!({"memory": {"limit": 16 << 20, "checkBeforeUpdate": true}});
    std::fs::write(&update, json.to_string())?;
    let inv = cx.call(&["update", "-r", &update.display().to_string(), &id])?;
    inv.expect_refused("update to a limit below the usage, with checkBeforeUpdate, to fail")?;
    let (file, after) = read_control(&dirs, &["memory.limit_in_bytes", "memory.max"])?;
    expect_eq(&format!("{file} after the refused update"), limit.to_string(), after)?;
    let status = cx.state(&id)?.status;
    expect_eq("the container's status after the refused update", "running", status.as_str())
}

/// /dev/kmsg's numbers (1:11) at a private path, with CAP_SYSLOG so the
/// kernel itself lets root open it: readable when a rule allows c 1:11,
/// not when one denies rw on it (v1 devices.allow/deny, v2 an eBPF program).
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
    let (b, e, p) = (add(caps.bounding()), add(caps.effective()), add(caps.permitted()));
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
        // Denying only rw keeps mknod allowed: runtimes that apply rules
        // before building /dev (crun) still create the node.
        .access(if allow { "rwm" } else { "rw" })
        .build()?;
    let linux = spec.linux_mut().as_mut().expect("fixture linux");
    linux.set_devices(Some(vec![device]));
    linux.set_resources(Some(LinuxResourcesBuilder::default().devices(vec![rule]).build()?));
    Ok(spec)
}

/// The first whole disk the host has ("MAJOR:MINOR" from /sys/block).
fn a_host_disk() -> Option<String> {
    let mut disks: Vec<_> = std::fs::read_dir("/sys/block").ok()?.flatten().collect();
    disks.sort_by_key(|d| d.file_name());
    disks
        .iter()
        .filter(|d| {
            let name = d.file_name().to_string_lossy().into_owned();
            !name.starts_with("loop") && !name.starts_with("ram") && !name.starts_with("zram")
        })
        .find_map(|d| std::fs::read_to_string(d.path().join("dev")).ok())
        .map(|dev| dev.trim().to_string())
}

/// throttleReadBpsDevice 1 MiB/s on a host disk: v1's
/// blkio.throttle.read_bps_device or v2's io.max shows it.
fn block_io_throttle_is_applied(cx: &mut Ctx) -> Checked {
    let Some(disk) = a_host_disk() else {
        return Err(Verdict::Skip("no block device on this host to throttle".into()));
    };
    let (major, minor) = disk.split_once(':').expect("MAJOR:MINOR");
    let (major, minor): (i64, i64) = (major.parse()?, minor.parse()?);
    let throttle = oci_spec::runtime::LinuxThrottleDeviceBuilder::default()
        .major(major)
        .minor(minor)
        .rate(1_048_576u64)
        .build()?;
    let block_io = oci_spec::runtime::LinuxBlockIoBuilder::default()
        .throttle_read_bps_device(vec![throttle])
        .build()?;
    let resources = LinuxResourcesBuilder::default().block_io(block_io).build()?;
    let dirs = cgroup_dirs_limited_by(cx, resources)?;
    let (file, value) = read_control(&dirs, &["blkio.throttle.read_bps_device", "io.max"])?;
    let expected =
        if file == "io.max" { format!("{disk} rbps=1048576") } else { format!("{disk} 1048576") };
    expect(
        value.lines().any(|l| l.starts_with(&expected)),
        format!("{file} to have \"{expected}\""),
        value,
    )
}

/// hugepageLimits 2MB = 4 MiB: hugetlb.2MB.limit_in_bytes (v1) or
/// hugetlb.2MB.max (v2).
fn hugepage_limit_is_applied(cx: &mut Ctx) -> Checked {
    let pure_v2 = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").ok();
    let available = match &pure_v2 {
        Some(controllers) => controllers.split_whitespace().any(|c| c == "hugetlb"),
        None => std::path::Path::new("/sys/fs/cgroup/hugetlb").exists(),
    };
    if !available {
        return Err(Verdict::Skip(
            "no hugetlb controller for this host's cgroup version (a hybrid host may have it on cgroup2 only)".into(),
        ));
    }
    let limit = oci_spec::runtime::LinuxHugepageLimitBuilder::default()
        .page_size("2MB")
        .limit(4 * 1024 * 1024i64)
        .build()?;
    let resources = LinuxResourcesBuilder::default().hugepage_limits(vec![limit]).build()?;
    let dirs = cgroup_dirs_limited_by(cx, resources)?;
    let (file, value) = read_control(&dirs, &["hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max"])?;
    expect_eq(&file, "4194304", value.as_str())
}

/// intelRdt on a host without a mounted resctrl: "the runtime MUST generate
/// an error". (With resctrl, the rest of intelRdt needs RDT hardware,
/// which no litmus host has: the case skips.)
fn intel_rdt_without_resctrl_is_an_error(cx: &mut Ctx) -> Checked {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    if mountinfo.lines().any(|l| l.contains(" - resctrl ")) {
        return Err(Verdict::Skip(
            "this host has resctrl mounted; the case needs a host without".into(),
        ));
    }
    let mut spec = cx.spec(&["marker", "/ran", "exit", "0"]);
    let rdt: oci_spec::runtime::LinuxIntelRdt =
        serde_json::from_value(serde_json::json!({"closID": "litmus", "l3CacheSchema": "L3:0=f"}))?;
    if let Some(linux) = spec.linux_mut() {
        linux.set_intel_rdt(Some(rdt));
    }
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.create_refused(&id, bundle, "create with intelRdt and no resctrl to fail")?;
    expect(!cx.program_ran(bundle), "the program not to run", "it ran")
}
