//! features.md, features-linux.md: what `features` says must be true of
//! the runtime. Engines read it to decide what to send (podman checks it
//! for idmapped mounts, containerd for seccomp flags); a list that claims
//! more than the runtime accepts breaks them at create.

use super::namespaces::{
    host_inode, in_a_user_namespace, namespace, proc_name, set_namespaces, NEW,
};
use super::seccomp::with_seccomp;
use crate::case::{expect, fail, Checked, Verdict};
use crate::ctx::Ctx;
use oci_spec::runtime::{
    Capability, HookBuilder, Hooks, LinuxCapabilitiesBuilder, LinuxNamespaceType, Spec,
};
use serde_json::{json, Value};

crate::cases! {
    Lifecycle: {
        features_list_only_what_the_runtime_recognizes => [FEATURES_HONEST],
        features_hold_only_fields_of_the_spec => [FEATURES_KNOWN_FIELDS],
        features_mount_options_are_not_filesystem_data => [FEATURES_MOUNT_OPTIONS_NOT_DATA],
    }
}

/// The runtime's `features` document; a runtime without the command skips
/// the case (one case, features_give_the_supported_version_range, fails
/// it for that).
pub(super) fn features(cx: &Ctx) -> Result<Value, Verdict> {
    let features = cx.call(&["features"])?;
    if !features.ok() {
        return Err(Verdict::Skip("the runtime has no features command".into()));
    }
    parse(&features)
}

/// A successful `features` call's output as JSON.
pub(super) fn parse(features: &crate::driver::Invocation) -> Result<Value, Verdict> {
    serde_json::from_str(&features.stdout)
        .map_err(|e| fail("features output as JSON", format!("{e}: {}", features.stdout)))
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect()
}

/// Every namespace type, capability, hook phase, seccomp action, operator,
/// architecture and supported flag the runtime lists is used in a config
/// of its own (or, for capabilities and hook phases, all in one), which the
/// runtime must run. Items this host's kernel lacks (a namespace type with
/// no /proc/self/ns entry) are left out; SCMP_ACT_NOTIFY needs an agent
/// and has its own cases.
fn features_list_only_what_the_runtime_recognizes(cx: &mut Ctx) -> Checked {
    let doc = features(cx)?;
    let linux = &doc["linux"];
    let mut trials: Vec<(String, Spec)> = Vec::new();
    for name in strings(&linux["namespaces"]) {
        let Ok(typ) = serde_json::from_value::<LinuxNamespaceType>(json!(name)) else {
            trials.push((format!("namespace {name}"), Spec::default()));
            continue;
        };
        if host_inode(proc_name(typ)).is_none() {
            continue;
        }
        let mut spec = cx.spec(&["report"]);
        let mut types: Vec<LinuxNamespaceType> = NEW.to_vec();
        if !types.contains(&typ) {
            types.push(typ);
        }
        set_namespaces(&mut spec, types.into_iter().map(|t| namespace(t, None)).collect());
        if typ == LinuxNamespaceType::User {
            in_a_user_namespace(&mut spec)?;
        }
        trials.push((format!("namespace {name}"), spec));
    }
    // Only what this host can grant: its bounding set may lack some (this
    // suite's own hosts lack CAP_SYS_RESOURCE), and a capability that
    // cannot be granted is another statement's matter.
    let grantable = host_bounding_set();
    let capabilities: Vec<Capability> = strings(&linux["capabilities"])
        .iter()
        .filter_map(|c| serde_json::from_value(json!(c)).ok())
        .filter(|c| grantable & (1u64 << crate::capability::number(*c)) != 0)
        .collect();
    if !capabilities.is_empty() {
        let set: std::collections::HashSet<Capability> = capabilities.into_iter().collect();
        let caps = LinuxCapabilitiesBuilder::default()
            .bounding(set.clone())
            .effective(set.clone())
            .permitted(set)
            .build()?;
        let mut spec = cx.spec(&["report"]);
        if let Some(process) = spec.process_mut() {
            process.set_capabilities(Some(caps));
        }
        trials.push(("every listed capability".into(), spec));
    }
    let phases = strings(&doc["hooks"]);
    if !phases.is_empty() {
        let hook = HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".into(), "-c".into(), "cat >/dev/null".into()])
            .build()?;
        let mut hooks = serde_json::Map::new();
        for phase in &phases {
            hooks.insert(phase.clone(), json!([hook]));
        }
        match serde_json::from_value::<Hooks>(Value::Object(hooks)) {
            Ok(hooks) => {
                let mut spec = cx.spec(&["report"]);
                spec.set_hooks(Some(hooks));
                trials.push((format!("a hook in each listed phase {phases:?}"), spec));
            }
            Err(e) => {
                return Err(fail("hook phases a config can carry", format!("{phases:?}: {e}")))
            }
        }
    }
    let seccomp = &linux["seccomp"];
    let rule = |extra: Value| {
        let mut rule = json!({"names": ["acct"], "action": "SCMP_ACT_ERRNO"});
        rule.as_object_mut()
            .expect("object")
            .extend(extra.as_object().cloned().unwrap_or_default());
        rule
    };
    let mut profiles: Vec<(String, Value)> = Vec::new();
    for action in strings(&seccomp["actions"]).into_iter().filter(|a| a != "SCMP_ACT_NOTIFY") {
        let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule(json!({"action": action}))]});
        profiles.push((format!("seccomp action {action}"), profile));
    }
    for op in strings(&seccomp["operators"]) {
        let args = json!({"args": [{"index": 0, "value": 1, "valueTwo": 1, "op": op}]});
        profiles.push((
            format!("seccomp operator {op}"),
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule(args)]}),
        ));
    }
    // One architecture per filter, of this host's byte order: a filter
    // holds the native architecture and cannot mix byte orders, so a
    // big-endian one cannot be used here whatever the runtime knows.
    const BIG_ENDIAN: &[&str] = &[
        "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32",
        "SCMP_ARCH_PPC",
        "SCMP_ARCH_PPC64",
        "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X",
        "SCMP_ARCH_PARISC",
        "SCMP_ARCH_PARISC64",
        "SCMP_ARCH_M68K",
        "SCMP_ARCH_SH",
    ];
    let native_order =
        |a: &String| cfg!(target_endian = "little") != BIG_ENDIAN.contains(&a.as_str());
    for arch in strings(&seccomp["archs"]).into_iter().filter(native_order) {
        let profile = json!({
            "defaultAction": "SCMP_ACT_ALLOW", "architectures": [arch], "syscalls": [rule(json!({}))]
        });
        profiles.push((format!("seccomp architecture {arch}"), profile));
    }
    for flag in strings(&seccomp["supportedFlags"]) {
        let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag], "syscalls": [rule(json!({}))]});
        profiles.push((format!("seccomp flag {flag}"), profile));
    }
    for (what, profile) in profiles {
        match serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(profile.clone()) {
            Ok(_) => trials.push((what, with_seccomp(cx.spec(&["report"]), profile))),
            Err(e) => return Err(fail(format!("{what} in a config"), e.to_string())),
        }
    }
    if let Some(spec) = every_listed_mount_option(cx, &doc["mountOptions"]) {
        trials
            .push(("every listed mount option of config.md's table, each on a tmpfs".into(), spec));
    }
    // Not under --rootless: an idmapped mount of a host filesystem needs
    // CAP_SYS_ADMIN over it (`idmapped_bind_mount_shows_mapped_owners`
    // says SKIP with the reason).
    if linux["mountExtensions"]["idmap"]["enabled"] == json!(true)
        && crate::rootless::user().is_none()
    {
        if let Some(spec) = idmapped_mount(cx)? {
            trials.push(("an idmapped bind mount (mountExtensions.idmap.enabled)".into(), spec));
        }
    }
    for (what, policy) in memory_policies(&linux["memoryPolicy"]) {
        let mut spec = cx.spec(&["report"]);
        let policy = serde_json::from_value(policy.clone())
            .map_err(|e| fail(format!("{what} in a config"), e.to_string()))?;
        spec.linux_mut().as_mut().expect("fixture linux").set_memory_policy(Some(policy));
        trials.push((what, spec));
    }
    let mut refused = Vec::new();
    for (what, spec) in &trials {
        if spec.process().is_none() {
            refused.push(format!("{what}: not a name of the spec"));
            continue;
        }
        match cx.run_probe(spec).and_then(|run| run.report().map(drop)) {
            Ok(()) => {}
            Err(Verdict::Fail { seen, .. }) => refused.push(format!("{what}: {seen}")),
            Err(skip) => return Err(skip),
        }
    }
    expect(
        refused.is_empty(),
        "a config with each listed feature to run",
        format!("{} of {} refused: {}", refused.len(), trials.len(), refused.join("; ")),
    )
}

/// Options that need more than a tmpfs to be tried: a bind source, id
/// mappings, an existing mount.
const NEEDS_CONTEXT: &[&str] = &["bind", "rbind", "idmap", "ridmap", "remount"];

/// One tmpfs per listed mount option of config.md's table (those a tmpfs
/// can take), in one container: a runtime listing an option it passes on
/// as filesystem data fails, since tmpfs refuses what it does not know.
fn every_listed_mount_option(cx: &Ctx, listed: &Value) -> Option<Spec> {
    let table: Vec<String> =
        crate::trace::linux_mount_options().into_iter().map(|(name, _)| name).collect();
    let options: Vec<String> = strings(listed)
        .into_iter()
        .filter(|o| table.contains(o) && !NEEDS_CONTEXT.contains(&o.as_str()))
        .filter(|o| !super::mount_options::beyond_this_kernel(o))
        .collect();
    if options.is_empty() {
        return None;
    }
    let mut spec = cx.spec(&["report"]);
    let mounts = options
        .iter()
        .enumerate()
        .map(|(i, o)| super::filesystem::tmpfs(&format!("/litmus/option-{i}-{o}"), &[o]))
        .collect();
    super::filesystem::add_mounts(&mut spec, mounts);
    Some(spec)
}

/// An idmapped bind mount (1000 → 0) of a directory of the suite's, where
/// this kernel and filesystem take one.
fn idmapped_mount(cx: &Ctx) -> Result<Option<Spec>, Verdict> {
    let source = cx.work().join("features-idmap");
    std::fs::create_dir_all(&source)?;
    if super::idmapped_mounts::idmappable(&source).is_err() {
        return Ok(None);
    }
    let mut spec = cx.spec(&["report"]);
    super::filesystem::add_mounts(&mut spec, vec![super::idmapped_mounts::idmapped_bind(&source)]);
    Ok(Some(spec))
}

/// features.md: mountOptions SHOULD NOT list filesystem-specific options,
/// those passed to mount(2) as data. Each listed option that is not in
/// config.md's table is given to a tmpfs: it must show nowhere among the
/// filesystem's (super) options, and the mount must be made (tmpfs
/// refuses data it does not know; a runtime's own option works on it).
fn features_mount_options_are_not_filesystem_data(cx: &mut Ctx) -> Checked {
    let doc = features(cx)?;
    let table: Vec<String> =
        crate::trace::linux_mount_options().into_iter().map(|(name, _)| name).collect();
    let others: Vec<String> = strings(&doc["mountOptions"])
        .into_iter()
        .filter(|o| !table.contains(o) && !super::mount_options::beyond_this_kernel(o))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    let mut data = Vec::new();
    for option in &others {
        let mut spec = cx.spec(&["report"]);
        super::filesystem::add_mounts(
            &mut spec,
            vec![super::filesystem::tmpfs("/litmus/o", &[option])],
        );
        match cx.run_probe(&spec) {
            Ok(run) => {
                let report = run.report()?;
                let passed_on = report.mount_at("/litmus/o").is_some_and(|m| {
                    m.super_options
                        .iter()
                        .any(|s| s == option || s.starts_with(&format!("{option}=")))
                });
                if passed_on {
                    data.push(format!("{option} (among the tmpfs's own options)"));
                }
            }
            Err(Verdict::Fail { seen, .. }) => {
                data.push(format!("{option} (the tmpfs mount with it failed: {seen})"))
            }
            Err(skip) => return Err(skip),
        }
    }
    expect(
        data.is_empty(),
        "every listed option outside config.md's table to be the runtime's own: a tmpfs mount takes \
         it, and it is not among the filesystem's options",
        format!("not so: {}", data.join("; ")),
    )
}

/// A memoryPolicy for each listed mode and flag that this host's kernel
/// accepts on node 0 (features may list what the host lacks:
/// MPOL_WEIGHTED_INTERLEAVE came in 6.9).
fn memory_policies(listed: &Value) -> Vec<(String, Value)> {
    // <linux/mempolicy.h>; modes that take no nodes are given none.
    let mode = |name: &str| -> Option<(i32, bool)> {
        let modes = [
            ("MPOL_DEFAULT", 0, false),
            ("MPOL_PREFERRED", 1, true),
            ("MPOL_BIND", 2, true),
            ("MPOL_INTERLEAVE", 3, true),
            ("MPOL_LOCAL", 4, false),
            ("MPOL_PREFERRED_MANY", 5, true),
            ("MPOL_WEIGHTED_INTERLEAVE", 6, true),
        ];
        modes.iter().find(|m| m.0 == name).map(|m| (m.1, m.2))
    };
    let flag = |name: &str| match name {
        "MPOL_F_NUMA_BALANCING" => Some(1 << 13),
        "MPOL_F_RELATIVE_NODES" => Some(1 << 14),
        "MPOL_F_STATIC_NODES" => Some(1 << 15),
        _ => None,
    };
    let mut policies = Vec::new();
    for name in strings(&listed["modes"]) {
        let policy = match mode(&name) {
            Some((number, true)) if host_accepts_memory_policy(number, true) => {
                json!({"mode": name, "nodes": "0"})
            }
            Some((number, false)) if host_accepts_memory_policy(number, false) => {
                json!({"mode": name})
            }
            Some(_) => continue,
            None => json!({"mode": name}),
        };
        policies.push((format!("memory policy mode {name}"), policy));
    }
    for name in strings(&listed["flags"]) {
        if flag(&name).is_some_and(|bits| !host_accepts_memory_policy(2 | bits, true)) {
            continue;
        }
        policies.push((
            format!("memory policy flag {name}"),
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": [name]}),
        ));
    }
    policies
}

/// Whether set_mempolicy(2) takes `mode` (with node 0 if `node0`), tried
/// on a thread of its own: the policy is per thread and dies with it.
fn host_accepts_memory_policy(mode: i32, node0: bool) -> bool {
    std::thread::spawn(move || {
        let mask: u64 = 1;
        let (ptr, maxnode) =
            if node0 { (&mask as *const u64, 65u64) } else { (std::ptr::null(), 0) };
        // SAFETY: ptr is null or points to one word, the 64 bits maxnode - 1 asks the kernel to read.
        unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) == 0 }
    })
    .join()
    .unwrap_or(false)
}

/// CapBnd of this process, as a mask.
fn host_bounding_set() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0)
}

/// The fields of the Features structure in runtime-spec 1.3.0 (features.md
/// and features-linux.md), by object.
const KNOWN: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "ociVersionMin",
            "ociVersionMax",
            "hooks",
            "mountOptions",
            "linux",
            "annotations",
            "potentiallyUnsafeConfigAnnotations",
        ],
    ),
    (
        "linux",
        &[
            "namespaces",
            "capabilities",
            "cgroup",
            "seccomp",
            "apparmor",
            "selinux",
            "intelRdt",
            "mountExtensions",
            "memoryPolicy",
            "netDevices",
        ],
    ),
    ("linux.cgroup", &["v1", "v2", "systemd", "systemdUser", "rdma"]),
    (
        "linux.seccomp",
        &["enabled", "actions", "operators", "archs", "knownFlags", "supportedFlags"],
    ),
    ("linux.apparmor", &["enabled"]),
    ("linux.selinux", &["enabled"]),
    ("linux.intelRdt", &["enabled", "schemata", "monitoring"]),
    ("linux.mountExtensions", &["idmap"]),
    ("linux.mountExtensions.idmap", &["enabled"]),
    ("linux.memoryPolicy", &["modes", "flags"]),
    ("linux.netDevices", &["enabled"]),
];

/// "The Features structure MUST NOT contain properties that are not defined
/// in this version of the Open Container Initiative Runtime Specification"
/// (annotations are where a runtime says more).
fn features_hold_only_fields_of_the_spec(cx: &mut Ctx) -> Checked {
    let doc = features(cx)?;
    let mut unknown = Vec::new();
    for (path, fields) in KNOWN {
        let object = path.split('.').filter(|p| !p.is_empty()).fold(&doc, |v, key| &v[key]);
        for key in object.as_object().into_iter().flat_map(|o| o.keys()) {
            if !fields.contains(&key.as_str()) {
                unknown.push(if path.is_empty() { key.clone() } else { format!("{path}.{key}") });
            }
        }
    }
    expect(
        unknown.is_empty(),
        "only fields runtime-spec 1.3.0 defines",
        format!("also {unknown:?}"),
    )
}
