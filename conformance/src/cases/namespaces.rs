//! config-linux.md "namespaces", hostname and domainname, sysctl.

use crate::case::{expect, expect_eq, fail, Checked};
use crate::ctx::Ctx;
use litmus_probe::{ProbeLine, Report};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType, Spec};
use std::os::unix::fs::MetadataExt;

crate::cases! {
    Namespaces: {
        user_namespace_gets_the_id_mappings => [LINUX_NAMESPACES_USER_MAPPINGS],
        user_namespace_leaves_file_owners_alone => [LINUX_NAMESPACES_USER_MAPPINGS_NO_CHOWN],
        time_namespace_gets_the_offsets => [LINUX_NAMESPACES_TIME_OFFSETS],
        time_offsets_apply_with_a_new_user_namespace =>
            [LINUX_NAMESPACES_TIME_OFFSETS, LINUX_NAMESPACES_USER_MAPPINGS],
        listed_namespaces_are_new => [LINUX_NAMESPACES_CREATE],
        unlisted_namespaces_are_inherited => [LINUX_NAMESPACES_INHERIT],
        namespace_path_is_joined => [LINUX_NAMESPACES_JOIN],
        namespace_path_of_wrong_type_is_rejected =>
            [LINUX_NAMESPACES_WRONG_TYPE, RUNTIME_ERRORS_NO_CHANGE],
        duplicate_namespace_is_rejected => [LINUX_NAMESPACES_DUPLICATE],
        hostname_is_set => [CONFIG_HOSTNAME],
        domainname_is_set => [CONFIG_DOMAINNAME],
        sysctl_is_set_in_the_container => [LINUX_SYSCTL],
    }
}

/// /proc/self/ns names of the namespace types (the suite never links the
/// runtime crate, so it keeps its own copy of this table).
pub(super) fn proc_name(typ: LinuxNamespaceType) -> &'static str {
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

pub(super) fn host_inode(name: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/self/ns/{name}")).ok().map(|m| m.ino())
}

pub(super) fn namespace(typ: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
    let builder = LinuxNamespaceBuilder::default().typ(typ);
    match path {
        Some(p) => builder.path(p).build(),
        None => builder.build(),
    }
    .expect("static namespace fields")
}

pub(super) fn set_namespaces(spec: &mut Spec, namespaces: Vec<LinuxNamespace>) {
    spec.linux_mut().as_mut().expect("fixture linux").set_namespaces(Some(namespaces));
}

/// Every namespace of [`NEW`] new, except those in `other`: each joined
/// at its path, or (no path) not listed at all, so inherited from the
/// runtime.
pub(super) fn new_except(spec: &mut Spec, other: &[(LinuxNamespaceType, Option<&str>)]) {
    let new = NEW.iter().filter(|t| other.iter().all(|(o, _)| o != *t));
    let mut namespaces: Vec<_> = new.map(|t| namespace(*t, None)).collect();
    for (typ, path) in other {
        if path.is_some() {
            namespaces.push(namespace(*typ, *path));
        }
    }
    set_namespaces(spec, namespaces);
}

pub(super) const NEW: &[LinuxNamespaceType] = &[
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Cgroup,
];

fn listed_namespaces_are_new(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    set_namespaces(&mut spec, NEW.iter().map(|t| namespace(*t, None)).collect());
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    for typ in NEW {
        let name = proc_name(*typ);
        let inside = report.namespaces.get(name).copied();
        expect(
            inside.is_some() && inside != host_inode(name),
            format!("a new {name} namespace"),
            format!("{name} inode {inside:?}, host {:?}", host_inode(name)),
        )?;
    }
    Ok(())
}

fn unlisted_namespaces_are_inherited(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    // No network, ipc or cgroup namespace listed: they are the caller's.
    set_namespaces(
        &mut spec,
        vec![
            namespace(LinuxNamespaceType::Mount, None),
            namespace(LinuxNamespaceType::Pid, None),
            namespace(LinuxNamespaceType::Uts, None),
        ],
    );
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    for name in ["net", "ipc", "cgroup"] {
        expect_eq(
            &format!("{name} namespace inode (the caller's)"),
            host_inode(name),
            report.namespaces.get(name).copied(),
        )?;
    }
    Ok(())
}

/// A process holding a fresh namespace for the case's duration (the
/// other container of a pod, for cases that join it by path).
pub(crate) struct NamespaceHolder {
    child: std::process::Child,
    name: &'static str,
}

impl NamespaceHolder {
    fn network() -> anyhow::Result<NamespaceHolder> {
        Self::new(nix::sched::CloneFlags::CLONE_NEWNET, "net")
    }

    /// A sleeping process in a new namespace of `flag` (`name` in /proc/PID/ns).
    pub(crate) fn new(
        flag: nix::sched::CloneFlags,
        name: &'static str,
    ) -> anyhow::Result<NamespaceHolder> {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("/bin/sleep");
        cmd.arg("60");
        // SAFETY: unshare(2) between fork and exec, nothing else.
        unsafe {
            cmd.pre_exec(move || nix::sched::unshare(flag).map_err(std::io::Error::from));
        }
        let child = cmd.spawn()?;
        let holder = NamespaceHolder { child, name };
        // Wait until the unshare has happened (the child's ns differs).
        let entered = crate::deadline::poll(
            std::time::Duration::from_secs(5),
            std::time::Duration::from_millis(2),
            || {
                std::fs::metadata(holder.path())
                    .is_ok_and(|m| Some(m.ino()) != host_inode(name))
                    .then_some(())
            },
        );
        if let Err(expired) = entered {
            anyhow::bail!("helper process did not enter a new {name} namespace: {expired}");
        }
        Ok(holder)
    }

    pub(crate) fn path(&self) -> String {
        format!("/proc/{}/ns/{}", self.child.id(), self.name)
    }

    pub(crate) fn inode(&self) -> anyhow::Result<u64> {
        Ok(std::fs::metadata(self.path())?.ino())
    }
}

/// The container is in `holder`'s namespace, `name` as /proc/PID/ns has it.
pub(super) fn expect_joined(report: &Report, name: &str, holder: &NamespaceHolder) -> Checked {
    expect_eq(
        &format!("{name} namespace inode (the joined one)"),
        Some(holder.inode()?),
        report.namespaces.get(name).copied(),
    )
}

impl Drop for NamespaceHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn namespace_path_is_joined(cx: &mut Ctx) -> Checked {
    let holder = NamespaceHolder::network()?;
    let mut spec = cx.spec(&["report"]);
    new_except(&mut spec, &[(LinuxNamespaceType::Network, Some(&holder.path()))]);
    expect_joined(cx.run_probe(&spec)?.report()?, "net", &holder)
}

fn namespace_path_of_wrong_type_is_rejected(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["marker", "/ran", "exit", "0"]);
    new_except(&mut spec, &[(LinuxNamespaceType::Ipc, Some("/proc/self/ns/net"))]);
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    cx.create_refused(&id, bundle, "create with a net namespace given as ipc to fail").map(drop)
}

fn duplicate_namespace_is_rejected(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["exit", "0"]);
    let mut namespaces: Vec<_> = NEW.iter().map(|t| namespace(*t, None)).collect();
    namespaces.push(namespace(LinuxNamespaceType::Uts, None));
    set_namespaces(&mut spec, namespaces);
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    let inv = cx.create(&id, bundle)?;
    inv.expect_refused("create with uts listed twice to fail")
}

fn hostname_is_set(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    spec.set_hostname(Some("litmus-host-check".into()));
    let run = cx.run_probe(&spec)?;
    expect_eq("hostname", "litmus-host-check", run.report()?.hostname.as_str())
}

fn domainname_is_set(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    spec.set_version("1.2.0".into());
    spec.set_domainname(Some("litmus.example".into()));
    let run = cx.run_probe(&spec)?;
    expect_eq("domainname", "litmus.example", run.report()?.domainname.as_str())
}

fn sysctl_is_set_in_the_container(cx: &mut Ctx) -> Checked {
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")?;
    let wanted = if host.trim() == "123" { "124" } else { "123" };
    let mut spec = cx.spec(&["sysctl", "net.ipv4.ip_unprivileged_port_start"]);
    spec.linux_mut().as_mut().expect("fixture linux").set_sysctl(Some(
        [("net.ipv4.ip_unprivileged_port_start".to_string(), wanted.to_string())].into(),
    ));
    let run = cx.run_probe(&spec)?;
    let seen = run.lines.iter().find_map(|l| match l {
        ProbeLine::Sysctl { value, .. } => Some(value.clone()),
        _ => None,
    });
    let Some(seen) = seen else {
        return Err(fail("the probe's sysctl line", run.raw.clone()));
    };
    expect_eq("net.ipv4.ip_unprivileged_port_start inside", Some(wanted.to_string()), seen)?;
    let after = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")?;
    expect_eq("the host's value (unchanged)", host.trim(), after.trim())
}

/// The fixture's namespaces plus a new user namespace in which container
/// root is host uid/gid 100000 (65536 ids).
pub(crate) fn in_a_user_namespace(spec: &mut Spec) -> anyhow::Result<()> {
    let mut namespaces: Vec<LinuxNamespace> = NEW.iter().map(|t| namespace(*t, None)).collect();
    namespaces.push(namespace(LinuxNamespaceType::User, None));
    set_namespaces(spec, namespaces);
    let mapping = oci_spec::runtime::LinuxIdMappingBuilder::default()
        .container_id(0u32)
        .host_id(100_000u32)
        .size(65_536u32)
        .build()?;
    let linux = spec.linux_mut().as_mut().expect("fixture linux");
    linux.set_uid_mappings(Some(vec![mapping]));
    linux.set_gid_mappings(Some(vec![mapping]));
    Ok(())
}

/// A container in a user namespace (0 → 100000) runs from a rootfs the
/// host's root owns: afterwards every file of the rootfs has the owner it
/// had. A runtime that realizes the mapping by chowning the rootfs to
/// 100000 (instead of leaving it to the kernel) is seen.
fn user_namespace_leaves_file_owners_alone(cx: &mut Ctx) -> Checked {
    use std::os::unix::fs::MetadataExt;
    let mut spec = cx.spec(&["exit", "0"]);
    in_a_user_namespace(&mut spec)?;
    let bundle = cx.bundle(&spec)?;
    let rootfs = cx.bundle_ref(bundle).rootfs().to_path_buf();
    let owners = |root: &std::path::Path| -> std::io::Result<Vec<(String, u32, u32)>> {
        let mut seen = vec![];
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                let meta = std::fs::symlink_metadata(&path)?;
                if meta.is_dir() {
                    dirs.push(path.clone());
                }
                seen.push((path.display().to_string(), meta.uid(), meta.gid()));
            }
        }
        seen.sort();
        Ok(seen)
    };
    let before = owners(&rootfs)?;
    let id = cx.new_id();
    cx.create_ok(&id, bundle)?;
    cx.start_to_exit(&id)?;
    cx.delete(&id)?;
    let after = owners(&rootfs)?;
    let changed: Vec<String> = before
        .iter()
        .filter_map(|(path, uid, gid)| {
            let now = after.iter().find(|(p, _, _)| p == path)?;
            ((now.1, now.2) != (*uid, *gid))
                .then(|| format!("{path}: {uid}:{gid} -> {}:{}", now.1, now.2))
        })
        .collect();
    expect(
        changed.is_empty(),
        "the rootfs's owners unchanged by a container in a user namespace",
        format!(
            "{} changed: {}",
            changed.len(),
            changed.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        ),
    )
}

/// Container root is host uid/gid 100000 (65536 ids): what the kernel
/// shows in /proc/self/{uid,gid}_map, and uid 0 inside.
fn user_namespace_gets_the_id_mappings(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["path", "/proc/self/uid_map", "path", "/proc/self/gid_map", "report"]);
    in_a_user_namespace(&mut spec)?;
    let run = cx.run_probe(&spec)?;
    // Under --rootless the config maps the user's ids instead.
    let written = |maps: Vec<oci_spec::runtime::LinuxIdMapping>| -> Vec<String> {
        maps.iter()
            .flat_map(|m| [m.container_id(), m.host_id(), m.size()].map(|n| n.to_string()))
            .collect()
    };
    let (uids, gids) = match crate::rootless::user() {
        Some(user) => (written(user.uid_mappings()), written(user.gid_mappings())),
        None => {
            let fixture = vec!["0".to_string(), "100000".into(), "65536".into()];
            (fixture.clone(), fixture)
        }
    };
    for (file, expected) in [("/proc/self/uid_map", uids), ("/proc/self/gid_map", gids)] {
        let content = run.path(file)?.content.clone().unwrap_or_default();
        let fields: Vec<String> = content.split_whitespace().map(String::from).collect();
        expect_eq(file, expected, fields)?;
    }
    expect_eq("uid inside", 0, run.report()?.ids.uid)
}

/// A boottime offset of +10 days: /proc/uptime inside the new time
/// namespace is at least that much ahead of the host's.
fn time_namespace_gets_the_offsets(cx: &mut Ctx) -> Checked {
    time_offsets_case(cx, false)
}

/// The same with a new user namespace, as a rootless or userns-remapped
/// engine sends it: the time namespace then belongs to the new user
/// namespace, and the offsets must still be written before anything
/// enters it (a runtime that writes them as the mapped root is refused
/// by /proc's permissions).
fn time_offsets_apply_with_a_new_user_namespace(cx: &mut Ctx) -> Checked {
    time_offsets_case(cx, true)
}

fn time_offsets_case(cx: &mut Ctx, with_user: bool) -> Checked {
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        return Err(crate::case::Verdict::Skip("this kernel has no time namespaces".into()));
    }
    const OFFSET_SECS: i64 = 10 * 86_400;
    let mut spec = cx.spec(&["path", "/proc/uptime"]);
    if with_user {
        in_a_user_namespace(&mut spec)?;
    }
    let mut namespaces =
        spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
    namespaces.push(namespace(LinuxNamespaceType::Time, None));
    set_namespaces(&mut spec, namespaces);
    let offset = oci_spec::runtime::LinuxTimeOffsetBuilder::default()
        .secs(OFFSET_SECS)
        .nanosecs(0u32)
        .build()?;
    spec.linux_mut()
        .as_mut()
        .expect("fixture linux")
        .set_time_offsets(Some([("boottime".to_string(), offset)].into()));
    let host_uptime = uptime(&std::fs::read_to_string("/proc/uptime").unwrap_or_default());
    let run = cx.run_probe(&spec)?;
    let inside = uptime(&run.path("/proc/uptime")?.content.clone().unwrap_or_default());
    expect(
        inside >= host_uptime + OFFSET_SECS as f64,
        format!("uptime inside >= host uptime ({host_uptime:.0} s) + {OFFSET_SECS} s"),
        format!("{inside:.0} s"),
    )
}

fn uptime(text: &str) -> f64 {
    text.split_whitespace().next().and_then(|t| t.parse().ok()).unwrap_or(0.0)
}
