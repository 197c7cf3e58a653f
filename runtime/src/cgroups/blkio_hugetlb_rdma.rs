//! The resources with the same shape on both cgroup versions, only the
//! file names differ: block I/O throttles, huge page limits, RDMA. Each
//! writes what is asked or fails naming the field, never a silent skip.

use super::{write, write_some};
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxHugepageLimit, LinuxRdma, LinuxThrottleDevice};
use std::collections::HashMap;
use std::path::Path;

/// Each throttle list with its v1 blkio file and its v2 io.max key.
type Throttle<'a> = (&'static str, &'static str, &'a Option<Vec<LinuxThrottleDevice>>);
fn throttles(b: &LinuxBlockIo) -> [Throttle<'_>; 4] {
    [
        ("blkio.throttle.read_bps_device", "rbps", b.throttle_read_bps_device()),
        ("blkio.throttle.write_bps_device", "wbps", b.throttle_write_bps_device()),
        ("blkio.throttle.read_iops_device", "riops", b.throttle_read_iops_device()),
        ("blkio.throttle.write_iops_device", "wiops", b.throttle_write_iops_device()),
    ]
}

pub fn block_io_v1(dir: &Path, block_io: &LinuxBlockIo) -> Result<()> {
    write_some(dir, "blkio.weight", block_io.weight())?;
    write_some(dir, "blkio.leaf_weight", block_io.leaf_weight())?;
    for device in block_io.weight_device().iter().flatten() {
        let line = |weight| format!("{}:{} {weight}", device.major(), device.minor());
        write_some(dir, "blkio.weight_device", device.weight().map(line))?;
        write_some(dir, "blkio.leaf_weight_device", device.leaf_weight().map(line))?;
    }
    for (file, _, devices) in throttles(block_io) {
        for device in devices.iter().flatten() {
            let (major, minor, rate) = (device.major(), device.minor(), device.rate());
            write(dir, file, format!("{major}:{minor} {rate}"))?;
        }
    }
    Ok(())
}

pub fn block_io_v2(dir: &Path, block_io: &LinuxBlockIo) -> Result<()> {
    write_some(dir, "io.weight", block_io.weight().map(|weight| format!("default {weight}")))?;
    if block_io.leaf_weight().is_some() {
        bail!("linux.resources.blockIO.leafWeight: not available on cgroup v2");
    }
    for device in block_io.weight_device().iter().flatten() {
        let line = |weight| format!("{}:{} {weight}", device.major(), device.minor());
        write_some(dir, "io.weight", device.weight().map(line))?;
    }
    for (_, key, devices) in throttles(block_io) {
        for device in devices.iter().flatten() {
            let (major, minor, rate) = (device.major(), device.minor(), device.rate());
            write(dir, "io.max", format!("{major}:{minor} {key}={rate}"))?;
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
