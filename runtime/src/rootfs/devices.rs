//! Device nodes in the container's /dev: the defaults every container gets,
//! the ones `linux.devices` asks for, and the standard symlinks.

use super::inroot::{fd_path, Leaf, Root};
use crate::fault::Fault;
use anyhow::{bail, Context, Result};
use nix::mount::MsFlags;
use nix::sys::stat::{makedev, Mode, SFlag};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// A device node to create: what runtime-linux.md lists as default, or a
/// `linux.devices` entry.
pub struct Node {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// From linux.devices: an existing file that is not this device is an
    /// error. A default device replaces whatever the image put there.
    pub configured: bool,
}

/// runtime-linux.md "Default Devices".
pub fn defaults() -> Vec<Node> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ]
    .into_iter()
    .map(|(path, major, minor)| Node {
        path: PathBuf::from(path),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
        configured: false,
    })
    .collect()
}

impl Node {
    pub fn from_spec(device: &LinuxDevice) -> Result<Node> {
        let path = device.path();
        if !path.is_absolute() {
            bail!("linux.devices: path {:?} is not absolute", path);
        }
        let kind = match device.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => bail!(
                "linux.devices: {} has type 'a', which is only for cgroup rules",
                path.display()
            ),
        };
        Ok(Node {
            path: path.clone(),
            kind,
            major: device.major() as u64,
            minor: device.minor() as u64,
            mode: device.file_mode().unwrap_or(0o666) & 0o7777,
            uid: device.uid().unwrap_or(0),
            gid: device.gid().unwrap_or(0),
            configured: true,
        })
    }
}

/// config-linux.md: "If a file already exists at path that does not match
/// the requested device, the runtime MUST generate an error."
fn check_existing(
    parent: std::os::fd::BorrowedFd,
    name: &std::ffi::OsStr,
    node: &Node,
) -> Result<()> {
    let stat = match nix::sys::stat::fstatat(parent, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
    {
        Ok(stat) => stat,
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("linux.devices: {}", node.path.display())),
    };
    let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
    let is_device = kind == SFlag::S_IFCHR || kind == SFlag::S_IFBLK;
    let numbers = (nix::sys::stat::major(stat.st_rdev), nix::sys::stat::minor(stat.st_rdev));
    let matches = kind == node.kind && (!is_device || numbers == (node.major, node.minor));
    if !matches {
        bail!(
            "linux.devices: {} already exists in the rootfs and is not the requested device \
             (found {}, wanted {})",
            node.path.display(),
            describe(kind, numbers),
            describe(node.kind, (node.major, node.minor)),
        );
    }
    Ok(())
}

fn describe(kind: SFlag, (major, minor): (u64, u64)) -> String {
    match kind {
        SFlag::S_IFCHR => format!("char device {major}:{minor}"),
        SFlag::S_IFBLK => format!("block device {major}:{minor}"),
        SFlag::S_IFIFO => "fifo".into(),
        SFlag::S_IFDIR => "directory".into(),
        SFlag::S_IFLNK => "symlink".into(),
        SFlag::S_IFREG => "regular file".into(),
        _ => "special file".into(),
    }
}

/// Creates `node` in the rootfs. In a user namespace mknod is not allowed,
/// so the host's node at the same path is bind-mounted instead.
pub fn create(root: &Root, node: &Node, bind_from_host: bool) -> Result<()> {
    let context = || format!("creating device {}", node.path.display());
    if bind_from_host {
        if !node.configured && Fault::UsernsSkipsDefaultDevices.active() {
            return Ok(()); // as if mknod's EPERM had been shrugged off
        }
        if node.configured && Fault::RootlessDevicesUnbound.active() && crate::rootless::active() {
            return Ok(());
        }
        let target = root.create(&node.path, Leaf::File).with_context(context)?;
        let source = node.path.clone();
        return nix::mount::mount(
            Some(&source),
            &fd_path(&target),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind-mounting host {} into the container", source.display()));
    }
    let parent_path = node.path.parent().unwrap_or(Path::new("/"));
    let name = node.path.file_name().with_context(context)?;
    let parent = root.create(parent_path, Leaf::Dir).with_context(context)?;
    let parent = nix::fcntl::open(
        &fd_path(&parent),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(context)?;
    // A runtime that trusts the image's own /dev entries (the precondition
    // of CVE-2025-31133) keeps them instead of creating the nodes afresh.
    if Fault::UnverifiedDevNull.active()
        && !node.configured
        && nix::sys::stat::fstatat(parent.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
            .is_ok()
    {
        return Ok(());
    }
    if node.configured && !Fault::ReplaceMismatchedDevice.active() {
        check_existing(parent.as_fd(), name, node)?;
    }
    // An image may ship a placeholder (or the same device): the node is
    // created afresh, with the configured mode and owner.
    match nix::unistd::unlinkat(parent.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(e).with_context(context),
    }
    nix::sys::stat::mknodat(
        parent.as_fd(),
        name,
        node.kind,
        Mode::from_bits_truncate(node.mode),
        makedev(node.major, node.minor),
    )
    .with_context(context)?;
    // mknod is subject to the umask; chmod is not.
    nix::sys::stat::fchmodat(
        parent.as_fd(),
        name,
        Mode::from_bits_truncate(node.mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .with_context(context)?;
    nix::unistd::fchownat(
        parent.as_fd(),
        name,
        Some(Uid::from_raw(node.uid)),
        Some(Gid::from_raw(node.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .with_context(context)?;
    Ok(())
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx and /dev/core, as
/// runtime-linux.md "Dev symbolic links" lists them.
pub fn create_symlinks(root: &Root) -> Result<()> {
    let dev = root.create(Path::new("/dev"), Leaf::Dir)?;
    let dev = nix::fcntl::open(
        &fd_path(&dev),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut links = vec![
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        match nix::unistd::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e).with_context(|| format!("creating /dev/{name} -> {target}")),
        }
    }
    Ok(())
}

/// Fails unless `fd` is the real /dev/null (char 1:3). Masking a path with
/// something else (a file an attacker swapped in, CVE-2025-31133) would
/// expose what the mask should hide.
pub fn verify_dev_null(fd: &impl AsFd) -> Result<()> {
    let stat = nix::sys::stat::fstat(fd.as_fd()).context("checking /dev/null")?;
    let is_char = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    if !is_char || stat.st_rdev != makedev(1, 3) {
        bail!("/dev/null in the container is not the null device (char 1:3); refusing to use it for masking");
    }
    Ok(())
}
