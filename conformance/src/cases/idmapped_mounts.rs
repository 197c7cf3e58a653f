//! config.md "Linux mount options" `idmap` / `ridmap` (runtime-spec 1.2):
//! a bind mount that shows its source's owners through the mount's id
//! mappings. runc and crun read a mapping as "containerID: the id on the
//! source filesystem, hostID: the id it shows as", and so does the case.

use super::filesystem::{add_mounts, bind};
use crate::case::{expect_eq, Checked, Verdict};
use crate::ctx::Ctx;
use oci_spec::runtime::{LinuxIdMapping, Mount};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

crate::cases! {
    Filesystem: {
        idmapped_bind_mount_shows_mapped_owners => [CONFIG_MOUNTS_IDMAP],
        idmap_without_mappings_or_user_namespace_is_an_error => [CONFIG_MOUNTS_IDMAP],
    }
}

/// A skip unless `dir`'s filesystem takes idmapped mounts on this kernel
/// (mount_setattr came in 5.12; each filesystem opted in later or not).
pub(super) fn idmappable(dir: &Path) -> Checked {
    let kernel = crate::realworld::Target::host_kernel();
    let magic = nix::sys::statfs::statfs(dir)?.filesystem_type().0 as u64;
    // (statfs magic, name, first kernel with idmapped mounts on it)
    const SUPPORTED: &[(u64, &str, (u32, u32))] = &[
        (0xEF53, "ext4", (5, 12)),
        (0x5846_5342, "xfs", (5, 12)),
        (0x9123_683E, "btrfs", (5, 15)),
        (0x0102_1994, "tmpfs", (6, 3)),
        (0x794C_7630, "overlayfs", (5, 19)),
    ];
    match SUPPORTED.iter().find(|(m, _, _)| *m == magic) {
        Some((_, _, since)) if kernel >= *since => Ok(()),
        Some((_, name, since)) => Err(Verdict::Skip(format!(
            "idmapped mounts on {name} came in Linux {}.{}; this kernel is {}.{}",
            since.0, since.1, kernel.0, kernel.1
        ))),
        None => Err(Verdict::Skip(format!(
            "the suite's work directory is on a filesystem (statfs magic {magic:#x}) not known to \
             take idmapped mounts"
        ))),
    }
}

/// `source` at /litmus/idmap, idmapped 1000 → 0 (uids and gids).
pub(super) fn idmapped_bind(source: &Path) -> Mount {
    let mut mount = bind("/litmus/idmap", source, &["bind", "idmap"]);
    mount.set_uid_mappings(Some(mapping(1000, 0))).set_gid_mappings(Some(mapping(1000, 0)));
    mount
}

fn mapping(container: u32, host: u32) -> Vec<LinuxIdMapping> {
    vec![serde_json::from_value(
        serde_json::json!({"containerID": container, "hostID": host, "size": 1}),
    )
    .expect("a mapping")]
}

/// A host file owned by 1000:1000, bind-mounted with `idmap` and the
/// mappings 1000 → 0: inside (no user namespace) it belongs to 0:0, and
/// on the host it still belongs to 1000:1000 (mapped, not chowned).
fn idmapped_bind_mount_shows_mapped_owners(cx: &mut Ctx) -> Checked {
    let source = cx.work().join("idmap-source");
    std::fs::create_dir_all(&source)?;
    idmappable(&source)?;
    let file = source.join("owned");
    std::fs::write(&file, b"idmapped\n")?;
    std::os::unix::fs::chown(&file, Some(1000), Some(1000))?;
    let mut spec = cx.spec(&["path", "/litmus/idmap/owned"]);
    add_mounts(&mut spec, vec![idmapped_bind(&source)]);
    let run = cx.run_probe(&spec)?;
    let seen = run.path("/litmus/idmap/owned")?;
    expect_eq(
        "the file's owner through the idmapped mount",
        (Some(0), Some(0)),
        (seen.uid, seen.gid),
    )?;
    let host = std::fs::metadata(&file)?;
    expect_eq("the file's owner on the host afterwards", (1000, 1000), (host.uid(), host.gid()))
}

/// `idmap` with no mappings on the mount and no user namespace for the
/// container has nothing to map by: the spec requires an error.
fn idmap_without_mappings_or_user_namespace_is_an_error(cx: &mut Ctx) -> Checked {
    let source = cx.work().join("idmap-unmapped");
    std::fs::create_dir_all(&source)?;
    let mut spec = cx.spec(&["marker", "/ran", "exit", "0"]);
    add_mounts(&mut spec, vec![bind("/litmus/idmap", &source, &["bind", "idmap"])]);
    cx.refused_at_create_or_start(&spec, "an idmap mount without mappings or user namespace")
}
