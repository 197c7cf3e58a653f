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
    /// Print the requirement catalogue and the cases covering each entry
    Requirements {
        /// Only the requirements no case checks yet
        #[arg(long)]
        uncovered: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Tap,
    Junit,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LevelFilter {
    Must,
    Should,
    Security,
    Robustness,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The runtime binary to check (runc-compatible command line)
    #[arg(long)]
    runtime: PathBuf,
    /// Static probe binary placed in each container (default: $LITMUS_PROBE,
    /// then litmus-probe beside this executable)
    #[arg(long)]
    probe: Option<PathBuf>,
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report here instead of stdout
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Cases run at once
    #[arg(long, short, default_value_t = 4)]
    jobs: usize,
    /// Only cases whose name contains this
    #[arg(long)]
    filter: Option<String>,
    /// Only cases citing this requirement ID
    #[arg(long)]
    requirement: Option<String>,
    /// Only cases of this area
    #[arg(long, value_parser = area_names())]
    area: Option<String>,
    /// Only cases of this level
    #[arg(long, value_enum)]
    level: Option<LevelFilter>,
    /// List the selected cases instead of running them
    #[arg(long)]
    list: bool,
    /// The runtime-spec version the runtime speaks (default: from its
    /// `features`, else 1.0.2)
    #[arg(long)]
    spec_version: Option<String>,
    /// Keep the work directory of failed cases for debugging
    #[arg(long)]
    keep_failed: bool,
    /// Also run generated configs: a count (25) or a time budget (90s, 5m);
    /// `--area generated` alone runs 25
    #[arg(long, value_name = "N|DURATION")]
    generated: Option<Budget>,
    /// Seed of the generated configs (config i uses seed + i)
    #[arg(long, default_value_t = generated::DEFAULT_SEED)]
    seed: u64,
}

impl RunArgs {
    /// The generated configs asked for, if any.
    fn generated_budget(&self) -> Option<Budget> {
        match (self.generated, self.area.as_deref()) {
            (Some(budget), _) => Some(budget),
            (None, Some(GENERATED_AREA)) => Some(Budget::Count(25)),
            (None, _) => None,
        }
    }
}

/// The pseudo-area of generated configs (not an area of fixed cases).
const GENERATED_AREA: &str = "generated";

fn area_names() -> Vec<&'static str> {
    let mut names: Vec<_> = Area::ALL.iter().map(|a| a.name()).collect();
    names.push(GENERATED_AREA);
    names
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Requirements { uncovered } => {
            print!("{}", requirements(uncovered));
            Ok(0)
        }
        Command::Run(args) => run(&args),
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("litmus: {e:#}");
            std::process::exit(2);
        }
    }
}

fn selected(args: &RunArgs) -> Vec<&'static Case> {
    cases::all()
        .filter(|c| {
            args.filter
                .as_ref()
                .is_none_or(|f| c.name.contains(f.as_str()))
        })
        .filter(|c| {
            args.requirement
                .as_ref()
                .is_none_or(|r| c.requirements.contains(&r.as_str()))
        })
        .filter(|c| args.area.as_ref().is_none_or(|a| c.area.name() == a))
        .filter(|c| match args.level {
            None => true,
            Some(LevelFilter::Must) => c.level() == Level::Must,
            Some(LevelFilter::Should) => c.level() == Level::Should,
            Some(LevelFilter::Security) => c.level() == Level::Security,
            Some(LevelFilter::Robustness) => c.level() == Level::Robustness,
        })
        .collect()
}

fn run(args: &RunArgs) -> Result<i32> {
    let cases = selected(args);
    if args.list {
        for c in &cases {
            println!(
                "{:<48} {:<11} {:<6} {}",
                c.name,
                c.area.name(),
                c.level().to_string(),
                c.requirements.join(", ")
            );
        }
        return Ok(0);
    }
    let budget = args.generated_budget();
    if cases.is_empty() && budget.is_none() {
        bail!("no case matches the filters");
    }
    if !nix::unistd::geteuid().is_root() {
        bail!("litmus run needs root: runtimes create namespaces, mounts and cgroups");
    }
    let runtime = args
        .runtime
        .canonicalize()
        .with_context(|| format!("--runtime {}", args.runtime.display()))?;
    let probe = find_probe(args.probe.as_deref())?;
    let rootfs = RootfsBuilder::with_probe(probe)?;
    // Container inits are reparented to us when the runtime's own processes
    // exit; as their subreaper we can wait for them and read exit codes.
    nix::sys::prctl::set_child_subreaper(true).context("PR_SET_CHILD_SUBREAPER")?;
    let info = run_info(&runtime, args.spec_version.clone());

    let human_progress = args.format == Format::Human && std::io::stderr().is_terminal();
    let generated_count = match budget {
        Some(Budget::Count(n)) => n,
        _ => 0,
    };
    let bar = indicatif::ProgressBar::new(cases.len() as u64 + generated_count);
    if human_progress {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .expect("static template"),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let progress = |r: &CaseResult| {
        bar.set_message(r.name);
        bar.inc(1);
    };
    let options = RunOptions {
        runtime: &runtime,
        rootfs: &rootfs,
        jobs: args.jobs,
        spec_version: &info.spec_version,
        keep_failed: args.keep_failed,
    };
    if let Err(why) = litmus::preflight::check(&options) {
        bar.finish_and_clear();
        eprintln!("litmus: {why}");
        // Not a conformance verdict: the suite could not run at all.
        return Ok(2);
    }
    let mut results = runner::run(&cases, &options, &progress);
    if let Some(budget) = budget {
        results.extend(generated::run(&options, budget, args.seed, &progress));
    }
    bar.finish_and_clear();

    let text = match args.format {
        Format::Human => report::human(&results, &info),
        Format::Tap => report::tap(&results, &info),
        Format::Junit => report::junit(&results, &info),
        Format::Json => report::json(&results, &info),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{text}"),
    }
    let summary = Summary::of(&results);
    if args.output.is_some() || args.format != Format::Human {
        eprintln!("{}", summary.line());
    }
    Ok(if summary.failed_must > 0 { 1 } else { 0 })
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
    let rt = driver::Runtime {
        binary: runtime.to_path_buf(),
        root: work.join("litmus-info-root"),
    };
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
    let _ = std::fs::remove_dir_all(work.join("litmus-info-root"));
    RunInfo {
        runtime: runtime.display().to_string(),
        runtime_version: version,
        spec_version,
        litmus_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

fn requirements(uncovered_only: bool) -> String {
    let mut out = String::new();
    let mut covered = 0;
    for req in catalogue::CATALOGUE {
        let by: Vec<&str> = cases::all()
            .filter(|c| c.requirements.contains(&req.id))
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
                "none".to_string()
            } else {
                by.join(", ")
            }
        );
    }
    let total = catalogue::CATALOGUE.len();
    out += &format!(
        "\n{covered} of {total} requirements covered by {} cases\n",
        cases::all().count()
    );
    out
}
