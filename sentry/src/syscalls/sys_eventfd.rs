// SPDX-License-Identifier: Apache-2.0
//! eventfd(2) and eventfd2(2): a 64-bit counter as a file.

use std::sync::Mutex;

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::{lock, Task};
use crate::vfs::{File, FileOps};

const MAX: u64 = u64::MAX - 1;

struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    queue: WaitQueue,
    ino: u64,
}

impl FileOps for EventFd {
    fn is_stream(&self) -> bool {
        true
    }

    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let v = block_on(&[&self.queue], None, || {
            let mut c = lock(&self.count);
            if *c == 0 {
                return if nonblock {
                    Some(Err(Errno::EAGAIN))
                } else {
                    None
                };
            }
            let v = if self.semaphore { 1 } else { *c };
            *c -= v;
            self.queue.notify_all();
            Some(Ok(v))
        })?;
        buf[..8].copy_from_slice(&v.to_le_bytes());
        Ok(8)
    }

    fn write_stream(&self, buf: &[u8], nonblock: bool) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let add = u64::from_le_bytes(buf[..8].try_into().map_err(|_| Errno::EINVAL)?);
        if add == u64::MAX {
            return Err(Errno::EINVAL);
        }
        block_on(&[&self.queue], None, || {
            let mut c = lock(&self.count);
            if MAX.saturating_sub(*c) < add {
                return if nonblock {
                    Some(Err(Errno::EAGAIN))
                } else {
                    None
                };
            }
            *c += add;
            self.queue.notify_all();
            Some(Ok(8))
        })
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(crate::vfs::inode::anon_stat(self.ino))
    }

    fn poll_events(&self) -> u32 {
        let c = *lock(&self.count);
        let mut ev = 0;
        if c > 0 {
            ev |= POLLIN | POLLRDNORM;
        }
        if c < MAX {
            ev |= POLLOUT | POLLWRNORM;
        }
        // A counter an AIO completion took past what a write may reach (eventfd_poll).
        if c == u64::MAX {
            ev |= POLLERR;
        }
        ev
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Whether `file` is an eventfd.
pub(crate) fn is_eventfd(file: &File) -> bool {
    file.ops
        .as_any()
        .is_some_and(|a| a.downcast_ref::<EventFd>().is_some())
}

/// Adds one to an eventfd's counter (eventfd_signal: never waiting, up to ULLONG_MAX, one
/// past what a write may reach: the overflow poll reports as POLLERR), as a completed AIO
/// request with IOCB_FLAG_RESFD does.
pub(crate) fn signal(file: &File) {
    if let Some(e) = file.ops.as_any().and_then(|a| a.downcast_ref::<EventFd>()) {
        let mut c = lock(&e.count);
        *c = c.saturating_add(1);
        e.queue.notify_all();
    }
}

fn make(t: &Task, init: u32, flags: u32) -> SysResult {
    if flags & !(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL);
    }
    let efd = EventFd {
        count: Mutex::new(u64::from(init)),
        semaphore: flags & EFD_SEMAPHORE != 0,
        queue: WaitQueue::default(),
        ino: t.k.new_ino(),
    };
    let file = File::new(
        Box::new(efd),
        O_RDWR | (flags & O_NONBLOCK),
        "anon_inode:[eventfd]",
    );
    let limit = t.rlimit(RLIMIT_NOFILE);
    t.fds()
        .alloc(file, flags & O_CLOEXEC != 0, 0, limit)
        .map(|fd| fd as u64)
}

/// Implements eventfd(2).
pub fn sys_eventfd(t: &mut Task) -> SysResult {
    make(t, t.arg(0) as u32, 0)
}

/// Implements eventfd2(2).
pub fn sys_eventfd2(t: &mut Task) -> SysResult {
    make(t, t.arg(0) as u32, t.arg(1) as u32)
}
