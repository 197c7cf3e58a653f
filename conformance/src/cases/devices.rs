//! config-linux.md "devices" and "default devices", runtime-linux.md /dev links.

use crate::case::{expect, expect_eq, Checked};
use crate::ctx::Ctx;
use oci_spec::runtime::{LinuxDeviceBuilder, LinuxDeviceType, Spec};

crate::cases! {
    Devices: {
        a_file_in_the_way_of_a_device_is_an_error =>
            [LINUX_DEVICES_EXISTING_MISMATCH, RUNTIME_ERRORS_NO_CHANGE],
        console_is_the_terminal_when_there_is_one => [LINUX_DEVICES_CONSOLE],
        default_devices_exist => [LINUX_DEVICES_DEFAULTS],
        default_devices_exist_in_a_user_namespace => [LINUX_DEVICES_DEFAULTS],
        dev_symlinks_exist => [RUNTIME_LINUX_DEV_SYMLINKS],
        configured_devices_are_created => [LINUX_DEVICES_CREATE],
    }
}

const DEFAULTS: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

fn default_devices_exist(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&default_device_probe_args());
    check_default_devices(cx, &spec)
}

/// In a new user namespace mknod is refused, so the runtime must get the
/// default devices another way (bind-mounting the host's): a runtime that
/// shrugs off the EPERM leaves the container without /dev/null.
fn default_devices_exist_in_a_user_namespace(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&default_device_probe_args());
    super::namespaces::in_a_user_namespace(&mut spec)?;
    check_default_devices(cx, &spec)
}

fn default_device_probe_args() -> Vec<&'static str> {
    let mut args = Vec::new();
    for (path, _, _) in DEFAULTS {
        args.extend(["path", *path]);
    }
    args.extend(["path", "/dev/ptmx"]);
    args
}

/// Every default device is a char device with its numbers, and usable.
fn check_default_devices(cx: &mut Ctx, spec: &Spec) -> Checked {
    let run = cx.run_probe(spec)?;
    for (path, major, minor) in DEFAULTS {
        let seen = run.path(path)?;
        expect_eq(
            &format!("{path} type and numbers"),
            (Some("char"), Some(*major), Some(*minor)),
            (seen.file_type.as_deref(), seen.major, seen.minor),
        )?;
        // /dev/tty only opens with a controlling terminal, which the probe lacks.
        if *path != "/dev/tty" {
            expect_eq(&format!("{path} opens"), true, seen.readable)?;
        }
    }
    let ptmx = run.path("/dev/ptmx")?;
    expect_eq("/dev/ptmx exists", true, ptmx.exists)
}

fn dev_symlinks_exist(cx: &mut Ctx) -> Checked {
    let links = [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ];
    let mut args = Vec::new();
    for (path, _) in links {
        args.extend(["path", path]);
    }
    let spec = cx.spec(&args);
    let run = cx.run_probe(&spec)?;
    for (path, target) in links {
        expect_eq(
            &format!("{path} symlink target"),
            Some(target),
            run.path(path)?.symlink_target.as_deref(),
        )?;
    }
    Ok(())
}

/// A device of `linux.devices` with /dev/null's numbers (1:3).
fn null_device(path: &str) -> LinuxDeviceBuilder {
    LinuxDeviceBuilder::default().path(path).typ(LinuxDeviceType::C).major(1).minor(3)
}

fn configured_devices_are_created(cx: &mut Ctx) -> Checked {
    let device =
        null_device("/dev/litmus-null").file_mode(0o640u32).uid(1000u32).gid(1001u32).build()?;
    let mut spec = cx.spec(&["path", "/dev/litmus-null"]);
    spec.linux_mut().as_mut().expect("fixture linux").set_devices(Some(vec![device]));
    let run = cx.run_probe(&spec)?;
    let seen = run.path("/dev/litmus-null")?;
    expect_eq(
        "type, major, minor",
        (Some("char"), Some(1), Some(3)),
        (seen.file_type.as_deref(), seen.major, seen.minor),
    )?;
    expect_eq("mode", Some(0o640), seen.mode)?;
    expect_eq("owner", (Some(1000), Some(1001)), (seen.uid, seen.gid))
}

/// Unix98 pty slaves have majors 136 to 143 (devices.txt).
const PTY_SLAVE_MAJORS: std::ops::RangeInclusive<u64> = 136..=143;

/// /dev/console must be the pty the process got (a bind mount of the
/// slave), not the host's console and not missing.
fn console_is_the_terminal_when_there_is_one(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["tty", "path", "/dev/console"]);
    let run = cx.run_probe_on_terminal(&spec)?;
    let console = run.path("/dev/console")?;
    let (stdio, _, _) = run.tty()?;
    expect(
        console.file_type.as_deref() == Some("char")
            && console.major.is_some_and(|m| PTY_SLAVE_MAJORS.contains(&m)),
        "/dev/console a pty slave (char, major 136-143)",
        format!(
            "{:?} {:?}:{:?} (stdio is {:?})",
            console.file_type, console.major, console.minor, stdio
        ),
    )?;
    let stdio_minor =
        stdio.first().and_then(|t| t.strip_prefix("/dev/pts/")).and_then(|n| n.parse::<u64>().ok());
    expect_eq("/dev/console's pty number = the process's /dev/pts/N", stdio_minor, console.minor)
}

/// A regular file where linux.devices wants /dev/null's numbers: the
/// runtime must refuse (not silently replace the image's file), and the
/// refusal must leave no container behind.
fn a_file_in_the_way_of_a_device_is_an_error(cx: &mut Ctx) -> Checked {
    let device = null_device("/litmus-device").build()?;
    let mut spec = cx.spec(&["report"]);
    if let Some(linux) = spec.linux_mut() {
        linux.set_devices(Some(vec![device]));
    }
    let bundle = cx.bundle(&spec)?;
    let in_the_way = cx.bundle_ref(bundle).rootfs().join("litmus-device");
    std::fs::write(&in_the_way, "an image's file\n")?;
    let id = cx.new_id();
    cx.create_refused(&id, bundle, "create to fail: a regular file is at the device's path")?;
    expect_eq(
        "the image's file, untouched",
        "an image's file\n".to_string(),
        std::fs::read_to_string(&in_the_way).unwrap_or_default(),
    )
}
