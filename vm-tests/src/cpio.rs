//! A newc ("070701") cpio archive writer: the initramfs format the kernel
//! unpacks. Written here so building an initramfs needs no cpio(1).

use std::io::Write;

pub struct Archive {
    bytes: Vec<u8>,
    next_inode: u32,
}

impl Default for Archive {
    fn default() -> Self {
        Archive {
            bytes: Vec::new(),
            next_inode: 1,
        }
    }
}

impl Archive {
    pub fn dir(&mut self, path: &str) {
        self.entry(path, 0o040755, b"");
    }

    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.entry(path, 0o100000 | (mode & 0o7777), data);
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path, 0o120777, target.as_bytes());
    }

    fn entry(&mut self, path: &str, mode: u32, data: &[u8]) {
        let name = path.trim_start_matches('/');
        let inode = self.next_inode;
        self.next_inode += 1;
        let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
        let fields = [
            inode,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0, // check
        ];
        let _ = write!(self.bytes, "070701");
        for field in fields {
            let _ = write!(self.bytes, "{field:08x}");
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    /// The archive with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, b"");
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
