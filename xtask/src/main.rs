//! `cargo xtask`: the project's own commands. Each prints what it runs.
//!
//!   deps          install the Debian packages the project needs (as root)
//!   lint          actionlint and shellcheck on the shipped CI files
//!   dist          release tarballs (static binaries, manifest, SHA256SUMS)
//!   conformance   build everything and run the suite against litmus-runtime
//!   fuzz          list, run or smoke-test the cargo-fuzz targets (nightly)
//!   bench         startup and OOM benchmarks beside runc and crun, baselines
//!   vm-test       the suite in QEMU on a pinned kernel, cgroup v2, v1, hybrid
//!   faults        prove the suite fails each fault-injected runtime build
//!   stress        the suite run after run under load; verdicts that change
//!   ci            everything CI checks, in order, failing fast

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

mod apt;
mod bench;
mod corpus;
mod dist;
mod engines;
mod fuzz;
mod lint;
mod peers;
mod stress;
mod vm;

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
    /// actionlint on the GitHub workflows, shellcheck on every script of the CI files litmus ships
    Lint,
    /// Release tarballs in target/dist: static litmus, litmus-probe, litmus-runtime, manifest, SHA256SUMS
    Dist(dist::Options),
    /// Build the runtime, the suite and the probe; run the suite against litmus-runtime
    Conformance {
        /// Passed on to `litmus run`
        #[arg(last = true)]
        litmus_args: Vec<String>,
    },
    /// `litmus diff` of litmus-runtime against Debian runc: fixed cases and generated configs
    Diff {
        /// Passed on to `litmus diff` (default: all cases and 25 generated configs)
        #[arg(last = true)]
        litmus_args: Vec<String>,
    },
    /// The cargo-fuzz targets: `list`, `run TARGET [--time S] [--jobs N]`, `smoke`
    Fuzz {
        #[command(subcommand)]
        action: fuzz::FuzzAction,
    },
    /// Startup and OOM benchmarks beside runc and crun; ratios, baselines, regression check
    Bench(bench::Options),
    /// The suite in QEMU guests on the pinned Debian kernel: cgroup v2, v1 and hybrid
    VmTest(vm::Options),
    /// Fetch the real-world corpus (engine seccomp profiles from Debian packages, spec-command configs) into target/corpus
    Corpus {
        /// Fetch again even if the corpus is there
        #[arg(long)]
        refresh: bool,
    },
    /// Run the suite against each fault of a fault-injection build; every fault must be caught
    Faults,
    /// podman and containerd drive litmus-runtime (and Debian runc, the control) through real scenarios
    Engines(engines::Options),
    /// The suite N times under load against litmus-runtime, runc and crun; flipping verdicts
    Stress(stress::Options),
    /// fmt, clippy, unit and root integration tests, the suite against litmus-runtime
    Ci,
    /// litmus-runtime, runc, crun and youki side by side: reports, the results matrix, its check in chromium
    Peers(peers::Options),
}

/// Packages every command needs: busybox for rootfs fixtures, libseccomp
/// for the runtime's seccomp support, zip for the fuzzers' seed corpora.
pub(crate) const BASE_PACKAGES: &[&str] =
    &["busybox-static", "libseccomp-dev", "pkg-config", "zip", "unzip", "uidmap"];

fn main() -> Result<()> {
    STARTED.get_or_init(std::time::Instant::now);
    let cli = Cli::parse();
    let sh = Shell::new()?;
    sh.change_dir(workspace_root());
    match cli.command {
        Command::Deps => ensure_packages(&sh, BASE_PACKAGES),
        Command::Lint => lint::lint(&sh),
        Command::Dist(options) => dist::dist(&sh, &options).map(|_| ()),
        Command::Conformance { litmus_args } => {
            ensure_packages(&sh, BASE_PACKAGES)?;
            conformance(&sh, &litmus_args)
        }
        Command::Diff { litmus_args } => {
            ensure_packages(&sh, BASE_PACKAGES)?;
            ensure_packages(&sh, &["runc"])?;
            diff(&sh, &litmus_args).map(|_| ())
        }
        Command::Fuzz { action } => {
            ensure_packages(&sh, BASE_PACKAGES)?;
            fuzz::fuzz(&sh, action)
        }
        Command::Bench(options) => {
            ensure_packages(&sh, BASE_PACKAGES)?;
            bench::bench(&sh, &options)
        }
        Command::VmTest(options) => vm::vm_test(&sh, &options),
        Command::Faults => {
            ensure_packages(&sh, BASE_PACKAGES)?;
            faults(&sh)
        }
        Command::Engines(options) => run_engines(&sh, &options),
        Command::Peers(options) => {
            ensure_packages(&sh, BASE_PACKAGES)?;
            peers::peers(&sh, &options)
        }
        Command::Stress(options) => {
            ensure_packages(&sh, BASE_PACKAGES)?;
            stress::stress(&sh, &options)
        }
        Command::Corpus { refresh } => {
            ensure_packages(&sh, BASE_PACKAGES)?;
            let dir = corpus::ensure(&sh, refresh)?;
            println!("{}", dir.display());
            Ok(())
        }
        Command::Ci => ci(&sh),
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is in the workspace").to_path_buf()
}

/// When the command started: every step prints the minutes since, so a
/// CI log shows where its time goes.
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

pub(crate) fn step(title: &str) {
    let elapsed = STARTED.get_or_init(std::time::Instant::now).elapsed().as_secs();
    eprintln!("\n==> [{:>2}:{:02}] {title}", elapsed / 60, elapsed % 60);
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
pub(crate) fn ensure_packages(sh: &Shell, packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(sh, p)).collect();
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
    cmd!(sh, "apt-get update -qq").env("DEBIAN_FRONTEND", "noninteractive").run()?;
    cmd!(sh, "apt-get install -y -qq --no-install-recommends {missing...}")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()?;
    Ok(())
}

/// Builds the static probe (the rootfs has no libc) and returns its path.
fn static_probe() -> Result<PathBuf> {
    step("building the static probe");
    litmus_bundle::static_binary("litmus-probe", "litmus-probe")
}

/// Builds litmus-runtime as shipped (static, `ship` profile).
fn shipped_runtime() -> Result<PathBuf> {
    step("building litmus-runtime as shipped (static, ship profile: target/ship)");
    litmus_bundle::shipped_runtime()
}

/// Generated configs in the main job and CI: a fixed count with the
/// suite's default seed, so every run checks the same containers.
const GENERATED_IN_CI: &str = "25";

/// litmus as the tarball ships it: the static suite build (one build for
/// the suite's runs here, the tarball and the VM guest).
pub(crate) fn litmus_binary() -> PathBuf {
    workspace_root()
        .join(dist::STATIC_TARGET_DIR)
        .join(dist::Arch::X86_64.triple())
        .join("release/litmus")
}

pub(crate) fn build_suite(sh: &Shell) -> Result<(PathBuf, PathBuf)> {
    let probe = static_probe()?;
    let runtime = shipped_runtime()?;
    dist::build_static_suite(sh, dist::Arch::X86_64, dist::STATIC_SUITE)?;
    corpus::ensure(sh, false)?;
    Ok((runtime, probe))
}

fn conformance(sh: &Shell, litmus_args: &[String]) -> Result<()> {
    let (runtime, probe) = build_suite(sh)?;
    // --strict: the reference runtime must pass every level, the engine
    // contract and the security cases included, not only MUST.
    let defaults = ["--strict".to_string(), "--generated".to_string(), GENERATED_IN_CI.to_string()];
    let litmus_args = if litmus_args.is_empty() { &defaults[..] } else { litmus_args };
    step("running the suite against litmus-runtime");
    let litmus = litmus_binary();
    cmd!(sh, "{litmus} run --runtime {runtime} --probe {probe} {litmus_args...}")
        .run()
        .context("the suite reported failures")?;
    if litmus_args == defaults {
        // The same runtime as an unprivileged user (litmus-rootless,
        // created with subordinate ranges if missing).
        step("running the suite against litmus-runtime as an unprivileged user (--rootless)");
        cmd!(sh, "{litmus} run --runtime {runtime} --probe {probe} --rootless --strict")
            .run()
            .context("the suite reported failures under --rootless")?;
        as_the_user(sh, &litmus, &runtime, &probe)?;
    }
    Ok(())
}

/// The suite as an unprivileged user runs it: `litmus run --rootless` as
/// litmus-rootless itself (made by the run before), from copies it can
/// reach, with an XDG_RUNTIME_DIR of its own.
fn as_the_user(sh: &Shell, litmus: &Path, runtime: &Path, probe: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    step("running the suite as litmus-rootless itself (litmus run --rootless, no root)");
    let id = |flag: &str| -> Result<u32> {
        cmd!(sh, "id {flag} litmus-rootless")
            .quiet()
            .read()
            .context("no user litmus-rootless (the --rootless run as root creates it)")?
            .trim()
            .parse()
            .context("id's output")
    };
    let (uid, gid) = (id("-u")?, id("-g")?);
    let dir = tempfile::Builder::new().prefix("litmus-as-user").tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    for binary in [litmus, runtime, probe] {
        let name = binary.file_name().context("a binary's name")?;
        std::fs::copy(binary, dir.path().join(name))?;
    }
    let xdg = dir.path().join("xdg");
    std::fs::create_dir(&xdg)?;
    std::os::unix::fs::chown(&xdg, Some(uid), Some(gid))?;
    std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700))?;
    let (bin, xdg_env) = (dir.path(), format!("XDG_RUNTIME_DIR={}", xdg.display()));
    let runtime_name = runtime.file_name().context("the runtime's name")?;
    let (own_litmus, own_runtime, own_probe) =
        (bin.join("litmus"), bin.join(runtime_name), bin.join("litmus-probe"));
    let _cwd = sh.push_dir(bin);
    cmd!(
        sh,
        "runuser -u litmus-rootless -- env {xdg_env} HOME=/ {own_litmus} run --runtime {own_runtime} --probe {own_probe} --rootless --strict"
    )
    .run()
    .context("the suite reported failures when run by the user itself")
}

/// `litmus diff` against Debian runc; returns whether they diverged (a
/// divergence is information for docs/results, not a failure; a diff that
/// cannot run is).
fn diff(sh: &Shell, litmus_args: &[String]) -> Result<bool> {
    let (runtime, probe) = build_suite(sh)?;
    let runc = PathBuf::from("/usr/sbin/runc");
    let defaults = ["--generated".to_string(), GENERATED_IN_CI.to_string()];
    let litmus_args = if litmus_args.is_empty() { &defaults[..] } else { litmus_args };
    step("litmus diff: litmus-runtime against runc");
    let status = std::process::Command::new(litmus_binary())
        .current_dir(workspace_root())
        .args(["diff", "--runtime"])
        .arg(&runtime)
        .arg("--runtime")
        .arg(&runc)
        .arg("--probe")
        .arg(&probe)
        .args(litmus_args)
        .status()
        .context("running litmus diff")?;
    match status.code() {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => bail!("litmus diff could not compare the runtimes ({status})"),
    }
}

fn run_engines(sh: &Shell, options: &engines::Options) -> Result<()> {
    ensure_packages(sh, BASE_PACKAGES)?;
    ensure_packages(sh, engines::PACKAGES)?;
    ensure_packages(sh, &["runc"])?;
    let probe = static_probe()?;
    let runtime = shipped_runtime()?;
    step("podman and containerd scenarios");
    engines::engines(options, runtime, probe)
}

fn ci(sh: &Shell) -> Result<()> {
    ensure_packages(sh, BASE_PACKAGES)?;
    step("cargo fmt --check");
    cmd!(sh, "cargo fmt --all --check").run().context("run `cargo fmt --all`")?;
    lint::lint(sh)?;
    step("cargo clippy --all-targets -- -D warnings");
    cmd!(sh, "cargo clippy --workspace --all-targets -- -D warnings").run()?;
    let probe = static_probe()?;
    step("unit and root integration tests");
    cmd!(sh, "cargo test --workspace").env("LITMUS_PROBE", &probe).run()?;
    step("the suite against litmus-runtime");
    conformance(sh, &[])?;
    faults(sh)?;
    // Verdicts must not depend on load: two full runs with both cores
    // busy, failing on any case whose verdict changes.
    stress::stress(
        sh,
        &stress::Options { runs: 2, load: true, ours_only: true, litmus_args: Vec::new() },
    )?;
    peers::matrix_in_ci(sh)?;
    ensure_packages(sh, &["runc"])?;
    diff(sh, &["--area", "generated", "--generated", "20"].map(String::from))?;
    run_engines(sh, &engines::Options::default())?;
    // Quick runs on a shared CI machine are noisy (ratios moved by up to
    // 40% between runs here): fail only on a real 2x slowdown. Before the
    // guest starts: the benches need a quiet machine.
    bench::bench(
        sh,
        &bench::Options { quick: true, check: true, threshold: 1.0, ..bench::Options::default() },
    )?;
    // One guest: cgroup v2 on the newest kernel (6.12: SELinux, the suite
    // and the runtime's root tests). v1 and hybrid are this host's own
    // layout, where the suite and the runtime's root tests run above.
    // Guests run single-threaded TCG here (about twice as slow as
    // multi-threaded; see vm.rs), so 5.10, 6.1 (AppArmor) and the other
    // layouts stay in the full matrix: `cargo xtask vm-test --kernel all
    // --cgroup all`.
    let guests = vm::prepare(
        sh,
        &vm::Options {
            kernel: Some("6.12".into()),
            cgroup: "v2".into(),
            runtime_tests: "all".into(),
            update_kernel: false,
            // A watchdog against a hung guest, not a budget: the guest took
            // 12.6 min in one CI rehearsal and was still passing cases at
            // 15 min in another, with the OSS-Fuzz build beside it taking
            // 12 min instead of 7 on the same two cores.
            timeout: 1500,
            append: String::new(),
        },
    )?;
    // The guest keeps one host core busy for about five minutes; the
    // release tarball's check and the fuzzers' build and runs use the
    // rest meanwhile (the guest's suite is as load-proof as the host's).
    let guests = std::thread::spawn(move || guests.boot_all());
    let beside = (|| -> Result<()> {
        dist::dist(sh, &dist::Options { arch: vec![dist::Arch::X86_64], check: true })?;
        // 5 s per target after its seeds: enough to show each builds as
        // OSS-Fuzz builds it, starts and replays its seeds and saved
        // crashes; the long runs are `cargo xtask fuzz run`.
        fuzz::fuzz(sh, fuzz::FuzzAction::Smoke { time: 5 })
    })();
    let guests = guests.join().map_err(|_| anyhow::anyhow!("the vm-test thread panicked"))?;
    match (beside, guests) {
        (Err(beside), Err(guests)) => bail!("{beside:#}\nand the vm-test guest: {guests:#}"),
        (beside, guests) => beside.and(guests),
    }
}

/// The meta-test of the suite: for each fault of a fault-injection build
/// of litmus-runtime, the cases citing the requirements it breaks must
/// report a failure. A fault nobody catches means a case that cannot fail.
fn faults(sh: &Shell) -> Result<()> {
    let probe = static_probe()?;
    // Some faults only show with real-world inputs (area realworld).
    corpus::ensure(sh, false)?;
    dist::build_static_suite(sh, dist::Arch::X86_64, dist::STATIC_SUITE)?;
    step("building litmus-runtime with fault injection (target/faults)");
    cmd!(
        sh,
        "cargo build --release --package litmus-runtime --features fault-injection --target-dir target/faults"
    )
    .run()?;
    let runtime = workspace_root().join("target/faults/release/litmus-runtime");
    // Faults of a runtime installed setuid root run from a setuid copy.
    let setuid_dir = tempfile::Builder::new().prefix("litmus-setuid-runtime").tempdir()?;
    let setuid_runtime = setuid_dir.path().join("litmus-runtime");
    std::fs::copy(&runtime, &setuid_runtime)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(setuid_dir.path(), std::fs::Permissions::from_mode(0o755))?;
        std::os::unix::fs::chown(&setuid_runtime, Some(0), Some(0))?;
        std::fs::set_permissions(&setuid_runtime, std::fs::Permissions::from_mode(0o4755))?;
    }
    let litmus = litmus_binary();
    let list = cmd!(sh, "{runtime} faults").read()?;
    let mut escaped = Vec::new();
    let mut total = 0;
    step("running the suite against each fault");
    for line in list.lines() {
        let (name, breaks) = line.split_once('\t').context("fault list line")?;
        total += 1;
        let mut caught_by = Vec::new();
        // Rootless faults show only when the runtime runs as a user.
        let rootless = name.starts_with("rootless-") || name.starts_with("setuid-");
        let mode: &[&str] = if rootless { &["--rootless"] } else { &[] };
        let binary = if name.starts_with("setuid-") { &setuid_runtime } else { &runtime };
        for requirement in breaks.split(',') {
            let output = cmd!(
                sh,
                "{litmus} run --runtime {binary} --probe {probe} --requirement {requirement} --format json --jobs 2 {mode...}"
            )
            .env("LITMUS_FAULT", name)
            .ignore_status()
            .quiet()
            .output()?;
            // No report means the suite could not run at all: say why, and
            // count the fault as not caught by a case.
            let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&output.stdout) else {
                let stderr = String::from_utf8_lossy(&output.stderr);
                eprintln!("  fault {name}: no report from the suite: {}", stderr.trim());
                continue;
            };
            caught_by.extend(
                doc["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["outcome"] == "fail")
                    .filter_map(|r| r["name"].as_str().map(String::from)),
            );
        }
        if caught_by.is_empty() {
            eprintln!("  ESCAPED  {name:<28} breaks {breaks}: no case failed");
            escaped.push(name.to_string());
        } else {
            eprintln!("  CAUGHT   {name:<28} by {}", caught_by.join(", "));
        }
    }
    let caught = total - escaped.len();
    eprintln!(
        "\n{caught} of {total} faults caught ({:.0}%)",
        100.0 * caught as f64 / total.max(1) as f64
    );
    if !escaped.is_empty() {
        bail!("faults no case caught: {}", escaped.join(", "));
    }
    Ok(())
}
