// SPDX-License-Identifier: Apache-2.0
//! The inodes of procfs: files, links and directories whose contents are computed when they are
//! read, from the sentry's own state.

use std::sync::{Arc, Mutex};

use syscalls::abi::*;
use syscalls::Errno;

use crate::fsimpl::synthetic::{dir_stat, ListDir};
use crate::kernel::lock;
use crate::vfs::{FileOps, Inode};

/// Computes a file's contents.
pub type Gen = Arc<dyn Fn() -> Result<Vec<u8>, Errno> + Send + Sync>;
/// Accepts a write to a file.
pub type Put = Arc<dyn Fn(&[u8]) -> Result<(), Errno> + Send + Sync>;
/// Lists a directory: (name, ino, d_type).
pub type List = Arc<dyn Fn() -> Vec<(Vec<u8>, u64, u8)> + Send + Sync>;
/// The mount namespace whose changes an open file of the mount table polls for.
pub type WatchMounts =
    Arc<dyn Fn() -> Result<Arc<crate::vfs::mount::MountNs>, Errno> + Send + Sync>;
/// Looks a name up in a directory.
pub type Lookup = Arc<dyn Fn(&[u8]) -> Result<Arc<dyn Inode>, Errno> + Send + Sync>;

/// A generated file.
pub struct GenFile {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub uid: u32,
    pub gen: Gen,
    pub put: Option<Put>,
    /// A mount table (/proc/[pid]/mounts, mountinfo): pollable for its changes.
    pub watch: Option<WatchMounts>,
    /// Writes are taken only at offset 0, whole (EINVAL elsewhere), as timens_offsets does.
    pub at_start: bool,
}

impl GenFile {
    /// A read-only file.
    pub fn ro(dev: u64, ino: u64, gen: Gen) -> Arc<dyn Inode> {
        Self::read_only(dev, ino, gen, None)
    }

    /// A read-only view of a mount table: as Linux's, an open one polls POLLPRI | POLLERR
    /// after each change of the table since it last polled.
    pub fn mount_table(dev: u64, ino: u64, gen: Gen, watch: WatchMounts) -> Arc<dyn Inode> {
        Self::read_only(dev, ino, gen, Some(watch))
    }

    fn read_only(dev: u64, ino: u64, gen: Gen, watch: Option<WatchMounts>) -> Arc<dyn Inode> {
        Arc::new(GenFile {
            dev,
            ino,
            mode: S_IFREG | 0o444,
            uid: 0,
            gen,
            put: None,
            watch,
            at_start: false,
        })
    }

    /// A file root may write.
    pub fn rw(dev: u64, ino: u64, gen: Gen, put: Put) -> Arc<dyn Inode> {
        Self::writable(dev, ino, gen, put, false)
    }

    /// A file root may write, each write whole and at offset 0 (EINVAL elsewhere).
    pub fn rw_at_start(dev: u64, ino: u64, gen: Gen, put: Put) -> Arc<dyn Inode> {
        Self::writable(dev, ino, gen, put, true)
    }

    fn writable(dev: u64, ino: u64, gen: Gen, put: Put, at_start: bool) -> Arc<dyn Inode> {
        Arc::new(GenFile {
            dev,
            ino,
            mode: S_IFREG | 0o644,
            uid: 0,
            gen,
            put: Some(put),
            watch: None,
            at_start,
        })
    }
}

impl Inode for GenFile {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            st_dev: self.dev,
            st_ino: self.ino,
            st_nlink: 1,
            st_mode: self.mode,
            st_uid: self.uid,
            st_blksize: 1024,
            ..Default::default()
        })
    }

    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let write = matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR);
        if write && self.put.is_none() {
            return Err(Errno::EACCES);
        }
        let data = if flags & O_ACCMODE == O_WRONLY {
            Vec::new()
        } else {
            (self.gen)()?
        };
        let watch = match &self.watch {
            Some(w) => {
                let ns = w()?;
                let seen = std::sync::atomic::AtomicU64::new(ns.events());
                Some((ns, seen))
            }
            None => None,
        };
        Ok(Box::new(GenOpen {
            stat: self.stat()?,
            fresh: std::sync::atomic::AtomicBool::new(flags & O_ACCMODE != O_WRONLY),
            data: Mutex::new(data),
            gen: self.gen.clone(),
            at_start: self.at_start,
            put: self.put.clone(),
            written: Mutex::new(Vec::new()),
            watch,
        }))
    }

    fn setattr(&self, a: &crate::vfs::inode::SetAttr) -> Result<(), Errno> {
        // Truncation on open(O_TRUNC) of a writable file is accepted; nothing else changes.
        if self.put.is_some() && a.mode.is_none() && a.uid.is_none() && a.gid.is_none() {
            return Ok(());
        }
        Err(Errno::EPERM)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An open generated file: contents captured at open and again at each read from the start
/// (as a seq_file is: a reader that seeks back sees what a write changed), writes passed on
/// as they come.
struct GenOpen {
    stat: Stat,
    data: Mutex<Vec<u8>>,
    gen: Gen,
    /// Nothing has read from the start since open generated `data`.
    fresh: std::sync::atomic::AtomicBool,
    at_start: bool,
    put: Option<Put>,
    written: Mutex<Vec<u8>>,
    /// A mount table's namespace, and its changes this file has polled for.
    watch: Option<(
        Arc<crate::vfs::mount::MountNs>,
        std::sync::atomic::AtomicU64,
    )>,
}

impl FileOps for GenOpen {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let mut data = lock(&self.data);
        // The first read from the start has what open generated.
        if offset == 0 && !self.fresh.swap(false, std::sync::atomic::Ordering::AcqRel) {
            *data = (self.gen)()?;
        }
        Ok(crate::fsimpl::synthetic::read_from(&data, buf, offset))
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let put = self.put.as_ref().ok_or(Errno::EACCES)?;
        if self.at_start {
            if offset != 0 {
                return Err(Errno::EINVAL);
            }
            put(buf)?;
            return Ok(buf.len());
        }
        let mut w = lock(&self.written);
        if offset == 0 {
            w.clear();
        }
        w.extend_from_slice(buf);
        put(&w)?;
        Ok(buf.len())
    }

    fn stat(&self) -> Result<Stat, Errno> {
        let mut st = self.stat;
        st.st_size = 0;
        Ok(st)
    }

    fn poll_events(&self) -> u32 {
        let ready = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
        match &self.watch {
            // Linux's mounts_poll: readable, and once per change since the last poll,
            // POLLERR | POLLPRI.
            Some((ns, seen)) => {
                let now = ns.events();
                let changed = seen.swap(now, std::sync::atomic::Ordering::AcqRel) != now;
                (POLLIN | POLLRDNORM) | if changed { POLLERR | POLLPRI } else { 0 }
            }
            None => ready,
        }
    }

    fn poll_queue(&self) -> Option<&crate::kernel::block::WaitQueue> {
        self.watch.as_ref().map(|(ns, _)| ns.queue())
    }
}

/// Where a magic link leads, computed when it is followed.
pub type Magic = Arc<dyn Fn() -> Result<crate::vfs::inode::MagicTarget, Errno> + Send + Sync>;

/// A generated symlink.
pub struct GenLink {
    pub dev: u64,
    pub ino: u64,
    pub target: Gen,
    /// For magic links: the file path resolution jumps to.
    pub magic: Option<Magic>,
    /// A magic link in Linux whose text is followed here (see [`GenLink::magic_path`]).
    pub magic_path: bool,
}

impl GenLink {
    /// A link whose target is computed when read.
    #[allow(clippy::new_ret_no_self)] // Always used as an inode.
    pub fn new(dev: u64, ino: u64, target: Gen) -> Arc<dyn Inode> {
        Arc::new(GenLink {
            dev,
            ino,
            target,
            magic: None,
            magic_path: false,
        })
    }

    /// A link Linux makes magic (`/proc/[pid]/exe`, `cwd`, `root`) followed through its text
    /// here: RESOLVE_NO_MAGICLINKS and the scoped resolutions refuse it all the same.
    pub fn magic_path(dev: u64, ino: u64, target: Gen) -> Arc<dyn Inode> {
        Arc::new(GenLink {
            dev,
            ino,
            target,
            magic: None,
            magic_path: true,
        })
    }

    /// A magic link: its text is computed when read, and following it jumps to `magic`.
    pub fn magic(dev: u64, ino: u64, target: Gen, magic: Magic) -> Arc<dyn Inode> {
        Arc::new(GenLink {
            dev,
            ino,
            target,
            magic: Some(magic),
            magic_path: false,
        })
    }
}

impl Inode for GenLink {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            st_dev: self.dev,
            st_ino: self.ino,
            st_nlink: 1,
            st_mode: S_IFLNK | 0o777,
            st_blksize: 1024,
            ..Default::default()
        })
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        Err(Errno::ELOOP)
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        (self.target)()
    }

    fn magic_target(&self) -> Option<Result<crate::vfs::inode::MagicTarget, Errno>> {
        self.magic.as_ref().map(|m| m())
    }

    fn is_magic_link(&self) -> bool {
        self.magic.is_some() || self.magic_path
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A generated directory.
pub struct GenDir {
    pub dev: u64,
    pub ino: u64,
    pub list: List,
    pub lookup: Lookup,
    /// The process a /proc/[pid] directory stands for (pidfd_send_signal(2) takes one).
    pub tgid: Option<i32>,
}

impl GenDir {
    /// A directory listing `list` and resolving names with `lookup`.
    #[allow(clippy::new_ret_no_self)] // Always used as an inode.
    pub fn new(dev: u64, ino: u64, list: List, lookup: Lookup) -> Arc<dyn Inode> {
        Arc::new(GenDir {
            dev,
            ino,
            list,
            lookup,
            tgid: None,
        })
    }
}

/// The process whose /proc/[pid] directory `inode` is, if it is one.
pub fn process_dir_pid(inode: &dyn Inode) -> Option<i32> {
    inode.as_any().downcast_ref::<GenDir>()?.tgid
}

impl Inode for GenDir {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(dir_stat(self.dev, self.ino))
    }

    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        if matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR) {
            return Err(Errno::EISDIR);
        }
        let mut list = vec![
            (self.ino, DT_DIR, b".".to_vec()),
            (self.ino, DT_DIR, b"..".to_vec()),
        ];
        for (name, ino, t) in (self.list)() {
            list.push((ino, t, name));
        }
        Ok(Box::new(ListDir {
            stat: dir_stat(self.dev, self.ino),
            list,
        }))
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        (self.lookup)(name)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Makes a child of a [`fixed_dir`] when it is looked up.
pub type Maker = Arc<dyn Fn() -> Arc<dyn Inode> + Send + Sync>;

/// A directory of fixed, named children built lazily: `(name, maker)`.
pub fn fixed_dir(dev: u64, ino: u64, children: Vec<(&'static str, Maker)>) -> Arc<dyn Inode> {
    fixed_dir_of(dev, ino, children, None)
}

/// A [`fixed_dir`] that is process `tgid`'s /proc/[pid] when `tgid` is given.
pub fn fixed_dir_of(
    dev: u64,
    ino: u64,
    children: Vec<(&'static str, Maker)>,
    tgid: Option<i32>,
) -> Arc<dyn Inode> {
    let children = Arc::new(children);
    let c2 = children.clone();
    Arc::new(GenDir {
        dev,
        ino,
        tgid,
        list: Arc::new(move || {
            children
                .iter()
                .map(|(n, make)| {
                    let i = make();
                    let st = i.stat().unwrap_or_default();
                    (
                        n.as_bytes().to_vec(),
                        st.st_ino,
                        crate::vfs::dtype_of(st.st_mode),
                    )
                })
                .collect()
        }),
        lookup: Arc::new(move |name| {
            c2.iter()
                .find(|(n, _)| n.as_bytes() == name)
                .map(|(_, make)| make())
                .ok_or(Errno::ENOENT)
        }),
    })
}
