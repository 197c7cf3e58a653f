//! `update`: new resource limits for a live container, from a
//! linux.resources JSON document or runc's flags.

use crate::cgroups::Cgroup;
use crate::cli::UpdateArgs;
use crate::state::ContainerDir;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use std::io::Read;
use std::path::Path;

pub fn update(root: &Path, args: &UpdateArgs) -> Result<()> {
    let resources = resources_from(args)?;
    let dir = ContainerDir::open(root, &args.id)?;
    let record = dir.load()?;
    let cgroup = record.cgroup_for("update")?;
    check_before_update(&cgroup, &resources)?;
    cgroup.apply(&resources)?;
    // Keep the container's copy of its config in step, for `events` and a
    // later `update`.
    let mut spec = dir.load_config()?;
    if let Some(linux) = spec.linux_mut() {
        linux.set_resources(Some(merge(linux.resources().clone().unwrap_or_default(), resources)));
    }
    dir.save_config(&spec)
}

/// memory.checkBeforeUpdate: a limit below what the container uses now is
/// refused, rather than left to the kernel (cgroup v1 refuses it itself;
/// v2 would set it and invoke the OOM killer).
fn check_before_update(cgroup: &Cgroup, resources: &LinuxResources) -> Result<()> {
    let Some(memory) = resources.memory() else { return Ok(()) };
    if memory.check_before_update() != Some(true) {
        return Ok(());
    }
    let Some(limit) = memory.limit().filter(|l| *l > 0) else { return Ok(()) };
    let usage = crate::cgroups::stats::memory_usage(cgroup)
        .context("memory.checkBeforeUpdate: reading the container's memory usage")?;
    if (limit as u64) < usage {
        bail!(
            "memory.limit: {limit} is below the container's current usage of {usage} bytes \
             (memory.checkBeforeUpdate is set)"
        );
    }
    Ok(())
}

/// What the command line asks for.
pub fn resources_from(args: &UpdateArgs) -> Result<LinuxResources> {
    if let Some(path) = &args.resources {
        let mut text = Vec::new();
        if path.as_os_str() == "-" {
            std::io::stdin().read_to_end(&mut text)?;
        } else {
            text = std::fs::read(path)
                .with_context(|| format!("--resources: reading {}", path.display()))?;
        }
        return serde_json::from_slice(&text)
            .context("--resources: not a linux.resources document");
    }
    let mut resources = LinuxResources::default();
    let mut memory = LinuxMemory::default();
    let mut touched_memory = false;
    if let Some(m) = &args.memory {
        memory.set_limit(Some(parse_bytes(m).context("--memory")?));
        touched_memory = true;
    }
    if let Some(m) = &args.memory_reservation {
        memory.set_reservation(Some(parse_bytes(m).context("--memory-reservation")?));
        touched_memory = true;
    }
    if let Some(m) = &args.memory_swap {
        memory.set_swap(Some(parse_bytes(m).context("--memory-swap")?));
        touched_memory = true;
    }
    if touched_memory {
        resources.set_memory(Some(memory));
    }
    if let Some(limit) = args.pids_limit {
        let mut pids = LinuxPids::default();
        pids.set_limit(limit);
        resources.set_pids(Some(pids));
    }
    let mut cpu = LinuxCpu::default();
    cpu.set_quota(args.cpu_quota)
        .set_period(args.cpu_period)
        .set_shares(args.cpu_share)
        .set_cpus(args.cpuset_cpus.clone())
        .set_mems(args.cpuset_mems.clone());
    if cpu != LinuxCpu::default() {
        resources.set_cpu(Some(cpu));
    }
    if let Some(weight) = args.blkio_weight {
        let mut block_io = oci_spec::runtime::LinuxBlockIo::default();
        block_io.set_weight(Some(weight));
        resources.set_block_io(Some(block_io));
    }
    if resources == LinuxResources::default() {
        bail!("nothing to update: give --resources or a limit flag");
    }
    Ok(resources)
}

/// The new values over the old ones, section by section.
fn merge(mut old: LinuxResources, new: LinuxResources) -> LinuxResources {
    if new.memory().is_some() {
        old.set_memory(*new.memory());
    }
    if new.pids().is_some() {
        old.set_pids(*new.pids());
    }
    if new.cpu().is_some() {
        old.set_cpu(new.cpu().clone());
    }
    if new.block_io().is_some() {
        old.set_block_io(new.block_io().clone());
    }
    if new.unified().is_some() {
        old.set_unified(new.unified().clone());
    }
    old
}

/// "-1", "1048576", "512k", "64m", "1g" (runc's units, powers of 1024).
pub fn parse_bytes(text: &str) -> Result<i64> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.trim_end_matches('b');
    let (digits, unit) = match lower.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => lower.split_at(i),
        None => (lower, ""),
    };
    let number: i64 = digits.parse().with_context(|| format!("{text:?} is not a size"))?;
    let multiplier: i64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => bail!("{text:?}: unknown unit {unit:?}"),
    };
    number.checked_mul(multiplier).with_context(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert_eq!(parse_bytes("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512kb").unwrap(), 512 << 10);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("9999999999t").is_err());
    }

    #[test]
    fn flags_become_resources_and_nothing_is_an_error() {
        let args = UpdateArgs {
            id: "c".into(),
            memory: Some("32m".into()),
            pids_limit: Some(20),
            cpu_quota: Some(50000),
            ..Default::default()
        };
        let r = resources_from(&args).unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(32 << 20));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 20);
        assert_eq!(r.cpu().as_ref().unwrap().quota(), Some(50000));
        let error = resources_from(&UpdateArgs::default()).unwrap_err().to_string();
        assert!(error.contains("nothing to update"), "{error}");
    }
}
