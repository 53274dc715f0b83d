// SPDX-License-Identifier: Apache-2.0
//! Synthetic file systems built from fixed trees: directories of fixed entries, symlinks, and
//! read-only files whose contents are generated when opened (devfs, sysfs, the empty /proc).

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use crate::vfs::inode::synthetic_statfs;
use crate::vfs::{dtype_of, getdents_from_list, FileOps, Filesystem, Inode};

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

/// A directory of fixed entries.
pub struct SynthDir {
    dev: u64,
    ino: u64,
    mode: u32,
    entries: Vec<(Vec<u8>, Arc<dyn Inode>)>,
}

impl SynthDir {
    /// A directory with these entries.
    pub fn new(dev: u64, ino: u64, entries: Vec<(&str, Arc<dyn Inode>)>) -> Arc<SynthDir> {
        Self::with_mode(dev, ino, 0o555, entries)
    }

    /// The same, with permission bits `perm` (e.g. 0o755 for /dev).
    pub fn with_mode(
        dev: u64,
        ino: u64,
        perm: u32,
        entries: Vec<(&str, Arc<dyn Inode>)>,
    ) -> Arc<SynthDir> {
        Arc::new(SynthDir {
            dev,
            ino,
            mode: S_IFDIR | perm,
            entries: entries
                .into_iter()
                .map(|(n, i)| (n.as_bytes().to_vec(), i))
                .collect(),
        })
    }

    /// (ino, type, name) of every entry, `.` and `..` included.
    pub fn listing(&self) -> Result<Vec<(u64, u8, Vec<u8>)>, Errno> {
        let mut list = vec![
            (self.ino, DT_DIR, b".".to_vec()),
            (self.ino, DT_DIR, b"..".to_vec()),
        ];
        for (name, i) in &self.entries {
            let st = i.stat()?;
            list.push((st.st_ino, dtype_of(st.st_mode), name.clone()));
        }
        Ok(list)
    }
}

impl Inode for SynthDir {
    fn stat(&self) -> Result<Stat, Errno> {
        let mut st = dir_stat(self.dev, self.ino);
        st.st_mode = self.mode;
        Ok(st)
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        Ok(Box::new(ListDir {
            stat: self.stat()?,
            list: self.listing()?,
        }))
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| i.clone())
            .ok_or(Errno::ENOENT)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An open directory listing a fixed set of entries.
pub struct ListDir {
    /// The directory's stat.
    pub stat: Stat,
    /// (ino, type, name) of every entry, `.` and `..` included.
    pub list: Vec<(u64, u8, Vec<u8>)>,
}

impl FileOps for ListDir {
    fn read_at(&self, _buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.stat)
    }

    fn getdents(&self, buf: &mut [u8], pos: &mut u64) -> Result<usize, Errno> {
        let refs: Vec<(u64, u8, &[u8])> = self
            .list
            .iter()
            .map(|(i, t, n)| (*i, *t, n.as_slice()))
            .collect();
        getdents_from_list(&refs, buf, pos)
    }
}

/// A symlink with a fixed target.
pub struct SynthLink {
    dev: u64,
    ino: u64,
    target: Vec<u8>,
}

impl SynthLink {
    /// A symlink to `target`.
    pub fn new(dev: u64, ino: u64, target: &str) -> Arc<SynthLink> {
        Arc::new(SynthLink {
            dev,
            ino,
            target: target.as_bytes().to_vec(),
        })
    }
}

impl Inode for SynthLink {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            st_dev: self.dev,
            st_ino: self.ino,
            st_nlink: 1,
            st_mode: S_IFLNK | 0o777,
            st_size: self.target.len() as i64,
            st_blksize: 4096,
            ..Default::default()
        })
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        Err(Errno::ELOOP)
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        Ok(self.target.clone())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A read-only file whose contents are generated on open.
pub struct SynthFile {
    dev: u64,
    ino: u64,
    gen: fn() -> Vec<u8>,
}

impl SynthFile {
    /// A file showing what `gen` returns.
    pub fn new(dev: u64, ino: u64, gen: fn() -> Vec<u8>) -> Arc<SynthFile> {
        Arc::new(SynthFile { dev, ino, gen })
    }
}

impl Inode for SynthFile {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            st_dev: self.dev,
            st_ino: self.ino,
            st_nlink: 1,
            st_mode: S_IFREG | 0o444,
            st_size: 4096,
            st_blksize: 4096,
            ..Default::default()
        })
    }

    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        if matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR) {
            return Err(Errno::EACCES);
        }
        Ok(Box::new(Snapshot {
            stat: self.stat()?,
            data: (self.gen)(),
        }))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Copies what `data` holds at `offset` into `buf` (a read of contents held in memory).
pub fn read_from(data: &[u8], buf: &mut [u8], offset: u64) -> usize {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let n = buf.len().min(data.len() - start);
    buf[..n].copy_from_slice(&data[start..start + n]);
    n
}

/// Contents captured at open.
struct Snapshot {
    stat: Stat,
    data: Vec<u8>,
}

impl FileOps for Snapshot {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        Ok(read_from(&self.data, buf, offset))
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.stat)
    }
}

/// A file system over a fixed tree.
pub struct SynthFs {
    name: &'static str,
    magic: i64,
    read_only: bool,
    root: Arc<dyn Inode>,
}

impl SynthFs {
    /// A file system named `name` (statfs type `magic`) with root `root`.
    pub fn new(
        name: &'static str,
        magic: i64,
        read_only: bool,
        root: Arc<dyn Inode>,
    ) -> Arc<SynthFs> {
        Arc::new(SynthFs {
            name,
            magic,
            read_only,
            root,
        })
    }
}

impl Filesystem for SynthFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn statfs(&self) -> Result<Statfs, Errno> {
        Ok(synthetic_statfs(self.magic))
    }
}

/// An empty, read-only directory file system (a mount point that must hide the host's).
pub struct EmptyFs;

impl EmptyFs {
    /// An empty file system with device number `dev`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(dev: u64) -> Arc<SynthFs> {
        SynthFs::new(
            "none",
            PROC_SUPER_MAGIC,
            true,
            SynthDir::new(dev, 1, Vec::new()),
        )
    }
}
