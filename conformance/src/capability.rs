//! Capability numbers as the kernel counts them: the probe reports sets as
//! bit masks, configs name capabilities. The suite never links the runtime
//! crate, so it keeps its own table.

use oci_spec::runtime::Capability;

/// Every capability the runtime-spec names, in kernel order (index = number).
pub const ALL: [Capability; 41] = {
    use Capability::*;
    [
        Chown,
        DacOverride,
        DacReadSearch,
        Fowner,
        Fsetid,
        Kill,
        Setgid,
        Setuid,
        Setpcap,
        LinuxImmutable,
        NetBindService,
        NetBroadcast,
        NetAdmin,
        NetRaw,
        IpcLock,
        IpcOwner,
        SysModule,
        SysRawio,
        SysChroot,
        SysPtrace,
        SysPacct,
        SysAdmin,
        SysBoot,
        SysNice,
        SysResource,
        SysTime,
        SysTtyConfig,
        Mknod,
        Lease,
        AuditWrite,
        AuditControl,
        Setfcap,
        MacOverride,
        MacAdmin,
        Syslog,
        WakeAlarm,
        BlockSuspend,
        AuditRead,
        Perfmon,
        Bpf,
        CheckpointRestore,
    ]
};

/// The kernel's number for `cap`.
pub fn number(cap: Capability) -> u32 {
    ALL.iter().position(|c| *c == cap).expect("ALL lists every capability") as u32
}

/// The bit mask of a set, as /proc/self/status shows it.
pub fn mask<'a>(caps: impl IntoIterator<Item = &'a Capability>) -> u64 {
    caps.into_iter().fold(0, |m, c| m | 1u64 << number(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_kernel_header() {
        assert_eq!(number(Capability::Chown), 0);
        assert_eq!(number(Capability::NetRaw), 13);
        assert_eq!(number(Capability::SysAdmin), 21);
        assert_eq!(number(Capability::AuditWrite), 29);
        assert_eq!(number(Capability::CheckpointRestore), 40);
        assert_eq!(mask(&[Capability::Kill, Capability::Chown]), 0b100001);
    }

    #[test]
    fn names_match_the_position() {
        // CAP_CHOWN... as serialized: a misplaced entry would pair a name
        // with the wrong number.
        let names: Vec<String> = ALL
            .iter()
            .map(|c| serde_json::to_value(c).unwrap().as_str().unwrap().to_string())
            .collect();
        assert_eq!(names[10], "CAP_NET_BIND_SERVICE");
        assert_eq!(names[27], "CAP_MKNOD");
        assert_eq!(names[34], "CAP_SYSLOG");
        assert_eq!(names[38], "CAP_PERFMON");
    }
}
