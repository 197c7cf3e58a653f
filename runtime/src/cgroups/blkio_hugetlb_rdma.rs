//! The resources with the same shape on both cgroup versions, only the
//! file names differ: block I/O throttles, huge page limits, RDMA. Each
//! writes what is asked or fails naming the field, never a silent skip.

use super::write;
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxHugepageLimit, LinuxRdma, LinuxThrottleDevice};
use std::collections::HashMap;
use std::path::Path;

/// v1 blkio.throttle.* files, or v2 io.max keys, for each throttle list.
pub fn throttles(
    block_io: &LinuxBlockIo,
) -> [(
    &'static str,
    &'static str,
    &'static str,
    Option<&Vec<LinuxThrottleDevice>>,
); 4] {
    [
        (
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            "rbps",
            block_io.throttle_read_bps_device().as_ref(),
        ),
        (
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            "wbps",
            block_io.throttle_write_bps_device().as_ref(),
        ),
        (
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            "riops",
            block_io.throttle_read_iops_device().as_ref(),
        ),
        (
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            "wiops",
            block_io.throttle_write_iops_device().as_ref(),
        ),
    ]
}

pub fn block_io_v1(dir: &Path, block_io: &LinuxBlockIo) -> Result<()> {
    if let Some(weight) = block_io.weight() {
        write(dir, "blkio.weight", weight)?;
    }
    if let Some(weight) = block_io.leaf_weight() {
        write(dir, "blkio.leaf_weight", weight)?;
    }
    for device in block_io.weight_device().iter().flatten() {
        if let Some(weight) = device.weight() {
            write(
                dir,
                "blkio.weight_device",
                format!("{}:{} {weight}", device.major(), device.minor()),
            )?;
        }
        if let Some(weight) = device.leaf_weight() {
            write(
                dir,
                "blkio.leaf_weight_device",
                format!("{}:{} {weight}", device.major(), device.minor()),
            )?;
        }
    }
    for (_, file, _, devices) in throttles(block_io) {
        for device in devices.into_iter().flatten() {
            write(
                dir,
                file,
                format!("{}:{} {}", device.major(), device.minor(), device.rate()),
            )?;
        }
    }
    Ok(())
}

pub fn block_io_v2(dir: &Path, block_io: &LinuxBlockIo) -> Result<()> {
    if let Some(weight) = block_io.weight() {
        write(dir, "io.weight", format!("default {weight}"))?;
    }
    if block_io.leaf_weight().is_some() {
        bail!("linux.resources.blockIO.leafWeight: not available on cgroup v2");
    }
    for device in block_io.weight_device().iter().flatten() {
        if let Some(weight) = device.weight() {
            write(
                dir,
                "io.weight",
                format!("{}:{} {weight}", device.major(), device.minor()),
            )?;
        }
    }
    for (_, _, key, devices) in throttles(block_io) {
        for device in devices.into_iter().flatten() {
            write(
                dir,
                "io.max",
                format!(
                    "{}:{} {key}={}",
                    device.major(),
                    device.minor(),
                    device.rate()
                ),
            )?;
        }
    }
    Ok(())
}

/// hugetlb.<size>.<suffix>: "limit_in_bytes" on v1, "max" on v2.
pub fn hugepages(dir: &Path, limits: &[LinuxHugepageLimit], suffix: &str) -> Result<()> {
    for limit in limits {
        let file = format!("hugetlb.{}.{suffix}", limit.page_size());
        if !dir.join(&file).exists() {
            bail!(
                "linux.resources.hugepageLimits: page size {:?} is not supported here (no {file})",
                limit.page_size()
            );
        }
        write(dir, &file, limit.limit())?;
    }
    Ok(())
}

/// rdma.max, one line per device, on both versions.
pub fn rdma(dir: &Path, limits: &HashMap<String, LinuxRdma>) -> Result<()> {
    for (device, limit) in limits {
        let mut line = device.clone();
        if let Some(handles) = limit.hca_handles() {
            line += &format!(" hca_handle={handles}");
        }
        if let Some(objects) = limit.hca_objects() {
            line += &format!(" hca_object={objects}");
        }
        write(dir, "rdma.max", line)?;
    }
    Ok(())
}
