//! `cargo xtask fuzz`: the cargo-fuzz targets (nightly), their campaigns,
//! and the OSS-Fuzz / ClusterFuzzLite build (`.clusterfuzzlite/build.sh`)
//! checked as those services run it.

use anyhow::{bail, ensure, Context, Result};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

use crate::{conformance, step, workspace_root};

mod campaign;

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
    /// Every target for MINUTES of CPU time (nice 19, LANES targets at
    /// once); the figures go to docs/results/fuzz.md
    Campaign {
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        #[arg(long, default_value_t = 1)]
        lanes: usize,
        /// Only render docs/results/fuzz.md from the logs of a campaign
        /// already run (DIR/TARGET.log, libFuzzer's output)
        #[arg(long, value_name = "DIR")]
        from_logs: Option<PathBuf>,
    },
    /// Every target for a short while, then the replay of seeds and saved crashes
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
        FuzzAction::Campaign { minutes, lanes, from_logs } => {
            let logs = match from_logs {
                Some(dir) => dir,
                None => {
                    ensure_fuzz_tools(sh)?;
                    campaign(sh, &targets, minutes, lanes.max(1))?
                }
            };
            let mut stats = Vec::new();
            for target in &targets {
                let log = logs.join(format!("{target}.log"));
                let text = std::fs::read_to_string(&log)
                    .with_context(|| format!("no campaign log {}", log.display()))?;
                stats.push(campaign::Stats::parse(target, &text));
            }
            let page = workspace_root().join("docs/results/fuzz.md");
            let old = std::fs::read_to_string(&page).unwrap_or_default();
            std::fs::write(&page, campaign::render_into(&old, &stats, minutes))?;
            eprintln!("{}", page.display());
            match stats.iter().find(|s| s.crashed.is_some()) {
                Some(s) => bail!("{} crashed: {}", s.target, s.crashed.as_deref().unwrap_or("")),
                None => Ok(()),
            }
        }
        FuzzAction::Smoke { time } => {
            ensure_fuzz_tools(sh)?;
            crate::ensure_packages(sh, &["zip", "unzip"])?;
            let scratch = tempfile::Builder::new().prefix("litmus-oss-fuzz").tempdir()?;
            let out = oss_fuzz_build(sh, scratch.path())?;
            step("checking $OUT: every target, its seed corpus, dictionary and options");
            let expected = expected_outputs(&targets)?;
            check_out_dir(&out, &expected)?;
            // Two at a time: each libFuzzer process uses one core.
            let run_dir = scratch.path().join("run");
            for pair in expected.chunks(2) {
                std::thread::scope(|scope| {
                    let runs: Vec<_> = pair
                        .iter()
                        .map(|target| scope.spawn(|| run_built(&out, target, time, &run_dir)))
                        .collect();
                    runs.into_iter().try_for_each(|run| run.join().expect("fuzz run thread"))
                })?;
            }
            Ok(())
        }
    }
}

/// `.clusterfuzzlite/build.sh` as OSS-Fuzz and ClusterFuzzLite run it:
/// $SRC, $OUT and $WORK are fresh directories under `scratch`, the checkout
/// is $SRC/litmus (a link to this tree, where those services copy it: same
/// files, and fuzz/target is shared with local builds), nightly cargo.
fn oss_fuzz_build(sh: &Shell, scratch: &Path) -> Result<PathBuf> {
    let (src, out, work) = (scratch.join("src"), scratch.join("out"), scratch.join("work"));
    for dir in [&src, &out, &work] {
        std::fs::create_dir_all(dir)?;
    }
    std::os::unix::fs::symlink(workspace_root(), src.join("litmus"))?;
    step("building the fuzzers as OSS-Fuzz does (.clusterfuzzlite/build.sh, temporary $SRC $OUT $WORK)");
    cmd!(sh, "bash -eu .clusterfuzzlite/build.sh")
        .env("SRC", &src)
        .env("OUT", &out)
        .env("WORK", &work)
        .env("RUSTUP_TOOLCHAIN", "nightly")
        .run()
        .context(".clusterfuzzlite/build.sh failed")?;
    Ok(out)
}

/// What $OUT must hold for one target.
#[derive(Debug)]
struct Expected {
    target: String,
    /// Seed file names: fuzz/corpus/TARGET and fuzz/regressions/TARGET.
    seeds: Vec<String>,
}

fn expected_outputs(targets: &[String]) -> Result<Vec<Expected>> {
    let fuzz = workspace_root().join(FUZZ_DIR);
    targets
        .iter()
        .map(|target| {
            let mut seeds = Vec::new();
            for dir in ["corpus", "regressions"] {
                let dir = fuzz.join(dir).join(target);
                if dir.is_dir() {
                    for entry in std::fs::read_dir(&dir)? {
                        seeds.push(entry?.file_name().to_string_lossy().into_owned());
                    }
                }
            }
            ensure!(!seeds.is_empty(), "fuzz/corpus/{target}: a target needs at least one seed");
            Ok(Expected { target: target.clone(), seeds })
        })
        .collect()
}

/// libFuzzer flags from a `TARGET.options` file (`[libfuzzer]`, then
/// `key = value` lines), as ClusterFuzz passes them.
fn libfuzzer_options(text: &str) -> Result<Vec<(String, String)>> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    ensure!(lines.next() == Some("[libfuzzer]"), "the first section must be [libfuzzer]");
    lines
        .map(|line| {
            let (key, value) =
                line.split_once('=').with_context(|| format!("not `key = value`: {line:?}"))?;
            Ok((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

fn check_out_dir(out: &Path, expected: &[Expected]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for Expected { target, seeds } in expected {
        let binary = out.join(target);
        let mode = std::fs::metadata(&binary)
            .with_context(|| format!("$OUT/{target}: the fuzzer binary is missing"))?
            .permissions()
            .mode();
        ensure!(mode & 0o111 != 0, "$OUT/{target} is not executable");
        let zip = out.join(format!("{target}_seed_corpus.zip"));
        let listed = std::process::Command::new("unzip")
            .arg("-Z1")
            .arg(&zip)
            .output()
            .with_context(|| format!("listing {}", zip.display()))?;
        ensure!(listed.status.success(), "$OUT/{target}_seed_corpus.zip is missing or not a zip");
        let names = String::from_utf8_lossy(&listed.stdout);
        for seed in seeds {
            ensure!(
                names.lines().any(|n| n == seed),
                "$OUT/{target}_seed_corpus.zip lacks the seed {seed}"
            );
        }
        let options_path = out.join(format!("{target}.options"));
        let options = std::fs::read_to_string(&options_path)
            .with_context(|| format!("$OUT/{target}.options is missing"))?;
        let options =
            libfuzzer_options(&options).with_context(|| format!("$OUT/{target}.options"))?;
        let dict = options.iter().find(|(k, _)| k == "dict").map(|(_, v)| v.as_str());
        ensure!(dict.is_some(), "$OUT/{target}.options names no dict");
        let dict = out.join(dict.unwrap_or_default());
        ensure!(dict.is_file(), "$OUT/{target}.options: dict {} is missing", dict.display());
    }
    Ok(())
}

/// The built fuzzer with its options, on its unpacked seed corpus, for a
/// few seconds: the seeds (saved crashes among them) replay first.
fn run_built(out: &Path, expected: &Expected, seconds: u64, scratch: &Path) -> Result<()> {
    let target = &expected.target;
    let corpus = scratch.join(target);
    std::fs::create_dir_all(&corpus)?;
    let zip = out.join(format!("{target}_seed_corpus.zip"));
    let unzip = std::process::Command::new("unzip")
        .arg("-q")
        .arg("-o")
        .arg(&zip)
        .arg("-d")
        .arg(&corpus)
        .status()?;
    ensure!(unzip.success(), "unzip {} failed", zip.display());
    let options =
        libfuzzer_options(&std::fs::read_to_string(out.join(format!("{target}.options")))?)?;
    let mut flags: Vec<String> = options
        .iter()
        .map(|(k, v)| {
            if k == "dict" {
                format!("-dict={}", out.join(v).display())
            } else {
                format!("-{k}={v}")
            }
        })
        .collect();
    let artifacts = workspace_root().join(FUZZ_DIR).join("artifacts").join(target);
    std::fs::create_dir_all(&artifacts)?;
    flags.push(format!("-max_total_time={seconds}"));
    flags.push(format!("-artifact_prefix={}/", artifacts.display()));
    step(&format!("{target}: seeds, then {seconds}s of fuzzing"));
    let run = std::process::Command::new(out.join(target))
        .args(&flags)
        .arg(&corpus)
        .output()
        .with_context(|| format!("running $OUT/{target}"))?;
    let log = String::from_utf8_lossy(&run.stderr);
    if !run.status.success() {
        eprint!("{log}");
        bail!(
            "fuzz target {target} failed ({}): the crashing input is in {}; fix the code and keep the input in fuzz/regressions/{target}/",
            run.status,
            artifacts.display()
        );
    }
    let done = log.lines().rev().find(|l| l.starts_with("Done ")).unwrap_or("no summary line");
    ensure!(log.contains("INITED"), "{target}: libFuzzer never finished loading its seeds:\n{log}");
    eprintln!("{target}: {done}");
    Ok(())
}

/// Runs every target for `minutes`, `lanes` at a time, each niced and
/// single-process; returns the directory of their logs.
fn campaign(sh: &Shell, targets: &[String], minutes: u64, lanes: usize) -> Result<PathBuf> {
    crate::ensure_packages(sh, &["time"])?;
    step("building the fuzz targets (nightly, -O)");
    {
        let _dir = sh.push_dir(FUZZ_DIR);
        cmd!(sh, "cargo +nightly fuzz build -O").run()?;
    }
    let root = workspace_root();
    let logs = root.join("target/fuzz-campaign");
    std::fs::create_dir_all(&logs)?;
    let queue = std::sync::Mutex::new(targets.to_vec());
    step(&format!(
        "{} targets, {minutes} CPU minutes each, {lanes} at a time (nice 19)",
        targets.len()
    ));
    std::thread::scope(|scope| {
        let lanes: Vec<_> = (0..lanes)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let Some(target) = queue.lock().expect("queue").pop() else {
                            return Ok(());
                        };
                        let binary = root
                            .join(FUZZ_DIR)
                            .join("target/x86_64-unknown-linux-gnu/release")
                            .join(&target);
                        let corpus = root.join("target/fuzz-corpus").join(&target);
                        let artifacts = root.join(FUZZ_DIR).join("artifacts").join(&target);
                        std::fs::create_dir_all(&corpus)?;
                        std::fs::create_dir_all(&artifacts)?;
                        eprintln!("campaign: {target} for {minutes} CPU minutes");
                        let log = std::fs::File::create(logs.join(format!("{target}.log")))?;
                        // A budget of CPU time, not wall time: a niced
                        // fuzzer on a busy host gets little of its wall
                        // time (measured: 12 of 30 minutes beside a CI run).
                        // libFuzzer prints its final stats on SIGINT.
                        let mut time = std::process::Command::new("/usr/bin/time")
                            .args(["-v", "nice", "-n", "19"])
                            .arg(&binary)
                            .arg(&corpus)
                            .arg(root.join(FUZZ_DIR).join("corpus").join(&target))
                            .arg(format!("-max_total_time={}", minutes * 60 * 8))
                            .arg(format!(
                                "-dict={}",
                                root.join(FUZZ_DIR).join("config.dict").display()
                            ))
                            .args(["-rss_limit_mb=2560", "-timeout=10", "-print_final_stats=1"])
                            .arg(format!("-artifact_prefix={}/", artifacts.display()))
                            .stdout(std::process::Stdio::null())
                            .stderr(log)
                            .spawn()
                            .with_context(|| format!("running {}", binary.display()))?;
                        let budget = std::time::Duration::from_secs(minutes * 60);
                        while time.try_wait()?.is_none() {
                            let fuzzer = child_of(time.id());
                            if fuzzer.and_then(cpu_time).is_some_and(|used| used >= budget) {
                                // SAFETY: kill(2) on a pid read from our
                                // own child's children; no memory involved.
                                unsafe { libc::kill(fuzzer.unwrap_or(0) as i32, libc::SIGINT) };
                                time.wait()?;
                                break;
                            }
                            std::thread::sleep(std::time::Duration::from_secs(5));
                        }
                    }
                })
            })
            .collect();
        lanes.into_iter().try_for_each(|lane| lane.join().expect("campaign lane panicked"))
    })?;
    Ok(logs)
}

/// The first child of `pid` (the fuzzer under /usr/bin/time and nice,
/// which execs it).
fn child_of(pid: u32) -> Option<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

/// User + system CPU time of a running process, from /proc/PID/stat.
fn cpu_time(pid: u32) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no memory effects.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(std::time::Duration::from_millis(ticks * 1000 / per_second))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `f` until it gives Some, for at most 20 s (a loaded host
    /// gives a child little CPU).
    fn within_deadline<T>(mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(std::time::Instant::now() < deadline, "no answer within 20 s");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn cpu_time_and_child_of_read_proc() {
        // sh stays the parent of its `sleep` (the `; :` keeps it from exec'ing).
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; sleep 30; :"])
            .spawn()
            .unwrap();
        let used = within_deadline(|| {
            cpu_time(shell.id()).filter(|t| *t >= std::time::Duration::from_millis(50))
        });
        assert!(used < std::time::Duration::from_secs(60), "{used:?}");
        let sleeper = within_deadline(|| child_of(shell.id()));
        let comm = std::fs::read_to_string(format!("/proc/{sleeper}/comm")).unwrap();
        assert_eq!(comm.trim(), "sleep");
        // SAFETY: kill(2) of our own grandchild.
        unsafe { libc::kill(sleeper as i32, libc::SIGKILL) };
        shell.kill().unwrap();
        shell.wait().unwrap();
    }

    #[test]
    fn options_files_become_libfuzzer_flags() {
        let options = libfuzzer_options("[libfuzzer]\ndict = t.dict\ntimeout = 10\n").unwrap();
        assert_eq!(options, [("dict".into(), "t.dict".into()), ("timeout".into(), "10".into())]);
        assert!(libfuzzer_options("dict = t.dict\n").is_err());
        assert!(libfuzzer_options("[libfuzzer]\ndict\n").is_err());
    }

    fn out_dir_with(target: &str, seeds: &[&str], options: &str) -> tempfile::TempDir {
        let out = tempfile::tempdir().unwrap();
        let seeds_dir = tempfile::tempdir().unwrap();
        for seed in seeds {
            std::fs::write(seeds_dir.path().join(seed), seed).unwrap();
        }
        let zip = out.path().join(format!("{target}_seed_corpus.zip"));
        let status = std::process::Command::new("zip")
            .arg("-q")
            .arg("-j")
            .arg(&zip)
            .args(seeds.iter().map(|s| seeds_dir.path().join(s)))
            .status()
            .expect("zip is installed (cargo xtask fuzz smoke installs it)");
        assert!(status.success());
        let binary = out.path().join(target);
        std::fs::write(&binary, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(out.path().join(format!("{target}.dict")), "\"x\"\n").unwrap();
        std::fs::write(out.path().join(format!("{target}.options")), options).unwrap();
        out
    }

    #[test]
    fn out_dir_check_names_what_is_missing() {
        let expected = |seeds: &[&str]| Expected {
            target: "t".into(),
            seeds: seeds.iter().map(|s| s.to_string()).collect(),
        };
        let good = "[libfuzzer]\ndict = t.dict\n";
        let out = out_dir_with("t", &["a", "crash-1"], good);
        check_out_dir(out.path(), &[expected(&["a", "crash-1"])]).unwrap();

        let error = check_out_dir(out.path(), &[expected(&["a", "crash-2"])]).unwrap_err();
        assert!(error.to_string().contains("lacks the seed crash-2"), "{error}");

        let error = check_out_dir(out.path(), &[Expected { target: "u".into(), seeds: vec![] }])
            .unwrap_err();
        assert!(error.to_string().contains("$OUT/u: the fuzzer binary is missing"), "{error}");

        let out = out_dir_with("t", &["a"], "[libfuzzer]\ntimeout = 10\n");
        let error = check_out_dir(out.path(), &[expected(&["a"])]).unwrap_err();
        assert!(error.to_string().contains("names no dict"), "{error}");
    }
}
