//! cgroup v2 has no devices.allow/deny files: device access is decided by
//! an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the
//! cgroup. This builds that program from `linux.resources.devices` (plus
//! the default rules runc adds), loads it and attaches it, as runc and
//! crun do.
//!
//! The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32
//! major; u32 minor; }` (access_type: device type in the low 16 bits,
//! access bits in the high 16) and returns 1 to allow, 0 to deny. Rules are
//! checked from the last to the first, so the last matching rule wins, as
//! with v1's allow/deny files; nothing matching means deny.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One eBPF instruction (struct bpf_insn).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    /// dst in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | dst, off, imm }
}

// Opcodes (linux/bpf_common.h, linux/bpf.h).
const LDX_MEM_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const ALU64_AND_K: u8 = 0x57;
const ALU64_RSH_K: u8 = 0x77;
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_MOV_X: u8 = 0xbf;
const JMP_JNE_K: u8 = 0x55; // if dst != imm goto +off
const JMP_JNE_X: u8 = 0x5d; // if dst != src goto +off
const JMP_EXIT: u8 = 0x95;

// bpf_cgroup_dev_ctx values.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// The program for `rules`, last rule first.
pub fn program(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>> {
    // r2 = type, r3 = access, r4 = major, r5 = minor.
    let mut prog = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU64_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU64_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let block = rule_block(rule)?;
        // A rule matching every device (engines put "deny all" first)
        // decides everything left: whatever followed it would be
        // unreachable, which the kernel's verifier refuses.
        let decides_all = block.len() == 2 && block[1].code == JMP_EXIT;
        prog.extend(block);
        // (No fault: the program only runs on cgroup v2, which the
        // fault meta-test's host lacks; the unit test checks reachability.)
        if decides_all {
            return Ok(prog);
        }
    }
    prog.extend([insn(ALU64_MOV_K, 0, 0, 0, 0), insn(JMP_EXIT, 0, 0, 0, 0)]);
    Ok(prog)
}

/// The checks of one rule, each jumping past the block when it does not
/// match, then "return allow".
fn rule_block(rule: &LinuxDeviceCgroup) -> Result<Vec<Insn>> {
    // (instructions, whether the last one is the conditional jump).
    let mut checks: Vec<Vec<Insn>> = Vec::new();
    match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => {}
        LinuxDeviceType::C | LinuxDeviceType::U => {
            checks.push(vec![insn(JMP_JNE_K, 2, 0, 0, DEV_CHAR)])
        }
        LinuxDeviceType::B => checks.push(vec![insn(JMP_JNE_K, 2, 0, 0, DEV_BLOCK)]),
        LinuxDeviceType::P => return Ok(Vec::new()), // fifos are not devices
    }
    let access = access_bits(rule.access().as_deref().unwrap_or("rwm"))?;
    if access != ACC_MKNOD | ACC_READ | ACC_WRITE {
        // Matches when every requested bit is among the rule's.
        checks.push(vec![
            insn(ALU64_MOV_X, 1, 3, 0, 0),
            insn(ALU64_AND_K, 1, 0, 0, access),
            insn(JMP_JNE_X, 1, 3, 0, 0),
        ]);
    }
    if let Some(major) = rule.major().filter(|m| *m >= 0) {
        checks.push(vec![insn(JMP_JNE_K, 4, 0, 0, major as i32)]);
    }
    if let Some(minor) = rule.minor().filter(|m| *m >= 0) {
        checks.push(vec![insn(JMP_JNE_K, 5, 0, 0, minor as i32)]);
    }
    let verdict = [insn(ALU64_MOV_K, 0, 0, 0, i32::from(rule.allow())), insn(JMP_EXIT, 0, 0, 0, 0)];
    let total: usize = checks.iter().map(Vec::len).sum::<usize>() + verdict.len();
    let mut block = Vec::with_capacity(total);
    for check in checks {
        let last = check.len() - 1;
        for (i, mut ins) in check.into_iter().enumerate() {
            if i == last {
                // Jump to the first instruction after this block.
                ins.off = (total - block.len() - 1) as i16;
            }
            block.push(ins);
        }
    }
    block.extend(verdict);
    Ok(block)
}

fn access_bits(access: &str) -> Result<i32> {
    access.chars().try_fold(0, |bits, c| {
        Ok(bits
            | match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                other => bail!("linux.resources.devices: access {other:?} is not r, w or m"),
            })
    })
}

/// union bpf_attr for BPF_PROG_LOAD (the fields up to prog_flags). Every
/// byte is a field: the kernel reads all `size_of` bytes, and padding
/// after kern_version would be prog_flags holding whatever the stack held
/// (EINVAL from the load whenever it was not zero).
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

/// union bpf_attr for BPF_PROG_ATTACH.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

const BPF_PROG_LOAD: i64 = 5;
const BPF_PROG_ATTACH: i64 = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// Loads the program for `rules` and attaches it to the cgroup at `dir`.
pub fn attach(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let prog = program(rules)?;
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 64 * 1024];
    let load = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
    };
    // SAFETY: attr and the buffers it points to (instructions, license,
    // log) live on this frame for the whole call, with their true sizes.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &load) };
    if fd < 0 {
        let verifier = String::from_utf8_lossy(&log);
        return Err(std::io::Error::last_os_error()).with_context(|| {
            format!(
                "linux.resources.devices: loading the eBPF device program: {}",
                verifier.trim_end_matches('\0').trim()
            )
        });
    }
    // SAFETY: BPF_PROG_LOAD succeeded: fd is a new descriptor nothing else owns.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cgroup =
        std::fs::File::open(dir).with_context(|| format!("opening cgroup {}", dir.display()))?;
    let attach = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    // SAFETY: attr holds only fds (borrowed for the call) and integers.
    let rc = unsafe { bpf(BPF_PROG_ATTACH, &attach) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error())
            .context("linux.resources.devices: attaching the eBPF device program");
    }
    // Attached, the program lives with the cgroup; our fd can go.
    Ok(())
}

/// bpf(2) with an attribute struct of command `cmd`.
///
/// # Safety
/// Every pointer inside `attr` must be valid for the call, with the sizes
/// `attr` gives.
unsafe fn bpf<T>(cmd: i64, attr: &T) -> i64 {
    // SAFETY: attr is a live reference of its own size; the pointers it
    // holds are the caller's promise.
    unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *const T, std::mem::size_of::<T>()) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_load_attribute_has_no_padding_the_kernel_would_read() {
        use std::mem::{offset_of, size_of};
        // linux/bpf.h: kern_version at 40, prog_flags at 44; the struct
        // ends there, so no byte goes unwritten.
        assert_eq!(offset_of!(super::ProgLoadAttr, kern_version), 40);
        assert_eq!(offset_of!(super::ProgLoadAttr, prog_flags), 44);
        assert_eq!(size_of::<super::ProgLoadAttr>(), 48);
        assert_eq!(size_of::<super::ProgAttachAttr>(), 16);
    }

    use super::*;

    fn rule(
        allow: bool,
        typ: Option<LinuxDeviceType>,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(allow)
            .set_typ(typ)
            .set_major(major)
            .set_minor(minor)
            .set_access(Some(access.into()));
        r
    }

    /// Runs the program the way the kernel would, on one request.
    fn decide(prog: &[Insn], typ: i32, access: i32, major: i32, minor: i32) -> i64 {
        let ctx = [((access << 16) | typ) as i64, major as i64, minor as i64];
        let mut r = [0i64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = ctx[i.off as usize / 4],
                ALU64_AND_K => r[dst] &= i.imm as i64,
                ALU64_RSH_K => r[dst] >>= i.imm,
                ALU64_MOV_K => r[dst] = i.imm as i64,
                ALU64_MOV_X => r[dst] = r[src],
                JMP_JNE_K if r[dst] != i.imm as i64 => pc += i.off as usize,
                JMP_JNE_X if r[dst] != r[src] => pc += i.off as usize,
                JMP_JNE_K | JMP_JNE_X => {}
                JMP_EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn the_last_matching_rule_wins_and_nothing_matching_is_denied() {
        let c = Some(LinuxDeviceType::C);
        let prog = program(&[
            rule(false, None, None, None, "rwm"),
            rule(true, c, Some(1), Some(3), "rwm"),
            rule(true, c, Some(1), None, "r"),
            rule(false, c, Some(1), Some(5), "rwm"),
        ])
        .unwrap();
        assert_eq!(decide(&prog, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1, "null rw");
        assert_eq!(decide(&prog, DEV_CHAR, ACC_READ, 1, 9), 1, "urandom r");
        assert_eq!(decide(&prog, DEV_CHAR, ACC_WRITE, 1, 9), 0, "urandom w");
        assert_eq!(decide(&prog, DEV_CHAR, ACC_READ, 1, 5), 0, "zero denied last");
        assert_eq!(decide(&prog, DEV_BLOCK, ACC_READ, 1, 3), 0, "block 1:3");
        assert_eq!(decide(&prog, DEV_CHAR, ACC_READ, 4, 1), 0, "nothing matches");
    }

    /// The verifier's rule: every instruction is reachable from the first.
    fn all_reachable(prog: &[Insn]) -> bool {
        let mut seen = vec![false; prog.len()];
        let mut todo = vec![0usize];
        while let Some(pc) = todo.pop() {
            if pc >= prog.len() || seen[pc] {
                continue;
            }
            seen[pc] = true;
            match prog[pc].code {
                JMP_EXIT => {}
                JMP_JNE_K | JMP_JNE_X => {
                    todo.push(pc + 1);
                    todo.push(pc + 1 + prog[pc].off as usize);
                }
                _ => todo.push(pc + 1),
            }
        }
        seen.iter().all(|s| *s)
    }

    #[test]
    fn a_rule_matching_everything_ends_the_program() {
        let c = Some(LinuxDeviceType::C);
        // As podman and containerd send them: deny all, then allow-list.
        let engine_rules = [
            rule(false, None, None, None, "rwm"),
            rule(true, c, Some(1), Some(3), "rwm"),
            rule(true, c, Some(136), None, "rwm"),
        ];
        let prog = program(&engine_rules).unwrap();
        assert!(all_reachable(&prog), "unreachable instructions");
        assert_eq!(decide(&prog, DEV_CHAR, ACC_READ, 1, 3), 1);
        assert_eq!(decide(&prog, DEV_CHAR, ACC_READ, 136, 4), 1);
        assert_eq!(decide(&prog, DEV_CHAR, ACC_READ, 1, 5), 0);
        // An allow-all in the middle hides the rules before it.
        let prog = program(&[
            rule(false, c, Some(1), Some(5), "rwm"),
            rule(true, None, None, None, "rwm"),
            rule(false, c, Some(1), Some(3), "w"),
        ])
        .unwrap();
        assert!(all_reachable(&prog));
        assert_eq!(decide(&prog, DEV_CHAR, ACC_READ, 1, 5), 1);
        assert_eq!(decide(&prog, DEV_CHAR, ACC_WRITE, 1, 3), 0);
    }

    #[test]
    fn an_unknown_access_letter_is_refused_by_name() {
        let err = program(&[rule(true, None, None, None, "rx")]).unwrap_err();
        assert!(format!("{err:#}").contains("linux.resources.devices"), "{err:#}");
    }
}
