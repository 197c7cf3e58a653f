//! The SELinux labels the suite asks runtimes to apply
//! (`process.selinuxLabel`, `linux.mountLabel`), and a minimal policy that
//! defines them for machines without one of their own.
//!
//! A label must exist in the loaded policy for the kernel to accept it, so
//! the suite tries these pairs in order and uses the first the host knows:
//! litmus's own (defined by [`SELINUX_POLICY_SOURCE`], which `cargo xtask
//! vm-test` loads in its SELinux guest), then container-selinux's, which
//! Fedora, RHEL and their kin ship.

/// A process label and a mount label from the same policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelinuxLabels {
    pub process: &'static str,
    pub mount: &'static str,
}

pub const SELINUX_LABELS: &[SelinuxLabels] = &[
    SelinuxLabels {
        process: "system_u:system_r:litmus_probe_t",
        mount: "system_u:object_r:litmus_probe_file_t",
    },
    SelinuxLabels {
        process: "system_u:system_r:container_t:s0:c17,c42",
        mount: "system_u:object_r:container_file_t:s0:c17,c42",
    },
];

/// A whole (non-MLS) policy for `checkpolicy`, meant for a throwaway machine
/// in permissive mode: loading it replaces the host's policy. It labels
/// every object `litmus_default_t`, so a mount without litmus's mount label
/// is told apart from one with it.
pub const SELINUX_POLICY_SOURCE: &str = include_str!("litmus.selinux.conf");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_defines_litmus_labels_and_a_distinct_default() {
        let litmus = SELINUX_LABELS[0];
        for label in [litmus.process, litmus.mount] {
            let typ = label.rsplit(':').next().unwrap();
            assert!(
                SELINUX_POLICY_SOURCE.contains(&format!("type {typ};")),
                "{typ} is not declared"
            );
        }
        assert!(!litmus.mount.ends_with("litmus_default_t"));
        assert!(SELINUX_POLICY_SOURCE
            .contains("fs_use_trans tmpfs system_u:object_r:litmus_default_t;"));
    }
}
