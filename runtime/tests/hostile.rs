//! Root integration tests: callers and images that try to hand the
//! container more than they should (issue: escapes the CVE cases missed).

mod common;

use common::{cgroup_dir, shell, Env};
use litmus_bundle::Bundle;
use std::path::Path;
use std::process::Command;

/// `runtime --root R run FLAGS --bundle B ID` through /bin/sh, so that
/// the script opens each (fd, file) for reading and sets `vars` exactly as
/// a caller would (`3<file`, `LISTEN_PID=$$`).
fn run_with_files(
    env: &Env,
    vars: &str,
    flags: &str,
    bundle: &Bundle,
    id: &str,
    files: &[(u32, &Path)],
) -> common::Captured {
    let runtime = assert_cmd::cargo::cargo_bin("litmus-runtime");
    let redirects: String =
        files.iter().map(|(fd, file)| format!(" {fd}<{}", file.display())).collect();
    let script = format!(
        "{vars} exec {} --root {} run {flags} --bundle {} {id}{redirects}",
        runtime.display(),
        env.root.path().display(),
        bundle.path().display()
    );
    common::bounded(Command::new("/bin/sh").args(["-c", &script]), &script)
}

#[test]
fn preserve_fds_beyond_what_the_caller_passed_is_refused_naming_the_fd() {
    let env = Env::new();
    let bundle = env.bundle(&shell("ls /proc/self/fd/3/../../"));
    // fd 3 is passed, 4..102 are not: the runtime's own would land there.
    let null = Path::new("/dev/null");
    let out = run_with_files(&env, "", "--preserve-fds 100", &bundle, "t-pfd", &[(3, null)]);
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
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let out = run_with_files(&env, "", "--preserve-fds 2", &bundle, "t-pfd2", &[(3, &a), (4, &b)]);
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
    let sock = dir.path().join("sock");
    let out =
        run_with_files(&env, "LISTEN_FDS=1 LISTEN_PID=$$", "", &bundle, "t-listen", &[(3, &sock)]);
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
