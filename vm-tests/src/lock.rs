//! vm-tests/kernel.lock: the Debian kernels `cargo xtask vm-test` boots,
//! one per series, each by exact package version and sha256, so every
//! machine boots the same kernels.
//!
//! ```text
//! default = 6.1
//! [5.10]
//! suite = bullseye
//! package = linux-image-5.10.0-32-amd64
//! version = 5.10.223-1
//! sha256 = ...
//! ```

use anyhow::{bail, Context, Result};

/// One pinned kernel package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelLock {
    /// "5.10", "6.1", "6.12": what `--kernel` names.
    pub series: String,
    /// The Debian suite that serves it (bullseye, bookworm, trixie...).
    pub suite: String,
    pub package: String,
    pub version: String,
    pub sha256: String,
}

/// Every pinned kernel, and the one booted when `--kernel` is not given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelPins {
    pub default: String,
    pub kernels: Vec<KernelLock>,
}

const HEADER: &str = "\
# The Debian kernels `cargo xtask vm-test --kernel SERIES|all` boots, one per
# series, from the Debian suites the package mirror serves. Kernels from 6.11
# on have cgroup v1's memory controller only with CONFIG_MEMCG_V1, which
# Debian leaves out: their v1 and hybrid layouts are reported as not
# available. Refresh each pin within its series with:
#   cargo xtask vm-test --update-kernel
";

impl KernelPins {
    pub fn parse(text: &str) -> Result<KernelPins> {
        let mut default = None;
        let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(series) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                sections.push((series.trim().to_string(), Vec::new()));
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .with_context(|| format!("kernel.lock line {}: not KEY = VALUE", number + 1))?;
            let (key, value) = (key.trim().to_string(), value.trim().to_string());
            match sections.last_mut() {
                Some((_, fields)) => fields.push((key, value)),
                None if key == "default" => default = Some(value),
                None => bail!("kernel.lock line {}: {key} outside a [SERIES]", number + 1),
            }
        }
        let kernels = sections
            .into_iter()
            .map(|(series, fields)| {
                let field = |name: &str| -> Result<String> {
                    fields
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .with_context(|| format!("kernel.lock [{series}]: no {name}"))
                };
                let lock = KernelLock {
                    suite: field("suite")?,
                    package: field("package")?,
                    version: field("version")?,
                    sha256: field("sha256")?,
                    series: series.clone(),
                };
                if lock.sha256.len() != 64 || !lock.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    bail!("kernel.lock [{series}]: sha256 {:?} is not a sha256", lock.sha256);
                }
                Ok(lock)
            })
            .collect::<Result<Vec<_>>>()?;
        let default = default.context("kernel.lock: no `default = SERIES`")?;
        let pins = KernelPins { default, kernels };
        pins.get(&pins.default).context("kernel.lock: the default series is not pinned")?;
        Ok(pins)
    }

    pub fn render(&self) -> String {
        let mut text = format!("{HEADER}default = {}\n", self.default);
        for k in &self.kernels {
            text += &format!(
                "\n[{}]\nsuite = {}\npackage = {}\nversion = {}\nsha256 = {}\n",
                k.series, k.suite, k.package, k.version, k.sha256
            );
        }
        text
    }

    pub fn get(&self, series: &str) -> Option<&KernelLock> {
        self.kernels.iter().find(|k| k.series == series)
    }

    /// The kernels `--kernel` names: "all", a comma list of series, or
    /// nothing (the default one).
    pub fn select(&self, wanted: Option<&str>) -> Result<Vec<&KernelLock>> {
        match wanted {
            None => Ok(vec![self.get(&self.default).expect("parse checked the default")]),
            Some("all") => Ok(self.kernels.iter().collect()),
            Some(list) => list
                .split(',')
                .map(|series| {
                    self.get(series).with_context(|| {
                        format!(
                            "--kernel {series}: not pinned in vm-tests/kernel.lock (pinned: {})",
                            self.series().join(", ")
                        )
                    })
                })
                .collect(),
        }
    }

    /// The newest pinned series ("6.12" beats "6.1" and "5.10").
    pub fn newest(&self) -> &str {
        let number =
            |s: &str| -> Vec<u32> { s.split('.').filter_map(|n| n.parse().ok()).collect() };
        self.kernels.iter().map(|k| k.series.as_str()).max_by_key(|s| number(s)).unwrap_or("")
    }

    pub fn series(&self) -> Vec<&str> {
        self.kernels.iter().map(|k| k.series.as_str()).collect()
    }
}

impl KernelLock {
    /// The .deb's file name as apt-get download writes it.
    pub fn deb_name(&self) -> String {
        format!("{}_{}_amd64.deb", self.package, self.version.replace(':', "%3a"))
    }

    /// `uname -r` of the kernel: the package name without its prefix.
    pub fn release(&self) -> &str {
        self.package.trim_start_matches("linux-image-")
    }

    /// The vmlinuz path inside the package.
    pub fn vmlinuz(&self) -> String {
        format!("boot/vmlinuz-{}", self.release())
    }

    /// The kernel's build configuration inside the package.
    pub fn config(&self) -> String {
        format!("boot/config-{}", self.release())
    }

    /// Whether a package name belongs to this series ("6.12.117+deb13-amd64"
    /// and "6.12.0-1-amd64" are 6.12; "6.1.0-50-amd64" is 6.1, not 6.12).
    pub fn in_series(series: &str, package: &str) -> bool {
        let Some(rest) = package.strip_prefix("linux-image-") else {
            return false;
        };
        let Some(tail) = rest.strip_prefix(series) else {
            return false;
        };
        let plain = tail.strip_suffix("-amd64").unwrap_or("");
        // What follows the series: ".0-N" (5.10, 6.1) or ".PATCH+debN" (6.12).
        let after = plain.strip_prefix('.').unwrap_or("");
        !after.is_empty()
            && after
                .split(['.', '-', '+'])
                .next()
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
            && !plain.contains("-rt")
            && !plain.contains("-cloud")
    }
}

/// Why a cgroup layout cannot be booted on a kernel built with `config`
/// (its /boot/config file), or None when it can.
pub fn layout_unavailable(config: &str, layout: &str) -> Option<String> {
    let set = |option: &str| config.lines().any(|l| l.trim() == format!("{option}=y"));
    let said_unset =
        |option: &str| config.lines().any(|l| l.trim() == format!("# {option} is not set"));
    match layout {
        "v1" | "hybrid" if said_unset("CONFIG_MEMCG_V1") => Some(
            "cgroup v1's memory controller: CONFIG_MEMCG_V1 is not set (kernels from 6.11 on)"
                .into(),
        ),
        _ if !set("CONFIG_CGROUPS") => Some("CONFIG_CGROUPS is not set".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_lock_parses_and_round_trips() {
        let pins = KernelPins::parse(include_str!("../kernel.lock")).unwrap();
        assert_eq!(KernelPins::parse(&pins.render()).unwrap(), pins);
        for series in ["5.10", "6.1", "6.12"] {
            let lock = pins.get(series).unwrap_or_else(|| panic!("{series} is pinned"));
            assert!(KernelLock::in_series(series, &lock.package), "{lock:?}");
            assert!(lock.deb_name().ends_with("_amd64.deb"));
            assert!(lock.vmlinuz().starts_with(&format!("boot/vmlinuz-{series}")));
        }
        assert_eq!(pins.select(None).unwrap()[0].series, pins.default);
        assert_eq!(pins.newest(), "6.12");
        assert_eq!(pins.select(Some("all")).unwrap().len(), pins.kernels.len());
        assert_eq!(pins.select(Some("6.12,5.10")).unwrap()[1].series, "5.10");
        let unknown = pins.select(Some("4.19")).unwrap_err().to_string();
        assert!(unknown.contains("4.19") && unknown.contains("6.1"), "{unknown}");
    }

    #[test]
    fn a_bad_hash_or_a_missing_default_is_refused() {
        let section = "[6.1]\nsuite = s\npackage = p\nversion = 1\nsha256 = nope\n";
        let error = KernelPins::parse(&format!("default = 6.1\n{section}")).unwrap_err();
        assert!(error.to_string().contains("sha256"));
        let good = section.replace("nope", &"a".repeat(64));
        let error = KernelPins::parse(&good).unwrap_err();
        assert!(error.to_string().contains("default"), "{error}");
        let error = KernelPins::parse(&format!("default = 5.10\n{good}")).unwrap_err();
        assert!(error.to_string().contains("default series"), "{error}");
    }

    #[test]
    fn packages_are_told_apart_by_series() {
        assert!(KernelLock::in_series("6.1", "linux-image-6.1.0-50-amd64"));
        assert!(!KernelLock::in_series("6.1", "linux-image-6.12.117+deb13-amd64"));
        assert!(KernelLock::in_series("6.12", "linux-image-6.12.117+deb13-amd64"));
        assert!(KernelLock::in_series("5.10", "linux-image-5.10.0-32-amd64"));
        assert!(!KernelLock::in_series("6.1", "linux-image-6.1.0-50-rt-amd64"));
        assert!(!KernelLock::in_series("6.1", "linux-image-6.1.0-50-amd64-dbg"));
    }

    #[test]
    fn v1_layouts_need_the_v1_memory_controller() {
        let old = "CONFIG_CGROUPS=y\nCONFIG_MEMCG=y\n";
        let new = "CONFIG_CGROUPS=y\nCONFIG_MEMCG=y\n# CONFIG_MEMCG_V1 is not set\n";
        for layout in ["v2", "v1", "hybrid"] {
            assert_eq!(layout_unavailable(old, layout), None);
        }
        assert_eq!(layout_unavailable(new, "v2"), None);
        assert!(layout_unavailable(new, "v1").unwrap().contains("CONFIG_MEMCG_V1"));
        assert!(layout_unavailable(new, "hybrid").is_some());
    }
}
