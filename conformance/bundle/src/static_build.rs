//! Building statically linked binaries of this workspace (the probe for every
//! rootfs, the runtime as shipped and for the VM's initramfs).
//!
//! `-C target-feature=+crt-static` on the gnu target works offline. The
//! explicit `--target` matters: without it RUSTFLAGS also reach proc-macro
//! crates, which cannot be linked statically.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";
const STATIC: &str = "-C target-feature=+crt-static";
/// The shipped runtime is also position-dependent: a static-pie binary
/// applies ~11k relocations at every start (272 KiB of .rela.dyn, 200 KiB
/// of .data.rel.ro dirtied per process). Peak RSS of `run`: 3568 -> 3212
/// KiB (crun 3172-3316 in the same runs); wall time unchanged (interleaved
/// runs, within 0.2 ms). The price is a fixed executable base (stack, heap
/// and mmap stay randomized) in a short-lived process whose input comes
/// from a caller that is already root.
const STATIC_NO_PIE: &str = "-C target-feature=+crt-static -C relocation-model=static";

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
    build_static(package, bin, "release", "target/static", STATIC, &[])
}

/// litmus-runtime as it is meant to be shipped: static (libseccomp too, no
/// dynamic loader at startup) and built with the `ship` profile (optimized
/// for size: every page of the runtime's text ends up resident, so its size
/// is its memory per container). What the main job, the engines and the
/// benches run.
pub fn shipped_runtime() -> Result<PathBuf> {
    let libseccomp_dir = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"]
        .into_iter()
        .find(|dir| Path::new(dir).join("libseccomp.a").exists())
        .context(
            "libseccomp.a not found (the static runtime links it): apt-get install libseccomp-dev",
        )?;
    build_static(
        "litmus-runtime",
        "litmus-runtime",
        "ship",
        "target/ship",
        STATIC_NO_PIE,
        &[("LIBSECCOMP_LINK_TYPE", "static"), ("LIBSECCOMP_LIB_PATH", libseccomp_dir)],
    )
}

fn build_static(
    package: &str,
    bin: &str,
    profile: &str,
    target_dir: &str,
    rustflags: &str,
    env: &[(&str, &str)],
) -> Result<PathBuf> {
    let root = workspace_root();
    let target_dir = root.join(target_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--quiet", "--profile", profile])
        .args(["--package", package, "--bin", bin])
        .args(["--target", STATIC_TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", rustflags)
        .envs(env.iter().copied())
        .status()
        .with_context(|| format!("running cargo to build static {bin}"))?;
    if !status.success() {
        bail!("static build of {package}/{bin} failed ({status})");
    }
    let path = target_dir.join(STATIC_TARGET).join(profile).join(bin);
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
