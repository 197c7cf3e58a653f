//! The conversation between `create` (the parent) and the processes it
//! forks, over a socketpair, one JSON message per line.
//!
//! ```text
//! parent                          intermediate child         container init
//!   fork ───────────────────────▶  (waits)
//!   join cgroup, oom_score_adj
//!   Go ─────────────────────────▶  setns / unshare
//!   ◀──────────────── MapIds        (new user ns)
//!   write uid_map/gid_map
//!   IdsMapped ──────────────────▶   fork ─────────────────▶ (waits)
//!   ◀──────────────── InitPid       exit
//!   State ──────────────────────────────────────────────▶  mounts, devices
//!   ◀──────────────────────────────────────────── RunCreateHooks
//!   prestart + createRuntime hooks
//!   HooksDone ──────────────────────────────────────────▶  createContainer hooks,
//!                                                          pivot_root, process setup
//!   ◀──────────────────────────────────────────── Ready | Failed
//!   write state "created", exit                            accept on exec socket
//! ```

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    Go,
    MapIds {
        pid: i32,
    },
    IdsMapped,
    InitPid {
        pid: i32,
    },
    /// The container's state JSON, for hooks run from inside.
    State {
        json: String,
    },
    RunCreateHooks,
    HooksDone,
    Ready,
    Failed {
        error: String,
    },
}

pub struct Channel {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Channel {
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = UnixStream::pair().context("creating sync socketpair")?;
        Ok((Channel::new(a)?, Channel::new(b)?))
    }

    fn new(stream: UnixStream) -> Result<Channel> {
        Ok(Channel {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    pub fn send(&mut self, message: &Message) -> Result<()> {
        let mut line = serde_json::to_vec(message)?;
        line.push(b'\n');
        self.writer.write_all(&line).context("sync: sending")
    }

    /// Receives one message; a closed channel is an error naming what was
    /// expected, so a child that died early is reported, not waited on.
    pub fn recv(&mut self, expecting: &str) -> Result<Message> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .with_context(|| format!("sync: waiting for {expecting}"))?;
        if n == 0 {
            bail!("sync: the other side exited while we waited for {expecting}");
        }
        serde_json::from_str(&line).map_err(|e| anyhow!("sync: bad message {line:?}: {e}"))
    }

    /// Closes our end, so the peer's next read sees EOF.
    pub fn close(&mut self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }

    /// Receives a message and turns `Failed` into an error.
    pub fn expect(&mut self, expecting: &str) -> Result<Message> {
        match self.recv(expecting)? {
            Message::Failed { error } => Err(anyhow!(error)),
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_and_failures_become_errors() {
        let (mut a, mut b) = Channel::pair().unwrap();
        a.send(&Message::InitPid { pid: 42 }).unwrap();
        a.send(&Message::Failed {
            error: "mount /proc: EPERM".into(),
        })
        .unwrap();
        assert!(matches!(
            b.recv("pid").unwrap(),
            Message::InitPid { pid: 42 }
        ));
        let err = b.expect("ready").unwrap_err().to_string();
        assert_eq!(err, "mount /proc: EPERM");
    }

    #[test]
    fn a_closed_peer_is_an_error_naming_what_was_awaited() {
        let (a, mut b) = Channel::pair().unwrap();
        drop(a);
        let err = b.recv("the init pid").unwrap_err().to_string();
        assert!(err.contains("the init pid"), "{err}");
    }
}
