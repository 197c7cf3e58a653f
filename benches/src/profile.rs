//! Where a `run` spends its time: litmus-runtime's own trace
//! (`LITMUS_RUNTIME_TRACE`, one JSON line per phase, CLOCK_MONOTONIC ns)
//! placed on the caller's timeline, from the spawn to the reaped exit,
//! over many runs.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One phase of one run, relative to the spawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub process: String,
    pub phase: String,
    pub start_ns: f64,
    pub duration_ns: f64,
}

/// CLOCK_MONOTONIC now, in ns: the clock the runtime's trace uses.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given, nothing else.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The phases of one run from its trace file, with the two the runtime
/// cannot see itself: from the spawn to its first line ("exec + load",
/// the caller's fork and exec of the binary and its start-up), and from
/// its last line to the caller's reap ("exit").
pub fn phases_of_run(trace: &str, spawned_ns: u64, reaped_ns: u64) -> Result<Vec<Phase>> {
    let mut phases = Vec::new();
    for line in trace.lines().filter(|l| !l.trim().is_empty()) {
        let doc: Value =
            serde_json::from_str(line).with_context(|| format!("trace line {line:?}"))?;
        let (Some(start), Some(end)) = (doc["start_ns"].as_u64(), doc["end_ns"].as_u64()) else {
            bail!("trace line without start_ns/end_ns: {line}");
        };
        phases.push(Phase {
            process: doc["process"].as_str().unwrap_or("?").to_string(),
            phase: doc["phase"].as_str().unwrap_or("?").to_string(),
            start_ns: start as f64 - spawned_ns as f64,
            duration_ns: end as f64 - start as f64,
        });
    }
    let runtime = phases.iter().filter(|p| p.process == "runtime");
    let (Some(first), Some(last)) = (
        runtime.clone().map(|p| p.start_ns).reduce(f64::min),
        runtime.map(|p| p.start_ns + p.duration_ns).reduce(f64::max),
    ) else {
        bail!("the trace has no line from the runtime process");
    };
    phases.push(Phase {
        process: "caller".into(),
        phase: "exec + load".into(),
        start_ns: 0.0,
        duration_ns: first,
    });
    let total = reaped_ns as f64 - spawned_ns as f64;
    phases.push(Phase {
        process: "caller".into(),
        phase: "exit".into(),
        start_ns: last,
        duration_ns: total - last,
    });
    // The runtime process's phases follow one another: what they leave
    // of this run's total is time no phase names (taken run by run; a
    // difference of medians would not be the median of the differences).
    let named: f64 = phases.iter().filter(|p| on_the_path(&p.process)).map(|p| p.duration_ns).sum();
    phases.push(Phase {
        process: "caller".into(),
        phase: UNTRACED.into(),
        start_ns: total,
        duration_ns: total - named,
    });
    Ok(phases)
}

/// One row of the profile: a phase's medians over the runs it appeared in.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub process: String,
    pub phase: String,
    pub runs: usize,
    pub start_ns: f64,
    pub duration_ns: f64,
}

/// Medians per (process, phase), in the order phases start.
pub fn summarize(runs: &[Vec<Phase>]) -> Vec<Row> {
    let mut by_phase: BTreeMap<(String, String), (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for run in runs {
        for p in run {
            let entry = by_phase.entry((p.process.clone(), p.phase.clone())).or_default();
            entry.0.push(p.start_ns);
            entry.1.push(p.duration_ns);
        }
    }
    let mut rows: Vec<Row> = by_phase
        .into_iter()
        .map(|((process, phase), (mut starts, mut durations))| Row {
            runs: durations.len(),
            start_ns: crate::rounds::median(&mut starts),
            duration_ns: crate::rounds::median(&mut durations),
            process,
            phase,
        })
        .collect();
    rows.sort_by(|a, b| a.start_ns.total_cmp(&b.start_ns));
    rows
}

/// The row of each run's time that no phase names.
pub const UNTRACED: &str = "untraced";

/// The phases that run in the runtime process one after another (the
/// caller's two, and the runtime's own), whose medians add up to about
/// the whole; the others (intermediate, init) run inside its waits.
fn on_the_path(process: &str) -> bool {
    process == "runtime" || process == "caller"
}

pub fn on_the_runtime_path(row: &Row) -> bool {
    on_the_path(&row.process)
}

/// The table `cargo xtask bench --profile` prints.
pub fn render(rows: &[Row], total_ns: f64, floor_ns: f64) -> String {
    let ms = |ns: f64| format!("{:.2} ms", ns / 1e6);
    let mut out = format!(
        "{:<16}{:<22}{:>11}{:>11}{:>8}\n",
        "process", "phase", "starts at", "median", "share"
    );
    for row in rows {
        let share = if on_the_runtime_path(row) {
            format!("{:.0}%", 100.0 * row.duration_ns / total_ns)
        } else {
            String::new()
        };
        let indent = if on_the_runtime_path(row) { "" } else { "  " };
        out += &format!(
            "{:<16}{:<22}{:>11}{:>11}{:>8}\n",
            format!("{indent}{}", row.process),
            row.phase,
            ms(row.start_ns),
            ms(row.duration_ns),
            share
        );
    }
    out += &format!("{:<36}{:>22}\n", "total: spawn → reaped (median)", ms(total_ns));
    out += &format!(
        "{:<36}{:>22}{:>8}\n",
        "floor: unshare + chroot /bin/true",
        ms(floor_ns),
        format!("{:.2}×", total_ns / floor_ns)
    );
    out
}

/// Reads and removes a run's trace file.
pub fn take_trace(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let _ = std::fs::remove_file(path);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = concat!(
        r#"{"process":"runtime","phase":"cli","start_ns":1100,"end_ns":1200,"pid":9}"#,
        "\n",
        r#"{"process":"init","phase":"rootfs.prepare","start_ns":1300,"end_ns":1700,"pid":1}"#,
        "\n",
        r#"{"process":"runtime","phase":"wait.mounts","start_ns":1250,"end_ns":1800,"pid":9}"#,
        "\n"
    );

    #[test]
    fn phases_are_placed_on_the_callers_timeline_with_exec_and_exit() {
        let phases = phases_of_run(TRACE, 1000, 2000).unwrap();
        let find = |name: &str| phases.iter().find(|p| p.phase == name).unwrap().clone();
        assert_eq!(find("cli").start_ns, 100.0);
        assert_eq!(find("rootfs.prepare").duration_ns, 400.0);
        let exec = find("exec + load");
        assert_eq!((exec.start_ns, exec.duration_ns), (0.0, 100.0));
        let exit = find("exit");
        assert_eq!((exit.start_ns, exit.duration_ns), (800.0, 200.0));
    }

    #[test]
    fn a_trace_without_the_runtime_is_an_error() {
        let only_init =
            r#"{"process":"init","phase":"x","start_ns":1,"end_ns":2,"pid":1}"#.to_string();
        assert!(phases_of_run(&only_init, 0, 10).is_err());
        assert!(phases_of_run("not json", 0, 10).is_err());
    }

    #[test]
    fn rows_are_medians_in_start_order_and_the_table_accounts_for_the_total() {
        let runs = vec![
            phases_of_run(TRACE, 1000, 2000).unwrap(),
            phases_of_run(TRACE, 1000, 2400).unwrap(),
            phases_of_run(TRACE, 1000, 2200).unwrap(),
        ];
        let rows = summarize(&runs);
        let names: Vec<&str> = rows.iter().map(|r| r.phase.as_str()).collect();
        assert_eq!(
            names,
            ["exec + load", "cli", "wait.mounts", "rootfs.prepare", "exit", UNTRACED]
        );
        let exit = rows.iter().find(|r| r.phase == "exit").unwrap();
        assert_eq!((exit.runs, exit.duration_ns), (3, 400.0));
        let table = render(&rows, 1200.0, 600.0);
        // Run by run: 1000 - (100 + 100 + 550 + 200) = 50, 1400 - 1350,
        // 1200 - 1150: 50 each time.
        let untraced = rows.iter().find(|r| r.phase == UNTRACED).unwrap();
        assert_eq!(untraced.duration_ns, 50.0);
        assert!(table.contains("untraced"), "{table}");
        assert!(table.contains("2.00×"), "{table}");
        assert!(table.contains("  init"), "the container's phases are nested: {table}");
    }
}
