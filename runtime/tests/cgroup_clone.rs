//! clone3 with CLONE_INTO_CGROUP (cgroups::v2::fork_into): the child is
//! in the cgroup from its first instruction. Root, on any host with a
//! cgroup2 mount (this v1 host has one at /sys/fs/cgroup/unified, the
//! vm-test v2 guest at /sys/fs/cgroup).

use litmus_runtime::cgroups::v2::fork_into;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::ForkResult;
use std::os::fd::AsFd;
use std::path::PathBuf;

fn cgroup2_mount() -> PathBuf {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let dash = fields.iter().position(|f| *f == "-")?;
            (fields.get(dash + 1) == Some(&"cgroup2")).then(|| PathBuf::from(fields[4]))
        })
        .expect("a cgroup2 mount (every host these tests run on has one)")
}

#[test]
fn a_child_forked_into_a_cgroup_is_in_it_from_the_start() {
    assert!(nix::unistd::geteuid().is_root(), "this test makes a cgroup and needs root");
    let mount = cgroup2_mount();
    let name = format!("litmus-clone-into-{}", std::process::id());
    let dir = mount.join(&name);
    std::fs::create_dir(&dir).unwrap();
    let fd = std::fs::File::open(&dir).unwrap();
    let expected = format!("0::/{name}\n");
    // SAFETY: the child makes no allocation and takes no lock (another test
    // thread may hold one): raw open/read into a stack buffer, then _exit.
    let child = match unsafe { fork_into(fd.as_fd()) }.unwrap() {
        // SAFETY: a stack buffer of the length passed; _exit never returns.
        ForkResult::Child => unsafe {
            let mut buffer = [0u8; 4096];
            let file = libc::open(c"/proc/self/cgroup".as_ptr(), libc::O_RDONLY);
            let n = libc::read(file, buffer.as_mut_ptr().cast(), buffer.len());
            let seen = &buffer[..n.max(0) as usize];
            let inside = seen.windows(expected.len()).any(|w| w == expected.as_bytes());
            libc::_exit(if inside { 0 } else { 1 })
        },
        ForkResult::Parent { child } => child,
    };
    let status = waitpid(child, None).unwrap();
    std::fs::remove_dir(&dir).unwrap();
    assert_eq!(status, WaitStatus::Exited(child, 0), "the child's /proc/self/cgroup named {name}");
}

#[test]
fn a_directory_that_is_no_cgroup_is_refused() {
    let fd = std::fs::File::open("/tmp").unwrap();
    // SAFETY: the clone fails before any child exists.
    let e = unsafe { fork_into(fd.as_fd()) }.expect_err("clone3 refuses a non-cgroup fd");
    assert!(matches!(e, nix::errno::Errno::EBADF | nix::errno::Errno::EINVAL), "{e}");
}
