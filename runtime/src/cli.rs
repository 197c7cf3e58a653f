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
    /// Directory for container state
    #[arg(long, global = true, default_value = "/run/litmus")]
    pub root: PathBuf,

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
    /// accepted for compatibility with engines that pass it, and ignored.
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

#[derive(Subcommand, Debug)]
pub enum Command {
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
}
