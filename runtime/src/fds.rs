//! The caller's descriptors a container process inherits: `--preserve-fds N`
//! (fds 3..3+N-1) and, for `create` and `run`, systemd socket activation
//! (`LISTEN_FDS`), passed before them as runc does.
//!
//! The range belongs to the caller. If the caller leaves a hole in it, the
//! runtime's next `open` lands there and the container inherits one of the
//! runtime's own descriptors: its state directory, a sync socket, anything
//! that points outside the rootfs (the CVE-2024-21626 class: one host
//! directory fd and `/proc/self/fd/N/..` walks the host). So the range is
//! claimed in `main`, before the runtime opens anything: every fd in it must
//! be open, else the command fails naming it. From then on everything the
//! runtime opens is numbered above the range, and before exec each fd is
//! checked again against what the caller passed (device and inode).

use crate::fault::Fault;
use anyhow::{bail, Result};

/// `--preserve-fds` plus the socket-activation fds, claimed.
#[derive(Debug, Default)]
pub struct Inherited {
    /// The identity of fd 3 + i at claim time.
    fds: Vec<Identity>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
}

/// The first fd after stdio.
const FIRST: i32 = 3;

impl Inherited {
    /// Claims fds 3..3+count-1 as the caller's. Call before opening
    /// anything; `what` names the flag for the error.
    pub fn claim(count: u32, what: &str) -> Result<Inherited> {
        if count > 65_536 {
            bail!("{what}: {count} is more descriptors than a process can hold");
        }
        if Fault::PreserveFdsOwnDescriptors.active() {
            // A runtime that trusts the count: holes get its own fds.
            return Ok(Inherited { fds: vec![Identity { dev: 0, ino: 0 }; count as usize] });
        }
        let mut fds = Vec::with_capacity(count as usize);
        for i in 0..count as i32 {
            let fd = FIRST + i;
            match identity(fd) {
                Some(id) => fds.push(id),
                None => bail!(
                    "{what}: fd {fd} is not open (preserved fd {} of {count}): \
                     the caller must pass fds {FIRST}..{}",
                    i + 1,
                    FIRST + count as i32 - 1
                ),
            }
        }
        Ok(Inherited { fds })
    }

    pub fn count(&self) -> u32 {
        self.fds.len() as u32
    }

    /// Fails unless every fd of the range is still the one the caller
    /// passed: the last look before they go to the container.
    pub fn verify(&self) -> Result<()> {
        if Fault::PreserveFdsOwnDescriptors.active() {
            return Ok(());
        }
        for (i, expected) in self.fds.iter().enumerate() {
            let fd = FIRST + i as i32;
            if identity(fd) != Some(*expected) {
                bail!("preserved fd {fd} is no longer the one the caller passed; not handing it to the container");
            }
        }
        Ok(())
    }
}

/// Socket activation: how many fds systemd (or whoever set LISTEN_FDS and
/// LISTEN_PID to our pid) passed us, as go-systemd's `activation.Files`
/// reads it. Another process's LISTEN_FDS is not ours.
pub fn listen_fds() -> u32 {
    let ours = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    if !ours {
        return 0;
    }
    std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn identity(fd: i32) -> Option<Identity> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat only writes the stat buffer, which is large enough; an
    // fd that is not open yields EBADF and touches nothing.
    let rc = unsafe { libc::fstat(fd, st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    Some(Identity { dev: st.st_dev, ino: st.st_ino })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    #[test]
    fn identity_tells_files_apart_and_sees_closed_fds() {
        let a = tempfile::tempfile().unwrap().into_raw_fd();
        let b = tempfile::tempfile().unwrap().into_raw_fd();
        assert!(identity(a).is_some());
        assert_ne!(identity(a), identity(b));
        nix::unistd::close(b).unwrap();
        assert_eq!(identity(b), None);
        nix::unistd::close(a).unwrap();
    }

    #[test]
    fn listen_fds_are_ours_only_with_our_pid() {
        // Read-only: the variables are not set in the test environment.
        assert_eq!(listen_fds(), 0);
    }

    #[test]
    fn a_huge_count_is_refused_naming_the_flag() {
        let err = Inherited::claim(1 << 20, "--preserve-fds").unwrap_err();
        assert!(err.to_string().starts_with("--preserve-fds:"), "{err}");
    }
}
