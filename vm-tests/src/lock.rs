//! vm-tests/kernel.lock: which Debian kernel package the VM boots, by
//! exact version and sha256, so every machine boots the same kernel.

use anyhow::{bail, Context, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelLock {
    pub package: String,
    pub version: String,
    pub sha256: String,
}

impl KernelLock {
    pub fn parse(text: &str) -> Result<KernelLock> {
        let field = |name: &str| -> Result<String> {
            text.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .find_map(|l| {
                    let (k, v) = l.split_once('=')?;
                    (k.trim() == name).then(|| v.trim().to_string())
                })
                .with_context(|| format!("kernel.lock: no {name}"))
        };
        let lock = KernelLock {
            package: field("package")?,
            version: field("version")?,
            sha256: field("sha256")?,
        };
        if lock.sha256.len() != 64 || !lock.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("kernel.lock: sha256 {:?} is not a sha256", lock.sha256);
        }
        Ok(lock)
    }

    pub fn render(&self) -> String {
        format!(
            "# The Debian kernel `cargo xtask vm-test` boots. 6.1 keeps cgroup v1's\n\
             # memory controller without CONFIG_MEMCG_V1 (6.11+ needs it for v1 tests).\n\
             # Refresh with: cargo xtask vm-test --update-kernel\n\
             package = {}\nversion = {}\nsha256 = {}\n",
            self.package, self.version, self.sha256
        )
    }

    /// The .deb's file name as apt-get download writes it.
    pub fn deb_name(&self) -> String {
        format!("{}_{}_amd64.deb", self.package, self.version.replace(':', "%3a"))
    }

    /// The vmlinuz path inside the package.
    pub fn vmlinuz(&self) -> String {
        let release = self.package.trim_start_matches("linux-image-");
        format!("boot/vmlinuz-{release}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_lock_parses_and_round_trips() {
        let lock = KernelLock::parse(include_str!("../kernel.lock")).unwrap();
        assert!(lock.package.starts_with("linux-image-"));
        assert_eq!(KernelLock::parse(&lock.render()).unwrap(), lock);
        assert!(lock.deb_name().ends_with("_amd64.deb"));
        assert!(lock.vmlinuz().starts_with("boot/vmlinuz-6."));
    }

    #[test]
    fn a_bad_hash_is_refused() {
        let error = KernelLock::parse("package = p\nversion = 1\nsha256 = nope\n").unwrap_err();
        assert!(error.to_string().contains("sha256"));
    }
}
