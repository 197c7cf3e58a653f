//! cgroup v1: one directory per hierarchy, each controller's files in its own.

use super::{write, write_some};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};
use std::path::{Path, PathBuf};

pub fn create(dirs: &[PathBuf], resources: Option<&LinuxResources>) -> Result<()> {
    for dir in dirs {
        create_dir_with_cpuset(dir)?;
    }
    match resources {
        Some(resources) => apply(dirs, resources),
        None => Ok(()),
    }
}

/// Writes `resources` into the hierarchies' directories (create and update).
pub fn apply(dirs: &[PathBuf], resources: &LinuxResources) -> Result<()> {
    if resources.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        bail!("linux.resources.unified: needs cgroup v2; this host uses cgroup v1");
    }
    let find = |controller: &str| controller_dir(dirs, controller);
    let need = |controller: &str, field: &str| {
        find(controller).with_context(|| {
            format!("linux.resources.{field}: the {controller} controller is not mounted")
        })
    };

    if let Some(memory) = resources.memory() {
        super::warn_kernel_memory(memory);
        let dir = need("memory", "memory")?;
        write_some(dir, "memory.limit_in_bytes", memory.limit())?;
        write_some(dir, "memory.soft_limit_in_bytes", memory.reservation())?;
        if let Some(swap) = memory.swap() {
            if !dir.join("memory.memsw.limit_in_bytes").exists() {
                bail!("linux.resources.memory.swap: swap accounting is not enabled on this host");
            }
            write(dir, "memory.memsw.limit_in_bytes", swap)?;
        }
        if let Some(swappiness) = memory.swappiness() {
            if swappiness > 100 {
                bail!("linux.resources.memory.swappiness: {swappiness} is above 100");
            }
            write(dir, "memory.swappiness", swappiness)?;
        }
        if memory.disable_oom_killer() == Some(true) {
            write(dir, "memory.oom_control", 1)?;
        }
    }
    if let Some(pids) = resources.pids() {
        let limit = pids.limit();
        let value = if limit > 0 { limit.to_string() } else { "max".to_string() };
        write(need("pids", "pids")?, "pids.max", value)?;
    }
    if let Some(cpu) = resources.cpu() {
        let dir = need("cpu", "cpu")?;
        write_some(dir, "cpu.shares", cpu.shares())?;
        write_some(dir, "cpu.cfs_period_us", cpu.period())?;
        write_some(dir, "cpu.cfs_quota_us", cpu.quota())?;
        write_some(dir, "cpu.rt_runtime_us", cpu.realtime_runtime())?;
        write_some(dir, "cpu.rt_period_us", cpu.realtime_period())?;
        if cpu.cpus().is_some() || cpu.mems().is_some() {
            let dir = need("cpuset", "cpu.cpus")?;
            write_some(dir, "cpuset.cpus", cpu.cpus().as_ref())?;
            write_some(dir, "cpuset.mems", cpu.mems().as_ref())?;
        }
    }
    if let Some(block_io) = resources.block_io() {
        super::blkio_hugetlb_rdma::block_io_v1(need("blkio", "blockIO")?, block_io)?;
    }
    if let Some(limits) = resources.hugepage_limits().as_ref().filter(|l| !l.is_empty()) {
        super::blkio_hugetlb_rdma::hugepages(
            need("hugetlb", "hugepageLimits")?,
            limits,
            "limit_in_bytes",
        )?;
    }
    if let Some(limits) = resources.rdma().as_ref().filter(|l| !l.is_empty()) {
        super::blkio_hugetlb_rdma::rdma(need("rdma", "rdma")?, limits)?;
    }
    if let Some(network) = resources.network() {
        if let Some(class_id) = network.class_id() {
            write(need("net_cls", "network.classID")?, "net_cls.classid", class_id)?;
        }
        for priority in network.priorities().iter().flatten() {
            let line = format!("{} {}", priority.name(), priority.priority());
            write(need("net_prio", "network.priorities")?, "net_prio.ifpriomap", line)?;
        }
    }
    if let Some(rules) = resources.devices() {
        if let Some(dir) = find("devices") {
            for rule in rules.iter().chain(super::DEFAULT_DEVICE_RULES.iter()) {
                let file = if rule.allow() { "devices.allow" } else { "devices.deny" };
                write(dir, file, device_rule(rule))?;
            }
        }
    }
    Ok(())
}

/// The directory of the hierarchy that has `controller` (v1 mounts each
/// at /sys/fs/cgroup/<controllers>, e.g. "cpu,cpuacct").
pub fn controller_dir<'d>(dirs: &'d [PathBuf], controller: &str) -> Option<&'d PathBuf> {
    dirs.iter().find(|d| {
        d.iter()
            .nth(4) // /sys/fs/cgroup/<hierarchy>/...
            .and_then(|h| h.to_str())
            .is_some_and(|h| h.split(',').any(|c| c == controller))
    })
}

/// "c 1:3 rwm"; absent type/major/minor are wildcards.
pub fn device_rule(rule: &LinuxDeviceCgroup) -> String {
    let typ = rule.typ().map(|t| t.as_str().to_string()).unwrap_or_else(|| "a".into());
    let num =
        |n: Option<i64>| n.filter(|n| *n >= 0).map(|n| n.to_string()).unwrap_or_else(|| "*".into());
    let access = rule.access().clone().unwrap_or_else(|| "rwm".into());
    format!("{typ} {}:{} {access}", num(rule.major()), num(rule.minor()))
}

/// Creates `dir` and its missing parents. A new cpuset cgroup starts with
/// empty cpus/mems, which makes adding a task fail (ENOSPC), so every
/// empty level from the top down takes its parent's: the levels this
/// create made, and a parent another create has just made and not filled
/// yet (two first creates racing on /litmus).
fn create_dir_with_cpuset(dir: &Path) -> Result<()> {
    super::make_levels(dir, |_| Ok(()), |_| Ok(()))?;
    fill_empty_cpusets(dir)
}

fn fill_empty_cpusets(dir: &Path) -> Result<()> {
    let levels: Vec<&Path> = dir
        .ancestors()
        .take_while(|d| d.parent().is_some_and(|p| p.join("cpuset.cpus").exists()))
        .collect();
    for level in levels.into_iter().rev() {
        let parent = level.parent().expect("taken only with a parent");
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let own = std::fs::read_to_string(level.join(file)).unwrap_or_default();
            if own.trim().is_empty() {
                let value = std::fs::read_to_string(parent.join(file)).unwrap_or_default();
                write(level, file, value.trim())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType};

    #[test]
    fn empty_cpuset_levels_take_their_parents_values_from_the_top_down() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("cpuset");
        let leaf = root.join("litmus/c1");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(root.join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(root.join("cpuset.mems"), "0\n").unwrap();
        for level in [root.join("litmus"), leaf.clone()] {
            std::fs::write(level.join("cpuset.cpus"), "\n").unwrap();
            std::fs::write(level.join("cpuset.mems"), "").unwrap();
        }
        fill_empty_cpusets(&leaf).unwrap();
        for level in [root.join("litmus"), leaf] {
            assert_eq!(std::fs::read_to_string(level.join("cpuset.cpus")).unwrap(), "0-1");
            assert_eq!(std::fs::read_to_string(level.join("cpuset.mems")).unwrap(), "0");
        }
        assert_eq!(std::fs::read_to_string(root.join("cpuset.cpus")).unwrap(), "0-1\n");
    }

    #[test]
    fn device_rules_use_wildcards_for_absent_fields() {
        let all = LinuxDeviceCgroupBuilder::default().allow(false).access("rwm").build().unwrap();
        assert_eq!(device_rule(&all), "a *:* rwm");
        let null = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rw")
            .build()
            .unwrap();
        assert_eq!(device_rule(&null), "c 1:3 rw");
    }
}
