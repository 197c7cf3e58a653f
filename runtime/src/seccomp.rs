//! `linux.seccomp`: the config's filter compiled with libseccomp.
//!
//! The filter is compiled during `create` (so a bad architecture or action
//! fails create with a clear error) and loaded as late as the process's
//! privileges allow: right before exec when noNewPrivileges is set, or
//! before capabilities are dropped otherwise (loading a filter without
//! no_new_privs needs CAP_SYS_ADMIN), as runc does.
//!
//! `SCMP_ACT_NOTIFY` rules hand the listener fd to the agent at
//! `listenerPath`, with the container process state (config-linux.md,
//! "seccomp"). The socket is connected before pivot_root, while the path is
//! still reachable, and used right after the filter is loaded.

use crate::fault::Fault;
use anyhow::{bail, Context, Result};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

/// A compiled filter, plus the agent connection if it has notify rules.
pub struct Filter {
    context: ScmpFilterContext,
    agent: Option<Agent>,
}

struct Agent {
    socket: UnixStream,
    metadata: Option<String>,
}

/// Compiles `seccomp`. Unknown syscall names are skipped with a warning:
/// a profile written for a newer kernel must still work on this one.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter> {
    let default = action(seccomp.default_action(), seccomp.default_errno_ret())
        .context("linux.seccomp.defaultAction")?;
    let mut context = ScmpFilterContext::new(default).context("linux.seccomp: seccomp_init")?;
    for arch in seccomp.architectures().iter().flatten() {
        let name = serde_json::to_value(arch)?;
        let name = name.as_str().unwrap_or_default();
        let arch: ScmpArch =
            name.parse().with_context(|| format!("linux.seccomp.architectures: unknown {name}"))?;
        context
            .add_arch(arch)
            .with_context(|| format!("linux.seccomp.architectures: adding {name}"))?;
    }
    for flag in seccomp.flags().iter().flatten() {
        set_flag(&mut context, *flag)?;
    }
    // The kernel decides what no_new_privs is; libseccomp must not set it.
    context.set_ctl_nnp(false)?;

    for (index, rule) in seccomp.syscalls().iter().flatten().enumerate() {
        add_rule(&mut context, default, rule)
            .with_context(|| format!("linux.seccomp.syscalls[{index}]"))?;
    }
    Ok(Filter { context, agent: None })
}

impl Filter {
    /// Whether any rule (or the default) notifies an agent.
    pub fn connect_agent(&mut self, seccomp: &LinuxSeccomp) -> Result<()> {
        if !uses_notify(seccomp) {
            return Ok(());
        }
        let path = seccomp
            .listener_path()
            .as_ref()
            .context("linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY")?;
        let socket = match UnixStream::connect(path) {
            Err(_) if Fault::AgentUnreachableIgnored.active() => return Ok(()),
            connected => connected.with_context(|| {
                format!("linux.seccomp.listenerPath: connecting to {}", path.display())
            })?,
        };
        self.agent = Some(Agent { socket, metadata: seccomp.listener_metadata().clone() });
        Ok(())
    }

    /// Whether an agent is connected, waiting for the listener.
    pub fn has_agent(&self) -> bool {
        self.agent.is_some()
    }

    /// Loads the filter into this process; with notify rules, sends the
    /// listener fd and `state` (the container's state JSON) to the agent.
    pub fn load(self, state: &str) -> Result<()> {
        self.context.load().context("linux.seccomp: loading the filter")?;
        if let Some(agent) = &self.agent {
            let fd =
                self.context.get_notify_fd().context("linux.seccomp: getting the notify fd")?;
            send_to_agent(agent, fd, state)?;
            let _ = nix::unistd::close(fd);
        }
        Ok(())
    }
}

pub fn uses_notify(seccomp: &LinuxSeccomp) -> bool {
    seccomp.default_action() == LinuxSeccompAction::ScmpActNotify
        || seccomp
            .syscalls()
            .iter()
            .flatten()
            .any(|s| s.action() == LinuxSeccompAction::ScmpActNotify)
}

/// The spec's errno default: EPERM when errnoRet is absent. An errnoRet
/// for an action that returns none is an error, as the spec requires
/// (since 1.1), not silently dropped.
fn action(action: LinuxSeccompAction, errno_ret: Option<u32>) -> Result<ScmpAction> {
    let takes_errno =
        matches!(action, LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace);
    if let (Some(ret), false, false) = (errno_ret, takes_errno, Fault::ErrnoRetOnAnyAction.active())
    {
        bail!("errnoRet {ret} is given for {action:?}, which returns no errno");
    }
    let ret = errno_ret.unwrap_or(libc::EPERM as u32);
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(
            i32::try_from(ret)
                .ok()
                .filter(|r| *r <= u16::MAX as i32)
                .with_context(|| format!("errnoRet {ret} is out of range"))?,
        ),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(
            u16::try_from(ret).with_context(|| format!("errnoRet {ret} is out of range"))?,
        ),
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    })
}

fn set_flag(context: &mut ScmpFilterContext, flag: LinuxSeccompFilterFlag) -> Result<()> {
    let result = match flag {
        LinuxSeccompFilterFlag::SeccompFilterFlagLog => context.set_ctl_log(true),
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync => context.set_ctl_tsync(true),
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => context.set_ctl_ssb(true),
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => context.set_ctl_waitkill(true),
    };
    result
        .map(|_| ())
        .with_context(|| format!("linux.seccomp.flags: {flag} is not supported by this libseccomp"))
}

fn add_rule(
    context: &mut ScmpFilterContext,
    default: ScmpAction,
    rule: &LinuxSyscall,
) -> Result<()> {
    let action = action(rule.action(), rule.errno_ret()).context("action")?;
    // libseccomp refuses a rule that repeats the default action; it would
    // change nothing anyway.
    if action == default {
        return Ok(());
    }
    if rule.names().is_empty() {
        bail!("names: must contain at least one syscall");
    }
    let conditions = rule.args().clone().unwrap_or_default();
    for name in rule.names() {
        let Ok(syscall) = ScmpSyscall::from_name(name) else {
            tracing::warn!("linux.seccomp: unknown syscall {name:?} skipped");
            continue;
        };
        for group in condition_groups(&conditions)? {
            context
                .add_rule_conditional(action, syscall, &group)
                .with_context(|| format!("adding the rule for {name}"))?;
        }
    }
    Ok(())
}

/// A rule's conditions are ANDed, but libseccomp allows one condition per
/// argument in a rule; when an argument is repeated, each condition becomes
/// its own rule (an OR), as runc and crun do.
fn condition_groups(args: &[LinuxSeccompArg]) -> Result<Vec<Vec<ScmpArgCompare>>> {
    let compares = args.iter().map(compare).collect::<Result<Vec<_>>>()?;
    let mut indexes: Vec<usize> = args.iter().map(|a| a.index()).collect();
    indexes.sort_unstable();
    let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
    Ok(if repeated { compares.into_iter().map(|c| vec![c]).collect() } else { vec![compares] })
}

fn compare(arg: &LinuxSeccompArg) -> Result<ScmpArgCompare> {
    let index = u32::try_from(arg.index())
        .ok()
        .filter(|i| *i < 6)
        .with_context(|| format!("args: index {} is not a syscall argument (0-5)", arg.index()))?;
    let op = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // The spec's value is the mask and valueTwo the value to compare.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            return Ok(ScmpArgCompare::new(
                index,
                ScmpCompareOp::MaskedEqual(arg.value()),
                arg.value_two().unwrap_or(0),
            ))
        }
    };
    Ok(ScmpArgCompare::new(index, op, arg.value()))
}

/// The message config-linux.md defines for the agent: the process state,
/// with the listener fd passed as SCM_RIGHTS ancillary data.
fn send_to_agent(agent: &Agent, fd: RawFd, state: &str) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let state: serde_json::Value = serde_json::from_str(state).unwrap_or_default();
    let message = serde_json::json!({
        "ociVersion": state["ociVersion"],
        "fds": ["seccompFd"],
        "pid": nix::unistd::getpid().as_raw(),
        "metadata": agent.metadata.clone().unwrap_or_default(),
        "state": state,
    })
    .to_string();
    let iov = [std::io::IoSlice::new(message.as_bytes())];
    let fds = [fd];
    sendmsg::<()>(
        agent.socket.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context("linux.seccomp: sending the listener fd to the agent")?;
    Ok(())
}

/// For `features`: what this build can apply.
pub fn known_actions() -> &'static [&'static str] {
    &[
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_LOG",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_NOTIFY",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seccomp(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_errno_for_an_action_without_one_is_refused() {
        let err = action(LinuxSeccompAction::ScmpActAllow, Some(5)).unwrap_err().to_string();
        assert!(err.contains("errnoRet 5") && err.contains("ScmpActAllow"), "{err}");
        assert!(action(LinuxSeccompAction::ScmpActErrno, Some(5)).is_ok());
        assert!(action(LinuxSeccompAction::ScmpActTrace, Some(5)).is_ok());
        assert!(action(LinuxSeccompAction::ScmpActAllow, None).is_ok());
    }

    #[test]
    fn compiles_a_profile_with_every_operator() {
        let profile = seccomp(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
            "syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":18,"args":[
              {"index":0,"value":1,"op":"SCMP_CMP_NE"},{"index":1,"value":2,"op":"SCMP_CMP_LT"},
              {"index":2,"value":3,"op":"SCMP_CMP_LE"},{"index":3,"value":4,"op":"SCMP_CMP_EQ"},
              {"index":4,"value":5,"op":"SCMP_CMP_GE"},{"index":5,"value":6,"op":"SCMP_CMP_GT"}]},
             {"names":["kill"],"action":"SCMP_ACT_KILL_PROCESS","args":[
              {"index":1,"value":255,"valueTwo":9,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#,
        );
        compile(&profile).unwrap();
    }

    #[test]
    fn unknown_syscall_names_are_skipped() {
        let profile = seccomp(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
              {"names":["no_such_syscall_litmus","getpgid"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        compile(&profile).unwrap();
    }

    #[test]
    fn bad_argument_index_names_the_rule() {
        let profile = seccomp(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
              {"names":["getpgid"],"action":"SCMP_ACT_ERRNO","args":[{"index":7,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let error = format!("{:#}", compile(&profile).err().unwrap());
        assert!(error.contains("linux.seccomp.syscalls[0]"), "{error}");
        assert!(error.contains("index 7"), "{error}");
    }

    #[test]
    fn repeated_argument_indexes_become_separate_rules() {
        let args: Vec<LinuxSeccompArg> = serde_json::from_str(
            r#"[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]"#,
        )
        .unwrap();
        assert_eq!(condition_groups(&args).unwrap().len(), 2);
        let args: Vec<LinuxSeccompArg> = serde_json::from_str(
            r#"[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":2,"op":"SCMP_CMP_EQ"}]"#,
        )
        .unwrap();
        assert_eq!(condition_groups(&args).unwrap().len(), 1);
    }

    #[test]
    fn errno_defaults_to_eperm() {
        assert_eq!(
            action(LinuxSeccompAction::ScmpActErrno, None).unwrap(),
            ScmpAction::Errno(libc::EPERM)
        );
        assert!(action(LinuxSeccompAction::ScmpActErrno, Some(70000)).is_err());
    }

    #[test]
    fn notify_needs_a_listener_path() {
        let profile = seccomp(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(uses_notify(&profile));
        let mut filter = compile(&profile).unwrap();
        let error = format!("{:#}", filter.connect_agent(&profile).err().unwrap());
        assert!(error.contains("listenerPath"), "{error}");
    }
}
