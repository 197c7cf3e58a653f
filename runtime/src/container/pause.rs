//! `pause` and `resume`: freeze and thaw every process of the container
//! through its cgroup; the state says `paused` in between, as runc's does.

use crate::state::{ContainerDir, Status};
use anyhow::{bail, Result};
use std::path::Path;

pub fn pause(root: &Path, id: &str) -> Result<()> {
    set_frozen(root, id, Status::Running, Status::Paused)
}

pub fn resume(root: &Path, id: &str) -> Result<()> {
    set_frozen(root, id, Status::Paused, Status::Running)
}

fn set_frozen(root: &Path, id: &str, from: Status, to: Status) -> Result<()> {
    let dir = ContainerDir::open(root, id)?;
    let mut record = dir.load()?;
    let status = record.refreshed_status();
    if status != from {
        bail!("the container is {status}, not {from}");
    }
    let cgroup = record.cgroup_for(if to == Status::Paused { "pause" } else { "resume" })?;
    cgroup.freeze(to == Status::Paused)?;
    record.state.status = to;
    dir.save(&record)
}
