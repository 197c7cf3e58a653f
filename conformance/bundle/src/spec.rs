//! The default `config.json` of a fixture bundle.

use oci_spec::runtime::{ProcessBuilder, Spec};

/// Where the probe lives inside every fixture rootfs.
pub const PROBE_PATH_IN_ROOTFS: &str = "/litmus-probe";

/// The spec version fixtures declare: the oldest 1.0.x every runtime in the
/// field accepts. Cases that exercise newer fields raise it themselves.
const FIXTURE_OCI_VERSION: &str = "1.0.2";

/// A config like `runc spec` writes, running the probe with `probe_args`
/// instead of an interactive shell.
pub fn default_spec(probe_args: &[&str]) -> Spec {
    let mut spec = Spec::default();
    spec.set_version(FIXTURE_OCI_VERSION.to_string());
    spec.set_hostname(Some("litmus".to_string()));
    let mut args = vec![PROBE_PATH_IN_ROOTFS.to_string()];
    args.extend(probe_args.iter().map(|a| a.to_string()));
    let default_process = spec.process().clone().unwrap_or_default();
    let process = ProcessBuilder::default()
        .args(args)
        .env(default_process.env().clone().unwrap_or_default())
        .cwd("/")
        .user(default_process.user().clone())
        .capabilities(default_process.capabilities().clone().unwrap_or_default())
        .rlimits(default_process.rlimits().clone().unwrap_or_default())
        .no_new_privileges(true)
        .terminal(false)
        .build()
        .expect("static process fields are valid");
    spec.set_process(Some(process));
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_runs_the_probe_from_the_bundle_rootfs() {
        let spec = default_spec(&["report"]);
        let args = spec.process().as_ref().unwrap().args().clone().unwrap();
        assert_eq!(args, vec![PROBE_PATH_IN_ROOTFS, "report"]);
        assert_eq!(spec.root().as_ref().unwrap().path().to_str(), Some("rootfs"));
        assert_eq!(spec.version(), FIXTURE_OCI_VERSION);
    }
}
