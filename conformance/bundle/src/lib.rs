//! OCI bundle fixtures: a busybox-static rootfs with the litmus probe and a
//! `config.json` built from `oci-spec` types.
//!
//! Everything that needs a container (the runtime's integration tests, the
//! conformance suite, the benchmarks and the VM tests) builds its bundles
//! here, so "what a test container looks like" is defined exactly once; and
//! every harness waits on what it started through [`wait`].

mod apparmor;
mod elf;
mod rootfs;
mod selinux;
mod spec;
mod static_build;
pub mod wait;

pub use apparmor::{apparmor_parser, APPARMOR_PROFILE, APPARMOR_PROFILE_SOURCE};
pub use elf::is_static_elf;
pub use rootfs::{find_static_busybox, RootfsBuilder, FIXTURE_GROUPS, FIXTURE_USERS};
pub use selinux::{SelinuxLabels, SELINUX_LABELS, SELINUX_POLICY_SOURCE};
pub use spec::{default_spec, PROBE_PATH_IN_ROOTFS};
pub use static_build::{probe_binary, shipped_runtime, static_binary, workspace_root};

use anyhow::{Context, Result};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// Whether this host mounts cgroup2 at /sys/fs/cgroup/unified beside the
/// v1 controllers (the hybrid layout some runtimes refuse).
pub fn is_hybrid_cgroup_host() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup/unified ") && l.contains(" - cgroup2 "))
}

/// An OCI bundle in a temporary directory: `config.json` + `rootfs/`.
///
/// The directory is removed when the value is dropped.
pub struct Bundle {
    dir: tempfile::TempDir,
}

impl Bundle {
    /// Builds a bundle whose rootfs holds busybox and the probe, with
    /// `spec` written as its `config.json`.
    pub fn new(rootfs: &RootfsBuilder, spec: &Spec) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("litmus-bundle-")
            .tempdir()
            .context("creating bundle directory")?;
        rootfs.build(&dir.path().join("rootfs"))?;
        let bundle = Bundle { dir };
        bundle.write_config(spec)?;
        Ok(bundle)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    /// Replaces `config.json` with `spec`.
    pub fn write_config(&self, spec: &Spec) -> Result<()> {
        let json = serde_json::to_vec_pretty(spec).context("serializing config.json")?;
        std::fs::write(self.config_path(), json).context("writing config.json")
    }

    /// Writes raw bytes as `config.json`, for cases that feed invalid input.
    pub fn write_raw_config(&self, bytes: &[u8]) -> Result<()> {
        std::fs::write(self.config_path(), bytes).context("writing config.json")
    }

    /// Keeps the directory on disk (for debugging a failure) and returns its path.
    pub fn keep(self) -> PathBuf {
        self.dir.keep()
    }
}
