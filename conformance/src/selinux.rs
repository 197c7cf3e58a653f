//! What this host's SELinux accepts: the suite can only ask a runtime for
//! labels the loaded policy defines (the kernel refuses others), and only
//! tell "applied" from "ignored" with a label the suite itself is not
//! running under.

use crate::case::Verdict;
use litmus_bundle::{SelinuxLabels, SELINUX_LABELS};
use std::io::Write;

const SELINUXFS: &str = "/sys/fs/selinux";

/// The first of litmus's label pairs the host's policy knows, or the
/// reason the SELinux cases cannot run here.
pub fn usable_labels() -> Result<SelinuxLabels, Verdict> {
    if !std::path::Path::new(SELINUXFS).join("enforce").exists() {
        return Err(Verdict::Skip("SELinux is not enabled on this host".into()));
    }
    let own = std::fs::read_to_string("/proc/self/attr/current").unwrap_or_default();
    let own = own.trim_end_matches(['\0', '\n']);
    SELINUX_LABELS
        .iter()
        .find(|pair| pair.process != own && is_valid(pair.process) && is_valid(pair.mount))
        .copied()
        .ok_or_else(|| {
            let tried: Vec<&str> = SELINUX_LABELS.iter().map(|p| p.process).collect();
            Verdict::Skip(format!(
                "the loaded SELinux policy defines none of the suite's labels ({}); \
                 litmus_bundle::SELINUX_POLICY_SOURCE defines the first",
                tried.join(", ")
            ))
        })
}

/// Whether the policy accepts `context`: selinuxfs's `context` file checks
/// a context written to it.
fn is_valid(context: &str) -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("{SELINUXFS}/context"))
        .and_then(|mut file| file.write_all(context.as_bytes()))
        .is_ok()
}
