use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use litmus::case::{Area, Case};
use litmus::catalogue::{self, Level};
use litmus::generated::{self, Budget};
use litmus::report::{self, RunInfo, Summary};
use litmus::runner::{self, CaseResult, RunOptions};
use litmus::{cases, driver};
use litmus_bundle::RootfsBuilder;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "litmus",
    version,
    about = "OCI runtime-spec conformance suite for runc-compatible runtimes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the suite against a runtime binary
    Run(Box<RunArgs>),
    /// Run the same cases and generated configs through two runtimes and
    /// report every divergence
    Diff(Box<DiffArgs>),
    /// Print the requirement catalogue and the cases covering each entry
    Requirements {
        /// Only the requirements (with --trace: the statements) no case checks yet
        #[arg(long)]
        uncovered: bool,
        /// Every normative statement of the runtime-spec with the requirement
        /// and cases that check it, or the reason none does
        #[arg(long)]
        trace: bool,
    },
    /// Merge JSON reports (`run --format json`) of any runtimes, versions
    /// and hosts into one matrix: markdown on stdout, or files
    Report(ReportArgs),
}

#[derive(clap::Args)]
struct ReportArgs {
    /// JSON reports to merge, one column each, in this order
    #[arg(required = true, value_name = "REPORT.json")]
    reports: Vec<PathBuf>,
    /// Write the markdown matrix here (default: stdout, unless --html is given)
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Write the matrix as one static HTML file (filters, failures first)
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Why runtimes fail cases: lines `RUNTIME CASE: why` ("runc 1.1.5
    /// umask_is_set: ..."), shown beside each failure
    #[arg(long, value_name = "FILE")]
    explanations: Option<PathBuf>,
    /// Exit 1 if a failure has no explanation (a failure nobody can explain
    /// is a bug in litmus until shown otherwise)
    #[arg(long, requires = "explanations")]
    require_explained: bool,
}

/// `litmus report`: reads every report (naming any that is not one),
/// merges them and writes what was asked.
fn report(args: &ReportArgs) -> anyhow::Result<i32> {
    use litmus::report::matrix::{Matrix, Report};
    let mut reports = Vec::new();
    for path in &args.reports {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        reports.push(Report::parse(&text, &path.display().to_string())?);
    }
    let mut matrix = Matrix::merge(&reports);
    if let Some(path) = &args.explanations {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--explanations {}", path.display()))?;
        matrix.explain(&text, &path.display().to_string())?;
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, matrix.markdown())
            .with_context(|| format!("--markdown {}", path.display()))?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, matrix.html())
            .with_context(|| format!("--html {}", path.display()))?;
    }
    if args.markdown.is_none() && args.html.is_none() {
        print!("{}", matrix.markdown());
    }
    let unexplained = matrix.unexplained();
    if args.require_explained && !unexplained.is_empty() {
        eprintln!("litmus: {} failures without an explanation:", unexplained.len());
        for failure in &unexplained {
            eprintln!("  {failure}");
        }
        return Ok(1);
    }
    Ok(0)
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Tap,
    Junit,
    Json,
}

/// Which cases and generated configs run (shared by `run` and `diff`).
#[derive(clap::Args)]
struct Selection {
    /// Static probe binary placed in each container (default: $LITMUS_PROBE,
    /// then litmus-probe beside this executable)
    #[arg(long)]
    probe: Option<PathBuf>,
    /// Cases run at once
    #[arg(long, short, default_value_t = 4)]
    jobs: usize,
    /// Multiply every deadline by F (on top of what the preflight
    /// measures), for very slow or emulated hosts
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = positive_factor)]
    timeout_scale: f64,
    /// Only cases whose name contains this
    #[arg(long)]
    filter: Option<String>,
    /// Leave out cases whose name contains this (repeatable)
    #[arg(long, value_name = "TEXT")]
    exclude: Vec<String>,
    /// Only cases citing this requirement ID (`litmus requirements` lists them)
    #[arg(long, value_parser = known_requirement)]
    requirement: Option<String>,
    /// Only cases of this area ("generated": only generated configs)
    #[arg(long, value_enum)]
    area: Option<Area>,
    /// Only cases of this level ("engine": the runc command-line contract
    /// engines rely on; its failures then fail the run)
    #[arg(long, value_enum)]
    level: Option<Level>,
    /// The runtime-spec version the runtime speaks (default: from its
    /// `features`, else 1.0.2)
    #[arg(long)]
    spec_version: Option<String>,
    /// Also run generated configs: a count (25) or a time budget (90s, 5m);
    /// `--area generated` alone runs 25
    #[arg(long, value_name = "N|DURATION")]
    generated: Option<Budget>,
    /// The corpus of real-world seccomp profiles and configs (area
    /// realworld; default: $LITMUS_CORPUS; `cargo xtask corpus` builds one)
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// How this host has to run the runtime (a wrapper, a hidden cgroup2
    /// mount...), recorded in the reports so a reader knows
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    /// Seed of the generated configs (config i uses seed + i)
    #[arg(long, default_value_t = generated::DEFAULT_SEED)]
    seed: u64,
}

fn positive_factor(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && (0.1..=1000.0).contains(&f) => Ok(f),
        _ => Err(format!("{text:?}: a factor between 0.1 and 1000")),
    }
}

/// Deadlines for this machine: the preflight's create time and the user's
/// factor (see litmus::deadline); said on stderr when they grow.
fn scale_deadlines(preflight_create: std::time::Duration, user: f64) {
    let scale = litmus::deadline::scale_for(preflight_create, user);
    litmus::deadline::set_scale(scale);
    if scale > 1.0 {
        eprintln!(
            "litmus: deadlines x{scale:.2} (the preflight create took {} ms; --timeout-scale {user})",
            preflight_create.as_millis()
        );
    }
}

#[derive(clap::Args)]
struct RunArgs {
    /// The runtime binary to check (runc-compatible command line)
    #[arg(long)]
    runtime: PathBuf,
    #[command(flatten)]
    select: Selection,
    #[command(flatten)]
    report: ReportTo,
    /// List the selected cases instead of running them
    #[arg(long)]
    list: bool,
    /// Also write the JSON report here (CI: human output in the log,
    /// JSON and JUnit files from the same run)
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write the JUnit XML report here
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Keep the work directory of failed cases for debugging
    #[arg(long)]
    keep_failed: bool,
    /// Exit 1 on any failure, whatever its level (by default only MUST
    /// failures, and ENGINE ones under `--level engine`, fail the run)
    #[arg(long)]
    strict: bool,
    /// Drive the runtime as an unprivileged user with the configs a
    /// rootless engine sends (as root: as --user, created if it is the
    /// default; as a user: as yourself). Cases that need root say SKIP
    #[arg(long)]
    rootless: bool,
    /// The user of --rootless (default: litmus-rootless, created with
    /// subordinate id ranges if missing)
    #[arg(long, value_name = "NAME", requires = "rootless")]
    user: Option<String>,
}

#[derive(clap::Args)]
struct DiffArgs {
    /// The two runtimes to compare: --runtime A --runtime B
    #[arg(long, num_args = 1, required = true)]
    runtime: Vec<PathBuf>,
    #[command(flatten)]
    select: Selection,
    /// (diff writes human or json, and says so for the others)
    #[command(flatten)]
    report: ReportTo,
}

/// Where the report goes, and in which format.
#[derive(clap::Args)]
struct ReportTo {
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report here instead of stdout
    #[arg(long, short)]
    output: Option<PathBuf>,
}

impl Selection {
    /// The generated configs asked for, if any.
    fn generated_budget(&self) -> Option<Budget> {
        match (self.generated, self.area) {
            (Some(budget), _) => Some(budget),
            (None, Some(Area::Generated)) => Some(Budget::Count(25)),
            (None, _) => None,
        }
    }

    fn cases(&self) -> Vec<&'static Case> {
        cases::all()
            .filter(|c| self.filter.as_ref().is_none_or(|f| c.name.contains(f.as_str())))
            .filter(|c| !self.exclude.iter().any(|x| c.name.contains(x.as_str())))
            .filter(|c| {
                self.requirement.as_ref().is_none_or(|r| c.requirements.iter().any(|c| c.id == r))
            })
            .filter(|c| self.area.is_none_or(|a| c.area == a))
            .filter(|c| self.level.is_none_or(|l| c.level() == l))
            .collect()
    }
}

fn known_requirement(id: &str) -> Result<String, String> {
    match catalogue::find(id) {
        Some(r) => Ok(r.id.to_string()),
        None => Err(format!(
            "no requirement {id:?} in the catalogue (`litmus requirements` lists them)"
        )),
    }
}

fn main() {
    // A reader that stops early (`litmus requirements | head`) ends the
    // output quietly, as with any Unix filter, not with a panic.
    // SAFETY: at the start of main, before any thread exists; SIG_DFL is
    // a valid disposition for SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Requirements { uncovered, trace: true } => {
            litmus::trace::render(uncovered).map_err(anyhow::Error::msg).map(|text| {
                print!("{text}");
                0
            })
        }
        Command::Requirements { uncovered, trace: false } => {
            print!("{}", requirements(uncovered));
            Ok(0)
        }
        Command::Run(args) => run(&args),
        Command::Diff(args) => diff(&args),
        Command::Report(args) => report(&args),
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("litmus: {e:#}");
            std::process::exit(2);
        }
    }
}

/// A runtime ready to be checked: its canonical path and what it says
/// about itself.
struct Target {
    path: PathBuf,
    info: RunInfo,
}

/// What every run needs before the first container: root, the runtime
/// binaries, the probe's rootfs, and the subreaper bit.
fn prepare(select: &Selection, runtimes: &[PathBuf]) -> Result<(RootfsBuilder, Vec<Target>)> {
    if !nix::unistd::geteuid().is_root() && litmus::rootless::user().is_none() {
        bail!(
            "litmus needs root: runtimes create namespaces, mounts and cgroups (as a user, \
             check a runtime's rootless mode with --rootless)"
        );
    }
    let targets = runtimes
        .iter()
        .map(|r| {
            let path = r.canonicalize().with_context(|| format!("--runtime {}", r.display()))?;
            let mut info = run_info(&path, select.spec_version.clone());
            info.note = select.note.clone();
            if let Some(user) = litmus::rootless::user() {
                let mode = format!("rootless: run as {} (uid {})", user.name, user.uid);
                info.note = Some(match info.note.take() {
                    Some(note) => format!("{mode}; {note}"),
                    None => mode,
                });
            }
            Ok(Target { path, info })
        })
        .collect::<Result<Vec<_>>>()?;
    litmus::realworld::set_corpus(select.corpus.clone());
    let probe = find_probe(select.probe.as_deref())?;
    let rootfs = RootfsBuilder::with_probe(probe)?;
    // Container inits are reparented to us when the runtime's own processes
    // exit; as their subreaper we can wait for them and read exit codes.
    nix::sys::prctl::set_child_subreaper(true).context("PR_SET_CHILD_SUBREAPER")?;
    Ok((rootfs, targets))
}

fn progress_bar(len: u64, shown: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if shown && std::io::stderr().is_terminal() {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .expect("static template"),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

fn write_report(output: Option<&Path>, text: String) -> Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn run(args: &RunArgs) -> Result<i32> {
    let cases = args.select.cases();
    if args.list {
        for c in &cases {
            println!(
                "{:<48} {:<11} {:<6} {}",
                c.name,
                c.area.name(),
                c.level().to_string(),
                c.requirement_ids().join(", ")
            );
        }
        return Ok(0);
    }
    let budget = args.select.generated_budget();
    if cases.is_empty() && budget.is_none() {
        bail!("no case matches the filters");
    }
    // Kept for the run: the rootless user's XDG_RUNTIME_DIR lives in it.
    let scratch = tempfile::Builder::new().prefix("litmus-run-").tempdir()?;
    let mut runtime_path = args.runtime.clone();
    if args.rootless {
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755))?;
        }
        let user = litmus::rootless::prepare(args.user.as_deref(), scratch.path())?;
        runtime_path = user.runtime_copy(&args.runtime, scratch.path())?;
        eprintln!(
            "litmus: rootless: the runtime runs as {} (uid {}, subordinate uids {})",
            user.name,
            user.uid,
            user.subuids.map_or("none".to_string(), |(first, n)| format!("{first}+{n}"))
        );
        litmus::rootless::set_user(user);
    }
    // The delegated cgroup subtree goes however the run ends.
    let _delegation = litmus::rootless::Release;
    let (rootfs, targets) = prepare(&args.select, std::slice::from_ref(&runtime_path))?;
    let Target { path: runtime, info } = &targets[0];

    let generated_count = match budget {
        Some(Budget::Count(n)) => n,
        _ => 0,
    };
    let bar =
        progress_bar(cases.len() as u64 + generated_count, args.report.format == Format::Human);
    let progress = |r: &CaseResult| {
        bar.set_message(r.name);
        bar.inc(1);
    };
    let options = RunOptions {
        runtime,
        rootfs: &rootfs,
        jobs: args.select.jobs,
        spec_version: &info.spec_version,
        keep_failed: args.keep_failed,
    };
    match litmus::preflight::check(&options) {
        Ok(took) => scale_deadlines(took, args.select.timeout_scale),
        Err(why) => {
            bar.finish_and_clear();
            eprintln!("litmus: {why}");
            // Not a conformance verdict: the suite could not run at all.
            return Ok(2);
        }
    }
    let mut results = runner::run(&cases, &options, &progress);
    if let Some(budget) = budget {
        results.extend(generated::run(&options, budget, args.select.seed, &progress));
    }
    bar.finish_and_clear();

    let text = match args.report.format {
        Format::Human => report::human(&results, info),
        Format::Tap => report::tap(&results, info),
        Format::Junit => report::junit(&results, info),
        Format::Json => report::json(&results, info),
    };
    write_report(args.report.output.as_deref(), text)?;
    if let Some(path) = &args.json {
        write_report(Some(path), report::json(&results, info))?;
    }
    if let Some(path) = &args.junit {
        write_report(Some(path), report::junit(&results, info))?;
    }
    let summary = Summary::of(&results);
    if args.report.output.is_some() || args.report.format != Format::Human {
        eprintln!("{}", summary.line());
    }
    let engine_only = args.select.level == Some(Level::Engine);
    let failed = summary.failed_must > 0
        || (engine_only && summary.failed_engine > 0)
        || (args.strict && summary.failed > 0);
    Ok(if failed { 1 } else { 0 })
}

/// `litmus diff`: exit 0 when the runtimes agree everywhere, 1 when they
/// diverge, 2 when the comparison could not run.
fn diff(args: &DiffArgs) -> Result<i32> {
    if args.runtime.len() != 2 {
        bail!("--runtime: give exactly two runtimes to compare (--runtime A --runtime B)");
    }
    if !matches!(args.report.format, Format::Human | Format::Json) {
        bail!("--format: diff reports are human or json");
    }
    let cases = args.select.cases();
    let budget = args.select.generated_budget().unwrap_or(Budget::Count(25));
    let (rootfs, targets) = prepare(&args.select, &args.runtime)?;
    let names: Vec<String> = targets
        .iter()
        .map(|t| {
            let name = t.path.file_name().unwrap_or_default().to_string_lossy();
            format!("{name} ({})", t.info.runtime_version)
        })
        .collect();
    let options: Vec<RunOptions> = targets
        .iter()
        .map(|t| RunOptions {
            runtime: &t.path,
            rootfs: &rootfs,
            jobs: args.select.jobs,
            spec_version: &t.info.spec_version,
            keep_failed: false,
        })
        .collect();
    let mut slowest = std::time::Duration::ZERO;
    for o in &options {
        match litmus::preflight::check(o) {
            Ok(took) => slowest = slowest.max(took),
            Err(why) => {
                eprintln!("litmus: {}: {why}", o.runtime.display());
                return Ok(2);
            }
        }
    }
    scale_deadlines(slowest, args.select.timeout_scale);
    let short =
        |i: usize| targets[i].path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let pair = (short(0), short(1));
    let pair = (pair.0.as_str(), pair.1.as_str());
    let generated_count = match budget {
        Budget::Count(n) => n,
        Budget::Time(_) => 0,
    };
    let bar =
        progress_bar(2 * cases.len() as u64 + generated_count, args.report.format == Format::Human);
    let case_progress = |r: &CaseResult| {
        bar.set_message(r.name);
        bar.inc(1);
    };
    let left = runner::run(&cases, &options[0], &case_progress);
    let right = runner::run(&cases, &options[1], &case_progress);
    let mut divergences = litmus::diff::cases(&left, &right, pair);
    let generated_progress = |name: &str| {
        bar.set_message(name.to_string());
        bar.inc(1);
    };
    let (generated_compared, found) = litmus::diff::generated(
        &options[0],
        &options[1],
        pair,
        budget,
        args.select.seed,
        &generated_progress,
    );
    divergences.extend(found);
    bar.finish_and_clear();
    let report = litmus::diff::DiffReport {
        left: names[0].clone(),
        right: names[1].clone(),
        cases_compared: cases.len(),
        generated_compared,
        divergences,
    };
    let text = match args.report.format {
        Format::Json => report.json(),
        _ => report.human(),
    };
    write_report(args.report.output.as_deref(), text)?;
    Ok(if report.divergences.is_empty() { 0 } else { 1 })
}

fn find_probe(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("LITMUS_PROBE") {
        return Ok(PathBuf::from(p));
    }
    let beside = std::env::current_exe()?.with_file_name("litmus-probe");
    if beside.exists() {
        return Ok(beside);
    }
    bail!("no probe binary: pass --probe, set LITMUS_PROBE, or put a static litmus-probe beside litmus (cargo xtask conformance builds one)")
}

fn run_info(runtime: &Path, spec_version: Option<String>) -> RunInfo {
    let work = std::env::temp_dir();
    // Per process and runtime: `diff` asks two runtimes.
    let root = work.join(format!(
        "litmus-info-root-{}-{}",
        std::process::id(),
        runtime.file_name().unwrap_or_default().to_string_lossy()
    ));
    let rt = driver::Runtime::new(runtime, root.clone());
    let version = rt
        .call(&["--version"], &work)
        .map(|i| i.stdout.lines().next().unwrap_or_default().to_string())
        .unwrap_or_default();
    let spec_version = spec_version.unwrap_or_else(|| {
        rt.call(&["features"], &work)
            .ok()
            .filter(|i| i.ok())
            .and_then(|i| driver::spec_version_from_features(&i.stdout))
            .unwrap_or_else(|| "1.0.2".to_string())
    });
    let _ = std::fs::remove_dir_all(&root);
    RunInfo {
        runtime: runtime.display().to_string(),
        runtime_version: version,
        spec_version,
        litmus_version: env!("CARGO_PKG_VERSION").to_string(),
        host: litmus::report::Host::detect(),
        note: None,
    }
}

fn requirements(uncovered_only: bool) -> String {
    let reasons = litmus::trace::unchecked_reasons().unwrap_or_default();
    let mut out = String::new();
    let mut covered = 0;
    for req in catalogue::CATALOGUE {
        let by: Vec<&str> = cases::all()
            .filter(|c| c.requirements.iter().any(|r| r.id == req.id))
            .map(|c| c.name)
            .collect();
        if !by.is_empty() {
            covered += 1;
        }
        if uncovered_only && !by.is_empty() {
            continue;
        }
        out += &format!(
            "{:<40} {:<6} {:<6} {}\n    {}\n    cases: {}\n",
            req.id,
            req.level.to_string(),
            req.since,
            req.text,
            req.link(),
            if by.is_empty() {
                let why = reasons.get(req.id).map_or("no reason given", String::as_str);
                format!("none ({why})")
            } else {
                by.join(", ")
            }
        );
    }
    let total = catalogue::CATALOGUE.len();
    out +=
        &format!("\n{covered} of {total} requirements covered by {} cases\n", cases::all().count());
    out
}
