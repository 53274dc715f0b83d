// SPDX-License-Identifier: Apache-2.0
//! File system calls: open, read, write, stat, directories, descriptors, pipes, ioctl.

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::{fd_arg, SysResult};
use crate::fsimpl::pipe;
use crate::kernel::{lock, Task};
use crate::vfs::path::Resolved;
use crate::vfs::File;

/// Largest count one read or write moves (Linux's MAX_RW_COUNT).
const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// Largest chunk the sentry buffers at once.
const CHUNK: usize = 1 << 20;
/// Most iovecs in one call (UIO_MAXIOV).
const UIO_MAXIOV: u64 = 1024;

fn nofile(t: &Task) -> u64 {
    t.rlimit(RLIMIT_NOFILE)
}

fn install(t: &Task, file: Arc<File>, cloexec: bool) -> SysResult {
    let limit = nofile(t);
    t.fds().alloc(file, cloexec, 0, limit).map(|fd| fd as u64)
}

fn do_open(t: &Task, dirfd: i32, path_addr: u64, flags: u32, mode: u32) -> SysResult {
    let path = t.read_path(path_addr)?;
    let flags = flags | O_LARGEFILE;
    if flags & O_TMPFILE == O_TMPFILE {
        // An unnamed file in a directory: needs a writable file system.
        let r = t.resolve_at(dirfd, &path, true)?;
        let st = r.stat.ok_or(Errno::ENOENT)?;
        if st.st_mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        if !matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR) {
            return Err(Errno::EINVAL);
        }
        return Err(if r.fs.read_only() {
            Errno::EROFS
        } else {
            Errno::EOPNOTSUPP
        });
    }
    let creat = flags & O_CREAT != 0;
    let excl = creat && flags & O_EXCL != 0;
    let follow = flags & O_NOFOLLOW == 0 && !excl;
    let r = t.resolve_at(dirfd, &path, follow)?;
    let acc = flags & O_ACCMODE;
    let want_write =
        flags & O_PATH == 0 && (matches!(acc, O_WRONLY | O_RDWR) || flags & O_TRUNC != 0);
    let ops = match r.stat {
        None => {
            if !creat {
                return Err(Errno::ENOENT);
            }
            if r.trailing_slash {
                return Err(Errno::EISDIR);
            }
            let umask = lock(&t.fs).umask;
            r.fs.create(&r.rel, flags, mode & 0o7777 & !umask)?
        }
        Some(st) => {
            let fmt = st.st_mode & S_IFMT;
            if excl {
                return Err(Errno::EEXIST);
            }
            if fmt == S_IFLNK && flags & O_PATH == 0 {
                return Err(Errno::ELOOP);
            }
            if flags & O_DIRECTORY != 0 && fmt != S_IFDIR && fmt != S_IFLNK {
                return Err(Errno::ENOTDIR);
            }
            if fmt == S_IFDIR && (want_write || creat) {
                return Err(Errno::EISDIR);
            }
            if flags & O_PATH == 0 {
                let mut need = 0;
                if matches!(acc, O_RDONLY | O_RDWR) {
                    need |= R_OK;
                }
                if want_write {
                    need |= W_OK;
                }
                if !t.creds.may(st.st_mode, st.st_uid, st.st_gid, need) {
                    return Err(Errno::EACCES);
                }
                if want_write && r.fs.read_only() && matches!(fmt, S_IFREG | S_IFDIR | S_IFLNK) {
                    return Err(Errno::EROFS);
                }
            }
            r.fs.open(&r.rel, flags)?
        }
    };
    let file = File::new(ops, flags, r.path);
    install(t, file, flags & O_CLOEXEC != 0)
}

/// Implements open(2).
pub fn sys_open(t: &mut Task) -> SysResult {
    do_open(t, AT_FDCWD, t.arg(0), t.arg(1) as u32, t.arg(2) as u32)
}

/// Implements openat(2).
pub fn sys_openat(t: &mut Task) -> SysResult {
    do_open(t, fd_arg(t, 0), t.arg(1), t.arg(2) as u32, t.arg(3) as u32)
}

/// Implements close(2).
pub fn sys_close(t: &mut Task) -> SysResult {
    let entry = t.fds().remove(fd_arg(t, 0))?;
    drop(entry);
    Ok(0)
}

/// Implements close_range(2).
pub fn sys_close_range(t: &mut Task) -> SysResult {
    const CLOSE_RANGE_UNSHARE: u64 = 2;
    const CLOSE_RANGE_CLOEXEC: u64 = 4;
    let (first, last, flags) = (t.arg(0) as u32, t.arg(1) as u32, t.arg(2));
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    let mut fds = t.fds();
    let open: Vec<i32> = fds
        .iter()
        .map(|(fd, _)| fd)
        .filter(|fd| (*fd as u32) >= first && (*fd as u32) <= last)
        .collect();
    let mut closed = Vec::new();
    for fd in open {
        if flags & CLOSE_RANGE_CLOEXEC != 0 {
            let _ = fds.set_cloexec(fd, true);
        } else if let Ok(e) = fds.remove(fd) {
            closed.push(e);
        }
    }
    drop(fds);
    drop(closed);
    Ok(0)
}

/// Reads up to `count` bytes from `file` into application memory at `addr`.
/// Linux's access_ok: the range must lie in user space (the pages themselves are checked on
/// copy).
fn access_ok(addr: u64, len: u64) -> Result<(), Errno> {
    match addr.checked_add(len) {
        Some(end) if end <= TASK_SIZE => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}

fn read_into(t: &Task, file: &File, addr: u64, count: u64, offset: Option<i64>) -> SysResult {
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    if offset.is_some() && file.ops.is_stream() {
        return Err(Errno::ESPIPE);
    }
    let count = count.min(MAX_RW_COUNT) as usize;
    access_ok(addr, count as u64)?;
    if count == 0 {
        // Still check the descriptor can be read.
        return match offset {
            Some(off) => file.pread(&mut [], off).map(|n| n as u64),
            None => file.read(&mut []).map(|n| n as u64),
        };
    }
    let mut done = 0usize;
    let mut buf = vec![0u8; count.min(CHUNK)];
    while done < count {
        let want = (count - done).min(CHUNK);
        let got = match offset {
            Some(off) => file.pread(&mut buf[..want], off + done as i64),
            None => file.read(&mut buf[..want]),
        };
        let n = match got {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if let Err(e) = t.copy_out(addr + done as u64, &buf[..n]) {
            if done == 0 {
                if offset.is_none() && !file.ops.is_stream() {
                    // Give the data back: the position did not move as far as Linux's would.
                    let _ = file.seek(-(n as i64), SEEK_CUR);
                }
                return Err(e);
            }
            break;
        }
        done += n;
        if n < want || file.ops.is_stream() {
            break;
        }
    }
    Ok(done as u64)
}

/// Writes `count` bytes of application memory at `addr` to `file`.
fn write_from(t: &Task, file: &File, addr: u64, count: u64, offset: Option<i64>) -> SysResult {
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    if offset.is_some() && file.ops.is_stream() {
        return Err(Errno::ESPIPE);
    }
    let count = count.min(MAX_RW_COUNT) as usize;
    access_ok(addr, count as u64)?;
    if count == 0 {
        return match offset {
            Some(off) => file.pwrite(&[], off).map(|n| n as u64),
            None => file.write(&[]).map(|n| n as u64),
        };
    }
    let mut done = 0usize;
    let mut buf = vec![0u8; count.min(CHUNK)];
    while done < count {
        let want = (count - done).min(CHUNK);
        if let Err(e) = t.copy_in(addr + done as u64, &mut buf[..want]) {
            if done == 0 {
                return Err(e);
            }
            break;
        }
        let got = match offset {
            Some(off) => file.pwrite(&buf[..want], off + done as i64),
            None => file.write(&buf[..want]),
        };
        match got {
            Ok(n) => {
                done += n;
                if n < want {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done as u64)
}

/// Implements read(2).
pub fn sys_read(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    read_into(t, &file, t.arg(1), t.arg(2), None)
}

/// Implements write(2).
pub fn sys_write(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    write_from(t, &file, t.arg(1), t.arg(2), None)
}

/// Implements pread64(2).
pub fn sys_pread64(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    let off = t.arg(3) as i64;
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    read_into(t, &file, t.arg(1), t.arg(2), Some(off))
}

/// Implements pwrite64(2).
pub fn sys_pwrite64(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    let off = t.arg(3) as i64;
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    write_from(t, &file, t.arg(1), t.arg(2), Some(off))
}

fn read_iovecs(t: &Task, addr: u64, count: u64) -> Result<Vec<Iovec>, Errno> {
    if count > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let mut v = Vec::with_capacity(count as usize);
    let mut total: u64 = 0;
    for i in 0..count {
        let iov: Iovec = t.read_val(addr + i * 16)?;
        if iov.len > i64::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        total = total.saturating_add(iov.len);
        if total > i64::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        v.push(iov);
    }
    Ok(v)
}

fn do_readv(t: &Task, fd: i32, iov_addr: u64, cnt: u64, offset: Option<i64>) -> SysResult {
    let file = t.file(fd)?;
    let iovs = read_iovecs(t, iov_addr, cnt)?;
    let total: u64 = iovs.iter().map(|v| v.len).sum::<u64>().min(MAX_RW_COUNT);
    let mut buf = vec![0u8; (total as usize).min(CHUNK * 8)];
    let n = match offset {
        Some(off) => file.pread(&mut buf, off)?,
        None => file.read(&mut buf)?,
    };
    let mut copied = 0usize;
    for iov in iovs {
        if copied >= n {
            break;
        }
        let k = (iov.len as usize).min(n - copied);
        if let Err(e) = t.copy_out(iov.base, &buf[copied..copied + k]) {
            if copied == 0 {
                return Err(e);
            }
            break;
        }
        copied += k;
    }
    Ok(copied as u64)
}

fn do_writev(t: &Task, fd: i32, iov_addr: u64, cnt: u64, offset: Option<i64>) -> SysResult {
    let file = t.file(fd)?;
    let iovs = read_iovecs(t, iov_addr, cnt)?;
    let mut buf = Vec::new();
    for iov in iovs {
        let k = iov.len.min(MAX_RW_COUNT - buf.len() as u64) as usize;
        let start = buf.len();
        buf.resize(start + k, 0);
        if let Err(e) = t.copy_in(iov.base, &mut buf[start..]) {
            buf.truncate(start);
            if start == 0 {
                return Err(e);
            }
            break;
        }
        if buf.len() as u64 >= MAX_RW_COUNT {
            break;
        }
    }
    let n = match offset {
        Some(off) => file.pwrite(&buf, off)?,
        None => file.write(&buf)?,
    };
    Ok(n as u64)
}

/// Implements readv(2).
pub fn sys_readv(t: &mut Task) -> SysResult {
    do_readv(t, fd_arg(t, 0), t.arg(1), t.arg(2), None)
}

/// Implements writev(2).
pub fn sys_writev(t: &mut Task) -> SysResult {
    do_writev(t, fd_arg(t, 0), t.arg(1), t.arg(2), None)
}

/// Implements preadv(2).
pub fn sys_preadv(t: &mut Task) -> SysResult {
    let off = t.arg(3) as i64;
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    do_readv(t, fd_arg(t, 0), t.arg(1), t.arg(2), Some(off))
}

/// Implements pwritev(2).
pub fn sys_pwritev(t: &mut Task) -> SysResult {
    let off = t.arg(3) as i64;
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    do_writev(t, fd_arg(t, 0), t.arg(1), t.arg(2), Some(off))
}

/// Implements lseek(2).
pub fn sys_lseek(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    file.seek(t.arg(1) as i64, t.arg(2) as u32)
}

/// Resolves the target of a stat-like call: `path` from `dirfd`, or the fd itself for an empty
/// path with AT_EMPTY_PATH.
fn stat_at(t: &Task, dirfd: i32, path_addr: u64, flags: u32) -> Result<Stat, Errno> {
    let path = t.read_path(path_addr)?;
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            return t
                .k
                .resolve("/", t.cwd().as_bytes(), true)?
                .stat
                .ok_or(Errno::ENOENT);
        }
        return t.file(dirfd)?.ops.stat();
    }
    let r = t.resolve_at(dirfd, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    r.stat.ok_or(Errno::ENOENT)
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
    let st = t.file(fd_arg(t, 0))?.ops.stat()?;
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
    let st = stat_at(t, dirfd, path, flags)?;
    let ts = |sec: i64, nsec: i64| StatxTimestamp {
        tv_sec: sec,
        tv_nsec: nsec as u32,
        __reserved: 0,
    };
    let (rmaj, rmin) = dev_split(st.st_rdev);
    let (dmaj, dmin) = dev_split(st.st_dev);
    let sx = Statx {
        stx_mask: STATX_BASIC_STATS,
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
    let (st, ro) = if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        (stat_at(t, dirfd, path_addr, flags)?, false)
    } else {
        let r = t.resolve_at(dirfd, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
        let ro = r.fs.read_only();
        (r.stat.ok_or(Errno::ENOENT)?, ro)
    };
    if mode & W_OK != 0 && ro && matches!(st.st_mode & S_IFMT, S_IFREG | S_IFDIR | S_IFLNK) {
        return Err(Errno::EROFS);
    }
    if !t.creds.may(st.st_mode, st.st_uid, st.st_gid, mode) {
        return Err(Errno::EACCES);
    }
    Ok(0)
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
    let r: Resolved = t.resolve_at(dirfd, &path, false)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    if st.st_mode & S_IFMT != S_IFLNK {
        return Err(Errno::EINVAL);
    }
    let target = r.fs.readlink(&r.rel)?;
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

/// Implements getdents64(2).
pub fn sys_getdents64(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    let (addr, count) = (t.arg(1), t.arg(2) as u32 as usize);
    access_ok(addr, count as u64)?;
    let mut buf = vec![0u8; count.min(CHUNK)];
    let saved = *file.pos.lock().unwrap_or_else(|e| e.into_inner());
    let n = file.getdents(&mut buf)?;
    if let Err(e) = t.copy_out(addr, &buf[..n]) {
        // Nothing was consumed: the next call sees the same entries.
        *file.pos.lock().unwrap_or_else(|e| e.into_inner()) = saved;
        return Err(e);
    }
    Ok(n as u64)
}

/// Implements getcwd(2).
pub fn sys_getcwd(t: &mut Task) -> SysResult {
    let mut cwd = t.cwd().into_bytes();
    cwd.push(0);
    if (t.arg(1) as usize) < cwd.len() {
        return Err(Errno::ERANGE);
    }
    t.copy_out(t.arg(0), &cwd)?;
    Ok(cwd.len() as u64)
}

fn set_cwd(t: &Task, st: &Stat, path: String) -> SysResult {
    if st.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    if !t.creds.may(st.st_mode, st.st_uid, st.st_gid, X_OK) {
        return Err(Errno::EACCES);
    }
    lock(&t.fs).cwd = path;
    Ok(0)
}

/// Implements chdir(2).
pub fn sys_chdir(t: &mut Task) -> SysResult {
    let path = t.read_path(t.arg(0))?;
    let r = t.resolve_at(AT_FDCWD, &path, true)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    set_cwd(t, &st, r.path)
}

/// Implements fchdir(2).
pub fn sys_fchdir(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    let st = file.ops.stat()?;
    set_cwd(t, &st, file.path.clone())
}

/// Implements dup(2).
pub fn sys_dup(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    install(t, file, false)
}

fn do_dup3(t: &Task, old: i32, new: i32, cloexec: bool) -> SysResult {
    let file = t.file(old)?;
    if new < 0 || new as u64 >= nofile(t) {
        return Err(Errno::EBADF);
    }
    let limit = nofile(t);
    let prev = t.fds().install(new, file, cloexec, limit)?;
    drop(prev);
    Ok(new as u64)
}

/// Implements dup2(2).
pub fn sys_dup2(t: &mut Task) -> SysResult {
    let (old, new) = (fd_arg(t, 0), fd_arg(t, 1));
    if old == new {
        t.file(old)?;
        return Ok(new as u64);
    }
    do_dup3(t, old, new, false)
}

/// Implements dup3(2).
pub fn sys_dup3(t: &mut Task) -> SysResult {
    let (old, new, flags) = (fd_arg(t, 0), fd_arg(t, 1), t.arg(2) as u32);
    if flags & !O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL);
    }
    do_dup3(t, old, new, flags & O_CLOEXEC != 0)
}

/// Implements fcntl(2).
pub fn sys_fcntl(t: &mut Task) -> SysResult {
    let (fd, cmd, arg) = (fd_arg(t, 0), t.arg(1) as u32, t.arg(2));
    let entry = t.fds().get(fd)?.clone();
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let min = arg as i32;
            if min < 0 || min as u64 >= nofile(t) {
                return Err(Errno::EINVAL);
            }
            let limit = nofile(t);
            t.fds()
                .alloc(entry.file, cmd == F_DUPFD_CLOEXEC, min, limit)
                .map(|fd| fd as u64)
        }
        F_GETFD => Ok(if entry.cloexec {
            u64::from(FD_CLOEXEC)
        } else {
            0
        }),
        F_SETFD => t
            .fds()
            .set_cloexec(fd, arg as u32 & FD_CLOEXEC != 0)
            .map(|_| 0),
        F_GETFL => Ok(u64::from(entry.file.flags())),
        F_SETFL => {
            entry.file.set_flags(arg as u32);
            Ok(0)
        }
        F_GETPIPE_SZ
            if entry.file.ops.is_stream() && entry.file.ops.stat()?.st_mode & S_IFMT == S_IFIFO =>
        {
            Ok(pipe::PIPE_SIZE as u64)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Implements ioctl(2) for the requests every program makes.
pub fn sys_ioctl(t: &mut Task) -> SysResult {
    let (fd, req, arg) = (fd_arg(t, 0), t.arg(1) as u32, t.arg(2));
    let file = t.file(fd)?;
    match req {
        FIOCLEX | FIONCLEX => t.fds().set_cloexec(fd, req == FIOCLEX).map(|_| 0),
        FIONBIO => {
            let on: i32 = t.read_val(arg)?;
            let flags = file.flags();
            file.set_flags(if on != 0 {
                flags | O_NONBLOCK
            } else {
                flags & !O_NONBLOCK
            });
            Ok(0)
        }
        FIONREAD => {
            let st = file.ops.stat()?;
            let n = if st.st_mode & S_IFMT == S_IFREG {
                let pos = *file.pos.lock().unwrap_or_else(|e| e.into_inner());
                (st.st_size as u64).saturating_sub(pos).min(i32::MAX as u64) as usize
            } else if st.st_mode & S_IFMT == S_IFDIR {
                return Err(Errno::EINVAL);
            } else {
                file.ops.readable_bytes()?
            };
            t.write_val(arg, &(n as i32)).map(|_| 0)
        }
        TCGETS | TIOCGWINSZ => {
            let size = if req == TCGETS {
                std::mem::size_of::<Termios>()
            } else {
                std::mem::size_of::<Winsize>()
            };
            let mut data = vec![0u8; size];
            let r = file.ops.ioctl(req, &mut data)?;
            t.copy_out(arg, &data)?;
            Ok(r)
        }
        TCSETS | TCSETSW | TCSETSF | TIOCSWINSZ => {
            let size = if req == TIOCSWINSZ {
                std::mem::size_of::<Winsize>()
            } else {
                std::mem::size_of::<Termios>()
            };
            let mut data = vec![0u8; size];
            t.copy_in(arg, &mut data)?;
            file.ops.ioctl(req, &mut data)
        }
        _ => Err(Errno::ENOTTY),
    }
}

fn do_pipe(t: &Task, addr: u64, flags: u32) -> SysResult {
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = pipe::new_pipe(t.k.new_ino());
    let keep = flags & (O_NONBLOCK | O_DIRECT);
    let rf = File::new(r, O_RDONLY | keep, "pipe:");
    let wf = File::new(w, O_WRONLY | keep, "pipe:");
    let cloexec = flags & O_CLOEXEC != 0;
    let rfd = install(t, rf, cloexec)? as i32;
    let wfd = match install(t, wf, cloexec) {
        Ok(fd) => fd as i32,
        Err(e) => {
            let _ = t.fds().remove(rfd);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&rfd.to_le_bytes());
    out[4..].copy_from_slice(&wfd.to_le_bytes());
    if let Err(e) = t.copy_out(addr, &out) {
        let _ = t.fds().remove(rfd);
        let _ = t.fds().remove(wfd);
        return Err(e);
    }
    Ok(0)
}

/// Implements pipe(2).
pub fn sys_pipe(t: &mut Task) -> SysResult {
    do_pipe(t, t.arg(0), 0)
}

/// Implements pipe2(2).
pub fn sys_pipe2(t: &mut Task) -> SysResult {
    do_pipe(t, t.arg(0), t.arg(1) as u32)
}

fn xattr_name(t: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    let name = t.mm().read_cstr(addr, 255).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::ERANGE
        } else {
            e
        }
    })?;
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    Ok(name)
}

fn xattr_out(t: &Task, value: Vec<u8>, buf: u64, size: u64) -> SysResult {
    if size == 0 {
        return Ok(value.len() as u64);
    }
    if (size as usize) < value.len() {
        return Err(Errno::ERANGE);
    }
    t.copy_out(buf, &value)?;
    Ok(value.len() as u64)
}

fn do_getxattr(t: &Task, follow: bool) -> SysResult {
    let path = t.read_path(t.arg(0))?;
    let name = xattr_name(t, t.arg(1))?;
    let r = t.resolve_at(AT_FDCWD, &path, follow)?;
    r.stat.ok_or(Errno::ENOENT)?;
    let value = r.fs.getxattr(&r.rel, &name, follow)?;
    xattr_out(t, value, t.arg(2), t.arg(3))
}

/// Implements getxattr(2).
pub fn sys_getxattr(t: &mut Task) -> SysResult {
    do_getxattr(t, true)
}

/// Implements lgetxattr(2).
pub fn sys_lgetxattr(t: &mut Task) -> SysResult {
    do_getxattr(t, false)
}

/// Implements fgetxattr(2).
pub fn sys_fgetxattr(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    let name = xattr_name(t, t.arg(1))?;
    let r = t.k.resolve("/", file.path.as_bytes(), false)?;
    let value = r.fs.getxattr(&r.rel, &name, false)?;
    xattr_out(t, value, t.arg(2), t.arg(3))
}
