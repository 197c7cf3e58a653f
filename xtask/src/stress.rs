//! `cargo xtask stress`: the whole suite, run after run, while every core
//! is kept busy (CPU and disk), against litmus-runtime and, when present,
//! Debian runc and crun. A verdict that changes between runs is a bug in a
//! case until shown otherwise: the table lists every such case.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use xshell::Shell;

#[derive(clap::Args, Clone, Debug)]
pub struct Options {
    /// Full-suite runs per runtime
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
    /// Keep every core busy (CPU spinners, plus a disk writer) meanwhile
    #[arg(long)]
    pub load: bool,
    /// Only litmus-runtime (not runc and crun, even where installed)
    #[arg(long)]
    pub ours_only: bool,
    /// Passed on to every `litmus run`
    #[arg(last = true)]
    pub litmus_args: Vec<String>,
}

/// Per case, per runtime: the outcome of each run in order.
type Outcomes = BTreeMap<String, Vec<String>>;

pub(crate) struct Target {
    pub name: &'static str,
    pub binary: PathBuf,
    /// crun 1.8 refuses a hybrid cgroup layout: run it where cgroup2 is
    /// hidden (its own mount namespace).
    pub hide_cgroup2: bool,
}

pub fn stress(sh: &Shell, options: &Options) -> Result<()> {
    let (runtime, probe) = crate::build_suite(sh)?;
    let mut targets = vec![Target { name: "litmus-runtime", binary: runtime, hide_cgroup2: false }];
    if !options.ours_only {
        for (name, path, hide) in
            [("runc", "/usr/sbin/runc", false), ("crun", "/usr/bin/crun", true)]
        {
            if Path::new(path).exists() {
                targets.push(Target {
                    name,
                    binary: path.into(),
                    hide_cgroup2: hide && litmus_bundle::is_hybrid_cgroup_host(),
                });
            }
        }
    }
    let out_dir = crate::workspace_root().join("target/stress");
    std::fs::create_dir_all(&out_dir)?;
    let load = options.load.then(Load::start).transpose()?;
    let mut table: Vec<(&str, Outcomes)> = Vec::new();
    let started = std::time::Instant::now();
    for target in &targets {
        let mut outcomes = Outcomes::new();
        for run in 1..=options.runs {
            crate::step(&format!(
                "stress: {} run {run} of {}{}",
                target.name,
                options.runs,
                if options.load { ", under load" } else { "" }
            ));
            let report = out_dir.join(format!("{}-{run}.json", target.name));
            let took = std::time::Instant::now();
            run_suite(target, &probe, &report, &options.litmus_args)?;
            let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&report)?)
                .with_context(|| format!("reading {}", report.display()))?;
            let results = doc["results"].as_array().cloned().unwrap_or_default();
            for r in &results {
                let name = r["name"].as_str().unwrap_or("?").to_string();
                let outcome = r["outcome"].as_str().unwrap_or("?").to_string();
                outcomes.entry(name).or_default().push(outcome);
            }
            eprintln!(
                "  {} cases in {:.0} s: {}",
                results.len(),
                took.elapsed().as_secs_f64(),
                summary(&doc["summary"])
            );
        }
        table.push((target.name, outcomes));
    }
    drop(load);
    let text = render(&table, options);
    let path = out_dir.join("stress.md");
    std::fs::write(&path, &text)?;
    println!("{text}");
    eprintln!(
        "stress: {:.1} min; table in {}",
        started.elapsed().as_secs_f64() / 60.0,
        path.display()
    );
    let ours = &table[0].1;
    let flipped: Vec<&String> = ours.iter().filter(|(_, o)| flips(o)).map(|(n, _)| n).collect();
    let failed: Vec<&String> =
        ours.iter().filter(|(_, o)| o.iter().any(|x| x == "fail")).map(|(n, _)| n).collect();
    if !flipped.is_empty() {
        bail!("verdicts changed between runs against litmus-runtime: {flipped:?}");
    }
    if !failed.is_empty() {
        bail!("litmus-runtime failed under stress: {failed:?}");
    }
    Ok(())
}

pub(crate) fn run_suite(
    target: &Target,
    probe: &Path,
    report: &Path,
    extra: &[String],
) -> Result<()> {
    let litmus = crate::litmus_binary();
    let mut args: Vec<String> = vec![
        "run".into(),
        "--runtime".into(),
        target.binary.display().to_string(),
        "--probe".into(),
        probe.display().to_string(),
        "--format".into(),
        "json".into(),
        "--output".into(),
        report.display().to_string(),
    ];
    args.extend(extra.iter().cloned());
    let status = if target.hide_cgroup2 {
        let quoted: Vec<String> = std::iter::once(litmus.display().to_string())
            .chain(args)
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect();
        let script = format!("umount /sys/fs/cgroup/unified && exec {}", quoted.join(" "));
        std::process::Command::new("unshare").args(["--mount", "sh", "-c", &script]).status()
    } else {
        std::process::Command::new(&litmus).args(&args).status()
    }
    .context("starting litmus")?;
    // 1 is "a MUST failed": a verdict, read from the report. Anything else
    // means the suite could not run.
    match status.code() {
        Some(0) | Some(1) => Ok(()),
        _ => bail!("litmus run against {} ended with {status}", target.name),
    }
}

fn summary(summary: &serde_json::Value) -> String {
    format!(
        "{} passed, {} failed, {} skipped",
        summary["passed"], summary["failed"], summary["skipped"]
    )
}

fn flips(outcomes: &[String]) -> bool {
    outcomes.windows(2).any(|w| w[0] != w[1])
}

/// The table: per case, per runtime, passed/failed/skipped counts; the
/// cases whose verdict changed first.
fn render(table: &[(&str, Outcomes)], options: &Options) -> String {
    let mut cases: Vec<&String> = table.iter().flat_map(|(_, o)| o.keys()).collect();
    cases.sort();
    cases.dedup();
    let mut text = format!(
        "# litmus {} stress: {} runs per runtime{}\n\n",
        env!("CARGO_PKG_VERSION"),
        options.runs,
        if options.load { ", every core busy (CPU spinners and a disk writer)" } else { "" }
    );
    text += "Cells are passed/failed/skipped over the runs; **flips** marks a case whose verdict changed.\n\n";
    text += "| case |";
    for (name, _) in table {
        text += &format!(" {name} |");
    }
    text += "\n|---|";
    for _ in table {
        text += "---|";
    }
    text += "\n";
    let mut flipping = Vec::new();
    for case in &cases {
        let mut row = format!("| {case} |");
        for (name, outcomes) in table {
            let o = outcomes.get(*case).map(Vec::as_slice).unwrap_or(&[]);
            let count = |what: &str| o.iter().filter(|x| *x == what).count();
            let flip = flips(o);
            if flip {
                flipping.push(format!("{case} ({name}: {})", o.join(", ")));
            }
            row += &format!(
                " {}/{}/{}{} |",
                count("pass"),
                count("fail"),
                count("skip"),
                if flip { " **flips**" } else { "" }
            );
        }
        text += &row;
        text += "\n";
    }
    text += "\n";
    if flipping.is_empty() {
        text += "No verdict changed between runs.\n";
    } else {
        text += "Verdicts that changed between runs:\n\n";
        for f in flipping {
            text += &format!("- {f}\n");
        }
    }
    text
}

/// Busy cores while it lives: one spinning thread per core, and a thread
/// that writes and fsyncs 32 MiB files (disk I/O and page-cache churn).
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    dir: tempfile::TempDir,
}

impl Load {
    pub fn start() -> Result<Load> {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let dir = tempfile::Builder::new().prefix("litmus-load-").tempdir()?;
        let mut threads = Vec::new();
        for _ in 0..cores {
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                let mut x: u64 = 1;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..100_000 {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    }
                    std::hint::black_box(x);
                }
            }));
        }
        let writer_stop = stop.clone();
        let path = dir.path().join("churn");
        threads.push(std::thread::spawn(move || {
            use std::io::Write;
            let block = vec![0x5au8; 1 << 20];
            while !writer_stop.load(Ordering::Relaxed) {
                if let Ok(mut file) = std::fs::File::create(&path) {
                    for _ in 0..32 {
                        if writer_stop.load(Ordering::Relaxed) || file.write_all(&block).is_err() {
                            break;
                        }
                    }
                    let _ = file.sync_all();
                }
            }
        }));
        eprintln!("load: {cores} spinning threads and a disk writer");
        Ok(Load { stop, threads, dir })
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(self.dir.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_marks_flipping_cases_only() {
        let mut ours = Outcomes::new();
        ours.insert("steady".into(), vec!["pass".into(), "pass".into()]);
        ours.insert("flaky".into(), vec!["pass".into(), "fail".into()]);
        let options = Options { runs: 2, load: true, ours_only: true, litmus_args: Vec::new() };
        let text = render(&[("litmus-runtime", ours)], &options);
        assert!(text.contains("| steady | 2/0/0 |"), "{text}");
        assert!(text.contains("| flaky | 1/1/0 **flips** |"), "{text}");
        assert!(text.contains("- flaky (litmus-runtime: pass, fail)"), "{text}");
    }
}
