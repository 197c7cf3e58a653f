//! The figures of a fuzzing campaign, read from libFuzzer's own output
//! (status lines and `-print_final_stats=1`), and their table in
//! docs/results/fuzz.md between two markers (the text around them is
//! written by hand: what plateaus and what would push it further).

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
    /// Executions done when coverage last grew, as a share of all.
    pub last_growth: f64,
    pub peak_rss_mb: u64,
    pub seconds: u64,
    /// CPU time of the fuzzer (user + system, from `/usr/bin/time -v`):
    /// a niced campaign on a busy host gets less than its wall time.
    pub cpu_seconds: f64,
    /// The crash, if the run ended in one: libFuzzer's summary line and
    /// where it wrote the input.
    pub crashed: Option<String>,
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
        let mut s = Stats { target: target.to_string(), ..Stats::default() };
        let mut last_cov = 0;
        let mut growth_at = 0;
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
            if let Some(rest) = line.strip_prefix("Done ") {
                // "Done 123 runs in 1800 second(s)"
                s.seconds = field(rest, "in").map_or(0, number);
            }
            if line.starts_with("SUMMARY: ") || line.contains("deadly signal") {
                s.crashed.get_or_insert_with(|| line.trim().to_string());
            }
            if let Some(path) = line.split("Test unit written to ").nth(1) {
                let summary = s.crashed.take().unwrap_or_default();
                s.crashed = Some(format!("{summary} (input: {})", path.trim()));
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
        if s.executions > 0 {
            s.last_growth = growth_at as f64 / s.executions as f64;
        }
        s
    }

    fn row(&self) -> String {
        let share = |cov: u64| {
            if self.edges_total == 0 {
                String::new()
            } else {
                format!(" ({:.1}%)", 100.0 * cov as f64 / self.edges_total as f64)
            }
        };
        format!(
            "| `{}` | {} | {:.0} | {} | {} | {} → {}{} | {} | {} / {} | {:.0}% | {} | {} |",
            self.target,
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
            100.0 * self.last_growth,
            self.peak_rss_mb,
            self.crashed.as_deref().unwrap_or("none"),
        )
    }
}

pub const BEGIN: &str = "<!-- campaign table: written by `cargo xtask fuzz campaign` -->";
pub const END: &str = "<!-- end of campaign table -->";

pub fn table(stats: &[Stats], minutes: u64) -> String {
    let mut out = format!(
        "{BEGIN}\n\nlitmus {}; every target {minutes} minutes on one core (nice 19), \
         libFuzzer with the spec dictionary.\n\n\
         | target | minutes | CPU minutes | executions | exec/s | coverage: seeds → end (edges, share of all) | features | corpus (files / size) | coverage last grew at | peak RSS MiB | crash |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
        env!("CARGO_PKG_VERSION")
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
                last_growth: 0.5,
                peak_rss_mb: 71,
                seconds: 3,
                cpu_seconds: 120.0,
                crashed: None,
            }
        );
    }

    #[test]
    fn a_crash_is_named_with_its_input() {
        let log = format!(
            "{LOG}==123== ERROR: libFuzzer: deadly signal\n\
             artifact_prefix='a/'; Test unit written to a/crash-abc\n\
             SUMMARY: libFuzzer: deadly signal\n"
        );
        let crashed = Stats::parse("t", &log).crashed.unwrap();
        assert!(
            crashed.contains("deadly signal") && crashed.ends_with("(input: a/crash-abc)"),
            "{crashed}"
        );
    }

    #[test]
    fn the_table_replaces_only_its_own_part_of_the_page() {
        let stats = [Stats::parse("config_json", LOG)];
        let page = render_into("", &stats, 30);
        assert!(
            page.contains("| `config_json` | 0 | 2 | 1000 | 333 | 3882 → 5000 (2.7%) |"),
            "{page}"
        );
        let edited =
            page.replace("# Fuzzing campaigns", "# Fuzzing campaigns\n\nHand-written notes.");
        let again = render_into(&format!("{edited}\nMore notes.\n"), &stats, 30);
        assert!(again.contains("Hand-written notes.") && again.contains("More notes."), "{again}");
        assert_eq!(again.matches(BEGIN).count(), 1);
    }
}
