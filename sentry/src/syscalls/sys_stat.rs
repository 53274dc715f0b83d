// SPDX-License-Identifier: Apache-2.0
//! stat and friends, access, readlink, statfs.

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::walk_at;
use crate::kernel::Task;
use crate::syscalls::{fd_arg, SysResult};
use crate::vfs::path::Resolved;
use crate::vfs::Mount;

/// Resolves the target of a stat-like call: `path` from `dirfd`, or the fd itself for an empty
/// path with AT_EMPTY_PATH.
pub(crate) fn stat_at(t: &Task, dirfd: i32, path_addr: u64, flags: u32) -> Result<Stat, Errno> {
    stat_at_raw(t, dirfd, path_addr, flags).map(crate::vfs::inode::dated)
}

fn stat_at_raw(t: &Task, dirfd: i32, path_addr: u64, flags: u32) -> Result<Stat, Errno> {
    stat_mount_at(t, dirfd, path_addr, flags).map(|(st, _, _, _)| st)
}

/// The stat of what a path names, with the mount it is on (none for a pipe or socket fd) and
/// whether it is that mount's root.
/// What statx reports of a file: its stat, mount, whether it is the mount's root, and the
/// inode (for what `struct stat` cannot say: the creation time).
type Statted = (
    Stat,
    Option<Arc<Mount>>,
    bool,
    Option<Arc<dyn crate::vfs::Inode>>,
);

fn stat_mount_at(t: &Task, dirfd: i32, path_addr: u64, flags: u32) -> Result<Statted, Errno> {
    let path = t.read_path(path_addr)?;
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            let r = walk_at(t, AT_FDCWD, b".", true)?;
            let st = r.stat.ok_or(Errno::ENOENT)?;
            return Ok((st, Some(r.mount), r.is_mount_root, r.inode));
        }
        let f = t.file(dirfd)?;
        let root = match (&f.inode, &f.mount) {
            (Some(i), Some(m)) => Arc::ptr_eq(i, &m.root),
            _ => false,
        };
        return Ok((f.stat()?, f.mount.clone(), root, f.inode.clone()));
    }
    let r = walk_at(t, dirfd, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    Ok((st, Some(r.mount), r.is_mount_root, r.inode))
}
/// Implements stat(2).
pub fn sys_stat(t: &mut Task) -> SysResult {
    let st = stat_at(t, AT_FDCWD, t.arg(0), 0)?;
    t.write_val(t.arg(1), &st).map(|_| 0)
}

/// Implements lstat(2).
pub fn sys_lstat(t: &mut Task) -> SysResult {
    let st = stat_at(t, AT_FDCWD, t.arg(0), AT_SYMLINK_NOFOLLOW)?;
    t.write_val(t.arg(1), &st).map(|_| 0)
}

/// Implements fstat(2).
pub fn sys_fstat(t: &mut Task) -> SysResult {
    let st = crate::vfs::inode::dated(t.file(fd_arg(t, 0))?.stat()?);
    t.write_val(t.arg(1), &st).map(|_| 0)
}

/// Implements newfstatat(2).
pub fn sys_newfstatat(t: &mut Task) -> SysResult {
    let flags = t.arg(3) as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let st = stat_at(t, fd_arg(t, 0), t.arg(1), flags)?;
    t.write_val(t.arg(2), &st).map(|_| 0)
}

/// Implements statx(2).
pub fn sys_statx(t: &mut Task) -> SysResult {
    let (dirfd, path, flags, mask, buf) = (
        fd_arg(t, 0),
        t.arg(1),
        t.arg(2) as u32,
        t.arg(3) as u32,
        t.arg(4),
    );
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
        || mask & STATX__RESERVED != 0
    {
        return Err(Errno::EINVAL);
    }
    let (st, mount, mount_root, inode) = stat_mount_at(t, dirfd, path, flags)?;
    let btime = inode.as_ref().and_then(|i| i.btime());
    // The inode attribute flags a file system keeps show as attributes (shmem_getattr).
    let (flag_attrs, flag_mask) = inode.as_ref().map_or((0, 0), |i| {
        crate::vfs::attr_flags::statx_attributes(i.as_ref())
    });
    let st = crate::vfs::inode::dated(st);
    // The mount id: the unique 64-bit one when asked for, else mountinfo's (as Linux 6.8+).
    let (mnt_mask, mnt_id) = match &mount {
        Some(m) if mask & STATX_MNT_ID_UNIQUE != 0 => (STATX_MNT_ID_UNIQUE, m.unique_id),
        Some(m) => (STATX_MNT_ID, u64::from(m.id)),
        None => (0, 0),
    };
    let ts = |sec: i64, nsec: i64| StatxTimestamp {
        tv_sec: sec,
        tv_nsec: nsec as u32,
        __reserved: 0,
    };
    let (rmaj, rmin) = dev_split(st.st_rdev);
    let (dmaj, dmin) = dev_split(st.st_dev);
    let sx = Statx {
        stx_mask: STATX_BASIC_STATS | mnt_mask | if btime.is_some() { STATX_BTIME } else { 0 },
        stx_btime: btime.map(|(s, n)| ts(s, n)).unwrap_or_default(),
        stx_mnt_id: mnt_id,
        // Every file system can say whether a file is a mount's root (vfs_statx_path).
        stx_attributes_mask: flag_mask
            | if mount.is_some() {
                STATX_ATTR_MOUNT_ROOT
            } else {
                0
            },
        stx_attributes: flag_attrs | if mount_root { STATX_ATTR_MOUNT_ROOT } else { 0 },
        stx_blksize: st.st_blksize as u32,
        stx_nlink: st.st_nlink as u32,
        stx_uid: st.st_uid,
        stx_gid: st.st_gid,
        stx_mode: st.st_mode as u16,
        stx_ino: st.st_ino,
        stx_size: st.st_size as u64,
        stx_blocks: st.st_blocks as u64,
        stx_atime: ts(st.st_atime, st.st_atime_nsec),
        stx_ctime: ts(st.st_ctime, st.st_ctime_nsec),
        stx_mtime: ts(st.st_mtime, st.st_mtime_nsec),
        stx_rdev_major: rmaj,
        stx_rdev_minor: rmin,
        stx_dev_major: dmaj,
        stx_dev_minor: dmin,
        ..Default::default()
    };
    t.write_val(buf, &sx).map(|_| 0)
}

fn do_access(t: &Task, dirfd: i32, path_addr: u64, mode: u32, flags: u32) -> SysResult {
    if mode & !(R_OK | W_OK | X_OK) != 0
        || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0
    {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(path_addr)?;
    // Linux's access_override_creds: unless AT_EACCESS, the walk and the check are made with
    // the real ids, and the capabilities of a real root (or none for anyone else).
    let overridden = (flags & AT_EACCESS == 0)
        .then(|| access_creds(&t.creds))
        .flatten();
    let creds = overridden.as_ref().unwrap_or(&t.creds);
    let (st, ro, inode) = if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        let (st, _, _, inode) = stat_mount_at(t, dirfd, path_addr, flags)?;
        (crate::vfs::inode::dated(st), false, inode)
    } else {
        let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
        let r = super::walk_at_creds(t, dirfd, &path, follow, creds)?;
        let ro = r.mount.read_only();
        (r.stat.ok_or(Errno::ENOENT)?, ro, r.inode)
    };
    if mode & W_OK != 0 && ro && matches!(st.st_mode & S_IFMT, S_IFREG | S_IFDIR | S_IFLNK) {
        return Err(Errno::EROFS);
    }
    let allowed = match &inode {
        Some(i) => creds.may_file(i.as_ref(), &st, mode),
        None => creds.may(st.st_mode, st.st_uid, st.st_gid, mode),
    };
    if !allowed {
        return Err(Errno::EACCES);
    }
    Ok(0)
}

/// The credentials access(2) checks with, when they differ from `c`: fsuid and fsgid the
/// real ids, and (without SECBIT_NO_SETUID_FIXUP) the effective capabilities the permitted
/// ones for a real root, none for another user.
fn access_creds(c: &crate::kernel::Credentials) -> Option<crate::kernel::Credentials> {
    let caps = match c.securebits & SECBIT_NO_SETUID_FIXUP {
        0 if c.uid.0 == 0 => c.caps_permitted,
        0 => 0,
        _ => c.caps,
    };
    if c.fsuid == c.uid.0 && c.fsgid == c.gid.0 && c.caps == caps {
        return None;
    }
    let mut o = c.clone();
    o.fsuid = c.uid.0;
    o.fsgid = c.gid.0;
    o.caps = caps;
    Some(o)
}

/// Implements access(2).
pub fn sys_access(t: &mut Task) -> SysResult {
    do_access(t, AT_FDCWD, t.arg(0), t.arg(1) as u32, 0)
}

/// Implements faccessat(2) (the system call has no flags argument).
pub fn sys_faccessat(t: &mut Task) -> SysResult {
    do_access(t, fd_arg(t, 0), t.arg(1), t.arg(2) as u32, 0)
}

/// Implements faccessat2(2).
pub fn sys_faccessat2(t: &mut Task) -> SysResult {
    do_access(t, fd_arg(t, 0), t.arg(1), t.arg(2) as u32, t.arg(3) as u32)
}

fn do_readlink(t: &Task, dirfd: i32, path_addr: u64, buf: u64, size: u64) -> SysResult {
    if size as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(path_addr)?;
    // An empty path names `dirfd` itself (LOOKUP_EMPTY: a symlink opened O_PATH|O_NOFOLLOW);
    // what is not a symlink then gives ENOENT, not EINVAL.
    let (inode, st) = if path.is_empty() {
        let tg = super::attr::target_at(t, dirfd, path_addr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)?;
        if tg.stat.st_mode & S_IFMT != S_IFLNK {
            return Err(Errno::ENOENT);
        }
        (tg.inode, tg.stat)
    } else {
        let r: Resolved = walk_at(t, dirfd, &path, false)?;
        let st = r.stat.ok_or(Errno::ENOENT)?;
        (r.inode.ok_or(Errno::ENOENT)?, st)
    };
    if st.st_mode & S_IFMT != S_IFLNK {
        return Err(Errno::EINVAL);
    }
    let target = inode.readlink()?;
    let n = target.len().min(size as usize);
    t.copy_out(buf, &target[..n])?;
    Ok(n as u64)
}

/// Implements readlink(2).
pub fn sys_readlink(t: &mut Task) -> SysResult {
    do_readlink(t, AT_FDCWD, t.arg(0), t.arg(1), t.arg(2))
}

/// Implements readlinkat(2).
pub fn sys_readlinkat(t: &mut Task) -> SysResult {
    do_readlink(t, fd_arg(t, 0), t.arg(1), t.arg(2), t.arg(3))
}

pub(crate) fn statfs_of(m: &Mount) -> Result<Statfs, Errno> {
    let mut s = m.fs.statfs()?;
    if s.f_fsid == [0, 0] {
        // Linux file systems without a uuid report their device (as fanotify's file ids do).
        if let Ok(root) = m.root.stat() {
            s.f_fsid = crate::vfs::fanotify::fsid_of(root.st_dev);
        }
    }
    // Linux's calculate_f_flags: ST_VALID, the mount's flags and the superblock's (the
    // file system's own answer counts only for ST_RDONLY).
    let mf = m.flags();
    let mut f = ST_VALID | (s.f_flags & ST_RDONLY);
    for (ms, st) in [
        (MS_NOSUID, ST_NOSUID),
        (MS_NODEV, ST_NODEV),
        (MS_NOEXEC, ST_NOEXEC),
        (MS_NOATIME, ST_NOATIME),
        (MS_NODIRATIME, ST_NODIRATIME),
        (MS_RELATIME, ST_RELATIME),
        (MS_NOSYMFOLLOW, ST_NOSYMFOLLOW),
    ] {
        if mf & ms != 0 {
            f |= st;
        }
    }
    let sb = crate::vfs::mount::sb_flags(&m.fs);
    if sb & MS_SYNCHRONOUS != 0 {
        f |= ST_SYNCHRONOUS;
    }
    if sb & MS_MANDLOCK != 0 {
        f |= ST_MANDLOCK;
    }
    if m.read_only() {
        f |= ST_RDONLY;
    }
    s.f_flags = f;
    Ok(s)
}

/// Implements statfs(2).
pub fn sys_statfs(t: &mut Task) -> SysResult {
    let path = t.read_path(t.arg(0))?;
    let r = walk_at(t, AT_FDCWD, &path, true)?;
    r.stat.ok_or(Errno::ENOENT)?;
    let s = statfs_of(&r.mount)?;
    t.write_val(t.arg(1), &s).map(|_| 0)
}

/// Implements fstatfs(2).
pub fn sys_fstatfs(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    let s = match &file.mount {
        Some(m) => statfs_of(m)?,
        // Pipes and the host's stdio: pipefs-like.
        None => crate::vfs::inode::synthetic_statfs(0x5049_5045),
    };
    t.write_val(t.arg(1), &s).map(|_| 0)
}
