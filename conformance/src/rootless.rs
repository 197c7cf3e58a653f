//! `litmus run --rootless`: the runtime driven as an unprivileged user,
//! with the configs such a user's engine sends (rootless podman, rootless
//! Docker, BuildKit).
//!
//! Run as root, litmus uses (or creates) an ordinary user with subordinate
//! id ranges and runs every runtime command as that user; run as a user,
//! it is that user. Each case's config gets a user namespace mapping
//! container root onto the user and container ids 1..65536 onto its
//! subordinate range (as podman maps them), and a /sys bind where no
//! network namespace of its own lets the container mount sysfs.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The user created when root asks for --rootless without --user.
pub const DEFAULT_USER: &str = "litmus-rootless";

/// The unprivileged user the runtime runs as.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// Its XDG_RUNTIME_DIR for this run.
    pub runtime_dir: PathBuf,
    /// (first, count) of its /etc/subuid and /etc/subgid ranges.
    pub subuids: Option<(u32, u32)>,
    pub subgids: Option<(u32, u32)>,
    /// A cgroup v2 subtree delegated to it (its path below the v2 root),
    /// where each container gets its cgroup: made by litmus as root on a
    /// cgroup v2 host, as systemd's Delegate=yes makes one.
    pub delegated: Option<String>,
}

static USER: OnceLock<User> = OnceLock::new();

/// The user of a --rootless run (None: the suite runs as root).
pub fn user() -> Option<&'static User> {
    USER.get()
}

pub fn set_user(user: User) {
    let _ = USER.set(user);
}

/// Why limits cannot be checked under --rootless here.
const NO_CGROUP: &str = "limits need a cgroup of the user's own: cgroup v1 controllers \
    (this host's) are never delegated to an unprivileged user, and rootless cases are not yet \
    placed in a delegated cgroup v2 subtree";
/// Why joined namespaces cannot be checked under --rootless.
const ROOTS_NAMESPACES: &str = "the namespaces it joins are made by root (the suite's holder \
    processes); an unprivileged user may join only namespaces owned by its own user namespace";

/// Cases that cannot run as an unprivileged user, each with the reason
/// (said as its SKIP in --rootless runs).
pub const NEEDS_ROOT: &[(&str, &str)] = &[
    ("block_io_throttle_is_applied", NO_CGROUP),
    ("cpu_quota_and_shares_are_applied", NO_CGROUP),
    ("memory_limit_is_applied", NO_CGROUP),
    ("pids_limit_is_applied", NO_CGROUP),
    ("update_changes_the_running_containers_limits", NO_CGROUP),
    ("update_below_usage_with_check_before_update_is_refused", NO_CGROUP),
    ("cgroups_path_is_used", NO_CGROUP),
    (
        "device_rules_are_enforced",
        "the device cgroup (v1) or eBPF device filter (v2) needs a \
        cgroup the user owns and, on v2, CAP_BPF on the host",
    ),
    ("namespace_path_is_joined", ROOTS_NAMESPACES),
    ("hostname_is_set_in_a_joined_uts_namespace", ROOTS_NAMESPACES),
    ("sysctls_are_set_in_joined_namespaces", ROOTS_NAMESPACES),
    (
        "net_devices_arrive_renamed_up_and_with_their_addresses",
        "moving a host network device \
        into the container needs CAP_NET_ADMIN in the host's network namespace",
    ),
    (
        "net_device_name_template_takes_a_free_number",
        "moving a host network device into the \
        container needs CAP_NET_ADMIN in the host's network namespace",
    ),
    (
        "impossible_net_device_moves_are_refused_before_any_move",
        "moving a host network device \
        into the container needs CAP_NET_ADMIN in the host's network namespace",
    ),
    (
        "a_config_without_a_mount_namespace_runs",
        "without a mount namespace the container's \
        mounts are made in the host's, which only root may change",
    ),
    (
        "configured_devices_are_created",
        "its device nodes are not on the host: an unprivileged \
        runtime can only bind the host's node at the same path (mknod is denied in a user \
        namespace); `rootless_devices_are_usable` checks nodes the host has",
    ),
    (
        "idmapped_bind_mount_shows_mapped_owners",
        "an idmapped mount of a host filesystem needs \
        CAP_SYS_ADMIN in the user namespace that owns the filesystem (the host's)",
    ),
    (
        "recursive_options_reach_every_submount",
        "the flags of host mounts bound into a user \
        namespace are locked (MNT_LOCK_ATIME and others): the kernel refuses an unprivileged \
        user to change them, so the case's rbind of a host tree cannot take them",
    ),
    (
        "configs_captured_from_engines_run",
        "the captured configs are rootful podman's and \
        containerd's (pids limits, cgroup paths); none was captured from rootless podman",
    ),
];

/// Cases whose own checks need litmus itself to be root (run as a user,
/// `litmus run --rootless` says SKIP for them with the reason).
pub const LITMUS_NEEDS_ROOT: &[(&str, &str)] = &[
    (
        "mount_destination_swapped_for_a_symlink_stays_inside",
        "it watches for an escape \
        through a shared mount on the host, which only root can make",
    ),
    (
        "proc_and_sys_are_not_mounted_through_image_symlinks",
        "it watches for an escape \
        through a shared mount on the host, which only root can make",
    ),
    (
        "rootless_host_owned_files_stay_unwritable",
        "it offers the container a file the \
        host's root owns, which litmus as a user cannot make",
    ),
    (
        "rootless_setuid_does_not_raise_host_ids",
        "it offers the container a setuid binary \
        the host's root owns, which litmus as a user cannot make",
    ),
];

/// Cases that need no more than a delegated cgroup v2 subtree: they run
/// when the user has one.
const WITH_DELEGATION: &[&str] = &[
    "block_io_throttle_is_applied",
    "cpu_quota_and_shares_are_applied",
    "memory_limit_is_applied",
    "pids_limit_is_applied",
    "update_changes_the_running_containers_limits",
    "update_below_usage_with_check_before_update_is_refused",
];

/// Why `case` cannot run under --rootless, if it cannot: the runtime
/// would need root, or (when litmus runs as a user) litmus would.
pub fn needs_root(case: &str) -> Option<&'static str> {
    let find = |table: &[(&str, &'static str)]| {
        table.iter().find(|(name, _)| *name == case).map(|(_, why)| *why)
    };
    let delegated = user().is_some_and(|u| u.delegated.is_some());
    if delegated && WITH_DELEGATION.contains(&case) {
        return None;
    }
    find(NEEDS_ROOT).or_else(|| {
        if nix::unistd::geteuid().is_root() {
            None
        } else {
            find(LITMUS_NEEDS_ROOT)
        }
    })
}

/// Gives `path` (a socket the runtime must connect to, a file it must
/// write) to the --rootless user; nothing when the suite runs as root.
pub fn give_path(path: &Path) -> Result<()> {
    match user() {
        Some(user) => std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
            .with_context(|| format!("--rootless: chown {}", path.display())),
        None => Ok(()),
    }
}

/// The first range of `name` in an /etc/subuid-style file.
pub fn subordinate_range(file: &str, name: &str, uid: u32) -> Option<(u32, u32)> {
    file.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let owner = fields.next()?;
        if owner != name && owner != uid.to_string() {
            return None;
        }
        Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
    })
}

/// (first, count) of a subordinate range.
type Range = Option<(u32, u32)>;

fn read_ranges(name: &str, uid: u32) -> (Range, Range) {
    let read = |path| std::fs::read_to_string(path).unwrap_or_default();
    (
        subordinate_range(&read("/etc/subuid"), name, uid),
        subordinate_range(&read("/etc/subgid"), name, uid),
    )
}

/// The user a --rootless run drives the runtime as. As root: `name` (default
/// [`DEFAULT_USER`], created with `useradd` and subordinate ranges if it does
/// not exist) and a private XDG_RUNTIME_DIR under `scratch`; as a user:
/// ourselves, with our XDG_RUNTIME_DIR.
pub fn prepare(name: Option<&str>, scratch: &Path) -> Result<User> {
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        let me = nix::unistd::User::from_uid(euid)?
            .context("--rootless: who am I? (no passwd entry for our uid)")?;
        if name.is_some_and(|n| n != me.name) {
            bail!("--user: only root can run the suite as another user (we are {})", me.name);
        }
        let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).context(
            "--rootless: XDG_RUNTIME_DIR is not set (log in through a session that sets it, or set it)",
        )?;
        let (subuids, subgids) = read_ranges(&me.name, me.uid.as_raw());
        return Ok(User {
            delegated: None,
            uid: me.uid.as_raw(),
            gid: me.gid.as_raw(),
            home: me.dir,
            runtime_dir,
            subuids,
            subgids,
            name: me.name,
        });
    }
    let name = name.unwrap_or(DEFAULT_USER);
    if nix::unistd::User::from_name(name)?.is_none() {
        if name != DEFAULT_USER {
            bail!("--user: no user {name:?} (create it, or leave --user out and litmus creates {DEFAULT_USER})");
        }
        let status = std::process::Command::new("useradd")
            .args(["--create-home", "--shell", "/usr/sbin/nologin", name])
            .status()
            .context("running useradd (Debian: apt-get install passwd)")?;
        if !status.success() {
            bail!("--rootless: useradd {name} failed ({status})");
        }
    }
    let user =
        nix::unistd::User::from_name(name)?.with_context(|| format!("--user: no user {name:?}"))?;
    let (mut subuids, mut subgids) = read_ranges(name, user.uid.as_raw());
    if subuids.is_none() || subgids.is_none() {
        // useradd adds ranges when login.defs asks for them; otherwise
        // give the user one above every range already handed out.
        let first = free_range_start()?;
        let range = format!("{first}-{}", first + 65535);
        let status = std::process::Command::new("usermod")
            .args(["--add-subuids", &range, "--add-subgids", &range, name])
            .status()
            .context("running usermod")?;
        if !status.success() {
            bail!("--rootless: usermod --add-subuids {range} {name} failed ({status})");
        }
        (subuids, subgids) = read_ranges(name, user.uid.as_raw());
    }
    let runtime_dir = scratch.join(format!("xdg-runtime-{}", user.uid));
    std::fs::create_dir_all(&runtime_dir)?;
    give_to_uid(&runtime_dir, user.uid.as_raw(), user.gid.as_raw())?;
    set_mode(&runtime_dir, 0o700)?;
    let delegated = delegate(user.uid.as_raw(), user.gid.as_raw())?;
    Ok(User {
        delegated,
        name: name.to_string(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        home: user.dir,
        runtime_dir,
        subuids,
        subgids,
    })
}

const CGROUP2_ROOT: &str = "/sys/fs/cgroup";

fn is_cgroup2(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// On a cgroup v2 host: a subtree for `uid`, as systemd delegates one
/// (the directory and its cgroup.procs, cgroup.subtree_control and
/// cgroup.threads are the user's; the controllers the root offers are
/// enabled in it), and litmus itself moved into a leaf of it, so that the
/// runtime it starts as the user may move processes within the subtree
/// (the kernel asks for write access to the common ancestor's
/// cgroup.procs). None on v1 and hybrid hosts: v1 is never delegated.
fn delegate(uid: u32, gid: u32) -> Result<Option<String>> {
    let root = Path::new(CGROUP2_ROOT);
    if !is_cgroup2(root) {
        return Ok(None);
    }
    let name = format!("litmus-rootless.{}", std::process::id());
    let dir = root.join(&name);
    let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let enable: String = controllers.split_whitespace().map(|c| format!("+{c} ")).collect();
    // What the root already enables stays; a controller it cannot enable
    // leaves its cases to fail with a named error.
    for c in enable.split_whitespace() {
        let _ = std::fs::write(root.join("cgroup.subtree_control"), c);
    }
    std::fs::create_dir(&dir).with_context(|| format!("--rootless: creating {}", dir.display()))?;
    let leaf = dir.join("litmus");
    std::fs::create_dir(&leaf)?;
    std::fs::write(leaf.join("cgroup.procs"), std::process::id().to_string())
        .with_context(|| format!("--rootless: moving litmus into {}", leaf.display()))?;
    for c in enable.split_whitespace() {
        let _ = std::fs::write(dir.join("cgroup.subtree_control"), c);
    }
    for path in [
        dir.clone(),
        dir.join("cgroup.procs"),
        dir.join("cgroup.subtree_control"),
        dir.join("cgroup.threads"),
    ] {
        give_to_uid(&path, uid, gid)?;
    }
    Ok(Some(format!("/{name}")))
}

/// Calls [`release`] when dropped: held by a run from the start, so the
/// subtree goes however the run ends.
pub struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        release();
    }
}

/// Undoes [`delegate`] at the end of a run: litmus back in the root
/// cgroup, the subtree removed (the leak check has reported whatever a
/// runtime left in it).
fn release() {
    let Some(delegated) = user().and_then(|u| u.delegated.as_deref()) else { return };
    let root = Path::new(CGROUP2_ROOT);
    let dir = root.join(delegated.trim_start_matches('/'));
    let _ = std::fs::write(root.join("cgroup.procs"), std::process::id().to_string());
    let _ = std::fs::remove_dir(dir.join("litmus"));
    if let Err(e) = std::fs::remove_dir(&dir) {
        eprintln!("litmus: --rootless: removing {}: {e}", dir.display());
    }
}

/// Above the highest subordinate range in use (at least 100000).
fn free_range_start() -> Result<u32> {
    let mut top = 100_000u32;
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for line in text.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if let [_, first, count] = fields[..] {
                if let (Ok(first), Ok(count)) = (first.parse::<u32>(), count.parse::<u32>()) {
                    top = top.max(first.saturating_add(count));
                }
            }
        }
    }
    Ok(top)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}

fn give_to_uid(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {uid}:{gid} {}", path.display()))
}

impl User {
    /// What the user's session has in its environment: its runtime
    /// directory, home and name.
    pub fn session_env(&self, command: &mut std::process::Command) {
        command
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("HOME", &self.home)
            .env("USER", &self.name);
    }

    /// The cgroupsPath of container `id` in the delegated subtree, if the
    /// user has one.
    pub fn cgroups_path(&self, id: &str) -> Option<String> {
        self.delegated.as_ref().map(|d| format!("{d}/{id}"))
    }

    /// Whether this user may run the program at `path` (every directory
    /// on the way searchable, the file executable), asked as the user.
    pub fn can_run(&self, path: &Path) -> bool {
        use std::os::unix::process::CommandExt;
        std::process::Command::new("/bin/sh")
            .args(["-c", "test -x \"$1\"", "sh"])
            .arg(path)
            .uid(self.uid)
            .gid(self.gid)
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `runtime` where this user can run it: itself, or a copy in
    /// `scratch` when it lies where the user may not reach (a build tree
    /// under /root).
    pub fn runtime_copy(&self, runtime: &Path, scratch: &Path) -> Result<PathBuf> {
        if self.can_run(runtime) {
            return Ok(runtime.to_path_buf());
        }
        let dir = scratch.join("runtime");
        std::fs::create_dir_all(&dir)?;
        set_mode(&dir, 0o755)?;
        let copy = dir.join(runtime.file_name().context("--runtime: no file name")?);
        std::fs::copy(runtime, &copy)
            .with_context(|| format!("copying {} for {}", runtime.display(), self.name))?;
        set_mode(&copy, 0o755)?;
        Ok(copy)
    }

    /// Makes a case's work directory the user's (its runtime writes its
    /// state under it); the rootfs and configs in it stay root's, as an
    /// image store's files are.
    pub fn give(&self, dir: &Path) -> Result<()> {
        give_to_uid(dir, self.uid, self.gid)?;
        // The tempdir's parents are searchable by anyone already (/tmp).
        set_mode(dir, 0o755)
    }

    fn mapping(own: u32, range: Option<(u32, u32)>) -> Vec<LinuxIdMapping> {
        let one = |c: u32, h: u32, s: u32| {
            LinuxIdMappingBuilder::default()
                .container_id(c)
                .host_id(h)
                .size(s)
                .build()
                .expect("an id mapping")
        };
        let mut maps = vec![one(0, own, 1)];
        if let Some((first, count)) = range {
            maps.push(one(1, first, count.min(65_536)));
        }
        maps
    }

    pub fn uid_mappings(&self) -> Vec<LinuxIdMapping> {
        Self::mapping(self.uid, self.subuids)
    }

    pub fn gid_mappings(&self) -> Vec<LinuxIdMapping> {
        Self::mapping(self.gid, self.subgids)
    }

    /// `spec` as an unprivileged user's engine sends it: a new user
    /// namespace with this user's mappings (replacing any the case set:
    /// only the user's own ids can be mapped), and /sys bound from the
    /// host when the container has no network namespace of its own
    /// (sysfs may be mounted only by the owner of one).
    pub fn adapt(&self, spec: &mut Spec) {
        let Some(linux) = spec.linux_mut().as_mut() else { return };
        let mut namespaces = linux.namespaces().clone().unwrap_or_default();
        namespaces.retain(|ns| ns.typ() != LinuxNamespaceType::User);
        namespaces.push(
            oci_spec::runtime::LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .expect("a namespace"),
        );
        let own = |typ| namespaces.iter().any(|ns| ns.typ() == typ);
        // A filesystem tied to a namespace may be mounted only by the owner
        // of that namespace: with the host's, it is bound from the host,
        // as podman does for --net/--pid/--ipc=host.
        let bind_instead: Vec<(&str, &str)> = [
            (LinuxNamespaceType::Network, "sysfs", "/sys"),
            (LinuxNamespaceType::Pid, "proc", "/proc"),
            (LinuxNamespaceType::Ipc, "mqueue", "/dev/mqueue"),
        ]
        .into_iter()
        .filter(|(typ, _, _)| !own(*typ))
        .map(|(_, fs, source)| (fs, source))
        .collect();
        linux.set_namespaces(Some(namespaces));
        linux.set_uid_mappings(Some(self.uid_mappings()));
        linux.set_gid_mappings(Some(self.gid_mappings()));
        if let Some(mounts) = spec.mounts_mut().as_mut() {
            // Nothing to bind where the host has none (no /dev/mqueue
            // mounted): the engine leaves the mount out.
            mounts.retain(|m| {
                let bound = bind_instead.iter().find(|(fs, _)| m.typ().as_deref() == Some(*fs));
                bound.is_none_or(|(_, source)| Path::new(source).exists())
            });
            for mount in mounts.iter_mut() {
                let Some((_, source)) =
                    bind_instead.iter().find(|(fs, _)| mount.typ().as_deref() == Some(*fs))
                else {
                    continue;
                };
                mount.set_typ(Some("none".into()));
                mount.set_source(Some(source.into()));
                mount.set_options(Some(
                    ["rbind", "nosuid", "noexec", "nodev"].map(String::from).to_vec(),
                ));
            }
        }
    }

    /// [`User::adapt`] for a config given as JSON (cases that write what
    /// the typed config cannot hold): the user namespace and mappings.
    pub fn adapt_json(&self, config: &mut serde_json::Value) {
        let Some(linux) = config.get_mut("linux").and_then(|l| l.as_object_mut()) else {
            return;
        };
        let namespaces = linux.entry("namespaces").or_insert_with(|| serde_json::json!([]));
        if let Some(list) = namespaces.as_array_mut() {
            list.retain(|ns| ns.get("type").and_then(|t| t.as_str()) != Some("user"));
            list.push(serde_json::json!({"type": "user"}));
        }
        let maps = |maps: Vec<LinuxIdMapping>| serde_json::to_value(maps).unwrap_or_default();
        linux.insert("uidMappings".into(), maps(self.uid_mappings()));
        linux.insert("gidMappings".into(), maps(self.gid_mappings()));
    }

    /// Makes the tree at `rootfs` the container root's (the user), as a
    /// rootless engine's image store holds it.
    pub fn own_rootfs(&self, rootfs: &Path) -> Result<()> {
        let mut dirs = vec![rootfs.to_path_buf()];
        give_to_uid(rootfs, self.uid, self.gid)?;
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                std::os::unix::fs::lchown(entry.path(), Some(self.uid), Some(self.gid))?;
                if entry.file_type()?.is_dir() {
                    dirs.push(entry.path());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_said_to_need_root_exists() {
        let names: Vec<&str> = crate::cases::all().map(|c| c.name).collect();
        for (case, _) in NEEDS_ROOT.iter().chain(LITMUS_NEEDS_ROOT) {
            assert!(names.contains(case), "{case} is not a case");
        }
        for case in WITH_DELEGATION {
            assert!(NEEDS_ROOT.iter().any(|(name, _)| name == case), "{case}");
        }
    }

    #[test]
    fn subordinate_ranges_are_found_by_name_or_uid() {
        let file = "alice:100000:65536\n1001:200000:1000\n";
        assert_eq!(subordinate_range(file, "alice", 1000), Some((100000, 65536)));
        assert_eq!(subordinate_range(file, "bob", 1001), Some((200000, 1000)));
        assert_eq!(subordinate_range(file, "carol", 1002), None);
    }

    fn user(range: Option<(u32, u32)>) -> User {
        User {
            name: "u".into(),
            uid: 1001,
            gid: 1002,
            home: "/home/u".into(),
            runtime_dir: "/run/user/1001".into(),
            delegated: None,
            subuids: range,
            subgids: range,
        }
    }

    #[test]
    fn adapted_configs_map_root_onto_the_user_and_the_rest_onto_its_range() {
        let mut spec = litmus_bundle::default_spec(&["exit", "0"]);
        user(Some((100000, 65536))).adapt(&mut spec);
        let linux = spec.linux().as_ref().unwrap();
        let uids: Vec<_> = linux
            .uid_mappings()
            .iter()
            .flatten()
            .map(|m| (m.container_id(), m.host_id(), m.size()))
            .collect();
        assert_eq!(uids, [(0, 1001, 1), (1, 100000, 65536)]);
        let gids = linux.gid_mappings().clone().unwrap();
        assert_eq!((gids[0].host_id(), gids.len()), (1002, 2));
        let users = linux
            .namespaces()
            .iter()
            .flatten()
            .filter(|ns| ns.typ() == LinuxNamespaceType::User)
            .count();
        assert_eq!(users, 1);
        // Without a range: root only.
        let mut spec = litmus_bundle::default_spec(&["exit", "0"]);
        user(None).adapt(&mut spec);
        assert_eq!(spec.linux().as_ref().unwrap().uid_mappings().as_ref().unwrap().len(), 1);
    }

    #[test]
    fn sysfs_is_bound_only_without_a_network_namespace() {
        let sys_type = |spec: &Spec| {
            spec.mounts()
                .iter()
                .flatten()
                .find(|m| m.destination() == Path::new("/sys"))
                .and_then(|m| m.typ().clone())
        };
        let mut spec = litmus_bundle::default_spec(&["exit", "0"]);
        let had_net = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .any(|ns| ns.typ() == LinuxNamespaceType::Network);
        let before = sys_type(&spec);
        user(None).adapt(&mut spec);
        if had_net {
            assert_eq!(sys_type(&spec), before);
        }
        let linux = spec.linux_mut().as_mut().unwrap();
        let mut namespaces = linux.namespaces().clone().unwrap();
        namespaces.retain(|ns| ns.typ() != LinuxNamespaceType::Network);
        linux.set_namespaces(Some(namespaces));
        if let Some(mounts) = spec.mounts_mut().as_mut() {
            for m in mounts.iter_mut().filter(|m| m.destination() == Path::new("/sys")) {
                m.set_typ(Some("sysfs".into()));
            }
        }
        user(None).adapt(&mut spec);
        assert_eq!(sys_type(&spec).as_deref(), Some("none"));
    }

    #[test]
    fn json_configs_get_the_user_namespace_and_mappings() {
        let mut config = serde_json::json!({"linux": {"namespaces": [{"type": "pid"}, {"type": "user"}], "x-unknown": 1}});
        user(Some((100000, 65536))).adapt_json(&mut config);
        let namespaces = config["linux"]["namespaces"].as_array().unwrap();
        assert_eq!(namespaces.iter().filter(|ns| ns["type"] == "user").count(), 1);
        assert_eq!(config["linux"]["uidMappings"][0]["hostID"], 1001);
        assert_eq!(config["linux"]["gidMappings"][1]["hostID"], 100000);
        assert_eq!(config["linux"]["x-unknown"], 1);
    }
}
