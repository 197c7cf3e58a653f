//! Container state on disk: `<root>/<id>/state.json`, the container's copy
//! of its config, and the exec socket `start` connects to.
//!
//! Every command that touches a container takes the container's lock (flock
//! on its directory) for its whole run, so commands on one ID are serialized.
//! `state.json` is written to a temporary file and renamed, so a reader never
//! sees half a document.

use crate::fault::Fault;
use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// runtime-spec "status" values, plus runc's `paused`. Our own, not
/// oci-spec's ContainerState: that has no `paused`, which engines read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_value(self).expect("status serializes");
        f.write_str(s.as_str().expect("status is a string"))
    }
}

/// What `state` prints: the runtime-spec state, plus `rootfs`, `created`
/// and `owner` as runc prints them (oci-spec's State has none of the three,
/// and engines read `created`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    #[serde(default)]
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// What the runtime keeps beside the public state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    pub state: State,
    /// Start time of `pid` (field 22 of /proc/PID/stat), so a recycled pid
    /// is not mistaken for the container.
    #[serde(default)]
    pub pid_start_time: u64,
    /// The cgroup path the container was placed in.
    #[serde(default)]
    pub cgroup_path: String,
}

/// The directory of one container, locked for as long as this value lives.
pub struct ContainerDir {
    path: PathBuf,
    _lock: Flock<File>,
}

const STATE_FILE: &str = "state.json";
const CONFIG_FILE: &str = "config.json";

pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    if !ok {
        bail!("invalid container id {id:?}: use letters, digits and - _ . +");
    }
    Ok(())
}

/// How long a command waits for another one on the same container. The
/// lock is only ever held by runtime commands, which are bounded; this
/// bound turns a bug there into an error instead of a hang.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

fn lock(path: &Path) -> Result<Flock<File>> {
    let mut dir = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match Flock::lock(dir, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(lock),
            Err((file, nix::errno::Errno::EWOULDBLOCK)) if std::time::Instant::now() < deadline => {
                dir = file;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => bail!(
                "{} is still locked by another command on this container after {}s",
                path.display(),
                LOCK_WAIT.as_secs()
            ),
            Err((_, e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
        }
    }
}

impl ContainerDir {
    /// Creates the directory of a new container. `mkdir` is atomic, so of
    /// several concurrent creates of one ID exactly one gets here.
    pub fn create(root: &Path, id: &str) -> Result<Self> {
        validate_id(id)?;
        std::fs::create_dir_all(root)
            .with_context(|| format!("creating state root {}", root.display()))?;
        let path = root.join(id);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                bail!("container {id} already exists")
            }
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
        let lock = lock(&path)?;
        Ok(ContainerDir { path, _lock: lock })
    }

    /// Opens and locks the directory of an existing container.
    pub fn open(root: &Path, id: &str) -> Result<Self> {
        validate_id(id)?;
        let path = root.join(id);
        if !path.join(STATE_FILE).exists() {
            bail!("container {id} does not exist");
        }
        let lock = lock(&path)?;
        // A delete that held the lock before us may have removed it.
        if !path.join(STATE_FILE).exists() {
            bail!("container {id} does not exist");
        }
        Ok(ContainerDir { path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What a create killed before it wrote state.json leaves behind: the
    /// directory alone (no process or cgroup exists yet at that point).
    /// Removes it once no live create holds its lock. Returns false if the
    /// container turned out to be complete after all.
    pub fn remove_abandoned(root: &Path, id: &str) -> Result<bool> {
        validate_id(id)?;
        let path = root.join(id);
        if !path.exists() {
            return Ok(true);
        }
        let _lock = lock(&path)?;
        if path.join(STATE_FILE).exists() {
            return Ok(false);
        }
        std::fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?;
        Ok(true)
    }

    /// The fd holding the lock. A process forked from ours that outlives
    /// us (the container's init, until `start`) must close its copy: a
    /// flock belongs to the open file, so a copy keeps it held after we are
    /// killed, and every later command on the container would wait for it.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self._lock.as_raw_fd()
    }

    pub fn load(&self) -> Result<Record> {
        let path = self.path.join(STATE_FILE);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn save(&self, record: &Record) -> Result<()> {
        write_atomically(&self.path.join(STATE_FILE), &serde_json::to_vec(record)?)
    }

    pub fn save_config(&self, spec: &Spec) -> Result<()> {
        // Pretty, like `spec` prints it: one Spec serializer in the binary.
        write_atomically(&self.path.join(CONFIG_FILE), &serde_json::to_vec_pretty(spec)?)
    }

    pub fn load_config(&self) -> Result<Spec> {
        let path = self.path.join(CONFIG_FILE);
        // Through the same parser as the bundle's config: one copy of the
        // (large) generated Spec deserializer in the binary, not two.
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        crate::config::parse(&bytes).with_context(|| format!("loading {}", path.display()))
    }

    /// Removes the directory; the lock goes with it.
    pub fn remove(self) -> Result<()> {
        std::fs::remove_dir_all(&self.path)
            .with_context(|| format!("removing {}", self.path.display()))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// IDs of all containers under `root`, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(e).with_context(|| format!("reading {}", root.display())),
    };
    for entry in entries.flatten() {
        if entry.path().join(STATE_FILE).exists() {
            ids.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    ids.sort();
    Ok(ids)
}

/// Whether `pid` is still the process we started: alive, not a zombie, and
/// with the start time we recorded.
pub fn process_is_alive(pid: i32, start_time: u64) -> bool {
    match read_proc_stat(pid) {
        Some((state, started)) => {
            let exited = state == 'X' || (state == 'Z' && !Fault::ZombieIsRunning.active());
            !exited && started == start_time
        }
        None => false,
    }
}

/// (state letter, start time) from /proc/PID/stat.
pub fn read_proc_stat(pid: i32) -> Option<(char, u64)> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces; fields
    // after the last ')' are positional.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some((state, start_time))
}

impl Record {
    /// The container's cgroup; None when it has none (rootless without a
    /// delegated cgroup: it lives in its creator's).
    pub fn cgroup(&self) -> Result<Option<crate::cgroups::Cgroup>> {
        if self.cgroup_path.is_empty() {
            return Ok(None);
        }
        let layout = crate::cgroups::Layout::detect()?;
        Ok(Some(crate::cgroups::Cgroup::at(&layout, &self.cgroup_path)))
    }

    /// The container's cgroup, for an operation that cannot work without
    /// one.
    pub fn cgroup_for(&self, what: &str) -> Result<crate::cgroups::Cgroup> {
        self.cgroup()?.with_context(|| {
            format!(
                "{what}: the container has no cgroup of its own (created by an unprivileged \
                 user without a delegated cgroup)"
            )
        })
    }

    /// Every process of the container: its cgroup's; without a cgroup,
    /// those in its init's pid namespace (the init alone if it shares ours).
    pub fn processes(&self) -> Result<Vec<i32>> {
        if let Some(cgroup) = self.cgroup()? {
            return cgroup.pids();
        }
        if !process_is_alive(self.state.pid, self.pid_start_time) {
            return Ok(Vec::new());
        }
        let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
        let theirs = ns(&self.state.pid.to_string());
        if theirs.is_none() || theirs == ns("self") {
            return Ok(vec![self.state.pid]);
        }
        let mut pids: Vec<i32> = std::fs::read_dir("/proc")?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| ns(&pid.to_string()) == theirs)
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }
    /// The status as it is now: a created or running container whose
    /// process has gone is stopped.
    pub fn refreshed_status(&self) -> Status {
        match self.state.status {
            Status::Created | Status::Running | Status::Paused
                if !process_is_alive(self.state.pid, self.pid_start_time) =>
            {
                Status::Stopped
            }
            status => status,
        }
    }

    /// The public state with the status refreshed.
    pub fn current_state(&self) -> State {
        let mut state = self.state.clone();
        state.status = self.refreshed_status();
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: Status, pid: i32, start: u64) -> Record {
        Record {
            state: State {
                oci_version: "1.2.0".into(),
                id: "c1".into(),
                status,
                pid,
                bundle: "/b".into(),
                rootfs: "/b/rootfs".into(),
                created: "2026-01-01T00:00:00Z".into(),
                owner: String::new(),
                annotations: HashMap::new(),
            },
            pid_start_time: start,
            cgroup_path: String::new(),
        }
    }

    #[test]
    fn ids_that_could_escape_the_root_are_rejected() {
        for bad in ["", ".", "..", "a/b", "../x", "a b", "x\n"] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
        validate_id("web-1_a.b+c").unwrap();
    }

    #[test]
    fn concurrent_create_of_one_id_lets_exactly_one_win() {
        let root = tempfile::tempdir().unwrap();
        let winners: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|_| s.spawn(|| ContainerDir::create(root.path(), "same").map(drop)))
                .collect();
            handles.into_iter().filter_map(|h| h.join().unwrap().ok()).count()
        });
        // The dirs are dropped (unlocked) but not removed: all others failed.
        assert_eq!(winners, 1);
    }

    #[test]
    fn duplicate_create_names_the_container() {
        let root = tempfile::tempdir().unwrap();
        let _first = ContainerDir::create(root.path(), "dup").unwrap();
        let err = ContainerDir::create(root.path(), "dup").err().unwrap();
        assert_eq!(err.to_string(), "container dup already exists");
    }

    #[test]
    fn state_round_trips_and_is_listed() {
        let root = tempfile::tempdir().unwrap();
        let dir = ContainerDir::create(root.path(), "c1").unwrap();
        let rec = record(Status::Created, 1, 1);
        dir.save(&rec).unwrap();
        assert_eq!(dir.load().unwrap().state, rec.state);
        assert_eq!(list_ids(root.path()).unwrap(), vec!["c1"]);
        dir.remove().unwrap();
        assert!(list_ids(root.path()).unwrap().is_empty());
    }

    #[test]
    fn a_created_container_whose_process_is_gone_is_stopped() {
        let gone = record(Status::Created, i32::MAX, 0);
        assert_eq!(gone.refreshed_status(), Status::Stopped);
        let me = std::process::id() as i32;
        let (_, start) = read_proc_stat(me).unwrap();
        assert_eq!(record(Status::Running, me, start).refreshed_status(), Status::Running);
        // Same pid, other start time: a recycled pid, not our container.
        assert_eq!(record(Status::Running, me, start + 1).refreshed_status(), Status::Stopped);
        assert_eq!(record(Status::Creating, 0, 0).refreshed_status(), Status::Creating);
    }

    #[test]
    fn public_state_uses_spec_field_names() {
        let json = serde_json::to_value(record(Status::Running, 7, 0).state).unwrap();
        for key in ["ociVersion", "id", "status", "pid", "bundle"] {
            assert!(json.get(key).is_some(), "missing {key}: {json}");
        }
        assert_eq!(json["status"], "running");
    }
}
