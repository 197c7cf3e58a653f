//! Idmapped bind mounts (`idmap` / `ridmap` options, runtime-spec 1.2):
//! the mount shows the source's owners through a mapping, without
//! changing a file. mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN in
//! the user namespace the source filesystem was mounted in (the host's),
//! which the container's init may have left behind, so `create` makes
//! each idmapped tree here, detached (open_tree OPEN_TREE_CLONE), before
//! it forks; init inherits the fds and moves each tree into place.

use super::options::{MountOptions, MOUNT_ATTR_IDMAP};
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, Spec};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One fd per mount of the config: the detached idmapped tree of each
/// `idmap`/`ridmap` mount, None for the others.
#[derive(Default)]
pub struct IdmappedTrees(Vec<Option<OwnedFd>>);

impl IdmappedTrees {
    pub fn tree(&self, mount: usize) -> Option<&OwnedFd> {
        self.0.get(mount).and_then(Option::as_ref)
    }
}

/// The mappings an idmapped mount uses: its own, else (the spec's MAY)
/// the container's user namespace's; neither is an error.
fn mappings<'a>(
    spec: &'a Spec,
    i: usize,
    own: (&'a Option<Vec<LinuxIdMapping>>, &'a Option<Vec<LinuxIdMapping>>),
) -> Result<(&'a [LinuxIdMapping], &'a [LinuxIdMapping])> {
    let given = |m: &'a Option<Vec<LinuxIdMapping>>| m.as_deref().filter(|m| !m.is_empty());
    match (given(own.0), given(own.1)) {
        (Some(u), Some(g)) => return Ok((u, g)),
        (Some(_), None) => bail!("mounts[{i}].gidMappings: needed with uidMappings"),
        (None, Some(_)) => bail!("mounts[{i}].uidMappings: needed with gidMappings"),
        (None, None) => {}
    }
    let linux = spec.linux().as_ref();
    let new_user = linux.and_then(|l| l.namespaces().as_ref()).is_some_and(|ns| {
        ns.iter().any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::User)
    });
    match linux.map(|l| (given(l.uid_mappings()), given(l.gid_mappings()))) {
        Some((Some(u), Some(g))) if new_user => Ok((u, g)),
        _ => bail!(
            "mounts[{i}].options: idmap needs uidMappings and gidMappings on the mount, or a \
             user namespace with mappings for the container"
        ),
    }
}

/// Checks every idmapped mount's options and mappings (at validation).
pub fn check(spec: &Spec) -> Result<()> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let options = MountOptions::parse(m.options().as_deref().unwrap_or_default());
        let has_mappings = m.uid_mappings().is_some() || m.gid_mappings().is_some();
        if options.idmap.is_none() {
            if has_mappings {
                bail!("mounts[{i}].uidMappings: given without the idmap or ridmap option");
            }
            continue;
        }
        if !options.bind && m.typ().as_deref() != Some("bind") {
            bail!("mounts[{i}].options: idmap applies to bind mounts (litmus-runtime)");
        }
        mappings(spec, i, (m.uid_mappings(), m.gid_mappings()))?;
    }
    Ok(())
}

/// Makes the detached idmapped tree of every idmapped mount of `spec`.
pub fn prepare(spec: &Spec, bundle: &Path) -> Result<IdmappedTrees> {
    let mut trees = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let options = MountOptions::parse(m.options().as_deref().unwrap_or_default());
        let Some(recursive_idmap) = options.idmap else {
            trees.push(None);
            continue;
        };
        let (uids, gids) = mappings(spec, i, (m.uid_mappings(), m.gid_mappings()))?;
        let source = m.source().as_ref().ok_or_else(|| anyhow!("mounts[{i}].source: needed"))?;
        let source = if source.is_relative() { bundle.join(source) } else { source.clone() };
        let namespace = user_namespace(uids, gids).with_context(|| format!("mounts[{i}]"))?;
        let tree = idmapped_tree(&source, options.recursive, recursive_idmap, &namespace)
            .with_context(|| format!("mounts[{i}]: idmapping {}", source.display()))?;
        trees.push(Some(tree));
    }
    Ok(IdmappedTrees(trees))
}

/// A user namespace with these mappings, held by an fd: a child enters a
/// new one and says so, we (privileged here) write its maps and open it,
/// then let it exit. Each wait ends when the other side writes or exits.
fn user_namespace(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let (ready_read, ready_write) = nix::unistd::pipe()?;
    let (done_read, done_write) = nix::unistd::pipe()?;
    // SAFETY: create is single-threaded when this runs (before the
    // intermediate fork); the child only makes plain syscalls and _exits.
    match unsafe { nix::unistd::fork() }.context("fork for a mapping's user namespace")? {
        nix::unistd::ForkResult::Child => {
            drop((ready_read, done_write));
            // SAFETY: plain syscalls on fds this child owns; it ends in _exit.
            unsafe {
                let ok = libc::unshare(libc::CLONE_NEWUSER) == 0;
                let byte = u8::from(ok);
                libc::write(ready_write.as_raw_fd(), (&byte as *const u8).cast(), 1);
                let mut wait = 0u8;
                libc::read(done_read.as_raw_fd(), (&mut wait as *mut u8).cast(), 1);
                libc::_exit(0)
            }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop((ready_write, done_read));
            let result = (|| -> Result<OwnedFd> {
                let mut byte = [0u8; 1];
                let mut ready = std::fs::File::from(ready_read);
                use std::io::Read;
                if ready.read(&mut byte)? != 1 || byte[0] != 1 {
                    bail!("the helper could not create a user namespace (unshare CLONE_NEWUSER)");
                }
                let format = |maps: &[LinuxIdMapping]| {
                    maps.iter()
                        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
                        .collect::<String>()
                };
                std::fs::write(format!("/proc/{child}/uid_map"), format(uids))
                    .context("uidMappings")?;
                std::fs::write(format!("/proc/{child}/gid_map"), format(gids))
                    .context("gidMappings")?;
                Ok(std::fs::File::open(format!("/proc/{child}/ns/user"))?.into())
            })();
            drop(done_write); // lets the child exit
            let _ = nix::sys::wait::waitpid(child, None);
            result
        }
    }
}

/// open_tree(OPEN_TREE_CLONE) of `source` (with its submounts if
/// `recursive`), idmapped through `namespace` (on every submount if
/// `recursive_idmap`).
fn idmapped_tree(
    source: &Path,
    recursive: bool,
    recursive_idmap: bool,
    namespace: &OwnedFd,
) -> Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let path = std::ffi::CString::new(source.as_os_str().as_encoded_bytes())?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: path is a valid C string; the returned fd is owned at once.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("open_tree");
    }
    // SAFETY: open_tree returned a new fd nothing else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attrs = super::options::RecursiveAttrs { set: MOUNT_ATTR_IDMAP, clear: 0 };
    super::set_mount_attrs(&tree, attrs, recursive_idmap, Some(namespace)).context(
        "mount_setattr(MOUNT_ATTR_IDMAP) (Linux 5.12, and a filesystem that supports it)",
    )?;
    Ok(tree)
}

/// Puts the detached `tree` on the directory or file `target` is open on
/// (by fd: a /proc/self/fd path to it is refused with EINVAL).
pub fn move_into_place(tree: &OwnedFd, target: &impl AsRawFd) -> Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
    let empty = c"";
    // SAFETY: both paths are empty C strings and both fds are open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            target.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("move_mount of the idmapped tree");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(mount: serde_json::Value, user_namespace: bool) -> Spec {
        let mut spec = Spec::default();
        spec.set_mounts(Some(vec![serde_json::from_value(mount).unwrap()]));
        if user_namespace {
            let linux: oci_spec::runtime::Linux = serde_json::from_value(serde_json::json!({
                "namespaces": [{"type": "user"}, {"type": "mount"}],
                "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            }))
            .unwrap();
            spec.set_linux(Some(linux));
        } else {
            spec.set_linux(Some(Default::default()));
        }
        spec
    }

    #[test]
    fn an_idmap_needs_mappings_from_the_mount_or_the_containers_user_namespace() {
        let bare = serde_json::json!({"destination": "/d", "type": "bind", "source": "/s",
                                       "options": ["bind", "idmap"]});
        let e = check(&spec_with(bare.clone(), false)).unwrap_err().to_string();
        assert!(e.starts_with("mounts[0].options: idmap needs uidMappings"), "{e}");
        assert!(check(&spec_with(bare, true)).is_ok());
        let half = serde_json::json!({"destination": "/d", "type": "bind", "source": "/s",
            "options": ["bind", "idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]});
        let e = check(&spec_with(half, false)).unwrap_err().to_string();
        assert!(e.starts_with("mounts[0].gidMappings: needed with uidMappings"), "{e}");
        let unasked = serde_json::json!({"destination": "/d", "type": "bind", "source": "/s",
            "options": ["bind"],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]});
        let e = check(&spec_with(unasked, false)).unwrap_err().to_string();
        assert!(e.contains("without the idmap or ridmap option"), "{e}");
    }
}
