//! The measurements behind `cargo xtask bench` (run by it, as root, in a
//! mount namespace where cgroup2 is hidden for crun 1.8):
//!
//!   litmus-bench rounds [--quick] --out FILE    interleaved rounds of every
//!       metric for litmus-runtime, runc, crun and the floors; per-round
//!       figures as JSON
//!   litmus-bench profile --runs N --out FILE [--back-to-back]
//!       litmus-runtime's traced phases of `run`, beside the unshare +
//!       chroot floor; alternating with the floor, or (--back-to-back) one
//!       run after another as run-100 makes them
//!
//! Criterion's benches (`cargo bench -p litmus-benches`) give each runtime's
//! statistics alone; ratios come from here, where runtimes alternate.

use anyhow::{bail, Context, Result};
use litmus_benches::rounds::{interleaved, to_json, Contender, PerRound};
use litmus_benches::{
    bundle, limit_memory, next_id, peak_rss_kib, profile, rootfs, runtimes, start_to_oom_event,
    Runtime,
};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const OOM_LIMIT: i64 = 16 << 20;

fn main() {
    if let Err(e) = main_() {
        eprintln!("litmus-bench: {e:#}");
        std::process::exit(1);
    }
}

fn main_() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value =
        |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let out = PathBuf::from(value("--out").context("--out FILE is required")?);
    match args.first().map(String::as_str) {
        Some("rounds") => {
            // --only METRIC,METRIC: the others are not measured (an A/B of one).
            let only: Vec<String> = value("--only")
                .map(|v| v.split(',').filter(|m| !m.is_empty()).map(String::from).collect())
                .unwrap_or_default();
            rounds(args.iter().any(|a| a == "--quick"), &only, &out)
        }
        Some("profile") => {
            let runs = value("--runs").unwrap_or_else(|| "60".into());
            let runs = runs.parse().with_context(|| format!("--runs {runs:?}: a count"))?;
            run_profile(runs, args.iter().any(|a| a == "--back-to-back"), &out)
        }
        _ => {
            bail!(
                "usage: litmus-bench rounds [--quick] --out FILE | profile [--runs N] \
                 [--back-to-back] --out FILE"
            )
        }
    }
}

/// Nanoseconds `f` took.
fn timed(f: impl FnOnce() -> Result<()>) -> Result<f64> {
    let began = Instant::now();
    f()?;
    Ok(began.elapsed().as_nanos() as f64)
}

fn expect_code(rt: &Runtime, args: &[&str], code: i32) -> Result<()> {
    match rt.status(args)? {
        Some(c) if c == code => Ok(()),
        other => bail!("{} {}: exited {other:?}, expected {code}", rt.name, args.join(" ")),
    }
}

/// unshare into new mount, pid, ipc, uts and network namespaces, chroot,
/// run /bin/true: what any container start costs before a runtime's work.
fn floor_command(rootfs: &Path) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--pid", "--fork", "--ipc", "--uts", "--net", "chroot"])
        .arg(rootfs)
        .arg("/bin/true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn floor_once(rootfs: &Path) -> Result<()> {
    let status = litmus_benches::finish(floor_command(rootfs).spawn()?, "the floor")?;
    if !status.success() {
        bail!("unshare + chroot /bin/true: {status}");
    }
    Ok(())
}

/// What the metrics share: the runtimes, the bundles and the round sizes.
struct Setup {
    runtimes: Vec<Runtime>,
    true_bundle: litmus_bundle::Bundle,
    sleep_bundle: litmus_bundle::Bundle,
    hog: litmus_bundle::Bundle,
    rounds: usize,
    scale: usize,
}

impl Setup {
    fn path(bundle: &litmus_bundle::Bundle) -> String {
        bundle.path().display().to_string()
    }

    /// One contender per runtime, each sample timing `f(runtime, bundle)`.
    fn each_runtime<'a>(
        &'a self,
        bundle: &litmus_bundle::Bundle,
        f: fn(&Runtime, &str) -> Result<()>,
    ) -> Vec<Contender<'a>> {
        let path = Setup::path(bundle);
        self.runtimes
            .iter()
            .map(|rt| {
                let path = path.clone();
                Contender::new(rt.name.clone(), move || timed(|| f(rt, &path)))
            })
            .collect()
    }

    fn floor<'a>(&'a self, times: usize) -> Contender<'a> {
        let root = self.true_bundle.rootfs();
        Contender::new("floor-unshare-chroot", move || {
            timed(|| (0..times).try_for_each(|_| floor_once(&root)))
        })
    }
}

/// How a metric is measured.
type Measure = fn(&Setup) -> Result<PerRound>;

/// The metrics, in the order they run: name, whether quick runs it, how.
const METRICS: &[(&str, bool, Measure)] = &[
    ("run-true", true, run_true),
    ("create-start-delete", true, create_start_delete),
    ("exec", true, exec),
    ("run-100", false, run_100),
    ("oom-run-137", true, oom_run),
    ("oom-event", true, oom_event),
    ("peak-rss-kib", true, peak_rss),
];

fn rounds(quick: bool, only: &[String], out: &Path) -> Result<()> {
    let rootfs = rootfs()?;
    let (rounds, scale) = if quick { (3, 1) } else { (7, 4) };
    let setup = Setup {
        runtimes: runtimes()?,
        true_bundle: bundle(&rootfs, &["/bin/true"], |_| {})?,
        sleep_bundle: bundle(&rootfs, &["/bin/sleep", "3600"], |_| {})?,
        hog: bundle(&rootfs, &["/litmus-probe", "alloc", "256"], |s| limit_memory(s, OOM_LIMIT))?,
        rounds,
        scale,
    };
    let mut metrics = Map::new();
    for (name, in_quick, measure) in METRICS {
        let wanted =
            if only.is_empty() { *in_quick || !quick } else { only.iter().any(|m| m == name) };
        if wanted {
            metrics.insert(name.to_string(), to_json(&measure(&setup)?));
            eprintln!("  {name}: measured");
        }
    }
    if metrics.is_empty() {
        bail!("--only {}: no such metric", only.join(","));
    }
    let doc = json!({"quick": quick, "metrics": metrics});
    std::fs::write(out, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("writing {}", out.display()))
}

fn run_true(setup: &Setup) -> Result<PerRound> {
    let mut contenders = setup.each_runtime(&setup.true_bundle, |rt, path| {
        expect_code(rt, &["run", "--bundle", path, &next_id("true")], 0)
    });
    contenders.push(setup.floor(1));
    interleaved(&mut contenders, setup.rounds, 5 * setup.scale)
}

fn create_start_delete(setup: &Setup) -> Result<PerRound> {
    let mut contenders = setup.each_runtime(&setup.true_bundle, |rt, path| {
        let id = next_id("csd");
        rt.ok(&["create", "--bundle", path, &id])?;
        rt.ok(&["start", &id])?;
        rt.ok(&["delete", "--force", &id])
    });
    interleaved(&mut contenders, setup.rounds, 3 * setup.scale)
}

fn exec(setup: &Setup) -> Result<PerRound> {
    let running = Running::start(&setup.runtimes, &Setup::path(&setup.sleep_bundle))?;
    let mut contenders: Vec<Contender> = running
        .ids
        .iter()
        .map(|(rt, id)| {
            Contender::new(rt.name.clone(), move || {
                timed(|| expect_code(rt, &["exec", id, "/bin/true"], 0))
            })
        })
        .collect();
    interleaved(&mut contenders, setup.rounds, 5 * setup.scale)
}

fn run_100(setup: &Setup) -> Result<PerRound> {
    let mut contenders = setup.each_runtime(&setup.true_bundle, |rt, path| {
        (0..100).try_for_each(|_| expect_code(rt, &["run", "--bundle", path, &next_id("seq")], 0))
    });
    contenders.push(setup.floor(100));
    interleaved(&mut contenders, setup.rounds, 1)
}

fn oom_run(setup: &Setup) -> Result<PerRound> {
    let mut contenders = setup.each_runtime(&setup.hog, |rt, path| {
        expect_code(rt, &["run", "--bundle", path, &next_id("oom")], 137)
    });
    interleaved(&mut contenders, setup.rounds, setup.scale)
}

/// Only runtimes whose `events` reports an OOM (crun has no `events`).
fn oom_event(setup: &Setup) -> Result<PerRound> {
    let path = Setup::path(&setup.hog);
    let mut contenders: Vec<Contender> = Vec::new();
    for rt in &setup.runtimes {
        match start_to_oom_event(rt, &path) {
            Ok(_) => {
                let path = path.clone();
                contenders.push(Contender::new(rt.name.clone(), move || {
                    Ok(start_to_oom_event(rt, &path)?.as_nanos() as f64)
                }))
            }
            Err(e) => eprintln!("  oom-event: {} left out: {e:#}", rt.name),
        }
    }
    interleaved(&mut contenders, setup.rounds, setup.scale)
}

/// A maximum, not a timing: the largest VmHWM of five runs, in KiB (five
/// one-sample rounds, alternating), kept as one figure.
fn peak_rss(setup: &Setup) -> Result<PerRound> {
    let mut contenders: Vec<Contender> = setup
        .runtimes
        .iter()
        .map(|rt| {
            Contender::new(rt.name.clone(), || Ok(peak_rss_kib(rt, &setup.true_bundle)? as f64))
        })
        .collect();
    let five = interleaved(&mut contenders, 5, 1)?;
    Ok(five.into_iter().map(|(n, v)| (n, vec![v.into_iter().fold(0.0, f64::max)])).collect())
}

/// A sleeping container per runtime, for `exec`; deleted when dropped.
struct Running<'a> {
    ids: Vec<(&'a Runtime, String)>,
}

impl<'a> Running<'a> {
    fn start(runtimes: &'a [Runtime], bundle: &str) -> Result<Running<'a>> {
        let mut running = Running { ids: Vec::new() };
        for rt in runtimes {
            let id = next_id("exec");
            rt.ok(&["run", "--detach", "--bundle", bundle, &id])?;
            running.ids.push((rt, id));
        }
        Ok(running)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        for (rt, id) in &self.ids {
            let _ = rt.ok(&["delete", "--force", id]);
        }
    }
}

/// `runs` traced `run`s of litmus-runtime, alternating with the floor or
/// (`back_to_back`) one after another, the floor measured after them:
/// what grows between the two is what a run leaves to the next one.
fn run_profile(runs: usize, back_to_back: bool, out: &Path) -> Result<()> {
    let rootfs = rootfs()?;
    let runtimes = runtimes()?;
    let ours = runtimes.iter().find(|r| r.name == "litmus-runtime").expect("always listed");
    let true_bundle = bundle(&rootfs, &["/bin/true"], |_| {})?;
    let path = true_bundle.path().display().to_string();
    // Beside the state roots (a tmpfs under `cargo xtask bench`): on a disk,
    // creating each trace file would be timed as part of the runtime's start.
    let traces = tempfile::tempdir_in(litmus_benches::state_parent())?;
    let mut timelines = Vec::new();
    let mut totals = Vec::new();
    let mut floors = Vec::new();
    for i in 0..runs {
        let trace = traces.path().join(format!("{i}.jsonl"));
        let mut cmd = ours.command(&["run", "--bundle", &path, &next_id("profile")]);
        cmd.env(TRACE_VARIABLE, &trace);
        let spawned = profile::now_ns();
        let status = litmus_benches::finish(cmd.spawn()?, "a traced run")?;
        let reaped = profile::now_ns();
        if !status.success() {
            bail!("litmus-runtime run (traced): {status}");
        }
        timelines.push(profile::phases_of_run(&profile::take_trace(&trace)?, spawned, reaped)?);
        totals.push((reaped - spawned) as f64);
        if !back_to_back {
            floors.push(timed(|| floor_once(&true_bundle.rootfs()))?);
        }
    }
    if back_to_back {
        for _ in 0..runs {
            floors.push(timed(|| floor_once(&true_bundle.rootfs()))?);
        }
    }
    let rows = profile::summarize(&timelines);
    let total = litmus_benches::rounds::median(&mut totals);
    let floor = litmus_benches::rounds::median(&mut floors);
    let table = profile::render(&rows, total, floor);
    print!("{table}");
    let doc = json!({
        "runs": runs,
        "back_to_back": back_to_back,
        "total_ns": total,
        "floor_ns": floor,
        "phases": rows.iter().map(|r| json!({
            "process": r.process, "phase": r.phase, "runs": r.runs,
            "start_ns": r.start_ns, "duration_ns": r.duration_ns,
        })).collect::<Vec<Value>>(),
        "table": table,
    });
    std::fs::write(out, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("writing {}", out.display()))
}

/// litmus-runtime's trace variable (the suite never links the runtime).
const TRACE_VARIABLE: &str = "LITMUS_RUNTIME_TRACE";
