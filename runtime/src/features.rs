//! `features`: what this build supports, as runtime-spec features.md
//! describes it, in oci-spec's types. Engines and the conformance suite
//! read it to decide what to ask for.

use oci_spec::runtime::{
    ApparmorBuilder, CgroupBuilder, Features, FeaturesBuilder, IDMapBuilder, IntelRdtBuilder,
    LinuxFeatureBuilder, LinuxNamespaceType, MemoryPolicyBuilder, MountExtensionsBuilder,
    NetDevicesBuilder, SeccompBuilder, SelinuxBuilder,
};

/// The newest runtime-spec version this runtime implements.
pub const OCI_VERSION_MAX: &str = "1.3.0";

/// The names the spec gives seccomp actions and architectures, in
/// oci-spec's enums (which deserialize from exactly those names).
fn spec_names<T: serde::de::DeserializeOwned>(names: &[&str]) -> Vec<T> {
    names
        .iter()
        .map(|n| serde_json::from_value(serde_json::Value::from(*n)).expect("a spec name"))
        .collect()
}

pub fn features() -> Features {
    let strings = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let mut capabilities: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    capabilities.sort();
    let seccomp_flags =
        ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"];
    let linux = LinuxFeatureBuilder::default()
        .namespaces(vec![
            LinuxNamespaceType::Cgroup,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Network,
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Time,
            LinuxNamespaceType::User,
            LinuxNamespaceType::Uts,
        ])
        .capabilities(capabilities)
        .cgroup(
            CgroupBuilder::default()
                .v1(true)
                .v2(true)
                .systemd(false)
                .systemd_user(false)
                .rdma(false)
                .build()
                .expect("cgroup features"),
        )
        .seccomp(
            SeccompBuilder::default()
                .enabled(true)
                .actions(spec_names(crate::seccomp::known_actions()))
                .operators(strings(&[
                    "SCMP_CMP_NE",
                    "SCMP_CMP_LT",
                    "SCMP_CMP_LE",
                    "SCMP_CMP_EQ",
                    "SCMP_CMP_GE",
                    "SCMP_CMP_GT",
                    "SCMP_CMP_MASKED_EQ",
                ]))
                .archs(spec_names(&[
                    "SCMP_ARCH_X86",
                    "SCMP_ARCH_X86_64",
                    "SCMP_ARCH_X32",
                    "SCMP_ARCH_AARCH64",
                    "SCMP_ARCH_ARM",
                ]))
                .known_flags(strings(&seccomp_flags))
                .supported_flags(strings(&seccomp_flags))
                .build()
                .expect("seccomp features"),
        )
        // Supported by the runtime, whether or not this host has them
        // (features-linux.md); a request a host cannot honour fails create.
        .apparmor(ApparmorBuilder::default().enabled(true).build().expect("apparmor"))
        .selinux(SelinuxBuilder::default().enabled(true).build().expect("selinux"))
        .intel_rdt(IntelRdtBuilder::default().enabled(false).build().expect("intelRdt"))
        .memory_policy(
            MemoryPolicyBuilder::default()
                .modes(strings(crate::memory_policy::MODES))
                .flags(strings(crate::memory_policy::FLAGS))
                .build()
                .expect("memoryPolicy"),
        )
        .net_devices(NetDevicesBuilder::default().enabled(true).build().expect("netDevices"))
        .mount_extensions(
            MountExtensionsBuilder::default()
                .idmap(IDMapBuilder::default().enabled(true).build().expect("idmap"))
                .build()
                .expect("mountExtensions"),
        )
        .build()
        .expect("linux features");
    FeaturesBuilder::default()
        .oci_version_min("1.0.0")
        .oci_version_max(OCI_VERSION_MAX)
        .hooks(strings(&[
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ]))
        .mount_options(strings(crate::rootfs::MountOptions::KNOWN))
        .linux(linux)
        .annotations(
            [(
                "org.opencontainers.runtime-spec.features.name".to_string(),
                "litmus-runtime".to_string(),
            )]
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
        )
        .build()
        .expect("features")
}

/// [`features`] as the JSON document `features` prints: oci-spec writes
/// some absent fields as null, which the spec's schema does not allow.
pub fn document() -> serde_json::Value {
    fn without_nulls(value: &mut serde_json::Value) {
        if let serde_json::Value::Object(map) = value {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(without_nulls);
        }
    }
    let mut json = serde_json::to_value(features()).expect("features serialize");
    without_nulls(&mut json);
    if crate::fault::Fault::FeaturesExtraField.active() {
        json["linux"]["litmusExtra"] = serde_json::json!(true);
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_say_what_the_runtime_supports() {
        let f = features();
        assert_eq!(f.oci_version_max(), OCI_VERSION_MAX);
        let linux = f.linux().as_ref().unwrap();
        let seccomp = linux.seccomp().as_ref().unwrap();
        assert_eq!(
            seccomp.actions().as_ref().unwrap().len(),
            crate::seccomp::known_actions().len()
        );
        let json = document();
        assert!(!json.to_string().contains("null"), "{json}");
        assert_eq!(json["linux"]["seccomp"]["actions"][8], "SCMP_ACT_NOTIFY");
        assert_eq!(json["linux"]["cgroup"]["v2"], true);
        assert_eq!(json["linux"]["namespaces"][0], "cgroup");
    }
}
