// SPDX-License-Identifier: Apache-2.0
//! Inodes and file systems: what a mount serves.
//!
//! A [`Filesystem`] has a root [`Inode`]; path resolution ([`super::path`]) walks inodes one
//! component at a time with [`Inode::lookup`]. Directory operations take the parent directory
//! and a single name (never a path, never `.` or `..`: the VFS has checked that). Every default
//! gives the errno Linux gives when a file system lacks the operation.

use std::any::Any;
use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::FileOps;

/// The owner a new file gets: the creating task's fs ids (or the directory's group, setgid).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// A time to set: a given time or "now" (UTIME_NOW), resolved by the file system's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// The current time.
    Now,
    /// This time (seconds, nanoseconds).
    At(i64, i64),
}

/// Attribute changes (chmod, chown, truncate, utimensat); `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetAttr {
    /// New permission bits (07777).
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size (regular files).
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<TimeSpec>,
    /// New modification time.
    pub mtime: Option<TimeSpec>,
}

/// A file: regular, directory, symlink, device, FIFO or socket.
pub trait Inode: Send + Sync + Any {
    /// stat(2) of the file.
    fn stat(&self) -> Result<Stat, Errno>;

    /// Opens the file (the VFS has checked permissions and the file type). `flags` are
    /// open(2)'s.
    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno>;

    /// The child `name` of a directory. Linux: ENOENT when absent, ENOTDIR on a non-directory.
    fn lookup(&self, _name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        Err(Errno::ENOTDIR)
    }

    /// [`Inode::lookup`] and the child's stat, for path walks: file systems whose look-up
    /// brings the attributes along (the gofer's walk) save a second round trip.
    fn lookup_stat(&self, name: &[u8]) -> Result<(Arc<dyn Inode>, Stat), Errno> {
        let child = self.lookup(name)?;
        let st = child.stat()?;
        Ok((child, st))
    }

    /// A symlink's target. Linux: EINVAL when the file is not a symlink.
    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        Err(Errno::EINVAL)
    }

    /// Creates a non-directory, non-symlink child (regular file, FIFO, device, socket); `mode`
    /// includes the file type. Linux: EPERM when the file system cannot.
    fn mknod(
        &self,
        _name: &[u8],
        _mode: u32,
        _rdev: u64,
        _o: Owner,
    ) -> Result<Arc<dyn Inode>, Errno> {
        Err(Errno::EPERM)
    }

    /// Creates a directory.
    fn mkdir(&self, _name: &[u8], _mode: u32, _o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        Err(Errno::EPERM)
    }

    /// Creates a symlink.
    fn symlink(&self, _name: &[u8], _target: &[u8], _o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        Err(Errno::EPERM)
    }

    /// Makes `name` a new hard link to `target` (same file system: the VFS checked the mount).
    fn link(&self, _name: &[u8], _target: &Arc<dyn Inode>) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }

    /// Removes a non-directory entry.
    fn unlink(&self, _name: &[u8]) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }

    /// Removes an empty directory entry.
    fn rmdir(&self, _name: &[u8]) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }

    /// Renames `old` in this directory to `new` in `new_dir` (same file system), with
    /// renameat2's RENAME_NOREPLACE/RENAME_EXCHANGE. The VFS has checked the entries' types
    /// match and that `new_dir` is not below `old`.
    fn rename(
        &self,
        _old: &[u8],
        _new_dir: &Arc<dyn Inode>,
        _new: &[u8],
        _flags: u32,
    ) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }

    /// Changes attributes. Linux: EPERM where the file system does not keep them.
    fn setattr(&self, _a: &SetAttr) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }

    /// getxattr(2). Linux: EOPNOTSUPP where the file system has no xattrs.
    fn getxattr(&self, _name: &[u8]) -> Result<Vec<u8>, Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// setxattr(2) with XATTR_CREATE/XATTR_REPLACE.
    fn setxattr(&self, _name: &[u8], _value: &[u8], _flags: u32) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// listxattr(2): the names.
    fn listxattr(&self) -> Result<Vec<Vec<u8>>, Errno> {
        Ok(Vec::new())
    }

    /// removexattr(2).
    fn removexattr(&self, _name: &[u8]) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// The inode's attribute flags (FS_*_FL, as FS_IOC_GETFLAGS and lsattr(1) show them).
    /// Linux: ENOTTY where the file system keeps none (no fileattr_get).
    fn attr_flags(&self) -> Result<u32, Errno> {
        Err(Errno::ENOTTY)
    }

    /// Sets the attribute flags (the caller has checked ownership, CAP_LINUX_IMMUTABLE and
    /// the mount): EOPNOTSUPP for flags the file system cannot keep, ENOTTY where it keeps
    /// none.
    fn set_attr_flags(&self, _flags: u32) -> Result<(), Errno> {
        Err(Errno::ENOTTY)
    }

    /// Whether the file system keeps POSIX ACLs for this file ([`super::acl`]), as extended
    /// attributes of its own.
    fn keeps_acls(&self) -> bool {
        false
    }

    /// The statx attributes the flags answer for on this file system (stx_attributes_mask):
    /// append, immutable and nodump where it keeps flags at all.
    fn flag_attributes_mask(&self) -> u64 {
        0x10 | 0x20 | 0x40
    }

    /// A socket file of the host's (a gofer-backed file system, `--host-uds open`): a new host
    /// unix socket of type `stype`, non-blocking, connected to it. Everywhere else, and for a
    /// socket file no host socket is bound to, ECONNREFUSED (Linux: nothing listens).
    fn connect_host_socket(&self, _stype: u32) -> Result<std::os::fd::OwnedFd, Errno> {
        Err(Errno::ECONNREFUSED)
    }

    /// For /proc's magic links (`/proc/[pid]/fd/N`): the open file they stand for. Path
    /// resolution jumps to it instead of following the link's text, as Linux does, so a
    /// deleted file, a pipe or a memfd can be reopened through the link.
    fn magic_target(&self) -> Option<Result<MagicTarget, Errno>> {
        None
    }

    /// Whether it is one of /proc's magic links, including those followed through their
    /// text here (`/proc/[pid]/exe`, `cwd`, `root`): RESOLVE_NO_MAGICLINKS refuses them.
    fn is_magic_link(&self) -> bool {
        false
    }

    /// The object itself, for file systems that downcast their own inodes (link, rename).
    fn as_any(&self) -> &dyn Any;

    /// A read happened where the mount lets it update the access time (Linux's touch_atime
    /// past the mount's and the description's checks): `relatime` only when the access time is
    /// not after the modification or change time, or is a day old. For the sentry's own disk
    /// file systems; the host updates its files' times itself.
    fn touch_atime(&self, _relatime: bool) {}

    /// The file's creation time (statx's STATX_BTIME), where the file system keeps one.
    fn btime(&self) -> Option<(i64, i64)> {
        None
    }
}

/// Where a magic link leads.
pub struct MagicTarget {
    /// The file.
    pub inode: Arc<dyn Inode>,
    /// The mount it was opened through (`None` for pipes and other files without one).
    pub mount: Option<Arc<super::Mount>>,
    /// Its path, as /proc shows it.
    pub path: String,
}

/// A file system: a tree of inodes under one root, with one device number.
pub trait Filesystem: Send + Sync {
    /// The root directory.
    fn root(&self) -> Arc<dyn Inode>;
    /// The type name /proc/mounts shows ("tmpfs", "overlay", "proc", ...).
    fn name(&self) -> &'static str;
    /// Whether the file system refuses every change (EROFS).
    fn read_only(&self) -> bool {
        false
    }
    /// A remount to read-write or read-only (MS_REMOUNT without MS_BIND): file systems that
    /// are read-only as a whole ([`Filesystem::read_only`]) change here; the rest keep
    /// read-only per mount.
    fn reconfigure(&self, _read_only: bool) -> Result<(), Errno> {
        Ok(())
    }
    /// statfs(2).
    fn statfs(&self) -> Result<Statfs, Errno>;
    /// syncfs(2), sync(2) and umount: writes what the file system holds back to its storage
    /// (disk file systems on loop devices; the others have nothing to write back).
    fn sync(&self) -> Result<(), Errno> {
        Ok(())
    }
    /// Whether O_TMPFILE works (Linux: EOPNOTSUPP where the file system has no `tmpfile`).
    fn has_tmpfile(&self) -> bool {
        true
    }
}

/// The statfs of a synthetic file system with no blocks.
pub fn synthetic_statfs(magic: i64) -> Statfs {
    Statfs {
        f_type: magic,
        f_bsize: 4096,
        f_namelen: 255,
        f_frsize: 4096,
        ..Default::default()
    }
}

/// The wall-clock time the sandbox started, as (seconds, nanoseconds): the times of synthetic
/// files (/proc, /dev, /sys), as Linux's are those of their creation at boot or first look.
pub fn boot_time() -> (i64, i64) {
    static BOOT: std::sync::OnceLock<(i64, i64)> = std::sync::OnceLock::new();
    *BOOT.get_or_init(now)
}

/// `st` with the sandbox's start time for the times a synthetic file leaves at zero (no file
/// on a real file system has a zero ctime).
pub fn dated(mut st: Stat) -> Stat {
    if st.st_ctime == 0 && st.st_ctime_nsec == 0 {
        let (s, ns) = boot_time();
        st.st_ctime = s;
        st.st_ctime_nsec = ns;
        if st.st_mtime == 0 && st.st_mtime_nsec == 0 {
            st.st_mtime = s;
            st.st_mtime_nsec = ns;
        }
        if st.st_atime == 0 && st.st_atime_nsec == 0 {
            st.st_atime = s;
            st.st_atime_nsec = ns;
        }
    }
    st
}

/// The current wall-clock time as (seconds, nanoseconds), on the sandbox's clock (files the
/// sentry keeps get the sandbox's times; host files get the host's).
pub fn now() -> (i64, i64) {
    let ts = crate::kernel::clock::realtime();
    (ts.tv_sec, ts.tv_nsec)
}

/// The directory-entry type of a mode.
pub fn dtype_of(mode: u32) -> u8 {
    match mode & S_IFMT {
        S_IFREG => DT_REG,
        S_IFDIR => DT_DIR,
        S_IFLNK => DT_LNK,
        S_IFCHR => DT_CHR,
        S_IFBLK => DT_BLK,
        S_IFIFO => DT_FIFO,
        S_IFSOCK => DT_SOCK,
        _ => DT_UNKNOWN,
    }
}

/// The concrete inode behind `i`, when it is a `T` (a file system's own inodes, for link and
/// rename).
pub fn downcast<T: Inode>(i: &Arc<dyn Inode>) -> Option<Arc<T>> {
    let any: Arc<dyn Any + Send + Sync> = i.clone();
    any.downcast::<T>().ok()
}

/// The stat of an anonymous-inode file (eventfd, signalfd, pidfd, inotify): Linux's
/// anon_inode shows mode 0600 and no type bits.
pub fn anon_stat(ino: u64) -> Stat {
    Stat {
        st_mode: 0o600,
        st_nlink: 1,
        st_ino: ino,
        st_blksize: 4096,
        ..Default::default()
    }
}
