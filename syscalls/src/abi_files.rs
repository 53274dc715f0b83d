// SPDX-License-Identifier: Apache-2.0
//! File-system parts of the x86_64 Linux ABI: statfs, renameat2, utimensat, xattrs, fallocate,
//! memfd seals, locks, openat2. Re-exported from [`crate::abi`].
#![allow(missing_docs)] // The names are the kernel's; see the man pages.

use bytemuck::{Pod, Zeroable};

pub const S_ISUID: u32 = 0o4000;
pub const S_ISGID: u32 = 0o2000;
pub const S_ISVTX: u32 = 0o1000;
/// Group execute permission.
pub const S_IXGRP: u32 = 0o010;

/// `struct statfs` as x86_64 statfs(2) fills it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Statfs {
    pub f_type: i64,
    pub f_bsize: i64,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    pub f_fsid: [i32; 2],
    pub f_namelen: i64,
    pub f_frsize: i64,
    pub f_flags: i64,
    pub f_spare: [i64; 4],
}

// File system magic numbers (statfs f_type).
pub const TMPFS_MAGIC: i64 = 0x0102_1994;
pub const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;
pub const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
pub const SYSFS_MAGIC: i64 = 0x6265_6572;
pub const V9FS_MAGIC: i64 = 0x0102_1997;

// statfs f_flags.
pub const ST_RDONLY: i64 = 0x1;
pub const ST_NOSUID: i64 = 0x2;
pub const ST_NODEV: i64 = 0x4;
pub const ST_NOEXEC: i64 = 0x8;
pub const ST_SYNCHRONOUS: i64 = 0x10;
pub const ST_VALID: i64 = 0x20;
pub const ST_MANDLOCK: i64 = 0x40;
pub const ST_NOATIME: i64 = 0x400;
pub const ST_NODIRATIME: i64 = 0x800;
pub const ST_RELATIME: i64 = 0x1000;

// renameat2(2).
pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;
pub const RENAME_WHITEOUT: u32 = 4;

// utimensat(2).
pub const UTIME_NOW: i64 = (1 << 30) - 1;
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

// xattrs.
pub const XATTR_CREATE: u32 = 1;
pub const XATTR_REPLACE: u32 = 2;
pub const XATTR_NAME_MAX: usize = 255;
pub const XATTR_SIZE_MAX: usize = 65536;
pub const XATTR_LIST_MAX: usize = 65536;

// fallocate(2).
pub const FALLOC_FL_KEEP_SIZE: u32 = 0x01;
pub const FALLOC_FL_PUNCH_HOLE: u32 = 0x02;
pub const FALLOC_FL_NO_HIDE_STALE: u32 = 0x04;
pub const FALLOC_FL_COLLAPSE_RANGE: u32 = 0x08;
pub const FALLOC_FL_ZERO_RANGE: u32 = 0x10;
pub const FALLOC_FL_INSERT_RANGE: u32 = 0x20;
pub const FALLOC_FL_UNSHARE_RANGE: u32 = 0x40;

// memfd_create(2) and seals.
pub const MFD_CLOEXEC: u32 = 0x1;
pub const MFD_ALLOW_SEALING: u32 = 0x2;
pub const MFD_HUGETLB: u32 = 0x4;
pub const MFD_NOEXEC_SEAL: u32 = 0x8;
pub const MFD_EXEC: u32 = 0x10;
pub const F_SEAL_SEAL: u32 = 0x1;
pub const F_SEAL_SHRINK: u32 = 0x2;
pub const F_SEAL_GROW: u32 = 0x4;
pub const F_SEAL_WRITE: u32 = 0x8;
pub const F_SEAL_FUTURE_WRITE: u32 = 0x10;
pub const F_SEAL_EXEC: u32 = 0x20;

// flock(2) and record locks.
pub const LOCK_SH: u32 = 1;
pub const LOCK_EX: u32 = 2;
pub const LOCK_NB: u32 = 4;
pub const LOCK_UN: u32 = 8;
pub const F_RDLCK: i16 = 0;
pub const F_WRLCK: i16 = 1;
pub const F_UNLCK: i16 = 2;
pub const F_OFD_GETLK: u32 = 36;
pub const F_OFD_SETLK: u32 = 37;
pub const F_OFD_SETLKW: u32 = 38;
// The 64-bit names of the record lock commands: the same numbers on x86_64.
pub const F_GETLK64: u32 = 5;
pub const F_SETLK64: u32 = 6;
pub const F_SETLKW64: u32 = 7;
// Leases and signal owners.
pub const F_SETOWN_EX: u32 = 15;
pub const F_GETOWN_EX: u32 = 16;
pub const F_SETLEASE: u32 = 1024;
pub const F_GETLEASE: u32 = 1025;
/// ioctl of the random devices: the entropy count (_IOR('R', 0x00, int)).
pub const RNDGETENTCNT: u32 = 0x8004_5200;
/// fcntl: whether this open created the file (Linux 6.12).
pub const F_CREATED_QUERY: u32 = 1028;
pub const F_OWNER_TID: i32 = 0;
pub const F_OWNER_PID: i32 = 1;
pub const F_OWNER_PGRP: i32 = 2;
/// The capability to take leases on files one does not own.
pub const CAP_LEASE: u32 = 28;
/// si_code of a SIGIO-style signal for a message (a lease break).
pub const POLL_MSG: i32 = 3;
pub const POLLMSG: u32 = 0x400;

/// `struct f_owner_ex` (F_GETOWN_EX, F_SETOWN_EX).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct FOwnerEx {
    pub type_: i32,
    pub pid: i32,
}

/// `struct flock` (x86_64: the same layout as flock64).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Flock {
    pub l_type: i16,
    pub l_whence: i16,
    pub __pad: u32,
    pub l_start: i64,
    pub l_len: i64,
    pub l_pid: i32,
    pub __pad2: u32,
}

// openat2(2).
pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;
pub const RESOLVE_CACHED: u64 = 0x20;

/// `struct open_how` of openat2(2).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

// splice(2), tee(2), vmsplice(2) flags.
pub const SPLICE_F_MOVE: u32 = 0x1;
pub const SPLICE_F_NONBLOCK: u32 = 0x2;
pub const SPLICE_F_MORE: u32 = 0x4;
pub const SPLICE_F_GIFT: u32 = 0x8;

// ---- preadv2(2)/pwritev2(2) flags ----
/// High-priority polled I/O.
pub const RWF_HIPRI: u32 = 0x01;
/// O_DSYNC for this write.
pub const RWF_DSYNC: u32 = 0x02;
/// O_SYNC for this write.
pub const RWF_SYNC: u32 = 0x04;
/// Do not wait for data that is not immediately available.
pub const RWF_NOWAIT: u32 = 0x08;
/// O_APPEND for this write.
pub const RWF_APPEND: u32 = 0x10;
/// Not O_APPEND for this write.
pub const RWF_NOAPPEND: u32 = 0x20;
/// Atomic write (files that support it).
pub const RWF_ATOMIC: u32 = 0x40;
/// Uncached buffered I/O (file systems that support it).
pub const RWF_DONTCACHE: u32 = 0x80;
/// No SIGPIPE for a write to a pipe or socket nobody reads (EPIPE alone).
pub const RWF_NOSIGNAL: u32 = 0x100;

// Inode attributes (linux/fs.h, linux/fileattr.h): chattr(1)'s flags and their FS_XFLAG_*
// forms.
pub const FS_IOC_GETFLAGS: u32 = 0x8008_6601;
pub const FS_IOC_SETFLAGS: u32 = 0x4008_6602;
pub const FS_IOC32_GETFLAGS: u32 = 0x8004_6601;
pub const FS_IOC32_SETFLAGS: u32 = 0x4004_6602;
pub const FS_IOC_FSGETXATTR: u32 = 0x801c_581f;
pub const FS_IOC_FSSETXATTR: u32 = 0x401c_5820;
pub const FS_SYNC_FL: u32 = 0x0000_0008;
pub const FS_IMMUTABLE_FL: u32 = 0x0000_0010;
pub const FS_APPEND_FL: u32 = 0x0000_0020;
pub const FS_NODUMP_FL: u32 = 0x0000_0040;
pub const FS_NOATIME_FL: u32 = 0x0000_0080;
pub const FS_DIRSYNC_FL: u32 = 0x0001_0000;
pub const FS_PROJINHERIT_FL: u32 = 0x2000_0000;
pub const FS_FL_USER_VISIBLE: u32 = 0x0003_DFFF;
pub const FS_XFLAG_IMMUTABLE: u32 = 0x0000_0008;
pub const FS_XFLAG_APPEND: u32 = 0x0000_0010;
pub const FS_XFLAG_SYNC: u32 = 0x0000_0020;
pub const FS_XFLAG_NOATIME: u32 = 0x0000_0040;
pub const FS_XFLAG_NODUMP: u32 = 0x0000_0080;
pub const FS_XFLAG_PROJINHERIT: u32 = 0x0000_0200;
pub const FS_XFLAG_DAX: u32 = 0x0000_8000;
/// The xflags every file system that has flags can take (FS_XFLAG_COMMON).
pub const FS_XFLAG_COMMON: u32 = FS_XFLAG_SYNC
    | FS_XFLAG_IMMUTABLE
    | FS_XFLAG_APPEND
    | FS_XFLAG_NODUMP
    | FS_XFLAG_NOATIME
    | FS_XFLAG_DAX;
pub const STATX_ATTR_IMMUTABLE: u64 = 0x10;
pub const STATX_ATTR_APPEND: u64 = 0x20;
pub const STATX_ATTR_NODUMP: u64 = 0x40;
/// file_getattr(2)'s first struct file_attr (FILE_ATTR_SIZE_VER0).
pub const FILE_ATTR_SIZE_VER0: u64 = 24;

/// `struct fsxattr` (FS_IOC_FSGETXATTR).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Fsxattr {
    pub fsx_xflags: u32,
    pub fsx_extsize: u32,
    pub fsx_nextents: u32,
    pub fsx_projid: u32,
    pub fsx_cowextsize: u32,
    pub fsx_pad: [u8; 8],
}

/// `struct file_attr` (file_getattr(2), file_setattr(2)).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct FileAttr {
    pub fa_xflags: u64,
    pub fa_extsize: u32,
    pub fa_nextents: u32,
    pub fa_projid: u32,
    pub fa_cowextsize: u32,
}

/// `struct fiemap`'s flags (FS_IOC_FIEMAP, linux/fiemap.h).
pub const FIEMAP_FLAG_SYNC: u32 = 0x1;
pub const FIEMAP_FLAG_XATTR: u32 = 0x2;
pub const FIEMAP_FLAG_CACHE: u32 = 0x4;
/// `struct fiemap_extent`'s flags.
pub const FIEMAP_EXTENT_LAST: u32 = 0x1;
pub const FIEMAP_EXTENT_NOT_ALIGNED: u32 = 0x100;
pub const FIEMAP_EXTENT_DATA_INLINE: u32 = 0x200;
pub const FIEMAP_EXTENT_UNWRITTEN: u32 = 0x800;
pub const FIEMAP_EXTENT_MERGED: u32 = 0x1000;
/// Sizes of `struct fiemap` (the header) and of one `struct fiemap_extent`.
pub const FIEMAP_HEADER_SIZE: u64 = 32;
pub const FIEMAP_EXTENT_SIZE: u64 = 56;
