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

use anyhow::{Context, Result};
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

fn profiles(sh: &Shell, out: &Path) -> Result<()> {
    let state = super::workspace_root().join("target/corpus-apt");
    let apt = crate::apt::PrivateApt::update(sh, &state, SUITES)?;
    let downloads = state.join("debs");
    std::fs::create_dir_all(&downloads)?;
    let packages: HashSet<&str> = PROFILES.iter().map(|p| p.0).collect();
    let mut seen = HashSet::new();
    for package in packages {
        let versions: HashSet<String> = apt.versions(sh, package)?.into_iter().collect();
        for version in versions {
            let spec = format!("{package}={version}");
            apt.download(sh, &downloads, package, &version)?;
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
