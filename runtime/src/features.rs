//! `features`: what this build supports, as runtime-spec features.md
//! describes it. Engines and the conformance suite read it to decide what
//! to ask for.

use serde_json::{json, Value};

/// The newest runtime-spec version this runtime implements.
pub const OCI_VERSION_MAX: &str = "1.2.0";

pub fn features() -> Value {
    let namespaces = [
        "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
    ];
    let capabilities: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    let mut capabilities = capabilities;
    capabilities.sort();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION_MAX,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": crate::rootfs::MountOptions::KNOWN,
        "linux": {
            "namespaces": namespaces,
            "capabilities": capabilities,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false },
            "seccomp": {
                "enabled": true,
                "actions": crate::seccomp::known_actions(),
                "operators": ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]
            },
            // Supported by the runtime, whether or not this host has them
            // (features-linux.md); a request a host cannot honour fails create.
            "apparmor": { "enabled": true },
            "selinux": { "enabled": true },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } }
        },
        "annotations": { "org.opencontainers.runtime-spec.features.name": "litmus-runtime" }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_parse_as_the_spec_type() {
        let parsed: oci_spec::runtime::Features = serde_json::from_value(features()).unwrap();
        assert_eq!(parsed.oci_version_max(), OCI_VERSION_MAX);
    }
}
