//! config.md "root" and "mounts", config-linux.md masked and read-only paths.

use crate::case::{expect, expect_eq, Checked};
use crate::ctx::Ctx;
use oci_spec::runtime::{Mount, MountBuilder, Spec};

crate::cases! {
    Filesystem: {
        relative_mount_destinations_are_taken_from_root => [CONFIG_MOUNTS_DESTINATION_ABSOLUTE],
        default_filesystems_are_available => [LINUX_DEFAULT_FILESYSTEMS],
        rootfs_propagation_is_applied => [LINUX_ROOTFS_PROPAGATION],
        delete_keeps_what_the_container_did_not_create => [RUNTIME_DELETE_FOREIGN_RESOURCES],
        readonly_root_is_readonly => [CONFIG_ROOT_READONLY, CONFIG_ROOT_PATH],
        mounts_follow_the_listed_order => [CONFIG_MOUNTS_ORDER, CONFIG_MOUNTS_DESTINATION_CREATED],
        mount_options_are_applied => [CONFIG_MOUNTS_OPTIONS],
        bind_mounts_show_the_source => [CONFIG_MOUNTS_BIND],
        mount_label_is_applied => [LINUX_MOUNT_LABEL],
        masked_paths_cannot_be_read => [LINUX_MASKED_PATHS],
        readonly_paths_cannot_be_written => [LINUX_READONLY_PATHS],
    }
}

pub(super) fn tmpfs(destination: &str, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(destination)
        .typ("tmpfs")
        .source("tmpfs")
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .expect("static mount fields")
}

/// A bind mount of the host path `source` at `destination`.
pub(super) fn bind(destination: &str, source: &std::path::Path, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(destination)
        .typ("bind")
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .expect("static mount fields")
}

pub(super) fn add_mounts(spec: &mut Spec, extra: Vec<Mount>) {
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.extend(extra);
    spec.set_mounts(Some(mounts));
}

/// The tmpfs mounts (/dev and /dev/shm in the default config) carry the
/// SELinux context given in linux.mountLabel. Without it they would have
/// the policy's default label for tmpfs, which the suite's labels are not.
fn mount_label_is_applied(cx: &mut Ctx) -> Checked {
    let labels = crate::selinux::usable_labels()?;
    let tmpfs_mounts = ["/dev", "/dev/shm"];
    let mut args = Vec::new();
    for path in tmpfs_mounts {
        args.extend(["path", path]);
    }
    let mut spec = cx.spec(&args);
    if let Some(linux) = spec.linux_mut() {
        linux.set_mount_label(Some(labels.mount.to_string()));
    }
    let run = cx.run_probe(&spec)?;
    for path in tmpfs_mounts {
        expect_eq(
            &format!("the SELinux label of {path}"),
            Some(labels.mount),
            run.path(path)?.selinux_label.as_deref(),
        )?;
    }
    Ok(())
}

fn readonly_root_is_readonly(cx: &mut Ctx) -> Checked {
    for readonly in [true, false] {
        let mut spec = cx.spec(&["report", "path", "/etc"]);
        spec.root_mut().as_mut().expect("fixture root").set_readonly(Some(readonly));
        let run = cx.run_probe(&spec)?;
        let root = run.report()?.mount_at("/").cloned();
        expect(root.is_some(), "a mount at /", "none in mountinfo")?;
        expect_eq(
            &format!("/ read-only with root.readonly={readonly}"),
            readonly,
            root.expect("checked").is_readonly(),
        )?;
        expect_eq(
            &format!("/etc writable with root.readonly={readonly}"),
            !readonly,
            run.path("/etc")?.writable,
        )?;
    }
    Ok(())
}

fn mounts_follow_the_listed_order(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report", "path", "/litmus/outer/inner"]);
    // The inner mount point exists only once the outer tmpfs is mounted,
    // so mounting out of order would hide "inner" under "outer".
    add_mounts(
        &mut spec,
        vec![tmpfs("/litmus/outer", &["size=1m"]), tmpfs("/litmus/outer/inner", &["size=2m"])],
    );
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    let points: Vec<&str> = report
        .mounts
        .iter()
        .map(|m| m.mount_point.as_str())
        .filter(|p| p.starts_with("/litmus/"))
        .collect();
    expect_eq("mount order", vec!["/litmus/outer", "/litmus/outer/inner"], points)?;
    expect_eq("inner mount visible", true, run.path("/litmus/outer/inner")?.exists)
}

fn mount_options_are_applied(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    add_mounts(
        &mut spec,
        vec![tmpfs("/litmus/opts", &["nosuid", "nodev", "noexec", "ro", "size=1m", "mode=700"])],
    );
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    let mount = report.mount_at("/litmus/opts");
    expect(mount.is_some(), "a tmpfs at /litmus/opts", "no such mount")?;
    let mount = mount.expect("checked");
    for option in ["nosuid", "nodev", "noexec", "ro"] {
        expect(
            mount.has_option(option),
            format!("option {option}"),
            format!("options {:?}", mount.options),
        )?;
    }
    expect(
        mount.has_option("mode=700"),
        "filesystem option mode=700",
        format!("super options {:?}", mount.super_options),
    )
}

fn bind_mounts_show_the_source(cx: &mut Ctx) -> Checked {
    let source = cx.work().join("bind-source");
    std::fs::create_dir_all(&source)?;
    std::fs::write(source.join("hello"), "from the host")?;
    let mut spec = cx.spec(&["path", "/litmus/bind/hello"]);
    let bind = MountBuilder::default()
        .destination("/litmus/bind")
        .typ("bind")
        .source(&source)
        .options(vec!["rbind".to_string(), "ro".to_string()])
        .build()?;
    add_mounts(&mut spec, vec![bind]);
    let run = cx.run_probe(&spec)?;
    let file = run.path("/litmus/bind/hello")?;
    expect_eq("content through the bind", Some("from the host"), file.content.as_deref())?;
    expect_eq("writable through a ro bind", false, file.writable)?;
    let host = std::fs::read_to_string(source.join("hello")).unwrap_or_default();
    expect_eq("host file untouched", "from the host", host.as_str())
}

fn masked_paths_cannot_be_read(cx: &mut Ctx) -> Checked {
    // The probe lives outside /bin, so /bin can be masked under it.
    let mut spec = cx.spec(&["path", "/etc/hostname", "path", "/bin", "path", "/litmus-absent"]);
    let linux = spec.linux_mut().as_mut().expect("fixture linux");
    linux.set_masked_paths(Some(vec![
        "/etc/hostname".into(),
        "/bin".into(),
        "/litmus-absent".into(),
    ]));
    let run = cx.run_probe(&spec)?;
    expect_eq("entries of masked /bin", Some(vec![]), run.path("/bin")?.entries.clone())?;
    let file = run.path("/etc/hostname")?;
    expect_eq("content of masked /etc/hostname", Some(""), file.content.as_deref())?;
    expect_eq("a missing masked path stays missing", false, run.path("/litmus-absent")?.exists)
}

fn readonly_paths_cannot_be_written(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["path", "/home", "path", "/tmp"]);
    let linux = spec.linux_mut().as_mut().expect("fixture linux");
    linux.set_readonly_paths(Some(vec!["/home".into()]));
    let run = cx.run_probe(&spec)?;
    expect_eq("/home writable", false, run.path("/home")?.writable)?;
    expect_eq("/tmp writable (not listed)", true, run.path("/tmp")?.writable)
}

/// rootfsPropagation "shared": the container's "/" is a shared mount
/// (mountinfo's optional field shared:N).
fn rootfs_propagation_is_applied(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    if let Some(linux) = spec.linux_mut() {
        linux.set_rootfs_propagation(Some("shared".into()));
    }
    let run = cx.run_probe(&spec)?;
    let root = run
        .report()?
        .mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == "/")
        .cloned()
        .unwrap_or_default();
    expect(
        root.propagation.iter().any(|p| p.starts_with("shared:")),
        "\"/\" a shared mount (shared:N in mountinfo)",
        format!("propagation {:?}", root.propagation),
    )
}

/// A bind-mounted host directory is the container's to use, not to own:
/// after delete, the directory and what the container wrote are there.
fn delete_keeps_what_the_container_did_not_create(cx: &mut Ctx) -> Checked {
    let host_dir = cx.work().join("host-data");
    std::fs::create_dir_all(&host_dir)?;
    std::fs::write(host_dir.join("kept"), "host file\n")?;
    // A rootless engine binds the user's own directories.
    crate::rootless::give_path(&host_dir)?;
    let mut spec = cx.spec(&["marker", "/data/written", "exit", "0"]);
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(
        oci_spec::runtime::MountBuilder::default()
            .destination("/data")
            .typ("bind")
            .source(host_dir.clone())
            .options(vec!["rbind".to_string(), "rw".to_string()])
            .build()?,
    );
    spec.set_mounts(Some(mounts));
    let run = cx.run_probe(&spec)?; // deletes the container when done
    expect_eq("container exit status", Some(0), run.exit_code)?;
    expect(
        host_dir.join("kept").exists() && host_dir.join("written").exists(),
        "the bind source, its file and the container's write kept after delete",
        format!("{:?}", std::fs::read_dir(&host_dir).map(|d| d.count())),
    )
}

/// Since 1.1 a relative destination is read from "/".
fn relative_mount_destinations_are_taken_from_root(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    add_mounts(&mut spec, vec![tmpfs("litmus/relative", &["size=1m"])]);
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    let points: Vec<&str> = report.mounts.iter().map(|m| m.mount_point.as_str()).collect();
    expect(
        report.mount_at("/litmus/relative").is_some(),
        "a tmpfs at /litmus/relative",
        format!("mount points {points:?}"),
    )
}

/// /proc, /sys, /dev/pts and /dev/shm, with their filesystems, as the
/// fixture config asks for them.
fn default_filesystems_are_available(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["report"]);
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    for (path, fs_type) in
        [("/proc", "proc"), ("/sys", "sysfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs")]
    {
        let seen = report.mount_at(path).map(|m| m.fs_type.clone());
        expect_eq(&format!("filesystem at {path}"), Some(fs_type.to_string()), seen)?;
    }
    Ok(())
}
