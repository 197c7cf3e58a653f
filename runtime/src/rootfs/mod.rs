//! Building the container's filesystem view, in the container's new mount
//! namespace:
//!
//! 1. [`prepare`]: make mounts stop propagating to the host, bind the rootfs
//!    onto itself, mount `mounts` in order, create devices and /dev links.
//! 2. [`pivot`]: make the rootfs "/" (pivot_root, or MS_MOVE + chroot).
//! 3. [`finalize`]: mask paths, make paths and the root read-only.

mod devices;
pub mod idmap;
pub(crate) mod inroot;
mod options;

use crate::fault::Fault;
use anyhow::{bail, Context, Result};
use inroot::{fd_path, Leaf, Root};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use oci_spec::runtime::{Mount, Spec};
pub use options::MountOptions;
use std::path::{Path, PathBuf};

/// Everything `prepare` needs to know beyond the spec.
pub struct Setup<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    /// In a new user namespace mknod is not allowed.
    pub in_user_namespace: bool,
    /// With a new cgroup namespace, cgroup mounts show the container's cgroup as root.
    pub new_cgroup_namespace: bool,
    /// Without a mount namespace of its own the container shares the
    /// host's: nothing may change the host's mounts but the container's
    /// own mounts under the rootfs (removed again by `delete`).
    pub own_mount_namespace: bool,
    /// The idmapped trees `create` made for `idmap`/`ridmap` mounts.
    pub idmapped: &'a idmap::IdmappedTrees,
}

/// Mounts the config's mounts and makes the devices. `at_cgroups` runs
/// before the first cgroup or cgroup2 mount (what they show depends on the
/// cgroup the caller is in and its cgroup namespace), and before any mount
/// at all without a mount namespace of our own.
pub fn prepare(setup: &Setup, at_cgroups: &mut dyn FnMut() -> Result<()>) -> Result<()> {
    let linux = setup.spec.linux().as_ref();
    let propagation = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        Some(name) => options::propagation_flag(name)
            .with_context(|| format!("linux.rootfsPropagation: unknown value {name:?}"))?,
        None => MsFlags::MS_SLAVE,
    };
    if !setup.own_mount_namespace {
        // Our mounts are the host's, and a failed create unmounts them:
        // we wait for the state first, so that a create failing before it
        // (the cgroup, netDevices) never races a mount it cannot see.
        at_cgroups()?;
    } else {
        // Nothing we mount may leak back into the host's mount namespace.
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | propagation, None::<&str>)
            .context("setting propagation of / in the container's mount namespace")?;
        make_parent_mount_private(setup.rootfs)?;
        // pivot_root needs the new root to be a mount point.
        mount(
            Some(setup.rootfs),
            setup.rootfs,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(|| format!("bind-mounting rootfs {}", setup.rootfs.display()))?;
    }

    let root = Root::open(setup.rootfs)?;
    let mounts = setup.spec.mounts().clone().unwrap_or_default();
    for (i, m) in mounts.iter().enumerate() {
        if mounts_cgroupfs(m) {
            at_cgroups()?;
        }
        let began = crate::trace::enabled().then(crate::trace::now_ns);
        mount_one(&root, i, m, setup)
            .with_context(|| format!("mounts[{i}] ({})", m.destination().display()))?;
        if let Some(began) = began {
            let phase = format!("mount {}", m.destination().display());
            crate::trace::record(&phase, began, crate::trace::now_ns());
        }
    }
    let _devices = crate::trace::span("devices");

    let dev_is_bind = mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && MountOptions::parse(m.options().as_deref().unwrap_or_default()).bind
    });
    let configured = linux.and_then(|l| l.devices().clone()).unwrap_or_default();
    let mut nodes = Vec::new();
    if !dev_is_bind {
        nodes.extend(
            devices::defaults()
                .into_iter()
                .filter(|d| !configured.iter().any(|c| c.path() == &d.path)),
        );
    }
    for device in &configured {
        nodes.push(devices::Node::from_spec(device)?);
    }
    // Device modes are exact: mknod must not be filtered by our umask.
    let old_umask = nix::sys::stat::umask(Mode::empty());
    for node in &nodes {
        devices::create(&root, node, setup.in_user_namespace)?;
    }
    nix::sys::stat::umask(old_umask);
    if !dev_is_bind && !Fault::NoDevSymlinks.active() {
        devices::create_symlinks(&root)?;
    }
    Ok(())
}

/// Whether `m` mounts a cgroup filesystem (not a bind of one).
fn mounts_cgroupfs(m: &Mount) -> bool {
    matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2"))
        && !MountOptions::parse(m.options().as_deref().unwrap_or_default()).bind
}

/// linux.mountLabel as the `context=` mount option, where the filesystem
/// takes it. Like runc, not on proc, sysfs and cgroup mounts (their labels
/// come from the policy) nor mqueue; bind mounts keep their source's labels.
fn labelled_data(data: Option<String>, typ: &str, label: Option<&str>) -> Option<String> {
    let Some(label) = label.filter(|l| !l.is_empty()) else {
        return data;
    };
    if matches!(typ, "proc" | "sysfs" | "cgroup" | "cgroup2" | "mqueue") {
        return data;
    }
    // Quoted: an MLS range has commas, the data separator.
    let context = format!("context=\"{label}\"");
    Some(match data {
        Some(data) => format!("{data},{context}"),
        None => context,
    })
}

/// procfs and sysfs go only on a real directory reached without a symlink
/// (runc: "must be mounted on ordinary directory"). An image that makes
/// /proc a symlink chooses where procfs lands, and with it what LSM
/// profiles and masked paths written for /proc cover (CVE-2019-16884,
/// CVE-2019-19921). The directory is created if missing, then opened
/// with RESOLVE_NO_SYMLINKS: the fd mounted on is the one checked.
fn kernel_fs_target(root: &Root, destination: &Path, typ: &str) -> Result<std::os::fd::OwnedFd> {
    if Fault::ProcThroughSymlink.active() {
        return root.create(destination, Leaf::Dir);
    }
    let refuse = |why: &str| {
        anyhow::anyhow!(
            "{typ} must be mounted on an ordinary directory, and {} {why}",
            destination.display()
        )
    };
    match root.resolve_plain_dir(destination) {
        Ok(fd) => return Ok(fd),
        Err(nix::errno::Errno::ELOOP) => return Err(refuse("is or passes through a symlink")),
        Err(nix::errno::Errno::ENOTDIR) => return Err(refuse("is not a directory")),
        Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(e).with_context(|| format!("resolving {}", destination.display())),
    }
    root.create(destination, Leaf::Dir)?;
    match root.resolve_plain_dir(destination) {
        Ok(fd) => Ok(fd),
        Err(nix::errno::Errno::ELOOP) => Err(refuse("is or passes through a symlink")),
        Err(nix::errno::Errno::ENOTDIR) => Err(refuse("is not a directory")),
        Err(e) => Err(e).with_context(|| format!("resolving {}", destination.display())),
    }
}

/// Mounts one `mounts` entry at its destination inside the rootfs.
fn mount_one(root: &Root, index: usize, m: &Mount, setup: &Setup) -> Result<()> {
    let opts = MountOptions::parse(m.options().as_deref().unwrap_or_default());
    let typ = m.typ().as_deref().unwrap_or("");
    let is_bind = opts.bind || typ == "bind";
    if typ == "cgroup" && !is_bind {
        return mount_cgroups(root, m, &opts, setup.new_cgroup_namespace);
    }
    let source = m.source().as_ref().map(|s| {
        if is_bind && s.is_relative() {
            setup.bundle.join(s)
        } else {
            s.clone()
        }
    });
    let leaf = match &source {
        Some(src) if is_bind && !src.is_dir() => Leaf::File,
        _ => Leaf::Dir,
    };
    if is_bind {
        let src = source.as_ref().context("a bind mount needs a source")?;
        if !src.exists() {
            bail!("bind source {} does not exist", src.display());
        }
    }
    let target = if matches!(typ, "proc" | "sysfs") && !is_bind {
        kernel_fs_target(root, m.destination(), typ)?
    } else {
        root.create(m.destination(), leaf)?
    };
    let target_fd = target;
    let target = if Fault::MountByPath.active() {
        // The pre-CVE-2021-30465 way: a path string the kernel walks again
        // at mount time, following whatever was swapped in meanwhile.
        setup.rootfs.join(m.destination().strip_prefix("/").unwrap_or(m.destination()))
    } else {
        fd_path(&target_fd)
    };
    if let Some(tree) = setup.idmapped.tree(index) {
        idmap::move_into_place(tree, &target_fd)?;
        if !opts.flags.is_empty() {
            let top = root.resolve(m.destination())?;
            remount_bind(&fd_path(&top), opts.flags)?;
        }
    } else if is_bind {
        let mut flags = MsFlags::MS_BIND;
        if opts.recursive {
            flags |= MsFlags::MS_REC;
        }
        mount(source.as_deref(), &target, None::<&str>, flags, None::<&str>)
            .context("bind mount")?;
        // Flags on a bind take a second call (MS_REMOUNT|MS_BIND).
        if !opts.flags.is_empty() {
            let top = root.resolve(m.destination())?;
            remount_bind(&fd_path(&top), opts.flags)?;
        }
    } else {
        // Opened before the mount covers it: the tmpfs is filled from here.
        let covered = match opts.copy_up {
            true if typ == "tmpfs" => Some(std::fs::File::open(&target)?),
            true => bail!("tmpcopyup: only for tmpfs mounts, not {typ}"),
            false => None,
        };
        let label = setup.spec.linux().as_ref().and_then(|l| l.mount_label().as_deref());
        let mounted = mount(
            source.as_deref().or(Some(Path::new(typ))),
            &target,
            Some(typ),
            opts.flags,
            labelled_data(opts.data(), typ, label).as_deref(),
        );
        match mounted {
            // sysfs may be mounted only by the owner of the network
            // namespace: in a user namespace sharing the host's (a rootless
            // config without one), the host's /sys is bound instead, with
            // the mount's flags, as runc does.
            Err(nix::errno::Errno::EPERM) if typ == "sysfs" && setup.in_user_namespace => {
                let rec = MsFlags::MS_BIND | MsFlags::MS_REC;
                mount(Some("/sys"), &target, None::<&str>, rec, None::<&str>)
                    .context("mounting sysfs was refused (EPERM); binding the host's /sys")?;
                if !opts.flags.is_empty() {
                    let top = root.resolve(m.destination())?;
                    remount_bind(&fd_path(&top), opts.flags)?;
                }
            }
            result => result.with_context(|| format!("mounting {typ}"))?,
        }
        if let Some(covered) = covered {
            let tmpfs = root.resolve(m.destination())?;
            copy_up(&fd_path(&covered), &fd_path(&tmpfs)).context("tmpcopyup")?;
        }
    }
    let top = root.resolve(m.destination())?;
    let propagation =
        if Fault::MountPropagationIgnored.active() { &[][..] } else { &opts.propagation };
    for flag in propagation {
        mount(None::<&str>, &fd_path(&top), None::<&str>, *flag, None::<&str>)
            .context("setting propagation")?;
    }
    if !opts.recursive_attrs.is_empty() && !Fault::RecursiveOptionsIgnored.active() {
        set_mount_attrs(&top, opts.recursive_attrs, true, None)
            .context("applying recursive mount options")?;
    }
    Ok(())
}

/// mount_setattr(2) on the mount `top` is (with AT_RECURSIVE: and every
/// mount under it, as the r* options want), with the user namespace of an
/// idmapping.
pub(crate) fn set_mount_attrs(
    top: &impl std::os::fd::AsRawFd,
    attrs: options::RecursiveAttrs,
    recursive: bool,
    userns: Option<&std::os::fd::OwnedFd>,
) -> Result<()> {
    use std::os::fd::AsRawFd;
    /// struct mount_attr of <linux/mount.h> (MOUNT_ATTR_SIZE_VER0).
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let userns_fd = userns.map(|fd| fd.as_raw_fd() as u64).unwrap_or(0);
    let attr = MountAttr { attr_set: attrs.set, attr_clr: attrs.clear, propagation: 0, userns_fd };
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: the path is an empty C string, `attr` is a live struct of the
    // size passed, and the fd is open for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            top.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        let hint = if e.raw_os_error() == Some(libc::ENOSYS) {
            " (mount_setattr needs Linux 5.12 or later)"
        } else {
            ""
        };
        return Err(e).with_context(|| format!("mount_setattr{hint}"));
    }
    Ok(())
}

/// Copies the tree at `from` into `to` (both directories), keeping modes
/// and owners, and gives `to` the mode and owner of `from`.
fn copy_up(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::{chown, symlink, MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(from)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    chown(to, Some(meta.uid()), Some(meta.gid()))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_up(&src, &dst)?;
        } else if kind.is_symlink() {
            symlink(std::fs::read_link(&src)?, &dst)?;
            let meta = std::fs::symlink_metadata(&src)?;
            std::os::unix::fs::lchown(&dst, Some(meta.uid()), Some(meta.gid()))?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
            let meta = entry.metadata()?;
            chown(&dst, Some(meta.uid()), Some(meta.gid()))?;
        }
        // Devices, fifos and sockets are not copied, as runc does not.
    }
    Ok(())
}

/// Re-applies `flags` to a bind mount, keeping the flags the kernel locks
/// (nosuid, nodev, noexec, atime) when they are already set on it.
fn remount_bind(target: &Path, flags: MsFlags) -> Result<()> {
    let locked = locked_flags(target)?;
    mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags | locked,
        None::<&str>,
    )
    .with_context(|| format!("remounting {} with {flags:?}", target.display()))
}

fn locked_flags(target: &Path) -> Result<MsFlags> {
    use nix::sys::statvfs::FsFlags;
    let st = nix::sys::statvfs::statvfs(target)
        .with_context(|| format!("statvfs {}", target.display()))?;
    let f = st.flags();
    let mut flags = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            flags |= ms;
        }
    }
    Ok(flags)
}

/// A `cgroup` mount: a tmpfs with one directory per hierarchy, like the
/// host's /sys/fs/cgroup, each showing the container's own cgroup.
fn mount_cgroups(root: &Root, m: &Mount, opts: &MountOptions, new_cgroup_ns: bool) -> Result<()> {
    let dest = m.destination();
    let own = std::fs::read_to_string("/proc/self/cgroup").context("reading /proc/self/cgroup")?;
    let unified_only = own.lines().all(|l| l.starts_with("0::"));
    let base = opts.flags
        & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME);
    // Each fd is kept bound while its /proc/self/fd path is in use.
    let dest_fd = root.create(dest, Leaf::Dir)?;
    let target = fd_path(&dest_fd);
    if unified_only {
        match mount(Some("cgroup2"), &target, Some("cgroup2"), opts.flags, None::<&str>) {
            // In a user namespace sharing the host's cgroup namespace,
            // cgroup2 may not be mounted (EPERM): the host's hierarchy is
            // bound instead, with the mount's flags, as runc does.
            Err(nix::errno::Errno::EPERM | nix::errno::Errno::EBUSY) => {
                mount(
                    Some("/sys/fs/cgroup"),
                    &target,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .context("mounting cgroup2 was refused; binding the host's /sys/fs/cgroup")?;
                if !opts.flags.is_empty() {
                    remount_bind(&fd_path(&root.resolve(dest)?), opts.flags | base)?;
                }
            }
            result => result.context("mounting cgroup2")?,
        }
        return Ok(());
    }
    mount(Some("tmpfs"), &target, Some("tmpfs"), base, Some("mode=755"))
        .context("mounting tmpfs for cgroups")?;
    for line in own.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) =
            (fields.next(), fields.next().unwrap_or(""), fields.next().unwrap_or("/"));
        if controllers.is_empty() {
            continue; // the hybrid host's cgroup2 line
        }
        let dir_name = controllers.strip_prefix("name=").unwrap_or(controllers);
        let sub = dest.join(dir_name);
        let sub_fd = root.create(&sub, Leaf::Dir)?;
        let sub_target = fd_path(&sub_fd);
        let host_dir = PathBuf::from("/sys/fs/cgroup").join(dir_name);
        if new_cgroup_ns {
            let data = if controllers.starts_with("name=") {
                format!("none,{controllers}")
            } else {
                controllers.to_string()
            };
            mount(Some("cgroup"), &sub_target, Some("cgroup"), base, Some(data.as_str()))
                .with_context(|| format!("mounting cgroup {controllers}"))?;
        } else {
            let source = host_dir.join(path.trim_start_matches('/'));
            mount(Some(&source), &sub_target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .with_context(|| format!("binding cgroup {}", source.display()))?;
        }
        if opts.flags.contains(MsFlags::MS_RDONLY) {
            let top = root.resolve(&sub)?;
            remount_bind(&fd_path(&top), MsFlags::MS_RDONLY | base)?;
        }
        // cpu,cpuacct is reachable as cpu and cpuacct too, as on the host.
        if dir_name.contains(',') {
            let parent = nix::fcntl::open(
                &target,
                nix::fcntl::OFlag::O_RDONLY
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            for alias in dir_name.split(',') {
                let _ = nix::unistd::symlinkat(dir_name, &parent, alias);
            }
        }
    }
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        let top = root.resolve(dest)?;
        remount_bind(&fd_path(&top), MsFlags::MS_RDONLY | base)?;
    }
    Ok(())
}

/// pivot_root refuses a new root whose parent mount is shared; a shared
/// host "/" is common (systemd), so make the parent of the rootfs private.
fn make_parent_mount_private(rootfs: &Path) -> Result<()> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let parent = rootfs.parent().unwrap_or(Path::new("/"));
    let mount_point = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| parent.starts_with(mp))
        .max_by_key(|mp| mp.len())
        .unwrap_or("/");
    mount(None::<&str>, mount_point, None::<&str>, MsFlags::MS_PRIVATE, None::<&str>)
        .with_context(|| format!("making {mount_point} private"))
}

/// Unmounts everything mounted below `rootfs` in our mount namespace,
/// deepest first: what a container without a mount namespace of its own
/// mounted there, on the host, which `delete` must take away again. The
/// rootfs itself stays: an engine may have mounted it (an overlay).
pub fn unmount_all_under(rootfs: &Path) {
    let Ok(rootfs) = rootfs.canonicalize() else {
        return;
    };
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(options::unescape_mountinfo(p)))
        .filter(|p| p.starts_with(&rootfs) && *p != rootfs)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    for point in points {
        if let Err(e) = umount2(&point, MntFlags::MNT_DETACH) {
            tracing::warn!("unmounting {}: {e}", point.display());
        }
    }
}

/// Makes the rootfs the container's "/". Without a mount namespace of its
/// own there is nothing to pivot: chroot, as runc does.
pub fn pivot(rootfs: &Path, no_pivot: bool, own_mount_namespace: bool) -> Result<()> {
    use nix::fcntl::{open, OFlag};
    if !own_mount_namespace {
        nix::unistd::chroot(rootfs).context("chroot")?;
        nix::unistd::chdir("/")?;
        return Ok(());
    }
    if no_pivot {
        nix::unistd::chdir(rootfs)?;
        mount(Some(rootfs), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .context("moving rootfs to /")?;
        nix::unistd::chroot(".").context("chroot")?;
        nix::unistd::chdir("/")?;
        return Ok(());
    }
    let old_root =
        open("/", OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    let new_root =
        open(rootfs, OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    // pivot_root(".", ".") stacks the old root on top of the new one; we
    // then detach it without ever needing a directory to put it in.
    nix::unistd::fchdir(&new_root)?;
    nix::unistd::pivot_root(".", ".").context("pivot_root")?;
    nix::unistd::fchdir(&old_root)?;
    mount(None::<&str>, ".", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>)?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the old root")?;
    nix::unistd::chdir("/")?;
    Ok(())
}

/// After the pivot: masked paths, read-only paths, read-only root,
/// and rootfsPropagation on the new root.
pub fn finalize(spec: &Spec) -> Result<()> {
    let root = Root::open(Path::new("/"))?;
    let linux = spec.linux().as_ref();
    for path in linux.and_then(|l| l.masked_paths().clone()).unwrap_or_default() {
        mask(&root, Path::new(&path)).with_context(|| format!("linux.maskedPaths: {path}"))?;
    }
    for path in linux.and_then(|l| l.readonly_paths().clone()).unwrap_or_default() {
        make_readonly(&root, Path::new(&path))
            .with_context(|| format!("linux.readonlyPaths: {path}"))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        remount_bind(Path::new("/"), MsFlags::MS_RDONLY).context("root.readonly")?;
    }
    if let Some(name) = linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        let flag = options::propagation_flag(name).expect("validated in prepare");
        mount(None::<&str>, "/", None::<&str>, flag, None::<&str>)
            .context("linux.rootfsPropagation")?;
    }
    Ok(())
}

fn mask(root: &Root, path: &Path) -> Result<()> {
    // A listed path the image does not have is left alone.
    let Some(target) = root.resolve_existing(path)? else {
        return Ok(());
    };
    let stat = nix::sys::stat::fstat(&target)?;
    let is_dir = nix::sys::stat::SFlag::from_bits_truncate(stat.st_mode)
        & nix::sys::stat::SFlag::S_IFMT
        == nix::sys::stat::SFlag::S_IFDIR;
    if is_dir {
        mount(Some("tmpfs"), &fd_path(&target), Some("tmpfs"), MsFlags::MS_RDONLY, None::<&str>)?;
    } else {
        let null = root.resolve(Path::new("/dev/null")).context("opening /dev/null")?;
        if !Fault::UnverifiedDevNull.active() {
            devices::verify_dev_null(&null)?;
        }
        mount(
            Some(&fd_path(&null)),
            &fd_path(&target),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
    }
    Ok(())
}

fn make_readonly(root: &Root, path: &Path) -> Result<()> {
    // A listed path the image does not have is left alone.
    let Some(target) = root.resolve_existing(path)? else {
        return Ok(());
    };
    let target = fd_path(&target);
    mount(Some(&target), &target, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)?;
    // The fd still names the mount below; the new bind is reached by path.
    let top = root.resolve(path)?;
    remount_bind(&fd_path(&top), MsFlags::MS_RDONLY)
}

/// Creates `path` (and its parents) inside the rootfs if it is missing.
pub fn ensure_dir(rootfs: &Path, path: &Path) -> Result<()> {
    Root::open(rootfs)?.create(path, Leaf::Dir).map(drop)
}

#[cfg(test)]
mod tests {
    use super::{labelled_data, mounts_cgroupfs};

    #[test]
    fn cgroup_and_cgroup2_mounts_wait_for_the_cgroup_but_binds_of_them_do_not() {
        let mount = |typ: &str, options: &[&str]| {
            let mut m = oci_spec::runtime::Mount::default();
            m.set_typ(Some(typ.into()));
            m.set_options(Some(options.iter().map(|o| o.to_string()).collect()));
            m
        };
        assert!(mounts_cgroupfs(&mount("cgroup", &["ro", "nosuid"])));
        assert!(mounts_cgroupfs(&mount("cgroup2", &[])));
        assert!(!mounts_cgroupfs(&mount("cgroup", &["rbind", "ro"])));
        assert!(!mounts_cgroupfs(&mount("bind", &["bind"])));
        assert!(!mounts_cgroupfs(&mount("proc", &[])));
    }

    #[test]
    fn the_mount_label_is_a_quoted_context_option_where_the_filesystem_takes_one() {
        let label = Some("system_u:object_r:container_file_t:s0:c1,c2");
        assert_eq!(
            labelled_data(Some("mode=755".into()), "tmpfs", label).as_deref(),
            Some("mode=755,context=\"system_u:object_r:container_file_t:s0:c1,c2\"")
        );
        assert_eq!(
            labelled_data(None, "devpts", label).as_deref(),
            Some("context=\"system_u:object_r:container_file_t:s0:c1,c2\"")
        );
        for typ in ["proc", "sysfs", "cgroup", "mqueue"] {
            assert_eq!(labelled_data(Some("x".into()), typ, label).as_deref(), Some("x"), "{typ}");
        }
        assert_eq!(labelled_data(None, "tmpfs", None), None);
        assert_eq!(labelled_data(None, "tmpfs", Some("")), None);
    }
}
