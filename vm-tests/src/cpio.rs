//! The initramfs the kernel unpacks: a newc ("070701") cpio archive,
//! written with the cpio crate, so building one needs no cpio(1).

use cpio::newc::Builder;
use std::io::Write;

pub struct Archive {
    bytes: Vec<u8>,
    next_inode: u32,
}

impl Default for Archive {
    fn default() -> Self {
        Archive { bytes: Vec::new(), next_inode: 1 }
    }
}

impl Archive {
    pub fn dir(&mut self, path: &str) {
        self.entry(path, 0o040755, 2, b"");
    }

    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.entry(path, 0o100000 | (mode & 0o7777), 1, data);
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path, 0o120777, 1, target.as_bytes());
    }

    fn entry(&mut self, path: &str, mode: u32, nlink: u32, data: &[u8]) {
        let inode = self.next_inode;
        self.next_inode += 1;
        let mut writer = Builder::new(path.trim_start_matches('/'))
            .ino(inode)
            .mode(mode)
            .nlink(nlink)
            .write(&mut self.bytes, data.len() as u32);
        writer.write_all(data).and_then(|()| writer.finish().map(drop)).expect("writing to memory");
    }

    /// The archive with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        cpio::newc::trailer(&mut self.bytes).expect("writing to memory");
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_newc_and_four_byte_aligned() {
        let mut archive = Archive::default();
        archive.dir("/bin");
        archive.file("/bin/hello", 0o755, b"hi\n");
        archive.symlink("/bin/sh", "busybox");
        let bytes = archive.finish();
        assert_eq!(bytes.len() % 4, 0);
        assert!(bytes.starts_with(b"070701"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("bin/hello\0"));
        assert!(text.contains("TRAILER!!!\0"));
        // The file's header: mode 100755 and size 3, in hex.
        assert!(text.contains("000081ed"), "{text}");
        assert!(text.contains("00000003"));
    }
}
