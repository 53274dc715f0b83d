// SPDX-License-Identifier: Apache-2.0
//! signalfd(2) and signalfd4(2): the reader's pending signals of a set, read as
//! `struct signalfd_siginfo` records (they are taken off the queue, as sigwaitinfo takes them).
//!
//! As in Linux, a read or poll sees the signals of the task that reads or polls (thread-directed
//! ones first, then the process's). Readiness changes are announced on the creating process's
//! signal queue ([`crate::kernel::tree::ThreadGroup::signal_events`]).

use std::sync::{Arc, Mutex};

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::signal::{SigSet, UNBLOCKABLE};
use crate::kernel::tree::{TaskShared, ThreadGroup};
use crate::kernel::{lock, Task};
use crate::vfs::{File, FileOps};

/// `struct signalfd_siginfo`'s size.
const RECORD: usize = 128;

struct SignalFd {
    mask: Mutex<SigSet>,
    /// The creating process (whose queue announces new signals to pollers).
    tg: Arc<ThreadGroup>,
    ino: u64,
}

impl SignalFd {
    fn mask(&self) -> SigSet {
        *lock(&self.mask)
    }

    /// Takes one pending signal of the mask from `task` (its own first, then its process's).
    fn take(&self, task: &TaskShared) -> Option<Siginfo> {
        let blocked = !self.mask();
        let info = lock(&task.pending)
            .pop(blocked)
            .or_else(|| lock(&task.tg.pending).pop(blocked))
            .map(|p| p.info);
        if let (Some(info), Some(k)) = (&info, crate::kernel::block::current_kernel()) {
            k.timers.taken(task.tg.tgid, info);
        }
        info
    }
}

/// A siginfo as a `struct signalfd_siginfo` (Linux's signalfd_copyinfo, by the fields each
/// kind of signal has).
fn record(info: &Siginfo) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    let put32 = |r: &mut [u8; RECORD], at: usize, v: u32| {
        r[at..at + 4].copy_from_slice(&v.to_le_bytes());
    };
    let put64 = |r: &mut [u8; RECORD], at: usize, v: u64| {
        r[at..at + 8].copy_from_slice(&v.to_le_bytes());
    };
    put32(&mut r, 0, info.si_signo as u32);
    put32(&mut r, 4, info.si_errno as u32);
    put32(&mut r, 8, info.si_code as u32);
    let f = &info.fields;
    let (lo, hi) = (f[0] as u32, (f[0] >> 32) as u32);
    let fault =
        matches!(info.si_signo, SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP) && info.si_code > 0;
    if fault {
        put64(&mut r, 72, f[0]); // ssi_addr
    } else if info.si_signo == SIGCHLD && info.si_code > 0 {
        put32(&mut r, 12, lo); // ssi_pid
        put32(&mut r, 16, hi); // ssi_uid
        put32(&mut r, 40, f[1] as u32); // ssi_status
        put64(&mut r, 56, f[2]); // ssi_utime
        put64(&mut r, 64, f[3]); // ssi_stime
    } else if info.si_code == -2 {
        // SI_TIMER: the timer id and overrun, and its value.
        put32(&mut r, 24, lo);
        put32(&mut r, 32, hi);
        put32(&mut r, 44, f[1] as u32);
        put64(&mut r, 48, f[1]);
    } else if matches!(info.si_signo, SIGIO) && info.si_code > 0 {
        put32(&mut r, 28, lo); // ssi_band
        put32(&mut r, 20, f[1] as u32); // ssi_fd
    } else {
        put32(&mut r, 12, lo);
        put32(&mut r, 16, hi);
        put32(&mut r, 44, f[1] as u32); // ssi_int (sigqueue's value)
        put64(&mut r, 48, f[1]); // ssi_ptr
    }
    r
}

impl FileOps for SignalFd {
    fn is_stream(&self) -> bool {
        true
    }

    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        if buf.len() < RECORD {
            return Err(Errno::EINVAL);
        }
        let task = crate::kernel::block::current().ok_or(Errno::EINVAL)?;
        let first = block_on(&[], None, || match self.take(&task) {
            Some(info) => Some(Ok(info)),
            None if nonblock => Some(Err(Errno::EAGAIN)),
            None => None,
        })?;
        buf[..RECORD].copy_from_slice(&record(&first));
        let mut n = RECORD;
        while buf.len() - n >= RECORD {
            let Some(info) = self.take(&task) else { break };
            buf[n..n + RECORD].copy_from_slice(&record(&info));
            n += RECORD;
        }
        Ok(n)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(crate::vfs::inode::anon_stat(self.ino))
    }

    fn poll_events(&self) -> u32 {
        let mask = self.mask();
        let pending = match crate::kernel::block::current() {
            Some(t) => lock(&t.pending).set | lock(&t.tg.pending).set,
            None => lock(&self.tg.pending).set,
        };
        if pending & mask != 0 {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.tg.signal_events)
    }

    fn signalfd_mask(&self) -> Option<&Mutex<SigSet>> {
        Some(&self.mask)
    }
}

fn do_signalfd(t: &mut Task, fd: i32, mask_addr: u64, size: u64, flags: u32) -> SysResult {
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 || size != 8 {
        return Err(Errno::EINVAL);
    }
    let mask: u64 = t.read_val(mask_addr)?;
    let mask = mask & !UNBLOCKABLE;
    if fd != -1 {
        let file = t.file(fd)?;
        let m = file.ops.signalfd_mask().ok_or(Errno::EINVAL)?;
        *lock(m) = mask;
        if let Some(q) = file.ops.poll_queue() {
            q.notify_all();
        }
        return Ok(fd as u64);
    }
    let sfd = SignalFd {
        mask: Mutex::new(mask),
        tg: t.shared.tg.clone(),
        ino: t.k.new_ino(),
    };
    let file = File::new(
        Box::new(sfd),
        O_RDWR | (flags & O_NONBLOCK),
        "anon_inode:[signalfd]",
    );
    super::sys_file::install(t, file, flags & O_CLOEXEC != 0)
}

/// Implements signalfd(2).
pub fn sys_signalfd(t: &mut Task) -> SysResult {
    let (fd, mask, size) = (t.arg(0) as i32, t.arg(1), t.arg(2));
    do_signalfd(t, fd, mask, size, 0)
}

/// Implements signalfd4(2).
pub fn sys_signalfd4(t: &mut Task) -> SysResult {
    let (fd, mask, size, flags) = (t.arg(0) as i32, t.arg(1), t.arg(2), t.arg(3) as u32);
    do_signalfd(t, fd, mask, size, flags)
}
