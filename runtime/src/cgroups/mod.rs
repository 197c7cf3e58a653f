//! Control groups: one manager, chosen once by what the host mounts.
//!
//! - v2 (unified): /sys/fs/cgroup is cgroup2; one directory per container.
//! - v1 and hybrid: one directory per mounted v1 hierarchy. In hybrid hosts
//!   the cgroup2 mount at /sys/fs/cgroup/unified carries no controllers we
//!   use, so it is left alone.

mod blkio_hugetlb_rdma;
mod device_filter;
mod freezer;
pub mod stats;
mod v1;
pub mod v2;

pub use stats::{oom_kills, stats};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};
use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// memory.kernel and memory.kernelTCP: kernel memory limits are gone from
/// recent kernels (v1 kmem is deprecated, v2 never had them); runc ignores
/// them with a warning, and so do we.
fn warn_kernel_memory(memory: &oci_spec::runtime::LinuxMemory) {
    if memory.kernel().is_some() || memory.kernel_tcp().is_some() {
        tracing::warn!(
            "linux.resources.memory.kernel/kernelTCP: kernel memory limits are not supported; ignored"
        );
    }
}

/// Appended to a config's device rules, as runc does: whatever the config
/// denies, the default devices the runtime MUST supply stay usable, mknod
/// stays possible, and so do the terminal devices.
pub static DEFAULT_DEVICE_RULES: std::sync::LazyLock<Vec<LinuxDeviceCgroup>> =
    std::sync::LazyLock::new(|| {
        use oci_spec::runtime::LinuxDeviceType::{B, C};
        [
            (C, None, None, "m"),
            (B, None, None, "m"),
            (C, Some(1), Some(3), "rwm"),    // null
            (C, Some(1), Some(5), "rwm"),    // zero
            (C, Some(1), Some(7), "rwm"),    // full
            (C, Some(1), Some(8), "rwm"),    // random
            (C, Some(1), Some(9), "rwm"),    // urandom
            (C, Some(5), Some(0), "rwm"),    // tty
            (C, Some(5), Some(1), "rwm"),    // console
            (C, Some(5), Some(2), "rwm"),    // ptmx
            (C, Some(136), None, "rwm"),     // /dev/pts/*
            (C, Some(10), Some(200), "rwm"), // net/tun
        ]
        .into_iter()
        .map(|(typ, major, minor, access)| {
            let mut rule = LinuxDeviceCgroup::default();
            rule.set_allow(true)
                .set_typ(Some(typ))
                .set_major(major)
                .set_minor(minor)
                .set_access(Some(access.to_string()));
            rule
        })
        .collect()
    });

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Mount point of each v1 hierarchy, e.g. /sys/fs/cgroup/memory.
    V1 {
        hierarchies: Vec<PathBuf>,
    },
    V2 {
        root: PathBuf,
    },
}

impl Layout {
    /// Reads the host's layout from our own mountinfo.
    pub fn detect() -> Result<Layout> {
        let mountinfo =
            std::fs::read_to_string("/proc/self/mountinfo").context("reading mountinfo")?;
        Ok(Self::from_mountinfo(&mountinfo))
    }

    fn from_mountinfo(mountinfo: &str) -> Layout {
        let mut hierarchies = Vec::new();
        for line in mountinfo.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(dash) = fields.iter().position(|f| *f == "-") else {
                continue;
            };
            let (mount_point, fs_type) = (fields.get(4), fields.get(dash + 1));
            match (mount_point, fs_type) {
                (Some(&mp), Some(&"cgroup2")) if mp == CGROUP_ROOT => {
                    return Layout::V2 { root: PathBuf::from(mp) };
                }
                (Some(&mp), Some(&"cgroup")) if mp.starts_with(CGROUP_ROOT) => {
                    hierarchies.push(PathBuf::from(mp));
                }
                _ => {}
            }
        }
        Layout::V1 { hierarchies }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Layout::V1 { .. } => "v1",
            Layout::V2 { .. } => "v2",
        }
    }
}

/// Turns `linux.cgroupsPath` into a path below each hierarchy's root.
/// Absent means `/litmus-<id>`, one level as runc's `/<id>` (a shared
/// parent would be made and pruned with every container: twice the cgroup
/// directories per `run`, measured as the largest item of its cgroup
/// work); relative paths are taken below `/litmus`.
pub fn container_path(cgroups_path: Option<&Path>, id: &str) -> Result<String> {
    let path = match cgroups_path {
        None => format!("/litmus-{id}"),
        Some(p) if p.is_absolute() => p.display().to_string(),
        Some(p) => format!("/litmus/{}", p.display()),
    };
    if path.split('/').any(|c| c == "..") {
        bail!("linux.cgroupsPath: {path:?} must not contain '..'");
    }
    if path.contains(':') {
        bail!("linux.cgroupsPath: {path:?} looks like a systemd slice:prefix:name path; --systemd-cgroup is not supported");
    }
    Ok(path)
}

/// The cgroup (one directory per hierarchy) of one container.
#[derive(Clone, Debug)]
pub struct Cgroup {
    layout: Layout,
    dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// The directories `path` names in each hierarchy; nothing is created.
    pub fn at(layout: &Layout, path: &str) -> Cgroup {
        let rel = path.trim_start_matches('/');
        let dirs = match layout {
            Layout::V1 { hierarchies } => hierarchies.iter().map(|h| h.join(rel)).collect(),
            Layout::V2 { root } => vec![root.join(rel)],
        };
        Cgroup { layout: layout.clone(), dirs }
    }

    /// Creates the directories and applies `resources`. On error, whatever
    /// was created is removed again.
    pub fn create(
        layout: &Layout,
        path: &str,
        resources: Option<&LinuxResources>,
    ) -> Result<Cgroup> {
        let cgroup = Cgroup::at(layout, path);
        let result = match layout {
            Layout::V1 { .. } => v1::create(&cgroup.dirs, resources),
            Layout::V2 { root } => v2::create(root, &cgroup.dirs[0], resources),
        };
        if let Err(e) = result {
            let _ = cgroup.remove();
            return Err(e).with_context(|| format!("cgroup {path}"));
        }
        Ok(cgroup)
    }

    pub fn add_process(&self, pid: i32) -> Result<()> {
        for dir in &self.dirs {
            let procs = dir.join("cgroup.procs");
            std::fs::write(&procs, pid.to_string())
                .with_context(|| format!("adding pid {pid} to {}", procs.display()))?;
        }
        Ok(())
    }

    /// Pids of every process in the container's cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        // Every v1 hierarchy, not just the first: a create killed while it
        // moved its child hierarchy by hierarchy leaves the child in some
        // of them only, and delete must still find and kill it.
        let mut pids = Vec::new();
        for dir in &self.dirs {
            let procs = dir.join("cgroup.procs");
            let text = match std::fs::read_to_string(&procs) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("reading {}", procs.display())),
            };
            pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Removes the directories. A cgroup with processes cannot be removed;
    /// callers kill them first.
    /// The runtime's own parent goes with the last container in it (an
    /// engine's parents are never touched).
    pub fn remove(&self) -> Result<()> {
        for dir in &self.dirs {
            match std::fs::remove_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("removing cgroup {}", dir.display()))
                }
            }
            // Not empty (another container) or gone: either is fine.
            if let Some(parent) = dir.parent().filter(|p| self.is_runtime_parent(p)) {
                let _ = std::fs::remove_dir(parent);
            }
        }
        Ok(())
    }

    fn is_runtime_parent(&self, dir: &Path) -> bool {
        let roots: Vec<&PathBuf> = match &self.layout {
            Layout::V1 { hierarchies } => hierarchies.iter().collect(),
            Layout::V2 { root } => vec![root],
        };
        roots.iter().any(|root| dir == root.join(RUNTIME_PARENT))
    }

    /// Changes the limits of a live cgroup (`update`).
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        match &self.layout {
            Layout::V1 { .. } => v1::apply(&self.dirs, resources),
            Layout::V2 { .. } => v2::apply(&self.dirs[0], resources),
        }
    }

    /// The directory holding `controller`'s files (v2: the one directory).
    pub fn controller_dir(&self, controller: &str) -> Option<&Path> {
        match &self.layout {
            Layout::V1 { .. } => v1::controller_dir(&self.dirs, controller).map(PathBuf::as_path),
            Layout::V2 { .. } => self.dirs.first().map(PathBuf::as_path),
        }
    }

    /// The one directory of a cgroup v2 cgroup; None on v1.
    pub fn v2_dir(&self) -> Option<&Path> {
        match &self.layout {
            Layout::V1 { .. } => None,
            Layout::V2 { .. } => self.dirs.first().map(PathBuf::as_path),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

/// The parent every container with a relative cgroupsPath shares
/// (`/litmus/<path>`): ours to create, and ours to remove with the last one.
const RUNTIME_PARENT: &str = "litmus";

/// Creates `dir` and its missing ancestors, calling `before` with each
/// level about to be created and `after` with each level it created.
/// Concurrent creates and deletes share the parent: a level another create
/// made is used as it is, and a level a delete removed under us (pruning
/// the runtime's parent) is made again.
fn make_levels(
    dir: &Path,
    mut before: impl FnMut(&Path) -> Result<()>,
    mut after: impl FnMut(&Path) -> Result<()>,
) -> Result<()> {
    const TRIES: usize = 5;
    for _ in 0..TRIES {
        let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
        let mut vanished = false;
        for level in missing.into_iter().rev() {
            before(level)?;
            match std::fs::create_dir(level) {
                Ok(()) => after(level)?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && level != dir => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    vanished = true;
                    break;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("creating cgroup {}", level.display()))
                }
            }
        }
        if !vanished && dir.is_dir() {
            return Ok(());
        }
    }
    bail!("creating cgroup {}: its parent kept disappearing ({TRIES} tries)", dir.display())
}

/// Writes a value the config may leave unset (unset: the file is left as
/// the kernel made it).
fn write_some(dir: &Path, file: &str, value: Option<impl std::fmt::Display>) -> Result<()> {
    value.map_or(Ok(()), |value| write(dir, file, value))
}

/// Writes `value` to `dir/file`, naming both on failure.
fn write(dir: &Path, file: &str, value: impl std::fmt::Display) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value.to_string())
        .with_context(|| format!("writing {value} to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_hosts_are_v1_and_unified_hosts_are_v2() {
        let hybrid = "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            Layout::from_mountinfo(hybrid),
            Layout::V1 { hierarchies: vec![PathBuf::from("/sys/fs/cgroup/memory")] }
        );
        let unified = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(Layout::from_mountinfo(unified).name(), "v2");
    }

    /// A child moved into some hierarchies only (its create was killed
    /// midway) is still one of the cgroup's processes.
    #[test]
    fn pids_come_from_every_hierarchy() {
        let hierarchies: Vec<tempfile::TempDir> =
            (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let layout = Layout::V1 {
            hierarchies: hierarchies.iter().map(|h| h.path().to_path_buf()).collect(),
        };
        let cgroup = Cgroup::at(&layout, "/litmus/c1");
        for (i, dir) in cgroup.dirs.iter().enumerate() {
            std::fs::create_dir_all(dir).unwrap();
            let procs = match i {
                0 => "",
                1 => "42\n",
                _ => "42\n43\n",
            };
            std::fs::write(dir.join("cgroup.procs"), procs).unwrap();
        }
        assert_eq!(cgroup.pids().unwrap(), vec![42, 43]);
    }

    /// The runtime's own parent (`litmus`) goes with its last container;
    /// a parent another container still uses stays.
    #[test]
    fn removing_the_last_container_removes_the_runtimes_parent() {
        let hierarchy = tempfile::tempdir().unwrap();
        let layout = Layout::V1 { hierarchies: vec![hierarchy.path().to_path_buf()] };
        let (c1, c2) = (Cgroup::at(&layout, "/litmus/c1"), Cgroup::at(&layout, "/litmus/c2"));
        for cgroup in [&c1, &c2] {
            make_levels(&cgroup.dirs[0], |_| Ok(()), |_| Ok(())).unwrap();
        }
        c1.remove().unwrap();
        assert!(hierarchy.path().join("litmus/c2").is_dir(), "the other stays");
        c2.remove().unwrap();
        assert!(!hierarchy.path().join("litmus").exists(), "parent pruned");
        // A parent the runtime did not name (an engine's) is never touched.
        let engine = Cgroup::at(&layout, "/machine.slice/c3");
        make_levels(&engine.dirs[0], |_| Ok(()), |_| Ok(())).unwrap();
        engine.remove().unwrap();
        assert!(hierarchy.path().join("machine.slice").is_dir());
    }

    /// Levels another create made, or a delete removed, while we created
    /// ours are no error: concurrent creates share the parent.
    #[test]
    fn levels_made_or_removed_concurrently_are_no_error() {
        let hierarchy = tempfile::tempdir().unwrap();
        let leaf = hierarchy.path().join("litmus/c1");
        let mut first = true;
        make_levels(
            &leaf,
            |_| Ok(()),
            |level| {
                if std::mem::take(&mut first) {
                    // A delete prunes the parent we just made.
                    std::fs::remove_dir(level)?;
                }
                Ok(())
            },
        )
        .unwrap();
        assert!(leaf.is_dir());
        std::fs::remove_dir(&leaf).unwrap();
        make_levels(&leaf, |_| Ok(()), |_| Ok(())).unwrap();
        assert!(leaf.is_dir(), "an existing parent is reused");
    }

    #[test]
    fn cgroup_paths_default_and_stay_inside_the_hierarchy() {
        assert_eq!(container_path(None, "c1").unwrap(), "/litmus-c1");
        assert_eq!(container_path(Some(Path::new("/a/b")), "c1").unwrap(), "/a/b");
        assert_eq!(container_path(Some(Path::new("x")), "c1").unwrap(), "/litmus/x");
        assert!(container_path(Some(Path::new("/a/../../etc")), "c1").is_err());
        assert!(container_path(Some(Path::new("system.slice:litmus:c1")), "c1").is_err());
    }
}
