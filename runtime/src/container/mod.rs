//! The lifecycle operations of runtime.md, one function each.

mod create;
mod events;
mod exec;
mod pause;
mod ps;
mod run;
mod update;

pub use create::{create, now_rfc3339, short_socket_path, Created, EXEC_SOCKET};
pub use events::events;
pub use exec::exec;
pub use pause::{pause, resume};
pub use ps::ps;
pub use run::run;
pub use update::{parse_bytes, update};

use crate::cgroups::Cgroup;
use crate::fault::Fault;
use crate::hooks::{self, Phase};
use crate::signal;
use crate::state::{self, ContainerDir, Status};
use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill as send_signal, Signal};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs the user process of a created container.
pub fn start(root: &Path, id: &str) -> Result<()> {
    let load_span = crate::trace::span("start.load");
    let dir = ContainerDir::open(root, id)?;
    let mut record = dir.load()?;
    drop(load_span);
    start_loaded(&dir, &mut record, None)
}

/// `start` of a container whose directory is open and locked; `spec` is
/// its saved config when the caller has it (foreground `run`).
fn start_loaded(
    dir: &ContainerDir,
    record: &mut state::Record,
    spec: Option<&oci_spec::runtime::Spec>,
) -> Result<()> {
    let status = record.refreshed_status();
    if status != Status::Created {
        bail!(
            "cannot start a container that is {status} (only a created container can be started)"
        );
    }
    let exec_span = crate::trace::span("start.exec");
    let socket = dir.path().join(EXEC_SOCKET);
    let mut conn = UnixStream::connect(short_socket_path(dir.path())?.path())
        .context("the container's init is not waiting for start")?;
    conn.write_all(b"1").context("signalling the container's init")?;
    // The socket is close-on-exec in the init: EOF means the exec happened;
    // any text is the reason it did not.
    let mut reply = String::new();
    conn.read_to_string(&mut reply).context("waiting for the container's init")?;
    let _ = std::fs::remove_file(&socket);
    if !reply.trim().is_empty() {
        bail!("{}", reply.trim());
    }
    drop(exec_span);
    let _t = crate::trace::span("start.poststart");
    record.state.status = Status::Running;
    dir.save(record)?;
    let loaded;
    let spec = match spec {
        Some(spec) => spec,
        None => {
            loaded = dir.load_config()?;
            &loaded
        }
    };
    let state_json = serde_json::to_string(&record.current_state())?;
    if Fault::PoststartFailureIgnored.active() {
        hooks::run_phase_warning(spec.hooks(), Phase::Poststart, &state_json);
        return Ok(());
    }
    // runtime.md (1.3): a failing poststart hook is an error; the container
    // is stopped, and delete (the next step) removes it.
    if let Err(e) = hooks::run_phase(spec.hooks(), Phase::Poststart, &state_json) {
        for pid in record.processes().unwrap_or_default() {
            let _ = send_signal(Pid::from_raw(pid), Signal::SIGKILL);
        }
        wait_until_gone(record.state.pid, record.pid_start_time);
        return Err(e.context("the container was stopped"));
    }
    Ok(())
}

/// Prints the state as runc does: indented JSON.
pub fn state(root: &Path, id: &str) -> Result<String> {
    let dir = ContainerDir::open(root, id)?;
    let mut state = dir.load()?.current_state();
    if Fault::StatusAlwaysRunning.active() && state.status == Status::Created {
        state.status = Status::Running;
    }
    Ok(serde_json::to_string_pretty(&state)?)
}

pub fn kill(root: &Path, id: &str, signal_name: &str, all: bool) -> Result<()> {
    let sig = signal::parse(signal_name)?;
    let dir = ContainerDir::open(root, id)?;
    let record = dir.load()?;
    let status = record.refreshed_status();
    if !matches!(status, Status::Created | Status::Running | Status::Paused) {
        bail!("cannot kill a container that is {status}");
    }
    if all {
        for pid in record.processes()? {
            let _ = send_signal(Pid::from_raw(pid), sig);
        }
        return Ok(());
    }
    send_signal(Pid::from_raw(record.state.pid), sig)
        .with_context(|| format!("sending {sig} to pid {}", record.state.pid))?;
    // After `kill ID 9` engines and suites delete at once (plain delete of
    // a created container is refused until it is stopped): SIGKILL cannot
    // be caught, so wait, bounded, for the exit to complete. A frozen
    // container dies only when thawed, so paused ones are not waited for.
    // (No fault for this: unwaited, the race is lost only under load,
    // too rarely for the meta-test; the engine case tries six times.)
    if sig == Signal::SIGKILL && status != Status::Paused {
        wait_until_gone(record.state.pid, record.pid_start_time);
    }
    Ok(())
}

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    delete_knowing(root, id, force, None)
}

/// `delete`, with the saved config when the caller has it.
fn delete_knowing(
    root: &Path,
    id: &str,
    force: bool,
    spec: Option<&oci_spec::runtime::Spec>,
) -> Result<()> {
    let dir = match ContainerDir::open(root, id) {
        Ok(dir) => dir,
        // runc: `delete --force` of a container that is not there succeeds;
        // so does one of a create that was killed before it wrote state.
        Err(_) if force && ContainerDir::remove_abandoned(root, id)? => return Ok(()),
        Err(_) if force => ContainerDir::open(root, id)?,
        Err(e) => return Err(e),
    };
    let record = dir.load()?;
    let status = record.refreshed_status();
    if status != Status::Stopped && !force {
        bail!("cannot delete a container that is {status} (stop it first or use --force)");
    }
    if status != Status::Stopped && state::process_is_alive(record.state.pid, record.pid_start_time)
    {
        let _ = send_signal(Pid::from_raw(record.state.pid), Signal::SIGKILL);
    }
    if let Some(cgroup) = record.cgroup()? {
        // Frozen tasks cannot act on SIGKILL until thawed.
        if status == Status::Paused {
            let _ = cgroup.freeze(false);
        }
        kill_all_and_remove(&cgroup);
    }
    wait_until_gone(record.state.pid, record.pid_start_time);
    let loaded;
    let spec = match spec {
        Some(spec) => Some(spec),
        None => {
            loaded = dir.load_config().ok();
            loaded.as_ref()
        }
    };
    if spec.is_some_and(shares_the_host_mount_namespace) {
        crate::rootfs::unmount_all_under(&record.state.rootfs);
    }
    let mut state = record.current_state();
    state.status = Status::Stopped;
    let rootless_keeps = Fault::RootlessDeleteKeepsState.active() && crate::rootless::active();
    if !Fault::DeleteKeepsState.active() && !rootless_keeps {
        dir.remove()?;
    }
    // runtime.md: poststop hooks run after the container is deleted; a
    // failure is logged and delete still succeeds.
    if let Some(spec) = spec {
        let state_json = serde_json::to_string(&state)?;
        hooks::run_phase_warning(spec.hooks(), Phase::Poststop, &state_json);
    }
    Ok(())
}

/// A container without a mount namespace mounted on the host, under its
/// rootfs: those mounts were created by create and go with delete.
fn shares_the_host_mount_namespace(spec: &oci_spec::runtime::Spec) -> bool {
    !spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()).is_some_and(|ns| {
        ns.iter().any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Mount)
    })
}

/// Kills every process in the cgroup and removes it, retrying while the
/// kernel finishes tearing the processes down.
pub fn kill_all_and_remove(cgroup: &Cgroup) {
    // Mostly the container is gone already (`run` reaped its init; the
    // kernel killed the rest with it): then the cgroups just go.
    if cgroup.remove().is_ok() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = cgroup.pids().unwrap_or_default();
        for pid in &pids {
            let _ = send_signal(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        if pids.is_empty() && cgroup.remove().is_ok() {
            return;
        }
        if Instant::now() > deadline {
            if let Err(e) = cgroup.remove() {
                tracing::warn!("{e:#}");
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_until_gone(pid: i32, start_time: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while state::process_is_alive(pid, start_time) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `list`: runc's table, or the states as a JSON array.
pub fn list(root: &Path, json: bool, quiet: bool) -> Result<String> {
    let mut states = Vec::new();
    for id in state::list_ids(root)? {
        // A container deleted while we list is simply not listed.
        if let Ok(dir) = ContainerDir::open(root, &id) {
            states.push(dir.load()?.current_state());
        }
    }
    if quiet {
        return Ok(states.iter().map(|s| format!("{}\n", s.id)).collect());
    }
    if json {
        // runc encodes a nil slice: `null` when there is nothing to list.
        if states.is_empty() {
            return Ok("null\n".into());
        }
        return Ok(serde_json::to_string(&states)? + "\n");
    }
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
    for s in &states {
        let pid = if s.status == Status::Stopped { 0 } else { s.pid };
        rows.push([
            s.id.clone(),
            pid.to_string(),
            s.status.to_string(),
            s.bundle.display().to_string(),
            s.created.clone(),
            if s.owner.is_empty() { "root".into() } else { s.owner.clone() },
        ]);
    }
    Ok(table(&rows))
}

/// Columns as runc's Go tabwriter lays them out (minwidth 12, padding 3):
/// every column but the last is as wide as its widest cell plus 3, and at
/// least 12, so scripts that cut runc's output cut ours the same way.
fn table(rows: &[[String; 6]]) -> String {
    let mut widths = [12usize; 5];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.chars().count() + 3);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (cell, width) in row.iter().zip(widths) {
            out += &format!("{cell:<width$}");
        }
        out += &row[5];
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod list_tests {
    use super::table;

    /// Captured from `runc list` (1.1.5) with two containers.
    const RUNC: &str = "\
ID              PID         STATUS      BUNDLE      CREATED                          OWNER
c1              16935       created     /tmp/tb     2026-11-23T17:01:00.356378803Z   root
container-two   16953       created     /tmp/tb     2026-11-23T17:01:00.415680194Z   root
";

    fn row(cells: [&str; 6]) -> [String; 6] {
        cells.map(String::from)
    }

    #[test]
    fn the_table_is_laid_out_byte_for_byte_like_runcs() {
        let rows = [
            row(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]),
            row(["c1", "16935", "created", "/tmp/tb", "2026-11-23T17:01:00.356378803Z", "root"]),
            row([
                "container-two",
                "16953",
                "created",
                "/tmp/tb",
                "2026-11-23T17:01:00.415680194Z",
                "root",
            ]),
        ];
        assert_eq!(table(&rows), RUNC);
    }

    #[test]
    fn an_empty_table_is_the_header_at_minimum_width() {
        let header = [row(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"])];
        assert_eq!(
            table(&header),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
    }
}
