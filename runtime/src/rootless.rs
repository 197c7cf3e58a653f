//! Running as an unprivileged user ("rootless"), as runc does.
//!
//! Rootless is the runtime's euid not being 0, or its running as root of
//! a user namespace other than the host's (rootless podman starts the
//! runtime so), or `--rootless true`. Then:
//! - state lives under `$XDG_RUNTIME_DIR/litmus-runtime` unless `--root`
//!   says otherwise;
//! - the container must have a user namespace: only inside one does the
//!   unprivileged caller hold the capabilities the other namespaces,
//!   mounts and the pivot need;
//! - its id mappings are written directly when they map only the caller's
//!   own uid and gid (the kernel allows that to anyone, after
//!   `setgroups deny`), otherwise through newuidmap/newgidmap (Debian's
//!   `uidmap`), which check the ranges against /etc/subuid and /etc/subgid;
//! - a cgroup it may not create is skipped, as runc does, and any limit
//!   is then refused, naming the field. A cgroup the user was delegated
//!   (an absolute `linux.cgroupsPath` in a cgroup v2 subtree it owns) is
//!   used like any other. Device rules are never applied (runc ignores
//!   them too): the v1 controller and v2's eBPF filter need the host's
//!   root;
//! - device nodes are bind-mounted from the host (mknod is not allowed in
//!   a user namespace; see [`crate::rootfs::devices`]).

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, LinuxResources, Spec};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Decided once, at start: inside the container the process is root of
/// its user namespace, and asking the euid again would say otherwise.
static ACTIVE: OnceLock<bool> = OnceLock::new();

/// Whether this process is in a user namespace other than the host's
/// (its uid_map is not the identity of every id).
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| !is_initial_uid_map(&map))
}

fn is_initial_uid_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// runc's rule: rootless when not root, or root only of a user namespace.
fn detect() -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace()
}

/// Takes runc's `--rootless true|false|auto` (absent: auto: not root, or
/// root of a user namespace only).
pub fn set_mode(flag: Option<&str>) -> Result<()> {
    let active = match flag {
        None | Some("auto") => detect(),
        Some("true") => true,
        Some("false") => false,
        Some(other) => bail!("--rootless: {other:?} is not one of true, false, auto"),
    };
    let _ = ACTIVE.set(active);
    Ok(())
}

/// Whether the runtime works as an unprivileged user.
pub fn active() -> bool {
    *ACTIVE.get_or_init(detect)
}

/// Where state lives without `--root`: runc's rule, with our name.
/// `real_root` is the host's root (euid 0 in the host's user namespace,
/// or root of a user namespace with USER=root): /run/litmus. A user's,
/// and root of a rootless engine's user namespace, go under
/// $XDG_RUNTIME_DIR.
pub fn default_root(real_root: bool, xdg_runtime_dir: Option<&str>) -> Result<PathBuf> {
    if real_root {
        return Ok(PathBuf::from("/run/litmus"));
    }
    match xdg_runtime_dir.filter(|d| !d.is_empty()) {
        Some(dir) => Ok(Path::new(dir).join("litmus-runtime")),
        None => bail!(
            "--root: not given, and XDG_RUNTIME_DIR is not set (an unprivileged user's state \
             goes under $XDG_RUNTIME_DIR/litmus-runtime); set one of them"
        ),
    }
}

/// Whether the default state directory is the host root's (see
/// [`default_root`]).
pub fn is_real_root() -> bool {
    nix::unistd::geteuid().is_root()
        && (!in_user_namespace() || std::env::var("USER").is_ok_and(|u| u == "root"))
}

/// What rootless cannot do, refused before anything is made. Root of a
/// rootless engine's user namespace needs no new one: it holds the
/// capabilities there already.
pub fn check(spec: &Spec) -> Result<()> {
    check_as(spec, nix::unistd::geteuid().is_root())
}

fn check_as(spec: &Spec, euid_is_root: bool) -> Result<()> {
    if euid_is_root {
        return Ok(());
    }
    let linux = spec.linux().as_ref();
    let namespaces = linux.and_then(|l| l.namespaces().clone()).unwrap_or_default();
    if !namespaces.iter().any(|ns| ns.typ() == LinuxNamespaceType::User) {
        bail!(
            "linux.namespaces: an unprivileged user can run a container only in a user \
             namespace (add {{\"type\": \"user\"}} and linux.uidMappings/gidMappings, as \
             `spec --rootless` writes)"
        );
    }
    Ok(())
}

/// The resource fields other than device rules that `resources` sets,
/// as `linux.resources.FIELD`: what a container without a cgroup cannot
/// honour.
pub fn limits_set(resources: Option<&LinuxResources>) -> Vec<String> {
    let Some(resources) = resources else { return Vec::new() };
    let mut value = serde_json::to_value(resources).unwrap_or_default();
    let Some(fields) = value.as_object_mut() else { return Vec::new() };
    fields.remove("devices");
    fields
        .iter()
        .filter(|(_, v)| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty()))
        .filter(|(_, v)| v.as_array().is_none_or(|a| !a.is_empty()))
        .map(|(k, _)| format!("linux.resources.{k}"))
        .collect()
}

/// Whether `err` says the cgroup may not be made or written by us.
pub fn is_permission_error(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| {
            e.kind() == std::io::ErrorKind::PermissionDenied
                || e.raw_os_error() == Some(libc::EROFS)
                || e.raw_os_error() == Some(libc::EPERM)
        })
    })
}

/// The error for limits asked of a container that has no cgroup.
pub fn no_cgroup_for(limits: &[String], cause: &anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: rootless: cannot set limits, the container could not create or join a cgroup \
         ({cause:#}); cgroup v1 is never delegated to an unprivileged user; on cgroup v2 give \
         linux.cgroupsPath inside a subtree delegated to this user, or leave the limits out",
        limits.join(", ")
    )
}

/// A mapping the kernel lets an unprivileged process write itself: one
/// line, size 1, onto `own` (our euid or egid).
fn self_only(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.size() == 1 && m.host_id() == own)
}

/// Writes the id mappings of `pid`'s new user namespace as its
/// unprivileged parent.
pub fn write_mappings(pid: i32, uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<()> {
    let shifted = |maps: &[LinuxIdMapping]| -> Vec<LinuxIdMapping> {
        let off_by_one = crate::fault::Fault::RootlessRangeOffByOne.active();
        let one = |m: &LinuxIdMapping| -> LinuxIdMapping {
            oci_spec::runtime::LinuxIdMappingBuilder::default()
                .container_id(m.container_id())
                .host_id(m.host_id() + 1)
                .size(m.size() - 1)
                .build()
                .expect("an id mapping")
        };
        maps.iter()
            .enumerate()
            .map(|(i, m)| if off_by_one && i > 0 && m.size() > 1 { one(m) } else { *m })
            .collect()
    };
    let (uids, gids) = (&shifted(uids)[..], &shifted(gids)[..]);
    let (euid, egid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    if self_only(uids, euid) && self_only(gids, egid) {
        // gid_map is refused to an unprivileged writer until setgroups is
        // denied (else a process could drop groups that deny it access).
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
            .context("linux.gidMappings: writing setgroups")?;
        let line = |m: &LinuxIdMapping| format!("{} {} 1\n", m.container_id(), m.host_id());
        std::fs::write(format!("/proc/{pid}/uid_map"), line(&uids[0]))
            .context("linux.uidMappings: writing uid_map")?;
        std::fs::write(format!("/proc/{pid}/gid_map"), line(&gids[0]))
            .context("linux.gidMappings: writing gid_map")?;
        return Ok(());
    }
    for (helper, maps, field) in
        [("newuidmap", uids, "linux.uidMappings"), ("newgidmap", gids, "linux.gidMappings")]
    {
        let mut command = std::process::Command::new(helper);
        command.arg(pid.to_string());
        for m in maps {
            command.args([m.container_id(), m.host_id(), m.size()].map(|n| n.to_string()));
        }
        let output = command.output().map_err(|e| {
            anyhow::anyhow!(
                "{field}: mapping more than your own id needs {helper} ({e}; on Debian: \
                 apt-get install uidmap)"
            )
        })?;
        if !output.status.success() {
            bail!(
                "{field}: {helper} refused the mapping ({}): the ranges must be yours in \
                 /etc/sub{}id",
                String::from_utf8_lossy(&output.stderr).trim(),
                if helper == "newuidmap" { "u" } else { "g" }
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    #[test]
    fn state_goes_under_xdg_runtime_dir_for_users_only() {
        assert_eq!(default_root(true, Some("/run/user/0")).unwrap(), Path::new("/run/litmus"));
        assert_eq!(
            default_root(false, Some("/run/user/1001")).unwrap(),
            Path::new("/run/user/1001/litmus-runtime")
        );
        let err = default_root(false, None).unwrap_err().to_string();
        assert!(err.starts_with("--root:") && err.contains("XDG_RUNTIME_DIR"), "{err}");
        assert!(default_root(false, Some("")).is_err());
    }

    #[test]
    fn only_the_identity_map_is_the_hosts() {
        assert!(is_initial_uid_map("         0          0 4294967295\n"));
        assert!(!is_initial_uid_map("         0       1001          1\n"));
        assert!(!is_initial_uid_map("0 1001 1\n1 100000 65536\n"));
    }

    #[test]
    fn a_config_without_a_user_namespace_is_refused_naming_the_field() {
        let mut spec = Spec::default();
        let err = check_as(&spec, false).unwrap_err().to_string();
        assert!(err.starts_with("linux.namespaces:"), "{err}");
        // Root of a rootless engine's user namespace needs none.
        check_as(&spec, true).unwrap();
        spec = Spec::rootless(1001, 1001);
        check_as(&spec, false).unwrap();
    }

    #[test]
    fn limits_are_named_and_device_rules_are_not_limits() {
        let resources: LinuxResources = serde_json::from_str(
            r#"{"devices": [{"allow": false, "access": "rwm"}], "memory": {"limit": 1048576},
                "pids": {"limit": 10}, "hugepageLimits": []}"#,
        )
        .unwrap();
        assert_eq!(
            limits_set(Some(&resources)),
            ["linux.resources.memory", "linux.resources.pids"]
        );
        let devices_only: LinuxResources =
            serde_json::from_str(r#"{"devices": [{"allow": false, "access": "rwm"}]}"#).unwrap();
        assert!(limits_set(Some(&devices_only)).is_empty());
        assert!(limits_set(None).is_empty());
    }

    #[test]
    fn only_a_single_own_id_is_written_without_helpers() {
        let map = |c: u32, h: u32, s: u32| {
            LinuxIdMappingBuilder::default().container_id(c).host_id(h).size(s).build().unwrap()
        };
        assert!(self_only(&[map(0, 1001, 1)], 1001));
        assert!(!self_only(&[map(0, 1001, 2)], 1001));
        assert!(!self_only(&[map(0, 1000, 1)], 1001));
        assert!(!self_only(&[map(0, 1001, 1), map(1, 100000, 65536)], 1001));
    }

    #[test]
    fn permission_errors_are_told_apart() {
        let denied = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::EACCES))
            .context("creating cgroup");
        assert!(is_permission_error(&denied));
        let missing = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::ENOENT));
        assert!(!is_permission_error(&missing));
    }
}
