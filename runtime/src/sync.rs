//! The conversation between `create` (the parent) and the processes it
//! forks, over a socketpair, one JSON message per line.
//!
//! ```text
//! parent                          intermediate child         container init
//!   fork ───────────────────────▶  (waits)
//!   Go ─────────────────────────▶  oom_score_adj, non-dumpable,
//!   create the cgroup;              setns / unshare (but cgroup)
//!   v2, no user ns, not rootless:
//!   Fork { into } ──────────────▶   (clone3 into that cgroup)
//!   else move the intermediate in,
//!   Fork ───────────────────────▶
//!   ◀──────────────── MapIds        (new user ns)
//!   write uid_map/gid_map
//!   IdsMapped ──────────────────▶   fork ─────────────────▶ setsid, hostname,
//!   ◀──────────────── InitPid       exit                    mounts up to the first
//!   move netDevices                                         cgroup mount (waits)
//!   State ──────────────────────────────────────────────▶  cgroup ns, sysctls,
//!                                                          the other mounts, devices
//!   ◀──────────────────────────────────────────── RunCreateHooks
//!   prestart + createRuntime hooks
//!   HooksDone ──────────────────────────────────────────▶  createContainer hooks,
//!                                                          pivot_root, process setup
//!   ◀──────────────────────────────────────────── Ready | Failed
//!   write state "created", exit                            accept on exec socket
//! ```

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::marker::PhantomData;
use std::os::unix::net::UnixStream;

/// What `create` tells the processes it forked.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToChild {
    Go,
    /// Fork the init once the namespaces exist: into the container's
    /// cgroup v2 directory `into` (CLONE_INTO_CGROUP), or (None) where the
    /// intermediate is, moved into the container's cgroup by then.
    Fork {
        into: Option<std::path::PathBuf>,
    },
    IdsMapped,
    /// The container's state JSON, for hooks run from inside. It also
    /// says the init holds its netDevices: the init waits for it before
    /// its cgroup namespace, its first cgroup mount and the sysctls (and,
    /// without a mount namespace, before any mount).
    State {
        json: String,
    },
    HooksDone,
}

/// What the forked processes tell `create`.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToParent {
    MapIds { pid: i32 },
    InitPid { pid: i32 },
    RunCreateHooks,
    Ready,
    Failed { error: String },
}

/// What `exec`'s helper (joined to the container) tells `exec`: the pid
/// of the process it forked, or why it could not get that far; the
/// process itself writes `Failed` if its exec fails.
#[derive(Debug, Serialize, Deserialize)]
pub enum ExecReport {
    Pid { pid: i32 },
    Failed { error: String },
}

/// One end of a socketpair that sends `S` and receives `R`, one JSON
/// message per line: which end may say what is a type, not a convention.
pub struct Channel<S, R> {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    _says: PhantomData<fn(S) -> R>,
}

/// `create`'s end of its conversation with the processes it forks.
pub type ParentEnd = Channel<ToChild, ToParent>;
/// Their end.
pub type ChildEnd = Channel<ToParent, ToChild>;

/// A connected pair: (the end that sends `A`, the end that sends `B`).
pub fn pair<A, B>() -> Result<(Channel<A, B>, Channel<B, A>)> {
    let (a, b) = UnixStream::pair().context("creating sync socketpair")?;
    Ok((Channel::new(a)?, Channel::new(b)?))
}

impl<S, R> Channel<S, R> {
    fn new(stream: UnixStream) -> Result<Channel<S, R>> {
        Ok(Channel {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
            _says: PhantomData,
        })
    }
}

impl<S: Serialize, R: DeserializeOwned> Channel<S, R> {
    pub fn send(&mut self, message: &S) -> Result<()> {
        let mut line = serde_json::to_vec(message)?;
        line.push(b'\n');
        self.writer.write_all(&line).context("sync: sending")
    }

    /// Receives one message, or None once every writer has closed its end.
    pub fn try_recv(&mut self, expecting: &str) -> Result<Option<R>> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .with_context(|| format!("sync: waiting for {expecting}"))?;
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_str(&line)
            .map(Some)
            .map_err(|e| anyhow!("sync: bad message {line:?}: {e}"))
    }

    /// Receives one message; a closed channel is an error naming what was
    /// expected, so a child that died early is reported, not waited on.
    pub fn recv(&mut self, expecting: &str) -> Result<R> {
        match self.try_recv(expecting)? {
            Some(message) => Ok(message),
            None => bail!("sync: the other side exited while we waited for {expecting}"),
        }
    }

    /// Closes our end, so the peer's next read sees EOF.
    pub fn close(&mut self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }
}

impl ParentEnd {
    /// Sends `message`; if the children are gone, the error is what they
    /// said before going (a `Failed`), not the broken pipe it leaves.
    pub fn tell(&mut self, message: &ToChild) -> Result<()> {
        let Err(broken) = self.send(message) else {
            return Ok(());
        };
        match self.try_recv("why the container's processes exited") {
            Ok(Some(ToParent::Failed { error })) => Err(anyhow!(error)),
            _ => Err(broken.context("the container's processes exited without saying why")),
        }
    }

    /// Receives a message and turns `Failed` into an error.
    pub fn expect(&mut self, expecting: &str) -> Result<ToParent> {
        match self.recv(expecting)? {
            ToParent::Failed { error } => Err(anyhow!(error)),
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_and_failures_become_errors() {
        let (mut b, mut a): (ParentEnd, ChildEnd) = pair().unwrap();
        a.send(&ToParent::InitPid { pid: 42 }).unwrap();
        a.send(&ToParent::Failed { error: "mount /proc: EPERM".into() }).unwrap();
        assert!(matches!(b.recv("pid").unwrap(), ToParent::InitPid { pid: 42 }));
        let err = b.expect("ready").unwrap_err().to_string();
        assert_eq!(err, "mount /proc: EPERM");
    }

    #[test]
    fn telling_a_child_that_failed_reports_its_failure() {
        let (mut parent, mut child): (ParentEnd, ChildEnd) = pair().unwrap();
        child.send(&ToParent::Failed { error: "setns: EINVAL".into() }).unwrap();
        drop(child);
        let err = parent.tell(&ToChild::Go).unwrap_err().to_string();
        assert_eq!(err, "setns: EINVAL");
        let (mut parent, child): (ParentEnd, ChildEnd) = pair().unwrap();
        drop(child);
        let err = format!("{:#}", parent.tell(&ToChild::Go).unwrap_err());
        assert!(err.contains("exited without saying why"), "{err}");
    }

    #[test]
    fn a_closed_peer_is_an_error_naming_what_was_awaited() {
        let (a, mut b): (ChildEnd, ParentEnd) = pair().unwrap();
        drop(a);
        let err = b.recv("the init pid").unwrap_err().to_string();
        assert!(err.contains("the init pid"), "{err}");
    }
}
