//! Namespace shapes real engines send, each a valid config that must run
//! as it says: no mount namespace at all (the container shares the
//! runtime's, chroot-style), and a hostname set in a UTS namespace joined
//! by path (pod-style sharing between containers).

use super::namespaces::{host_inode, namespace, set_namespaces, NamespaceHolder, NEW};
use crate::case::{expect_eq, Area, Case, Checked, Ctx};
use oci_spec::runtime::LinuxNamespaceType;

pub const CASES: &[Case] = &[
    Case {
        name: "a_config_without_a_mount_namespace_runs",
        area: Area::Namespaces,
        requirements: &["linux.namespaces.inherit", "runtime.lifecycle.create-env"],
        run: a_config_without_a_mount_namespace_runs,
    },
    Case {
        name: "hostname_is_set_in_a_joined_uts_namespace",
        area: Area::Namespaces,
        requirements: &["config.hostname", "linux.namespaces.join"],
        run: hostname_is_set_in_a_joined_uts_namespace,
    },
];

/// config-linux.md: a namespace type not listed is inherited from the
/// runtime, mount included. Without a mount namespace the rootfs cannot be
/// pivoted to, so the process is chrooted into it (runc does the same);
/// masking paths and a read-only root need a mount namespace of their
/// own, so this config asks for neither. The container must run, in the
/// caller's mount namespace, and leave no mount behind on delete (the leak
/// check after the case looks for mounts under the bundle).
fn a_config_without_a_mount_namespace_runs(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    let namespaces = NEW
        .iter()
        .filter(|t| **t != LinuxNamespaceType::Mount)
        .map(|t| namespace(*t, None))
        .collect();
    set_namespaces(&mut spec, namespaces);
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
    let mut namespaces: Vec<_> = NEW
        .iter()
        .filter(|t| **t != LinuxNamespaceType::Uts)
        .map(|t| namespace(*t, None))
        .collect();
    namespaces.push(namespace(LinuxNamespaceType::Uts, Some(&holder.path())));
    set_namespaces(&mut spec, namespaces);
    spec.set_hostname(Some("litmus-pod".into()));
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    expect_eq(
        "uts namespace inode (the joined one)",
        Some(holder.inode()?),
        report.namespaces.get("uts").copied(),
    )?;
    expect_eq(
        "hostname in the joined namespace",
        "litmus-pod",
        report.hostname.as_str(),
    )
}
