//! Resolving paths inside the container's rootfs without ever leaving it.
//!
//! A rootfs is untrusted: an image may contain `/proc -> /` or a symlink that
//! a process in another container swaps while we mount (CVE-2021-30465). So
//! every path is resolved by the kernel with openat2(RESOLVE_IN_ROOT), which
//! treats the rootfs as "/" for `..` and absolute symlinks alike, and mounts
//! target the resolved fd through /proc/self/fd/N rather than a path string
//! that could be swapped between check and use.

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// An open handle on the rootfs directory.
pub struct Root {
    fd: OwnedFd,
}

/// What to create at the end of a path that does not exist yet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    Dir,
    File,
}

impl Root {
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("opening rootfs {}", path.display()))?;
        let root = Root { fd };
        // Minimum kernel: openat2 (Linux 5.6). No fallback to resolving
        // paths in userspace, as runc's securejoin does: that is the race
        // RESOLVE_IN_ROOT closes. Say so once, before any mount.
        root.resolve(Path::new("/")).map_err(|e| unsupported_kernel(e).unwrap_or(e.into()))?;
        Ok(root)
    }

    /// Opens `path` (interpreted inside the root) as an O_PATH handle.
    pub fn resolve(&self, path: &Path) -> Result<OwnedFd, Errno> {
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        openat2(self.fd.as_fd(), &relative(path), how)
    }

    /// [`Root::resolve`], with a path that does not exist as `None`.
    pub fn resolve_existing(&self, path: &Path) -> Result<Option<OwnedFd>, Errno> {
        match self.resolve(path) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens `path` as a directory reached without following any symlink
    /// (ELOOP if one is on the way, ENOTDIR if it is not a directory).
    pub fn resolve_plain_dir(&self, path: &Path) -> Result<OwnedFd, Errno> {
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_SYMLINKS);
        openat2(self.fd.as_fd(), &relative(path), how)
    }

    /// Opens `path`, creating missing directories on the way and `leaf` at
    /// the end, all resolved inside the root.
    pub fn create(&self, path: &Path, leaf: Leaf) -> Result<OwnedFd> {
        self.create_following(path, leaf, 0)
    }

    /// A dangling symlink on the way (`/run -> /var/run` where /var/run is
    /// missing) is followed inside the root and its target created; `hops`
    /// bounds symlink loops as the kernel's ELOOP does.
    fn create_following(&self, path: &Path, leaf: Leaf, hops: u32) -> Result<OwnedFd> {
        const MAX_HOPS: u32 = 40;
        let rel = relative(path);
        let components: Vec<_> = rel.components().collect();
        let mut prefix = PathBuf::new();
        for (i, component) in components.iter().enumerate() {
            let parent = self
                .resolve(&prefix)
                .with_context(|| format!("resolving {} in rootfs", prefix.display()))?;
            let parent_prefix = prefix.clone();
            prefix.push(component);
            match self.resolve(&prefix) {
                Ok(_) => continue,
                Err(Errno::ENOENT) => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("resolving {} in rootfs", prefix.display()))
                }
            }
            let parent = reopen_dir(&parent)
                .with_context(|| format!("opening {}", parent_prefix.display()))?;
            let name = component.as_os_str();
            if let Ok(target) = nix::fcntl::readlinkat(parent.as_fd(), name) {
                if hops >= MAX_HOPS {
                    anyhow::bail!("too many levels of symbolic links at {}", prefix.display());
                }
                let target = PathBuf::from(target);
                let mut next =
                    if target.is_absolute() { target } else { parent_prefix.join(target) };
                next.extend(&components[i + 1..]);
                return self.create_following(&next, leaf, hops + 1);
            }
            let last = i + 1 == components.len();
            let created = if last && leaf == Leaf::File {
                nix::fcntl::openat(
                    parent.as_fd(),
                    name,
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_WRONLY
                        | OFlag::O_CLOEXEC
                        | OFlag::O_NOFOLLOW,
                    Mode::from_bits_truncate(0o644),
                )
                .map(drop)
            } else {
                nix::sys::stat::mkdirat(parent.as_fd(), name, Mode::from_bits_truncate(0o755))
            };
            match created {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("creating {} in rootfs", prefix.display()))
                }
            }
        }
        self.resolve(&rel).with_context(|| format!("resolving {} in rootfs", path.display()))
    }
}

/// A real directory fd from an O_PATH one (mkdirat/openat need one).
fn reopen_dir(fd: &OwnedFd) -> Result<OwnedFd, Errno> {
    nix::fcntl::open(
        &fd_path(fd),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// The magic link through which the kernel reaches exactly this open file.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `path` without its root, `.` and leading `/` (so "/a/./b" is "a/b").
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// The error for a kernel without openat2, or None for any other errno.
fn unsupported_kernel(e: Errno) -> Option<anyhow::Error> {
    (e == Errno::ENOSYS).then(|| {
        anyhow::anyhow!(
            "openat2(2) is missing: litmus-runtime needs Linux 5.6 or later to resolve paths \
             inside the rootfs (it does not fall back to resolving them in userspace)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_kernel_without_openat2_is_named() {
        let e = unsupported_kernel(Errno::ENOSYS).unwrap().to_string();
        assert!(e.contains("openat2") && e.contains("5.6"), "{e}");
        assert!(unsupported_kernel(Errno::EACCES).is_none());
    }

    fn real_path(fd: &OwnedFd) -> PathBuf {
        std::fs::read_link(fd_path(fd)).unwrap()
    }

    #[test]
    fn symlinks_pointing_out_of_the_root_stay_inside() {
        let root_dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), root_dir.path().join("escape")).unwrap();
        symlink("../../../..", root_dir.path().join("dotdot")).unwrap();
        let root = Root::open(root_dir.path()).unwrap();

        let fd = root.create(Path::new("/escape/sub"), Leaf::Dir).unwrap();
        let resolved = real_path(&fd);
        assert!(resolved.starts_with(root_dir.path()), "{}", resolved.display());
        assert!(
            std::fs::read_dir(outside.path()).unwrap().next().is_none(),
            "wrote outside the root"
        );

        let fd = root.resolve(Path::new("/dotdot")).unwrap();
        assert_eq!(real_path(&fd), root_dir.path().canonicalize().unwrap());
    }

    #[test]
    fn plain_dirs_are_reached_without_symlinks_only() {
        let root_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root_dir.path().join("real/sub")).unwrap();
        std::fs::write(root_dir.path().join("file"), "").unwrap();
        symlink("/real", root_dir.path().join("proc")).unwrap();
        symlink("/real", root_dir.path().join("via")).unwrap();
        let root = Root::open(root_dir.path()).unwrap();
        assert!(root.resolve_plain_dir(Path::new("/real/sub")).is_ok());
        assert_eq!(root.resolve_plain_dir(Path::new("/proc")).err(), Some(Errno::ELOOP));
        assert_eq!(root.resolve_plain_dir(Path::new("/via/sub")).err(), Some(Errno::ELOOP));
        assert_eq!(root.resolve_plain_dir(Path::new("/file")).err(), Some(Errno::ENOTDIR));
        assert_eq!(root.resolve_plain_dir(Path::new("/missing")).err(), Some(Errno::ENOENT));
    }

    #[test]
    fn files_and_parents_are_created() {
        let root_dir = tempfile::tempdir().unwrap();
        let root = Root::open(root_dir.path()).unwrap();
        root.create(Path::new("/etc/x/resolv.conf"), Leaf::File).unwrap();
        assert!(root_dir.path().join("etc/x/resolv.conf").is_file());
        // Existing paths are opened, not recreated.
        root.create(Path::new("etc/x"), Leaf::Dir).unwrap();
    }
}
