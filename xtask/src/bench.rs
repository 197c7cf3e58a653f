//! `cargo xtask bench`: litmus-runtime beside runc, crun and the floors, in
//! interleaved rounds (benches/src/rounds.rs), and `--profile`: where one
//! `run` of litmus-runtime spends its time, phase by phase.
//!
//! A ratio is taken round by round (litmus-runtime's figure in a round over
//! the peer's in the same round); the table prints the median of those
//! ratios with their spread, and with `--repeat N` the median over N full
//! runs with its range. Baselines store ratios, not times: the noise of a
//! shared machine hits every runtime of a round alike and cancels out of a
//! ratio, so `--check` can compare with a run from another day.

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

const OURS: &str = "litmus-runtime";
/// The peers ratios are printed for, in this order; any other runtime
/// given with --runtime follows them (an older build, for an A/B).
const PEERS: [&str; 3] = ["crun", "runc", "floor-unshare-chroot"];

fn peers_of(names: &[&String]) -> Vec<String> {
    let mut peers: Vec<String> = PEERS.iter().map(|p| p.to_string()).collect();
    peers.extend(
        names.iter().filter(|n| **n != OURS && !PEERS.contains(&n.as_str())).map(|n| n.to_string()),
    );
    peers
}

/// metric → contender → its figure in each round (ns for times, KiB for rss).
pub type Rounds = BTreeMap<String, BTreeMap<String, Vec<f64>>>;

#[derive(Debug, clap::Args)]
pub struct Options {
    /// Short runs (CI): three rounds of a few samples, no run-100
    #[arg(long)]
    pub quick: bool,
    /// Full runs to make; the figures are medians over them, with their range
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Store this run's ratios as benches/baselines/NAME.json
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Fail if a median ratio of litmus-runtime to crun (or runc) regressed beyond --threshold
    #[arg(long)]
    pub check: bool,
    /// The baseline --check compares with
    #[arg(long, default_value = "main")]
    pub baseline: String,
    /// Allowed regression of a ratio, as a fraction (0.3 = 30% worse)
    #[arg(long, default_value_t = 0.3)]
    pub threshold: f64,
    /// Do not run: use the last run's figures (target/litmus-bench)
    #[arg(long)]
    pub no_run: bool,
    /// More runtimes to bench: NAME=PATH (repeatable)
    #[arg(long = "runtime", value_name = "NAME=PATH")]
    pub runtimes: Vec<String>,
    /// Instead of the rounds: the phases of litmus-runtime's `run`
    /// (LITMUS_RUNTIME_TRACE) beside the unshare + chroot floor
    #[arg(long)]
    pub profile: bool,
    /// Measure only this metric (repeatable), e.g. run-true for an A/B
    /// of two builds (--runtime old=PATH)
    #[arg(long = "only", value_name = "METRIC")]
    pub only: Vec<String>,
    /// Traced runs for --profile
    #[arg(long, default_value_t = 60)]
    pub runs: usize,
    /// With --profile: the traced runs one after another (as run-100 makes
    /// them), the floor measured after them, instead of alternating
    #[arg(long, requires = "profile")]
    pub back_to_back: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            quick: false,
            repeat: 1,
            save_baseline: None,
            check: false,
            baseline: "main".into(),
            threshold: 0.3,
            no_run: false,
            runtimes: Vec::new(),
            profile: false,
            runs: 60,
            back_to_back: false,
            only: Vec::new(),
        }
    }
}

/// The whole command: run, print the table, save and check as asked.
pub fn bench(sh: &Shell, options: &Options) -> Result<()> {
    if options.profile {
        return profile(sh, options.runs, options.back_to_back);
    }
    let repeat = options.repeat.max(1);
    if !options.no_run {
        crate::ensure_packages(sh, &["runc", "crun"])?;
        let _ = std::fs::remove_dir_all(results_dir());
        for n in 1..=repeat {
            crate::step(&format!("interleaved rounds, full run {n} of {repeat}"));
            measure(sh, options, &run_file(n))?;
        }
    }
    let runs = (1..=repeat).map(|n| load(&run_file(n))).collect::<Result<Vec<_>>>()?;
    let summary = summarize(&runs);
    let text = render(&summary, runs.len());
    print!("{text}");
    std::fs::write(results_dir().join("summary.txt"), &text)?;
    if let Some(name) = &options.save_baseline {
        save_baseline(&summary, name)?;
    }
    if options.check {
        check(&summary, &options.baseline, options.threshold)?;
    }
    Ok(())
}

fn root() -> PathBuf {
    crate::workspace_root()
}

fn results_dir() -> PathBuf {
    let dir = root().join("target/litmus-bench");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn run_file(n: usize) -> PathBuf {
    results_dir().join(format!("rounds-{n}.json"))
}

/// Builds what is measured and the measuring binary.
fn build(sh: &Shell) -> Result<(PathBuf, PathBuf, PathBuf)> {
    crate::step("building litmus-runtime (shipped: static, ship profile) and the static probe");
    let runtime = litmus_bundle::shipped_runtime()?;
    let probe = litmus_bundle::probe_binary()?;
    let messages = cmd!(
        sh,
        "cargo build --release --package litmus-benches --bin litmus-bench --message-format json"
    )
    .read()?;
    // Where cargo says it put the binary, not a guessed target directory.
    let bench = messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "litmus-bench")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo built no litmus-bench executable")?;
    Ok((runtime, probe, bench))
}

/// One full run of the rounds into `out`.
pub fn measure(sh: &Shell, options: &Options, out: &Path) -> Result<()> {
    let (runtime, probe, bench) = build(sh)?;
    // crun 1.8 refuses a hybrid cgroup layout: hide cgroup2 from every
    // runtime alike, in a private mount namespace.
    // crun then still writes <id>/cgroup.procs into the (now plain tmpfs)
    // unified directory: the bench's own IDs are removed from there after.
    let mode = if options.quick { "--quick" } else { "--full" };
    let only = options.only.join(",");
    // The runtimes' --root directories on a tmpfs, as engines keep them
    // (/run): see benches/src/lib.rs, state_parent.
    let script = "umount /sys/fs/cgroup/unified 2>/dev/null; \
        mkdir -p /run/litmus-bench && mount -t tmpfs -o mode=0700 litmus-bench /run/litmus-bench || exit 1; \
        export LITMUS_BENCH_ROOTS=/run/litmus-bench; \
        \"$0\" rounds \"$1\" --out \"$2\" --only \"$3\"; rc=$?; \
        if ! mountpoint -q /sys/fs/cgroup/unified; then \
          for d in /sys/fs/cgroup/unified/*-[0-9]*-[0-9]*; do \
            [ -d \"$d\" ] && rm -f \"$d/cgroup.procs\" && rmdir \"$d\"; \
          done; \
        fi; umount /run/litmus-bench; rmdir /run/litmus-bench 2>/dev/null; exit $rc";
    cmd!(sh, "unshare --mount sh -c {script} {bench} {mode} {out} {only}")
        .env("LITMUS_PROBE", &probe)
        .env("LITMUS_RUNTIME", &runtime)
        .env("LITMUS_BENCH_RUNTIMES", options.runtimes.join(","))
        .run()
        .context("the benches failed")?;
    Ok(())
}

fn profile(sh: &Shell, runs: usize, back_to_back: bool) -> Result<()> {
    let (runtime, probe, bench) = build(sh)?;
    let (how, mode, file) = if back_to_back {
        ("one after another, then the floor", "--back-to-back", "profile-back-to-back.json")
    } else {
        ("alternating with the floor", "", "profile.json")
    };
    crate::step(&format!("{runs} traced runs of litmus-runtime, {how}"));
    let out = results_dir().join(file);
    let runs = runs.to_string();
    let script = "mkdir -p /run/litmus-bench && mount -t tmpfs -o mode=0700 litmus-bench /run/litmus-bench || exit 1; \
        LITMUS_BENCH_ROOTS=/run/litmus-bench \"$0\" profile --runs \"$1\" --out \"$2\" $3; rc=$?; \
        umount /run/litmus-bench; rmdir /run/litmus-bench 2>/dev/null; exit $rc";
    cmd!(sh, "unshare --mount sh -c {script} {bench} {runs} {out} {mode}")
        .env("LITMUS_PROBE", &probe)
        .env("LITMUS_RUNTIME", &runtime)
        .run()
        .context("the profile failed")?;
    eprintln!("phases as JSON: {}", out.display());
    Ok(())
}

/// A run's per-round figures, as `litmus-bench rounds` wrote them.
pub fn load(path: &Path) -> Result<Rounds> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {}: did the benches run?", path.display()))?;
    let doc: Value = serde_json::from_str(&text)?;
    let mut rounds = Rounds::new();
    for (metric, contenders) in doc["metrics"].as_object().into_iter().flatten() {
        for (name, values) in contenders.as_object().into_iter().flatten() {
            let values: Vec<f64> =
                values.as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
            rounds.entry(metric.clone()).or_default().insert(name.clone(), values);
        }
    }
    if rounds.is_empty() {
        bail!("{}: no metrics", path.display());
    }
    Ok(rounds)
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 })
}

fn range(values: &[f64]) -> Option<(f64, f64)> {
    let min = values.iter().copied().reduce(f64::min)?;
    let max = values.iter().copied().reduce(f64::max)?;
    Some((min, max))
}

/// One ratio of litmus-runtime to a peer: the median over runs of each
/// run's median of per-round ratios, and the spread that goes with it
/// (over rounds for one run, over runs for several).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

/// metric → the figures (contender → median) and the ratios (peer → ratio).
#[derive(Debug, Default)]
pub struct Summary {
    pub figures: BTreeMap<String, BTreeMap<String, f64>>,
    pub ratios: BTreeMap<String, BTreeMap<String, Ratio>>,
}

/// Per-round ratios of litmus-runtime to `peer` in one run's `metric`.
fn round_ratios(run: &Rounds, metric: &str, peer: &str) -> Option<Vec<f64>> {
    let row = run.get(metric)?;
    let (ours, theirs) = (row.get(OURS)?, row.get(peer)?);
    let ratios: Vec<f64> =
        ours.iter().zip(theirs).map(|(a, b)| a / b).filter(|r| r.is_finite()).collect();
    (!ratios.is_empty()).then_some(ratios)
}

pub fn summarize(runs: &[Rounds]) -> Summary {
    let mut summary = Summary::default();
    let metrics: Vec<&String> = {
        let mut m: Vec<&String> = runs.iter().flat_map(|r| r.keys()).collect();
        m.sort();
        m.dedup();
        m
    };
    for metric in metrics {
        let contenders: Vec<&String> = {
            let mut c: Vec<&String> =
                runs.iter().filter_map(|r| r.get(metric)).flat_map(|row| row.keys()).collect();
            c.sort();
            c.dedup();
            c
        };
        for &name in &contenders {
            let per_run: Vec<f64> =
                runs.iter().filter_map(|r| median(r.get(metric)?.get(name)?)).collect();
            if let Some(m) = median(&per_run) {
                summary.figures.entry(metric.clone()).or_default().insert(name.clone(), m);
            }
        }
        for peer in peers_of(&contenders) {
            let per_run: Vec<Vec<f64>> =
                runs.iter().filter_map(|r| round_ratios(r, metric, &peer)).collect();
            let medians: Vec<f64> = per_run.iter().filter_map(|r| median(r)).collect();
            let Some(mid) = median(&medians) else { continue };
            // One run: the spread over its rounds; several: over the runs.
            let spread = if per_run.len() == 1 { &per_run[0] } else { &medians };
            let (low, high) = range(spread).unwrap_or((mid, mid));
            let ratio = Ratio { median: mid, low, high };
            summary.ratios.entry(metric.clone()).or_default().insert(peer.to_string(), ratio);
        }
    }
    summary
}

fn human(metric: &str, value: f64) -> String {
    if metric == "peak-rss-kib" {
        format!("{:.1} MiB", value / 1024.0)
    } else if value >= 1e9 {
        format!("{:.2} s", value / 1e9)
    } else {
        format!("{:.2} ms", value / 1e6)
    }
}

pub fn render(summary: &Summary, runs: usize) -> String {
    let contenders: Vec<String> = {
        let mut all: Vec<String> =
            summary.figures.values().flat_map(|r| r.keys().cloned()).collect();
        all.sort();
        all.dedup();
        // Ours first, floors last.
        all.sort_by_key(|r| (r != OURS, r.starts_with("floor"), r.clone()));
        all
    };
    let spread =
        if runs > 1 { format!("range over {runs} runs") } else { "range over rounds".into() };
    let mut out = format!(
        "\nmedians of interleaved rounds; ratios: median of per-round ratios [{spread}]\n{:<20}",
        "metric"
    );
    for c in &contenders {
        out += &format!("{:>24}", c.replace("floor-unshare-chroot", "floor (unshare+chroot)"));
    }
    let names: Vec<&String> = contenders.iter().collect();
    let peers = peers_of(&names);
    for peer in &peers {
        let short = peer.replace("floor-unshare-chroot", "floor");
        out += &format!("{:>22}", format!("÷{short}"));
    }
    out.push('\n');
    for (metric, row) in &summary.figures {
        out += &format!("{metric:<20}");
        for c in &contenders {
            let cell = row.get(c).map(|v| human(metric, *v)).unwrap_or_else(|| "-".into());
            out += &format!("{cell:>24}");
        }
        for peer in &peers {
            let cell = summary
                .ratios
                .get(metric)
                .and_then(|r| r.get(peer))
                .map(|r| format!("{:.2}× [{:.2}-{:.2}]", r.median, r.low, r.high))
                .unwrap_or_else(|| "-".into());
            out += &format!("{cell:>22}");
        }
        out.push('\n');
    }
    out
}

fn baseline_path(name: &str) -> PathBuf {
    root().join("benches/baselines").join(format!("{name}.json"))
}

/// Median ratios of litmus-runtime to each peer, per metric.
fn ratios_json(summary: &Summary) -> Value {
    let mut doc = Map::new();
    for (metric, peers) in &summary.ratios {
        let get = |p: &str| peers.get(p).map(|r| r.median);
        let entry = json!({"vs_crun": get("crun"), "vs_runc": get("runc"),
                           "vs_floor": get("floor-unshare-chroot")});
        doc.insert(metric.clone(), entry);
    }
    Value::Object(doc)
}

pub fn save_baseline(summary: &Summary, name: &str) -> Result<()> {
    let path = baseline_path(name);
    let doc = json!({"ratios": ratios_json(summary), "measured": summary.figures});
    std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("baseline saved: {}", path.display());
    Ok(())
}

/// Fails when a median ratio is worse than the baseline's by more than
/// `threshold`.
pub fn check(summary: &Summary, name: &str, threshold: f64) -> Result<()> {
    let path = baseline_path(name);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("no baseline {}: make one with --save-baseline {name}", path.display())
    })?;
    let baseline: Value = serde_json::from_str(&text)?;
    compare(summary, &baseline, threshold)
        .with_context(|| format!("compared with {}", path.display()))
}

fn compare(summary: &Summary, baseline: &Value, threshold: f64) -> Result<()> {
    let now = ratios_json(summary);
    let mut regressions = Vec::new();
    let mut compared = 0;
    // The reference is crun, measured in the same rounds; runc only when
    // crun is absent (runc is so much slower that small ratios to it swing
    // widely with noise).
    let peer =
        if summary.ratios.values().any(|r| r.contains_key("crun")) { "vs_crun" } else { "vs_runc" };
    for (metric, peers) in now.as_object().into_iter().flatten() {
        let (Some(current), Some(before)) =
            (peers[peer].as_f64(), baseline["ratios"][metric][peer].as_f64())
        else {
            continue;
        };
        compared += 1;
        let line = format!("{metric} {peer}: {current:.2}× (baseline {before:.2}×)");
        if current > before * (1.0 + threshold) {
            regressions.push(line);
        } else {
            eprintln!("  ok  {line}");
        }
    }
    if compared == 0 {
        bail!("nothing to compare: no ratios in common");
    }
    if !regressions.is_empty() {
        bail!(
            "litmus-runtime regressed beyond {:.0}%:\n  {}",
            threshold * 100.0,
            regressions.join("\n  ")
        );
    }
    eprintln!("no regression beyond {:.0}% in {compared} ratios", threshold * 100.0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rows: &[(&str, &str, &[f64])]) -> Rounds {
        let mut r = Rounds::new();
        for (metric, name, values) in rows {
            r.entry(metric.to_string()).or_default().insert(name.to_string(), values.to_vec());
        }
        r
    }

    #[test]
    fn ratios_are_taken_round_by_round_then_the_median() {
        // A busy second round slows both alike: per-round ratios stay 0.5.
        let one = run(&[
            ("run-true", OURS, &[5.0, 50.0, 6.0]),
            ("run-true", "crun", &[10.0, 100.0, 12.0]),
        ]);
        let s = summarize(&[one]);
        let r = s.ratios["run-true"]["crun"];
        assert_eq!((r.median, r.low, r.high), (0.5, 0.5, 0.5));
        // The figures themselves are medians over rounds.
        assert_eq!(s.figures["run-true"][OURS], 6.0);
    }

    #[test]
    fn several_runs_give_the_median_of_run_medians_and_their_range() {
        let runs: Vec<Rounds> = [0.6, 0.8, 0.7]
            .iter()
            .map(|x| run(&[("run-true", OURS, &[*x, *x]), ("run-true", "crun", &[1.0, 1.0])]))
            .collect();
        let r = summarize(&runs).ratios["run-true"]["crun"];
        assert!((r.median - 0.7).abs() < 1e-9, "{r:?}");
        assert_eq!((r.low, r.high), (0.6, 0.8));
        let table = render(&summarize(&runs), 3);
        assert!(table.contains("0.70× [0.60-0.80]"), "{table}");
        assert!(table.contains("range over 3 runs"), "{table}");
    }

    #[test]
    fn the_check_compares_median_ratios_to_crun() {
        let s = summarize(&[run(&[
            ("run-true", OURS, &[9.0, 8.0, 100.0]),
            ("run-true", "crun", &[10.0, 10.0, 10.0]),
        ])]);
        // Median of [0.9, 0.8, 10] is 0.9: one bad round does not decide.
        assert!((s.ratios["run-true"]["crun"].median - 0.9).abs() < 1e-9);
        let baseline = json!({"ratios": {"run-true": {"vs_crun": 0.8}}});
        assert!(compare(&s, &baseline, 0.3).is_ok());
        assert!(compare(&s, &baseline, 0.1).is_err());
        let unrelated = json!({"ratios": {"exec": {"vs_crun": 0.8}}});
        assert!(compare(&s, &unrelated, 0.3).is_err(), "nothing compared is not a pass");
    }
}
