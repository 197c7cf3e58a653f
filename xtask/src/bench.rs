//! `cargo xtask bench`: runs the criterion benches in benches/, reads the
//! medians criterion stored, and prints each metric per runtime with
//! litmus-runtime's ratio to crun and to runc measured in the same run.
//!
//! Baselines store those ratios, not times: on a shared, noisy machine the
//! noise hits every runtime alike and cancels out of a ratio, so `--check`
//! can compare today's run with one from another day and machine.

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use xshell::{cmd, Shell};

const OURS: &str = "litmus-runtime";
/// Criterion groups, in the order they are printed.
const TIMED: &[&str] = &["run-true", "create-start-delete", "exec", "run-100", "oom-run-137"];

/// metric → runtime → value (ns for times, KiB for rss).
pub type Table = BTreeMap<String, BTreeMap<String, f64>>;

#[derive(Debug, clap::Args)]
pub struct Options {
    /// Short runs (CI): fewer samples, no run-100
    #[arg(long)]
    pub quick: bool,
    /// Store this run's ratios as benches/baselines/NAME.json
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Fail if litmus-runtime's ratio to crun (or runc) regressed beyond --threshold
    #[arg(long)]
    pub check: bool,
    /// The baseline --check compares with
    #[arg(long, default_value = "main")]
    pub baseline: String,
    /// Allowed regression of a ratio, as a fraction (0.3 = 30% worse)
    #[arg(long, default_value_t = 0.3)]
    pub threshold: f64,
    /// Do not run: use the last run's figures (target/criterion), e.g. to
    /// save a baseline from a run just made
    #[arg(long)]
    pub no_run: bool,
    /// More runtimes to bench: NAME=PATH (repeatable)
    #[arg(long = "runtime", value_name = "NAME=PATH")]
    pub runtimes: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            quick: false,
            save_baseline: None,
            check: false,
            baseline: "main".into(),
            threshold: 0.3,
            no_run: false,
            runtimes: Vec::new(),
        }
    }
}

/// The whole command: run, print the table, save and check as asked.
pub fn bench(sh: &Shell, options: &Options) -> Result<()> {
    if !options.no_run {
        crate::ensure_packages(sh, &["runc", "crun"])?;
        run(sh, options.quick, &options.runtimes)?;
    }
    let table = collect()?;
    print!("{}", render(&table));
    if let Some(name) = &options.save_baseline {
        save_baseline(&table, name)?;
    }
    if options.check {
        check(&table, &options.baseline, options.threshold)?;
    }
    Ok(())
}

fn root() -> PathBuf {
    crate::workspace_root()
}

pub fn run(sh: &Shell, quick: bool, extra: &[String]) -> Result<()> {
    crate::step("building litmus-runtime (shipped: static, ship profile) and the static probe");
    let runtime = litmus_bundle::shipped_runtime()?;
    let probe = litmus_bundle::probe_binary()?;
    let _ = std::fs::remove_dir_all(root().join("target/criterion"));
    let _ = std::fs::remove_dir_all(root().join("target/litmus-bench"));
    crate::step("running the benches (criterion)");
    // crun 1.8 refuses a hybrid cgroup layout: hide cgroup2 from every
    // runtime alike, in a private mount namespace.
    // crun then still writes <id>/cgroup.procs into the (now plain tmpfs)
    // unified directory: the bench's own IDs are removed from there after.
    let script = "umount /sys/fs/cgroup/unified 2>/dev/null; \
        cargo bench --package litmus-benches; rc=$?; \
        if ! mountpoint -q /sys/fs/cgroup/unified; then \
          for d in /sys/fs/cgroup/unified/*-[0-9]*-[0-9]*; do \
            [ -d \"$d\" ] && rm -f \"$d/cgroup.procs\" && rmdir \"$d\"; \
          done; \
        fi; exit $rc";
    let mut command = cmd!(sh, "unshare --mount sh -c {script}")
        .env("LITMUS_PROBE", &probe)
        .env("LITMUS_RUNTIME", &runtime)
        .env("LITMUS_BENCH_RUNTIMES", extra.join(","));
    if quick {
        command = command.env("LITMUS_BENCH_QUICK", "1");
    }
    command.run().context("the benches failed")?;
    Ok(())
}

/// Medians from target/criterion and the extra figures the benches wrote.
pub fn collect() -> Result<Table> {
    let mut table = Table::new();
    let criterion = root().join("target/criterion");
    for group in TIMED {
        let Ok(entries) = std::fs::read_dir(criterion.join(group)) else {
            continue;
        };
        for entry in entries.flatten() {
            let estimates = entry.path().join("new/estimates.json");
            let Ok(text) = std::fs::read_to_string(&estimates) else {
                continue;
            };
            let doc: Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", estimates.display()))?;
            if let Some(median) = doc["median"]["point_estimate"].as_f64() {
                let name = entry.file_name().to_string_lossy().into_owned();
                table.entry(group.to_string()).or_default().insert(name, median);
            }
        }
    }
    let extra = root().join("target/litmus-bench");
    for (metric, file) in [("peak-rss-kib", "rss.json"), ("oom-event", "oom-event.json")] {
        let Ok(text) = std::fs::read_to_string(extra.join(file)) else {
            continue;
        };
        let doc: Map<String, Value> = serde_json::from_str(&text)?;
        for (runtime, value) in doc {
            if let Some(v) = value.as_f64() {
                table.entry(metric.to_string()).or_default().insert(runtime, v);
            }
        }
    }
    if table.is_empty() {
        bail!("no results under target/criterion: did the benches run?");
    }
    Ok(table)
}

fn ratio(row: &BTreeMap<String, f64>, to: &str) -> Option<f64> {
    Some(row.get(OURS)? / row.get(to)?)
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

pub fn render(table: &Table) -> String {
    let runtimes: Vec<String> = {
        let mut all: Vec<String> = table.values().flat_map(|r| r.keys().cloned()).collect();
        all.sort();
        all.dedup();
        // Ours first, floors last.
        all.sort_by_key(|r| (r != OURS, r.starts_with("floor"), r.clone()));
        all
    };
    let mut out = format!("\n{:<22}", "metric (median)");
    for r in &runtimes {
        out += &format!("{r:>22}");
    }
    out += &format!("{:>10}{:>10}\n", "÷crun", "÷runc");
    for (metric, row) in table {
        out += &format!("{metric:<22}");
        for r in &runtimes {
            let cell = row.get(r).map(|v| human(metric, *v)).unwrap_or_else(|| "-".into());
            out += &format!("{cell:>22}");
        }
        for to in ["crun", "runc"] {
            let cell = ratio(row, to).map(|x| format!("{x:.2}×")).unwrap_or_else(|| "-".into());
            out += &format!("{cell:>10}");
        }
        out.push('\n');
    }
    out
}

fn baseline_path(name: &str) -> PathBuf {
    root().join("benches/baselines").join(format!("{name}.json"))
}

/// Ratios of litmus-runtime to each peer, per metric.
fn ratios(table: &Table) -> Value {
    let mut doc = Map::new();
    for (metric, row) in table {
        let entry = json!({"vs_crun": ratio(row, "crun"), "vs_runc": ratio(row, "runc")});
        doc.insert(metric.clone(), entry);
    }
    Value::Object(doc)
}

pub fn save_baseline(table: &Table, name: &str) -> Result<()> {
    let path = baseline_path(name);
    let doc = json!({"ratios": ratios(table), "measured": table});
    std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("baseline saved: {}", path.display());
    Ok(())
}

/// Fails when a ratio is worse than the baseline's by more than `threshold`.
pub fn check(table: &Table, name: &str, threshold: f64) -> Result<()> {
    let path = baseline_path(name);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("no baseline {}: make one with --save-baseline {name}", path.display())
    })?;
    let baseline: Value = serde_json::from_str(&text)?;
    let now = ratios(table);
    let mut regressions = Vec::new();
    let mut compared = 0;
    // The reference is crun, measured in the same run; runc only when crun
    // is absent. (runc is so much slower that small ratios to it swing
    // widely with noise.)
    let peer =
        if table.values().any(|row| row.contains_key("crun")) { "vs_crun" } else { "vs_runc" };
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
        bail!("nothing to compare with {}: no ratios in common", path.display());
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
