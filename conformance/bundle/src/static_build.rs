//! Building statically linked binaries of this workspace (the probe for every
//! rootfs, the runtime for the VM's initramfs).
//!
//! `-C target-feature=+crt-static` on the gnu target works offline. The
//! explicit `--target` matters: without it RUSTFLAGS also reach proc-macro
//! crates, which cannot be linked statically.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

/// The workspace this crate was compiled in.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .expect("conformance/bundle sits two levels below the workspace root")
        .to_path_buf()
}

/// Builds `bin` of `package` statically (release) and returns its path.
/// Cargo's own freshness check makes repeated calls cheap.
pub fn static_binary(package: &str, bin: &str) -> Result<PathBuf> {
    let root = workspace_root();
    let target_dir = root.join("target/static");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--release",
            "--package",
            package,
            "--bin",
            bin,
        ])
        .args(["--target", STATIC_TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .status()
        .with_context(|| format!("running cargo to build static {bin}"))?;
    if !status.success() {
        bail!("static build of {package}/{bin} failed ({status})");
    }
    let path = target_dir.join(STATIC_TARGET).join("release").join(bin);
    if !crate::is_static_elf(&path)? {
        bail!("{} was built but is not static", path.display());
    }
    Ok(path)
}

/// The static probe for tests: `$LITMUS_PROBE` when set (xtask sets it),
/// otherwise built here.
pub fn probe_binary() -> Result<PathBuf> {
    match std::env::var_os("LITMUS_PROBE") {
        Some(path) => Ok(PathBuf::from(path)),
        None => static_binary("litmus-probe", "litmus-probe"),
    }
}
