//! Root integration tests: callers and images that try to hand the
//! container more than they should (issue: escapes the CVE cases missed).

mod common;

use common::{cgroup_dir, shell, Env};
use std::process::Command;

/// `runtime --root R ARGS...` through /bin/sh, so that the script can open
/// fds and set variables exactly as a caller would (`3<file`, `$$`).
fn through_shell(env: &Env, prefix: &str, args: &str) -> common::Captured {
    let runtime = assert_cmd::cargo::cargo_bin("litmus-runtime");
    let script =
        format!("{prefix} exec {} --root {} {args}", runtime.display(), env.root.path().display());
    common::bounded(Command::new("/bin/sh").args(["-c", &script]), &script)
}

#[test]
fn preserve_fds_beyond_what_the_caller_passed_is_refused_naming_the_fd() {
    let env = Env::new();
    let bundle = env.bundle(&shell("ls /proc/self/fd/3/../../"));
    // fd 3 is passed, 4..102 are not: the runtime's own would land there.
    let out = through_shell(
        &env,
        "",
        &format!("run --preserve-fds 100 --bundle {} t-pfd 3</dev/null", bundle.path().display()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.success(), "the run went ahead: {stderr}");
    assert!(stderr.contains("--preserve-fds: fd 4 is not open"), "{stderr}");
    assert!(env.state_dirs().is_empty(), "{:?}", env.state_dirs());
    assert!(!cgroup_dir("t-pfd").exists());
}

#[test]
fn preserved_fds_are_the_callers_and_nothing_else() {
    let env = Env::new();
    let bundle = env.bundle(&shell("ls /proc/self/fd; cat <&3; cat <&4"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), "from fd 3\n").unwrap();
    std::fs::write(dir.path().join("b"), "from fd 4\n").unwrap();
    let out = through_shell(
        &env,
        "",
        &format!(
            "run --preserve-fds 2 --bundle {} t-pfd2 3<{} 4<{}",
            bundle.path().display(),
            dir.path().join("a").display(),
            dir.path().join("b").display()
        ),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // ls's own listing fd is the only other one.
    let fds: Vec<&str> = stdout.lines().take_while(|l| !l.starts_with("from")).collect();
    assert!(fds.len() <= 6 && fds.contains(&"3") && fds.contains(&"4"), "{stdout}");
    assert!(stdout.contains("from fd 3\nfrom fd 4\n"), "{stdout}");
}

#[test]
fn socket_activation_fds_reach_the_container_announced() {
    let env = Env::new();
    let bundle = env.bundle(&shell("echo $LISTEN_FDS $LISTEN_PID; cat <&3"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sock"), "listening\n").unwrap();
    let out = through_shell(
        &env,
        "LISTEN_FDS=1 LISTEN_PID=$$",
        &format!(
            "run --bundle {} t-listen 3<{}",
            bundle.path().display(),
            dir.path().join("sock").display()
        ),
    );
    assert!(out.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 1\nlistening\n");
}

#[test]
fn an_image_whose_proc_is_a_symlink_is_refused_naming_the_mount() {
    let env = Env::new();
    for (link, typ) in [("proc", "proc"), ("sys", "sysfs")] {
        let bundle = env.bundle(&shell("true"));
        let rootfs = bundle.rootfs();
        std::fs::create_dir_all(rootfs.join("decoy")).unwrap();
        let _ = std::fs::remove_dir(rootfs.join(link));
        std::os::unix::fs::symlink("/decoy", rootfs.join(link)).unwrap();
        let id = format!("t-{link}-link");
        let (ok, stderr) = env.create(&bundle, &id, &[]);
        assert!(!ok, "/{link} symlink accepted");
        assert!(
            stderr.contains(&format!("(/{link}): {typ} must be mounted on an ordinary directory")),
            "{stderr}"
        );
        assert!(env.state_dirs().is_empty(), "{:?}", env.state_dirs());
        assert!(!cgroup_dir(&id).exists());
    }
}
