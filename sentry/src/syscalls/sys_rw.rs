// SPDX-License-Identifier: Apache-2.0
//! read, write and their positional and vectored forms, lseek, sendfile, copy_file_range.

use syscalls::abi::*;
use syscalls::Errno;

use crate::kernel::Task;
use crate::syscalls::{fd_arg, SysResult};
use crate::vfs::File;

/// Largest count one read or write moves (Linux's MAX_RW_COUNT).
pub(crate) const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// Largest chunk the sentry buffers at once.
pub(crate) const CHUNK: usize = 1 << 20;
/// Most iovecs in one call (UIO_MAXIOV).
const UIO_MAXIOV: u64 = 1024;

/// Linux's access_ok: the range must lie in user space (the pages themselves are checked on
/// copy).
pub(crate) fn access_ok(addr: u64, len: u64) -> Result<(), Errno> {
    match addr.checked_add(len) {
        Some(end) if end <= TASK_SIZE => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}

thread_local! {
    static CHUNK_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on a buffer of `len` bytes, kept for this thread's next call: a fresh 1 MiB
/// allocation per read or write costs its page faults every time (the biggest cost of large
/// reads of host files). Only bytes just filled are ever copied out of it.
pub(crate) fn with_buffer<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    CHUNK_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => {
            if v.len() < len {
                v.resize(len, 0);
            }
            f(&mut v[..len])
        }
        Err(_) => f(&mut vec![0u8; len]),
    })
}

/// Reads and writes of at least this many bytes of a file backed by a host descriptor move
/// between the host file and application memory in the application's process (one injected
/// pread or pwrite) instead of being copied through the sentry: a copy of a large buffer
/// costs more than the injection.
const DIRECT_MIN: usize = 64 * 1024;

/// The direct path of [`read_into`] and [`write_from`]: `None` when the file or platform
/// cannot take it (the caller copies).
fn io_direct(
    t: &mut Task,
    file: &File,
    addr: u64,
    count: usize,
    offset: Option<i64>,
    write: bool,
) -> Option<SysResult> {
    if count < DIRECT_MIN || file.ops.is_stream() {
        return None;
    }
    let fd = file.ops.direct_fd(write)?;
    // The position is held for the whole call, as read(2) and write(2) hold f_pos.
    let mut pos = match offset {
        Some(_) => None,
        None => Some(file.pos.lock().unwrap_or_else(|e| e.into_inner())),
    };
    let at = match (offset, &pos) {
        // Linux's pwrite on an O_APPEND file appends too (pwrite(2), BUGS).
        (_, _) if write && file.flags() & O_APPEND != 0 => match file.ops.stat() {
            Ok(st) => st.st_size as u64,
            Err(e) => return Some(Err(e)),
        },
        (Some(o), _) => o as u64,
        (None, Some(p)) => **p,
        (None, None) => return None,
    };
    let map = crate::platform::MapFile {
        fd,
        key: file.id,
        offset: at,
    };
    match t.ctx.io_direct(map, addr, count as u64, write) {
        Err(Errno::ENOSYS) => None,
        Err(e) => Some(Err(e)),
        Ok(n) => {
            if let Some(p) = pos.as_mut() {
                **p = at + n;
            }
            drop(pos);
            if !write {
                // The access time, as File::read updates it on the copying path.
                file.accessed();
            }
            if n > 0 {
                // What File::read and File::write report on the copying path.
                file.notify(if write { IN_MODIFY } else { IN_ACCESS });
            }
            Some(Ok(n))
        }
    }
}

pub(crate) fn read_into(
    t: &mut Task,
    file: &File,
    addr: u64,
    count: u64,
    offset: Option<i64>,
) -> SysResult {
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    if offset.is_some() && file.ops.is_stream() {
        return Err(Errno::ESPIPE);
    }
    let count = count.min(MAX_RW_COUNT) as usize;
    access_ok(addr, count as u64)?;
    crate::vfs::fanotify::permission(file, FAN_ACCESS_PERM)?;
    if count == 0 {
        // Still check the descriptor can be read.
        return match offset {
            Some(off) => file.pread(&mut [], off).map(|n| n as u64),
            None => file.read(&mut []).map(|n| n as u64),
        };
    }
    if let Some(r) = io_direct(t, file, addr, count, offset, false) {
        return r;
    }
    if offset.is_none() && file.ops.is_stream() {
        // A stream that keeps its bytes in the sentry (a pipe, a unix stream) puts them
        // straight into the program's memory.
        let nonblock = file.flags() & O_NONBLOCK != 0;
        let mut sink = crate::vfs::UserSink {
            t,
            addr,
            len: count,
        };
        if let Some(r) = file.ops.read_stream_into(t, &mut sink, nonblock) {
            if matches!(r, Ok(n) if n > 0) {
                file.notify(IN_ACCESS);
            }
            return r.map(|n| n as u64);
        }
    }
    with_buffer(count.min(CHUNK), |buf| {
        read_chunks(t, file, addr, count, offset, buf)
    })
}

fn read_chunks(
    t: &Task,
    file: &File,
    addr: u64,
    count: usize,
    offset: Option<i64>,
    buf: &mut [u8],
) -> SysResult {
    let mut done = 0usize;
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
pub(crate) fn write_from(
    t: &mut Task,
    file: &File,
    addr: u64,
    count: u64,
    offset: Option<i64>,
) -> SysResult {
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    if offset.is_some() && file.ops.is_stream() {
        return Err(Errno::ESPIPE);
    }
    let mut count = count.min(MAX_RW_COUNT) as usize;
    access_ok(addr, count as u64)?;
    if count == 0 {
        return match offset {
            Some(off) => file.pwrite(&[], off).map(|n| n as u64),
            None => file.write(&[]).map(|n| n as u64),
        };
    }
    if let Some(mem) = file
        .ops
        .as_any()
        .and_then(|a| a.downcast_ref::<crate::fsimpl::proc::mem::MemFile>())
    {
        return write_mem(t, file, mem, addr, count, offset);
    }
    count = fsize_limit(t, file, count, offset)?;
    super::attr::remove_privs(t, file)?;
    if let Some(r) = io_direct(t, file, addr, count, offset, true) {
        return r;
    }
    if offset.is_none() && file.ops.is_stream() {
        // A stream that keeps its bytes in the sentry takes them straight from the program's
        // memory.
        let nonblock = file.flags() & O_NONBLOCK != 0;
        let mut fill = |at: usize, dst: &mut [u8]| t.copy_in(addr + at as u64, dst);
        if let Some(r) = file.ops.write_stream_from(t, count, &mut fill, nonblock) {
            if matches!(r, Ok(n) if n > 0) {
                file.notify(IN_MODIFY);
            }
            return r.map(|n| n as u64);
        }
    }
    with_buffer(count.min(CHUNK), |buf| {
        write_chunks(t, file, addr, count, offset, buf)
    })
}

/// A write to /proc/[pid]/mem: with the writer's own process at hand, so that a process can
/// write through its own pages' protection (no RLIMIT_FSIZE: it is not a file's size).
fn write_mem(
    t: &mut Task,
    file: &File,
    mem: &crate::fsimpl::proc::mem::MemFile,
    addr: u64,
    count: usize,
    offset: Option<i64>,
) -> SysResult {
    let mut data = vec![0u8; count.min(CHUNK)];
    t.copy_in(addr, &mut data)?;
    let mut pos = match offset {
        Some(o) if o < 0 => return Err(Errno::EINVAL),
        Some(_) => None,
        None => Some(file.pos.lock().unwrap_or_else(|e| e.into_inner())),
    };
    let at = match (offset, &pos) {
        (Some(o), _) => o as u64,
        (None, Some(p)) => **p,
        (None, None) => return Err(Errno::EINVAL),
    };
    let n = mem.write_from(t, &data, at)?;
    if let Some(p) = pos.as_mut() {
        **p = at.wrapping_add(n as u64);
    }
    Ok(n as u64)
}

/// RLIMIT_FSIZE: a write to a regular file may not take it past the limit: it is cut short
/// there, and one starting at or past it fails with EFBIG and raises SIGXFSZ.
fn fsize_limit(t: &Task, file: &File, count: usize, offset: Option<i64>) -> Result<usize, Errno> {
    let limit = t.rlimit(RLIMIT_FSIZE);
    if limit == RLIM_INFINITY {
        return Ok(count);
    }
    let st = file.ops.stat()?;
    if st.st_mode & S_IFMT != S_IFREG {
        return Ok(count);
    }
    let pos = match offset {
        Some(o) => o as u64,
        None if file.flags() & O_APPEND != 0 => st.st_size as u64,
        None => *file.pos.lock().unwrap_or_else(|e| e.into_inner()),
    };
    if pos >= limit {
        // send_sig(SIGXFSZ, current, 0): SI_USER, from the writer itself.
        let info = crate::kernel::signal::user_info(SIGXFSZ, SI_USER, t.tgid(), t.creds.uid.0);
        crate::kernel::send_thread_signal(&t.k, &t.shared, info);
        return Err(Errno::EFBIG);
    }
    Ok(count.min((limit - pos) as usize))
}

fn write_chunks(
    t: &Task,
    file: &File,
    addr: u64,
    count: usize,
    offset: Option<i64>,
    buf: &mut [u8],
) -> SysResult {
    let mut done = 0usize;
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

/// Reads an iovec array (EINVAL past UIO_MAXIOV or a total past `ssize_t`).
pub(crate) fn read_iovecs(t: &Task, addr: u64, count: u64) -> Result<Vec<Iovec>, Errno> {
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

pub(crate) fn do_readv(
    t: &Task,
    fd: i32,
    iov_addr: u64,
    cnt: u64,
    offset: Option<i64>,
) -> SysResult {
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

/// Implements writev: the iovecs are gathered a chunk (1 MiB) at a time and each chunk is
/// written as one write, so a total up to a chunk is written at once (as Linux does, atomic on
/// a pipe up to PIPE_BUF), and a larger one, or a bad pointer, never makes the sentry hold
/// more than a chunk (a 2 GiB iovec over unmapped memory once allocated 2 GiB before EFAULT).
pub(crate) fn do_writev(
    t: &Task,
    fd: i32,
    iov_addr: u64,
    cnt: u64,
    offset: Option<i64>,
) -> SysResult {
    writev_at(t, fd, iov_addr, cnt, offset, false)
}

/// [`do_writev`]; with `exact`, at `offset` even on an O_APPEND file (RWF_NOAPPEND).
pub(crate) fn writev_at(
    t: &Task,
    fd: i32,
    iov_addr: u64,
    cnt: u64,
    offset: Option<i64>,
    exact: bool,
) -> SysResult {
    let file = t.file(fd)?;
    let iovs = read_iovecs(t, iov_addr, cnt)?;
    let total = iovs
        .iter()
        .map(|v| v.len)
        .fold(0u64, u64::saturating_add)
        .min(MAX_RW_COUNT);
    if total > 0 && file.writable() {
        super::attr::remove_privs(t, &file)?;
    }
    let mut buf: Vec<u8> = Vec::with_capacity((total as usize).min(CHUNK));
    let mut done = 0u64;
    let mut gathered = 0u64;
    let mut fault = None;
    // Writes what is gathered; false when the write came up short (stop there).
    let flush = |buf: &mut Vec<u8>, done: &mut u64| -> Result<bool, Errno> {
        if buf.is_empty() {
            return Ok(true);
        }
        let r = match offset {
            Some(off) if exact => file.pwrite_exact(buf, off + *done as i64),
            Some(off) => file.pwrite(buf, off + *done as i64),
            None => file.write(buf),
        };
        let want = buf.len();
        buf.clear();
        match r {
            Ok(n) => {
                *done += n as u64;
                Ok(n == want)
            }
            Err(e) if *done == 0 => Err(e),
            Err(_) => Ok(false),
        }
    };
    'iovs: for iov in iovs {
        let mut at = 0u64;
        while at < iov.len && gathered < total {
            let k = (iov.len - at)
                .min((CHUNK - buf.len()) as u64)
                .min(total - gathered) as usize;
            let start = buf.len();
            buf.resize(start + k, 0);
            if let Err(e) = t.copy_in(iov.base + at, &mut buf[start..]) {
                buf.truncate(start);
                fault = Some(e);
                break 'iovs;
            }
            at += k as u64;
            gathered += k as u64;
            if buf.len() == CHUNK && !flush(&mut buf, &mut done)? {
                return Ok(done);
            }
        }
    }
    flush(&mut buf, &mut done)?;
    match fault {
        Some(e) if done == 0 => Err(e),
        _ => Ok(done),
    }
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

/// Moves up to `count` bytes from `src` (at `*in_off` or its position) to `dst`.
fn transfer(
    src: &File,
    dst: &File,
    in_off: Option<i64>,
    out_off: Option<i64>,
    count: u64,
) -> Result<(u64, i64, i64), Errno> {
    if !src.readable() || !dst.writable() {
        return Err(Errno::EBADF);
    }
    if dst.flags() & O_APPEND != 0 && out_off.is_some() {
        return Err(Errno::EINVAL);
    }
    let count = count.min(MAX_RW_COUNT) as usize;
    let (mut ioff, mut ooff) = (in_off.unwrap_or(0), out_off.unwrap_or(0));
    let mut done = 0usize;
    let mut buf = vec![0u8; count.min(CHUNK)];
    while done < count {
        let want = (count - done).min(CHUNK);
        let n = match in_off {
            Some(_) => src.pread(&mut buf[..want], ioff),
            None => src.read(&mut buf[..want]),
        };
        let n = match n {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let w = match out_off {
            Some(_) => dst.pwrite(&buf[..n], ooff),
            None => dst.write(&buf[..n]),
        };
        let w = match w {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        ioff += w as i64;
        ooff += w as i64;
        done += w;
        if w < n {
            if in_off.is_none() && !src.ops.is_stream() {
                let _ = src.seek(w as i64 - n as i64, SEEK_CUR);
            }
            break;
        }
        if n < want {
            break;
        }
    }
    Ok((done as u64, ioff, ooff))
}

fn read_off(t: &Task, addr: u64) -> Result<Option<i64>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let off: i64 = t.read_val(addr)?;
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(off))
}

/// Implements sendfile(2).
pub fn sys_sendfile(t: &mut Task) -> SysResult {
    let (out_fd, in_fd, off_addr, count) = (fd_arg(t, 0), fd_arg(t, 1), t.arg(2), t.arg(3));
    let (src, dst) = (t.file(in_fd)?, t.file(out_fd)?);
    if src.ops.is_stream() && off_addr != 0 {
        return Err(Errno::ESPIPE);
    }
    let off = read_off(t, off_addr)?;
    if dst.flags() & O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    if count > 0 && dst.writable() {
        super::attr::remove_privs(t, &dst)?;
    }
    let (n, ioff, _) = transfer(&src, &dst, off, None, count)?;
    if off.is_some() {
        t.write_val(off_addr, &ioff)?;
    }
    Ok(n)
}

/// Implements copy_file_range(2).
pub fn sys_copy_file_range(t: &mut Task) -> SysResult {
    let (in_fd, in_addr, out_fd, out_addr, len, flags) = (
        fd_arg(t, 0),
        t.arg(1),
        fd_arg(t, 2),
        t.arg(3),
        t.arg(4),
        t.arg(5),
    );
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let (src, dst) = (t.file(in_fd)?, t.file(out_fd)?);
    // Linux's order: the offsets are read, then generic_file_rw_checks (the files' types
    // before their modes: a directory opened read-only as the destination is EISDIR).
    let (ioff, ooff) = (read_off(t, in_addr)?, read_off(t, out_addr)?);
    let (ss, ds) = (src.ops.stat()?, dst.ops.stat()?);
    if ss.st_mode & S_IFMT == S_IFDIR || ds.st_mode & S_IFMT == S_IFDIR {
        return Err(Errno::EISDIR);
    }
    if ss.st_mode & S_IFMT != S_IFREG || ds.st_mode & S_IFMT != S_IFREG {
        return Err(Errno::EINVAL);
    }
    if !src.readable() || !dst.writable() || dst.flags() & O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    // The rest of generic_copy_file_checks: offsets must not wrap, the copy ends at the
    // source's end, the destination's limits hold (RLIMIT_FSIZE, the largest file), and the
    // ranges of a copy within one file do not overlap.
    let at = |off: Option<i64>, f: &File| {
        off.map_or_else(
            || *f.pos.lock().unwrap_or_else(|e| e.into_inner()),
            |o| o as u64,
        )
    };
    let (pos_in, pos_out) = (at(ioff, &src), at(ooff, &dst));
    if pos_in.checked_add(len).is_none() || pos_out.checked_add(len).is_none() {
        return Err(Errno::EOVERFLOW);
    }
    let len = len.min((ss.st_size.max(0) as u64).saturating_sub(pos_in));
    let len = fsize_limit(t, &dst, len as usize, Some(pos_out as i64))? as u64;
    if pos_out >= i64::MAX as u64 {
        return Err(Errno::EFBIG);
    }
    // No copy within one file onto the range it reads.
    let same = (ss.st_dev, ss.st_ino) == (ds.st_dev, ds.st_ino);
    if same && pos_out + len > pos_in && pos_out < pos_in + len {
        return Err(Errno::EINVAL);
    }
    if len > 0 {
        super::attr::remove_privs(t, &dst)?;
    }
    let (n, ni, no) = transfer(&src, &dst, ioff, ooff, len)?;
    if ioff.is_some() {
        t.write_val(in_addr, &ni)?;
    }
    if ooff.is_some() {
        t.write_val(out_addr, &no)?;
    }
    Ok(n)
}
