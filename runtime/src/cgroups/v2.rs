//! cgroup v2: one directory; controllers enabled down the tree through
//! cgroup.subtree_control.

use super::{write, write_some};
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxResources;
use std::path::Path;

pub fn create(root: &Path, dir: &Path, resources: Option<&LinuxResources>) -> Result<()> {
    // Each parent's controllers are enabled before its child is created.
    super::make_levels(
        dir,
        |level| enable_controllers(level.parent().expect("a level has a parent")),
        |_| Ok(()),
    )?;
    let _ = root;
    match resources {
        Some(resources) => apply(dir, resources),
        None => Ok(()),
    }
}

/// fork(2) with the child born in the cgroup v2 directory open at
/// `cgroup` (clone3 with CLONE_INTO_CGROUP, Linux 5.7): no migration
/// afterwards, so no wait for the RCU grace period a write to
/// cgroup.procs takes (`percpu_down_write(cgroup_threadgroup_rwsem)`).
///
/// # Safety
/// As fork: the caller is single-threaded (the child gets a copy of this
/// thread only, and may find locks another thread held).
pub unsafe fn fork_into(cgroup: std::os::fd::BorrowedFd) -> nix::Result<nix::unistd::ForkResult> {
    use nix::unistd::{ForkResult, Pid};
    use std::os::fd::AsRawFd;
    /// struct clone_args of linux/sched.h, up to `cgroup` (CLONE_ARGS_SIZE_VER2).
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed; without
    // CLONE_VM and with no stack given, the child runs on a copy of this
    // address space like fork's, which the caller's contract makes sound.
    let ret = unsafe {
        libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>())
    };
    match ret {
        -1 => Err(nix::errno::Errno::last()),
        0 => Ok(ForkResult::Child),
        pid => Ok(ForkResult::Parent { child: Pid::from_raw(pid as i32) }),
    }
}

/// Writes `resources` into the cgroup's files (create and update).
pub fn apply(dir: &Path, resources: &LinuxResources) -> Result<()> {
    if let Some(memory) = resources.memory() {
        super::warn_kernel_memory(memory);
        write_some(dir, "memory.max", memory.limit().map(limit_or_max))?;
        write_some(dir, "memory.low", memory.reservation().map(limit_or_max))?;
        if let Some(swap) = memory.swap() {
            // v1's swap is memory+swap; v2's memory.swap.max is swap alone.
            let value = match (swap, memory.limit()) {
                (s, _) if s < 0 => "max".to_string(),
                (s, Some(limit)) if limit >= 0 => (s - limit).max(0).to_string(),
                _ => bail!("linux.resources.memory.swap: needs memory.limit on cgroup v2"),
            };
            write(dir, "memory.swap.max", value)?;
        }
        if memory.swappiness().is_some() {
            bail!("linux.resources.memory.swappiness: not available on cgroup v2");
        }
        if memory.disable_oom_killer() == Some(true) {
            bail!("linux.resources.memory.disableOOMKiller: not available on cgroup v2");
        }
    }
    if let Some(rules) = resources.devices() {
        let rules: Vec<_> =
            rules.iter().chain(super::DEFAULT_DEVICE_RULES.iter()).cloned().collect();
        super::device_filter::attach(dir, &rules)?;
    }
    if let Some(pids) = resources.pids() {
        write(dir, "pids.max", limit_or_max(pids.limit()))?;
    }
    if let Some(cpu) = resources.cpu() {
        write_some(dir, "cpu.weight", cpu.shares().map(shares_to_weight))?;
        if cpu.quota().is_some() || cpu.period().is_some() {
            let quota = cpu.quota().map(limit_or_max).unwrap_or_else(|| "max".into());
            let period = cpu.period().unwrap_or(100_000);
            write(dir, "cpu.max", format!("{quota} {period}"))?;
        }
        if cpu.realtime_runtime().is_some() || cpu.realtime_period().is_some() {
            bail!("linux.resources.cpu.realtimeRuntime/realtimePeriod: not available on cgroup v2");
        }
        write_some(dir, "cpuset.cpus", cpu.cpus().as_ref())?;
        write_some(dir, "cpuset.mems", cpu.mems().as_ref())?;
    }
    if let Some(block_io) = resources.block_io() {
        super::blkio_hugetlb_rdma::block_io_v2(dir, block_io)?;
    }
    if let Some(limits) = resources.hugepage_limits() {
        super::blkio_hugetlb_rdma::hugepages(dir, limits, "max")?;
    }
    if let Some(limits) = resources.rdma() {
        super::blkio_hugetlb_rdma::rdma(dir, limits)?;
    }
    if resources.network().is_some() {
        bail!("linux.resources.network: net_cls/net_prio do not exist on cgroup v2");
    }
    for (key, value) in resources.unified().iter().flatten() {
        if key.contains('/') {
            bail!("linux.resources.unified: key {key:?} must be a file name");
        }
        write(dir, key, value)?;
    }
    Ok(())
}

fn limit_or_max(value: i64) -> String {
    if value < 0 {
        "max".into()
    } else {
        value.to_string()
    }
}

/// The conversion runc and crun use: shares 2..262144 onto weight 1..10000.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

/// Enables every controller the parent offers for its children.
fn enable_controllers(parent: &Path) -> Result<()> {
    let available = std::fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
    for controller in available.split_whitespace() {
        // Some controllers cannot be enabled in some places (e.g. cpu with
        // realtime tasks); the resources that need them fail with a named
        // error later instead.
        let _ = write(parent, "cgroup.subtree_control", format!("+{controller}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_onto_weights_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }
}
