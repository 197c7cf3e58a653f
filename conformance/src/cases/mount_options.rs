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
        nosymfollow_and_symfollow_apply => [CONFIG_MOUNTS_NOSYMFOLLOW],
        remount_changes_a_mount_made_before => [CONFIG_MOUNTS_LINUX_OPTIONS],
        recursive_options_reach_every_submount => [CONFIG_MOUNTS_RECURSIVE_OPTIONS],
    }
}

/// A skip unless the host kernel is at least `needed` (what `feature` came in).
fn kernel_at_least(needed: (u32, u32), feature: &str) -> Checked {
    let kernel = crate::realworld::Target::host_kernel();
    if kernel < needed {
        return Err(Verdict::Skip(format!(
            "{feature} came in Linux {}.{}; this kernel is {}.{}",
            needed.0, needed.1, kernel.0, kernel.1
        )));
    }
    Ok(())
}

/// The per-mount flags whose `r` form (`rro`, `rnodev`...) is a recursive
/// option, applied with mount_setattr(2).
const FLAG_OPTIONS: &[&str] = &[
    "ro",
    "rw",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "symfollow",
    "nosymfollow",
];

/// Whether `option` is a recursive option that this kernel cannot apply
/// (mount_setattr came in Linux 5.12). features.md lets a runtime list
/// options the host does not support, so a case trying every listed
/// option leaves these out on older kernels.
pub(super) fn beyond_this_kernel(option: &str) -> bool {
    is_recursive(option) && kernel_at_least((5, 12), "mount_setattr").is_err()
}

fn is_recursive(option: &str) -> bool {
    option.strip_prefix('r').is_some_and(|flag| FLAG_OPTIONS.contains(&flag))
}

/// `remount`: a second entry for a destination the config mounted
/// before changes that mount's options (here to read-only and noexec)
/// instead of stacking a new one.
fn remount_changes_a_mount_made_before(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    add_mounts(
        &mut spec,
        vec![
            tmpfs("/litmus/remounted", &["nosuid"]),
            tmpfs("/litmus/remounted", &["remount", "ro", "noexec"]),
        ],
    );
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    let stacked = report.mounts.iter().filter(|m| m.mount_point == "/litmus/remounted").count();
    expect(
        stacked == 1,
        "one mount at /litmus/remounted (remounted, not stacked)",
        format!("{stacked}"),
    )?;
    let mount = report.mount_at("/litmus/remounted").expect("counted above");
    expect(
        mount.has_option("ro") && mount.has_option("noexec"),
        "/litmus/remounted ro and noexec after the remount",
        format!("options {:?}", mount.options),
    )
}

/// nosymfollow (Linux 5.10) shows in mountinfo; symfollow after it undoes it.
fn nosymfollow_and_symfollow_apply(cx: &mut Ctx) -> Checked {
    kernel_at_least((5, 10), "nosymfollow")?;
    let mut spec = cx.spec(&["report"]);
    add_mounts(
        &mut spec,
        vec![
            tmpfs("/litmus/nosym", &["nosymfollow"]),
            tmpfs("/litmus/sym", &["nosymfollow", "symfollow"]),
        ],
    );
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    for (path, wanted) in [("/litmus/nosym", true), ("/litmus/sym", false)] {
        let mount = report
            .mount_at(path)
            .ok_or_else(|| crate::case::fail(format!("a tmpfs at {path}"), "no such mount"))?;
        expect(
            mount.has_option("nosymfollow") == wanted,
            format!("{path} {}nosymfollow", if wanted { "" } else { "not " }),
            format!("options {:?}", mount.options),
        )?;
    }
    Ok(())
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
    let wrong = option_sets_wrong(cx, OPTION_MOUNTS, |options| tmpfs(MOUNTED_AT, options), &[])?;
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

/// Where [`option_sets_wrong`] mounts.
const MOUNTED_AT: &str = "/litmus/options";

/// Each option set in a container of its own (the mount `mount_for`
/// makes at [`MOUNTED_AT`]), so that a runtime that refuses one set is
/// told which, and the others are still seen. Checks the mount and each
/// of `submounts` (paths under it); returns what was wrong, per set.
fn option_sets_wrong(
    cx: &mut Ctx,
    sets: &[OptionMount],
    mount_for: impl Fn(&[&str]) -> oci_spec::runtime::Mount,
    submounts: &[&str],
) -> Result<Vec<String>, Verdict> {
    let mut wrong = Vec::new();
    for (options, shown, absent) in sets {
        let mut spec = cx.spec(&["report"]);
        add_mounts(&mut spec, vec![mount_for(options)]);
        let run = match cx.run_probe(&spec) {
            Ok(run) => run,
            Err(Verdict::Fail { seen, .. }) => {
                wrong.push(format!("{options:?}: the container did not run ({seen})"));
                continue;
            }
            Err(skip) => return Err(skip),
        };
        let report = run.report()?;
        let paths = std::iter::once(MOUNTED_AT.to_string())
            .chain(submounts.iter().map(|s| format!("{MOUNTED_AT}/{s}")));
        let mut set_wrong = Vec::new();
        for path in paths {
            let Some(mount) = report.mount_at(&path) else {
                set_wrong.push(format!("no mount at {path}"));
                continue;
            };
            let missing = shown.iter().filter(|o| !mount.has_option(o));
            let extra = absent.iter().filter(|o| mount.has_option(o));
            let problems: Vec<String> = missing
                .map(|o| format!("no {o}"))
                .chain(extra.map(|o| format!("{o} though not asked")))
                .collect();
            if !problems.is_empty() {
                set_wrong.push(format!(
                    "at {path}: {} (options {:?}, super options {:?})",
                    problems.join(", "),
                    mount.options,
                    mount.super_options
                ));
            }
        }
        if !set_wrong.is_empty() {
            wrong.push(format!("{options:?} {}", set_wrong.join(", ")));
        }
    }
    Ok(wrong)
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

/// A host tmpfs mounted for the case, lazily unmounted when dropped.
struct HostMount(std::path::PathBuf);

impl HostMount {
    /// A tmpfs at `at` whose mount (not its superblock: a remount of the
    /// bind) carries `flags`, as an r* option could clear them.
    fn tmpfs(at: std::path::PathBuf, flags: nix::mount::MsFlags) -> Result<HostMount, Verdict> {
        use nix::mount::{mount, MsFlags};
        std::fs::create_dir_all(&at)?;
        let skip = |e: nix::Error| {
            Verdict::Skip(format!("cannot mount a tmpfs on the host for the case: {e}"))
        };
        mount(Some("tmpfs"), &at, Some("tmpfs"), MsFlags::empty(), Some("size=64k"))
            .map_err(skip)?;
        let mounted = HostMount(at);
        if !flags.is_empty() {
            let remount = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags;
            mount(None::<&str>, &mounted.0, None::<&str>, remount, None::<&str>).map_err(skip)?;
        }
        Ok(mounted)
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Options that set a flag, checked on the bind mount and its `plain`
/// submount (no flags of its own).
const RECURSIVE_SETTING: &[OptionMount] = &[
    (&["rbind", "rro"], &["ro"], &[]),
    (&["rbind", "rnosuid", "rnodev", "rnoexec"], &["nosuid", "nodev", "noexec"], &[]),
    (&["rbind", "rnoatime", "rnodiratime"], &["noatime", "nodiratime"], &["relatime"]),
    (&["rbind", "rnosymfollow"], &["nosymfollow"], &[]),
];

/// Options that clear a flag, checked on the bind mount and its `flagged`
/// submount (ro, nosuid, nodev, noexec, noatime, nodiratime, nosymfollow
/// on the host). ratime, like mount(8)'s atime, gives the default relatime.
const RECURSIVE_CLEARING: &[OptionMount] = &[
    (&["rbind", "rrw"], &["rw"], &["ro"]),
    (&["rbind", "rsuid", "rdev", "rexec"], &[], &["nosuid", "nodev", "noexec"]),
    (&["rbind", "rdiratime", "rsymfollow"], &[], &["nodiratime", "nosymfollow"]),
    (&["rbind", "rrelatime"], &["relatime"], &["noatime"]),
    (&["rbind", "ratime"], &["relatime"], &["noatime"]),
    (&["rbind", "rstrictatime"], &[], &["noatime", "relatime"]),
];

/// rbind mounts of a host directory with two tmpfs submounts, one plain,
/// one with every flag an r* option can clear, each bind with recursive
/// options (Linux 5.12, mount_setattr AT_RECURSIVE): each option shows on
/// the bind mount and on the submount. A runtime applying them with
/// mount(2) alone reaches only the top mount.
fn recursive_options_reach_every_submount(cx: &mut Ctx) -> Checked {
    use nix::mount::MsFlags;
    kernel_at_least((5, 12), "mount_setattr (the recursive options)")?;
    let source = cx.work().join("recursive-source");
    let _plain = HostMount::tmpfs(source.join("plain"), MsFlags::empty())?;
    let every_flag = MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC
        | MsFlags::MS_NOATIME
        | MsFlags::MS_NODIRATIME
        | MsFlags::from_bits_retain(256); // MS_NOSYMFOLLOW
    let _flagged = HostMount::tmpfs(source.join("flagged"), every_flag)?;
    let bind = |options: &[&str]| super::filesystem::bind(MOUNTED_AT, &source, options);
    let mut wrong = option_sets_wrong(cx, RECURSIVE_SETTING, bind, &["plain"])?;
    wrong.extend(option_sets_wrong(cx, RECURSIVE_CLEARING, bind, &["flagged"])?);
    let sets = RECURSIVE_SETTING.len() + RECURSIVE_CLEARING.len();
    expect(
        wrong.is_empty(),
        "each recursive option on the bind mount and its submount",
        format!("{} of {sets} option sets wrong: {}", wrong.len(), wrong.join("; ")),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn recursive_options_are_the_r_forms_of_per_mount_flags() {
        for option in ["rro", "rrw", "rnodev", "ratime", "rnostrictatime", "rnosymfollow"] {
            assert!(super::is_recursive(option), "{option}");
        }
        for option in ["ro", "rbind", "rprivate", "rshared", "relatime", "remount", "rdma"] {
            assert!(!super::is_recursive(option), "{option}");
        }
    }
}
