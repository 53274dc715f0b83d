// SPDX-License-Identifier: Apache-2.0
//! Linux native asynchronous I/O: io_setup(2), io_submit(2), io_getevents(2),
//! io_pgetevents(2), io_cancel(2), io_destroy(2), after Linux's fs/aio.c.
//!
//! A context belongs to the address space that made it (a forked child does not have it; exec
//! ends it). Its id is the address of a read-only page mapped for it, as Linux's id is the
//! address of its completion ring; the page stays zero, so a library that would read the ring
//! from user space (libaio checks its magic number first) makes the system call instead.
//!
//! Requests are carried out when they are submitted, in the submitting thread, as Linux does
//! for buffered I/O (the read or write runs inside io_submit; only O_DIRECT I/O on some file
//! systems is truly asynchronous there): a read of an empty pipe waits in io_submit as it
//! would in Linux, and RWF_NOWAIT makes it complete at once with -EAGAIN. The completion goes
//! to the context's queue (and signals the eventfd of IOCB_FLAG_RESFD). Since nothing is ever
//! in flight after io_submit returns, io_cancel finds nothing to cancel (EINVAL, as for a
//! completed request). IOCB_CMD_POLL is not implemented (EINVAL, as before Linux 4.18).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use syscalls::abi::*;
use syscalls::Errno;

use super::sys_file::{do_readv, do_writev, read_into, write_from};
use super::sys_poll::{deadline_ts, end_temp_mask, temp_mask};
use super::SysResult;
use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::{lock, Task};

/// /proc/sys/fs/aio-max-nr.
pub static AIO_MAX_NR: AtomicU64 = AtomicU64::new(65536);
/// /proc/sys/fs/aio-nr: the events of every live context.
pub static AIO_NR: AtomicU64 = AtomicU64::new(0);

const IOCB_CMD_PREAD: u16 = 0;
const IOCB_CMD_PWRITE: u16 = 1;
const IOCB_CMD_FSYNC: u16 = 2;
const IOCB_CMD_FDSYNC: u16 = 3;
const IOCB_CMD_PREADV: u16 = 7;
const IOCB_CMD_PWRITEV: u16 = 8;
const IOCB_FLAG_RESFD: u32 = 1;
const IOCB_FLAG_IOPRIO: u32 = 2;
/// Bytes of a `struct iocb` and of a `struct io_event`.
const IOCB_SIZE: usize = 64;
const EVENT_SIZE: u64 = 32;

/// A completion (`struct io_event`).
#[derive(Debug, Clone, Copy)]
struct Event {
    data: u64,
    obj: u64,
    res: i64,
}

/// An AIO context.
pub struct AioContext {
    /// Its id: the address of its page.
    pub id: u64,
    /// The events io_setup asked for (what aio-nr counts).
    max_reqs: u64,
    /// How many completions it holds at most (Linux's ring: twice the events asked, at least
    /// eight); io_submit is EAGAIN when full.
    slots: usize,
    done: Mutex<VecDeque<Event>>,
    queue: WaitQueue,
}

impl Drop for AioContext {
    fn drop(&mut self) {
        AIO_NR.fetch_sub(self.max_reqs, Ordering::AcqRel);
    }
}

fn context(t: &Task, id: u64) -> Result<Arc<AioContext>, Errno> {
    t.mm().aio.get(&id).cloned().ok_or(Errno::EINVAL)
}

/// Implements io_setup(2).
pub fn sys_io_setup(t: &mut Task) -> SysResult {
    let (nr, ctxp) = (t.arg(0) as u32, t.arg(1));
    let cur: u64 = t.read_val(ctxp)?;
    if cur != 0 || nr == 0 {
        return Err(Errno::EINVAL);
    }
    // Linux doubles the events (at least four per CPU) and refuses what would overflow.
    let slots = u64::from(nr.max(8)) * 2;
    if slots > 0x1000_0000 / EVENT_SIZE {
        return Err(Errno::EINVAL);
    }
    let max = AIO_MAX_NR.load(Ordering::Relaxed);
    let need = u64::from(nr);
    let mut cur = AIO_NR.load(Ordering::Relaxed);
    loop {
        if need > max || cur + need > max {
            return Err(Errno::EAGAIN);
        }
        match AIO_NR.compare_exchange_weak(cur, cur + need, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => break,
            Err(now) => cur = now,
        }
    }
    let id = {
        let mut mm = lock(&t.mm);
        let r = mm.mmap(
            t.ctx.as_mut(),
            0,
            4096,
            PROT_READ,
            MAP_PRIVATE | MAP_ANONYMOUS,
            None,
        );
        match r {
            Ok(a) => {
                mm.set_name(a, "[aio]");
                a
            }
            Err(e) => {
                AIO_NR.fetch_sub(need, Ordering::AcqRel);
                return Err(e);
            }
        }
    };
    let ctx = Arc::new(AioContext {
        id,
        max_reqs: need,
        slots: slots as usize - 1,
        done: Mutex::new(VecDeque::new()),
        queue: WaitQueue::default(),
    });
    if let Err(e) = t.write_val(ctxp, &id) {
        let _ = lock(&t.mm).munmap(t.ctx.as_mut(), id, 4096);
        drop(ctx);
        return Err(e);
    }
    lock(&t.mm).aio.insert(id, ctx);
    Ok(0)
}

/// Implements io_destroy(2).
pub fn sys_io_destroy(t: &mut Task) -> SysResult {
    let id = t.arg(0);
    let ctx = lock(&t.mm).aio.remove(&id).ok_or(Errno::EINVAL)?;
    let _ = lock(&t.mm).munmap(t.ctx.as_mut(), id, 4096);
    ctx.queue.notify_all();
    Ok(0)
}

/// One request: Ok(Some(res)) completed with `res`, Err when io_submit must fail for it.
fn run_one(t: &mut Task, ctx: &AioContext, user: u64) -> Result<(), Errno> {
    let mut cb = [0u8; IOCB_SIZE];
    t.copy_in(user, &mut cb)?;
    let u64_at = |o: usize| u64::from_le_bytes(cb[o..o + 8].try_into().unwrap_or_default());
    let u32_at = |o: usize| u32::from_le_bytes(cb[o..o + 4].try_into().unwrap_or_default());
    let data = u64_at(0);
    let rw_flags = u32_at(12);
    let opcode = u16::from_le_bytes([cb[16], cb[17]]);
    let fd = u32_at(20) as i32;
    let (buf, nbytes, offset) = (u64_at(24), u64_at(32), u64_at(40) as i64);
    let (reserved2, flags, resfd) = (u64_at(48), u32_at(56), u32_at(60) as i32);
    if reserved2 != 0 || (nbytes as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    if lock(&ctx.done).len() >= ctx.slots {
        return Err(Errno::EAGAIN);
    }
    let file = t.file(fd)?;
    let eventfd = if flags & IOCB_FLAG_RESFD != 0 {
        let e = t.file(resfd)?;
        if !super::sys_eventfd::is_eventfd(&e) {
            return Err(Errno::EINVAL);
        }
        Some(e)
    } else {
        None
    };
    // The key Linux writes back (KIOCB_KEY, 0), which io_cancel checks.
    t.copy_out(user + 8, &0u32.to_le_bytes())?;
    let res: i64 = match opcode {
        IOCB_CMD_PREAD | IOCB_CMD_PWRITE | IOCB_CMD_PREADV | IOCB_CMD_PWRITEV => {
            let write = matches!(opcode, IOCB_CMD_PWRITE | IOCB_CMD_PWRITEV);
            super::sys_rw2::check_flags(rw_flags)?;
            if flags & IOCB_FLAG_IOPRIO != 0 {
                let prio = u16::from_le_bytes([cb[18], cb[19]]);
                if prio >> 13 > 3 {
                    return Err(Errno::EINVAL);
                }
            }
            if write && !file.writable() || !write && !file.readable() {
                return Err(Errno::EBADF);
            }
            let stream = file.ops.is_stream();
            if !stream && offset < 0 {
                return Err(Errno::EINVAL);
            }
            // A stream has no position to read at: the transfer is a plain read or write.
            let at = (!stream).then_some(offset);
            if rw_flags & RWF_NOWAIT != 0 && stream {
                let want = if write { POLLOUT } else { POLLIN | POLLHUP };
                if file.ops.poll_events() & want == 0 {
                    complete(
                        ctx,
                        eventfd.as_deref(),
                        data,
                        user,
                        -i64::from(Errno::EAGAIN.0),
                    );
                    return Ok(());
                }
            }
            let r = match opcode {
                IOCB_CMD_PREAD => read_into(t, &file, buf, nbytes, at),
                IOCB_CMD_PWRITE => write_from(t, &file, buf, nbytes, at),
                IOCB_CMD_PREADV => do_readv(t, fd, buf, nbytes, at),
                _ => do_writev(t, fd, buf, nbytes, at),
            };
            match r {
                Ok(n) => n as i64,
                // A signal ends the transfer with EINTR, as aio_rw_done makes of a restart.
                Err(Errno::ERESTARTSYS) | Err(Errno::ERESTARTNOHAND) => -i64::from(Errno::EINTR.0),
                Err(e) => -i64::from(e.0),
            }
        }
        IOCB_CMD_FSYNC | IOCB_CMD_FDSYNC => {
            if buf != 0 || offset != 0 || nbytes != 0 || rw_flags != 0 {
                return Err(Errno::EINVAL);
            }
            if file.inode.is_none() {
                return Err(Errno::EINVAL);
            }
            match file.ops.sync() {
                Ok(()) => 0,
                Err(e) => -i64::from(e.0),
            }
        }
        _ => return Err(Errno::EINVAL),
    };
    complete(ctx, eventfd.as_deref(), data, user, res);
    Ok(())
}

fn complete(ctx: &AioContext, eventfd: Option<&crate::vfs::File>, data: u64, obj: u64, res: i64) {
    lock(&ctx.done).push_back(Event { data, obj, res });
    ctx.queue.notify_all();
    if let Some(e) = eventfd {
        super::sys_eventfd::signal(e);
    }
}

/// Implements io_submit(2).
pub fn sys_io_submit(t: &mut Task) -> SysResult {
    let (id, nr, list) = (t.arg(0), t.arg(1) as i64, t.arg(2));
    if nr < 0 {
        return Err(Errno::EINVAL);
    }
    let ctx = context(t, id)?;
    let nr = nr.min(ctx.slots as i64);
    let mut done = 0;
    for i in 0..nr as u64 {
        let r = t
            .read_val::<u64>(list.wrapping_add(i * 8))
            .and_then(|user| run_one(t, &ctx, user));
        match r {
            Ok(()) => done += 1,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// Waits for at least `min` completions (of at most `nr`) and copies them out.
fn get_events(
    t: &mut Task,
    id: u64,
    min: i64,
    nr: i64,
    events: u64,
    deadline: Option<std::time::Instant>,
) -> SysResult {
    let ctx = context(t, id)?;
    if min > nr || min < 0 {
        return Err(Errno::EINVAL);
    }
    let want = (min.max(0) as usize).min(ctx.slots);
    let r = block_on(&[&ctx.queue], deadline, || {
        let done = lock(&ctx.done);
        let gone = !lock(&t.mm).aio.contains_key(&id);
        (done.len() >= want || gone).then_some(Ok(()))
    });
    let interrupted = match r {
        Ok(()) => false,
        Err(Errno::ETIMEDOUT) => false,
        Err(Errno::ERESTARTSYS) => true,
        Err(e) => return Err(e),
    };
    let mut got = 0i64;
    while got < nr {
        let Some(ev) = lock(&ctx.done).pop_front() else {
            break;
        };
        let mut raw = [0u8; EVENT_SIZE as usize];
        raw[0..8].copy_from_slice(&ev.data.to_le_bytes());
        raw[8..16].copy_from_slice(&ev.obj.to_le_bytes());
        raw[16..24].copy_from_slice(&ev.res.to_le_bytes());
        if let Err(e) = t.copy_out(events.wrapping_add(got as u64 * EVENT_SIZE), &raw) {
            lock(&ctx.done).push_front(ev);
            if got == 0 {
                return Err(e);
            }
            break;
        }
        got += 1;
    }
    if got == 0 && interrupted {
        return Err(Errno::EINTR);
    }
    Ok(got as u64)
}

/// Implements io_getevents(2).
pub fn sys_io_getevents(t: &mut Task) -> SysResult {
    let deadline = deadline_ts(t, t.arg(4))?;
    get_events(
        t,
        t.arg(0),
        t.arg(1) as i64,
        t.arg(2) as i64,
        t.arg(3),
        deadline,
    )
}

/// Implements io_pgetevents(2): io_getevents with a signal mask for the wait.
pub fn sys_io_pgetevents(t: &mut Task) -> SysResult {
    let deadline = deadline_ts(t, t.arg(4))?;
    let (mask, size) = match t.arg(5) {
        0 => (0, 0),
        a => {
            let v: [u64; 2] = t.read_val(a)?;
            (v[0], v[1])
        }
    };
    temp_mask(t, mask, size)?;
    let r = get_events(
        t,
        t.arg(0),
        t.arg(1) as i64,
        t.arg(2) as i64,
        t.arg(3),
        deadline,
    );
    let r = match r {
        Err(Errno::EINTR) => Err(Errno::ERESTARTNOHAND),
        r => r,
    };
    end_temp_mask(t, &r);
    r
}

/// Implements io_cancel(2): nothing is ever in flight after io_submit, so EINVAL once the
/// arguments are good.
pub fn sys_io_cancel(t: &mut Task) -> SysResult {
    let (id, iocb) = (t.arg(0), t.arg(1));
    let key: u32 = t.read_val(iocb.wrapping_add(8))?;
    if key != 0 {
        return Err(Errno::EINVAL);
    }
    context(t, id)?;
    Err(Errno::EINVAL)
}
