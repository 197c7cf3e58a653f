//! `cargo xtask`: the project's own commands. Each prints what it runs.
//!
//!   deps          install the Debian packages the project needs (as root)
//!   conformance   build everything and run the suite against litmus-runtime
//!   ci            everything CI checks, in order, failing fast

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install the Debian packages the project needs (root), or print the command
    Deps,
    /// Build the runtime, the suite and the probe; run the suite against litmus-runtime
    Conformance {
        /// Passed on to `litmus run`
        #[arg(last = true)]
        litmus_args: Vec<String>,
    },
    /// fmt, clippy, unit and root integration tests, the suite against litmus-runtime
    Ci,
}

/// Packages every command needs: busybox for rootfs fixtures, libseccomp
/// for the runtime's seccomp support.
const BASE_PACKAGES: &[&str] = &["busybox-static", "libseccomp-dev", "pkg-config"];

fn main() -> Result<()> {
    let cli = Cli::parse();
    let sh = Shell::new()?;
    sh.change_dir(workspace_root());
    match cli.command {
        Command::Deps => ensure_packages(&sh, BASE_PACKAGES),
        Command::Conformance { litmus_args } => {
            ensure_packages(&sh, BASE_PACKAGES)?;
            conformance(&sh, &litmus_args)
        }
        Command::Ci => ci(&sh),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_path_buf()
}

fn step(title: &str) {
    eprintln!("\n==> {title}");
}

fn installed(sh: &Shell, package: &str) -> bool {
    let format = "-f=${Status}";
    cmd!(sh, "dpkg-query -W {format} {package}")
        .quiet()
        .ignore_stderr()
        .read()
        .is_ok_and(|s| s.contains("install ok installed"))
}

/// Installs what is missing when we are root on Debian; otherwise stops
/// with the exact command to run.
fn ensure_packages(sh: &Shell, packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !installed(sh, p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = cmd!(sh, "id -u").quiet().read()? == "0";
    let has_apt = Path::new("/usr/bin/apt-get").exists();
    if !is_root || !has_apt {
        bail!(
            "missing packages: {}\nrun as root: apt-get update && apt-get install -y {}",
            missing.join(" "),
            missing.join(" ")
        );
    }
    step(&format!("installing {}", missing.join(" ")));
    cmd!(sh, "apt-get update -qq")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()?;
    cmd!(
        sh,
        "apt-get install -y -qq --no-install-recommends {missing...}"
    )
    .env("DEBIAN_FRONTEND", "noninteractive")
    .run()?;
    Ok(())
}

/// Builds the static probe (the rootfs has no libc) and returns its path.
fn static_probe() -> Result<PathBuf> {
    step("building the static probe");
    litmus_bundle::static_binary("litmus-probe", "litmus-probe")
}

fn conformance(sh: &Shell, litmus_args: &[String]) -> Result<()> {
    let probe = static_probe()?;
    step("building litmus-runtime and litmus (release)");
    cmd!(
        sh,
        "cargo build --release --package litmus-runtime --package litmus-conformance"
    )
    .run()?;
    step("running the suite against litmus-runtime");
    let runtime = workspace_root().join("target/release/litmus-runtime");
    cmd!(
        sh,
        "target/release/litmus run --runtime {runtime} --probe {probe} {litmus_args...}"
    )
    .run()
    .context("the suite reported failures")?;
    Ok(())
}

fn ci(sh: &Shell) -> Result<()> {
    ensure_packages(sh, BASE_PACKAGES)?;
    step("cargo fmt --check");
    cmd!(sh, "cargo fmt --all --check")
        .run()
        .context("run `cargo fmt --all`")?;
    step("cargo clippy --all-targets -- -D warnings");
    cmd!(sh, "cargo clippy --workspace --all-targets -- -D warnings").run()?;
    let probe = static_probe()?;
    step("unit and root integration tests");
    cmd!(sh, "cargo test --workspace")
        .env("LITMUS_PROBE", &probe)
        .run()?;
    step("the suite against litmus-runtime");
    conformance(sh, &[])
}
