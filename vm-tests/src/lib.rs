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
pub mod results;

/// The guest's init script.
pub const GUEST_INIT: &str = include_str!("../guest/init.sh");

/// The cgroup layouts the guest can mount (guest/init.sh's `litmus.cgroup=`).
pub const MODES: &[&str] = &["v2", "v1", "hybrid"];
