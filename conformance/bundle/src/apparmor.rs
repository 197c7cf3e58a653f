//! The AppArmor profile the suite asks runtimes to apply
//! (`process.apparmorProfile`). Complain mode: it confines nothing, so a
//! container under it behaves as without it; what the suite checks is that
//! the kernel shows the process in it.

/// The profile's name, as `process.apparmorProfile` gives it.
pub const APPARMOR_PROFILE: &str = "litmus-probe";

/// Its source, for `apparmor_parser` (the suite loads it with
/// `apparmor_parser -r` where that is installed; `cargo xtask vm-test`
/// compiles it on the host and the guest loads the binary policy).
pub const APPARMOR_PROFILE_SOURCE: &str = "profile litmus-probe flags=(complain) {\n}\n";
