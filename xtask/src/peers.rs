//! `cargo xtask peers`: the runtimes people use, side by side. Installs
//! the peers (Debian runc and crun, youki from crates.io at a pinned
//! version), runs the suite against each and against litmus-runtime, keeps
//! every JSON report in docs/results/json/, and regenerates the results
//! matrix (docs/results/README.md and matrix.html) with `litmus report`.
//! Every failure must have an explanation in docs/results/explanations.txt
//! (a failure litmus cannot explain is a bug in litmus until shown
//! otherwise). The HTML is loaded in headless chromium: it must run its
//! script and show every case; a screenshot of it is kept.

use crate::stress::{run_suite, Target};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

/// youki as published on crates.io, pinned.
const YOUKI_VERSION: &str = "0.7.0";
/// The crate has no default features: without these youki has no cgroup
/// v1 or v2 support and no seccomp (the systemd cgroup driver is left out:
/// the suite drives cgroupfs, as runc and crun are driven).
const YOUKI_FEATURES: &str = "v1,v2,seccomp,cgroupsv2_devices";

/// What youki needs from Debian to build: libseccomp through pkg-config,
/// and libelf and zlib for the libbpf it vendors (cgroup v2 device rules).
const YOUKI_BUILD_PACKAGES: &[&str] =
    &["libseccomp-dev", "pkg-config", "build-essential", "libelf-dev", "zlib1g-dev"];

/// A newer crun than bookworm's: the upstream tarball Debian trixie builds
/// its crun 1.21-1 from (pinned by the sha256 trixie's Sources index gives),
/// built here with bookworm's toolchain (`./configure --disable-systemd
/// --disable-criu`: criu's headers need protobuf-c, and the suite drives
/// cgroupfs). A newer runc would need Go 1.22, which bookworm lacks.
const CRUN_TRIXIE: (&str, &str, &str) = (
    "1.21",
    "http://deb.debian.org/debian/pool/main/c/crun/crun_1.21.orig.tar.gz",
    "4bfb700e764a4804a4de3ecf07753f4c391005356d60356df65d80ae0914c486",
);
const CRUN_BUILD_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "libyajl-dev",
    "libcap-dev",
    "libseccomp-dev",
    "gperf",
    "curl",
];

#[derive(clap::Args, Clone, Debug)]
pub struct Options {
    /// Only these peers (litmus-runtime, runc, crun, crun-trixie, youki; default: all)
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Each runtime as an unprivileged user (`litmus run --rootless`);
    /// results in docs/results/rootless/
    #[arg(long)]
    pub rootless: bool,
}

struct Peer {
    target: Target,
    /// How this host runs it, recorded in its report (`litmus run --note`).
    note: String,
}

pub fn peers(sh: &Shell, options: &Options) -> Result<()> {
    crate::ensure_packages(sh, &["runc", "crun", "chromium"])?;
    crate::ensure_packages(sh, YOUKI_BUILD_PACKAGES)?;
    let wanted = |name: &str| options.only.is_empty() || options.only.iter().any(|o| o == name);
    let youki = if wanted("youki") { Some(install_youki(sh)?) } else { None };
    let crun_trixie = if wanted("crun-trixie") {
        crate::ensure_packages(sh, CRUN_BUILD_PACKAGES)?;
        Some(build_crun_trixie(sh)?)
    } else {
        None
    };
    let (runtime, probe) = crate::build_suite(sh)?;
    let hybrid = litmus_bundle::is_hybrid_cgroup_host();
    let hidden = "cgroup2 hidden (unshare -m; umount /sys/fs/cgroup/unified): crun 1.8 refuses \
                  the hybrid cgroup layout of this host";
    let mut peers = vec![
        Peer {
            target: Target { name: "litmus-runtime", binary: runtime, hide_cgroup2: false },
            note: "as shipped (static, ship profile)".into(),
        },
        Peer {
            target: Target { name: "runc", binary: "/usr/sbin/runc".into(), hide_cgroup2: false },
            note: "Debian package".into(),
        },
        Peer {
            target: Target { name: "crun", binary: "/usr/bin/crun".into(), hide_cgroup2: hybrid },
            note: if hybrid {
                format!("Debian package; {hidden}")
            } else {
                "Debian package".into()
            },
        },
    ];
    if let Some(crun) = crun_trixie {
        let how =
            format!("built here from Debian trixie's source tarball of crun {}", CRUN_TRIXIE.0);
        peers.push(Peer {
            target: Target { name: "crun-trixie", binary: crun, hide_cgroup2: hybrid },
            note: if hybrid { format!("{how}; {hidden}") } else { how },
        });
    }
    if let Some(youki) = youki {
        peers.push(Peer {
            target: Target { name: "youki", binary: youki, hide_cgroup2: false },
            note: format!(
                "cargo install youki --locked --version {YOUKI_VERSION} --no-default-features \
                 --features {YOUKI_FEATURES}"
            ),
        });
    }
    peers.retain(|p| wanted(p.target.name));
    let results = match options.rootless {
        true => crate::workspace_root().join("docs/results/rootless"),
        false => crate::workspace_root().join("docs/results"),
    };
    let json_dir = results.join("json");
    std::fs::create_dir_all(&json_dir)?;
    let mut reports = Vec::new();
    for peer in &peers {
        crate::step(&format!("peers: the suite against {}", peer.target.name));
        let report = json_dir.join(format!("{}.json", peer.target.name));
        let mut extra = vec!["--note".to_string(), peer.note.clone()];
        if options.rootless {
            extra.push("--rootless".into());
        }
        run_suite(&peer.target, &probe, &report, &extra)?;
        reports.push(report);
    }
    // Every report on disk goes in the matrix (a run of `--only` keeps
    // the others' last reports).
    let mut all: Vec<PathBuf> = std::fs::read_dir(&json_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    all.sort_by_key(|p| (p.file_stem().is_none_or(|s| s != "litmus-runtime"), p.clone()));
    crate::step("peers: the results matrix (litmus report)");
    let litmus = crate::litmus_binary();
    let (md, html) = (results.join("README.md"), results.join("matrix.html"));
    let explanations = results.join("explanations.txt");
    cmd!(
        sh,
        "{litmus} report {all...} --markdown {md} --html {html} --explanations {explanations} --require-explained"
    )
    .run()
    .context("every failure of a peer needs an explanation in docs/results/explanations.txt")?;
    check_in_browser(sh, &html, &results.join("matrix.png"))
}

/// CI's check of `litmus report`: the committed reports of the peers
/// (another host, another date) merged with the runs CI just made
/// (`target/stress`), written as markdown and HTML, and the HTML loaded in
/// headless chromium.
pub fn matrix_in_ci(sh: &Shell) -> Result<()> {
    crate::ensure_packages(sh, &["chromium"])?;
    let root = crate::workspace_root();
    let mut reports: Vec<PathBuf> = Vec::new();
    for dir in [root.join("docs/results/json"), root.join("target/stress")] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        found.sort();
        reports.extend(found);
    }
    let out = root.join("target/ci-matrix");
    std::fs::create_dir_all(&out)?;
    let (md, html) = (out.join("matrix.md"), out.join("matrix.html"));
    let litmus = crate::litmus_binary();
    crate::step("litmus report: the peers' committed reports and this run's, in chromium");
    cmd!(sh, "{litmus} report {reports...} --markdown {md} --html {html}").run()?;
    check_in_browser(sh, &html, &out.join("matrix.png"))
}

/// crun from the pinned trixie tarball, in target/peers/crun-VERSION
/// (built once).
fn build_crun_trixie(sh: &Shell) -> Result<PathBuf> {
    let (version, url, sha256) = CRUN_TRIXIE;
    let dir = crate::workspace_root().join("target/peers");
    let source = dir.join(format!("crun-{version}"));
    let binary = source.join("crun");
    if binary.exists() {
        return Ok(binary);
    }
    std::fs::create_dir_all(&dir)?;
    let tarball = dir.join(format!("crun_{version}.orig.tar.gz"));
    crate::step(&format!("peers: building crun {version} from Debian trixie's source"));
    cmd!(sh, "curl -fsSL -o {tarball} {url}").run()?;
    let sum = cmd!(sh, "sha256sum {tarball}").quiet().read()?;
    if sum.split_whitespace().next() != Some(sha256) {
        bail!("{} does not match the pinned sha256 {sha256}", tarball.display());
    }
    cmd!(sh, "tar -xzf {tarball} -C {dir}").run()?;
    let _in = sh.push_dir(&source);
    cmd!(sh, "./configure --disable-systemd --disable-criu").quiet().run()?;
    cmd!(sh, "make -j2").quiet().run()?;
    Ok(binary)
}

/// youki at the pinned version in target/peers/youki (built once).
fn install_youki(sh: &Shell) -> Result<PathBuf> {
    let root = crate::workspace_root().join("target/peers/youki");
    let binary = root.join("bin/youki");
    // The features are recorded beside the binary: a build without them
    // (a plain `cargo install youki`) cannot run a container on v1.
    let stamp = root.join("features");
    let installed = cmd!(sh, "{binary} --version").ignore_status().read().unwrap_or_default();
    let features = std::fs::read_to_string(&stamp).unwrap_or_default();
    if !installed.contains(YOUKI_VERSION) || features.trim() != YOUKI_FEATURES {
        crate::step(&format!(
            "peers: building youki {YOUKI_VERSION} (cargo install, a few minutes)"
        ));
        cmd!(
            sh,
            "cargo install youki --locked --version {YOUKI_VERSION} --no-default-features --features {YOUKI_FEATURES} --root {root} --force"
        )
        .run()?;
        std::fs::write(&stamp, YOUKI_FEATURES)?;
    }
    Ok(binary)
}

/// Loads the matrix in headless chromium: its script must have run and
/// counted every case row; keeps a screenshot beside it.
pub fn check_in_browser(sh: &Shell, html: &Path, screenshot: &Path) -> Result<()> {
    crate::step("peers: the matrix in headless chromium");
    let text = std::fs::read_to_string(html)?;
    let rows = text.matches("<tr data-area=").count();
    let url = format!("file://{}", html.display());
    let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr"];
    let output =
        cmd!(sh, "chromium {flags...} --dump-dom {url}").quiet().ignore_stderr().output()?;
    let dom = String::from_utf8_lossy(&output.stdout);
    let shown = format!("<span id=\"shown\">{rows} cases shown</span>");
    if !dom.contains(&shown) {
        bail!("the matrix did not run its script in chromium: no {shown:?} in the loaded page");
    }
    let shot = format!("--screenshot={}", screenshot.display());
    let output = cmd!(sh, "chromium {flags...} --window-size=1400,1000 {shot} {url}")
        .quiet()
        .ignore_status()
        .output()?;
    let log = String::from_utf8_lossy(&output.stderr);
    if let Some(error) = log.lines().find(|l| l.contains("CONSOLE") && l.contains("Uncaught")) {
        bail!("the matrix's script failed in chromium: {error}");
    }
    if !screenshot.exists() {
        bail!("chromium made no screenshot: {}", log.trim());
    }
    eprintln!(
        "  chromium: {rows} cases shown, no script error; screenshot {}",
        screenshot.display()
    );
    Ok(())
}
