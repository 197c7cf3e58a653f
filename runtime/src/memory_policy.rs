//! linux.memoryPolicy (runtime-spec 1.3): the NUMA policy the container's
//! process starts with, set by set_mempolicy(2) in init. The policy is a
//! thread attribute that fork and execve keep, so setting it in init just
//! before the exec gives it to the user's program and its children.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType};

/// <linux/mempolicy.h>
const MPOL_F_NUMA_BALANCING: i32 = 1 << 13;
const MPOL_F_RELATIVE_NODES: i32 = 1 << 14;
const MPOL_F_STATIC_NODES: i32 = 1 << 15;

/// The names features.md lists, in the spec's spelling.
pub const MODES: &[&str] = &[
    "MPOL_DEFAULT",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_LOCAL",
];
pub const FLAGS: &[&str] =
    &["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"];

/// set_mempolicy's arguments, checked.
#[derive(Debug, PartialEq)]
pub struct Policy {
    /// The mode number ORed with the flag bits.
    pub mode: i32,
    /// One bit per node, 64 nodes per word.
    pub nodemask: Vec<u64>,
}

fn mode_number(mode: MemoryPolicyModeType) -> i32 {
    use MemoryPolicyModeType as M;
    match mode {
        M::MpolDefault => 0,
        M::MpolPreferred => 1,
        M::MpolBind => 2,
        M::MpolInterleave => 3,
        M::MpolLocal => 4,
        M::MpolPreferredMany => 5,
        M::MpolWeightedInterleave => 6,
    }
}

/// "0-3,7" → a nodemask. MAX_NUMNODES is at most 1024 everywhere.
pub fn parse_nodes(text: &str) -> Result<Vec<u64>> {
    crate::process::parse_cpuset_list(text, 1024)
}

/// Checks the policy as set_mempolicy(2) would, naming the field: the
/// kernel's EINVAL does not say which part is wrong.
pub fn check(policy: &LinuxMemoryPolicy) -> Result<Policy> {
    use MemoryPolicyModeType as M;
    let field = "linux.memoryPolicy";
    let nodes = policy.nodes().as_deref().unwrap_or("");
    let nodemask = parse_nodes(nodes).with_context(|| format!("{field}.nodes"))?;
    let empty = nodemask.iter().all(|w| *w == 0);
    let mode = policy.mode();
    match mode {
        M::MpolDefault | M::MpolLocal if !empty => {
            bail!("{field}.nodes: {mode} takes no nodes (given {nodes:?})")
        }
        M::MpolBind | M::MpolInterleave | M::MpolWeightedInterleave | M::MpolPreferredMany
            if empty =>
        {
            bail!("{field}.nodes: {mode} needs at least one node")
        }
        _ => {}
    }
    let mut bits = 0;
    for flag in policy.flags().iter().flatten() {
        bits |= match flag {
            MemoryPolicyFlagType::MpolFNumaBalancing => MPOL_F_NUMA_BALANCING,
            MemoryPolicyFlagType::MpolFRelativeNodes => MPOL_F_RELATIVE_NODES,
            MemoryPolicyFlagType::MpolFStaticNodes => MPOL_F_STATIC_NODES,
        };
    }
    if bits & MPOL_F_STATIC_NODES != 0 && bits & MPOL_F_RELATIVE_NODES != 0 {
        bail!("{field}.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other");
    }
    if matches!(mode, M::MpolDefault | M::MpolLocal) && bits != 0 {
        bail!("{field}.flags: {mode} takes no flags");
    }
    Ok(Policy { mode: mode_number(mode) | bits, nodemask })
}

/// Sets the policy on the calling thread.
pub fn apply(policy: &LinuxMemoryPolicy) -> Result<()> {
    let Policy { mode, nodemask } = check(policy)?;
    // The kernel reads maxnode - 1 bits (set_mempolicy(2), BUGS).
    let maxnode = nodemask.len() as u64 * 64 + 1;
    let mask = if nodemask.is_empty() { std::ptr::null() } else { nodemask.as_ptr() };
    // SAFETY: `mask` is null or points to nodemask.len() words, which cover
    // the maxnode - 1 bits the kernel reads.
    let rc = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, mask, maxnode) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        let nodes = policy.nodes().as_deref().unwrap_or("");
        return Err(e).with_context(|| {
            format!("linux.memoryPolicy: set_mempolicy({} nodes {nodes:?})", policy.mode())
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> LinuxMemoryPolicy {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn node_lists_become_masks() {
        assert_eq!(parse_nodes("").unwrap(), Vec::<u64>::new());
        assert_eq!(parse_nodes("0").unwrap(), vec![1]);
        assert_eq!(parse_nodes("0-3,7").unwrap(), vec![0b1000_1111]);
        assert_eq!(parse_nodes("64").unwrap(), vec![0, 1]);
        for bad in ["x", "3-1", "1-", "2000"] {
            assert!(parse_nodes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes_and_flags_become_the_kernels_numbers() {
        let p =
            check(&policy(r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_STATIC_NODES"]}"#));
        assert_eq!(p.unwrap(), Policy { mode: 2 | (1 << 15), nodemask: vec![1] });
        let p = check(&policy(r#"{"mode":"MPOL_PREFERRED"}"#)).unwrap();
        assert_eq!(p, Policy { mode: 1, nodemask: vec![] });
    }

    #[test]
    fn impossible_policies_are_refused_naming_the_field() {
        for (json, field) in [
            (r#"{"mode":"MPOL_DEFAULT","nodes":"0"}"#, "linux.memoryPolicy.nodes"),
            (r#"{"mode":"MPOL_LOCAL","nodes":"1"}"#, "linux.memoryPolicy.nodes"),
            (r#"{"mode":"MPOL_BIND"}"#, "linux.memoryPolicy.nodes"),
            (r#"{"mode":"MPOL_INTERLEAVE","nodes":"a"}"#, "linux.memoryPolicy.nodes"),
            (
                r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_STATIC_NODES","MPOL_F_RELATIVE_NODES"]}"#,
                "linux.memoryPolicy.flags",
            ),
        ] {
            let e = format!("{:#}", check(&policy(json)).unwrap_err());
            assert!(e.starts_with(field), "{json}: {e}");
        }
    }
}
