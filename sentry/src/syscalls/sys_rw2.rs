// SPDX-License-Identifier: Apache-2.0
//! preadv2(2) and pwritev2(2) (the RWF_* flags; offset -1 is the file position), and the old
//! getdents(2) (`struct linux_dirent`).

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::sys_file::{access_ok, do_readv, do_writev, read_iovecs, writev_at, CHUNK};
use super::{fd_arg, SysResult};
use crate::kernel::Task;
use crate::vfs::File;

/// The flags this kernel knows (RWF_SUPPORTED).
const RWF_SUPPORTED: u32 = RWF_HIPRI
    | RWF_DSYNC
    | RWF_SYNC
    | RWF_NOWAIT
    | RWF_APPEND
    | RWF_NOAPPEND
    | RWF_ATOMIC
    | RWF_DONTCACHE
    | RWF_NOSIGNAL;

/// Linux's kiocb_set_rw_flags for the sandbox's files: RWF_ATOMIC and RWF_DONTCACHE need file
/// systems that have them (tmpfs has neither; nor do the sandbox's other files).
pub(crate) fn check_flags(flags: u32) -> Result<(), Errno> {
    if flags & !RWF_SUPPORTED != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if flags & RWF_APPEND != 0 && flags & RWF_NOAPPEND != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & (RWF_ATOMIC | RWF_DONTCACHE) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

/// The checks before the I/O, in Linux's order: the offset, the descriptor, a positional
/// transfer on a stream (ESPIPE), the access mode, the iovecs, then (for a non-empty transfer)
/// the flags. `None` when there is nothing to transfer.
fn prepare(t: &Task, write: bool) -> Result<Option<(Arc<File>, i64, u32)>, Errno> {
    let (fd, iov, cnt, pos, flags) = (
        fd_arg(t, 0),
        t.arg(1),
        t.arg(2),
        t.arg(3) as i64,
        t.arg(5) as u32,
    );
    if pos < -1 {
        return Err(Errno::EINVAL);
    }
    let file = t.file(fd)?;
    if pos != -1 && file.ops.is_stream() {
        return Err(Errno::ESPIPE);
    }
    if !(if write {
        file.writable()
    } else {
        file.readable()
    }) {
        return Err(Errno::EBADF);
    }
    let iovs = read_iovecs(t, iov, cnt)?;
    if iovs.iter().all(|v| v.len == 0) {
        return Ok(None);
    }
    check_flags(flags)?;
    if flags & RWF_NOWAIT != 0 && file.ops.is_stream() {
        // Do not wait: as a non-blocking transfer would (files never wait here).
        let want = if write { POLLOUT } else { POLLIN | POLLHUP };
        if file.ops.poll_events() & want == 0 {
            return Err(Errno::EAGAIN);
        }
    }
    Ok(Some((file, pos, flags)))
}

/// Implements preadv2(2).
pub fn sys_preadv2(t: &mut Task) -> SysResult {
    let Some((_, pos, _)) = prepare(t, false)? else {
        return Ok(0);
    };
    do_readv(
        t,
        fd_arg(t, 0),
        t.arg(1),
        t.arg(2),
        (pos != -1).then_some(pos),
    )
}

/// Implements pwritev2(2): RWF_APPEND writes at the end whatever the offset, RWF_NOAPPEND at
/// the offset (or position) of an O_APPEND file; RWF_DSYNC and RWF_SYNC sync after;
/// RWF_NOSIGNAL keeps the dispatcher from raising SIGPIPE with EPIPE.
pub fn sys_pwritev2(t: &mut Task) -> SysResult {
    let Some((file, pos, flags)) = prepare(t, true)? else {
        return Ok(0);
    };
    let (fd, iov, cnt) = (fd_arg(t, 0), t.arg(1), t.arg(2));
    let append =
        flags & RWF_APPEND != 0 || file.flags() & O_APPEND != 0 && flags & RWF_NOAPPEND == 0;
    let n = if file.ops.is_stream() {
        do_writev(t, fd, iov, cnt, None)?
    } else if append {
        let end = file.stat()?.st_size;
        let n = do_writev(t, fd, iov, cnt, Some(end))?;
        if pos == -1 {
            *file.pos.lock().unwrap_or_else(|e| e.into_inner()) = end as u64 + n;
        }
        n
    } else if pos == -1 {
        let at = *file.pos.lock().unwrap_or_else(|e| e.into_inner());
        let n = writev_at(t, fd, iov, cnt, Some(at as i64), true)?;
        *file.pos.lock().unwrap_or_else(|e| e.into_inner()) = at + n;
        n
    } else {
        // Not appending (no O_APPEND, or RWF_NOAPPEND): at the offset.
        writev_at(t, fd, iov, cnt, Some(pos), true)?
    };
    if flags & (RWF_DSYNC | RWF_SYNC) != 0 && n > 0 {
        file.ops.sync()?;
    }
    Ok(n)
}

/// Implements getdents(2): getdents64's records rewritten in place as `struct linux_dirent`
/// (the same length: `d_type` moves from before the name to the record's last byte).
pub fn sys_getdents(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    let (addr, count) = (t.arg(1), t.arg(2) as u32 as usize);
    access_ok(addr, count as u64)?;
    let mut buf = vec![0u8; count.min(CHUNK)];
    let saved = *file.pos.lock().unwrap_or_else(|e| e.into_inner());
    let n = file.getdents(&mut buf)?;
    let mut off = 0;
    while off + 19 < n {
        let reclen = usize::from(u16::from_le_bytes([buf[off + 16], buf[off + 17]]));
        if reclen < 20 || off + reclen > n {
            break;
        }
        let dtype = buf[off + 18];
        buf.copy_within(off + 19..off + reclen, off + 18);
        buf[off + reclen - 2] = 0;
        buf[off + reclen - 1] = dtype;
        off += reclen;
    }
    if let Err(e) = t.copy_out(addr, &buf[..n]) {
        *file.pos.lock().unwrap_or_else(|e| e.into_inner()) = saved;
        return Err(e);
    }
    Ok(n as u64)
}
