//! Just enough ELF reading to tell a static binary from a dynamic one.
//!
//! A binary copied into a container rootfs that has no libc must not ask for
//! a program interpreter (PT_INTERP); that is the whole test.

use anyhow::{bail, Context, Result};
use std::path::Path;

const PT_INTERP: u32 = 3;

/// True when `path` is a 64-bit little-endian ELF without a PT_INTERP header.
pub fn is_static_elf(path: &Path) -> Result<bool> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        bail!("{} is not an ELF binary", path.display());
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        bail!("{} is not a 64-bit little-endian ELF", path.display());
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().expect("8 bytes")) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let header = bytes
            .get(at..at + 4)
            .with_context(|| format!("{}: truncated program header", path.display()))?;
        if u32::from_le_bytes(header.try_into().expect("4 bytes")) == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_binary_itself_is_dynamic() {
        let me = std::env::current_exe().unwrap();
        // Test binaries are built without crt-static, so they ask for ld.so.
        assert!(!is_static_elf(&me).unwrap());
    }

    #[test]
    fn non_elf_is_an_error_naming_the_file() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"#!/bin/sh\n").unwrap();
        let err = is_static_elf(f.path()).unwrap_err().to_string();
        assert!(err.contains("not an ELF"), "{err}");
    }
}
