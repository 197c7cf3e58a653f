//! The container root filesystem: busybox-static with its applet links, a few
//! users and groups, and the static probe.

use crate::elf::is_static_elf;
use crate::spec::PROBE_PATH_IN_ROOTFS;
use anyhow::{bail, Context, Result};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Users in the fixture's /etc/passwd: (name, uid, gid).
pub const FIXTURE_USERS: &[(&str, u32, u32)] =
    &[("root", 0, 0), ("daemon", 1, 1), ("litmus", 1000, 1000), ("nobody", 65534, 65534)];

/// Groups in the fixture's /etc/group: (name, gid).
pub const FIXTURE_GROUPS: &[(&str, u32)] =
    &[("root", 0), ("daemon", 1), ("litmus", 1000), ("extra", 1001), ("nogroup", 65534)];

const DIRECTORIES: &[&str] = &[
    "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home",
    "var", "run", "mnt",
];

/// Finds a statically linked busybox (Debian's `busybox-static` installs it
/// as /bin/busybox; the dynamic `busybox` package uses the same path, which
/// is why the ELF is checked rather than trusted).
pub fn find_static_busybox() -> Result<PathBuf> {
    let candidates = [
        std::env::var_os("LITMUS_BUSYBOX").map(PathBuf::from),
        Some(PathBuf::from("/bin/busybox")),
        Some(PathBuf::from("/usr/bin/busybox")),
    ];
    for path in candidates.into_iter().flatten() {
        if path.exists() && is_static_elf(&path)? {
            return Ok(path);
        }
    }
    bail!(
        "no statically linked busybox found (looked at $LITMUS_BUSYBOX, /bin/busybox, \
         /usr/bin/busybox); install it with: apt-get install -y busybox-static"
    )
}

/// Knows where busybox and the probe are and lays out rootfs directories.
#[derive(Clone, Debug)]
pub struct RootfsBuilder {
    busybox: PathBuf,
    probe: PathBuf,
    applets: Vec<String>,
}

impl RootfsBuilder {
    /// `probe` must be a static binary: the rootfs has no libc.
    pub fn new(busybox: PathBuf, probe: PathBuf) -> Result<Self> {
        if !is_static_elf(&probe)? {
            bail!(
                "probe {} is dynamically linked; build it with \
                 RUSTFLAGS='-C target-feature=+crt-static' --target x86_64-unknown-linux-gnu",
                probe.display()
            );
        }
        let listing = Command::new(&busybox)
            .arg("--list-full")
            .output()
            .with_context(|| format!("running {} --list-full", busybox.display()))?;
        if !listing.status.success() {
            bail!("{} --list-full failed: {}", busybox.display(), listing.status);
        }
        let applets = String::from_utf8_lossy(&listing.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains(".."))
            .map(String::from)
            .collect();
        Ok(RootfsBuilder { busybox, probe, applets })
    }

    /// Busybox from the host plus the probe at `probe`.
    pub fn with_probe(probe: PathBuf) -> Result<Self> {
        Self::new(find_static_busybox()?, probe)
    }

    pub fn probe(&self) -> &Path {
        &self.probe
    }

    /// Writes a fresh rootfs at `dest` (which must not exist yet).
    pub fn build(&self, dest: &Path) -> Result<()> {
        std::fs::create_dir(dest).with_context(|| format!("creating {}", dest.display()))?;
        for dir in DIRECTORIES {
            std::fs::create_dir_all(dest.join(dir))?;
        }
        std::fs::set_permissions(dest.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
        copy_executable(&self.busybox, &dest.join("bin/busybox"))?;
        for applet in &self.applets {
            let link = dest.join(applet);
            if link.exists() || link.symlink_metadata().is_ok() {
                continue;
            }
            if let Some(parent) = link.parent() {
                std::fs::create_dir_all(parent)?;
            }
            symlink("/bin/busybox", &link)
                .with_context(|| format!("linking applet {}", link.display()))?;
        }
        let probe_dest = dest.join(PROBE_PATH_IN_ROOTFS.trim_start_matches('/'));
        copy_executable(&self.probe, &probe_dest)?;
        std::fs::write(dest.join("etc/passwd"), passwd())?;
        std::fs::write(dest.join("etc/group"), group())?;
        std::fs::write(dest.join("etc/hostname"), "litmus\n")?;
        Ok(())
    }
}

fn copy_executable(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

fn passwd() -> String {
    FIXTURE_USERS
        .iter()
        .map(|(name, uid, gid)| format!("{name}:x:{uid}:{gid}:{name}:/home/{name}:/bin/sh\n"))
        .collect()
}

fn group() -> String {
    FIXTURE_GROUPS.iter().map(|(name, gid)| format!("{name}:x:{gid}:\n")).collect()
}
