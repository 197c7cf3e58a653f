//! A generated config's statements as (what, value) pairs: [`expected`]
//! reads them from the model, [`seen`] from the probe's output, with the
//! same keys, so a conformance check compares the two and a differential
//! run compares two runtimes' [`seen`].

use super::model::{Device, Generated, Namespace, DENIABLE};
use crate::capability;
use litmus_probe::{PathReport, ProbeLine, Report};
use std::collections::{BTreeMap, BTreeSet};

/// Statement → value, e.g. "umask" → "0o22".
pub type View = BTreeMap<String, String>;

/// Host namespace inodes, to tell a new namespace from a shared one.
pub fn host_namespaces() -> Vec<(Namespace, Option<u64>)> {
    use std::os::unix::fs::MetadataExt;
    Namespace::ALL
        .iter()
        .map(|&ns| {
            let inode = std::fs::metadata(format!("/proc/self/ns/{}", ns.proc_name()))
                .ok()
                .map(|m| m.ino());
            (ns, inode)
        })
        .collect()
}

const MASKED: &str = "masked (/dev/null or an empty directory)";
const NEW_NS: &str = "a new one";
const JOINED_NS: &str = "the joined one";
const HOST_NS: &str = "the host's";

fn hex(mask: u64) -> String {
    format!("{mask:#x}")
}

fn set_of(ids: &[u32]) -> String {
    format!("{:?}", ids.iter().collect::<BTreeSet<_>>())
}

fn flag(set: bool) -> String {
    if set { "yes" } else { "no" }.to_string()
}

/// What config.json says, statement by statement.
pub fn expected(model: &Generated, host_ns: &[(Namespace, Option<u64>)]) -> View {
    let mut view = View::new();
    let mut put = |k: String, v: String| view.insert(k, v);
    if let Some(hostname) = &model.hostname {
        put("hostname".into(), hostname.clone());
    }
    for (key, value) in &model.env {
        put(format!("env {key}"), format!("{value:?}"));
    }
    put("cwd".into(), model.cwd.clone());
    put("uid/euid".into(), format!("{0}/{0}", model.uid));
    put("gid/egid".into(), format!("{0}/{0}", model.gid));
    put("supplementary groups".into(), set_of(&model.additional_gids));
    if let Some(umask) = model.umask {
        put("umask".into(), format!("{umask:#o}"));
    }
    let caps = capability::mask(&model.capabilities);
    let ambient = capability::mask(&model.ambient);
    // After execve of a file without file capabilities, root's permitted
    // set is bounding | inheritable (here: all of `capabilities`), anyone
    // else's is the ambient set; effective follows permitted.
    let after_exec = if model.uid == 0 { caps } else { ambient };
    put("capabilities: bounding".into(), hex(caps));
    put("capabilities: inheritable".into(), hex(ambient));
    put("capabilities: ambient".into(), hex(ambient));
    put("capabilities: permitted".into(), hex(after_exec));
    put("capabilities: effective".into(), hex(after_exec));
    for r in &model.rlimits {
        put(
            format!("rlimit {:?} (soft, hard)", r.kind),
            format!("{:?}", (Some(r.soft), Some(r.hard))),
        );
    }
    put("no_new_privs".into(), flag(model.no_new_privileges));
    if let Some(adj) = model.oom_score_adj {
        put("oom_score_adj".into(), adj.to_string());
    }
    for &(ns, inode) in host_ns {
        if inode.is_some() {
            let what = if model.joined.contains(&ns) {
                JOINED_NS
            } else if model.namespaces.contains(&ns) {
                NEW_NS
            } else {
                HOST_NS
            };
            put(format!("{} namespace", ns.proc_name()), what.into());
        }
    }
    put("root read-only".into(), flag(model.root_readonly));
    for t in &model.tmpfs {
        put(format!("mount at {}", t.destination), "tmpfs".into());
        for flag in &t.flags {
            put(format!("{} option {flag}", t.destination), "set".into());
        }
        put(format!("mode of {}", t.destination), format!("{:o}", t.mode));
    }
    for b in &model.binds {
        put(
            format!("{}/marker (from the bind source)", b.destination),
            format!("{:?}", b.destination),
        );
        put(format!("{} read-only", b.destination), flag(b.readonly));
    }
    for masked in &model.masked_paths {
        put(format!("masked path {masked}"), MASKED.into());
    }
    for path in &model.readonly_paths {
        put(format!("readonly path {path}"), flag(true));
    }
    for (name, value) in &model.sysctls {
        put(format!("sysctl {name}"), value.clone());
    }
    if !model.hooks.is_empty() {
        let phases: Vec<&str> = model.hooks.iter().map(|h| h.name()).collect();
        put(HOOKS_RAN.into(), phases.join(", "));
    }
    for d in &model.devices {
        put(
            format!("device {}", d.path),
            Device::describe("char", d.major, d.minor, d.file_mode, d.uid, d.gid),
        );
    }
    if let Some(seccomp) = &model.seccomp {
        for (name, ..) in DENIABLE {
            put(format!("seccomp: errno of {name}"), seccomp.expected_errno(name).to_string());
        }
    }
    if let Some(r) = &model.resources {
        if let Some(mib) = r.memory_mib {
            put(MEMORY_LIMIT.into(), (mib * 1024 * 1024).to_string());
        }
        if let Some(pids) = r.pids {
            put(PIDS_LIMIT.into(), pids.to_string());
        }
        if let Some(shares) = r.cpu_shares {
            put(CPU_SHARES.into(), shares.to_string());
        }
        if let Some((quota, period)) = r.cpu_quota {
            put(CPU_QUOTA.into(), format!("{quota} {period}"));
        }
    }
    view
}

const MEMORY_LIMIT: &str = "cgroup memory limit (bytes)";
const PIDS_LIMIT: &str = "cgroup pids limit";
const CPU_SHARES: &str = "cgroup cpu shares";
const CPU_QUOTA: &str = "cgroup cpu quota and period (us)";

/// The limit files of v1 and v2 a generated config may set.
const CGROUP_FILES: &[&str] = &[
    "memory.limit_in_bytes",
    "memory.max",
    "pids.max",
    "cpu.shares",
    "cpu.cfs_quota_us",
    "cpu.cfs_period_us",
    "cpu.max",
];

/// The limit files found in the cgroups of host process `pid` (a created
/// container's init), file name → content.
pub fn cgroup_files(pid: i32) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let dirs = crate::host_cgroups::host_cgroup_dirs(&text);
    CGROUP_FILES.iter().filter_map(|file| crate::host_cgroups::read_first(&dirs, &[file])).collect()
}

/// The limits' statements, from the container's cgroup files as the host
/// saw them after create (apart from [`seen`], like the hooks).
pub fn seen_resources(model: &Generated, files: &BTreeMap<String, String>) -> View {
    let mut view = View::new();
    let Some(r) = &model.resources else {
        return view;
    };
    let file = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| files.get(*n).cloned())
            .unwrap_or_else(|| format!("no {} in the container's cgroups", names.join(" or ")))
    };
    if r.memory_mib.is_some() {
        view.insert(MEMORY_LIMIT.into(), file(&["memory.limit_in_bytes", "memory.max"]));
    }
    if r.pids.is_some() {
        view.insert(PIDS_LIMIT.into(), file(&["pids.max"]));
    }
    if r.cpu_shares.is_some() {
        view.insert(CPU_SHARES.into(), file(&["cpu.shares"]));
    }
    if r.cpu_quota.is_some() {
        let quota = match files.get("cpu.max") {
            Some(max) => max.clone(),
            None => format!("{} {}", file(&["cpu.cfs_quota_us"]), file(&["cpu.cfs_period_us"])),
        };
        view.insert(CPU_QUOTA.into(), quota);
    }
    view
}

const HOOKS_RAN: &str = "hooks run, in order";

/// The hooks' statement, from the log they wrote (apart from [`seen`]:
/// the log is on the host, not in the probe's output).
pub fn seen_hooks(model: &Generated, ran: &[String]) -> View {
    let mut view = View::new();
    if !model.hooks.is_empty() {
        view.insert(HOOKS_RAN.into(), ran.join(", "));
    }
    view
}

/// What the container saw, for the statements `model` makes.
pub fn seen(
    model: &Generated,
    lines: &[ProbeLine],
    host_ns: &[(Namespace, Option<u64>)],
    joined: &[(Namespace, u64)],
) -> View {
    let Some(report) = lines.iter().find_map(|l| match l {
        ProbeLine::Report(r) => Some(r.as_ref()),
        _ => None,
    }) else {
        return View::from([("probe report".to_string(), "none".to_string())]);
    };
    let path = |p: &str| -> Option<&PathReport> {
        lines.iter().find_map(|l| match l {
            ProbeLine::Path(r) if r.path == p => Some(r),
            _ => None,
        })
    };
    let readonly = |p: &str| {
        report.mount_at(p).map_or("no mount there".to_string(), |m| flag(m.is_readonly()))
    };
    let mut view = View::new();
    let mut put = |k: String, v: String| view.insert(k, v);
    process(model, report, &mut put);
    for &(ns, host_inode) in host_ns {
        let Some(host_inode) = host_inode else {
            continue;
        };
        let holder = joined.iter().find(|(n, _)| *n == ns).map(|(_, i)| *i);
        let seen = match report.namespaces.get(ns.proc_name()) {
            Some(&inode) if inode == host_inode => HOST_NS,
            Some(&inode) if Some(inode) == holder => JOINED_NS,
            Some(_) => NEW_NS,
            None => "not reported",
        };
        put(format!("{} namespace", ns.proc_name()), seen.into());
    }
    put("root read-only".into(), readonly("/"));
    for t in &model.tmpfs {
        let mount = report.mount_at(&t.destination);
        put(
            format!("mount at {}", t.destination),
            mount.map_or("none".into(), |m| m.fs_type.clone()),
        );
        for flag in &t.flags {
            let set = mount.is_some_and(|m| m.has_option(flag));
            put(
                format!("{} option {flag}", t.destination),
                if set { "set" } else { "unset" }.into(),
            );
        }
        put(
            format!("mode of {}", t.destination),
            path(&t.destination)
                .and_then(|p| p.mode)
                .map_or("unknown".into(), |m| format!("{:o}", m & 0o7777)),
        );
    }
    for b in &model.binds {
        let marker = format!("{}/marker", b.destination);
        put(
            format!("{marker} (from the bind source)"),
            path(&marker)
                .and_then(|p| p.content.as_ref())
                .map_or("unreadable".into(), |c| format!("{c:?}")),
        );
        put(format!("{} read-only", b.destination), readonly(&b.destination));
    }
    for masked in &model.masked_paths {
        put(format!("masked path {masked}"), masked_state(path(masked)));
    }
    for p in &model.readonly_paths {
        put(format!("readonly path {p}"), readonly(p));
    }
    for name in model.sysctls.keys() {
        let value = lines.iter().find_map(|l| match l {
            ProbeLine::Sysctl { key, value } if key == name => {
                Some(value.as_deref().unwrap_or("unreadable").trim().to_string())
            }
            _ => None,
        });
        put(format!("sysctl {name}"), value.unwrap_or_else(|| "not reported".into()));
    }
    for d in &model.devices {
        let seen = match path(&d.path) {
            Some(p) if p.exists => Device::describe(
                p.file_type.as_deref().unwrap_or("?"),
                p.major.map_or(-1, |m| m as i64),
                p.minor.map_or(-1, |m| m as i64),
                p.mode.map_or(0, |m| m & 0o7777),
                p.uid.unwrap_or(u32::MAX),
                p.gid.unwrap_or(u32::MAX),
            ),
            Some(_) => "missing".into(),
            None => "not reported".into(),
        };
        put(format!("device {}", d.path), seen);
    }
    if model.seccomp.is_some() {
        for (name, nr, ..) in DENIABLE {
            let errno = lines.iter().find_map(|l| match l {
                ProbeLine::Syscall { nr: n, errno, .. } if n == nr => Some(*errno),
                _ => None,
            });
            put(
                format!("seccomp: errno of {name}"),
                match errno {
                    Some(Some(e)) => e.to_string(),
                    Some(None) => "none (it succeeded)".into(),
                    None => "not reported".into(),
                },
            );
        }
    }
    view
}

fn process(
    model: &Generated,
    report: &Report,
    put: &mut dyn FnMut(String, String) -> Option<String>,
) {
    if model.hostname.is_some() {
        put("hostname".into(), report.hostname.clone());
    }
    for key in model.env.keys() {
        let value = report.env_var(key).map_or("<unset>".into(), |v| format!("{v:?}"));
        put(format!("env {key}"), value);
    }
    put("cwd".into(), report.cwd.clone());
    let ids = &report.ids;
    put("uid/euid".into(), format!("{}/{}", ids.uid, ids.euid));
    put("gid/egid".into(), format!("{}/{}", ids.gid, ids.egid));
    put("supplementary groups".into(), set_of(&ids.groups));
    if model.umask.is_some() {
        put("umask".into(), report.umask.map_or("unknown".into(), |u| format!("{u:#o}")));
    }
    let caps = &report.capabilities;
    put("capabilities: bounding".into(), hex(caps.bounding));
    put("capabilities: inheritable".into(), hex(caps.inheritable));
    put("capabilities: ambient".into(), hex(caps.ambient));
    put("capabilities: permitted".into(), hex(caps.permitted));
    put("capabilities: effective".into(), hex(caps.effective));
    for r in &model.rlimits {
        let seen = report.rlimits.get(r.kind.limits_row());
        put(
            format!("rlimit {:?} (soft, hard)", r.kind),
            seen.map_or("not reported".into(), |l| format!("{l:?}")),
        );
    }
    put("no_new_privs".into(), report.no_new_privs.map_or("unknown".into(), |n| flag(n == 1)));
    if model.oom_score_adj.is_some() {
        put(
            "oom_score_adj".into(),
            report.oom_score_adj.map_or("unknown".into(), |a| a.to_string()),
        );
    }
}

fn masked_state(seen: Option<&PathReport>) -> String {
    let Some(p) = seen else {
        return "not reported".into();
    };
    let null = p.file_type.as_deref() == Some("char") && (p.major, p.minor) == (Some(1), Some(3));
    let empty_dir =
        p.file_type.as_deref() == Some("dir") && p.entries.as_ref().is_none_or(|e| e.is_empty());
    if !p.exists || null || empty_dir {
        MASKED.into()
    } else {
        format!(
            "visible: {} {}",
            p.file_type.as_deref().unwrap_or("?"),
            p.content.as_deref().unwrap_or("").chars().take(40).collect::<String>()
        )
    }
}

/// Every statement where `seen` differs from `expected`, one line each.
pub fn differences(left: &View, right: &View, left_name: &str, right_name: &str) -> Vec<String> {
    let keys: BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (l, r) = (left.get(k), right.get(k));
            (l != r).then(|| {
                let show = |v: Option<&String>| v.map_or("-".to_string(), |v| v.clone());
                format!("{k}: {left_name} {}, {right_name} {}", show(l), show(r))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::model::{Bind, Tmpfs};
    use litmus_probe::MountInfo;

    /// What check tells of a container that printed `lines` under `m`.
    fn differences_from_config(m: &Generated, lines: &[ProbeLine]) -> Vec<String> {
        differences(
            &expected(m, &host_ns()),
            &seen(m, lines, &host_ns(), &[]),
            "config",
            "container",
        )
    }

    fn model() -> Generated {
        Generated {
            hostname: Some("box".into()),
            env: [("G_A".to_string(), "x y".to_string())].into(),
            cwd: "/tmp".into(),
            uid: 1000,
            gid: 100,
            additional_gids: vec![5, 6],
            umask: Some(0o27),
            capabilities: vec![oci_spec::runtime::Capability::Kill],
            ambient: vec![],
            rlimits: vec![],
            namespaces: vec![Namespace::Uts],
            sysctls: BTreeMap::new(),
            tmpfs: vec![Tmpfs {
                destination: "/mnt/a".into(),
                flags: vec!["ro".into()],
                mode: 0o700,
                size_kib: 64,
            }],
            binds: vec![Bind { destination: "/data".into(), readonly: true }],
            masked_paths: vec![],
            readonly_paths: vec![],
            root_readonly: false,
            no_new_privileges: true,
            oom_score_adj: None,
            seccomp: None,
            devices: Vec::new(),
            joined: Vec::new(),
            hooks: Vec::new(),
            resources: None,
        }
    }

    /// The probe output a runtime that did everything right would give.
    fn faithful(model: &Generated) -> Vec<ProbeLine> {
        let mut report = Report {
            hostname: "box".into(),
            env: vec!["G_A=x y".into()],
            cwd: "/tmp".into(),
            umask: Some(0o27),
            no_new_privs: Some(1),
            ..Report::default()
        };
        report.ids.uid = 1000;
        report.ids.euid = 1000;
        report.ids.gid = 100;
        report.ids.egid = 100;
        report.ids.groups = vec![6, 5];
        report.capabilities.bounding = 1 << 5;
        report.namespaces.insert("uts".into(), 99);
        let mount = |point: &str, fs: &str, options: &[&str]| MountInfo {
            mount_point: point.into(),
            fs_type: fs.into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            ..MountInfo::default()
        };
        report.mounts = vec![
            mount("/", "overlay", &["rw"]),
            mount("/mnt/a", "tmpfs", &["ro"]),
            mount("/data", "ext4", &["ro"]),
        ];
        let path = |p: &str, mode: Option<u32>, content: Option<&str>| {
            ProbeLine::Path(PathReport {
                path: p.into(),
                exists: true,
                mode,
                content: content.map(String::from),
                ..PathReport::default()
            })
        };
        assert_eq!(model.tmpfs.len(), 1);
        vec![
            ProbeLine::Report(Box::new(report)),
            path("/mnt/a", Some(0o40700), None),
            path("/data/marker", None, Some("/data")),
        ]
    }

    fn host_ns() -> Vec<(Namespace, Option<u64>)> {
        vec![(Namespace::Uts, Some(1))]
    }

    #[test]
    fn a_faithful_container_has_no_differences() {
        let m = model();
        let lines = faithful(&m);
        let d = differences_from_config(&m, &lines);
        assert_eq!(d, Vec::<String>::new());
    }

    #[test]
    fn devices_and_seccomp_errnos_are_compared() {
        use crate::generated::model::{Device, Seccomp};
        let mut m = model();
        m.devices = vec![Device {
            path: "/dev/litmus-null".into(),
            major: 1,
            minor: 3,
            file_mode: 0o640,
            uid: 0,
            gid: 5,
        }];
        m.seccomp = Some(Seccomp {
            allow_list: false,
            old: false,
            errno: None,
            denied: vec!["keyctl".into()],
            keyctl_by_arg: false,
        });
        let mut lines = faithful(&m);
        lines.push(ProbeLine::Path(PathReport {
            path: "/dev/litmus-null".into(),
            exists: true,
            file_type: Some("char".into()),
            mode: Some(0o20640),
            uid: Some(0),
            gid: Some(0),
            major: Some(1),
            minor: Some(3),
            ..PathReport::default()
        }));
        let syscall = |nr: i64, errno: i32| ProbeLine::Syscall {
            nr,
            args: vec![],
            ret: -1,
            errno: Some(errno),
        };
        lines.push(syscall(libc::SYS_keyctl, libc::EOPNOTSUPP));
        lines.push(syscall(libc::SYS_add_key, libc::EFAULT));
        lines.push(syscall(libc::SYS_request_key, libc::EFAULT));
        let d = differences_from_config(&m, &lines);
        assert_eq!(
            d,
            vec![
                "device /dev/litmus-null: config char 1:3 mode 640 uid 0 gid 5, container char 1:3 mode 640 uid 0 gid 0",
                "seccomp: errno of keyctl: config 1, container 95",
            ]
        );
    }

    #[test]
    fn hooks_are_compared_by_the_order_they_ran() {
        use crate::generated::model::HookPhase;
        let mut m = model();
        m.hooks = vec![HookPhase::CreateRuntime, HookPhase::Poststop];
        let expected = expected(&m, &host_ns());
        let ran = |phases: &[&str]| {
            let phases: Vec<String> = phases.iter().map(|p| p.to_string()).collect();
            seen_hooks(&m, &phases)
        };
        let differs = |seen: View| {
            let mut all = super::seen(&m, &faithful(&m), &host_ns(), &[]);
            all.extend(seen);
            differences(&expected, &all, "config", "container")
        };
        assert!(differs(ran(&["createRuntime", "poststop"])).is_empty());
        assert_eq!(
            differs(ran(&["createRuntime"])),
            vec!["hooks run, in order: config createRuntime, poststop, container createRuntime"]
        );
        assert_eq!(differs(ran(&["poststop", "createRuntime"])).len(), 1);
    }

    #[test]
    fn each_ignored_statement_is_named() {
        let m = model();
        let mut lines = faithful(&m);
        let ProbeLine::Report(report) = &mut lines[0] else { unreachable!() };
        report.umask = Some(0o22);
        report.namespaces.insert("uts".into(), 1);
        report.mounts.retain(|m| m.mount_point != "/data");
        let d = differences_from_config(&m, &lines);
        assert_eq!(
            d,
            vec![
                "/data read-only: config yes, container no mount there",
                "umask: config 0o27, container 0o22",
                "uts namespace: config a new one, container the host's",
            ]
        );
    }

    #[test]
    fn limits_are_compared_with_v1_and_v2_cgroup_files() {
        use crate::generated::model::Resources;
        let m = Generated {
            resources: Some(Resources {
                memory_mib: Some(64),
                pids: Some(99),
                cpu_shares: Some(300),
                cpu_quota: Some((20_000, 100_000)),
            }),
            ..Generated::default()
        };
        let expected = expected(&m, &[]);
        let files = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let v1 = files(&[
            ("memory.limit_in_bytes", "67108864"),
            ("pids.max", "99"),
            ("cpu.shares", "300"),
            ("cpu.cfs_quota_us", "20000"),
            ("cpu.cfs_period_us", "100000"),
        ]);
        let only_limits = |e: &View| -> View {
            e.iter()
                .filter(|(k, _)| k.starts_with("cgroup"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let expected = only_limits(&expected);
        assert_eq!(expected.len(), 4);
        assert!(differences(&expected, &seen_resources(&m, &v1), "c", "s").is_empty());
        let v2 = files(&[
            ("memory.max", "67108864"),
            ("pids.max", "99"),
            ("cpu.shares", "300"),
            ("cpu.max", "20000 100000"),
        ]);
        assert!(differences(&expected, &seen_resources(&m, &v2), "c", "s").is_empty());
        // A runtime that left the limits alone: the kernel's defaults.
        let ignored = files(&[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("cpu.shares", "1024"),
            ("cpu.cfs_quota_us", "-1"),
            ("cpu.cfs_period_us", "100000"),
        ]);
        assert_eq!(
            differences(&expected, &seen_resources(&m, &ignored), "c", "s"),
            vec![
                "cgroup cpu quota and period (us): c 20000 100000, s -1 100000",
                "cgroup cpu shares: c 300, s 1024",
                "cgroup memory limit (bytes): c 67108864, s 9223372036854771712",
                "cgroup pids limit: c 99, s no pids.max in the container's cgroups",
            ]
        );
        assert!(seen_resources(&Generated::default(), &v1).is_empty());
    }
}
