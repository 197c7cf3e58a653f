//! The command line, shaped like runc's so engines drive it unchanged.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "litmus-runtime",
    version,
    about = "litmus reference OCI runtime (runc-compatible command line)"
)]
pub struct Cli {
    /// Directory for container state [default: /run/litmus as root,
    /// $XDG_RUNTIME_DIR/litmus-runtime as an unprivileged user]
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,

    /// Log file (default: stderr)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,

    /// Log format
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log debug messages
    #[arg(long, global = true)]
    pub debug: bool,

    /// Use systemd to manage cgroups (not supported: rejected with an error)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,

    /// With `spec`: write a config for an unprivileged user. Otherwise
    /// whether to work as one (skip cgroups we may not make, map ids
    /// through newuidmap); auto: when the euid is not 0
    #[arg(long, global = true, value_name = "true|false|auto", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(clap::Args, Debug, Clone)]
pub struct CreateArgs {
    /// Container ID
    pub id: String,
    /// Path to the OCI bundle
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master when process.terminal is true
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Write the container process's host pid here
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N file descriptors after stdio (3..3+N) into the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ExecArgs {
    /// Container ID
    pub id: String,
    /// A JSON runtime-spec process to run instead of COMMAND
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal (its master goes to --console-socket, or
    /// is relayed to our stdio in the foreground)
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket that receives the pty master with --tty
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Return once the process has started
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's host pid here
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Add or override an environment variable (NAME=VALUE)
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// uid[:gid] to run as
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional group ids
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Add a capability to the process's sets (CAP_NAME)
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Pass N file descriptors after stdio into the process
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Set no_new_privs for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// runc's; accepted, but exec into a paused container is refused
    #[arg(long)]
    pub ignore_paused: bool,
    /// runc's sub-cgroup for the process: refused (see `exec`)
    #[arg(long, value_name = "PATH")]
    pub cgroup: Vec<String>,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct UpdateArgs {
    /// Container ID
    pub id: String,
    /// A JSON linux.resources document ("-": standard input)
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with k/m/g)
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1: unlimited)
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Maximum number of tasks (-1: unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// CPU CFS quota in microseconds (-1: unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU shares (relative weight)
    #[arg(long)]
    pub cpu_share: Option<u64>,
    /// CPUs to run on (cpuset)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes (cpuset)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Block IO weight (10-1000)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Fault-injection builds only: list each fault and the requirement
    /// IDs it breaks, tab-separated (for `cargo xtask faults`)
    #[cfg(feature = "fault-injection")]
    #[command(hide = true)]
    Faults,
    /// Create a container: set everything up, but do not run the user process
    Create(CreateArgs),
    /// Run the user process of a created container
    Start { id: String },
    /// Print the state of a container as JSON
    State { id: String },
    /// Send a signal to the container's process
    Kill {
        id: String,
        /// Signal name (TERM, SIGTERM) or number
        #[arg(default_value = "SIGTERM")]
        signal: String,
        /// Signal every process in the container's cgroup
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a stopped container (or any, with --force)
    Delete {
        id: String,
        /// Kill the container first if it is still running
        #[arg(short, long)]
        force: bool,
    },
    /// Create and start a container, wait for it, and return its exit status
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return after start instead of waiting
        #[arg(short, long)]
        detach: bool,
        /// Do not delete the container after it exits
        #[arg(long)]
        keep: bool,
    },
    /// Write a default config.json
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// List containers
    List {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Print only the IDs
        #[arg(short, long)]
        quiet: bool,
    },
    /// Print the features this build supports (runtime-spec features.json)
    Features,
    /// Run a new process in a running container
    Exec(ExecArgs),
    /// List the processes of a container
    Ps {
        id: String,
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Arguments for ps(1) (default: -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Change a running container's resource limits
    Update(UpdateArgs),
    /// Print container events (OOM) and resource statistics as JSON lines
    Events {
        id: String,
        /// Print one statistics event and exit
        #[arg(long)]
        stats: bool,
        /// Time between statistics events (e.g. 5s, 500ms)
        #[arg(long, default_value = "5s")]
        interval: String,
    },
}
