//! `cargo xtask fuzz`: the cargo-fuzz targets (nightly), their campaigns,
//! and the OSS-Fuzz / ClusterFuzzLite build (`.clusterfuzzlite/build.sh`)
//! checked as those services run it.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

use crate::{conformance, step, workspace_root};

mod campaign;
mod oss_fuzz;

#[derive(Subcommand)]
pub enum FuzzAction {
    /// Print the targets
    List,
    /// A campaign on one target; the corpus grows in target/fuzz-corpus/TARGET
    Run {
        target: String,
        /// Seconds to run (0: until stopped or a crash)
        #[arg(long, default_value_t = 0)]
        time: u64,
        /// Parallel fuzzing processes (libFuzzer -fork)
        #[arg(long, default_value_t = 1)]
        jobs: u32,
    },
    /// Container mode (root): generated configs created, started and
    /// deleted by litmus-runtime for a while; each must give a clear error
    /// or a container the probe confirms, and leave nothing behind
    Container {
        /// Seconds to run
        #[arg(long, default_value_t = 300)]
        time: u64,
        /// First seed (config i uses seed + i)
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Every target until it has had MINUTES of CPU time (nice 19, LANES
    /// targets at once), over as many sittings as it takes: each resumes
    /// from the corpus in DIR; the figures go to docs/results/fuzz.md
    Campaign {
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        #[arg(long, default_value_t = 1)]
        lanes: usize,
        /// Corpus, crashes and each sitting's log (DIR/sittings/TARGET/N.log)
        #[arg(long, value_name = "DIR", default_value = "target/fuzz-campaign")]
        dir: PathBuf,
        /// Only write docs/results/fuzz.md from the sittings in DIR
        #[arg(long)]
        render_only: bool,
    },
    /// The OSS-Fuzz build (.clusterfuzzlite/build.sh) checked, then every
    /// fuzzer on its seeds and saved crashes and a few seconds more
    Smoke {
        /// Seconds per target
        #[arg(long, default_value_t = 30)]
        time: u64,
    },
}

const FUZZ_DIR: &str = "fuzz";

/// The targets, from fuzz/Cargo.toml's [[bin]] entries.
fn fuzz_targets(sh: &Shell) -> Result<Vec<String>> {
    let path = Path::new(FUZZ_DIR).join("Cargo.toml");
    let manifest: toml::Table =
        sh.read_file(&path)?.parse().with_context(|| format!("parsing {}", path.display()))?;
    let bins = manifest
        .get("bin")
        .and_then(|b| b.as_array())
        .with_context(|| format!("{}: no [[bin]] targets", path.display()))?;
    Ok(bins.iter().filter_map(|bin| bin.get("name")?.as_str().map(String::from)).collect())
}

/// cargo-fuzz needs the nightly toolchain and the cargo-fuzz command.
fn ensure_fuzz_tools(sh: &Shell) -> Result<()> {
    let toolchains = cmd!(sh, "rustup toolchain list").quiet().read()?;
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        bail!("fuzzing needs the nightly toolchain: rustup toolchain install nightly");
    }
    if cmd!(sh, "cargo fuzz --version").quiet().ignore_stderr().read().is_err() {
        step("installing cargo-fuzz");
        cmd!(sh, "cargo install cargo-fuzz --locked").run()?;
    }
    Ok(())
}

pub fn fuzz(sh: &Shell, action: FuzzAction) -> Result<()> {
    let targets = fuzz_targets(sh)?;
    match action {
        FuzzAction::List => {
            for target in &targets {
                println!("{target}");
            }
            Ok(())
        }
        FuzzAction::Run { target, time, jobs } => {
            if !targets.contains(&target) {
                bail!("unknown fuzz target {target:?}; targets: {}", targets.join(", "));
            }
            ensure_fuzz_tools(sh)?;
            fuzz_run(sh, &target, time, jobs)
        }
        FuzzAction::Container { time, seed } => {
            let mut args = vec![
                "--area".to_string(),
                "generated".to_string(),
                "--generated".to_string(),
                format!("{time}s"),
            ];
            if let Some(seed) = seed {
                args.extend(["--seed".to_string(), seed.to_string()]);
            }
            conformance(sh, &args)
        }
        FuzzAction::Campaign { minutes, lanes, dir, render_only } => {
            let campaign = campaign::Campaign { dir: workspace_root().join(dir) };
            let page = workspace_root().join("docs/results/fuzz.md");
            let render = || -> Result<()> {
                let mut stats = Vec::new();
                let regressions =
                    |t: &str| workspace_root().join(FUZZ_DIR).join("regressions").join(t);
                for target in &targets {
                    let sittings = campaign.sittings(target)?;
                    let Some(mut s) = campaign::Stats::combined(target, &sittings) else {
                        continue;
                    };
                    if s.crashed.is_some() && s.open_crash(&regressions(target)).is_none() {
                        let kept = format!("kept in fuzz/regressions/{target}/");
                        s.crashed = s.crashed.map(|c| format!("{c}; {kept}"));
                    }
                    stats.push(s);
                }
                let old = std::fs::read_to_string(&page).unwrap_or_default();
                std::fs::write(&page, campaign::render_into(&old, &stats, minutes))?;
                match stats.iter().find_map(|s| Some((s, s.open_crash(&regressions(&s.target))?))) {
                    Some((s, crash)) => bail!(
                        "{} crashed: {crash}; fix it and keep the input in fuzz/regressions/{}/",
                        s.target,
                        s.target
                    ),
                    None => Ok(()),
                }
            };
            if render_only {
                // A campaign stopped by hand (the command killed, then its
                // fuzzers given SIGINT): the sittings that ended cleanly count.
                for target in &targets {
                    campaign.adopt_stopped(target)?;
                }
            } else {
                ensure_fuzz_tools(sh)?;
                campaign::run(sh, &campaign, &targets, minutes, lanes.max(1), &render)?;
            }
            render()?;
            eprintln!("{}", page.display());
            Ok(())
        }
        FuzzAction::Smoke { time } => {
            ensure_fuzz_tools(sh)?;
            crate::ensure_packages(sh, &["zip", "unzip"])?;
            let scratch = tempfile::Builder::new().prefix("litmus-oss-fuzz").tempdir()?;
            let out = oss_fuzz::build(sh, scratch.path())?;
            step("checking $OUT: every target, its seed corpus, dictionary and options");
            let expected = oss_fuzz::expected_outputs(&targets)?;
            oss_fuzz::check_out_dir(&out, &expected)?;
            // Two at a time: each libFuzzer process uses one core.
            let run_dir = scratch.path().join("run");
            for pair in expected.chunks(2) {
                std::thread::scope(|scope| {
                    let runs: Vec<_> = pair
                        .iter()
                        .map(|target| {
                            scope.spawn(|| oss_fuzz::run_built(&out, target, time, &run_dir))
                        })
                        .collect();
                    runs.into_iter().try_for_each(|run| run.join().expect("fuzz run thread"))
                })?;
            }
            Ok(())
        }
    }
}

/// One libFuzzer run: the growing corpus lives under target/ (not in the
/// repo); the checked-in seeds are read alongside it.
fn fuzz_run(sh: &Shell, target: &str, seconds: u64, jobs: u32) -> Result<()> {
    step(&format!("fuzzing {target} for {seconds}s"));
    let root = workspace_root();
    let corpus = root.join("target/fuzz-corpus").join(target);
    sh.create_dir(&corpus)?;
    let seeds = root.join(FUZZ_DIR).join("corpus").join(target);
    sh.create_dir(&seeds)?;
    let dict = root.join(FUZZ_DIR).join("config.dict");
    let mut flags = vec![
        format!("-max_total_time={seconds}"),
        format!("-dict={}", dict.display()),
        "-rss_limit_mb=2048".to_string(),
        "-timeout=10".to_string(),
        "-print_final_stats=1".to_string(),
    ];
    if jobs > 1 {
        flags.push(format!("-fork={jobs}"));
    }
    let _dir = sh.push_dir(FUZZ_DIR);
    cmd!(sh, "cargo +nightly fuzz run -O {target} {corpus} {seeds} -- {flags...}")
        .run()
        .with_context(|| {
            format!("fuzz target {target} failed: a crashing input, if it found one, is in fuzz/artifacts/{target}/; fix the code and keep the input in fuzz/regressions/{target}/")
        })
}
