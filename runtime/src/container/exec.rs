//! `exec`: a new process in a running container.
//!
//! The process joins the container init's namespaces (from
//! /proc/<init>/ns, opened before entering any of them) and its cgroup,
//! then gets the same treatment as the container's own process: rlimits,
//! user and capabilities, no_new_privs, seccomp. A new pid namespace only
//! applies to children, hence a fork after setns, as in `create`.
//!
//! The exec'd process reports failures before exec on a close-on-exec
//! socket: EOF means it is running, text is the reason it is not.

use super::create::console_socket;
use super::run::{forward_signals_to, wait_for};
use crate::cgroups::Cgroup;
use crate::cli::ExecArgs;
use crate::fault::Fault;
use crate::fds::Inherited;
use crate::namespaces::{clone_flag, proc_name};
use crate::state::{ContainerDir, Status};
use crate::sync::{self, Channel, ExecReport};
use crate::{console, process, seccomp};
use anyhow::{bail, Context, Result};
use nix::unistd::ForkResult;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Returns the exit status `exec` exits with (0 when detached).
pub fn exec(root: &Path, args: &ExecArgs, inherited: &Inherited) -> Result<i32> {
    let dir = ContainerDir::open(root, &args.id)?;
    let record = dir.load()?;
    let status = record.refreshed_status();
    if status == Status::Paused {
        // The process would have to be placed in the frozen cgroup before
        // it runs, and our helper joins that cgroup first: it would freeze
        // too. Refused, whatever --ignore-paused says (runc's flag is
        // accepted for a running container, where it changes nothing).
        let flag = if args.ignore_paused {
            " (--ignore-paused is not supported for a paused container)"
        } else {
            ""
        };
        bail!("cannot exec in a paused container: resume it first{flag}");
    }
    if !matches!(status, Status::Created | Status::Running) {
        bail!("cannot exec in a container that is {status}");
    }
    if !args.cgroup.is_empty() {
        bail!(
            "--cgroup: not supported by litmus-runtime (an exec'd process joins the container's own cgroup); given {:?}",
            args.cgroup
        );
    }
    let spec = dir.load_config()?;
    let process = process_to_run(&spec, args)?;
    let terminal = process.terminal() == Some(true);
    let console = console_socket(terminal, args.console_socket.as_deref(), !args.detach)?;
    let cgroup = record.cgroup()?;
    // Detached: the process outlives us and is not ours to wait for.
    if !args.detach {
        nix::sys::prctl::set_child_subreaper(true).context("PR_SET_CHILD_SUBREAPER")?;
    }
    drop(dir); // release the lock: exec may run for a long time

    let (mut ours, theirs): (Channel<(), ExecReport>, _) = sync::pair()?;
    // SAFETY: `exec` runs no threads, so fork copies no held lock.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        ForkResult::Child => {
            drop(ours);
            let console = console.as_ref().map(|(theirs, _)| theirs);
            let result = enter_and_exec(
                &spec,
                &process,
                record.state.pid,
                cgroup.as_ref(),
                inherited,
                theirs,
                console,
            );
            match result {
                Ok(()) => crate::process::exit_now(0),
                Err(_) => crate::process::exit_now(1),
            }
        }
        ForkResult::Parent { child } => {
            drop(theirs);
            // Until every writer is gone: the helper exits after the pid,
            // the process's copy closes at its exec (close-on-exec).
            let mut reports = Vec::new();
            while let Some(report) = ours.try_recv("the exec'd process")? {
                reports.push(report);
            }
            let _ = nix::sys::wait::waitpid(child, None);
            let pid = exec_outcome(reports)?;
            if let Some(pid_file) = &args.pid_file {
                super::create::write_pid_file(pid_file, pid)?;
            }
            if args.detach {
                return Ok(0);
            }
            forward_signals_to(pid);
            let relay = match console.and_then(|(_, ours)| ours) {
                Some(socket) => Some(console::relay(console::receive_master(&socket)?)?),
                None => None,
            };
            let status = wait_for(pid);
            drop(relay);
            status
        }
    }
}

/// The pid of the exec'd process, or the first failure reported (before
/// or at its exec).
fn exec_outcome(reports: Vec<ExecReport>) -> Result<i32> {
    let mut pid = None;
    for report in reports {
        match report {
            ExecReport::Pid { pid: p } => pid = Some(p),
            ExecReport::Failed { error } => bail!("{error}"),
        }
    }
    pid.context("the exec'd process did not report its pid")
}

/// The process to run: `--process FILE`, or the container's own process
/// with COMMAND and the flags applied, as runc builds it.
pub fn process_to_run(spec: &Spec, args: &ExecArgs) -> Result<Process> {
    if let Some(path) = &args.process {
        let text = std::fs::read(path)
            .with_context(|| format!("--process: reading {}", path.display()))?;
        let process: Process = serde_json::from_slice(&text)
            .with_context(|| format!("--process: parsing {}", path.display()))?;
        crate::config::validate_process(&process).context("--process")?;
        let mut process = process;
        if args.tty {
            process.set_terminal(Some(true));
        }
        return Ok(process);
    }
    if args.command.is_empty() {
        bail!("exec: a COMMAND or --process is required");
    }
    let mut process = spec.process().clone().context("config.json has no process")?;
    process.set_args(Some(args.command.clone()));
    process.set_terminal(Some(args.tty));
    let mut env = process.env().clone().unwrap_or_default();
    for var in &args.env {
        let name = var.split('=').next().unwrap_or(var);
        env.retain(|e| e.split('=').next() != Some(name));
        env.push(var.clone());
    }
    process.set_env(Some(env));
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    if let Some(user) = &args.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        let user_mut = process.user_mut();
        user_mut.set_uid(uid.parse().with_context(|| format!("--user: bad uid {uid:?}"))?);
        if let Some(gid) = gid {
            user_mut.set_gid(gid.parse().with_context(|| format!("--user: bad gid {gid:?}"))?);
        }
    }
    if !args.additional_gids.is_empty() {
        process.user_mut().set_additional_gids(Some(args.additional_gids.clone()));
    }
    if !args.cap.is_empty() {
        add_capabilities(&mut process, &args.cap)?;
    }
    if args.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    Ok(process)
}

/// runc's --cap: the capability joins every set but inheritable.
fn add_capabilities(process: &mut Process, names: &[String]) -> Result<()> {
    let mut caps = process.capabilities().clone().unwrap_or_default();
    for name in names {
        let cap: oci_spec::runtime::Capability = serde_json::from_value(name.clone().into())
            .with_context(|| format!("--cap: unknown capability {name:?}"))?;
        let with = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut set = set.clone().unwrap_or_default();
            set.insert(cap);
            Some(set)
        };
        let (bounding, effective) = (with(caps.bounding()), with(caps.effective()));
        let (permitted, ambient) = (with(caps.permitted()), with(caps.ambient()));
        caps.set_bounding(bounding)
            .set_effective(effective)
            .set_permitted(permitted)
            .set_ambient(ambient);
    }
    process.set_capabilities(Some(caps));
    Ok(())
}

/// In the forked child: joins, forks the process, reports, exits.
fn enter_and_exec(
    spec: &Spec,
    process: &Process,
    init_pid: i32,
    cgroup: Option<&Cgroup>,
    inherited: &Inherited,
    mut report: Channel<ExecReport, ()>,
    console: Option<&UnixStream>,
) -> Result<()> {
    let outcome = (|| -> Result<()> {
        // CVE-2016-9962 / CVE-2019-5736: until exec replaces this image,
        // processes in the container must not ptrace it or open its
        // /proc/PID/exe (the runtime binary). Non-dumpable forbids both to
        // anyone without CAP_SYS_PTRACE; exec makes the new image dumpable.
        if !Fault::DumpableRuntime.active() {
            nix::sys::prctl::set_dumpable(false).context("PR_SET_DUMPABLE")?;
        }
        let affinity = process.exec_cpu_affinity().as_ref();
        let ignored = Fault::IgnoreExecCpuAffinity.active();
        if let Some(affinity) = affinity.filter(|_| !ignored) {
            process::set_cpu_affinity(
                affinity.initial().as_deref(),
                "process.execCPUAffinity.initial",
            )?;
        }
        if let Some(cgroup) = cgroup {
            cgroup.add_process(nix::unistd::getpid().as_raw())?;
        }
        // After the move: joining a cpuset resets the affinity to its CPUs.
        if let Some(affinity) = affinity.filter(|_| !ignored) {
            process::set_cpu_affinity(
                affinity.cpu_affinity_final().as_deref(),
                "process.execCPUAffinity.final",
            )?;
        }
        // Here, with the host's /proc; the fork below inherits them.
        process::set_exec_labels(process)?;
        let mut filter = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            Some(profile) => {
                let mut filter = seccomp::compile(profile)?;
                filter.connect_agent(profile)?;
                Some(filter)
            }
            None => None,
        };
        join_namespaces(spec, init_pid)?;
        // SAFETY: single-threaded (the exec helper runs no threads).
        match unsafe { nix::unistd::fork() }.context("fork")? {
            ForkResult::Parent { child } => report.send(&ExecReport::Pid { pid: child.as_raw() }),
            ForkResult::Child => {
                let error = match become_process(process, filter.take(), inherited, console) {
                    Err(e) => e,
                    Ok(never) => match never {},
                };
                let _ = report.send(&ExecReport::Failed { error: format!("{error:#}") });
                crate::process::exit_now(127)
            }
        }
    })();
    if let Err(e) = &outcome {
        let _ = report.send(&ExecReport::Failed { error: format!("{e:#}") });
    }
    outcome
}

/// Enters every namespace the container has, user first. All are opened
/// before any is entered: once in the mount namespace, /proc is the
/// container's.
fn join_namespaces(spec: &Spec, init_pid: i32) -> Result<()> {
    let mut types: Vec<LinuxNamespaceType> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
        .iter()
        .map(|ns| ns.typ())
        .collect();
    types.sort_by_key(|t| *t != LinuxNamespaceType::User);
    let mut opened = Vec::new();
    for typ in types {
        let path = format!("/proc/{init_pid}/ns/{}", proc_name(typ));
        let own = std::fs::read_link(format!("/proc/self/ns/{}", proc_name(typ))).ok();
        // Entering the namespace we are already in fails for user ns.
        if own.is_some() && std::fs::read_link(&path).ok() == own {
            continue;
        }
        let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
        opened.push((typ, file, path));
    }
    for (typ, file, path) in opened {
        nix::sched::setns(&file, clone_flag(typ)).with_context(|| format!("joining {path}"))?;
    }
    Ok(())
}

/// The same steps as the container's own process (see init.rs).
fn become_process(
    process: &Process,
    filter: Option<seccomp::Filter>,
    inherited: &Inherited,
    console: Option<&UnixStream>,
) -> Result<std::convert::Infallible> {
    if let Some(socket) = console {
        // A terminal needs a session of its own to be controlling.
        nix::unistd::setsid().context("setsid")?;
        console::set_up(socket, false)?;
    }
    nix::unistd::chdir(process.cwd())
        .with_context(|| format!("process.cwd: entering {}", process.cwd().display()))?;
    process::set_rlimits(process)?;
    process::set_io_priority(process)?;
    process::set_scheduler(process)?;
    // Found before any filter applies (see init.rs).
    let program = process::find_executable(process)?;
    let early = filter.is_some() && process.no_new_privileges() != Some(true);
    if early {
        // Before the profile applies to us (see init.rs).
        process::close_fds_on_exec(inherited)?;
    }
    let late_filter = match filter {
        Some(filter) if process.no_new_privileges() != Some(true) => {
            filter.load("{}")?;
            None
        }
        other => other,
    };
    process::set_identity_and_capabilities(process)?;
    process::set_no_new_privileges(process)?;
    process::set_umask(process);
    process::reset_signals();
    if !early {
        process::close_fds_on_exec(inherited)?;
    }
    if let Some(filter) = late_filter {
        filter.load("{}")?;
    }
    process::exec(&program, process)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn exec_args(argv: &[&str]) -> ExecArgs {
        let cli =
            crate::cli::Cli::try_parse_from(["litmus-runtime", "exec"].iter().chain(argv.iter()))
                .unwrap();
        match cli.command {
            crate::cli::Command::Exec(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_exec_flags_engines_pass_are_understood() {
        let args = exec_args(&["--ignore-paused", "--cgroup", "sub", "c1", "true"]);
        assert!(args.ignore_paused);
        assert_eq!(args.cgroup, vec!["sub".to_string()]);
        assert_eq!(args.command, vec!["true".to_string()]);
    }

    #[test]
    fn flags_change_the_containers_process_like_runc() {
        let spec = Spec::default();
        let args = exec_args(&[
            "-e",
            "PATH=/x",
            "-e",
            "NEW=1",
            "--cwd",
            "/tmp",
            "-u",
            "1000:1001",
            "-g",
            "7",
            "--cap",
            "CAP_NET_RAW",
            "--no-new-privs",
            "c1",
            "sh",
            "-c",
            "echo hi",
        ]);
        let process = process_to_run(&spec, &args).unwrap();
        assert_eq!(process.args().as_ref().unwrap(), &["sh", "-c", "echo hi"]);
        let env = process.env().clone().unwrap();
        assert!(env.contains(&"PATH=/x".to_string()));
        assert!(env.contains(&"NEW=1".to_string()));
        assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
        assert_eq!(process.cwd(), Path::new("/tmp"));
        assert_eq!(process.user().uid(), 1000);
        assert_eq!(process.user().gid(), 1001);
        assert_eq!(process.user().additional_gids().as_ref().unwrap(), &[7]);
        let caps = process.capabilities().clone().unwrap();
        assert!(caps
            .effective()
            .as_ref()
            .unwrap()
            .contains(&oci_spec::runtime::Capability::NetRaw));
        assert_eq!(process.no_new_privileges(), Some(true));
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let spec = Spec::default();
        let error = process_to_run(&spec, &exec_args(&["-u", "bob", "c1", "true"]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("--user"), "{error}");
        let error = process_to_run(&spec, &exec_args(&["--cap", "CAP_BOGUS", "c1", "true"]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("--cap"), "{error}");
        let error = process_to_run(&spec, &exec_args(&["c1"])).unwrap_err().to_string();
        assert!(error.contains("COMMAND or --process"), "{error}");
    }

    #[test]
    fn the_reports_give_the_pid_or_the_failure() {
        let pid = |pid| ExecReport::Pid { pid };
        let failed = |error: &str| ExecReport::Failed { error: error.into() };
        assert_eq!(exec_outcome(vec![pid(42)]).unwrap(), 42);
        let err = exec_outcome(vec![pid(42), failed("exec: not found")]).unwrap_err();
        assert_eq!(err.to_string(), "exec: not found");
        let err = exec_outcome(vec![failed("joining x: EPERM")]).unwrap_err();
        assert_eq!(err.to_string(), "joining x: EPERM");
        assert!(exec_outcome(vec![]).is_err());
    }
}
