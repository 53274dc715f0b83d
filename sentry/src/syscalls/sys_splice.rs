// SPDX-License-Identifier: Apache-2.0
//! splice, tee and vmsplice: moving bytes into, out of and between pipes (Linux `fs/splice.c`).
//!
//! The sentry's pipes hold bytes, not page references, so every "move" is a copy: splice from
//! a file reads it into the pipe, splice to a file writes the pipe's bytes to it, tee copies
//! without consuming, vmsplice copies application memory in or out. SPLICE_F_MOVE, SPLICE_F_MORE
//! and SPLICE_F_GIFT are accepted and mean nothing more. Each call waits (interruptibly) once,
//! for bytes to take or room to put them, as Linux does, unless SPLICE_F_NONBLOCK or the pipe's
//! O_NONBLOCK says EAGAIN.

use syscalls::abi::*;
use syscalls::Errno;

use super::rw::{read_iovecs, CHUNK, MAX_RW_COUNT};
use crate::fsimpl::pipe::Pipe;
use crate::kernel::Task;
use crate::syscalls::{fd_arg, SysResult};
use crate::vfs::File;

const SPLICE_F_ALL: u32 = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT;

/// Reads an `loff_t` argument (EFAULT), if given.
fn read_loff(t: &Task, addr: u64) -> Result<Option<i64>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    t.read_val::<i64>(addr).map(Some)
}

/// From a file (at `off`, or its position) into a pipe.
fn file_to_pipe(
    src: &File,
    pipe: &Pipe,
    off: Option<&mut i64>,
    len: usize,
    nonblock: bool,
) -> Result<usize, Errno> {
    if src.ops.stat()?.st_mode & S_IFMT == S_IFDIR {
        return Err(Errno::EINVAL);
    }
    if let Some(o) = &off {
        if src.ops.is_stream() {
            return Err(Errno::EINVAL);
        }
        if **o < 0 {
            return Err(Errno::EINVAL);
        }
    }
    let room = pipe.wait_room(nonblock)?;
    let mut buf = vec![0u8; len.min(room).min(CHUNK)];
    let n = match &off {
        Some(o) => src.pread(&mut buf, **o)?,
        None => src.read(&mut buf)?,
    };
    let put = pipe.push(&buf[..n]);
    if let Some(o) = off {
        *o += put as i64;
    }
    Ok(put)
}

/// From a pipe into a file (at `off`, or its position).
fn pipe_to_file(
    pipe: &Pipe,
    dst: &File,
    off: Option<&mut i64>,
    len: usize,
    nonblock: bool,
) -> Result<usize, Errno> {
    if dst.flags() & O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    if let Some(o) = &off {
        if dst.ops.is_stream() || **o < 0 {
            return Err(Errno::EINVAL);
        }
    }
    let start = off.as_deref().copied();
    let mut done = 0usize;
    let n = pipe.drain_with(len.min(CHUNK), nonblock, false, &mut |s| {
        let w = match start {
            Some(o) => dst.pwrite(s, o + done as i64)?,
            None => dst.write(s)?,
        };
        done += w;
        Ok(w)
    })?;
    if let Some(o) = off {
        *o += n as i64;
    }
    Ok(n)
}

/// From one pipe into another; with `keep` (tee) the bytes stay in the first.
fn pipe_to_pipe(
    from: &Pipe,
    to: &Pipe,
    len: usize,
    nonblock: bool,
    keep: bool,
) -> Result<usize, Errno> {
    let has_data = from.wait_data(nonblock)?;
    let room = to.wait_room(nonblock)?;
    if !has_data {
        return Ok(0);
    }
    let mut bytes = Vec::new();
    from.drain_with(len.min(room).min(CHUNK), true, keep, &mut |s| {
        bytes.extend_from_slice(s);
        Ok(s.len())
    })?;
    Ok(to.push(&bytes))
}

/// Implements splice(2).
pub fn sys_splice(t: &mut Task) -> SysResult {
    let (fd_in, off_in, fd_out, off_out, len, flags) = (
        fd_arg(t, 0),
        t.arg(1),
        fd_arg(t, 2),
        t.arg(3),
        t.arg(4),
        t.arg(5) as u32,
    );
    if len == 0 {
        return Ok(0);
    }
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let (src, dst) = (t.file(fd_in)?, t.file(fd_out)?);
    let (ipipe, opipe) = (src.ops.as_pipe(), dst.ops.as_pipe());
    if (ipipe.is_some() && off_in != 0) || (opipe.is_some() && off_out != 0) {
        return Err(Errno::ESPIPE);
    }
    let mut oo = read_loff(t, off_out)?;
    let mut oi = read_loff(t, off_in)?;
    if !src.readable() || !dst.writable() {
        return Err(Errno::EBADF);
    }
    // Anonymous-inode files (epoll, eventfd, timerfd, signalfd, pidfd, inotify) have no
    // splice_read or splice_write: EINVAL before any wait for the pipe.
    let anon = |f: &File| f.stat().is_ok_and(|st| st.st_mode & S_IFMT == 0);
    if (opipe.is_none() && anon(&dst)) || (ipipe.is_none() && anon(&src)) {
        return Err(Errno::EINVAL);
    }
    let len = len.min(MAX_RW_COUNT) as usize;
    let nonblock = flags & SPLICE_F_NONBLOCK != 0;
    let n = match (ipipe, opipe) {
        (Some(i), Some(o)) => {
            if i.pipe().same(o.pipe()) {
                return Err(Errno::EINVAL);
            }
            let nb = nonblock || (src.flags() | dst.flags()) & O_NONBLOCK != 0;
            pipe_to_pipe(i.pipe(), o.pipe(), len, nb, false)?
        }
        (Some(i), None) => {
            let nb = nonblock || src.flags() & O_NONBLOCK != 0;
            super::attr::remove_privs(t, &dst)?;
            pipe_to_file(i.pipe(), &dst, oo.as_mut(), len, nb)?
        }
        (None, Some(o)) => {
            let nb = nonblock || dst.flags() & O_NONBLOCK != 0;
            file_to_pipe(&src, o.pipe(), oi.as_mut(), len, nb)?
        }
        (None, None) => return Err(Errno::EINVAL),
    };
    if let Some(o) = oo {
        t.write_val(off_out, &o)?;
    }
    if let Some(o) = oi {
        t.write_val(off_in, &o)?;
    }
    Ok(n as u64)
}

/// Implements tee(2).
pub fn sys_tee(t: &mut Task) -> SysResult {
    let (fd_in, fd_out, len, flags) = (fd_arg(t, 0), fd_arg(t, 1), t.arg(2), t.arg(3) as u32);
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let (src, dst) = (t.file(fd_in)?, t.file(fd_out)?);
    if !src.readable() || !dst.writable() {
        return Err(Errno::EBADF);
    }
    let (Some(i), Some(o)) = (src.ops.as_pipe(), dst.ops.as_pipe()) else {
        return Err(Errno::EINVAL);
    };
    if i.pipe().same(o.pipe()) {
        return Err(Errno::EINVAL);
    }
    let nb = flags & SPLICE_F_NONBLOCK != 0 || (src.flags() | dst.flags()) & O_NONBLOCK != 0;
    let len = len.min(MAX_RW_COUNT) as usize;
    pipe_to_pipe(i.pipe(), o.pipe(), len, nb, true).map(|n| n as u64)
}

/// Implements vmsplice(2): into the pipe from application memory when the descriptor is open
/// for writing, else out of it into application memory.
pub fn sys_vmsplice(t: &mut Task) -> SysResult {
    let (fd, iov_addr, nr, flags) = (fd_arg(t, 0), t.arg(1), t.arg(2), t.arg(3) as u32);
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let file = t.file(fd)?;
    let to_pipe = file.writable();
    if !to_pipe && !file.readable() {
        return Err(Errno::EBADF);
    }
    let iovs = read_iovecs(t, iov_addr, nr)?;
    let total: u64 = iovs.iter().map(|v| v.len).sum();
    if total == 0 {
        return Ok(0);
    }
    let pipe = file.ops.as_pipe().ok_or(Errno::EBADF)?.pipe();
    let nonblock = flags & SPLICE_F_NONBLOCK != 0 || file.flags() & O_NONBLOCK != 0;
    let limit = total.min(MAX_RW_COUNT) as usize;
    if to_pipe {
        let room = pipe.wait_room(nonblock)?;
        let want = limit.min(room);
        let mut bytes = Vec::with_capacity(want);
        for v in &iovs {
            let n = (v.len as usize).min(want - bytes.len());
            if n == 0 {
                continue;
            }
            let at = bytes.len();
            bytes.resize(at + n, 0);
            if let Err(e) = t.copy_in(v.base, &mut bytes[at..]) {
                bytes.truncate(at);
                if at == 0 {
                    return Err(e);
                }
                break;
            }
        }
        return Ok(pipe.push(&bytes) as u64);
    }
    // Out of the pipe: fill the iovecs in order, consuming what was copied.
    let (mut idx, mut within) = (0usize, 0u64);
    let n = pipe.drain_with(limit, nonblock, false, &mut |mut s| {
        let mut copied = 0;
        while !s.is_empty() {
            let Some(v) = iovs.get(idx) else { break };
            let room = (v.len - within) as usize;
            if room == 0 {
                idx += 1;
                within = 0;
                continue;
            }
            let n = room.min(s.len());
            if let Err(e) = t.copy_out(v.base + within, &s[..n]) {
                if copied == 0 {
                    return Err(e);
                }
                break;
            }
            within += n as u64;
            copied += n;
            s = &s[n..];
        }
        Ok(copied)
    })?;
    Ok(n as u64)
}
