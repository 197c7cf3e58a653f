//! litmus-runtime, the reference OCI runtime of litmus.
//!
//! Read it in the order a container comes to life:
//! [`config`] (load and validate config.json) → [`container::create`]
//! (state dir, cgroup, fork) → [`init`] (namespaces, then inside the
//! container: [`rootfs`] and [`process`]) → [`container::start`] → `kill`,
//! `delete`. [`sync`] is the parent/child conversation that ties them.

pub mod cgroups;
pub mod cli;
pub mod config;
pub mod console;
pub mod container;
pub mod fault;
pub mod fds;
pub mod features;
pub mod hooks;
pub mod init;
pub mod logging;
pub mod memory_policy;
pub mod namespaces;
pub mod net_devices;
pub mod process;
pub mod rootfs;
pub mod rootless;
pub mod rtnetlink;
pub mod seccomp;
pub mod signal;
pub mod state;
pub mod sync;
pub mod trace;
