//! `events`: OOM notifications as they happen, and resource statistics
//! every `--interval`, one JSON object per line in runc's shapes:
//! `{"type":"oom","id":ID}` and `{"type":"stats","id":ID,"data":{...}}`.
//!
//! The kernel wakes us on OOM: on v1 through an eventfd registered on
//! memory.oom_control, on v2 through inotify on memory.events. Either way
//! the oom_kill counter decides what is reported, so a wake-up for another
//! reason (cgroup removal, other memory events) reports nothing.

use crate::cgroups::{self, Cgroup, Layout};
use crate::state::{self, ContainerDir};
use anyhow::{bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn events(root: &Path, id: &str, stats_once: bool, interval: &str) -> Result<()> {
    let interval = parse_duration(interval).context("--interval")?;
    let (cgroup, pid, start_time) = {
        let dir = ContainerDir::open(root, id)?;
        let record = dir.load()?;
        let cgroup = record.cgroup_for("events")?;
        (cgroup, record.state.pid, record.pid_start_time)
    };
    let mut out = std::io::stdout().lock();
    let mut emit = |event: serde_json::Value| -> Result<()> {
        writeln!(out, "{event}")?;
        out.flush()?;
        Ok(())
    };
    let stats = |cgroup: &Cgroup| serde_json::json!({"type": "stats", "id": id, "data": cgroups::stats(cgroup)});
    if stats_once {
        return emit(stats(&cgroup));
    }

    let wakeup = OomWakeup::register(&cgroup)?;
    let mut seen_kills = cgroups::oom_kills(&cgroup);
    let mut next_stats = Instant::now() + interval;
    loop {
        let alive = state::process_is_alive(pid, start_time);
        let kills = cgroups::oom_kills(&cgroup);
        if kills > seen_kills {
            seen_kills = kills;
            emit(serde_json::json!({"type": "oom", "id": id}))?;
        }
        if !alive {
            return Ok(());
        }
        if Instant::now() >= next_stats {
            emit(stats(&cgroup))?;
            next_stats = Instant::now() + interval;
        }
        // Wake on OOM, for the next stats, or to notice the container left.
        let timeout =
            next_stats.saturating_duration_since(Instant::now()).min(Duration::from_millis(200));
        if wakeup.wait(timeout) {
            // The kernel notifies when the OOM starts; the kill (and its
            // counter) follows within milliseconds.
            let deadline = Instant::now() + Duration::from_millis(100);
            while cgroups::oom_kills(&cgroup) <= seen_kills && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// What becomes readable when the cgroup sees an OOM: an eventfd
/// registered on memory.oom_control (v1) or an inotify watch on
/// memory.events (v2).
enum OomWakeup {
    V1 {
        eventfd: EventFd,
        /// Kept open for the registration's lifetime.
        _control: std::fs::File,
    },
    V2(Inotify),
}

impl OomWakeup {
    fn register(cgroup: &Cgroup) -> Result<OomWakeup> {
        let memory = cgroup
            .controller_dir("memory")
            .context("the memory controller is not available: no OOM events")?;
        match cgroup.layout() {
            Layout::V1 { .. } => {
                let eventfd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
                    .context("eventfd")?;
                let control = memory.join("memory.oom_control");
                let file = std::fs::File::open(&control)
                    .with_context(|| format!("opening {}", control.display()))?;
                let registration = format!("{} {}", eventfd.as_fd().as_raw_fd(), file.as_raw_fd());
                std::fs::write(memory.join("cgroup.event_control"), registration)
                    .context("registering for OOM notifications (cgroup.event_control)")?;
                Ok(OomWakeup::V1 { eventfd, _control: file })
            }
            Layout::V2 { .. } => {
                let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
                    .context("inotify_init1")?;
                let events = memory.join("memory.events");
                inotify
                    .add_watch(&events, AddWatchFlags::IN_MODIFY)
                    .with_context(|| format!("watching {}", events.display()))?;
                Ok(OomWakeup::V2(inotify))
            }
        }
    }

    /// Waits up to `timeout` for a notification and drains it; true if
    /// one came.
    fn wait(&self, timeout: Duration) -> bool {
        let fd = match self {
            OomWakeup::V1 { eventfd, .. } => eventfd.as_fd(),
            OomWakeup::V2(inotify) => inotify.as_fd(),
        };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        if !matches!(poll(&mut fds, timeout), Ok(n) if n > 0) {
            return false;
        }
        // Drained so that the next poll waits for the next notification.
        match self {
            OomWakeup::V1 { eventfd, .. } => drop(eventfd.read()),
            OomWakeup::V2(inotify) => drop(inotify.read_events()),
        }
        true
    }
}

/// Durations as runc takes them ("5s", "500ms", "1m", "1.5s"), positive.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let duration = humantime::parse_duration(text)
        .with_context(|| format!("{text:?} is not a duration (5s, 500ms, 1m)"))?;
    if duration.is_zero() {
        bail!("{text:?} must be positive");
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
    }
}
