//! Linux namespaces: which to create, which to join, and checking that a
//! namespace path really is a namespace of the claimed type.

use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::fd::AsRawFd;
use std::path::Path;

pub fn clone_flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The name of `typ` under /proc/PID/ns.
pub fn proc_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// NS_GET_NSTYPE from linux/nsfs.h: _IO(0xb7, 0x3).
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Fails unless `path` is a namespace file of type `typ`.
pub fn check_path(typ: LinuxNamespaceType, path: &Path) -> Result<()> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("linux.namespaces: {typ} path {}", path.display()))?;
    // SAFETY: NS_GET_NSTYPE takes no argument; file is open for the call.
    let actual = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_NSTYPE) };
    if actual < 0 {
        bail!("linux.namespaces: {typ} path {} is not a namespace", path.display());
    }
    if actual != clone_flag(typ).bits() {
        bail!("linux.namespaces: {typ} path {} is a namespace of another type", path.display());
    }
    Ok(())
}

/// The namespaces a container gets, split into those to create and those to join.
pub struct Plan {
    pub create: CloneFlags,
    pub join: Vec<LinuxNamespace>,
}

impl Plan {
    pub fn new(namespaces: &[LinuxNamespace]) -> Plan {
        let mut create = CloneFlags::empty();
        let mut join = Vec::new();
        for ns in namespaces {
            match ns.path() {
                Some(_) => join.push(ns.clone()),
                None => create |= clone_flag(ns.typ()),
            }
        }
        // Join the user namespace first: it decides what the others allow.
        join.sort_by_key(|ns| ns.typ() != LinuxNamespaceType::User);
        Plan { create, join }
    }

    pub fn creates(&self, typ: LinuxNamespaceType) -> bool {
        self.create.contains(clone_flag(typ))
    }

    /// Whether the container gets a namespace of `typ` of its own, new or
    /// joined (else it shares the runtime's).
    pub fn has(&self, typ: LinuxNamespaceType) -> bool {
        self.creates(typ) || self.join.iter().any(|ns| ns.typ() == typ)
    }

    /// Enters every namespace to be joined (setns), in order.
    pub fn join_all(&self) -> Result<()> {
        for ns in &self.join {
            let path = ns.path().as_ref().expect("joined namespaces have a path");
            let file = std::fs::File::open(path)
                .with_context(|| format!("opening {} namespace {}", ns.typ(), path.display()))?;
            nix::sched::setns(&file, clone_flag(ns.typ()))
                .with_context(|| format!("joining {} namespace {}", ns.typ(), path.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxNamespaceBuilder;

    #[test]
    fn a_path_of_the_wrong_type_is_rejected() {
        check_path(LinuxNamespaceType::Network, Path::new("/proc/self/ns/net")).unwrap();
        let err = check_path(LinuxNamespaceType::Ipc, Path::new("/proc/self/ns/net"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("another type"), "{err}");
        let err = check_path(LinuxNamespaceType::Ipc, Path::new("/etc/hostname"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a namespace"), "{err}");
    }

    #[test]
    fn user_namespace_is_joined_first() {
        let ns = |typ, path: Option<&str>| {
            let b = LinuxNamespaceBuilder::default().typ(typ);
            match path {
                Some(p) => b.path(p).build().unwrap(),
                None => b.build().unwrap(),
            }
        };
        let plan = Plan::new(&[
            ns(LinuxNamespaceType::Network, Some("/proc/1/ns/net")),
            ns(LinuxNamespaceType::User, Some("/proc/1/ns/user")),
            ns(LinuxNamespaceType::Pid, None),
        ]);
        assert_eq!(plan.join[0].typ(), LinuxNamespaceType::User);
        assert!(plan.creates(LinuxNamespaceType::Pid));
        assert!(!plan.creates(LinuxNamespaceType::Network));
    }
}
