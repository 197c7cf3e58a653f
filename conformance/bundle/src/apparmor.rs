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

/// `apparmor_parser ARGS` given the profile's source on stdin, for at
/// most a minute (`-r` loads it, `-Q -S` compiles it to stdout).
pub fn apparmor_parser(args: &[&str]) -> std::io::Result<crate::wait::Captured> {
    use std::io::{Seek, Write};
    let mut source = tempfile::tempfile()?;
    source.write_all(APPARMOR_PROFILE_SOURCE.as_bytes())?;
    source.rewind()?;
    crate::wait::output_of_input_within(
        std::process::Command::new("apparmor_parser").args(args),
        source,
        std::time::Duration::from_secs(60),
    )
}
