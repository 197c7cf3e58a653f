//! Reads the process's view from the kernel. Only called inside the
//! container, by the probe binary.

use crate::{parse_mountinfo_line, Capabilities, Ids, PathReport, Report};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};

const NAMESPACES: &[&str] = &["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

pub fn report() -> Report {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let status_field = |name: &str| -> Option<&str> {
        status.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
    };
    let hex =
        |name: &str| status_field(name).and_then(|v| u64::from_str_radix(v, 16).ok()).unwrap_or(0);
    let (hostname, domainname) = uname_names();
    Report {
        pid: std::process::id() as i32,
        ppid: nix::unistd::getppid().as_raw(),
        args: std::env::args().collect(),
        env: std::env::vars_os()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect(),
        cwd: std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
        ids: ids(),
        umask: status_field("Umask").and_then(|v| u32::from_str_radix(v, 8).ok()),
        capabilities: Capabilities {
            inheritable: hex("CapInh"),
            permitted: hex("CapPrm"),
            effective: hex("CapEff"),
            bounding: hex("CapBnd"),
            ambient: hex("CapAmb"),
        },
        no_new_privs: status_field("NoNewPrivs").and_then(|v| v.parse().ok()),
        seccomp_mode: status_field("Seccomp").and_then(|v| v.parse().ok()),
        rlimits: rlimits(),
        oom_score_adj: fs::read_to_string("/proc/self/oom_score_adj")
            .ok()
            .and_then(|v| v.trim().parse().ok()),
        namespaces: NAMESPACES
            .iter()
            .filter_map(|ns| Some((ns.to_string(), namespace_inode(ns)?)))
            .collect(),
        hostname,
        domainname,
        mounts: fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(parse_mountinfo_line)
            .collect(),
        cgroup: fs::read_to_string("/proc/self/cgroup")
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect(),
        extra_fds: extra_fds(),
        personality: {
            // Not nix's personality::get: it keeps only the flag bits and
            // drops the execution domain (PER_LINUX32 = 8), what is asked.
            // SAFETY: 0xffffffff queries the persona without changing it.
            let p = unsafe { libc::personality(0xffff_ffff) };
            (p >= 0).then_some(p as u64)
        },
        memory_policy: memory_policy(),
        cpus_allowed: status_field("Cpus_allowed_list").unwrap_or_default().to_string(),
        interfaces: interfaces(),
    }
}

fn interfaces() -> Vec<crate::Interface> {
    use nix::net::if_::InterfaceFlags;
    let mut found: BTreeMap<String, crate::Interface> = BTreeMap::new();
    for entry in nix::ifaddrs::getifaddrs().into_iter().flatten() {
        let name = entry.interface_name.clone();
        let interface = found.entry(name.clone()).or_insert_with(|| crate::Interface {
            mtu: mtu(&name),
            name,
            ..Default::default()
        });
        interface.up |= entry.flags.contains(InterfaceFlags::IFF_UP);
        let prefix = |mask: Option<nix::sys::socket::SockaddrStorage>| -> u32 {
            let Some(mask) = mask else { return 0 };
            if let Some(v4) = mask.as_sockaddr_in() {
                return v4.ip().to_bits().count_ones();
            }
            mask.as_sockaddr_in6().map(|v6| v6.ip().to_bits().count_ones()).unwrap_or(0)
        };
        let Some(address) = entry.address else { continue };
        let ip = match (address.as_sockaddr_in(), address.as_sockaddr_in6()) {
            (Some(v4), _) => std::net::IpAddr::from(v4.ip()),
            (_, Some(v6)) => std::net::IpAddr::from(v6.ip()),
            _ => continue,
        };
        interface.addresses.push(format!("{ip}/{}", prefix(entry.netmask)));
    }
    found.into_values().collect()
}

/// SIOCGIFMTU on a datagram socket.
fn mtu(name: &str) -> Option<u32> {
    // SAFETY: a plain socket(2); the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd was just returned by socket(2) and nothing else owns it.
    let socket = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= request.ifr_name.len() {
        return None;
    }
    for (dst, src) in request.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    use std::os::fd::AsRawFd;
    // SAFETY: SIOCGIFMTU reads ifr_name (NUL-terminated above: the rest is
    // zero) and writes ifr_mtu within the ifreq we own.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFMTU, &mut request) };
    if rc != 0 {
        return None;
    }
    // SAFETY: after a successful SIOCGIFMTU the union holds ifru_mtu.
    Some(unsafe { request.ifr_ifru.ifru_mtu } as u32)
}

fn memory_policy() -> Option<crate::MemoryPolicy> {
    let mut mode: libc::c_int = 0;
    let mut nodes = vec![0u64; 16];
    let maxnode = nodes.len() as u64 * 64;
    // SAFETY: mode points to an int and nodes to 16 words = 1024 bits, the
    // most any kernel has (MAX_NUMNODES), which is maxnode.
    let rc = unsafe {
        libc::syscall(libc::SYS_get_mempolicy, &mut mode, nodes.as_mut_ptr(), maxnode, 0usize, 0)
    };
    if rc != 0 {
        return None;
    }
    while nodes.last() == Some(&0) {
        nodes.pop();
    }
    Some(crate::MemoryPolicy { mode, nodes })
}

fn ids() -> Ids {
    use nix::unistd::{getegid, geteuid, getgid, getgroups, getuid};
    let mut groups: Vec<u32> =
        getgroups().unwrap_or_default().into_iter().map(|g| g.as_raw()).collect();
    groups.sort_unstable();
    Ids {
        uid: getuid().as_raw(),
        euid: geteuid().as_raw(),
        gid: getgid().as_raw(),
        egid: getegid().as_raw(),
        groups,
    }
}

fn uname_names() -> (String, String) {
    match nix::sys::utsname::uname() {
        Ok(uts) => (
            uts.nodename().to_string_lossy().into_owned(),
            uts.domainname().to_string_lossy().into_owned(),
        ),
        Err(_) => Default::default(),
    }
}

/// /proc/self/limits: "Max open files            1024                 1024                 files"
fn rlimits() -> BTreeMap<String, (Option<u64>, Option<u64>)> {
    let text = fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let parse = |v: &str| v.parse::<u64>().ok();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // The name column is 26 characters wide; values follow.
            let name = line.get(..26)?.trim().to_string();
            let mut values = line.get(26..)?.split_whitespace();
            let soft = values.next()?;
            let hard = values.next()?;
            Some((name, (parse(soft), parse(hard))))
        })
        .collect()
}

fn namespace_inode(ns: &str) -> Option<u64> {
    fs::metadata(format!("/proc/self/ns/{ns}")).ok().map(|m| m.ino())
}

/// Every open fd above 2 with its identity (see [`FdView`]).
pub fn fds() -> Vec<crate::FdView> {
    extra_fds()
        .into_iter()
        .map(|(fd, target)| {
            // stat of the magic link is fstat of the fd: the open file's
            // own device and inode, pipes and sockets included.
            use std::os::unix::fs::MetadataExt;
            let (dev, ino) = fs::metadata(format!("/proc/self/fd/{fd}"))
                .map(|m| (m.dev(), m.ino()))
                .unwrap_or((0, 0));
            crate::FdView { fd, target, dev, ino }
        })
        .collect()
}

fn extra_fds() -> BTreeMap<i32, String> {
    // Collect the numbers first; the listing's own fd is closed once the
    // ReadDir is dropped, so the F_GETFD check below leaves it out.
    let fds: Vec<i32> = match fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect(),
        Err(_) => return BTreeMap::new(),
    };
    fds.into_iter()
        // SAFETY: F_GETFD on any number only reads flags (EBADF if closed).
        .filter(|fd| *fd > 2 && unsafe { libc::fcntl(*fd, libc::F_GETFD) } != -1)
        .map(|fd| {
            let target = fs::read_link(format!("/proc/self/fd/{fd}"))
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            (fd, target)
        })
        .collect()
}

/// The `security.selinux` xattr of `path` itself (not a symlink's target),
/// without the trailing NUL the kernel includes.
fn selinux_label(path: &str) -> Option<String> {
    let path = std::ffi::CString::new(path).ok()?;
    let name = c"security.selinux";
    let mut buf = [0u8; 256];
    // SAFETY: both names are NUL-terminated CStrs that outlive the call,
    // and the kernel writes at most buf.len() bytes into buf.
    let len = unsafe {
        libc::lgetxattr(path.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
    };
    let value = buf.get(..usize::try_from(len).ok()?)?;
    Some(String::from_utf8_lossy(value).trim_end_matches('\0').to_string())
}

pub fn path(path: &str) -> PathReport {
    let mut report = PathReport { path: path.to_string(), ..Default::default() };
    let Ok(meta) = fs::symlink_metadata(path) else {
        return report;
    };
    report.exists = true;
    let ft = meta.file_type();
    report.file_type = Some(
        match () {
            _ if ft.is_symlink() => "symlink",
            _ if ft.is_dir() => "dir",
            _ if ft.is_file() => "file",
            _ if ft.is_char_device() => "char",
            _ if ft.is_block_device() => "block",
            _ if ft.is_fifo() => "fifo",
            _ => "socket",
        }
        .to_string(),
    );
    report.mode = Some(meta.mode() & 0o7777);
    report.selinux_label = selinux_label(path);
    report.uid = Some(meta.uid());
    report.gid = Some(meta.gid());
    if ft.is_char_device() || ft.is_block_device() {
        let rdev = meta.rdev();
        report.major = Some(libc::major(rdev) as u64);
        report.minor = Some(libc::minor(rdev) as u64);
    }
    if ft.is_symlink() {
        report.symlink_target = fs::read_link(path).ok().map(|t| t.display().to_string());
    }
    if ft.is_dir() {
        if let Ok(dir) = fs::read_dir(path) {
            report.readable = true;
            let mut names: Vec<String> =
                dir.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            report.entries = Some(names);
        }
        report.writable = dir_is_writable(path);
    } else {
        // Non-blocking: reading a terminal (/dev/console) must not wait.
        let opened = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path);
        if let Ok(mut file) = opened {
            report.readable = true;
            // Character devices too: a masked file is a bind of /dev/null.
            if ft.is_file() || ft.is_char_device() {
                let mut buf = [0u8; 256];
                let n = file.read(&mut buf).unwrap_or(0);
                report.content = Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        // Opening for write without O_TRUNC changes nothing; it is the
        // permission and read-only-mount check we want.
        report.writable = fs::OpenOptions::new().write(true).open(path).is_ok();
    }
    report
}

fn dir_is_writable(path: &str) -> bool {
    let probe_file =
        format!("{}/.litmus-write-check-{}", path.trim_end_matches('/'), std::process::id());
    match fs::File::create(&probe_file) {
        Ok(_) => {
            let _ = fs::remove_file(&probe_file);
            true
        }
        Err(_) => false,
    }
}

pub fn sysctl(key: &str) -> Option<String> {
    fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/")))
        .ok()
        .map(|v| v.trim().to_string())
}

/// fds 0..=2 as /proc/self/fd names them, whether each is a terminal, and
/// whether /dev/tty (the controlling terminal) opens.
pub fn tty() -> crate::ProbeLine {
    let stdio = (0..=2)
        .map(|fd| {
            std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .map(|t| t.display().to_string())
                .unwrap_or_else(|e| format!("error: {e}"))
        })
        .collect();
    use std::os::fd::AsFd;
    let isatty = [std::io::stdin().as_fd(), std::io::stdout().as_fd(), std::io::stderr().as_fd()]
        .into_iter()
        .map(|fd| nix::unistd::isatty(fd).unwrap_or(false))
        .collect();
    let controlling = std::fs::OpenOptions::new().read(true).open("/dev/tty").is_ok();
    crate::ProbeLine::Tty { stdio, isatty, controlling }
}
