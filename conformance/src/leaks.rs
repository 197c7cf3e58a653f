//! What a case left on the host after `delete --force`, attributed to the
//! case by what it owns: the container IDs it created and its work
//! directory (bundles, rootfs, sockets). Attribution, not a before/after
//! diff of the whole host, so cases running in parallel (`--jobs`) never
//! blame each other, and anything else on a shared CI machine is ignored.
//!
//! Looked at: every process (its root in the work directory, or a cgroup
//! path naming an ID), every cgroup directory of every hierarchy at any
//! depth whose name holds an ID (a runtime chooses where: crun puts a
//! container without cgroupsPath at /<id>), every mount of the host's
//! table under the work directory or naming an ID, and the runtime's state
//! root.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a case owns.
pub struct Owned<'a> {
    pub ids: &'a [String],
    /// Its work directory and its bundles.
    pub dirs: Vec<PathBuf>,
    pub state_root: &'a Path,
}

/// One thing left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leftover {
    Process(i32),
    Cgroup(PathBuf),
    Mount(String),
    State(PathBuf),
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leftover::Process(pid) => {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                write!(f, "process {pid} ({}) still alive", comm.trim())
            }
            Leftover::Cgroup(dir) => write!(f, "cgroup {} still exists", dir.display()),
            Leftover::Mount(point) => write!(f, "mount at {point} still on the host"),
            Leftover::State(entry) => write!(f, "state entry {} left in --root", entry.display()),
        }
    }
}

/// Everything of `owned` still on the host, now.
pub fn find(owned: &Owned) -> Vec<Leftover> {
    if owned.ids.is_empty() {
        return Vec::new();
    }
    let dirs: Vec<PathBuf> =
        owned.dirs.iter().map(|d| d.canonicalize().unwrap_or_else(|_| d.clone())).collect();
    let names_an_id = |text: &str| owned.ids.iter().any(|id| text.contains(id.as_str()));
    let mut found: Vec<Leftover> =
        processes(&dirs, owned.ids, &names_an_id).into_iter().map(Leftover::Process).collect();
    found.extend(cgroups(&names_an_id).into_iter().map(Leftover::Cgroup));
    found.extend(mounts(&dirs, &names_an_id).into_iter().map(Leftover::Mount));
    if let Ok(entries) = std::fs::read_dir(owned.state_root) {
        found.extend(
            entries
                .flatten()
                .filter(|e| names_an_id(&e.file_name().to_string_lossy()))
                .map(|e| Leftover::State(e.path())),
        );
    }
    found
}

/// [`find`], polled until nothing is left or `grace` has passed: a runtime
/// whose delete returned while the kernel still tears a process down is
/// not leaking.
pub fn find_after(owned: &Owned, grace: Duration) -> Vec<Leftover> {
    let nothing = litmus_bundle::wait::poll(grace, Duration::from_millis(20), || {
        find(owned).is_empty().then_some(())
    });
    match nothing {
        Ok(()) => Vec::new(),
        Err(_) => find(owned),
    }
}

/// Removes what the runtime left, so that nothing of a case outlives the
/// suite: processes are killed, then mounts detached, then the (now empty)
/// cgroups removed deepest first. State entries stay for the user to see.
pub fn remove(leftovers: &[Leftover]) {
    for leftover in leftovers {
        if let Leftover::Process(pid) = leftover {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    for leftover in leftovers {
        if let Leftover::Mount(point) = leftover {
            let _ = nix::mount::umount2(point.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let mut cgroups: Vec<&PathBuf> = leftovers
        .iter()
        .filter_map(|l| match l {
            Leftover::Cgroup(dir) => Some(dir),
            _ => None,
        })
        .collect();
    cgroups.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    let deadline = Instant::now() + Duration::from_secs(2);
    for dir in cgroups {
        // Killed processes leave their cgroup once reaped.
        while std::fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Live (not zombie) processes rooted in one of `dirs`, in a cgroup whose
/// path names an ID, or with an ID among their arguments: a runtime's
/// process for the container not yet in it (the init of a killed create,
/// forked from `runtime create ID`, before its pivot; a rootless
/// container without a cgroup of its own).
fn processes(dirs: &[PathBuf], ids: &[String], names_an_id: &dyn Fn(&str) -> bool) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let ours = std::process::id() as i32;
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != ours)
        .filter(|&pid| {
            let rooted = std::fs::read_link(format!("/proc/{pid}/root"))
                .is_ok_and(|root| dirs.iter().any(|d| root.starts_with(d)));
            rooted
                || std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                    .is_ok_and(|text| names_an_id(&text))
                || std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|args| {
                    args.split(|b| *b == 0).any(|a| ids.iter().any(|id| id.as_bytes() == a))
                })
        })
        .filter(|&pid| !is_zombie(pid))
        .collect()
}

pub fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
        .unwrap_or(true)
}

/// How deep below a hierarchy's root a runtime may put a container.
const CGROUP_DEPTH: u32 = 8;

fn cgroups(names_an_id: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    fn walk(dir: &Path, names_an_id: &dyn Fn(&str) -> bool, depth: u32, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = entry.path();
            if names_an_id(&entry.file_name().to_string_lossy()) {
                found.push(path.clone());
            }
            if depth > 0 {
                walk(&path, names_an_id, depth - 1, found);
            }
        }
    }
    let mut found = Vec::new();
    for hierarchy in hierarchies() {
        walk(&hierarchy, names_an_id, CGROUP_DEPTH, &mut found);
    }
    found
}

/// The mounted cgroup hierarchies: /sys/fs/cgroup itself (v2), or its
/// subdirectories that are cgroup filesystems (v1, hybrid). A directory
/// that is not (cgroup2 unmounted to hide it from crun leaves a plain
/// tmpfs directory, where crun still writes) holds no cgroups.
fn hierarchies() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if is_cgroup_fs(root) {
        return vec![root.to_path_buf()];
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    entries.flatten().map(|e| e.path()).filter(|p| p.is_dir() && is_cgroup_fs(p)).collect()
}

fn is_cgroup_fs(path: &Path) -> bool {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC};
    statfs(path).is_ok_and(|fs| {
        fs.filesystem_type() == CGROUP_SUPER_MAGIC || fs.filesystem_type() == CGROUP2_SUPER_MAGIC
    })
}

/// Mount points of the host's table in one of `dirs` or naming an ID
/// (read with the probe's mountinfo parser, escapes undone).
fn mounts(dirs: &[PathBuf], names_an_id: &dyn Fn(&str) -> bool) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(litmus_probe::parse_mountinfo_line)
        .map(|m| m.mount_point)
        .filter(|point| dirs.iter().any(|d| Path::new(point).starts_with(d)) || names_an_id(point))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_that_owns_nothing_finds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let owned =
            Owned { ids: &[], dirs: vec![dir.path().to_path_buf()], state_root: dir.path() };
        assert!(find(&owned).is_empty());
    }

    #[test]
    fn state_entries_and_processes_of_the_case_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let ids = vec!["litmus-unit-leak-1".to_string()];
        std::fs::create_dir(dir.path().join("litmus-unit-leak-1")).unwrap();
        std::fs::create_dir(dir.path().join("someone-else")).unwrap();
        let owned =
            Owned { ids: &ids, dirs: vec![dir.path().to_path_buf()], state_root: dir.path() };
        let found = find(&owned);
        assert_eq!(found, vec![Leftover::State(dir.path().join("litmus-unit-leak-1"))]);
    }
}
