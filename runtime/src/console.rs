//! `process.terminal`: a pseudoterminal allocated inside the container.
//!
//! The pty comes from the container's own devpts (opened after
//! pivot_root), its master goes to whoever asked for it over the console
//! socket (SCM_RIGHTS, as runc sends it), and its slave becomes the
//! process's stdin, stdout, stderr and controlling terminal, bind-mounted
//! on /dev/console (config-linux.md, default devices).
//!
//! When nobody gave a console socket (`run` or `exec` in the foreground),
//! the runtime keeps the master itself and [`relay`]s it to its own stdio.

use crate::fault::Fault;
use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Connects to the `--console-socket` an engine listens on.
pub fn connect(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path)
        .with_context(|| format!("--console-socket: connecting to {}", path.display()))
}

/// Where the pty master goes: the engine's socket, or (foreground, no
/// socket) one end of a pair whose other end the runtime keeps.
pub fn socket_for(console_socket: Option<&Path>) -> Result<(UnixStream, Option<UnixStream>)> {
    match console_socket {
        Some(path) => Ok((connect(path)?, None)),
        None => {
            let (ours, theirs) = UnixStream::pair().context("console socketpair")?;
            Ok((theirs, Some(ours)))
        }
    }
}

/// In the container, after pivot_root: allocates the pty, sends its master
/// over `socket`, and makes the slave this process's stdio and controlling
/// terminal. `bind_console` also bind-mounts the slave on /dev/console (the
/// container's init; an exec'd process shares the console already there).
pub fn set_up(socket: &UnixStream, bind_console: bool) -> Result<()> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .context("process.terminal: opening /dev/ptmx (is devpts mounted on /dev/pts?)")?;
    nix::pty::grantpt(&master).context("process.terminal: grantpt")?;
    nix::pty::unlockpt(&master).context("process.terminal: unlockpt")?;
    let slave_path = nix::pty::ptsname_r(&master).context("process.terminal: ptsname")?;
    send_fd(socket, master.as_raw_fd(), "/dev/ptmx")?;
    drop(master);

    if bind_console && !Fault::ConsoleNotBound.active() {
        mount_console(&slave_path)?;
    }
    if Fault::PtyNotStdio.active() {
        return Ok(());
    }
    let slave = nix::fcntl::open(
        slave_path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("process.terminal: opening {slave_path}"))?;
    for dup2 in
        [nix::unistd::dup2_stdin::<&OwnedFd>, nix::unistd::dup2_stdout, nix::unistd::dup2_stderr]
    {
        dup2(&slave).context("process.terminal: making the pty stdio")?;
    }
    drop(slave);
    // The caller has called setsid(): take the pty as controlling terminal.
    // SAFETY: TIOCSCTTY takes an integer argument, no memory.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
        return Err(std::io::Error::last_os_error())
            .context("process.terminal: TIOCSCTTY (controlling terminal)");
    }
    Ok(())
}

/// /dev/console becomes a bind mount of the pty slave.
/// Bind-mounts the pty slave on /dev/console without following anything
/// the image put there: a /dev/console symlink would otherwise carry the
/// mount onto its target (CVE-2025-52565), so it is refused.
fn mount_console(slave_path: &str) -> Result<()> {
    let console = Path::new("/dev/console");
    if Fault::ConsoleFollowsSymlink.active() {
        if std::fs::symlink_metadata(console).is_err() {
            std::fs::File::create(console).context("process.terminal: creating /dev/console")?;
        }
        return bind_console(Path::new(slave_path), console);
    }
    match std::fs::symlink_metadata(console) {
        Ok(meta) if meta.file_type().is_symlink() => bail!(
            "process.terminal: /dev/console in the rootfs is a symlink (to {}); refusing to mount the console through it",
            std::fs::read_link(console).map(|t| t.display().to_string()).unwrap_or_default()
        ),
        Ok(_) => {}
        Err(_) => {
            std::fs::File::create(console).context("process.terminal: creating /dev/console")?;
        }
    }
    // The target by handle, opened without following a symlink swapped in
    // since the check.
    let target = nix::fcntl::open(
        console,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("process.terminal: opening /dev/console")?;
    bind_console(Path::new(slave_path), &crate::rootfs::inroot::fd_path(&target))
}

fn bind_console(slave: &Path, target: &Path) -> Result<()> {
    nix::mount::mount(Some(slave), target, None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
        .with_context(|| {
            format!("process.terminal: bind-mounting {} on /dev/console", slave.display())
        })
}

fn send_fd(socket: &UnixStream, fd: i32, name: &str) -> Result<()> {
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&[fd])],
        MsgFlags::empty(),
        None,
    )
    .context("--console-socket: sending the pty master")?;
    Ok(())
}

/// Receives the pty master a container sent on `socket`.
pub fn receive_master(socket: &UnixStream) -> Result<OwnedFd> {
    let mut name = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg =
        recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            .context("receiving the pty master")?;
    for cmsg in msg.cmsgs().context("reading the pty master message")? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(&fd) = fds.first() {
                // SAFETY: SCM_RIGHTS installed fd in this process just
                // now; nothing else refers to it.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    bail!("the container sent no pty master")
}

/// Copies our stdin to the pty and the pty to our stdout, with our own
/// terminal (if stdin is one) in raw mode so keys reach the container as
/// typed. Returns a guard; dropping it after the container exited waits for
/// the output to drain and restores the terminal.
pub fn relay(master: OwnedFd) -> Result<Relay> {
    let saved = raw_mode_on_stdin();
    copy_window_size(&master);
    let mut output = std::fs::File::from(master);
    let mut input = output.try_clone().context("duplicating the pty master")?;
    // stdin → pty: a detached thread; it ends with the process.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut input);
    });
    let drain = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut stdout = std::io::stdout();
        // EIO once every slave is closed: the container is gone.
        while let Ok(n) = output.read(&mut buf) {
            if n == 0 || stdout.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = stdout.flush();
        }
    });
    Ok(Relay { drain: Some(drain), saved })
}

pub struct Relay {
    drain: Option<std::thread::JoinHandle<()>>,
    saved: Option<nix::sys::termios::Termios>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
        if let Some(saved) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}

fn raw_mode_on_stdin() -> Option<nix::sys::termios::Termios> {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    let saved = tcgetattr(std::io::stdin()).ok()?;
    let mut raw = saved.clone();
    cfmakeraw(&mut raw);
    tcsetattr(std::io::stdin(), SetArg::TCSANOW, &raw).ok()?;
    Some(saved)
}

fn copy_window_size(master: &OwnedFd) {
    let mut size = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one winsize into `size`, TIOCSWINSZ reads
    // one; both live on this frame.
    unsafe {
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut size) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pty_master_crosses_the_socket_and_still_talks_to_its_slave() {
        let (sender, receiver) = UnixStream::pair().unwrap();
        let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY).unwrap();
        nix::pty::grantpt(&master).unwrap();
        nix::pty::unlockpt(&master).unwrap();
        let slave_path = nix::pty::ptsname_r(&master).unwrap();
        send_fd(&sender, master.as_raw_fd(), "/dev/ptmx").unwrap();
        drop(master);
        let received = receive_master(&receiver).unwrap();

        let mut slave =
            std::fs::OpenOptions::new().read(true).write(true).open(&slave_path).unwrap();
        slave.write_all(b"hello\n").unwrap();
        let mut got = [0u8; 16];
        let n = std::fs::File::from(received).read(&mut got).unwrap();
        // The line discipline turns \n into \r\n: proof it is a real pty.
        assert_eq!(&got[..n], b"hello\r\n");
    }

    #[test]
    fn a_missing_console_socket_is_named_in_the_error() {
        let err = connect(Path::new("/nonexistent/console.sock")).unwrap_err();
        assert!(format!("{err:#}").contains("--console-socket"), "{err:#}");
    }
}
