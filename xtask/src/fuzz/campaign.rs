//! A fuzzing campaign: every target for a budget of CPU time, and its
//! figures, read from libFuzzer's own output
//! (status lines and `-print_final_stats=1`), and their table in
//! docs/results/fuzz.md between two markers (the text around them is
//! written by hand: what plateaus and what would push it further).

use anyhow::{Context, Result};
use std::path::PathBuf;
use xshell::{cmd, Shell};

use super::FUZZ_DIR;
use crate::{step, workspace_root};

/// Where a campaign keeps what outlives one sitting: DIR/corpus/TARGET
/// (the corpus grows there), DIR/artifacts/TARGET and DIR/sittings/TARGET/N.log
/// (libFuzzer's output of each sitting). A campaign may take several
/// sittings, each resuming from the corpus the last one left, as OSS-Fuzz
/// runs its fuzzers: each sitting spends what is left of the CPU budget.
pub struct Campaign {
    pub dir: PathBuf,
}

impl Campaign {
    fn sittings_of(&self, target: &str) -> PathBuf {
        self.dir.join("sittings").join(target)
    }

    /// Each sitting's log of `target`, in order.
    pub fn logs(&self, target: &str) -> Result<Vec<PathBuf>> {
        let dir = self.sittings_of(target);
        let mut logs: Vec<(u32, PathBuf)> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter_map(|p| Some((p.file_stem()?.to_str()?.parse().ok()?, p.clone())))
                .filter(|(_, p)| p.extension().is_some_and(|e| e == "log"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        logs.sort();
        Ok(logs.into_iter().map(|(_, p)| p).collect())
    }

    /// A sitting whose campaign was stopped (the command killed, its
    /// fuzzer then given SIGINT) leaves N.running with libFuzzer's final
    /// stats and /usr/bin/time's figures in it: a whole sitting, kept as
    /// N.log. One cut off before those lines is dropped (its CPU time
    /// cannot be counted, its corpus additions stay in the corpus).
    /// Returns how many were kept.
    pub fn adopt_stopped(&self, target: &str) -> Result<usize> {
        let dir = self.sittings_of(target);
        let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(0) };
        let mut kept = 0;
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.extension().is_none_or(|e| e != "running") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let whole = text.contains("stat::number_of_executed_units:")
                && text.contains("User time (seconds):");
            if whole {
                std::fs::rename(&path, path.with_extension("log"))?;
                kept += 1;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(kept)
    }

    /// Each sitting of `target`, parsed.
    pub fn sittings(&self, target: &str) -> Result<Vec<Stats>> {
        self.logs(target)?
            .iter()
            .map(|log| {
                let text = std::fs::read_to_string(log)
                    .with_context(|| format!("reading {}", log.display()))?;
                Ok(Stats::parse(target, &text))
            })
            .collect()
    }
}

/// Runs every target until it has had `minutes` of CPU time over all its
/// sittings, `lanes` at a time, each niced and single-process; after each
/// sitting `written` is called (the page is rewritten then, so a campaign
/// stopped midway keeps what it did).
pub fn run(
    sh: &Shell,
    campaign: &Campaign,
    targets: &[String],
    minutes: u64,
    lanes: usize,
    written: &(dyn Fn() -> Result<()> + Sync),
) -> Result<()> {
    crate::ensure_packages(sh, &["time"])?;
    step("building the fuzz targets (nightly, -O)");
    {
        let _dir = sh.push_dir(FUZZ_DIR);
        cmd!(sh, "cargo +nightly fuzz build -O").run()?;
    }
    let root = workspace_root();
    let budget = std::time::Duration::from_secs(minutes * 60);
    let mut queue = Vec::new();
    for target in targets {
        let adopted = campaign.adopt_stopped(target)?;
        if adopted > 0 {
            eprintln!("campaign: {target}: {adopted} stopped sitting(s) kept (they ended cleanly)");
        }
        let spent: f64 = campaign.sittings(target)?.iter().map(|s| s.cpu_seconds).sum();
        let left = budget.saturating_sub(std::time::Duration::from_secs_f64(spent));
        // Less than a minute left: not worth a sitting's start-up.
        if left >= std::time::Duration::from_secs(60) {
            queue.push((target.clone(), left));
        } else {
            eprintln!("campaign: {target} has had its {minutes} CPU minutes");
        }
    }
    step(&format!(
        "{} targets short of {minutes} CPU minutes, {lanes} at a time (nice 19)",
        queue.len()
    ));
    queue.reverse();
    let queue = std::sync::Mutex::new(queue);
    let written_lock = std::sync::Mutex::new(());
    std::thread::scope(|scope| {
        let lanes: Vec<_> = (0..lanes)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let Some((target, left)) = queue.lock().expect("queue").pop() else {
                            return Ok(());
                        };
                        let binary = root
                            .join(FUZZ_DIR)
                            .join("target/x86_64-unknown-linux-gnu/release")
                            .join(&target);
                        let corpus = campaign.dir.join("corpus").join(&target);
                        let artifacts = campaign.dir.join("artifacts").join(&target);
                        let sittings = campaign.sittings_of(&target);
                        for dir in [&corpus, &artifacts, &sittings] {
                            std::fs::create_dir_all(dir)?;
                        }
                        let n = campaign.logs(&target)?.len() + 1;
                        eprintln!(
                            "campaign: {target}, sitting {n}, for {:.1} CPU minutes",
                            left.as_secs_f64() / 60.0
                        );
                        // Named .log only once it ends: a page written
                        // meanwhile does not count a sitting half done.
                        let running = sittings.join(format!("{n}.running"));
                        let log = std::fs::File::create(&running)?;
                        // A budget of CPU time, not wall time: a niced
                        // fuzzer on a busy host gets little of its wall
                        // time (measured: 12 of 30 minutes beside a CI run).
                        // libFuzzer prints its final stats on SIGINT.
                        let mut time = std::process::Command::new("/usr/bin/time")
                            .args(["-v", "nice", "-n", "19"])
                            .arg(&binary)
                            .arg(&corpus)
                            .arg(root.join(FUZZ_DIR).join("corpus").join(&target))
                            .arg(format!("-max_total_time={}", left.as_secs() * 8))
                            .arg(format!(
                                "-dict={}",
                                root.join(FUZZ_DIR).join("config.dict").display()
                            ))
                            // libFuzzer times a unit by the wall clock: niced behind other
                            // work, a 0.1 s input once waited 30 s for a core and ended
                            // a campaign as a "timeout". Hangs still show at 120 s.
                            .args(["-rss_limit_mb=2560", "-timeout=120", "-print_final_stats=1"])
                            .arg(format!("-artifact_prefix={}/", artifacts.display()))
                            .stdout(std::process::Stdio::null())
                            .stderr(log)
                            .spawn()
                            .with_context(|| format!("running {}", binary.display()))?;
                        while time.try_wait()?.is_none() {
                            let fuzzer = child_of(time.id());
                            if fuzzer.and_then(cpu_time).is_some_and(|used| used >= left) {
                                // SAFETY: kill(2) on a pid read from our
                                // own child's children; no memory involved.
                                unsafe { libc::kill(fuzzer.unwrap_or(0) as i32, libc::SIGINT) };
                                time.wait()?;
                                break;
                            }
                            std::thread::sleep(std::time::Duration::from_secs(5));
                        }
                        std::fs::rename(&running, sittings.join(format!("{n}.log")))?;
                        let _one_writer = written_lock.lock().expect("page lock");
                        written()?;
                    }
                })
            })
            .collect();
        lanes.into_iter().try_for_each(|lane| lane.join().expect("campaign lane panicked"))
    })
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

/// What one target's campaign did.
#[derive(Debug, Default, PartialEq)]
pub struct Stats {
    pub target: String,
    pub executions: u64,
    pub exec_per_sec: u64,
    /// Edges instrumented in the binary (`inline 8-bit counters`).
    pub edges_total: u64,
    /// Coverage after the seeds were loaded, and at the end.
    pub cov_seeds: u64,
    pub cov_end: u64,
    pub features_end: u64,
    pub corpus_files: u64,
    pub corpus_size: String,
    /// Executions done when coverage last grew.
    pub growth_at: u64,
    pub peak_rss_mb: u64,
    pub seconds: u64,
    /// Stopped when its CPU budget ran out (SIGINT), not by libFuzzer's
    /// own -max_total_time.
    pub stopped_by_budget: bool,
    /// CPU time of the fuzzer (user + system, from `/usr/bin/time -v`):
    /// a niced campaign on a busy host gets less than its wall time.
    pub cpu_seconds: f64,
    /// The crash, if the run ended in one: libFuzzer's summary line and
    /// where it wrote the input.
    pub crashed: Option<String>,
    /// The input libFuzzer wrote for it.
    pub input: Option<PathBuf>,
    /// Sittings summed up in these figures (1 for one log).
    pub sittings: usize,
}

impl Stats {
    /// A crash whose input is not kept among `regressions` (the directory
    /// every seed run and the OSS-Fuzz build replay): one still to fix.
    pub fn open_crash(&self, regressions: &std::path::Path) -> Option<&str> {
        let crashed = self.crashed.as_deref()?;
        let kept = self
            .input
            .as_deref()
            .and_then(|input| input.file_name())
            .is_some_and(|name| regressions.join(name).is_file());
        (!kept).then_some(crashed)
    }
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let mut words = line.split_whitespace();
    words.by_ref().find(|w| *w == key)?;
    words.next()
}

fn number(text: &str) -> u64 {
    text.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0)
}

impl Stats {
    pub fn parse(target: &str, log: &str) -> Stats {
        let mut s = Stats { target: target.to_string(), sittings: 1, ..Stats::default() };
        let mut last_cov = 0;
        let mut growth_at = 0;
        let (mut summary, mut input) = (None::<String>, None::<String>);
        for line in log.lines() {
            if let Some(rest) = line.strip_prefix("INFO: Loaded 1 modules") {
                s.edges_total = rest
                    .trim_start_matches(|c: char| !c.is_ascii_digit())
                    .split_whitespace()
                    .next()
                    .map_or(0, number);
            }
            if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
                s.executions = number(v.trim());
            }
            if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
                s.exec_per_sec = number(v.trim());
            }
            if let Some(v) = line.strip_prefix("stat::peak_rss_mb:") {
                s.peak_rss_mb = number(v.trim());
            }
            let trimmed = line.trim();
            for key in ["User time (seconds):", "System time (seconds):"] {
                if let Some(v) = trimmed.strip_prefix(key) {
                    s.cpu_seconds += v.trim().parse::<f64>().unwrap_or(0.0);
                }
            }
            if let Some(wall) = trimmed.strip_prefix("Elapsed (wall clock) time (h:mm:ss or m:ss):")
            {
                // The budget stopped it (SIGINT: no "Done" line); wall time
                // from /usr/bin/time, "m:ss.cc" or "h:mm:ss".
                if s.seconds == 0 {
                    s.seconds = wall
                        .trim()
                        .split(':')
                        .fold(0.0, |acc, part| acc * 60.0 + part.parse::<f64>().unwrap_or(0.0))
                        as u64;
                }
            }
            if line.contains("libFuzzer: run interrupted") {
                s.stopped_by_budget = true;
            }
            if let Some(rest) = line.strip_prefix("Done ") {
                // "Done 123 runs in 1800 second(s)"
                s.seconds = field(rest, "in").map_or(0, number);
            }
            // libFuzzer's SUMMARY line wins over the earlier error lines.
            let early = summary.is_none()
                && (line.contains("deadly signal") || line.contains("ERROR: AddressSanitizer"));
            if line.starts_with("SUMMARY: ") || early {
                summary = Some(line.trim().to_string());
            }
            if let Some(path) = line.split("Test unit written to ").nth(1) {
                input = Some(path.trim().to_string());
            }
            let Some(status) = line.strip_prefix('#') else { continue };
            let execs = status.split_whitespace().next().map_or(0, number);
            let Some(cov) = field(status, "cov:").map(number) else { continue };
            if status.contains("INITED") {
                s.cov_seeds = cov;
            }
            if cov > last_cov {
                last_cov = cov;
                growth_at = execs;
            }
            s.cov_end = cov;
            s.features_end = field(status, "ft:").map_or(0, number);
            if let Some((files, size)) = field(status, "corp:").and_then(|c| c.split_once('/')) {
                s.corpus_files = number(files);
                s.corpus_size = size.to_string();
            }
            s.executions = s.executions.max(execs);
        }
        s.input = input.as_deref().map(PathBuf::from);
        s.crashed = match (summary, input) {
            (Some(summary), Some(input)) => Some(format!("{summary} (input: {input})")),
            (Some(summary), None) => Some(summary),
            (None, Some(input)) => Some(format!("input: {input}")),
            (None, None) => None,
        };
        s.growth_at = growth_at;
        s
    }

    /// One target's figures over all its sittings: counts and times add
    /// up, coverage runs from the first sitting's seeds to the last one's
    /// end, and coverage last grew in the last sitting that raised it.
    pub fn combined(target: &str, sittings: &[Stats]) -> Option<Stats> {
        let first = sittings.first()?;
        let last = sittings.last()?;
        let mut s = Stats {
            target: target.to_string(),
            edges_total: last.edges_total,
            cov_seeds: first.cov_seeds,
            cov_end: last.cov_end,
            features_end: last.features_end,
            corpus_files: last.corpus_files,
            corpus_size: last.corpus_size.clone(),
            stopped_by_budget: last.stopped_by_budget,
            sittings: sittings.len(),
            ..Stats::default()
        };
        let (mut before, mut best) = (0, 0);
        for sitting in sittings {
            if sitting.cov_end > best {
                best = sitting.cov_end;
                s.growth_at = before + sitting.growth_at;
            }
            before += sitting.executions;
            s.seconds += sitting.seconds;
            s.cpu_seconds += sitting.cpu_seconds;
            s.peak_rss_mb = s.peak_rss_mb.max(sitting.peak_rss_mb);
            if s.crashed.is_none() {
                s.crashed = sitting.crashed.clone();
                s.input = sitting.input.clone();
            }
        }
        s.executions = before;
        s.exec_per_sec = s.executions.checked_div(s.seconds).unwrap_or(0);
        Some(s)
    }

    fn row(&self) -> String {
        let share = |cov: u64| {
            if self.edges_total == 0 {
                String::new()
            } else {
                format!(" ({:.1}%)", 100.0 * cov as f64 / self.edges_total as f64)
            }
        };
        let growth = match self.executions {
            0 => 0.0,
            all => 100.0 * self.growth_at as f64 / all as f64,
        };
        format!(
            "| `{}` | {} | {} | {:.0} | {} | {} | {} → {}{} | {} | {} / {} | {:.0}% | {} | {} |",
            self.target,
            self.sittings,
            self.seconds / 60,
            self.cpu_seconds / 60.0,
            self.executions,
            self.exec_per_sec,
            self.cov_seeds,
            self.cov_end,
            share(self.cov_end),
            self.features_end,
            self.corpus_files,
            self.corpus_size,
            growth,
            self.peak_rss_mb,
            self.crashed.as_deref().unwrap_or("none"),
        )
    }
}

/// Today's date (UTC), for the page.
fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub const BEGIN: &str = "<!-- campaign table: written by `cargo xtask fuzz campaign` -->";
pub const END: &str = "<!-- end of campaign table -->";

pub fn table(stats: &[Stats], minutes: u64) -> String {
    let mut out = format!(
        "{BEGIN}\n\nlitmus {}, {}; a budget of {minutes} CPU minutes per target unless the \
         CPU column says less, over the sittings named (each resumes from the corpus the last left); one core each (nice 19), libFuzzer with the spec dictionary.\n\n\
         | target | sittings | wall minutes | CPU minutes | executions | exec/s | coverage: seeds → end (edges, share of all) | features | corpus (files / size) | coverage last grew at | peak RSS MiB | crash |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
        env!("CARGO_PKG_VERSION"),
        today(),
    );
    for s in stats {
        out.push_str(&s.row());
        out.push('\n');
    }
    out.push_str(&format!("\n{END}"));
    out
}

/// The page with its table replaced (or a new page with a title).
pub fn render_into(page: &str, stats: &[Stats], minutes: u64) -> String {
    let table = table(stats, minutes);
    match (page.find(BEGIN), page.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{table}{}", &page[..begin], &page[end + END.len()..])
        }
        _ => format!("# Fuzzing campaigns\n\n{table}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
INFO: Loaded 1 modules   (187846 inline 8-bit counters): 187846 [0x1, 0x2),
#6\tINITED cov: 3882 ft: 4511 corp: 4/12555b exec/s: 0 rss: 59Mb
#7\tNEW    cov: 4145 ft: 6127 corp: 5/16Kb lim: 4242 exec/s: 0 rss: 60Mb L: 4242/4242 MS: 1 ChangeBinInt-
#500\tNEW    cov: 5000 ft: 9000 corp: 40/60Kb lim: 4242 exec/s: 250 rss: 70Mb L: 3/4242 MS: 1 ChangeBit-
#900\tREDUCE cov: 5000 ft: 9100 corp: 41/61Kb lim: 4242 exec/s: 300 rss: 71Mb L: 2/4242 MS: 1 EraseBytes-
#1000\tDONE   cov: 5000 ft: 9100 corp: 41/61Kb lim: 4242 exec/s: 333 rss: 71Mb
Done 1000 runs in 3 second(s)
stat::number_of_executed_units: 1000
stat::average_exec_per_sec:     333
stat::new_units_added:          37
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              71
\tUser time (seconds): 100.5
\tSystem time (seconds): 19.5
";

    #[test]
    fn a_stopped_sitting_with_final_stats_is_kept_and_a_cut_one_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let campaign = Campaign { dir: dir.path().to_path_buf() };
        let sittings = campaign.sittings_of("t");
        std::fs::create_dir_all(&sittings).unwrap();
        std::fs::write(sittings.join("1.log"), LOG).unwrap();
        std::fs::write(sittings.join("2.running"), LOG).unwrap();
        assert_eq!(campaign.adopt_stopped("t").unwrap(), 1);
        assert_eq!(campaign.logs("t").unwrap().len(), 2);
        std::fs::write(sittings.join("3.running"), &LOG[..200]).unwrap();
        assert_eq!(campaign.adopt_stopped("t").unwrap(), 0);
        assert!(!sittings.join("3.running").exists());
        assert_eq!(campaign.logs("t").unwrap().len(), 2);
        assert_eq!(campaign.adopt_stopped("absent").unwrap(), 0);
    }

    #[test]
    fn a_clean_run_gives_its_figures() {
        let s = Stats::parse("config_json", LOG);
        assert_eq!(
            s,
            Stats {
                target: "config_json".into(),
                executions: 1000,
                exec_per_sec: 333,
                edges_total: 187846,
                cov_seeds: 3882,
                cov_end: 5000,
                features_end: 9100,
                corpus_files: 41,
                corpus_size: "61Kb".into(),
                growth_at: 500,
                peak_rss_mb: 71,
                seconds: 3,
                cpu_seconds: 120.0,
                stopped_by_budget: false,
                crashed: None,
                input: None,
                sittings: 1,
            }
        );
    }

    #[test]
    fn a_run_stopped_by_its_budget_takes_its_wall_time_from_time() {
        let log = LOG.replace(
            "Done 1000 runs in 3 second(s)\n",
            "==1== libFuzzer: run interrupted; exiting\n",
        ) + "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02:03\n";
        let s = Stats::parse("t", &log);
        assert!(s.stopped_by_budget && s.crashed.is_none(), "{s:?}");
        assert_eq!(s.seconds, 3723);
    }

    #[test]
    fn sittings_add_up_and_coverage_runs_from_the_first_seeds_to_the_last_end() {
        let first = Stats::parse("t", LOG);
        // The second sitting loads the first's corpus (cov 5000) and
        // raises it once, at its 200th execution.
        let second = Stats::parse(
            "t",
            &LOG.replace("INITED cov: 3882", "INITED cov: 5000")
                .replace("#7\tNEW    cov: 4145", "#7\tNEW    cov: 5000")
                .replace("#500\tNEW    cov: 5000", "#200\tNEW    cov: 6000")
                .replace("REDUCE cov: 5000", "REDUCE cov: 6000")
                .replace("DONE   cov: 5000", "DONE   cov: 6000")
                .replace("peak_rss_mb:              71", "peak_rss_mb:              90"),
        );
        let all = Stats::combined("t", &[first, second]).unwrap();
        assert_eq!(
            (all.sittings, all.executions, all.cov_seeds, all.cov_end, all.growth_at),
            (2, 2000, 3882, 6000, 1200)
        );
        assert_eq!(
            (all.seconds, all.cpu_seconds, all.peak_rss_mb, all.exec_per_sec),
            (6, 240.0, 90, 333)
        );
        // A later sitting that found nothing new leaves the growth where it was.
        let third = Stats::parse(
            "t",
            &LOG.replace("cov: 3882", "cov: 4000")
                .replace("cov: 4145", "cov: 4000")
                .replace("cov: 5000", "cov: 4000"),
        );
        let all = Stats::combined("t", &[Stats::parse("t", LOG), third]).unwrap();
        assert_eq!((all.cov_end, all.growth_at), (4000, 500));
        assert!(Stats::combined("t", &[]).is_none());
    }

    #[test]
    fn sittings_are_read_in_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let campaign = Campaign { dir: dir.path().to_path_buf() };
        assert!(campaign.sittings("t").unwrap().is_empty());
        let sittings = dir.path().join("sittings/t");
        std::fs::create_dir_all(&sittings).unwrap();
        for n in [10, 2, 1] {
            std::fs::write(sittings.join(format!("{n}.log")), LOG).unwrap();
        }
        std::fs::write(sittings.join("notes.txt"), "not a sitting").unwrap();
        let names: Vec<_> = campaign
            .logs("t")
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["1.log", "2.log", "10.log"]);
    }

    #[test]
    fn a_crash_is_named_with_its_input() {
        let log = format!(
            "{LOG}==123== ERROR: libFuzzer: deadly signal\n\
             artifact_prefix='a/'; Test unit written to a/crash-abc\n\
             SUMMARY: libFuzzer: deadly signal\n"
        );
        let stats = Stats::parse("t", &log);
        let crashed = stats.crashed.as_deref().unwrap();
        assert!(
            crashed.contains("deadly signal") && crashed.ends_with("(input: a/crash-abc)"),
            "{crashed}"
        );
        // Open until its input is kept as a regression input.
        let regressions = tempfile::tempdir().unwrap();
        assert_eq!(stats.open_crash(regressions.path()), Some(crashed));
        std::fs::write(regressions.path().join("crash-abc"), "input").unwrap();
        assert_eq!(stats.open_crash(regressions.path()), None);
    }

    #[test]
    fn the_table_replaces_only_its_own_part_of_the_page() {
        let stats = [Stats::parse("config_json", LOG)];
        let page = render_into("", &stats, 30);
        assert!(
            page.contains("| `config_json` | 1 | 0 | 2 | 1000 | 333 | 3882 → 5000 (2.7%) |"),
            "{page}"
        );
        let edited =
            page.replace("# Fuzzing campaigns", "# Fuzzing campaigns\n\nHand-written notes.");
        let again = render_into(&format!("{edited}\nMore notes.\n"), &stats, 30);
        assert!(again.contains("Hand-written notes.") && again.contains("More notes."), "{again}");
        assert_eq!(again.matches(BEGIN).count(), 1);
    }

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
        // The child is sh's fork until it has exec'd sleep: wait for that
        // (a loaded host showed "sh").
        let comm = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok();
        let sleeper = within_deadline(|| {
            child_of(shell.id()).filter(|&pid| comm(pid).is_some_and(|c| c.trim() == "sleep"))
        });
        // SAFETY: kill(2) of our own grandchild.
        unsafe { libc::kill(sleeper as i32, libc::SIGKILL) };
        shell.kill().unwrap();
        shell.wait().unwrap();
    }
}
