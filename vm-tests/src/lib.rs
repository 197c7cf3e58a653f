//! The host side of `cargo xtask vm-test`: the pinned kernel, the
//! initramfs, a QEMU boot per cgroup layout, and reading the results the
//! guest writes to its second serial port.
//!
//! Nothing here needs a kernel module in the guest: results travel over
//! the 8250 serial port (built into Debian's kernel) and the guest powers
//! itself off, so the initramfs is busybox, the static binaries and
//! guest/init.sh.

pub mod cpio;
pub mod libtest;
pub mod lock;
pub mod merged;
pub mod results;

/// The guest's init script.
pub const GUEST_INIT: &str = include_str!("../guest/init.sh");

/// The cgroup layouts the guest can mount (guest/init.sh's `litmus.cgroup=`).
pub const MODES: &[&str] = &["v2", "v1", "hybrid"];

/// The security module a boot runs (`security=` on the kernel command
/// line). The kernel runs one of AppArmor and SELinux, never both, so the
/// hybrid layout and the v2 layout of the newest pinned kernel take SELinux
/// (with litmus's policy loaded, permissive) and the others AppArmor: each
/// label path of the suite runs in a full matrix, and SELinux's in CI's one
/// boot (6.12 v2).
pub fn security_module(mode: &str, newest_kernel: bool) -> &'static str {
    match mode {
        "hybrid" => "selinux",
        "v2" if newest_kernel => "selinux",
        _ => "apparmor",
    }
}

/// Whether a layout's guest runs the runtime's root integration tests.
/// Only v2 does: the host itself (cgroup v1, hybrid) runs them in `cargo
/// xtask ci`, so the guests add only the layout the host cannot give. In v1
/// and hybrid guests of Debian's 6.1 kernel under TCG the killed-create
/// sweeps twice stalled the guest kernel (soft lockups of both vCPUs in the
/// sweep's threads, no progress for 400 s and more), an emulation failure
/// no runtime behaviour explains; the suite still runs in every layout.
pub fn runs_runtime_tests(mode: &str) -> bool {
    mode == "v2"
}

/// The suite's cases that exist for a security module: in a layout booted
/// with it they must pass, as a skip there would hide a regression.
pub fn cases_needing(module: &str) -> &'static [&'static str] {
    match module {
        "selinux" => &["selinux_label_is_applied", "mount_label_is_applied"],
        "apparmor" => &["apparmor_profile_is_applied"],
        _ => &[],
    }
}

#[cfg(test)]
mod runtime_tests_layouts {
    use super::*;

    #[test]
    fn selinux_boots_in_hybrid_and_in_the_newest_kernels_v2() {
        assert_eq!(security_module("hybrid", false), "selinux");
        assert_eq!(security_module("v2", true), "selinux");
        assert_eq!(security_module("v2", false), "apparmor");
        assert_eq!(security_module("v1", true), "apparmor");
    }

    #[test]
    fn only_the_v2_guest_runs_the_runtime_tests() {
        assert!(runs_runtime_tests("v2"));
        assert!(!runs_runtime_tests("v1") && !runs_runtime_tests("hybrid"));
    }
}
