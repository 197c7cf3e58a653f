//! Namespace shapes real engines send, each a valid config that must run
//! as it says: no mount namespace at all (the container shares the
//! runtime's, chroot-style), and a hostname set in a UTS namespace joined
//! by path (pod-style sharing between containers).

use super::namespaces::{expect_joined, host_inode, new_except, NamespaceHolder};
use crate::case::{expect_eq, Checked};
use crate::ctx::Ctx;
use oci_spec::runtime::LinuxNamespaceType;

crate::cases! {
    Namespaces: {
        a_config_without_a_mount_namespace_runs =>
            [LINUX_NAMESPACES_INHERIT, RUNTIME_LIFECYCLE_CREATE_ENV],
        hostname_is_set_in_a_joined_uts_namespace => [CONFIG_HOSTNAME, LINUX_NAMESPACES_JOIN],
        sysctls_are_set_in_joined_namespaces => [LINUX_SYSCTL, LINUX_NAMESPACES_JOIN],
    }
}

/// A pod's containers share the sandbox's network and IPC namespaces,
/// joined by path, and may carry sysctls of those namespaces: they are
/// set there (runc allows any namespace but the host's). Found by the
/// generated configs: litmus-runtime refused them as "needs a new
/// namespace".
fn sysctls_are_set_in_joined_namespaces(cx: &mut Ctx) -> Checked {
    use nix::sched::CloneFlags;
    let net = NamespaceHolder::new(CloneFlags::CLONE_NEWNET, "net")?;
    let ipc = NamespaceHolder::new(CloneFlags::CLONE_NEWIPC, "ipc")?;
    let mut spec = cx.spec(&["sysctl", "net.ipv4.ip_forward", "sysctl", "kernel.shmmni", "report"]);
    let (net_path, ipc_path) = (net.path(), ipc.path());
    new_except(
        &mut spec,
        &[
            (LinuxNamespaceType::Network, Some(&net_path)),
            (LinuxNamespaceType::Ipc, Some(&ipc_path)),
        ],
    );
    if let Some(linux) = spec.linux_mut() {
        linux.set_sysctl(Some(
            [
                ("net.ipv4.ip_forward".to_string(), "1".to_string()),
                ("kernel.shmmni".to_string(), "2345".to_string()),
            ]
            .into(),
        ));
    }
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    expect_joined(report, "net", &net)?;
    for (key, value) in [("net.ipv4.ip_forward", "1"), ("kernel.shmmni", "2345")] {
        let seen = run.lines.iter().find_map(|l| match l {
            litmus_probe::ProbeLine::Sysctl { key: k, value } if k == key => value.clone(),
            _ => None,
        });
        expect_eq(
            &format!("{key} in the joined namespace"),
            Some(value.to_string()),
            seen.map(|v| v.trim().to_string()),
        )?;
    }
    Ok(())
}

/// config-linux.md: a namespace type not listed is inherited from the
/// runtime, mount included. Without a mount namespace the rootfs cannot be
/// pivoted to, so the process is chrooted into it (runc does the same);
/// masking paths and a read-only root need a mount namespace of their
/// own, so this config asks for neither. The container must run, in the
/// caller's mount namespace, and leave no mount behind on delete (the leak
/// check after the case looks for mounts under the bundle).
fn a_config_without_a_mount_namespace_runs(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    new_except(&mut spec, &[(LinuxNamespaceType::Mount, None)]);
    if let Some(linux) = spec.linux_mut() {
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
    }
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    expect_eq(
        "mnt namespace inode (the caller's: not listed, so inherited)",
        host_inode("mnt"),
        report.namespaces.get("mnt").copied(),
    )?;
    expect_eq("hostname", "litmus", report.hostname.as_str())
}

/// A pod's containers share one UTS namespace, joined by path, and the
/// engine still sends the pod's hostname: it is set in that namespace
/// (runc and crun do); config.md: hostname is what processes in the
/// container see.
fn hostname_is_set_in_a_joined_uts_namespace(cx: &mut Ctx) -> Checked {
    let holder = NamespaceHolder::new(nix::sched::CloneFlags::CLONE_NEWUTS, "uts")?;
    let mut spec = cx.spec(&["report"]);
    new_except(&mut spec, &[(LinuxNamespaceType::Uts, Some(&holder.path()))]);
    spec.set_hostname(Some("litmus-pod".into()));
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    expect_joined(report, "uts", &holder)?;
    expect_eq("hostname in the joined namespace", "litmus-pod", report.hostname.as_str())
}
