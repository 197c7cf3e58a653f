//! The environment every root integration test of the runtime shares: a
//! private --root, the busybox+probe rootfs, and shorthands.
#![allow(dead_code)] // each test binary uses its own subset

use assert_cmd::Command;
#[allow(unused_imports)] // each test binary uses its own subset
pub use litmus_bundle::wait::expect_exit;
use litmus_bundle::wait::output_within;
pub use litmus_bundle::wait::Captured;
use litmus_bundle::{default_spec, probe_binary, Bundle, RootfsBuilder};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long any one runtime command of these tests may take: far above
/// what it needs even in the TCG guest, so that only a hang reaches it.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `cmd` with output to files (a container may inherit them) and
/// the [`DEADLINE`]; a command still running then fails the test.
pub fn bounded(cmd: &mut std::process::Command, what: &str) -> Captured {
    let done = output_within(cmd, DEADLINE).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        done.status.is_some(),
        "{what}: still running after {DEADLINE:?}, killed; stderr: {}",
        done.stderr_text()
    );
    done
}

pub struct Env {
    pub root: tempfile::TempDir,
    pub rootfs: RootfsBuilder,
}

impl Env {
    pub fn new() -> Env {
        assert!(nix::unistd::geteuid().is_root(), "these tests create containers and need root");
        Env {
            root: tempfile::tempdir().unwrap(),
            rootfs: RootfsBuilder::with_probe(probe_binary().unwrap()).unwrap(),
        }
    }

    pub fn bundle(&self, spec: &Spec) -> Bundle {
        Bundle::new(&self.rootfs, spec).unwrap()
    }

    /// `run --bundle BUNDLE ID`, to be asserted on.
    pub fn run(&self, bundle: &Bundle, id: &str) -> Command {
        let mut cmd = self.runtime();
        cmd.args(["run", "--bundle"]).arg(bundle.path()).arg(id);
        cmd
    }

    pub fn runtime(&self) -> Command {
        let mut cmd = Command::cargo_bin("litmus-runtime").unwrap();
        cmd.arg("--root").arg(self.root.path());
        cmd.timeout(DEADLINE);
        cmd
    }

    /// `create` through std's Command: the container inherits stdio, so
    /// assert_cmd's pipes would not reach EOF until it exits.
    pub fn create(&self, bundle: &Bundle, id: &str, extra: &[&std::ffi::OsStr]) -> (bool, String) {
        let mut create = self.std_runtime();
        create.arg("create").args(extra).arg("--bundle").arg(bundle.path()).arg(id);
        let done = bounded(&mut create, &format!("create {id}"));
        (done.success(), done.stderr_text())
    }

    /// The runtime with our --root as a std Command, for [`bounded`] (or
    /// for a spawn whose end the test awaits with [`expect_exit`]).
    pub fn std_runtime(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("litmus-runtime"));
        cmd.arg("--root").arg(self.root.path());
        cmd
    }

    /// `create` of `bundle` that must fail and leave nothing: no state
    /// directory, no cgroup. Returns the runtime's stderr.
    pub fn create_refused(&self, bundle: &Path, id: &str) -> String {
        let mut create = self.std_runtime();
        create.arg("create").arg("--bundle").arg(bundle).arg(id);
        let done = bounded(&mut create, &format!("create {id}"));
        assert!(!done.success(), "create {id} succeeded");
        assert!(self.state_dirs().is_empty(), "{:?}", self.state_dirs());
        assert!(!cgroup_dir(id).exists(), "cgroup of {id} left");
        done.stderr_text()
    }

    /// The runtime with `args`, which must fail; its stderr.
    pub fn failing(&self, args: &[&str]) -> String {
        let assert = self.runtime().args(args).assert().failure();
        String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
    }

    pub fn state_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.root.path())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

pub fn shell(script: &str) -> Spec {
    let mut spec = default_spec(&[]);
    let process = spec.process_mut().as_mut().unwrap();
    process.set_args(Some(vec!["/bin/sh".into(), "-c".into(), script.into()]));
    spec
}

/// Whether this host (or `cargo xtask vm-test`'s v2 guest) has the unified
/// hierarchy at /sys/fs/cgroup; a hybrid host counts as v1, as it does for
/// the runtime.
pub fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The container's cgroup directory for `v1_controller` (v1), or its one
/// directory (v2). Containers without a cgroupsPath get litmus/<id>.
pub fn cgroup_path(v1_controller: &str, id: &str) -> PathBuf {
    // The runtime's default for a config without cgroupsPath.
    let name = format!("litmus-{id}");
    let root = Path::new("/sys/fs/cgroup");
    if cgroup_v2() {
        root.join(name)
    } else {
        root.join(v1_controller).join(name)
    }
}

/// A directory that exists exactly while the container's cgroup does.
pub fn cgroup_dir(id: &str) -> PathBuf {
    cgroup_path("memory", id)
}

/// A cgroup file of the container: `v1` (controller, file) or `v2_file`.
pub fn cgroup_file(id: &str, v1: (&str, &str), v2_file: &str) -> PathBuf {
    match cgroup_v2() {
        true => cgroup_path("", id).join(v2_file),
        false => cgroup_path(v1.0, id).join(v1.1),
    }
}
