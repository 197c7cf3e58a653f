//! Security: known container escapes, each replayed as an attack from
//! inside the container (or from a hostile image) that must fail.
//!
//! Every attack is safe for the host: it only takes O_PATH handles or
//! reads, never writes; mounts it provokes live in the container's mount
//! namespace; the runtime binary under test is only ever stat()ed.

use crate::case::{expect, expect_eq, fail, Checked, Verdict};
use crate::ctx::Ctx;
use litmus_probe::ProbeLine;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

crate::cases! {
    Security: {
        container_cannot_grab_the_runtime_binary => [SECURITY_CVE_2019_5736],
        created_container_init_cannot_be_reached_from_inside => [SECURITY_CVE_2016_9962],
        cwd_cannot_leave_the_container_through_an_fd => [SECURITY_CVE_2024_21626],
        inheritable_capabilities_are_empty_by_default => [SECURITY_CVE_2022_29162],
        mount_destination_swapped_for_a_symlink_stays_inside => [SECURITY_CVE_2021_30465],
        console_is_not_mounted_through_a_symlink => [SECURITY_CVE_2025_52565],
        sysctl_write_is_not_redirected_by_a_mount => [SECURITY_CVE_2025_52881],
        proc_and_sys_are_not_mounted_through_image_symlinks => [SECURITY_CVE_2019_16884],
        masked_paths_use_the_real_dev_null => [SECURITY_CVE_2025_31133],
    }
}

/// The container scans /proc for other processes' executables while the
/// runtime execs into it again and again; a handle on the runtime's own
/// binary is what CVE-2019-5736 (and CVE-2016-9962's ptrace) built on.
fn container_cannot_grab_the_runtime_binary(cx: &mut Ctx) -> Checked {
    let runtime = std::fs::metadata(&cx.runtime.binary)?;
    let target = (runtime.dev(), runtime.ino());
    let spec = cx.spec(&["grab-exe", "3"]);
    let id = cx.new_container(&spec)?;
    let pid = cx.state(&id)?.pid;
    cx.start_ok(&id)?;
    let deadline = Instant::now() + Duration::from_millis(2500);
    let mut execs = 0;
    while Instant::now() < deadline {
        let inv = cx.call(&["exec", &id, "/litmus-probe", "exit", "0"])?;
        if !inv.ok() {
            if execs == 0 {
                return Err(Verdict::Skip(format!(
                    "the runtime's exec does not work here: {}",
                    inv.describe()
                )));
            }
            break;
        }
        execs += 1;
    }
    cx.wait_exit(pid)?;
    let grabbed = cx
        .output_of(&id)
        .into_iter()
        .find_map(|line| match line {
            ProbeLine::Exes { grabbed } => Some(grabbed),
            _ => None,
        })
        .ok_or_else(|| fail("the probe's list of grabbed executables", "no output"))?;
    expect(
        !grabbed.contains(&target),
        format!("no handle on the runtime binary (dev {}, inode {}) during {execs} execs", target.0, target.1),
        "the container opened /proc/PID/exe of a runtime process: it could overwrite the runtime once it exits",
    )
}

/// Between create and start the container's pid 1 is the runtime's own
/// process, holding its fds (state, sockets, the rootfs) and the host's
/// view. A process exec'd into the created container (root, the config's
/// capabilities: no CAP_SYS_PTRACE) must not follow those fds nor seize it
/// with ptrace; runc before 1.0.0-rc3 let it (CVE-2016-9962).
fn created_container_init_cannot_be_reached_from_inside(cx: &mut Ctx) -> Checked {
    let spec = cx.spec(&["exit", "0"]);
    let id = cx.new_container(&spec)?;
    let inv = cx.call(&["exec", &id, "/litmus-probe", "reach", "1"])?;
    if !inv.ok() {
        return Err(Verdict::Skip(format!(
            "the runtime cannot exec into a created container: {}",
            inv.describe()
        )));
    }
    let reach = litmus_probe::parse_output(&inv.stdout)
        .into_iter()
        .flatten()
        .find_map(|line| match line {
            ProbeLine::Reach { fds_error, ptrace_error, .. } => Some((fds_error, ptrace_error)),
            _ => None,
        })
        .ok_or_else(|| fail("the probe's reach report", inv.describe()))?;
    expect(
        reach.0.is_some(),
        "the fds of the created container's init (/proc/1/fd/N) not to be followed from inside",
        "the exec'd process opened the runtime's fd links",
    )?;
    expect(
        reach.1.is_some(),
        "ptrace of the created container's init to be refused from inside",
        "the exec'd process seized the runtime's process with ptrace",
    )
}

/// runc leaked a host directory fd into the container; `cwd:
/// /proc/self/fd/N` then put the process outside the rootfs.
fn cwd_cannot_leave_the_container_through_an_fd(cx: &mut Ctx) -> Checked {
    for fd in 3..=9 {
        let mut spec = cx.spec(&["report"]);
        spec.process_mut()
            .as_mut()
            .expect("fixture specs have a process")
            .set_cwd(format!("/proc/self/fd/{fd}").into());
        let bundle = cx.bundle(&spec)?;
        let id = cx.new_id();
        if !cx.create(&id, bundle)?.ok() {
            continue; // refusing the cwd is a fine answer
        }
        let pid = cx.state(&id)?.pid;
        if !cx.start(&id)?.ok() {
            continue;
        }
        cx.wait_exit(pid)?;
        let cwd = cx.output_of(&id).into_iter().find_map(|l| match l {
            ProbeLine::Report(r) => Some(r.cwd.clone()),
            _ => None,
        });
        if let Some(cwd) = cwd {
            expect(
                !cwd.starts_with("(unreachable)") && !cwd.is_empty(),
                format!("cwd /proc/self/fd/{fd} to stay inside the container"),
                format!("the process's cwd is {cwd:?}, outside its root"),
            )?;
        }
    }
    Ok(())
}

/// Before the fix, runc gave the process inheritable capabilities the
/// config did not ask for, which execve of a file with inheritable file
/// capabilities could turn into real ones.
fn inheritable_capabilities_are_empty_by_default(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["report"]);
    let process = spec.process_mut().as_mut().expect("fixture specs have a process");
    if let Some(mut caps) = process.capabilities().clone() {
        caps.set_inheritable(None);
        process.set_capabilities(Some(caps));
    }
    let run = cx.run_probe(&spec)?;
    expect_eq(
        "CapInh of the container process",
        "0x0".to_string(),
        format!("{:#x}", run.report()?.capabilities.inheritable),
    )
}

const CANARY: &str = "litmus canary: not /dev/null\n";

/// A hostile image ships /dev/null as a symlink (in the real attack, to a
/// procfs file like /proc/sys/kernel/core_pattern; here, to a canary in
/// the rootfs). A runtime that bind-mounts "/dev/null" over masked paths,
/// or opens it for stdio, without checking it follows the symlink.
fn masked_paths_use_the_real_dev_null(cx: &mut Ctx) -> Checked {
    // A masked path this kernel has (the spec's examples; not all exist).
    let Some(masked) = ["/proc/keys", "/proc/timer_list", "/proc/kcore"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        return Err(Verdict::Skip("no /proc file to mask on this kernel".into()));
    };
    let mut spec = cx.spec(&["path", masked]);
    // No tmpfs on /dev: the image's own /dev is what the runtime sees.
    without_dev_tmpfs(&mut spec);
    if let Some(linux) = spec.linux_mut() {
        linux.set_masked_paths(Some(vec![masked.into()]));
    }
    let bundle = cx.bundle(&spec)?;
    let dev = cx.bundle_ref(bundle).rootfs().join("dev");
    std::fs::create_dir_all(&dev)?;
    // The symlink points at a canary inside the rootfs, never at a host
    // file: a vulnerable runtime may write the container's stdio through
    // /dev/null (runc 1.1.5 does), and that must land in the bundle.
    std::fs::write(cx.bundle_ref(bundle).rootfs().join("litmus-canary"), CANARY)?;
    let _ = std::fs::remove_file(dev.join("null"));
    std::os::unix::fs::symlink("/litmus-canary", dev.join("null"))?;
    let id = cx.new_id();
    if !cx.create(&id, bundle)?.ok() {
        return Ok(()); // refusing the hostile image is a fine answer
    }
    let exit = cx.start_to_exit(&id)?;
    let seen = cx
        .output_of(&id)
        .into_iter()
        .find_map(|l| match l {
            ProbeLine::Path(p) => Some(p),
            _ => None,
        })
        .ok_or_else(|| {
            let canary =
                std::fs::read_to_string(cx.bundle_ref(bundle).rootfs().join("litmus-canary"))
                    .unwrap_or_default();
            let redirected = if canary != CANARY {
                "; the container's output went into the file the /dev/null symlink points to"
            } else {
                ""
            };
            fail(
                format!("the probe's view of {masked}"),
                format!("no output (the container exited with {exit:?}){redirected}"),
            )
        })?;
    let what = format!(
        "{:?} {:?}:{:?} content {:?}",
        seen.file_type, seen.major, seen.minor, seen.content
    );
    expect(
        seen.file_type.as_deref() == Some("char") && seen.major == Some(1) && seen.minor == Some(3),
        format!("{masked} masked by the real /dev/null (char 1:3)"),
        what,
    )
}

/// A host directory made a shared mount for the length of a case, so that
/// mounts a container makes on it (through a shared rootfs) show on the
/// host; unmounted, with whatever landed on it, when dropped.
struct SharedCanary {
    path: PathBuf,
}

impl SharedCanary {
    fn new(path: PathBuf) -> anyhow::Result<SharedCanary> {
        use nix::mount::{mount, MsFlags};
        std::fs::create_dir_all(&path)?;
        mount(Some(&path), &path, None::<&str>, MsFlags::MS_BIND, None::<&str>)?;
        let canary = SharedCanary { path };
        mount(None::<&str>, &canary.path, None::<&str>, MsFlags::MS_SHARED, None::<&str>)?;
        Ok(canary)
    }

    /// Mounts on or under the canary besides its own bind mount.
    fn landed(&self) -> Vec<String> {
        let own = self.path.display().to_string();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let at_canary: Vec<&str> = mountinfo
            .lines()
            .filter(|line| {
                line.split(' ')
                    .nth(4)
                    .is_some_and(|point| point == own || point.starts_with(&format!("{own}/")))
            })
            .collect();
        at_canary.iter().skip(1).map(|l| l.to_string()).collect()
    }
}

impl Drop for SharedCanary {
    /// Each umount takes the topmost mount at the path: an escaped mount
    /// stacked on the canary first, then the canary's own bind mount.
    fn drop(&mut self) {
        for _ in 0..16 {
            if nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH).is_err() {
                break;
            }
        }
    }
}

/// Swaps `a` and `b` (RENAME_EXCHANGE) until `stop`: the other container
/// of CVE-2021-30465, working on a volume both share.
fn swap_until(a: &Path, b: &Path, stop: &AtomicBool) {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    while !stop.load(Ordering::Relaxed) {
        let _ = renameat2(AT_FDCWD, a, AT_FDCWD, b, RenameFlags::RENAME_EXCHANGE);
    }
}

/// CVE-2021-30465: a volume holds a directory `d` and a symlink `s` to a
/// host directory; while one process swaps them, containers that mount a
/// tmpfs on /vol/d are created again and again. A runtime that checks the
/// destination and then mounts by path follows the swapped-in symlink to
/// the host. The host directory is a shared mount and the container's
/// root is shared (rootfsPropagation), so a tmpfs landing there shows on
/// the host, where the case looks for it; it lives only in the canary.
fn mount_destination_swapped_for_a_symlink_stays_inside(cx: &mut Ctx) -> Checked {
    let volume = cx.work().join("vol");
    let canary_dir = cx.work().join("canary");
    std::fs::create_dir_all(volume.join("d"))?;
    std::os::unix::fs::symlink(&canary_dir, volume.join("s"))?;
    let canary = SharedCanary::new(canary_dir)?;

    let mut spec = cx.spec(&["report"]);
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for (destination, typ, source, options) in [
        ("/vol", "bind", volume.clone(), vec!["rbind"]),
        ("/vol/d", "tmpfs", PathBuf::from("tmpfs"), vec!["size=64k"]),
    ] {
        mounts.push(
            oci_spec::runtime::MountBuilder::default()
                .destination(destination)
                .typ(typ)
                .source(source)
                .options(options.into_iter().map(String::from).collect::<Vec<_>>())
                .build()?,
        );
    }
    spec.set_mounts(Some(mounts));
    if let Some(linux) = spec.linux_mut() {
        linux.set_rootfs_propagation(Some("shared".into()));
    }
    // Without a shared root nothing the container mounts reaches the host,
    // escaped or not: the attack would be invisible, so say so.
    let calm = cx.run_probe(&spec)?;
    let root_shared = calm
        .report()?
        .mount_at("/")
        .is_some_and(|m| m.propagation.iter().any(|p| p.starts_with("shared:")));
    if !root_shared {
        return Err(Verdict::Skip(
            "the runtime does not make / shared for rootfsPropagation \"shared\", so a mount escaping to the host could not be seen".into(),
        ));
    }

    let bundle = cx.bundle(&spec)?;
    let stop = AtomicBool::new(false);
    let escaped = std::thread::scope(|scope| {
        scope.spawn(|| swap_until(&volume.join("d"), &volume.join("s"), &stop));
        let deadline = Instant::now() + Duration::from_secs(4);
        let mut attempts = 0;
        let mut escaped = Vec::new();
        while Instant::now() < deadline && attempts < 200 && escaped.is_empty() {
            attempts += 1;
            let id = cx.new_id();
            let _ = cx.create(&id, bundle);
            let _ = cx.call(&["delete", "--force", &id]);
            escaped = canary.landed();
        }
        stop.store(true, Ordering::Relaxed);
        (escaped, attempts)
    });
    let (escaped, attempts) = escaped;
    expect(
        escaped.is_empty(),
        "every tmpfs for /vol/d inside the rootfs",
        format!(
            "after {attempts} creates, a mount on the host directory the swapped-in symlink points to: {}",
            escaped.join(" | ")
        ),
    )
}

/// CVE-2025-52565: an image whose /dev/console is a symlink (no tmpfs on
/// /dev) to a file of the rootfs. A runtime that mounts the pty on the
/// path follows the link and puts a terminal over the file: with a link
/// to a masked or read-only /proc file, the container gets it writable.
/// Refusing the image is a fine answer; the canary stays inside the bundle.
fn console_is_not_mounted_through_a_symlink(cx: &mut Ctx) -> Checked {
    let mut spec = cx.spec(&["path", "/litmus-canary"]);
    without_dev_tmpfs(&mut spec);
    let hostile_dev = |rootfs: &Path| -> anyhow::Result<()> {
        std::fs::write(rootfs.join("litmus-canary"), CANARY)?;
        let dev = rootfs.join("dev");
        std::fs::create_dir_all(&dev)?;
        let _ = std::fs::remove_file(dev.join("console"));
        std::os::unix::fs::symlink("/litmus-canary", dev.join("console"))?;
        Ok(())
    };
    let run = match cx.run_probe_on_terminal_with(&spec, hostile_dev) {
        // The runtime refused the image: nothing was mounted anywhere.
        Err(Verdict::Fail { expected, .. }) if expected.starts_with("create") => return Ok(()),
        other => other?,
    };
    let canary = run.path("/litmus-canary")?;
    expect_eq(
        "what the container sees at the symlink's target /litmus-canary",
        Some("file"),
        canary.file_type.as_deref(),
    )
}

/// CVE-2025-52881: a config mount puts a host file over
/// /proc/sys/kernel/shmmni, and linux.sysctl sets kernel.shmmni. A runtime
/// that writes sysctls through the container's /proc after its mounts
/// writes into the file instead of the kernel (with a file over
/// /proc/sys/kernel/core_pattern... the other way round, that is an
/// escape). Refusing the config is a fine answer; the file is a canary.
fn sysctl_write_is_not_redirected_by_a_mount(cx: &mut Ctx) -> Checked {
    let canary = cx.work().join("sysctl-canary");
    std::fs::write(&canary, CANARY)?;
    let mut spec = cx.spec(&["exit", "0"]);
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(
        oci_spec::runtime::MountBuilder::default()
            .destination("/proc/sys/kernel/shmmni")
            .typ("bind")
            .source(&canary)
            .options(vec!["bind".to_string()])
            .build()?,
    );
    spec.set_mounts(Some(mounts));
    if let Some(linux) = spec.linux_mut() {
        linux.set_sysctl(Some([("kernel.shmmni".to_string(), "1234".to_string())].into()));
    }
    let bundle = cx.bundle(&spec)?;
    let id = cx.new_id();
    let _ = cx.create(&id, bundle)?;
    let content = std::fs::read_to_string(&canary)?;
    expect(
        content == CANARY,
        "kernel.shmmni written to the kernel, not into the file mounted over /proc/sys/kernel/shmmni",
        format!("the file bind-mounted there now holds {content:?}"),
    )
}

/// CVE-2019-16884 / CVE-2019-19921: an image decides where procfs and
/// sysfs land by making /proc or /sys a symlink. Then the LSM profile and
/// masked paths written for /proc cover nothing, or (with a symlink to a
/// host path and a runtime that mounts by path) the host's own directory
/// is mounted over. Two images: /proc -> /litmus-decoy (inside the
/// rootfs) and /sys -> a host directory that is a shared mount here, so a
/// sysfs landing on the host shows. A runtime may refuse either image, or
/// mount on a real directory at /proc and /sys; it must never mount
/// procfs or sysfs anywhere else.
fn proc_and_sys_are_not_mounted_through_image_symlinks(cx: &mut Ctx) -> Checked {
    let canary_dir = cx.work().join("host-canary");
    let canary = SharedCanary::new(canary_dir.clone())?;
    let host_target = canary_dir.display().to_string();
    for (link, target, typ) in
        [("proc", "/litmus-decoy", "proc"), ("sys", host_target.as_str(), "sysfs")]
    {
        let mut spec = cx.spec(&["report"]);
        if let Some(linux) = spec.linux_mut() {
            linux.set_rootfs_propagation(Some("shared".into()));
        }
        let bundle = cx.bundle(&spec)?;
        let rootfs = cx.bundle_ref(bundle).rootfs();
        std::fs::create_dir_all(rootfs.join("litmus-decoy"))?;
        let _ = std::fs::remove_dir(rootfs.join(link));
        std::os::unix::fs::symlink(target, rootfs.join(link))?;
        let id = cx.new_id();
        let created = cx.create(&id, bundle)?.ok();
        let landed = canary.landed();
        expect(
            landed.is_empty(),
            format!("nothing mounted on the host directory the image's /{link} symlink names"),
            format!("after create: {}", landed.join(" | ")),
        )?;
        if !created {
            continue; // refusing the hostile image is a fine answer
        }
        cx.start_to_exit(&id)?;
        let report = cx
            .output_of(&id)
            .into_iter()
            .find_map(|l| match l {
                ProbeLine::Report(r) => Some(r),
                _ => None,
            })
            .ok_or_else(|| fail("the probe's report", "no output"))?;
        let elsewhere: Vec<String> = report
            .mounts
            .iter()
            .filter(|m| m.fs_type == typ && m.mount_point != format!("/{link}"))
            .filter(|m| !m.mount_point.starts_with(&format!("/{link}/")))
            .map(|m| m.mount_point.clone())
            .collect();
        expect(
            elsewhere.is_empty(),
            format!("{typ} mounted only at /{link} (a real directory), not where the image's symlink points"),
            format!("{typ} at {}", elsewhere.join(", ")),
        )?;
    }
    Ok(())
}

/// Drops the fixture's tmpfs on /dev: the image's own /dev is what the
/// runtime then meets.
fn without_dev_tmpfs(spec: &mut oci_spec::runtime::Spec) {
    let mounts: Vec<_> = spec
        .mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.destination().as_os_str() != "/dev")
        .collect();
    spec.set_mounts(Some(mounts));
}
