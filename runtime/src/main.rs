use anyhow::{bail, Context, Result};
use clap::Parser;
use litmus_runtime::cli::{Cli, Command, ListFormat};
use litmus_runtime::fds::{self, Inherited};
use litmus_runtime::{container, features, logging};
use std::path::Path;

fn main() {
    let started = litmus_runtime::trace::now_ns();
    // An error's message is all the runtime ever reports: with
    // RUST_BACKTRACE=1 in the caller's environment, anyhow would walk the
    // stack for every error made (the first walk sorts the binary's unwind
    // tables: 3 ms measured for `state` of a missing container).
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    let cli = Cli::parse();
    let parsed = litmus_runtime::trace::now_ns();
    // Before anything is opened (the log included): see fds.rs.
    let inherited = match claim_inherited(&cli.command) {
        Ok(inherited) => inherited,
        Err(e) => {
            eprintln!("litmus-runtime: {}: {e:#}", operation(&cli.command));
            std::process::exit(1);
        }
    };
    if let Err(e) = logging::init(cli.log.as_deref(), cli.log_format, cli.debug) {
        eprintln!("litmus-runtime: {e:#}");
        std::process::exit(1);
    }
    // After the inherited fds are claimed: the trace file takes a free number.
    litmus_runtime::trace::init();
    litmus_runtime::trace::record("cli.parse", started, parsed);
    litmus_runtime::trace::record("cli.fds+log", parsed, litmus_runtime::trace::now_ns());
    match dispatch(&cli, &inherited) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let message = match container_id(&cli.command) {
                Some(id) => format!("container {id}: {}: {e:#}", operation(&cli.command)),
                None => format!("{}: {e:#}", operation(&cli.command)),
            };
            tracing::error!("{message}");
            // With --log the message is in the log; engines also read stderr.
            if cli.log.is_some() {
                eprintln!("litmus-runtime: {message}");
            }
            std::process::exit(1);
        }
    }
}

fn dispatch(cli: &Cli, inherited: &Inherited) -> Result<i32> {
    if cli.systemd_cgroup {
        bail!("--systemd-cgroup is not supported by litmus-runtime (it manages cgroupfs directly)");
    }
    if !matches!(cli.command, Command::Spec { .. }) {
        litmus_runtime::rootless::set_mode(cli.rootless.as_deref())?;
    }
    let root = &match &cli.root {
        Some(root) => root.clone(),
        None => litmus_runtime::rootless::default_root(
            litmus_runtime::rootless::is_real_root(),
            std::env::var("XDG_RUNTIME_DIR").ok().as_deref(),
        )?,
    };
    match &cli.command {
        Command::Create(args) => container::create(root, args, inherited).map(|_| 0),
        Command::Start { id } => container::start(root, id).map(|_| 0),
        Command::State { id } => print(container::state(root, id)?),
        Command::Kill { id, signal, all } => container::kill(root, id, signal, *all).map(|_| 0),
        Command::Delete { id, force } => container::delete(root, id, *force).map(|_| 0),
        Command::Run { create, detach, keep } => {
            container::run(root, create, *detach, *keep, inherited)
        }
        Command::Spec { bundle } => {
            write_default_spec(bundle, cli.rootless.as_deref() == Some("true")).map(|_| 0)
        }
        Command::List { format, quiet } => {
            let out = container::list(root, *format == ListFormat::Json, *quiet)?;
            print!("{out}");
            Ok(0)
        }
        Command::Features => print(serde_json::to_string_pretty(&features::document())?),
        Command::Exec(args) => container::exec(root, args, inherited),
        Command::Ps { id, format, ps_args } => {
            print!("{}", container::ps(root, id, *format == ListFormat::Json, ps_args)?);
            Ok(0)
        }
        Command::Pause { id } => container::pause(root, id).map(|_| 0),
        Command::Resume { id } => container::resume(root, id).map(|_| 0),
        Command::Update(args) => container::update(root, args).map(|_| 0),
        Command::Events { id, stats, interval } => {
            container::events(root, id, *stats, interval).map(|_| 0)
        }
        #[cfg(feature = "fault-injection")]
        Command::Faults => {
            for fault in litmus_runtime::fault::Fault::ALL {
                println!("{}\t{}", fault.name(), fault.breaks().join(","));
            }
            Ok(0)
        }
    }
}

/// The caller's fds the container will inherit: `--preserve-fds`, and for
/// `create`/`run` the socket-activation fds before them.
fn claim_inherited(command: &Command) -> Result<Inherited> {
    match command {
        Command::Create(args) | Command::Run { create: args, .. } => {
            let listen = fds::listen_fds();
            let what = if listen > 0 { "LISTEN_FDS + --preserve-fds" } else { "--preserve-fds" };
            Inherited::claim(listen.saturating_add(args.preserve_fds), what)
        }
        Command::Exec(args) => Inherited::claim(args.preserve_fds, "--preserve-fds"),
        _ => Ok(Inherited::default()),
    }
}

fn print(text: String) -> Result<i32> {
    println!("{text}");
    Ok(0)
}

fn operation(command: &Command) -> &'static str {
    match command {
        Command::Create(_) => "create",
        Command::Start { .. } => "start",
        Command::State { .. } => "state",
        Command::Kill { .. } => "kill",
        Command::Delete { .. } => "delete",
        Command::Run { .. } => "run",
        Command::Spec { .. } => "spec",
        Command::List { .. } => "list",
        Command::Features => "features",
        Command::Exec(_) => "exec",
        Command::Ps { .. } => "ps",
        Command::Pause { .. } => "pause",
        Command::Resume { .. } => "resume",
        Command::Update(_) => "update",
        Command::Events { .. } => "events",
        #[cfg(feature = "fault-injection")]
        Command::Faults => "faults",
    }
}

fn container_id(command: &Command) -> Option<&str> {
    match command {
        Command::Create(args) | Command::Run { create: args, .. } => Some(&args.id),
        Command::Exec(args) => Some(&args.id),
        Command::Update(args) => Some(&args.id),
        Command::Start { id }
        | Command::State { id }
        | Command::Kill { id, .. }
        | Command::Delete { id, .. }
        | Command::Ps { id, .. }
        | Command::Pause { id }
        | Command::Resume { id }
        | Command::Events { id, .. } => Some(id),
        Command::Spec { .. } | Command::List { .. } | Command::Features => None,
        #[cfg(feature = "fault-injection")]
        Command::Faults => None,
    }
}

/// `spec`: a config.json like runc's, for a rootfs/ beside it.
fn write_default_spec(bundle: &Path, rootless: bool) -> Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("{} already exists; remove it first", path.display());
    }
    let mut spec = if rootless {
        oci_spec::runtime::Spec::rootless(
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    } else {
        oci_spec::runtime::Spec::default()
    };
    spec.set_version(features::OCI_VERSION_MAX.to_string());
    spec.set_hostname(Some("litmus".into()));
    let json = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))
}
