//! Loading and validating a bundle's config.json.
//!
//! Everything that can be checked without touching the system is checked
//! here, before any state is created, so that bad input fails fast and leaves
//! nothing behind. Each error names the offending field.

use crate::fault::Fault;
use crate::namespaces;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Reads `<bundle>/config.json`. Syntax and type errors carry the line and
/// column serde_json reports.
pub fn load(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound if !bundle.is_dir() => {
            anyhow!("bundle {} does not exist or is not a directory", bundle.display())
        }
        std::io::ErrorKind::NotFound => anyhow!("{} not found", path.display()),
        _ => anyhow!("reading {}: {e}", path.display()),
    })?;
    parse(&bytes).with_context(|| format!("invalid {}", path.display()))
}

/// Parses config.json; errors name the field (as a JSON path) and the
/// line and column, e.g. `process.user.uid: invalid type: string "root",
/// expected u32 (line 4, column 20)`.
pub fn parse(bytes: &[u8]) -> Result<Spec> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let message =
            message.rsplit_once(" at line").map(|(m, _)| m.to_string()).unwrap_or(message);
        let at = format!("(line {}, column {})", inner.line(), inner.column());
        if field == "." {
            anyhow!("{message} {at}")
        } else {
            anyhow!("{field}: {message} {at}")
        }
    })
}

/// The rootfs path of `spec`, made absolute against the bundle.
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec.root().as_ref().ok_or_else(|| anyhow!("root: missing"))?;
    let path = root.path();
    Ok(if path.is_absolute() { path.clone() } else { bundle.join(path) })
}

/// Checks what must hold before `create` may touch the system.
/// config.md: a hook's path "MUST be absolute", and its timeout "MUST be
/// greater than zero".
fn validate_hooks(spec: &Spec) -> Result<()> {
    let Some(hooks) = spec.hooks() else {
        return Ok(());
    };
    let phases = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ];
    for (phase, list) in phases {
        for (i, hook) in list.iter().flatten().enumerate() {
            if !hook.path().is_absolute() {
                bail!("hooks.{phase}[{i}].path: {:?} is not absolute", hook.path());
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                bail!("hooks.{phase}[{i}].timeout: must be greater than zero");
            }
        }
    }
    Ok(())
}

/// A config that passed [`validate`]: what validation proved present
/// (`process`, `process.args`, `linux`) is reached without unwrapping.
/// Only `validate` makes one; everything else of the config is the
/// [`Spec`] it derefs to.
pub struct Validated(Spec);

impl Validated {
    pub fn process(&self) -> &oci_spec::runtime::Process {
        self.0.process().as_ref().expect("validate checked process")
    }

    pub fn process_mut(&mut self) -> &mut oci_spec::runtime::Process {
        self.0.process_mut().as_mut().expect("validate checked process")
    }

    pub fn args(&self) -> &[String] {
        self.process().args().as_deref().expect("validate checked process.args")
    }

    pub fn linux(&self) -> &oci_spec::runtime::Linux {
        self.0.linux().as_ref().expect("validate checked linux")
    }
}

impl std::ops::Deref for Validated {
    type Target = Spec;
    fn deref(&self) -> &Spec {
        &self.0
    }
}

/// Checks `spec` (with its bundle) and returns it as [`Validated`], or the
/// first problem, naming the field.
pub fn validate(spec: Spec, bundle: &Path) -> Result<Validated> {
    check(&spec, bundle)?;
    Ok(Validated(spec))
}

fn check(spec: &Spec, bundle: &Path) -> Result<()> {
    validate_version(spec.version())?;
    let rootfs = rootfs_path(spec, bundle)?;
    if !rootfs.is_dir() {
        bail!("root.path: {} is not a directory", rootfs.display());
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("process: missing (required to create a container)"))?;
    validate_process(process)?;
    for (i, mount) in spec.mounts().iter().flatten().enumerate() {
        if mount.destination().as_os_str().is_empty() {
            bail!("mounts[{i}].destination: empty");
        }
        if Fault::RelativeDestinationRefused.active() && mount.destination().is_relative() {
            bail!("mounts[{i}].destination: relative");
        }
    }
    validate_hooks(spec)?;
    crate::rootfs::idmap::check(spec)?;
    validate_host_security(spec, &HostSecurity::detect())?;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| anyhow!("linux: missing (this runtime runs Linux containers)"))?;
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    let mut seen = HashSet::new();
    for ns in &namespaces {
        if !seen.insert(ns.typ()) {
            bail!("linux.namespaces: {} is listed more than once", ns.typ());
        }
        if let Some(path) = ns.path() {
            namespaces::check_path(ns.typ(), path)?;
        }
    }
    let has_new = |typ| namespaces.iter().any(|ns| ns.typ() == typ);
    if has_new(LinuxNamespaceType::Time) && Fault::TimeNamespaceListedNotAccepted.active() {
        bail!("linux.namespaces: time is not supported");
    }
    if !has_new(LinuxNamespaceType::Mount) && Fault::RequireMountNamespace.active() {
        bail!("linux.namespaces: a mount namespace is required");
    }
    if !has_new(LinuxNamespaceType::Mount) {
        // The container shares our mount namespace (chroot, as runc): what
        // would be mounted over the host's paths is refused, by name.
        let without = "needs a mount namespace (linux.namespaces lists none, so the container shares the host's)";
        if linux.masked_paths().as_ref().is_some_and(|p| !p.is_empty()) {
            bail!("linux.maskedPaths: {without}");
        }
        if linux.readonly_paths().as_ref().is_some_and(|p| !p.is_empty()) {
            bail!("linux.readonlyPaths: {without}");
        }
        if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
            bail!("root.readonly: {without}");
        }
        if linux.rootfs_propagation().is_some() {
            bail!("linux.rootfsPropagation: {without}");
        }
    }
    let has_mappings = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if has_mappings && !has_new(LinuxNamespaceType::User) {
        bail!("linux.uidMappings/gidMappings: given without a user namespace");
    }
    // Without mappings nothing in a new user namespace maps to a host id
    // (every file and the process itself would be the overflow id); runc
    // refuses it too, crun fills in the caller's ids.
    let new_user =
        namespaces.iter().any(|ns| ns.typ() == LinuxNamespaceType::User && ns.path().is_none());
    if new_user {
        if linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            bail!("linux.uidMappings: a new user namespace needs id mappings (none given)");
        }
        if linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            bail!("linux.gidMappings: a new user namespace needs id mappings (none given)");
        }
    }
    // New or joined (a pod's shared one): either is the container's. Only
    // the host's own is refused: setting it would rename the host.
    let own_uts = owns_namespace(&namespaces, LinuxNamespaceType::Uts);
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !own_uts {
        bail!("hostname: cannot be set without a uts namespace (it would be the host's)");
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !own_uts {
        bail!("domainname: cannot be set without a uts namespace (it would be the host's)");
    }
    for key in linux.sysctl().iter().flatten().map(|(k, _)| k) {
        validate_sysctl(key, &namespaces)?;
    }
    if let Some(devices) = linux.net_devices() {
        crate::net_devices::check(devices, &namespaces)?;
    }
    if let Some(policy) = linux.memory_policy() {
        crate::memory_policy::check(policy)?;
    }
    if let Some(seccomp) = linux.seccomp() {
        // Compiling is the validation: it names the bad field.
        crate::seccomp::compile(seccomp)?;
        if crate::seccomp::uses_notify(seccomp) && seccomp.listener_path().is_none() {
            bail!("linux.seccomp.listenerPath: required when an action is SCMP_ACT_NOTIFY");
        }
    }
    Ok(())
}

/// The rules for a process, shared by config.json and `exec --process`.
pub fn validate_process(process: &oci_spec::runtime::Process) -> Result<()> {
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("process.args: must name the program to run");
    }
    if !process.cwd().is_absolute() {
        bail!("process.cwd: {:?} is not an absolute path", process.cwd());
    }
    if Fault::ConsoleSizeNeedsTerminal.active()
        && process.console_size().is_some()
        && process.terminal() != Some(true)
    {
        bail!("process.consoleSize: needs a terminal");
    }
    if let Some(env) = process.env() {
        if let Some(bad) = env.iter().find(|kv| !kv.contains('=')) {
            bail!("process.env: {bad:?} is not of the form KEY=VALUE");
        }
    }
    if let Some(rlimits) = process.rlimits() {
        let mut seen = HashSet::new();
        for rlimit in rlimits {
            if !seen.insert(rlimit.typ().to_string()) {
                bail!("process.rlimits: {:?} is given more than once", rlimit.typ());
            }
            if rlimit.soft() > rlimit.hard() {
                bail!("process.rlimits: {:?} soft limit exceeds its hard limit", rlimit.typ());
            }
        }
    }
    Ok(())
}

/// Accepts 1.x.y (with optional pre-release): the versions this runtime speaks.
fn validate_version(version: &str) -> Result<()> {
    let Ok(parsed) = semver::Version::parse(version) else {
        bail!("ociVersion: {version:?} is not a semantic version");
    };
    if Fault::OldestVersionRefused.active() && version == "1.0.0" {
        bail!("ociVersion: {version} is too old");
    }
    if parsed.major != 1 {
        bail!("ociVersion: {version} is not supported (this runtime speaks 1.x)");
    }
    Ok(())
}

/// A sysctl may only be set when it lives in a namespace the container owns
/// (runtime-linux: the runtime MUST NOT change the host's kernel parameters).
/// Whether the container has a namespace of `typ` other than the
/// runtime's own: a new one, or one joined by path (a pod's shared one)
/// that is not the namespace the runtime itself is in. Writing a sysctl or
/// the hostname there cannot change the host.
fn owns_namespace(
    namespaces: &[oci_spec::runtime::LinuxNamespace],
    typ: LinuxNamespaceType,
) -> bool {
    use std::os::unix::fs::MetadataExt;
    let identity = |path: &Path| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let ours = identity(&Path::new("/proc/self/ns").join(namespaces::proc_name(typ)));
    namespaces.iter().any(|ns| {
        ns.typ() == typ
            && match ns.path() {
                None => true,
                Some(path) => {
                    !Fault::SysctlNeedsNewNamespace.active()
                        && identity(path).is_some()
                        && identity(path) != ours
                }
            }
    })
}

fn validate_sysctl(key: &str, namespaces: &[oci_spec::runtime::LinuxNamespace]) -> Result<()> {
    let owns = |typ: LinuxNamespaceType| owns_namespace(namespaces, typ);
    const IPC_KEYS: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let needed = if IPC_KEYS.contains(&key) || key.starts_with("fs.mqueue.") {
        LinuxNamespaceType::Ipc
    } else if key.starts_with("net.") {
        LinuxNamespaceType::Network
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        LinuxNamespaceType::Uts
    } else {
        bail!("linux.sysctl: {key} is not namespaced; setting it would change the host");
    };
    if !owns(needed) {
        bail!("linux.sysctl: {key} needs a {needed} namespace of the container's own (new, or joined by path but not the host's)");
    }
    Ok(())
}

/// Which of the Linux security modules and RDT this host offers.
pub struct HostSecurity {
    pub apparmor: bool,
    pub selinux: bool,
    pub resctrl: bool,
}

impl HostSecurity {
    pub fn detect() -> HostSecurity {
        let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.trim() == "Y");
        let selinux = Path::new("/sys/fs/selinux/enforce").exists();
        let resctrl = std::fs::read_to_string("/proc/self/mountinfo")
            .is_ok_and(|m| m.lines().any(|l| l.contains(" - resctrl ")));
        HostSecurity { apparmor, selinux, resctrl }
    }
}

/// An AppArmor profile, SELinux label or RDT class is a security or
/// isolation promise: asked for and not kept, the container must not run.
/// AppArmor profiles and SELinux labels are applied where their module is
/// enabled (process.rs, rootfs); elsewhere, and for RDT classes (not
/// applied by this runtime), a request is an error naming the field and why.
pub fn validate_host_security(spec: &Spec, host: &HostSecurity) -> Result<()> {
    let set = |value: Option<&String>| value.is_some_and(|v| !v.is_empty());
    let process = spec.process().as_ref();
    let linux = spec.linux().as_ref();
    let requests = [
        (
            "process.apparmorProfile",
            "AppArmor",
            host.apparmor,
            set(process.and_then(|p| p.apparmor_profile().as_ref())),
        ),
        (
            "process.selinuxLabel",
            "SELinux",
            host.selinux,
            set(process.and_then(|p| p.selinux_label().as_ref())),
        ),
        (
            "linux.mountLabel",
            "SELinux",
            host.selinux,
            set(linux.and_then(|l| l.mount_label().as_ref())),
        ),
    ];
    for (field, module, enabled, requested) in requests {
        if requested && !enabled {
            bail!("{field}: {module} is not enabled on this host, so it cannot be applied");
        }
    }
    if linux.and_then(|l| l.intel_rdt().as_ref()).is_some() {
        if host.resctrl {
            bail!("linux.intelRdt: resctrl (Intel RDT) is enabled on this host, but litmus-runtime does not apply RDT classes; remove the field or use a runtime that does");
        }
        bail!("linux.intelRdt: resctrl (Intel RDT) is not enabled on this host, so it cannot be applied");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxNamespaceBuilder, Spec};

    fn bundle_with_rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        dir
    }

    fn valid() -> Spec {
        let mut spec = Spec::default();
        spec.set_version("1.2.0".into());
        spec
    }

    fn error_of(spec: &Spec) -> String {
        let bundle = bundle_with_rootfs();
        format!("{:#}", check(spec, bundle.path()).unwrap_err())
    }

    fn without(mut spec: Spec, typ: LinuxNamespaceType) -> Spec {
        let linux = spec.linux_mut().as_mut().unwrap();
        let namespaces = linux.namespaces().clone().unwrap_or_default();
        linux.set_namespaces(Some(namespaces.into_iter().filter(|n| n.typ() != typ).collect()));
        spec
    }

    #[test]
    fn a_new_user_namespace_without_mappings_is_refused_by_field() {
        let mut spec = valid();
        let linux = spec.linux_mut().as_mut().unwrap();
        let mut namespaces = linux.namespaces().clone().unwrap_or_default();
        namespaces.push(
            oci_spec::runtime::LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .unwrap(),
        );
        linux.set_namespaces(Some(namespaces));
        assert!(error_of(&spec).starts_with("linux.uidMappings: a new user namespace needs"));
        let mapping = oci_spec::runtime::LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(100_000u32)
            .size(1u32)
            .build()
            .unwrap();
        let linux = spec.linux_mut().as_mut().unwrap();
        linux.set_uid_mappings(Some(vec![mapping]));
        assert!(error_of(&spec).starts_with("linux.gidMappings: a new user namespace needs"));
        let linux = spec.linux_mut().as_mut().unwrap();
        linux.set_gid_mappings(Some(vec![mapping]));
        let bundle = bundle_with_rootfs();
        check(&spec, bundle.path()).unwrap();
    }

    #[test]
    fn without_a_mount_namespace_only_what_would_touch_the_host_is_refused() {
        let bundle = bundle_with_rootfs();
        let mut spec = without(valid(), LinuxNamespaceType::Mount);
        assert!(error_of(&spec).starts_with("linux.maskedPaths: needs a mount namespace"));
        let linux = spec.linux_mut().as_mut().unwrap();
        linux.set_masked_paths(None);
        assert!(error_of(&spec).starts_with("linux.readonlyPaths: needs a mount namespace"));
        spec.linux_mut().as_mut().unwrap().set_readonly_paths(None);
        assert!(error_of(&spec).starts_with("root.readonly: needs a mount namespace"));
        spec.root_mut().as_mut().unwrap().set_readonly(Some(false));
        check(&spec, bundle.path()).unwrap();
    }

    #[test]
    fn a_hostname_needs_a_uts_namespace_new_or_joined() {
        let bundle = bundle_with_rootfs();
        let mut spec = without(valid(), LinuxNamespaceType::Uts);
        spec.set_hostname(Some("pod".into()));
        assert!(error_of(&spec).starts_with("hostname: cannot be set without a uts namespace"));
        let linux = spec.linux_mut().as_mut().unwrap();
        let namespaces = linux.namespaces().clone().unwrap_or_default();
        let joining = |spec: &Spec, path: &str| {
            let mut spec = spec.clone();
            let linux = spec.linux_mut().as_mut().unwrap();
            let mut namespaces = namespaces.clone();
            namespaces.push(
                LinuxNamespaceBuilder::default()
                    .typ(LinuxNamespaceType::Uts)
                    .path(path)
                    .build()
                    .unwrap(),
            );
            linux.set_namespaces(Some(namespaces));
            spec
        };
        // Joining the runtime's own (the host's) would rename the host.
        assert!(
            error_of(&joining(&spec, "/proc/self/ns/uts")).starts_with("hostname: cannot be set"),
            "the host's uts namespace joined by path"
        );
        // A pod's: another process's namespace.
        if nix::unistd::geteuid().is_root() {
            use std::os::unix::process::CommandExt;
            let mut holder = std::process::Command::new("/bin/sleep");
            holder.arg("30");
            // SAFETY: unshare(2) between fork and exec, nothing else.
            unsafe {
                holder.pre_exec(|| {
                    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS)
                        .map_err(std::io::Error::from)
                });
            }
            let mut holder = holder.spawn().unwrap();
            let path = format!("/proc/{}/ns/uts", holder.id());
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while std::fs::read_link(&path).ok() == std::fs::read_link("/proc/self/ns/uts").ok()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            let result = check(&joining(&spec, &path), bundle.path());
            let _ = holder.kill();
            let _ = holder.wait();
            result.unwrap();
        }
    }

    #[test]
    fn the_default_spec_is_valid() {
        let bundle = bundle_with_rootfs();
        check(&valid(), bundle.path()).unwrap();
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let err = parse(b"{\n  \"ociVersion\": \"1.0.0\",\n  oops\n}").unwrap_err();
        assert!(err.to_string().contains("line 3, column 3"), "{err}");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = parse(br#"{"ociVersion": 1}"#).unwrap_err().to_string();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn missing_bundle_and_missing_config_are_told_apart() {
        let err = load(Path::new("/nonexistent/bundle")).unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        let bundle = tempfile::tempdir().unwrap();
        let err = load(bundle.path()).unwrap_err().to_string();
        assert!(err.contains("config.json not found"), "{err}");
    }

    #[test]
    fn unsupported_versions_are_rejected() {
        for bad in ["2.0.0", "1.0", "banana", ""] {
            let mut spec = valid();
            spec.set_version(bad.into());
            assert!(error_of(&spec).starts_with("ociVersion"), "{bad}");
        }
        validate_version("1.0.2-dev").unwrap();
    }

    #[test]
    fn missing_rootfs_names_root_path() {
        let spec = valid();
        let empty = tempfile::tempdir().unwrap();
        let err = check(&spec, empty.path()).unwrap_err().to_string();
        assert!(err.starts_with("root.path"), "{err}");
    }

    #[test]
    fn relative_cwd_and_empty_args_are_rejected() {
        let mut spec = valid();
        spec.process_mut().as_mut().unwrap().set_cwd("relative".into());
        assert!(error_of(&spec).starts_with("process.cwd"));
        let mut spec = valid();
        spec.process_mut().as_mut().unwrap().set_args(Some(vec![]));
        assert!(error_of(&spec).starts_with("process.args"));
    }

    #[test]
    fn relative_hook_paths_are_refused_naming_the_hook() {
        let mut spec = Spec::default();
        let hook = oci_spec::runtime::HookBuilder::default().path("bin/true").build().unwrap();
        let hooks =
            oci_spec::runtime::HooksBuilder::default().poststart(vec![hook]).build().unwrap();
        spec.set_hooks(Some(hooks));
        let err = validate_hooks(&spec).unwrap_err();
        assert!(format!("{err}").contains("hooks.poststart[0].path"), "{err}");
    }

    const NO_SECURITY: HostSecurity =
        HostSecurity { apparmor: false, selinux: false, resctrl: false };
    const ALL_SECURITY: HostSecurity =
        HostSecurity { apparmor: true, selinux: true, resctrl: true };

    #[rstest::rstest]
    #[case::apparmor(
        |s: &mut Spec| {
            s.process_mut().as_mut().unwrap().set_apparmor_profile(Some("litmus-test".into()));
        },
        "process.apparmorProfile: AppArmor is not enabled"
    )]
    #[case::selinux_label(
        |s: &mut Spec| {
            s.process_mut().as_mut().unwrap().set_selinux_label(Some("system_u:system_r:container_t:s0".into()));
        },
        "process.selinuxLabel: SELinux is not enabled"
    )]
    #[case::mount_label(
        |s: &mut Spec| {
            s.linux_mut().as_mut().unwrap().set_mount_label(Some("system_u:object_r:container_file_t:s0".into()));
        },
        "linux.mountLabel: SELinux is not enabled"
    )]
    fn security_requests_the_host_cannot_honour_are_refused_naming_the_field(
        #[case] request: fn(&mut Spec),
        #[case] refusal: &str,
    ) {
        assert!(validate_host_security(&valid(), &NO_SECURITY).is_ok());
        let mut spec = valid();
        request(&mut spec);
        let err = format!("{:#}", validate_host_security(&spec, &NO_SECURITY).unwrap_err());
        assert!(err.starts_with(refusal), "{err}");
        assert!(validate_host_security(&spec, &ALL_SECURITY).is_ok(), "applied where enabled");
    }

    #[test]
    fn intel_rdt_is_refused_with_or_without_resctrl() {
        let mut spec = valid();
        let linux = spec.linux_mut().as_mut().unwrap();
        linux.set_intel_rdt(Some(Default::default()));
        let err = format!("{:#}", validate_host_security(&spec, &NO_SECURITY).unwrap_err());
        assert!(err.starts_with("linux.intelRdt: resctrl"), "{err}");
        let err = format!("{:#}", validate_host_security(&spec, &ALL_SECURITY).unwrap_err());
        assert!(err.contains("does not apply RDT"), "{err}");
    }

    #[test]
    fn duplicate_namespaces_are_rejected() {
        let mut spec = valid();
        let linux = spec.linux_mut().as_mut().unwrap();
        let mut nss = linux.namespaces().clone().unwrap();
        nss.push(LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Pid).build().unwrap());
        linux.set_namespaces(Some(nss));
        assert!(error_of(&spec).contains("pid is listed more than once"), "{}", error_of(&spec));
    }

    #[test]
    fn sysctls_outside_the_containers_namespaces_are_rejected() {
        let nss = oci_spec::runtime::get_default_namespaces();
        validate_sysctl("net.ipv4.ip_forward", &nss).unwrap();
        validate_sysctl("kernel.shmmax", &nss).unwrap();
        let err = validate_sysctl("vm.swappiness", &nss).unwrap_err().to_string();
        assert!(err.contains("not namespaced"), "{err}");
        let no_net: Vec<_> =
            nss.into_iter().filter(|n| n.typ() != LinuxNamespaceType::Network).collect();
        assert!(validate_sysctl("net.ipv4.ip_forward", &no_net).is_err());
        // Joined by path: the runtime's own namespace is the host's.
        let joined = |path: &str| {
            let mut nss = no_net.clone();
            nss.push(
                oci_spec::runtime::LinuxNamespaceBuilder::default()
                    .typ(LinuxNamespaceType::Network)
                    .path(path)
                    .build()
                    .unwrap(),
            );
            nss
        };
        let err = validate_sysctl("net.ipv4.ip_forward", &joined("/proc/self/ns/net"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not the host's"), "{err}");
        assert!(validate_sysctl("net.ipv4.ip_forward", &joined("/nonexistent/ns/net")).is_err());
    }
}

#[cfg(test)]
mod parse_tests {
    #[test]
    fn type_errors_name_the_field_path() {
        let error = super::parse(
            br#"{"ociVersion":"1.0.2","process":{"user":{"uid":"root","gid":0},"cwd":"/"}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.starts_with("process.user.uid: invalid type"), "{error}");
        assert!(error.contains("line 1"), "{error}");
    }
}
