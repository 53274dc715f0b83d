// SPDX-License-Identifier: Apache-2.0
//! tmpfs: a file system in the sentry's memory. Regular files are host memfds, so that mapping
//! one is real shared memory (the memory manager maps [`FileOps::host_fd`]); directories,
//! symlinks, device nodes and FIFOs are sentry objects. `size=` limits the bytes stored
//! (ENOSPC beyond it), as Linux's tmpfs does (gVisor `pkg/sentry/fsimpl/tmpfs`).

mod dir;
mod file;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use self::dir::Dir;
use crate::kernel::lock;
use crate::vfs::{now, FileOps, Filesystem, Inode, Mount, Owner, SetAttr, TimeSpec};

/// The shared state of one tmpfs instance.
pub(crate) struct Shared {
    dev: u64,
    next_ino: AtomicU64,
    /// Bytes stored in regular files, and the limit (`size=`).
    used: Mutex<u64>,
    limit: u64,
    /// Serialises changes to the tree (create, unlink, rename, link) so that renames between
    /// directories need no lock ordering.
    tree: Mutex<()>,
}

impl Shared {
    /// Reserves `grow` more bytes of storage (ENOSPC past the limit, or past the sandbox's
    /// memory budget: the files are in memory), or releases `-grow`.
    fn charge(&self, old: u64, new: u64) -> Result<(), Errno> {
        let mut used = lock(&self.used);
        if new > old {
            let more = new - old;
            if used.saturating_add(more) > self.limit {
                return Err(Errno::ENOSPC);
            }
            crate::limits::memory().charge(more, Errno::ENOSPC)?;
            *used += more;
        } else {
            let less = (old - new).min(*used);
            crate::limits::memory().release(less);
            *used -= less;
        }
        Ok(())
    }
}

/// Linux's default `size=`: half of the physical memory.
fn default_limit() -> u64 {
    nix::sys::sysinfo::sysinfo()
        .map(|s| s.ram_total() / 2)
        .unwrap_or(u64::MAX)
}

/// A tmpfs instance.
pub struct TmpFs {
    shared: Arc<Shared>,
    root: Arc<TmpInode>,
}

impl TmpFs {
    /// A new, empty tmpfs with device number `dev`, root mode `mode`, at most `limit` bytes.
    pub fn new(dev: u64, mode: u32, owner: Owner, limit: Option<u64>) -> Arc<TmpFs> {
        let shared = Arc::new(Shared {
            dev,
            next_ino: AtomicU64::new(2),
            used: Mutex::new(0),
            limit: limit.unwrap_or_else(default_limit),
            tree: Mutex::new(()),
        });
        let root = TmpInode::new(
            &shared,
            1,
            S_IFDIR | (mode & 0o7777),
            owner,
            Kind::Dir(Dir::default()),
        );
        Arc::new(TmpFs { shared, root })
    }
}

/// The hidden tmpfs that holds memfd_create(2) files, and its (unlisted) mount.
pub fn memfd_mount() -> Arc<Mount> {
    static MEMFD: OnceLock<Arc<Mount>> = OnceLock::new();
    MEMFD
        .get_or_init(|| {
            let fs = TmpFs::new(MEMFD_DEV, 0o1777, Owner::default(), None);
            let root = fs.root();
            Mount::new(fs, root, "/", "memfd", 0)
        })
        .clone()
}

/// Device number of the memfd file system.
pub const MEMFD_DEV: u64 = 0x1;

impl Filesystem for TmpFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    fn name(&self) -> &'static str {
        "tmpfs"
    }

    fn statfs(&self) -> Result<Statfs, Errno> {
        let used = *lock(&self.shared.used) / 4096;
        let blocks = self.shared.limit / 4096;
        Ok(Statfs {
            f_type: TMPFS_MAGIC,
            f_bsize: 4096,
            f_blocks: blocks,
            f_bfree: blocks.saturating_sub(used),
            f_bavail: blocks.saturating_sub(used),
            f_files: 0,
            f_ffree: 0,
            f_namelen: 255,
            f_frsize: 4096,
            f_flags: ST_RELATIME,
            ..Default::default()
        })
    }
}

pub(crate) enum Kind {
    Dir(Dir),
    File(file::Data),
    Symlink(Vec<u8>),
    /// FIFOs, sockets and device nodes: only their mode and rdev.
    Special,
}

pub(crate) struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    rdev: u64,
    atime: (i64, i64),
    mtime: (i64, i64),
    ctime: (i64, i64),
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Inode attribute flags (chattr(1)): those of [`ATTR_FLAGS`].
    attr_flags: u32,
}

/// The attribute flags tmpfs keeps (shmem's SHMEM_FL_USER_MODIFIABLE).
const ATTR_FLAGS: u32 = FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL;

/// A tmpfs file.
pub struct TmpInode {
    this: Weak<TmpInode>,
    fs: Weak<Shared>,
    dev: u64,
    ino: u64,
    meta: Mutex<Meta>,
    kind: Kind,
    /// When it was made (statx's btime, as Linux's tmpfs keeps it).
    born: (i64, i64),
}

impl TmpInode {
    fn new(fs: &Arc<Shared>, ino: u64, mode: u32, o: Owner, kind: Kind) -> Arc<TmpInode> {
        let t = now();
        Arc::new_cyclic(|this| TmpInode {
            this: this.clone(),
            fs: Arc::downgrade(fs),
            dev: fs.dev,
            ino,
            meta: Mutex::new(Meta {
                mode,
                uid: o.uid,
                gid: o.gid,
                nlink: if mode & S_IFMT == S_IFDIR { 2 } else { 1 },
                rdev: 0,
                atime: t,
                mtime: t,
                ctime: t,
                xattrs: BTreeMap::new(),
                attr_flags: 0,
            }),
            kind,
            born: t,
        })
    }

    fn shared(&self) -> Result<Arc<Shared>, Errno> {
        self.fs.upgrade().ok_or(Errno::ESTALE)
    }

    /// A new file in the same file system, not yet linked anywhere.
    fn make(&self, mode: u32, rdev: u64, o: Owner) -> Result<Arc<TmpInode>, Errno> {
        let fs = self.shared()?;
        let ino = fs.next_ino.fetch_add(1, Ordering::Relaxed);
        let kind = match mode & S_IFMT {
            S_IFREG => Kind::File(file::Data::new()?),
            S_IFDIR => Kind::Dir(Dir::default()),
            _ => Kind::Special,
        };
        let n = TmpInode::new(&fs, ino, mode, o, kind);
        lock(&n.meta).rdev = rdev;
        Ok(n)
    }

    /// Makes a new regular file a memfd of memfd_create(2) with `flags`: MFD_ALLOW_SEALING
    /// lifts F_SEAL_SEAL; MFD_NOEXEC_SEAL also clears the execute bits and seals them.
    pub fn init_memfd(&self, flags: u32) {
        let Kind::File(d) = &self.kind else {
            return;
        };
        if flags & MFD_NOEXEC_SEAL != 0 {
            lock(&self.meta).mode &= !0o111;
            d.init_seals(F_SEAL_EXEC);
        } else if flags & MFD_ALLOW_SEALING != 0 {
            d.init_seals(0);
        }
    }

    fn touch(&self, m: bool, c: bool) {
        let t = now();
        let mut meta = lock(&self.meta);
        if m {
            meta.mtime = t;
        }
        if c {
            meta.ctime = t;
        }
    }
}

fn resolve_time(t: TimeSpec) -> (i64, i64) {
    match t {
        TimeSpec::Now => now(),
        TimeSpec::At(s, n) => (s, n),
    }
}

impl Inode for TmpInode {
    fn btime(&self) -> Option<(i64, i64)> {
        Some(self.born)
    }

    /// After a read or a listing (touch_atime; the mount decided it may): with relatime, only
    /// when the access time is not after the last change or is a day old
    /// (relatime_need_update).
    fn touch_atime(&self, relatime: bool) {
        let now = crate::vfs::now();
        let mut m = lock(&self.meta);
        if relatime {
            let a = m.atime;
            if a > m.mtime && a > m.ctime && now.0 - a.0 < 24 * 3600 {
                return;
            }
        }
        m.atime = now;
    }

    fn stat(&self) -> Result<Stat, Errno> {
        let m = lock(&self.meta);
        let (size, blocks) = match &self.kind {
            Kind::File(d) => d.size_blocks()?,
            Kind::Symlink(t) => (t.len() as i64, 0),
            Kind::Dir(_) => (4096, 0),
            Kind::Special => (0, 0),
        };
        Ok(Stat {
            st_dev: self.dev,
            st_ino: self.ino,
            st_nlink: m.nlink,
            st_mode: m.mode,
            st_uid: m.uid,
            st_gid: m.gid,
            st_rdev: m.rdev,
            st_size: size,
            st_blksize: 4096,
            st_blocks: blocks,
            st_atime: m.atime.0,
            st_atime_nsec: m.atime.1,
            st_mtime: m.mtime.0,
            st_mtime_nsec: m.mtime.1,
            st_ctime: m.ctime.0,
            st_ctime_nsec: m.ctime.1,
            ..Default::default()
        })
    }

    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        self.open_file(flags)
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        self.dir()?
            .get(name)
            .map(|n| n as Arc<dyn Inode>)
            .ok_or(Errno::ENOENT)
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        match &self.kind {
            Kind::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn mknod(&self, name: &[u8], mode: u32, rdev: u64, o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        let n = self.make(mode, rdev, o)?;
        self.insert_new(name, n.clone())?;
        Ok(n)
    }

    fn mkdir(&self, name: &[u8], mode: u32, o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        let n = self.make(S_IFDIR | (mode & 0o7777), 0, o)?;
        self.insert_new(name, n.clone())?;
        Ok(n)
    }

    fn symlink(&self, name: &[u8], target: &[u8], o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        let fs = self.shared()?;
        let ino = fs.next_ino.fetch_add(1, Ordering::Relaxed);
        let n = TmpInode::new(&fs, ino, S_IFLNK | 0o777, o, Kind::Symlink(target.to_vec()));
        self.insert_new(name, n.clone())?;
        Ok(n)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        self.link_existing(name, target)
    }

    fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        self.remove(name, false)
    }

    fn rmdir(&self, name: &[u8]) -> Result<(), Errno> {
        self.remove(name, true)
    }

    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        self.rename_to(old, new_dir, new, flags)
    }

    fn setattr(&self, a: &SetAttr) -> Result<(), Errno> {
        if let (Kind::File(d), Some(mode)) = (&self.kind, a.mode) {
            // F_SEAL_EXEC: the execute bits are fixed.
            if d.seals() & F_SEAL_EXEC != 0 && (lock(&self.meta).mode ^ mode) & 0o111 != 0 {
                return Err(Errno::EPERM);
            }
        }
        if let Some(size) = a.size {
            match &self.kind {
                Kind::File(d) => d.truncate(&*self.shared()?, size)?,
                Kind::Dir(_) => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
        }
        let t = now();
        let mut m = lock(&self.meta);
        if let Some(mode) = a.mode {
            m.mode = (m.mode & S_IFMT) | (mode & 0o7777);
        }
        if let Some(uid) = a.uid {
            m.uid = uid;
        }
        if let Some(gid) = a.gid {
            m.gid = gid;
        }
        if let Some(at) = a.atime {
            m.atime = resolve_time(at);
        }
        if let Some(mt) = a.mtime {
            m.mtime = resolve_time(mt);
        }
        if a.size.is_some() && a.mtime.is_none() {
            m.mtime = t;
        }
        m.ctime = t;
        Ok(())
    }

    fn getxattr(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        lock(&self.meta)
            .xattrs
            .get(name)
            .cloned()
            .ok_or(Errno::ENODATA)
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
        let mut m = lock(&self.meta);
        let exists = m.xattrs.contains_key(name);
        if flags & XATTR_CREATE != 0 && exists {
            return Err(Errno::EEXIST);
        }
        if flags & XATTR_REPLACE != 0 && !exists {
            return Err(Errno::ENODATA);
        }
        m.xattrs.insert(name.to_vec(), value.to_vec());
        m.ctime = now();
        Ok(())
    }

    fn listxattr(&self) -> Result<Vec<Vec<u8>>, Errno> {
        Ok(lock(&self.meta).xattrs.keys().cloned().collect())
    }

    fn removexattr(&self, name: &[u8]) -> Result<(), Errno> {
        let mut m = lock(&self.meta);
        m.xattrs.remove(name).ok_or(Errno::ENODATA)?;
        m.ctime = now();
        Ok(())
    }

    fn attr_flags(&self) -> Result<u32, Errno> {
        Ok(lock(&self.meta).attr_flags)
    }

    fn keeps_acls(&self) -> bool {
        true
    }

    fn set_attr_flags(&self, flags: u32) -> Result<(), Errno> {
        // shmem_fileattr_set: nothing but the flags it keeps.
        if flags & !ATTR_FLAGS != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut m = lock(&self.meta);
        m.attr_flags = flags;
        m.ctime = now();
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
