// SPDX-License-Identifier: Apache-2.0
//! Attributes and data management: chmod, chown, utimes, truncate, fallocate, the sync family,
//! fadvise and readahead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::walk_at;
use crate::kernel::Task;
use crate::syscalls::{fd_arg, SysResult};
use crate::vfs::attr_flags;
use crate::vfs::{notify, File, Inode, Mount, SetAttr, TimeSpec};

/// The file a path-or-fd attribute call acts on.
pub(crate) struct Target {
    pub(crate) inode: Arc<dyn Inode>,
    pub(crate) mount: Option<Arc<Mount>>,
    pub(crate) stat: Stat,
    /// Its directory and its name there, for the events reported to that directory.
    pub(crate) parent: Option<(Arc<dyn Inode>, Vec<u8>)>,
}

impl Target {
    fn read_only(&self) -> bool {
        self.mount.as_ref().is_some_and(|m| m.read_only())
    }

    /// Reports the file event `mask` (IN_ATTRIB, IN_MODIFY, ...) on the file.
    pub(crate) fn notify(&self, mask: u32) {
        if !notify::active() {
            return;
        }
        notify::file_event(
            &notify::Subject {
                inode: self.inode.as_ref(),
                stat: None,
                parent: self
                    .parent
                    .as_ref()
                    .map(|(d, n)| (d.as_ref(), n.as_slice())),
                file: None,
            },
            mask,
        );
    }

    /// Changes attributes and reports the change (Linux notify_change + fsnotify_change).
    fn setattr(&self, a: &SetAttr) -> Result<(), Errno> {
        self.inode.setattr(a)?;
        self.notify(notify::attr_mask(a));
        Ok(())
    }
}

/// Counts the changes that may give a file set-id bits or capabilities (every chmod and
/// setxattr in the sandbox): a description whose write found nothing to strip skips the
/// check until the count moves (Linux keeps an S_NOSEC flag on the inode instead).
static PRIVS_GEN: AtomicU64 = AtomicU64::new(1);

/// A chmod or setxattr happened: descriptions look at their files' privileges again.
pub(crate) fn privs_may_have_changed() {
    PRIVS_GEN.fetch_add(1, Ordering::AcqRel);
}

/// What a write or truncate by `t` strips from a regular file (Linux's dentry_needs_remove_privs
/// and __remove_privs): the set-user-ID bit and the set-group-ID bit ([`drops_sgid`]) unless
/// `t` holds CAP_FSETID, and its file capabilities (security.capability)
/// whoever writes, so that nobody can change the code of a privileged executable and keep
/// its privileges. True when the file is left with none of them.
fn strip_privs(t: &Task, tg: &Target) -> Result<bool, Errno> {
    let mode = tg.stat.st_mode;
    if mode & S_IFMT != S_IFREG {
        return Ok(true);
    }
    let mut clean = true;
    let mut kill = mode & S_ISUID;
    if drops_sgid(t, &tg.stat) {
        kill |= S_ISGID;
    }
    if kill != 0 {
        if t.creds.caps & (1 << CAP_FSETID) != 0 {
            clean = false;
        } else {
            tg.setattr(&SetAttr {
                mode: Some(mode & 0o7777 & !kill),
                ..Default::default()
            })?;
        }
    }
    if tg.inode.getxattr(b"security.capability").is_ok() {
        tg.inode.removexattr(b"security.capability")?;
        tg.notify(IN_ATTRIB);
    }
    Ok(clean)
}

/// Linux's setattr_should_drop_sgid: a set-group-ID bit goes with group execute, or when
/// the caller is neither in the file's group nor holds CAP_FSETID.
fn drops_sgid(t: &Task, st: &Stat) -> bool {
    st.st_mode & S_ISGID != 0
        && (st.st_mode & S_IXGRP != 0
            || !(t.creds.caps & (1 << CAP_FSETID) != 0 || in_group(t, st.st_gid)))
}

/// [`strip_privs`] for a write through `file` (write, pwrite, the vectored and splicing
/// calls, fallocate), checked once per description while no chmod or setxattr happens.
pub(crate) fn remove_privs(t: &Task, file: &File) -> Result<(), Errno> {
    let gen = PRIVS_GEN.load(Ordering::Acquire);
    if file.nosec.load(Ordering::Relaxed) == gen {
        return Ok(());
    }
    let Some(inode) = file.inode.clone() else {
        return Ok(());
    };
    let tg = Target {
        stat: inode.stat()?,
        inode,
        mount: file.mount.clone(),
        parent: file.parent().cloned(),
    };
    if strip_privs(t, &tg)? {
        file.nosec.store(gen, Ordering::Relaxed);
    }
    Ok(())
}

/// [`strip_privs`] for O_TRUNC at open.
pub(crate) fn remove_privs_of(t: &Task, inode: &Arc<dyn Inode>, stat: Stat) -> Result<(), Errno> {
    let tg = Target {
        inode: inode.clone(),
        mount: None,
        stat,
        parent: None,
    };
    strip_privs(t, &tg).map(drop)
}

/// `path` from `dirfd`, or with an empty path and AT_EMPTY_PATH the file `dirfd` itself.
pub(crate) fn target_at(t: &Task, dirfd: i32, path_addr: u64, flags: u32) -> Result<Target, Errno> {
    let path = if path_addr == 0 && flags & AT_EMPTY_PATH != 0 {
        Vec::new()
    } else {
        t.read_path(path_addr)?
    };
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd != AT_FDCWD {
            return target_fd(t, dirfd);
        }
    }
    let path: &[u8] = if path.is_empty() { b"." } else { &path };
    let r = walk_at(t, dirfd, path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    let parent = (!r.is_mount_root).then(|| (r.parent.clone(), r.name.clone()));
    Ok(Target {
        inode: r.inode.ok_or(Errno::ENOENT)?,
        stat: r.stat.ok_or(Errno::ENOENT)?,
        mount: Some(r.mount),
        parent,
    })
}

/// The file an fd refers to (EBADF for descriptors with no file behind them, such as the
/// host's stdio: their attributes belong to the host).
pub(crate) fn target_fd(t: &Task, fd: i32) -> Result<Target, Errno> {
    let f: Arc<File> = t.file(fd)?;
    let inode = f.inode.clone().ok_or(Errno::EPERM)?;
    Ok(Target {
        stat: inode.stat()?,
        inode,
        mount: f.mount.clone(),
        parent: f.parent().cloned(),
    })
}

/// The file behind `fd` for a call that takes no O_PATH descriptor (Linux's fdget, not
/// fdget_raw: fchmod, fchown, the f*xattr calls): EBADF for one.
pub(crate) fn target_open_fd(t: &Task, fd: i32) -> Result<Target, Errno> {
    if t.file(fd)?.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    target_fd(t, fd)
}

fn is_owner(t: &Task, st: &Stat) -> bool {
    t.creds.uid.1 == 0 || t.creds.uid.1 == st.st_uid
}

fn in_group(t: &Task, gid: u32) -> bool {
    t.creds.gid.1 == gid || t.creds.groups.contains(&gid)
}

fn chmod(t: &Task, tg: Target, mode: u32) -> SysResult {
    if tg.stat.st_mode & S_IFMT == S_IFLNK {
        return Err(Errno::EOPNOTSUPP);
    }
    // A read-only mount refuses before any permission is looked at (chmod_common takes
    // mnt_want_write first).
    if tg.read_only() {
        return Err(Errno::EROFS);
    }
    attr_flags::check_fixed(tg.inode.as_ref())?;
    if !is_owner(t, &tg.stat) {
        return Err(Errno::EPERM);
    }
    let mut mode = mode & 0o7777;
    if t.creds.uid.1 != 0 && !in_group(t, tg.stat.st_gid) {
        mode &= !S_ISGID;
    }
    tg.setattr(&SetAttr {
        mode: Some(mode),
        ..Default::default()
    })?;
    // An access ACL follows the new mode (posix_acl_chmod).
    crate::vfs::acl::chmod(tg.inode.as_ref(), mode)?;
    privs_may_have_changed();
    Ok(0)
}

/// Implements chmod(2).
pub fn sys_chmod(t: &mut Task) -> SysResult {
    let tg = target_at(t, AT_FDCWD, t.arg(0), 0)?;
    chmod(t, tg, t.arg(1) as u32)
}

/// Implements fchmod(2).
pub fn sys_fchmod(t: &mut Task) -> SysResult {
    let tg = target_open_fd(t, fd_arg(t, 0))?;
    chmod(t, tg, t.arg(1) as u32)
}

/// Implements fchmodat(2) (no flags argument).
pub fn sys_fchmodat(t: &mut Task) -> SysResult {
    let tg = target_at(t, fd_arg(t, 0), t.arg(1), 0)?;
    chmod(t, tg, t.arg(2) as u32)
}

/// Implements fchmodat2(2).
pub fn sys_fchmodat2(t: &mut Task) -> SysResult {
    let flags = t.arg(3) as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let tg = target_at(t, fd_arg(t, 0), t.arg(1), flags)?;
    chmod(t, tg, t.arg(2) as u32)
}

fn chown(t: &Task, tg: Target, uid: u32, gid: u32) -> SysResult {
    let st = tg.stat;
    let uid = (uid != u32::MAX).then_some(uid);
    let gid = (gid != u32::MAX).then_some(gid);
    // A read-only mount refuses before any permission is looked at (do_fchownat and
    // vfs_fchown take mnt_want_write first).
    if tg.read_only() {
        return Err(Errno::EROFS);
    }
    attr_flags::check_fixed(tg.inode.as_ref())?;
    if t.creds.uid.1 != 0 {
        let uid_ok = uid.is_none_or(|u| u == st.st_uid && u == t.creds.uid.1);
        let gid_ok =
            gid.is_none_or(|g| g == st.st_gid || (t.creds.uid.1 == st.st_uid && in_group(t, g)));
        if !uid_ok || !gid_ok || (t.creds.uid.1 != st.st_uid && (uid.is_some() || gid.is_some())) {
            return Err(Errno::EPERM);
        }
    }
    let mut a = SetAttr {
        uid,
        gid,
        ..Default::default()
    };
    // Linux's chown_common: for anything but a directory, even with both ids -1 and for
    // root, the set-user-ID bit goes (ATTR_KILL_SUID), the set-group-ID bit as
    // [`drops_sgid`] says, and file capabilities (ATTR_KILL_PRIV).
    let fmt = st.st_mode & S_IFMT;
    let not_dir = fmt != S_IFDIR && fmt != S_IFLNK;
    if not_dir {
        let mut mode = st.st_mode & 0o7777 & !S_ISUID;
        if drops_sgid(t, &st) {
            mode &= !S_ISGID;
        }
        if mode != st.st_mode & 0o7777 {
            a.mode = Some(mode);
        }
    }
    tg.setattr(&a)?;
    if not_dir && tg.inode.getxattr(b"security.capability").is_ok() {
        tg.inode.removexattr(b"security.capability")?;
    }
    Ok(0)
}

/// Implements chown(2).
pub fn sys_chown(t: &mut Task) -> SysResult {
    let tg = target_at(t, AT_FDCWD, t.arg(0), 0)?;
    chown(t, tg, t.arg(1) as u32, t.arg(2) as u32)
}

/// Implements lchown(2).
pub fn sys_lchown(t: &mut Task) -> SysResult {
    let tg = target_at(t, AT_FDCWD, t.arg(0), AT_SYMLINK_NOFOLLOW)?;
    chown(t, tg, t.arg(1) as u32, t.arg(2) as u32)
}

/// Implements fchown(2).
pub fn sys_fchown(t: &mut Task) -> SysResult {
    let tg = target_open_fd(t, fd_arg(t, 0))?;
    chown(t, tg, t.arg(1) as u32, t.arg(2) as u32)
}

/// Implements fchownat(2).
pub fn sys_fchownat(t: &mut Task) -> SysResult {
    let flags = t.arg(4) as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let tg = target_at(t, fd_arg(t, 0), t.arg(1), flags)?;
    chown(t, tg, t.arg(2) as u32, t.arg(3) as u32)
}

fn to_time(ts: Timespec) -> Result<Option<TimeSpec>, Errno> {
    match ts.tv_nsec {
        UTIME_OMIT => Ok(None),
        UTIME_NOW => Ok(Some(TimeSpec::Now)),
        n if (0..1_000_000_000).contains(&n) => Ok(Some(TimeSpec::At(ts.tv_sec, n))),
        _ => Err(Errno::EINVAL),
    }
}

/// Sets the times of `tg`: `None` means both now (a NULL times argument).
fn set_times(t: &Task, tg: Target, times: Option<[Timespec; 2]>) -> SysResult {
    let (atime, mtime) = match times {
        None => (Some(TimeSpec::Now), Some(TimeSpec::Now)),
        Some([a, m]) => (to_time(a)?, to_time(m)?),
    };
    if atime.is_none() && mtime.is_none() {
        return Ok(0);
    }
    // vfs_utimes: no times, or both UTIME_NOW, is a touch (ATTR_TOUCH: write permission
    // will do); anything else, UTIME_NOW beside UTIME_OMIT included, sets times
    // (ATTR_TIMES_SET: the owner only, and never on an append-only file).
    let only_now = atime == Some(TimeSpec::Now) && mtime == Some(TimeSpec::Now);
    if tg.read_only() {
        return Err(Errno::EROFS);
    }
    // notify_change: explicit times of an immutable or append-only file, or the current
    // time of an immutable one, are EPERM.
    if only_now {
        attr_flags::check_writable(tg.inode.as_ref())?;
    } else {
        attr_flags::check_fixed(tg.inode.as_ref())?;
    }
    if !is_owner(t, &tg.stat) {
        if !only_now {
            return Err(Errno::EPERM);
        }
        if !t.creds.may_file(tg.inode.as_ref(), &tg.stat, W_OK) {
            return Err(Errno::EACCES);
        }
    }
    tg.setattr(&SetAttr {
        atime,
        mtime,
        ..Default::default()
    })?;
    Ok(0)
}

/// Implements utimensat(2) (a NULL path acts on `dirfd` itself, as Linux allows).
pub fn sys_utimensat(t: &mut Task) -> SysResult {
    let (dirfd, path, times_addr, flags) = (fd_arg(t, 0), t.arg(1), t.arg(2), t.arg(3) as u32);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let times = if times_addr == 0 {
        None
    } else {
        Some([
            t.read_val::<Timespec>(times_addr)?,
            t.read_val::<Timespec>(times_addr + 16)?,
        ])
    };
    if let Some(ts) = times {
        to_time(ts[0])?;
        to_time(ts[1])?;
    }
    let tg = if path == 0 {
        if dirfd == AT_FDCWD {
            return Err(Errno::EFAULT);
        }
        // do_utimes: the descriptor itself, which has no link not to follow.
        if flags & AT_SYMLINK_NOFOLLOW != 0 {
            return Err(Errno::EINVAL);
        }
        target_fd(t, dirfd)?
    } else {
        target_at(t, dirfd, path, flags)?
    };
    set_times(t, tg, times)
}

fn timevals(t: &Task, addr: u64) -> Result<Option<[Timespec; 2]>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let mut out = [Timespec::default(); 2];
    for (i, o) in out.iter_mut().enumerate() {
        let tv: Timeval = t.read_val(addr + 16 * i as u64)?;
        if !(0..1_000_000).contains(&tv.tv_usec) {
            return Err(Errno::EINVAL);
        }
        *o = Timespec {
            tv_sec: tv.tv_sec,
            tv_nsec: tv.tv_usec * 1000,
        };
    }
    Ok(Some(out))
}

/// Implements utimes(2).
pub fn sys_utimes(t: &mut Task) -> SysResult {
    let times = timevals(t, t.arg(1))?;
    let tg = target_at(t, AT_FDCWD, t.arg(0), 0)?;
    set_times(t, tg, times)
}

/// Implements futimesat(2).
pub fn sys_futimesat(t: &mut Task) -> SysResult {
    let times = timevals(t, t.arg(2))?;
    let tg = target_at(t, fd_arg(t, 0), t.arg(1), 0)?;
    set_times(t, tg, times)
}

/// Implements utime(2).
pub fn sys_utime(t: &mut Task) -> SysResult {
    let times = if t.arg(1) == 0 {
        None
    } else {
        let v: [i64; 2] = [t.read_val(t.arg(1))?, t.read_val(t.arg(1) + 8)?];
        Some([
            Timespec {
                tv_sec: v[0],
                tv_nsec: 0,
            },
            Timespec {
                tv_sec: v[1],
                tv_nsec: 0,
            },
        ])
    };
    let tg = target_at(t, AT_FDCWD, t.arg(0), 0)?;
    set_times(t, tg, times)
}

fn truncate(t: &Task, tg: &Target, len: i64) -> SysResult {
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    match tg.stat.st_mode & S_IFMT {
        S_IFDIR => return Err(Errno::EISDIR),
        S_IFREG => {}
        _ => return Err(Errno::EINVAL),
    }
    if tg.read_only() {
        return Err(Errno::EROFS);
    }
    attr_flags::check_fixed(tg.inode.as_ref())?;
    // inode_newsize_ok: growing a file past RLIMIT_FSIZE fails with EFBIG and raises SIGXFSZ.
    let limit = t.rlimit(RLIMIT_FSIZE);
    if len > tg.stat.st_size && limit != RLIM_INFINITY && len as u64 > limit {
        let info = crate::kernel::signal::user_info(SIGXFSZ, SI_USER, t.tgid(), t.creds.uid.0);
        crate::kernel::send_thread_signal(&t.k, &t.shared, info);
        return Err(Errno::EFBIG);
    }
    strip_privs(t, tg)?;
    tg.setattr(&SetAttr {
        size: Some(len as u64),
        ..Default::default()
    })?;
    Ok(0)
}

/// Implements truncate(2).
pub fn sys_truncate(t: &mut Task) -> SysResult {
    let len = t.arg(1) as i64;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(t.arg(0))?;
    let r = walk_at(t, AT_FDCWD, &path, true)?;
    let ll_path = r.path.clone();
    let tg = Target {
        parent: (!r.is_mount_root).then(|| (r.parent.clone(), r.name.clone())),
        inode: r.inode.ok_or(Errno::ENOENT)?,
        stat: r.stat.ok_or(Errno::ENOENT)?,
        mount: Some(r.mount),
    };
    if tg.stat.st_mode & S_IFMT != S_IFDIR {
        if tg.read_only() {
            return Err(Errno::EROFS);
        }
        attr_flags::check_writable(tg.inode.as_ref())?;
    }
    if tg.stat.st_mode & S_IFMT != S_IFDIR && !t.creds.may_file(tg.inode.as_ref(), &tg.stat, W_OK) {
        return Err(Errno::EACCES);
    }
    if tg.stat.st_mode & S_IFMT == S_IFREG {
        crate::kernel::landlock::check_path(t, &ll_path, LANDLOCK_ACCESS_FS_TRUNCATE)?;
    }
    if tg.stat.st_mode & S_IFMT == S_IFREG {
        super::fd::break_lease(t, &tg.stat, O_WRONLY)?;
    }
    // A running program cannot be truncated (do_sys_truncate's get_write_access).
    let _writer = if tg.stat.st_mode & S_IFMT == S_IFREG {
        Some(crate::vfs::writecount::get_write_access((
            tg.stat.st_dev,
            tg.stat.st_ino,
        ))?)
    } else {
        None
    };
    truncate(t, &tg, len)
}

/// Implements ftruncate(2).
pub fn sys_ftruncate(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    let len = t.arg(1) as i64;
    if len < 0 || !file.writable() {
        return Err(Errno::EINVAL);
    }
    let inode = file.inode.clone().ok_or(Errno::EINVAL)?;
    crate::kernel::landlock::check_file_truncate(&file)?;
    let tg = Target {
        stat: inode.stat()?,
        inode,
        mount: None,
        parent: file.parent().cloned(),
    };
    truncate(t, &tg, len)
}

/// Implements fallocate(2).
pub fn sys_fallocate(t: &mut Task) -> SysResult {
    let (fd, mode, off, len) = (
        fd_arg(t, 0),
        t.arg(1) as u32,
        t.arg(2) as i64,
        t.arg(3) as i64,
    );
    let file = t.file(fd)?;
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    let known = FALLOC_FL_KEEP_SIZE
        | FALLOC_FL_PUNCH_HOLE
        | FALLOC_FL_COLLAPSE_RANGE
        | FALLOC_FL_ZERO_RANGE
        | FALLOC_FL_INSERT_RANGE
        | FALLOC_FL_UNSHARE_RANGE
        | FALLOC_FL_NO_HIDE_STALE;
    if mode & !known != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if mode & FALLOC_FL_PUNCH_HOLE != 0 && mode & FALLOC_FL_KEEP_SIZE == 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    let st = file.ops.stat()?;
    match st.st_mode & S_IFMT {
        S_IFREG => {}
        S_IFDIR => return Err(Errno::EISDIR),
        S_IFIFO => return Err(Errno::ESPIPE),
        _ => return Err(Errno::ENODEV),
    }
    // vfs_fallocate: an append-only file only grows (KEEP_SIZE aside), an immutable one never
    // changes.
    if let Some(inode) = &file.inode {
        let f = attr_flags::of(inode.as_ref());
        if (f & FS_APPEND_FL != 0 && mode & !FALLOC_FL_KEEP_SIZE != 0) || f & FS_IMMUTABLE_FL != 0 {
            return Err(Errno::EPERM);
        }
    }
    if off.checked_add(len).is_none() {
        return Err(Errno::EFBIG);
    }
    // Linux's tmpfs supports only these (shmem_fallocate).
    if mode & !(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    remove_privs(t, &file)?;
    file.ops.allocate(mode, off as u64, len as u64)?;
    file.notify(IN_MODIFY);
    Ok(0)
}

fn sync_fd(t: &Task, fd: i32) -> SysResult {
    let file = t.file(fd)?;
    if file.inode.is_none() {
        return Err(Errno::EINVAL);
    }
    file.ops.sync()?;
    Ok(0)
}

/// Implements fsync(2).
pub fn sys_fsync(t: &mut Task) -> SysResult {
    sync_fd(t, fd_arg(t, 0))
}

/// Implements fdatasync(2).
pub fn sys_fdatasync(t: &mut Task) -> SysResult {
    sync_fd(t, fd_arg(t, 0))
}

/// Implements sync(2): the sandbox's own files are in memory; host files are the host's.
pub fn sys_sync(t: &mut Task) -> SysResult {
    for m in t.mnt().read().list() {
        let _ = m.fs.sync();
    }
    Ok(0)
}

/// Implements syncfs(2).
pub fn sys_syncfs(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    match &file.mount {
        Some(m) => m.fs.sync().map(|_| 0),
        None => Ok(0),
    }
}

/// Implements sync_file_range(2).
pub fn sys_sync_file_range(t: &mut Task) -> SysResult {
    let (fd, off, n, flags) = (fd_arg(t, 0), t.arg(1) as i64, t.arg(2) as i64, t.arg(3));
    if flags & !7 != 0 || off < 0 || n < 0 || off.checked_add(n).is_none() {
        return Err(Errno::EINVAL);
    }
    let file = t.file(fd)?;
    match file.ops.stat()?.st_mode & S_IFMT {
        S_IFREG | S_IFDIR | S_IFBLK | S_IFLNK => Ok(0),
        _ => Err(Errno::ESPIPE),
    }
}

/// Implements fadvise64(2): advice is accepted and has no effect.
pub fn sys_fadvise64(t: &mut Task) -> SysResult {
    let (fd, len, advice) = (fd_arg(t, 0), t.arg(2) as i64, t.arg(3));
    let file = t.file(fd)?;
    if file.ops.is_stream() && file.ops.stat()?.st_mode & S_IFMT == S_IFIFO {
        return Err(Errno::ESPIPE);
    }
    if advice > 5 || len < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// Implements readahead(2).
pub fn sys_readahead(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    if file.ops.stat()?.st_mode & S_IFMT != S_IFREG || (t.arg(1) as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}
