//! Freezing a cgroup (`pause`/`resume`): v1's freezer.state, v2's
//! cgroup.freeze. Both are asynchronous, so we wait for the kernel to say
//! the whole cgroup reached the state.

use super::{write, Cgroup, Layout};
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

impl Cgroup {
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        let (file, value, done): (&str, &str, fn(&str) -> bool) = match (self.layout(), frozen) {
            (Layout::V1 { .. }, true) => ("freezer.state", "FROZEN", |s| s.trim() == "FROZEN"),
            (Layout::V1 { .. }, false) => ("freezer.state", "THAWED", |s| s.trim() == "THAWED"),
            (Layout::V2 { .. }, true) => ("cgroup.freeze", "1", |s| s.contains("frozen 1")),
            (Layout::V2 { .. }, false) => ("cgroup.freeze", "0", |s| s.contains("frozen 0")),
        };
        let dir =
            self.controller_dir("freezer").context("the freezer controller is not mounted")?;
        write(dir, file, value)?;
        let watched = match self.layout() {
            Layout::V1 { .. } => dir.join("freezer.state"),
            Layout::V2 { .. } => dir.join("cgroup.events"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = std::fs::read_to_string(&watched)
                .with_context(|| format!("reading {}", watched.display()))?;
            if done(&now) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} did not reach {value} within 10s", watched.display());
            }
            // v1 can stay FREEZING while a task is in an uninterruptible
            // sleep; asking again is how runc nudges it.
            if frozen && matches!(self.layout(), Layout::V1 { .. }) {
                write(dir, file, value)?;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
