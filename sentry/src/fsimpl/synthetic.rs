// SPDX-License-Identifier: Apache-2.0
//! Small synthetic file systems: a directory of fixed entries, used for the mount points that
//! must not show the host's contents (`/proc` and `/sys` until procfs and sysfs exist).

use syscalls::abi::*;
use syscalls::Errno;

use crate::vfs::{getdents_from_list, FileOps, Filesystem};

/// The stat of a synthetic directory.
pub fn dir_stat(dev: u64, ino: u64) -> Stat {
    Stat {
        st_dev: dev,
        st_ino: ino,
        st_nlink: 2,
        st_mode: S_IFDIR | 0o555,
        st_blksize: 4096,
        ..Default::default()
    }
}

/// An empty, read-only directory.
pub struct EmptyFs {
    dev: u64,
}

impl EmptyFs {
    /// An empty file system with device number `dev`.
    pub fn new(dev: u64) -> EmptyFs {
        EmptyFs { dev }
    }
}

impl Filesystem for EmptyFs {
    fn lstat(&self, rel: &str) -> Result<Stat, Errno> {
        if rel.is_empty() {
            Ok(dir_stat(self.dev, 1))
        } else {
            Err(Errno::ENOENT)
        }
    }

    fn readlink(&self, rel: &str) -> Result<Vec<u8>, Errno> {
        self.lstat(rel).and(Err(Errno::EINVAL))
    }

    fn open(&self, rel: &str, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        self.lstat(rel)?;
        if matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR) {
            return Err(Errno::EISDIR);
        }
        Ok(Box::new(EmptyDir { dev: self.dev }))
    }

    fn read_only(&self) -> bool {
        true
    }
}

struct EmptyDir {
    dev: u64,
}

impl FileOps for EmptyDir {
    fn read_at(&self, _buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(dir_stat(self.dev, 1))
    }

    fn getdents(&self, buf: &mut [u8], pos: &mut u64) -> Result<usize, Errno> {
        getdents_from_list(&[(1, DT_DIR, b"."), (1, DT_DIR, b"..")], buf, pos)
    }
}
