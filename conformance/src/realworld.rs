//! Real-world inputs: the corpus of seccomp profiles and configs that
//! engines and runtimes ship, taken at test time from Debian packages and
//! from `spec` commands (`cargo xtask corpus` fills it; never hand-copied
//! into the repository), and the resolution engines apply to a profile
//! before it reaches a runtime.
//!
//! Engines' profiles (Docker's `default.json`, containers-common's
//! `seccomp.json`) are not OCI documents: rules carry `includes`/`excludes`
//! conditions on capabilities, architecture and kernel, and an `archMap`.
//! podman and containerd resolve them for the container's capabilities and
//! the host's architecture; [`resolve_profile`] does the same, so the
//! runtime gets what it would get from an engine.

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static CORPUS: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Sets where the corpus is (`--corpus`, else `$LITMUS_CORPUS`).
pub fn set_corpus(dir: Option<PathBuf>) {
    let dir = dir.or_else(|| std::env::var_os("LITMUS_CORPUS").map(PathBuf::from));
    let _ = CORPUS.set(dir);
}

/// The corpus directory, or why there is none (a case then skips).
pub fn corpus() -> Result<&'static Path, String> {
    match CORPUS.get().and_then(|d| d.as_deref()) {
        Some(dir) if dir.is_dir() => Ok(dir),
        Some(dir) => Err(format!(
            "the corpus {} does not exist (`cargo xtask corpus` builds it)",
            dir.display()
        )),
        None => Err(
            "no corpus of real-world profiles and configs: pass --corpus DIR or set LITMUS_CORPUS (`cargo xtask corpus` builds one in target/corpus)"
                .into(),
        ),
    }
}

/// The `*.json` files of a corpus subdirectory, sorted by name.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// What the container is resolved for.
pub struct Target<'a> {
    /// Capabilities in the bounding set ("CAP_CHOWN" ...).
    pub caps: &'a [String],
    /// Go's name of the architecture, as the profiles' conditions use it.
    pub arch: &'a str,
    /// The host kernel (major, minor).
    pub kernel: (u32, u32),
}

impl Target<'_> {
    pub fn host_kernel() -> (u32, u32) {
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        parse_kernel(&release).unwrap_or((0, 0))
    }
}

fn parse_kernel(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The seccomp architecture names for `SCMP_ARCH_X86_64` hosts.
const HOST_SECCOMP_ARCH: &str = "SCMP_ARCH_X86_64";

/// An engine profile resolved to an OCI `linux.seccomp` for `target`.
pub fn resolve_profile(profile: &Value, target: &Target) -> Result<Value> {
    let Some(object) = profile.as_object() else {
        bail!("the profile is not a JSON object");
    };
    let mut out = Map::new();
    let default_action =
        object.get("defaultAction").cloned().context("the profile has no defaultAction")?;
    out.insert("defaultAction".into(), default_action);
    if let Some(ret) = object.get("defaultErrnoRet") {
        out.insert("defaultErrnoRet".into(), ret.clone());
    }
    let architectures: Vec<Value> = if let Some(map) = object.get("archMap") {
        map.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["architecture"] == HOST_SECCOMP_ARCH)
            .flat_map(|e| {
                std::iter::once(e["architecture"].clone())
                    .chain(e["subArchitectures"].as_array().cloned().unwrap_or_default())
            })
            .collect()
    } else {
        object.get("architectures").and_then(Value::as_array).cloned().unwrap_or_default()
    };
    if !architectures.is_empty() {
        out.insert("architectures".into(), Value::Array(architectures));
    }
    let mut syscalls = Vec::new();
    for rule in object.get("syscalls").and_then(Value::as_array).into_iter().flatten() {
        if !applies(rule, target) {
            continue;
        }
        let names: Vec<Value> = match (rule.get("names"), rule.get("name")) {
            (Some(names), _) => names.as_array().cloned().unwrap_or_default(),
            (None, Some(name)) => vec![name.clone()],
            (None, None) => bail!("a rule without names: {rule}"),
        };
        if names.is_empty() {
            continue;
        }
        let mut resolved = json!({ "names": names, "action": rule["action"] });
        for key in ["args", "errnoRet"] {
            if let Some(v) = rule.get(key).filter(|v| !v.is_null()) {
                resolved[key] = v.clone();
            }
        }
        syscalls.push(resolved);
    }
    out.insert("syscalls".into(), Value::Array(syscalls));
    Ok(Value::Object(out))
}

/// Whether a rule's `includes` hold and its `excludes` do not, for
/// `target` (Docker's and containers-common's semantics: every included
/// capability must be present; any excluded one present drops the rule).
fn applies(rule: &Value, target: &Target) -> bool {
    let list = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect()
    };
    let includes = &rule["includes"];
    let excludes = &rule["excludes"];
    let has = |cap: &String| target.caps.contains(cap);
    let inc_caps = list(&includes["caps"]);
    if !inc_caps.iter().all(has) {
        return false;
    }
    let inc_arches = list(&includes["arches"]);
    if !inc_arches.is_empty() && !inc_arches.iter().any(|a| a == target.arch) {
        return false;
    }
    if let Some(min) = includes["minKernel"].as_str().and_then(parse_kernel) {
        if target.kernel < min {
            return false;
        }
    }
    if list(&excludes["caps"]).iter().any(has) {
        return false;
    }
    if list(&excludes["arches"]).iter().any(|a| a == target.arch) {
        return false;
    }
    true
}

/// What a resolved profile does with a syscall called without argument
/// conditions: `None` if some rule allows it (or may, under conditions),
/// else the errno it returns.
pub fn denies_with(resolved: &Value, name: &str) -> Option<i32> {
    let rules: Vec<&Value> = resolved["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["names"].as_array().is_some_and(|n| n.iter().any(|s| s == name)))
        .collect();
    let errno_of = |action: &Value, ret: &Value| -> Option<i32> {
        (action == "SCMP_ACT_ERRNO").then(|| ret.as_i64().map(|r| r as i32).unwrap_or(libc::EPERM))
    };
    if rules.is_empty() {
        return errno_of(&resolved["defaultAction"], &resolved["defaultErrnoRet"]);
    }
    // One unconditional errno rule decides; anything else (an allow, a
    // rule on arguments) makes the outcome depend on more than the name.
    match rules.as_slice() {
        [rule] if rule.get("args").is_none_or(|a| a.as_array().is_none_or(Vec::is_empty)) => {
            errno_of(&rule["action"], &rule["errnoRet"])
        }
        _ => None,
    }
}

/// A short, stable name of a corpus file for messages.
pub fn label(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(caps: &[&str]) -> (Vec<String>, (u32, u32)) {
        (caps.iter().map(|c| c.to_string()).collect(), (6, 1))
    }

    #[test]
    fn conditions_follow_caps_arch_and_kernel() {
        let profile = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "archMap": [
                {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
            ],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT"]}},
                {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
                {"names": ["s390_pci_mmio_read"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
                {"names": ["close_range"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.9"}},
                {"names": ["futex_waitv"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.7"}},
                {"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "excludes": {"caps": ["CAP_SYS_CHROOT"]}},
                {"name": "old_style", "action": "SCMP_ACT_ALLOW", "args": []}
            ]
        });
        let resolve_with = |with: &[&str]| {
            let (caps, kernel) = target(with);
            let host = Target { caps: &caps, arch: "amd64", kernel };
            resolve_profile(&profile, &host).unwrap()
        };
        let resolved = resolve_with(&["CAP_CHOWN"]);
        assert_eq!(
            resolved["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        let names: Vec<&str> = resolved["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["names"].as_array().unwrap().iter())
            .map(|n| n.as_str().unwrap())
            .collect();
        assert_eq!(names, ["read", "write", "arch_prctl", "close_range", "chroot", "old_style"]);
        assert_eq!(denies_with(&resolved, "reboot"), Some(38));
        assert_eq!(denies_with(&resolved, "chroot"), Some(1));
        assert_eq!(denies_with(&resolved, "read"), None);
        assert!(resolved["syscalls"][0].get("includes").is_none());

        let resolved = resolve_with(&["CAP_SYS_BOOT", "CAP_SYS_CHROOT"]);
        assert_eq!(denies_with(&resolved, "reboot"), None);
        assert_eq!(denies_with(&resolved, "chroot"), Some(38));
    }

    #[test]
    fn kernel_versions_parse_from_uname_releases() {
        assert_eq!(parse_kernel("6.1.0-13-amd64"), Some((6, 1)));
        assert_eq!(parse_kernel("5.10"), Some((5, 10)));
        assert_eq!(parse_kernel("x"), None);
    }
}
