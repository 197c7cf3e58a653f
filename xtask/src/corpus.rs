//! `cargo xtask corpus`: the real-world inputs of the suite's `realworld`
//! area, taken at test time from what Debian ships (never copied into the
//! repository):
//!
//! - seccomp/: every vintage of Docker's default profile (the
//!   `golang-github-docker-docker-dev` source package, with its pre-1.12
//!   single-name format kept as a fixture there) and of containers-common's
//!   `seccomp.json` (podman, CRI-O) that bullseye, bookworm and trixie
//!   serve, fetched with a private apt state so the host's sources stay
//!   untouched;
//! - configs/: what `runc spec` (plain and `--rootless`) and `crun spec`
//!   write. Not `crun spec --rootless`: it leaves the id mappings out for
//!   crun to fill from the caller's ids, so no other runtime can run it as
//!   written (runc refuses it: "no uid mappings found").
//!
//! The corpus goes to target/corpus; the suite finds it via LITMUS_CORPUS.

use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

const SUITES: &[&str] = &["bullseye", "bookworm", "trixie"];

/// (package, label of its profiles, path of a profile inside the package).
const PROFILES: &[(&str, &str, &str)] = &[
    (
        "golang-github-containers-common",
        "containers-common",
        "usr/share/containers/seccomp.json",
    ),
    (
        "golang-github-docker-docker-dev",
        "docker",
        "usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json",
    ),
    (
        "golang-github-docker-docker-dev",
        "docker-pre-1.12-format",
        "usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/fixtures/default-old-format.json",
    ),
];

pub fn dir() -> PathBuf {
    super::workspace_root().join("target/corpus")
}

/// Builds the corpus unless it is there (`refresh`: again), and points
/// LITMUS_CORPUS at it for every suite run of this xtask.
pub fn ensure(sh: &Shell, refresh: bool) -> Result<PathBuf> {
    let dir = dir();
    let done = dir.join(".complete");
    if refresh || !done.exists() {
        super::step("building the real-world corpus (Debian packages, spec commands)");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("seccomp"))?;
        std::fs::create_dir_all(dir.join("configs"))?;
        profiles(sh, &dir.join("seccomp"))?;
        spec_configs(sh, &dir.join("configs"))?;
        std::fs::write(&done, "")?;
    }
    std::env::set_var("LITMUS_CORPUS", &dir);
    Ok(dir)
}

/// apt options for a private state: lists of every suite, nothing of the
/// host's configuration changed.
fn apt_options(state: &Path) -> Vec<String> {
    vec![
        format!("-oDir::Etc::SourceList={}", state.join("sources.list").display()),
        "-oDir::Etc::SourceParts=/dev/null".into(),
        format!("-oDir::State::Lists={}", state.join("lists").display()),
        format!("-oDir::Cache={}", state.join("cache").display()),
        "-oAPT::Get::List-Cleanup=0".into(),
        "-qq".into(),
    ]
}

fn profiles(sh: &Shell, out: &Path) -> Result<()> {
    if cmd!(sh, "id -u").quiet().read()?.trim() != "0" {
        bail!("the corpus is fetched with apt as root: sudo cargo xtask corpus");
    }
    let state = super::workspace_root().join("target/corpus-apt");
    std::fs::create_dir_all(state.join("lists/partial"))?;
    std::fs::create_dir_all(state.join("cache/archives/partial"))?;
    let sources: String = SUITES
        .iter()
        .map(|s| {
            format!("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian {s} main\n")
        })
        .collect();
    std::fs::write(state.join("sources.list"), sources)?;
    let options = apt_options(&state);
    let options = options.as_slice();
    cmd!(sh, "apt-get {options...} update")
        .run()
        .context("apt-get update with the private corpus sources (bullseye, bookworm, trixie)")?;
    let downloads = state.join("debs");
    std::fs::create_dir_all(&downloads)?;
    let packages: HashSet<&str> = PROFILES.iter().map(|p| p.0).collect();
    let mut seen = HashSet::new();
    for package in packages {
        let madison = cmd!(sh, "apt-cache {options...} madison {package}").read()?;
        let versions: HashSet<String> = madison
            .lines()
            .filter_map(|l| l.split('|').nth(1).map(|v| v.trim().to_string()))
            .collect();
        for version in versions {
            let _dir = sh.push_dir(&downloads);
            let spec = format!("{package}={version}");
            cmd!(sh, "apt-get {options...} download {spec}")
                .quiet()
                .ignore_stderr()
                .run()
                .with_context(|| format!("apt-get download {spec}"))?;
            let deb = std::fs::read_dir(&downloads)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| {
                    let name = p.file_name().unwrap_or_default().to_string_lossy();
                    name.starts_with(&format!("{package}_"))
                        && name.contains(&version.replace(':', "%3a"))
                })
                .with_context(|| format!("the downloaded {spec}"))?;
            let unpacked = state.join("unpacked").join(format!("{package}_{version}"));
            std::fs::create_dir_all(&unpacked)?;
            cmd!(sh, "dpkg-deb -x {deb} {unpacked}").run()?;
            for (_, label, inner) in PROFILES.iter().filter(|p| p.0 == package) {
                let Ok(bytes) = std::fs::read(unpacked.join(inner)) else {
                    continue; // this vintage does not ship it
                };
                // One file per distinct profile: vintages may repeat it.
                if seen.insert(bytes.clone()) {
                    std::fs::write(out.join(format!("{label}_{version}.json")), bytes)?;
                }
            }
        }
    }
    Ok(())
}

fn spec_configs(sh: &Shell, out: &Path) -> Result<()> {
    super::ensure_packages(sh, &["runc", "crun"])?;
    for (name, binary) in [("runc", "/usr/sbin/runc"), ("crun", "/usr/bin/crun")] {
        let variants: &[bool] = if name == "runc" { &[false, true] } else { &[false] };
        for &rootless in variants {
            let tmp = tempfile::tempdir()?;
            let bundle = tmp.path();
            let flag = rootless.then_some("--rootless");
            cmd!(sh, "{binary} spec --bundle {bundle} {flag...}")
                .quiet()
                .run()
                .with_context(|| format!("{name} spec"))?;
            let suffix = if rootless { "-rootless" } else { "" };
            let version = cmd!(sh, "{binary} --version").read()?;
            let version = version
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(2))
                .unwrap_or("unknown")
                .to_string();
            std::fs::copy(
                bundle.join("config.json"),
                out.join(format!("{name}-spec{suffix}_{version}.json")),
            )?;
        }
    }
    Ok(())
}
