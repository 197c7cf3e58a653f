//! What the probe reports, shared by the probe (which writes it from inside
//! the container) and the suite (which reads it and compares it with
//! config.json).
//!
//! The probe prints one JSON object per line on its stdout, each tagged by
//! `kind`. Reading /proc directly rather than trusting any library keeps the
//! report honest: it is what the kernel says about this process.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod gather;

/// One line of probe output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeLine {
    Report(Box<Report>),
    Path(PathReport),
    Sysctl {
        key: String,
        value: Option<String>,
    },
    Signal {
        signal: i32,
    },
    Fork {
        requested: u32,
        succeeded: u32,
    },
    /// A raw syscall's result: `ret` as the kernel returned it, `errno`
    /// when it failed (seccomp cases read which errno a filter chose).
    Syscall {
        nr: i64,
        args: Vec<u64>,
        ret: i64,
        errno: Option<i32>,
    },
    /// The process's terminal: what fds 0, 1 and 2 are (link targets) and
    /// whether each is a tty, and whether it has a controlling terminal.
    Tty {
        stdio: Vec<String>,
        isatty: Vec<bool>,
        controlling: bool,
    },
    /// Executables of other processes this one could open through
    /// /proc/PID/exe, as (device, inode): the CVE-2019-5736 foothold.
    Exes {
        grabbed: Vec<(u64, u64)>,
    },
    /// What this process could do to process `pid` (the CVE-2016-9962
    /// foothold): list its fds, and attach to it with ptrace. `None` means
    /// it could; otherwise the error.
    Reach {
        pid: i32,
        fds_error: Option<String>,
        ptrace_error: Option<String>,
    },
    /// Every open fd above stdio: what the process inherited.
    Fds {
        fds: Vec<FdView>,
    },
    Error {
        action: String,
        message: String,
    },
}

/// One open file descriptor, identified by what fstat(2) says (the suite
/// compares device and inode with the files it passed) and by its link
/// target in /proc/self/fd, for humans.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FdView {
    pub fd: i32,
    pub target: String,
    pub dev: u64,
    pub ino: u64,
}

/// The process's view of itself and its container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub pid: i32,
    pub ppid: i32,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub ids: Ids,
    pub umask: Option<u32>,
    pub capabilities: Capabilities,
    pub no_new_privs: Option<u32>,
    pub seccomp_mode: Option<u32>,
    /// Resource name as /proc/self/limits spells it → (soft, hard); None is unlimited.
    pub rlimits: BTreeMap<String, (Option<u64>, Option<u64>)>,
    pub oom_score_adj: Option<i32>,
    /// Namespace type (as in /proc/self/ns) → inode number.
    pub namespaces: BTreeMap<String, u64>,
    pub hostname: String,
    pub domainname: String,
    pub mounts: Vec<MountInfo>,
    /// Lines of /proc/self/cgroup.
    pub cgroup: Vec<String>,
    /// Open file descriptors other than 0, 1, 2, with their link targets.
    pub extra_fds: BTreeMap<i32, String>,
    pub personality: Option<u64>,
    /// get_mempolicy(2) of the process: None when the kernel has no NUMA.
    pub memory_policy: Option<MemoryPolicy>,
    /// Cpus_allowed_list of /proc/self/status: the CPU affinity.
    pub cpus_allowed: String,
    /// The network interfaces of the process's network namespace.
    pub interfaces: Vec<Interface>,
}

/// A network interface as getifaddrs(3) and SIOCGIFMTU see it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    /// IFF_UP: administratively up.
    pub up: bool,
    pub mtu: Option<u32>,
    /// "ADDRESS/PREFIX" of every IPv4 and IPv6 address.
    pub addresses: Vec<String>,
}

/// The NUMA memory policy as get_mempolicy(2) returns it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryPolicy {
    /// The mode (MPOL_*) ORed with its flags (MPOL_F_*).
    pub mode: i32,
    /// The nodemask, 64 nodes per word.
    pub nodes: Vec<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ids {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub groups: Vec<u32>,
}

/// The five capability sets as bit masks (bit N = capability number N).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    pub inheritable: u64,
    pub permitted: u64,
    pub effective: u64,
    pub bounding: u64,
    pub ambient: u64,
}

/// One line of /proc/self/mountinfo.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MountInfo {
    pub mount_point: String,
    pub root: String,
    /// Per-mount options (ro, nosuid, nodev, noexec, relatime...).
    pub options: Vec<String>,
    /// Optional fields: shared:N, master:N, propagate_from:N, unbindable.
    pub propagation: Vec<String>,
    pub fs_type: String,
    pub source: String,
    pub super_options: Vec<String>,
}

impl MountInfo {
    pub fn is_readonly(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }

    pub fn has_option(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option) || self.super_options.iter().any(|o| o == option)
    }
}

/// What the container sees at a path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PathReport {
    pub path: String,
    pub exists: bool,
    /// "file", "dir", "symlink", "char", "block", "fifo", "socket".
    pub file_type: Option<String>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub major: Option<u64>,
    pub minor: Option<u64>,
    pub symlink_target: Option<String>,
    pub readable: bool,
    pub writable: bool,
    /// First bytes of a readable regular file, lossily decoded.
    pub content: Option<String>,
    /// Entries of a readable directory.
    pub entries: Option<Vec<String>>,
    /// The SELinux label (the `security.selinux` xattr), where there is one.
    #[serde(default)]
    pub selinux_label: Option<String>,
}

impl Report {
    /// The mount whose mount point is exactly `path` (the last one wins, as
    /// the kernel shows the topmost mount last).
    pub fn mount_at(&self, path: &str) -> Option<&MountInfo> {
        self.mounts.iter().rev().find(|m| m.mount_point == path)
    }

    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    }
}

/// Parses probe output: one `ProbeLine` per non-empty line.
/// Lines that are not probe JSON (a runtime's own chatter) are returned as errors.
/// A terminal's line discipline ends lines with "\r\n": both are accepted.
pub fn parse_output(text: &str) -> Vec<Result<ProbeLine, String>> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{e}: {l}")))
        .collect()
}

/// Parses one mountinfo line (proc(5)): fields, optional fields up to "-",
/// then fs type, source and super options.
pub fn parse_mountinfo_line(line: &str) -> Option<MountInfo> {
    let mut fields = line.split(' ');
    let _id = fields.next()?;
    let _parent = fields.next()?;
    let _dev = fields.next()?;
    let root = unescape_octal(fields.next()?);
    let mount_point = unescape_octal(fields.next()?);
    let options = fields.next()?.split(',').map(String::from).collect();
    let mut propagation = Vec::new();
    for field in fields.by_ref() {
        if field == "-" {
            break;
        }
        propagation.push(field.to_string());
    }
    let fs_type = fields.next()?.to_string();
    let source = unescape_octal(fields.next()?);
    let super_options =
        fields.next().map(|s| s.split(',').map(String::from).collect()).unwrap_or_default();
    Some(MountInfo { mount_point, root, options, propagation, fs_type, source, super_options })
}

/// mountinfo escapes space, tab, newline and backslash as \NNN octal.
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        if let (b'\\', Some(digits)) = (bytes[i], octal) {
            let value = digits.iter().fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
            out.push(value as u8);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_line_with_optional_fields_and_escapes() {
        let line = "36 35 98:0 /mnt1 /mnt\\040dir rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue";
        let m = parse_mountinfo_line(line).unwrap();
        assert_eq!(m.mount_point, "/mnt dir");
        assert_eq!(m.root, "/mnt1");
        assert_eq!(m.options, vec!["rw", "noatime"]);
        assert_eq!(m.propagation, vec!["master:1", "shared:2"]);
        assert_eq!(m.fs_type, "ext3");
        assert_eq!(m.source, "/dev/root");
        assert!(m.has_option("errors=continue"));
        assert!(!m.is_readonly());
    }

    #[test]
    fn mountinfo_line_truncated_is_none() {
        assert_eq!(parse_mountinfo_line("36 35 98:0 /"), None);
    }

    #[test]
    fn probe_lines_round_trip_and_junk_is_reported() {
        let line = ProbeLine::Sysctl { key: "kernel.shmmax".into(), value: Some("1".into()) };
        let text = format!("{}\nnot json\n", serde_json::to_string(&line).unwrap());
        let parsed = parse_output(&text);
        assert_eq!(parsed[0].as_ref().unwrap(), &line);
        assert!(parsed[1].as_ref().unwrap_err().contains("not json"));
    }

    #[test]
    fn lines_from_a_terminal_end_in_crlf_and_still_parse() {
        let line = ProbeLine::Tty {
            stdio: vec!["/dev/pts/0".into(); 3],
            isatty: vec![true; 3],
            controlling: true,
        };
        let text = format!("{}\r\n", serde_json::to_string(&line).unwrap());
        assert_eq!(parse_output(&text)[0].as_ref().unwrap(), &line);
    }

    #[test]
    fn env_var_lookup_needs_the_equals_sign() {
        let report =
            Report { env: vec!["PATHX=1".into(), "PATH=/bin".into()], ..Default::default() };
        assert_eq!(report.env_var("PATH"), Some("/bin"));
        assert_eq!(report.env_var("HOME"), None);
    }
}
