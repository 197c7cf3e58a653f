//! config.md "Linux mount options": every MUST option string of the table
//! has its mount(8) meaning, seen in the container's mountinfo. Each mount
//! is a tmpfs, whose own option parser refuses what it does not know, so an
//! option a runtime passes on as filesystem data instead of a flag fails
//! the mount rather than passing unnoticed.

use super::filesystem::{add_mounts, tmpfs};
use crate::case::{expect, Checked, Verdict};
use crate::ctx::Ctx;
use oci_spec::runtime::MountBuilder;

crate::cases! {
    Filesystem: {
        linux_mount_options_have_their_mount8_meaning =>
            [CONFIG_MOUNTS_LINUX_OPTIONS, CONFIG_MOUNTS_OPTIONS],
        propagation_options_set_the_mounts_propagation => [CONFIG_MOUNTS_PROPAGATION],
    }
}

/// Options for a tmpfs, what mountinfo must then show, and what it must
/// not. mount(8) reads options left to right, a later one undoing an
/// earlier opposite; the atime options are the kernel's to combine
/// (noatime wins over relatime), so each is tried alone or with its own
/// opposite. iversion, silent and loud leave no trace in mountinfo: that
/// the mount is made at all (tmpfs refuses them as data) is their check.
type OptionMount = (&'static [&'static str], &'static [&'static str], &'static [&'static str]);
const OPTION_MOUNTS: &[OptionMount] = &[
    (&["defaults"], &["rw"], &["ro"]),
    (&["ro"], &["ro"], &[]),
    (&["ro", "rw"], &["rw"], &["ro"]),
    (&["nosuid"], &["nosuid"], &[]),
    (&["nosuid", "suid"], &[], &["nosuid"]),
    (&["nodev"], &["nodev"], &[]),
    (&["nodev", "dev"], &[], &["nodev"]),
    (&["noexec"], &["noexec"], &[]),
    (&["noexec", "exec"], &[], &["noexec"]),
    (&["sync"], &["sync"], &[]),
    (&["sync", "async"], &[], &["sync"]),
    (&["dirsync"], &["dirsync"], &[]),
    (&["lazytime"], &["lazytime"], &[]),
    (&["lazytime", "nolazytime"], &[], &["lazytime"]),
    (&["iversion"], &[], &[]),
    (&["iversion", "noiversion"], &[], &[]),
    (&["silent"], &[], &[]),
    (&["silent", "loud"], &[], &[]),
    (&["noatime"], &["noatime"], &["relatime"]),
    (&["noatime", "atime"], &["relatime"], &["noatime"]),
    (&["nodiratime"], &["nodiratime"], &[]),
    (&["nodiratime", "diratime"], &[], &["nodiratime"]),
    (&["relatime"], &["relatime"], &["noatime"]),
    (&["relatime", "norelatime"], &["relatime"], &["noatime"]),
    (&["strictatime"], &[], &["relatime", "noatime"]),
    (&["strictatime", "nostrictatime"], &["relatime"], &["noatime"]),
];

/// Each line of the table in a container of its own, so that a runtime
/// that refuses one option is told which, and the others are still seen.
fn linux_mount_options_have_their_mount8_meaning(cx: &mut Ctx) -> Checked {
    let mut wrong = Vec::new();
    for (options, shown, absent) in OPTION_MOUNTS {
        let mut spec = cx.spec(&["report"]);
        add_mounts(&mut spec, vec![tmpfs("/litmus/options", options)]);
        let run = match cx.run_probe(&spec) {
            Ok(run) => run,
            Err(Verdict::Fail { seen, .. }) => {
                wrong.push(format!("{options:?}: the container did not run ({seen})"));
                continue;
            }
            Err(skip) => return Err(skip),
        };
        let report = run.report()?;
        let Some(mount) = report.mount_at("/litmus/options") else {
            wrong.push(format!("{options:?}: no mount at /litmus/options"));
            continue;
        };
        let missing = shown.iter().filter(|o| !mount.has_option(o));
        let extra = absent.iter().filter(|o| mount.has_option(o));
        let problems: Vec<String> = missing
            .map(|o| format!("no {o}"))
            .chain(extra.map(|o| format!("{o} though not asked")))
            .collect();
        if !problems.is_empty() {
            wrong.push(format!(
                "{options:?}: {} (options {:?}, super options {:?})",
                problems.join(", "),
                mount.options,
                mount.super_options
            ));
        }
    }
    expect(
        wrong.is_empty(),
        "every option with its mount(8) meaning",
        format!(
            "{} of {} option sets wrong: {}",
            wrong.len(),
            OPTION_MOUNTS.len(),
            wrong.join("; ")
        ),
    )
}

/// Bind mounts of one host directory, each with propagation options, as
/// mountinfo's optional fields show them.
fn propagation_options_set_the_mounts_propagation(cx: &mut Ctx) -> Checked {
    let source = cx.work().join("propagation-source");
    std::fs::create_dir_all(&source)?;
    // (destination, options, the optional field expected or None for private)
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        ("/litmus/p-shared", &["bind", "shared"], Some("shared:")),
        ("/litmus/p-rshared", &["rbind", "rshared"], Some("shared:")),
        ("/litmus/p-private", &["bind", "shared", "private"], None),
        ("/litmus/p-rprivate", &["rbind", "rshared", "rprivate"], None),
        ("/litmus/p-slave", &["bind", "shared", "slave"], None),
        ("/litmus/p-rslave", &["rbind", "rshared", "rslave"], None),
        ("/litmus/p-unbindable", &["bind", "unbindable"], Some("unbindable")),
        ("/litmus/p-runbindable", &["rbind", "runbindable"], Some("unbindable")),
    ];
    let mut spec = cx.spec(&["report"]);
    let mut mounts = Vec::new();
    for (destination, options, _) in cases {
        mounts.push(
            MountBuilder::default()
                .destination(*destination)
                .typ("bind")
                .source(&source)
                .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
                .build()?,
        );
    }
    add_mounts(&mut spec, mounts);
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    for (destination, options, field) in cases {
        let Some(mount) = report.mount_at(destination) else {
            return Err(crate::case::fail(
                format!("a bind mount at {destination}"),
                "no such mount",
            ));
        };
        let seen = format!("propagation {:?}", mount.propagation);
        match field {
            Some(prefix) => expect(
                mount.propagation.iter().any(|p| p.starts_with(prefix)),
                format!("{prefix} on {destination} (asked: {options:?})"),
                seen,
            )?,
            // A slave of a peer group only it was in has no master left:
            // private, as mountinfo shows it.
            None => expect(
                mount.propagation.iter().all(|p| !p.starts_with("shared:")),
                format!("{destination} not shared (asked: {options:?})"),
                seen,
            )?,
        }
    }
    Ok(())
}
