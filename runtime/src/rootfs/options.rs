//! Turning a mount's `options` into mount(2) flags, propagation flags and
//! filesystem data, the way mount(8) reads them.

use crate::fault::Fault;
use nix::mount::MsFlags;

#[derive(Debug, PartialEq)]
pub struct MountOptions {
    /// Flags to set.
    pub flags: MsFlags,
    /// Flags whose "no" form was asked for explicitly (e.g. `rw`, `suid`):
    /// they matter on a bind remount, which otherwise keeps the source's.
    pub cleared: MsFlags,
    /// MS_SHARED, MS_PRIVATE, ... possibly with MS_REC; applied in a second call.
    pub propagation: Vec<MsFlags>,
    pub bind: bool,
    pub recursive: bool,
    /// `tmpcopyup` (runc's extension, podman sets it on --read-only's
    /// tmpfs mounts): the tmpfs starts with the contents it covers.
    pub copy_up: bool,
    /// Everything mount(2) does not know as a flag, passed as data.
    pub data: Vec<String>,
    /// The recursive options (`rro`, `rnosuid`...): mount_setattr(2)
    /// attributes for the mount and every mount under it.
    pub recursive_attrs: RecursiveAttrs,
    /// `idmap` (Some(false)) or `ridmap` (Some(true)): an idmapped mount,
    /// made with mount_setattr, never passed to mount(2).
    pub idmap: Option<bool>,
}

/// mount_setattr(2)'s attr_set and attr_clr (MOUNT_ATTR_*).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RecursiveAttrs {
    pub set: u64,
    pub clear: u64,
}

impl RecursiveAttrs {
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clear == 0
    }
}

/// <linux/mount.h>
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The atime setting is a value within this mask, not a flag.
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;
pub const MOUNT_ATTR_IDMAP: u64 = 0x100000;

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            bind: false,
            recursive: false,
            copy_up: false,
            data: Vec::new(),
            recursive_attrs: RecursiveAttrs::default(),
            idmap: None,
        }
    }
}

/// Linux 5.10's MS_NOSYMFOLLOW, which nix does not name.
const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

impl MountOptions {
    /// Every option name `parse` knows as a flag (the rest go to the filesystem).
    pub const KNOWN: &'static [&'static str] = &[
        "defaults",
        "ro",
        "rw",
        "nosuid",
        "suid",
        "nodev",
        "dev",
        "noexec",
        "exec",
        "sync",
        "async",
        "dirsync",
        "remount",
        "mand",
        "nomand",
        "noatime",
        "atime",
        "nodiratime",
        "diratime",
        "relatime",
        "norelatime",
        "strictatime",
        "nostrictatime",
        "silent",
        "loud",
        "lazytime",
        "nolazytime",
        "iversion",
        "noiversion",
        "nosymfollow",
        "symfollow",
        "bind",
        "rbind",
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
        "tmpcopyup",
        "rro",
        "rrw",
        "rnosuid",
        "rsuid",
        "rnodev",
        "rdev",
        "rnoexec",
        "rexec",
        "rnodiratime",
        "rdiratime",
        "rrelatime",
        "rnorelatime",
        "rnoatime",
        "ratime",
        "rstrictatime",
        "rnostrictatime",
        "rnosymfollow",
        "rsymfollow",
        "idmap",
        "ridmap",
    ];

    pub fn parse(options: &[String]) -> MountOptions {
        let mut parsed = MountOptions::default();
        for option in options {
            let set = |p: &mut MountOptions, f: MsFlags| {
                p.flags |= f;
                p.cleared -= f;
            };
            let clear = |p: &mut MountOptions, f: MsFlags| {
                if Fault::ClearingOptionsIgnored.active() {
                    return;
                }
                p.flags -= f;
                p.cleared |= f;
            };
            match option.as_str() {
                "defaults" => {}
                "ro" => set(&mut parsed, MsFlags::MS_RDONLY),
                "rw" => clear(&mut parsed, MsFlags::MS_RDONLY),
                "nosuid" => set(&mut parsed, MsFlags::MS_NOSUID),
                "suid" => clear(&mut parsed, MsFlags::MS_NOSUID),
                "nodev" => set(&mut parsed, MsFlags::MS_NODEV),
                "dev" => clear(&mut parsed, MsFlags::MS_NODEV),
                "noexec" => set(&mut parsed, MsFlags::MS_NOEXEC),
                "exec" => clear(&mut parsed, MsFlags::MS_NOEXEC),
                "sync" => set(&mut parsed, MsFlags::MS_SYNCHRONOUS),
                "async" => clear(&mut parsed, MsFlags::MS_SYNCHRONOUS),
                "dirsync" => set(&mut parsed, MsFlags::MS_DIRSYNC),
                "remount" if Fault::RemountIgnored.active() => {}
                "remount" => set(&mut parsed, MsFlags::MS_REMOUNT),
                "mand" => set(&mut parsed, MsFlags::MS_MANDLOCK),
                "nomand" => clear(&mut parsed, MsFlags::MS_MANDLOCK),
                "noatime" => set(&mut parsed, MsFlags::MS_NOATIME),
                "atime" => clear(&mut parsed, MsFlags::MS_NOATIME),
                "nodiratime" => set(&mut parsed, MsFlags::MS_NODIRATIME),
                "diratime" => clear(&mut parsed, MsFlags::MS_NODIRATIME),
                "relatime" => set(&mut parsed, MsFlags::MS_RELATIME),
                "norelatime" => clear(&mut parsed, MsFlags::MS_RELATIME),
                "strictatime" => set(&mut parsed, MsFlags::MS_STRICTATIME),
                "nostrictatime" => clear(&mut parsed, MsFlags::MS_STRICTATIME),
                "silent" => set(&mut parsed, MsFlags::MS_SILENT),
                "loud" => clear(&mut parsed, MsFlags::MS_SILENT),
                "lazytime" => set(&mut parsed, MsFlags::MS_LAZYTIME),
                "nolazytime" => clear(&mut parsed, MsFlags::MS_LAZYTIME),
                "iversion" => set(&mut parsed, MsFlags::MS_I_VERSION),
                "noiversion" => clear(&mut parsed, MsFlags::MS_I_VERSION),
                "nosymfollow" => set(&mut parsed, MS_NOSYMFOLLOW),
                "symfollow" => clear(&mut parsed, MS_NOSYMFOLLOW),
                "bind" => parsed.bind = true,
                "rbind" => {
                    parsed.bind = true;
                    parsed.recursive = true;
                }
                "private" => parsed.propagation.push(MsFlags::MS_PRIVATE),
                "rprivate" => parsed.propagation.push(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
                "shared" => parsed.propagation.push(MsFlags::MS_SHARED),
                "rshared" => parsed.propagation.push(MsFlags::MS_SHARED | MsFlags::MS_REC),
                "slave" => parsed.propagation.push(MsFlags::MS_SLAVE),
                "rslave" => parsed.propagation.push(MsFlags::MS_SLAVE | MsFlags::MS_REC),
                "unbindable" => parsed.propagation.push(MsFlags::MS_UNBINDABLE),
                "runbindable" => parsed.propagation.push(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
                "tmpcopyup" => parsed.copy_up = true,
                "idmap" => parsed.idmap = Some(parsed.idmap == Some(true)),
                "ridmap" => parsed.idmap = Some(true),
                other => match recursive_attr(other) {
                    Some((set, clear)) => {
                        let attrs = &mut parsed.recursive_attrs;
                        // A later atime value replaces an earlier one.
                        if clear & MOUNT_ATTR__ATIME == MOUNT_ATTR__ATIME {
                            attrs.set &= !MOUNT_ATTR__ATIME;
                        }
                        attrs.set = (attrs.set & !clear) | set;
                        attrs.clear = (attrs.clear & !set) | clear;
                    }
                    None => parsed.data.push(other.to_string()),
                },
            }
        }
        parsed
    }

    /// Filesystem data as one comma-separated string, or None.
    pub fn data(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }
}

/// A recursive option's (attr_set, attr_clr). Like their mount(8)
/// namesakes, `ratime`, `rnorelatime` and `rnostrictatime` give the
/// kernel's default, relatime; an atime value always clears the whole
/// atime field (mount_setattr(2) refuses a partial clear).
fn recursive_attr(option: &str) -> Option<(u64, u64)> {
    const ATIME: u64 = MOUNT_ATTR__ATIME;
    Some(match option {
        "rro" => (MOUNT_ATTR_RDONLY, 0),
        "rrw" => (0, MOUNT_ATTR_RDONLY),
        "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
        "rsuid" => (0, MOUNT_ATTR_NOSUID),
        "rnodev" => (MOUNT_ATTR_NODEV, 0),
        "rdev" => (0, MOUNT_ATTR_NODEV),
        "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
        "rexec" => (0, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
        "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
        "rrelatime" | "ratime" | "rnorelatime" | "rnostrictatime" => (MOUNT_ATTR_RELATIME, ATIME),
        "rnoatime" => (MOUNT_ATTR_NOATIME, ATIME),
        "rstrictatime" => (MOUNT_ATTR_STRICTATIME, ATIME),
        "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
        "rsymfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// rootfsPropagation / propagation option names to flags.
pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    MountOptions::parse(&[name.to_string()]).propagation.first().copied()
}

/// A mount point field of /proc/self/mountinfo, with its \ooo escapes
/// (space, tab, newline, backslash) turned back into characters.
pub fn unescape_mountinfo(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        match rest.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(o, 8).ok()) {
            Some(byte) => {
                out.push(byte as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> MountOptions {
        MountOptions::parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_propagation_and_data_are_separated() {
        let o = parse(&["nosuid", "strictatime", "mode=755", "size=65536k", "rprivate", "ro"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME | MsFlags::MS_RDONLY);
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.data().as_deref(), Some("mode=755,size=65536k"));
        assert!(!o.bind);
    }

    #[test]
    fn later_options_override_earlier_ones() {
        let o = parse(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn tmpcopyup_is_ours_not_the_filesystems() {
        let parsed = parse(&["nosuid", "tmpcopyup", "size=1m"]);
        assert!(parsed.copy_up);
        assert_eq!(parsed.data(), Some("size=1m".to_string()));
    }

    #[test]
    fn every_known_option_is_ours_and_never_the_filesystems_data() {
        for option in MountOptions::KNOWN {
            assert_eq!(parse(&[option]).data(), None, "{option} went to the filesystem");
        }
        assert!(parse(&["lazytime"]).flags.contains(MsFlags::MS_LAZYTIME));
        assert!(parse(&["nosymfollow", "symfollow"]).cleared.contains(MS_NOSYMFOLLOW));
    }

    #[test]
    fn recursive_options_become_mount_setattr_attributes() {
        let o = parse(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.data(), None);
        assert_eq!(
            o.recursive_attrs,
            RecursiveAttrs {
                set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME,
                clear: MOUNT_ATTR__ATIME
            }
        );
        // Later options win, and an atime value replaces the one before.
        let o = parse(&["rro", "rrw", "rnoatime", "rstrictatime"]);
        assert_eq!(
            o.recursive_attrs,
            RecursiveAttrs {
                set: MOUNT_ATTR_STRICTATIME,
                clear: MOUNT_ATTR_RDONLY | MOUNT_ATTR__ATIME
            }
        );
        assert!(parse(&["ro"]).recursive_attrs.is_empty());
    }

    #[test]
    fn idmap_and_ridmap_are_ours_and_ridmap_wins() {
        assert_eq!(parse(&["bind", "idmap"]).idmap, Some(false));
        assert_eq!(parse(&["rbind", "ridmap"]).idmap, Some(true));
        assert_eq!(parse(&["ridmap", "idmap"]).idmap, Some(true));
        assert_eq!(parse(&["bind", "idmap"]).data(), None);
        assert_eq!(parse(&["bind"]).idmap, None);
    }

    #[test]
    fn rbind_is_a_recursive_bind() {
        let o = parse(&["rbind"]);
        assert!(o.bind && o.recursive);
        assert_eq!(propagation_flag("rslave"), Some(MsFlags::MS_SLAVE | MsFlags::MS_REC));
        assert_eq!(propagation_flag("bogus"), None);
    }
}
