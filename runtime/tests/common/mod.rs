//! The environment every root integration test of the runtime shares: a
//! private --root, the busybox+probe rootfs, and shorthands.
#![allow(dead_code)] // each test binary uses its own subset

use assert_cmd::Command;
use litmus_bundle::{default_spec, probe_binary, Bundle, RootfsBuilder};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

pub struct Env {
    pub root: tempfile::TempDir,
    pub rootfs: RootfsBuilder,
}

impl Env {
    pub fn new() -> Env {
        assert!(
            nix::unistd::geteuid().is_root(),
            "these tests create containers and need root"
        );
        Env {
            root: tempfile::tempdir().unwrap(),
            rootfs: RootfsBuilder::with_probe(probe_binary().unwrap()).unwrap(),
        }
    }

    pub fn bundle(&self, spec: &Spec) -> Bundle {
        Bundle::new(&self.rootfs, spec).unwrap()
    }

    pub fn runtime(&self) -> Command {
        let mut cmd = Command::cargo_bin("litmus-runtime").unwrap();
        cmd.arg("--root").arg(self.root.path());
        cmd.timeout(std::time::Duration::from_secs(30));
        cmd
    }

    /// `create` through std's Command: the container inherits stdio, so
    /// assert_cmd's pipes would not reach EOF until it exits.
    pub fn create(&self, bundle: &Bundle, id: &str, extra: &[&std::ffi::OsStr]) -> (bool, String) {
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("litmus-runtime"))
            .arg("--root")
            .arg(self.root.path())
            .arg("create")
            .args(extra)
            .arg("--bundle")
            .arg(bundle.path())
            .arg(id)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr.reopen().unwrap())
            .status()
            .unwrap();
        (
            status.success(),
            std::fs::read_to_string(stderr.path()).unwrap(),
        )
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
    let root = Path::new("/sys/fs/cgroup");
    if cgroup_v2() {
        root.join("litmus").join(id)
    } else {
        root.join(v1_controller).join("litmus").join(id)
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
