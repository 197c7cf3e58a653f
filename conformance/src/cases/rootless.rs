//! Rootless: what a container run by an unprivileged user must still
//! guarantee, and what it must not allow. These run under
//! `litmus run --rootless` (the runtime runs as that user; see
//! [`crate::rootless`]) and say SKIP otherwise. Every other case that
//! can run as a user runs too, with its config adapted, and the leak
//! check after each is the same as in a rootful run.
//!
//! The host-side facts are read from the host: /proc/PID/status of the
//! container's process, the host file after the container tried to write
//! it, the cgroup the container really got.

use crate::case::{expect, expect_eq, fail, Checked, Verdict};
use crate::ctx::Ctx;
use crate::rootless::User;
use oci_spec::runtime::Spec;
use std::os::unix::process::CommandExt;
use std::path::Path;

crate::cases! {
    Rootless: {
        rootless_ids_map_as_configured => [LINUX_NAMESPACES_USER_MAPPINGS],
        rootless_own_id_alone_maps_without_helpers => [LINUX_NAMESPACES_USER_MAPPINGS],
        rootless_process_holds_no_host_privilege => [SECURITY_ROOTLESS_NO_HOST_PRIVILEGE],
        rootless_host_owned_files_stay_unwritable => [SECURITY_ROOTLESS_NO_HOST_PRIVILEGE],
        rootless_setuid_does_not_raise_host_ids => [SECURITY_ROOTLESS_NO_HOST_PRIVILEGE],
        rootless_devices_are_usable => [LINUX_DEVICES_DEFAULTS, LINUX_DEVICES_CREATE],
        rootless_limits_are_applied_or_refused =>
            [LINUX_RESOURCES_MEMORY, RUNTIME_LIFECYCLE_CREATE_ERROR, RUNTIME_ERRORS_NO_CHANGE],
    }
}

fn rootless_user() -> Result<&'static User, Verdict> {
    crate::rootless::user()
        .ok_or_else(|| Verdict::Skip("runs with --rootless (litmus run --rootless)".into()))
}

/// The container uid/gid the cases run as when the user has subordinate
/// ranges (mapped onto the range's 1000th id), else container root.
fn container_ids(user: &User) -> (u32, u32) {
    match (user.subuids, user.subgids) {
        (Some((_, u)), Some((_, g))) if u >= 1001 && g >= 1001 => (1000, 1000),
        _ => (0, 0),
    }
}

/// The host id `container` maps to under `maps` (container, host, size).
fn host_id(maps: &[oci_spec::runtime::LinuxIdMapping], container: u32) -> Option<u32> {
    maps.iter()
        .find(|m| (m.container_id()..m.container_id() + m.size()).contains(&container))
        .map(|m| m.host_id() + container - m.container_id())
}

fn run_as(spec: &mut Spec, uid: u32, gid: u32) {
    if let Some(process) = spec.process_mut() {
        let mut user = process.user().clone();
        user.set_uid(uid);
        user.set_gid(gid);
        user.set_additional_gids(None);
        process.set_user(user);
    }
}

/// The four ids of a `Uid:`/`Gid:` line of /proc/PID/status.
fn status_ids(pid: i32, key: &str) -> Result<Vec<u32>, Verdict> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| {
        fail(format!("/proc/{pid}/status of the container's process"), e.to_string())
    })?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .ok_or_else(|| fail(format!("a {key} line"), status.clone()))?;
    Ok(line.split_whitespace().filter_map(|n| n.parse().ok()).collect())
}

/// A started probe (`report`, then waiting for a signal): its host pid.
fn started(cx: &mut Ctx, spec: &Spec) -> Result<i32, Verdict> {
    let id = cx.new_container(spec)?;
    let pid = cx.state(&id)?.pid;
    cx.start_and_await_report(&id)?;
    Ok(pid)
}

/// Container uid 1000 (or 0) runs as exactly the host ids the mappings
/// give it: all four of real, effective, saved and filesystem uid and gid,
/// read from the host. A runtime that writes only the first line of a
/// multi-range mapping (or maps everything onto the user) is seen.
fn rootless_ids_map_as_configured(cx: &mut Ctx) -> Checked {
    let user = rootless_user()?;
    let (uid, gid) = container_ids(user);
    let mut spec = cx.spec(&["report", "wait-signal"]);
    run_as(&mut spec, uid, gid);
    let pid = started(cx, &spec)?;
    let want_uid = host_id(&user.uid_mappings(), uid).expect("mapped by construction");
    let want_gid = host_id(&user.gid_mappings(), gid).expect("mapped by construction");
    expect_eq(
        &format!("host uids of container uid {uid} (real, effective, saved, fs)"),
        vec![want_uid; 4],
        status_ids(pid, "Uid:")?,
    )?;
    expect_eq(
        &format!("host gids of container gid {gid} (real, effective, saved, fs)"),
        vec![want_gid; 4],
        status_ids(pid, "Gid:")?,
    )
}

/// The simplest rootless config (`runc spec --rootless`): only the user's
/// own uid and gid mapped, onto container root. It needs no helper; the
/// process is the user on the host and root inside.
fn rootless_own_id_alone_maps_without_helpers(cx: &mut Ctx) -> Checked {
    let user = rootless_user()?;
    let spec = cx.spec(&["path", "/proc/self/uid_map", "report", "wait-signal"]);
    let bundle = cx.bundle(&spec)?;
    // Rewritten past the suite's adaptation: root alone.
    let mut own = spec.clone();
    user.adapt(&mut own);
    if let Some(linux) = own.linux_mut().as_mut() {
        linux.set_uid_mappings(Some(user.uid_mappings()[..1].to_vec()));
        linux.set_gid_mappings(Some(user.gid_mappings()[..1].to_vec()));
    }
    // As `runc spec --rootless` writes it: devpts without gid=5, a group
    // this mapping does not have.
    for mount in own.mounts_mut().iter_mut().flatten() {
        if let Some(options) = mount.options().clone() {
            mount.set_options(Some(options.into_iter().filter(|o| o != "gid=5").collect()));
        }
    }
    cx.bundle_ref(bundle).write_config(&own)?;
    let id = cx.new_id();
    cx.create_ok(&id, bundle)?;
    let pid = cx.state(&id)?.pid;
    cx.start_and_await_report(&id)?;
    expect_eq("host uids of container root", vec![user.uid; 4], status_ids(pid, "Uid:")?)?;
    let lines = cx.output_of(&id);
    let uid_map = lines.iter().find_map(|l| match l {
        litmus_probe::ProbeLine::Path(p) if p.path == "/proc/self/uid_map" => p.content.clone(),
        _ => None,
    });
    let fields: Vec<String> =
        uid_map.unwrap_or_default().split_whitespace().map(String::from).collect();
    expect_eq("/proc/self/uid_map", vec!["0".to_string(), user.uid.to_string(), "1".into()], fields)
}

/// Root in the container is not root on the host: the process is in a
/// user namespace other than the host's (its capabilities count only
/// there) and none of its host uids is 0.
fn rootless_process_holds_no_host_privilege(cx: &mut Ctx) -> Checked {
    rootless_user()?;
    let spec = cx.spec(&["report", "wait-signal"]);
    let pid = started(cx, &spec)?;
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/user")).ok();
    let (theirs, host) = (ns(&pid.to_string()), ns("1"));
    expect(
        theirs.is_some() && theirs != host,
        "the container's process in a user namespace of its own, not the host's",
        format!("{theirs:?} (host: {host:?})"),
    )?;
    let uids = status_ids(pid, "Uid:")?;
    expect(!uids.contains(&0), "no host uid 0 among the process's uids", format!("{uids:?}"))
}

/// A file the host's root owns (0644), bound read-write into the
/// container, cannot be written by container root: the probe's write
/// fails and the host file keeps its content.
fn rootless_host_owned_files_stay_unwritable(cx: &mut Ctx) -> Checked {
    rootless_user()?;
    let host_file = cx.work().join("host-owned");
    std::fs::write(&host_file, "the host's\n")?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::os::unix::fs::chown(&host_file, Some(0), Some(0))?;
        std::fs::set_permissions(&host_file, std::fs::Permissions::from_mode(0o644))?;
    }
    let mut spec = cx.spec(&["marker", "/host-owned", "exit", "0"]);
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(
        oci_spec::runtime::MountBuilder::default()
            .destination("/host-owned")
            .typ("bind")
            .source(&host_file)
            .options(vec!["bind".to_string(), "rw".to_string()])
            .build()?,
    );
    spec.set_mounts(Some(mounts));
    let run = cx.run_probe(&spec)?;
    let content = std::fs::read_to_string(&host_file)?;
    expect_eq(
        "the host-owned file's content after the container wrote it",
        "the host's\n",
        &content,
    )?;
    expect(
        run.exit_code != Some(0),
        "the container's write to the host-owned file to fail",
        format!("exit status {:?}: {}", run.exit_code, run.raw.trim()),
    )
}

/// A setuid binary the host's root owns does not make a container process
/// root: that owner has no mapping in the container's user namespace, so
/// the kernel ignores the bit (the probe as uid 1000 stays euid 1000). The
/// same binary owned by container root does switch (euid 0 inside), so the
/// case sees setuid working at all.
fn rootless_setuid_does_not_raise_host_ids(cx: &mut Ctx) -> Checked {
    let user = rootless_user()?;
    let (uid, gid) = container_ids(user);
    if uid == 0 {
        return Err(Verdict::Skip(format!(
            "{} has no subordinate ids: the container has no uid but root to start from",
            user.name
        )));
    }
    let euid_of = |cx: &mut Ctx, owner: u32| -> Result<u32, Verdict> {
        let mut spec = cx.spec(&["report"]);
        run_as(&mut spec, uid, gid);
        if let Some(process) = spec.process_mut() {
            process.set_no_new_privileges(Some(false));
            let mut args = process.args().clone().unwrap_or_default();
            args[0] = "/suid-probe".into();
            process.set_args(Some(args));
        }
        let bundle = cx.bundle(&spec)?;
        let rootfs = cx.bundle_ref(bundle).rootfs();
        let suid = rootfs.join("suid-probe");
        std::fs::copy(rootfs.join("litmus-probe"), &suid)?;
        std::os::unix::fs::chown(&suid, Some(owner), Some(owner))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755))?;
        let id = cx.new_id();
        cx.create_ok(&id, bundle)?;
        let pid = cx.state(&id)?.pid;
        cx.start_ok(&id)?;
        cx.wait_exit(pid)?;
        let lines = cx.output_of(&id);
        let _ = cx.delete(&id);
        lines
            .iter()
            .find_map(|l| match l {
                litmus_probe::ProbeLine::Report(r) => Some(r.ids.euid),
                _ => None,
            })
            .ok_or_else(|| fail("the setuid probe's report", format!("{lines:?}")))
    };
    let mapped_root = euid_of(cx, user.uid)?;
    expect_eq("euid inside from a setuid binary container root owns", 0, mapped_root)?;
    let host_root = euid_of(cx, 0)?;
    expect_eq(
        &format!("euid inside from a setuid binary the host's root owns (uid {uid} ran it)"),
        uid,
        host_root,
    )
}

/// The default devices are there as the host's character devices (same
/// numbers) and usable, and a device the config lists that the host has
/// is too: bound from the host where mknod is not allowed.
fn rootless_devices_are_usable(cx: &mut Ctx) -> Checked {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let user = rootless_user()?;
    let defaults =
        ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"];
    // One the host has that is not a default one.
    let listed = ["/dev/kmsg", "/dev/fuse", "/dev/net/tun", "/dev/loop-control"]
        .into_iter()
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.file_type().is_char_device()));
    let mut args = Vec::new();
    for path in defaults.iter().chain(listed.iter()) {
        args.extend(["path", path]);
    }
    let mut spec = cx.spec(&args);
    if let Some(path) = listed {
        let rdev = std::fs::metadata(path)?.rdev();
        let device = oci_spec::runtime::LinuxDeviceBuilder::default()
            .path(path)
            .typ(oci_spec::runtime::LinuxDeviceType::C)
            .major(nix::sys::stat::major(rdev) as i64)
            .minor(nix::sys::stat::minor(rdev) as i64)
            .file_mode(0o666u32)
            .uid(0u32)
            .gid(0u32)
            .build()?;
        if let Some(linux) = spec.linux_mut().as_mut() {
            let mut devices = linux.devices().clone().unwrap_or_default();
            devices.push(device);
            linux.set_devices(Some(devices));
        }
    }
    let run = cx.run_probe(&spec)?;
    for path in defaults.iter().chain(listed.iter()) {
        let seen = run.path(path)?;
        let host = std::fs::metadata(path)?.rdev();
        let want = (nix::sys::stat::major(host), nix::sys::stat::minor(host));
        // /dev/tty opens only for a process with a controlling terminal;
        // a listed device bound from the host opens as the host's node
        // opens for the user (mode bits, and the driver's own checks).
        let usable = match *path {
            "/dev/tty" => true,
            p if Some(p) == listed => {
                (seen.readable, seen.writable)
                    == (host_opens(user, p, false), host_opens(user, p, true))
            }
            _ => seen.readable && seen.writable,
        };
        expect(
            seen.file_type.as_deref() == Some("char")
                && (seen.major, seen.minor) == (Some(want.0), Some(want.1))
                && usable,
            format!("{path}: a readable, writable character device {}:{}", want.0, want.1),
            format!(
                "{:?} {:?}:{:?} readable {} writable {}",
                seen.file_type, seen.major, seen.minor, seen.readable, seen.writable
            ),
        )?;
    }
    Ok(())
}

/// Whether `user` can open the host's `path` for reading (or writing).
fn host_opens(user: &User, path: &str, write: bool) -> bool {
    let redirect = if write { ">" } else { "<" };
    std::process::Command::new("/bin/sh")
        .args(["-c", &format!("exec 3{redirect}\"$1\""), "sh", path])
        .uid(user.uid)
        .gid(user.gid)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A memory limit is either applied (the container's own cgroup, read
/// from the host, holds it) or refused at create with nothing left
/// behind. Silently running the container unlimited is the failure.
fn rootless_limits_are_applied_or_refused(cx: &mut Ctx) -> Checked {
    rootless_user()?;
    const LIMIT: i64 = 192 * 1024 * 1024;
    let mut spec = cx.spec(&["report", "wait-signal"]);
    let memory = oci_spec::runtime::LinuxMemoryBuilder::default().limit(LIMIT).build()?;
    let resources = oci_spec::runtime::LinuxResourcesBuilder::default().memory(memory).build()?;
    spec.linux_mut().as_mut().expect("fixture linux").set_resources(Some(resources));
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    let created = cx.create(&id, bundle)?;
    if !created.ok() {
        return cx.expect_no_state(&id, "a refused create to leave no container");
    }
    let pid = cx.state(&id)?.pid;
    let limit = memory_limit_of(pid);
    expect_eq(
        "the created container's memory limit, from its cgroup on the host",
        Some(LIMIT as u64),
        limit,
    )
}

/// The memory limit of `pid`'s cgroup (v1 memory.limit_in_bytes or v2
/// memory.max), None when unlimited or unreadable.
fn memory_limit_of(pid: i32) -> Option<u64> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let file = if controllers.split(',').any(|c| c == "memory") {
            Path::new("/sys/fs/cgroup/memory")
                .join(path.trim_start_matches('/'))
                .join("memory.limit_in_bytes")
        } else if controllers.is_empty() {
            Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/')).join("memory.max")
        } else {
            continue;
        };
        if let Some(limit) = std::fs::read_to_string(file).ok().and_then(|t| t.trim().parse().ok())
        {
            return Some(limit);
        }
    }
    None
}
