//! A private apt state (its own sources.list, lists and cache under
//! target/), so packages of other Debian suites can be found and
//! downloaded without touching the host's apt configuration.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

pub struct PrivateApt {
    state: PathBuf,
    /// Debian architecture of the packages (amd64 unless cross-building).
    arch: String,
}

impl PrivateApt {
    /// Lists of `suites` (bullseye, bookworm-backports, ...) fetched into
    /// `state`.
    pub fn update(sh: &Shell, state: &Path, suites: &[&str]) -> Result<PrivateApt> {
        Self::update_arch(sh, state, suites, "amd64")
    }

    /// The same for another architecture's packages (arm64 for a cross
    /// build), the host's dpkg architectures untouched.
    pub fn update_arch(
        sh: &Shell,
        state: &Path,
        suites: &[&str],
        arch: &str,
    ) -> Result<PrivateApt> {
        if cmd!(sh, "id -u").quiet().read()?.trim() != "0" {
            bail!("packages of other Debian suites are fetched with apt as root: run this as root");
        }
        std::fs::create_dir_all(state.join("lists/partial"))?;
        std::fs::create_dir_all(state.join("cache/archives/partial"))?;
        let sources: String = suites
            .iter()
            .map(|s| {
                format!("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian {s} main\n")
            })
            .collect();
        std::fs::write(state.join("sources.list"), sources)?;
        let apt = PrivateApt { state: state.to_path_buf(), arch: arch.to_string() };
        let options = apt.options();
        cmd!(sh, "apt-get {options...} update").run().with_context(|| {
            format!("apt-get update with private sources ({})", suites.join(", "))
        })?;
        Ok(apt)
    }

    /// apt options for this state: nothing of the host's configuration used.
    pub fn options(&self) -> Vec<String> {
        let state = &self.state;
        vec![
            format!("-oDir::Etc::SourceList={}", state.join("sources.list").display()),
            "-oDir::Etc::SourceParts=/dev/null".into(),
            format!("-oDir::State::Lists={}", state.join("lists").display()),
            format!("-oDir::Cache={}", state.join("cache").display()),
            "-oAPT::Get::List-Cleanup=0".into(),
            format!("-oAPT::Architecture={}", self.arch),
            format!("-oAPT::Architectures={}", self.arch),
            "-qq".into(),
        ]
    }

    /// `apt-get download PACKAGE=VERSION` into `dir`.
    pub fn download(&self, sh: &Shell, dir: &Path, package: &str, version: &str) -> Result<()> {
        let options = self.options();
        let _dir = sh.push_dir(dir);
        let spec = format!("{package}={version}");
        cmd!(sh, "apt-get {options...} download {spec}")
            .quiet()
            .ignore_stderr()
            .run()
            .with_context(|| format!("apt-get download {spec}"))
    }

    /// Every version of `package` the suites serve, newest first.
    pub fn versions(&self, sh: &Shell, package: &str) -> Result<Vec<String>> {
        let options = self.options();
        let madison = cmd!(sh, "apt-cache {options...} madison {package}").read()?;
        let mut versions: Vec<String> = madison
            .lines()
            .filter_map(|l| l.split('|').nth(1).map(|v| v.trim().to_string()))
            .collect();
        versions.dedup();
        Ok(versions)
    }

    /// Field `key` of `package`'s stanza for `version`.
    pub fn field(&self, sh: &Shell, package: &str, version: &str, key: &str) -> Result<String> {
        let options = self.options();
        let spec = format!("{package}={version}");
        let show = cmd!(sh, "apt-cache {options...} show {spec}").read()?;
        show.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")).map(|v| v.trim().to_string()))
            .with_context(|| format!("apt-cache show {spec}: no {key}"))
    }

    /// Package names matching the regex `pattern`.
    pub fn search(&self, sh: &Shell, pattern: &str) -> Result<Vec<String>> {
        let options = self.options();
        let found = cmd!(sh, "apt-cache {options...} search --names-only {pattern}").read()?;
        Ok(found.lines().filter_map(|l| l.split_whitespace().next()).map(String::from).collect())
    }
}
