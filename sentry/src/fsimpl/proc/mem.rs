// SPDX-License-Identifier: Apache-2.0
//! /proc/[pid]/mem: a process's memory at the file's offsets (fs/proc/base.c, mem_rw).
//!
//! As Linux: opening needs ptrace access to the process with the opener's file-system
//! credentials (PTRACE_MODE_ATTACH_FSCREDS; EACCES otherwise), and the file is bound to the
//! address space the process had then: after the process execs or ends, reads and writes
//! find nothing (0 bytes). A read or write moves bytes up to the first page that is not
//! mapped (EIO when that is the first). Writes go through a mapping's protection, as
//! FOLL_FORCE does: into a read-only private mapping they land in the process's own copy of
//! the page, never in the file mapped. The sentry does that with the writer's own host
//! process, which shares the address space only when a process writes its own memory; a
//! write to another process's read-only page is EIO (a debugger writes through ptrace's
//! PTRACE_POKEDATA, which forces it).

use std::sync::{Arc, Mutex, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use crate::kernel::tree::TaskShared;
use crate::kernel::{lock, Credentials, Task};
use crate::mm::MemoryManager;
use crate::vfs::{FileOps, Inode};

const PAGE: u64 = 4096;

/// The inode of /proc/[pid]/mem (or a thread's).
pub struct MemInode {
    dev: u64,
    ino: u64,
    pid: i32,
    tid: Option<i32>,
}

impl MemInode {
    /// The mem file of process `pid` (thread `tid` of it under task/).
    pub fn inode(dev: u64, ino: u64, pid: i32, tid: Option<i32>) -> Arc<dyn Inode> {
        Arc::new(MemInode { dev, ino, pid, tid })
    }
}

/// Linux's __ptrace_may_access in PTRACE_MODE_FSCREDS: the opener's fsuid and fsgid against
/// the target's real, effective and saved ids, or CAP_SYS_PTRACE; a process that is not
/// dumpable only with the capability. A thread of the same process always may.
fn may_access(opener: &TaskShared, creds: &Credentials, target: &TaskShared) -> bool {
    if Arc::ptr_eq(&opener.tg, &target.tg) {
        return true;
    }
    let Some(theirs) = lock(&target.info).as_ref().map(|i| i.creds.clone()) else {
        return false;
    };
    let cap = creds.caps & (1 << CAP_SYS_PTRACE) != 0;
    let (u, g) = (creds.fsuid, creds.fsgid);
    let (tu, tg) = (theirs.uid, theirs.gid);
    let same = tu.0 == u && tu.1 == u && tu.2 == u && tg.0 == g && tg.1 == g && tg.2 == g;
    if !same && !cap {
        return false;
    }
    cap || target
        .tg
        .dumpable
        .load(std::sync::atomic::Ordering::Relaxed)
        == 1
}

impl Inode for MemInode {
    fn stat(&self) -> Result<Stat, Errno> {
        // Owned by the process's effective ids while it is dumpable, by root otherwise.
        let (uid, gid) = super::pid::task_of(self.pid, self.tid)
            .ok()
            .filter(|(t, _)| t.tg.dumpable.load(std::sync::atomic::Ordering::Relaxed) == 1)
            .map_or((0, 0), |(_, i)| (i.creds.uid.1, i.creds.gid.1));
        Ok(Stat {
            st_dev: self.dev,
            st_ino: self.ino,
            st_nlink: 1,
            st_mode: S_IFREG | 0o600,
            st_uid: uid,
            st_gid: gid,
            st_blksize: 1024,
            ..Default::default()
        })
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let (target, info) = super::pid::task_of(self.pid, self.tid)?;
        if let Some(me) = crate::kernel::block::current() {
            let creds = lock(&me.info).as_ref().map(|i| i.creds.clone());
            let Some(creds) = creds else {
                return Err(Errno::EACCES);
            };
            if !may_access(&me, &creds, &target) {
                return Err(Errno::EACCES);
            }
        }
        // A process with no address space left (a zombie): nothing to bind to.
        let mm = info.mm().map_err(|_| Errno::ESRCH)?;
        Ok(Box::new(MemFile {
            stat: self.stat()?,
            mm: Arc::downgrade(&mm),
        }))
    }

    fn setattr(&self, _a: &crate::vfs::inode::SetAttr) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An open mem file: the address space it was opened on.
pub struct MemFile {
    stat: Stat,
    mm: Weak<Mutex<MemoryManager>>,
}

/// Copies between `buf` and the memory of `mm` at `addr`, page by page: the bytes moved before
/// the first page that cannot be.
fn copy(mm: &MemoryManager, addr: u64, buf: &mut [u8], write: bool) -> usize {
    let mut done = 0usize;
    while done < buf.len() {
        let at = addr.wrapping_add(done as u64);
        let n = ((PAGE - at % PAGE) as usize).min(buf.len() - done);
        let chunk = &mut buf[done..done + n];
        let r = if write {
            mm.copy_out(at, chunk)
        } else {
            mm.copy_in(at, chunk)
        };
        if r.is_err() {
            break;
        }
        done += n;
    }
    done
}

/// What a read or write that moved `n` of its bytes returns.
fn moved(n: usize, asked: usize) -> Result<usize, Errno> {
    if n == 0 && asked > 0 {
        Err(Errno::EIO)
    } else {
        Ok(n)
    }
}

impl MemFile {
    /// A write from `t`: through the protection of the pages when `t` writes its own address
    /// space (the only host process the sentry can open a page's protection in for it).
    pub fn write_from(&self, t: &mut Task, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let Some(mm) = self.mm.upgrade() else {
            return Ok(0);
        };
        let mut m = lock(&mm);
        let mut data = buf.to_vec();
        let n = copy(&m, offset, &mut data, true);
        if n == buf.len() || !Arc::ptr_eq(&mm, &t.mm) {
            return moved(n, buf.len());
        }
        // The rest, page by page, forced: only pages the process has mapped.
        let mut done = n;
        while done < buf.len() {
            let at = offset.wrapping_add(done as u64);
            let len = ((PAGE - at % PAGE) as usize).min(buf.len() - done);
            // FOLL_FORCE writes copy-on-write mappings only: never a shared one.
            let private = m
                .vmas()
                .find(|v| v.start <= at && at < v.end)
                .is_some_and(|v| !v.shared);
            if !private {
                break;
            }
            if m.write_force(&mut *t.ctx, at, &buf[done..done + len])
                .is_err()
            {
                break;
            }
            done += len;
        }
        moved(done, buf.len())
    }
}

impl FileOps for MemFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let Some(mm) = self.mm.upgrade() else {
            return Ok(0);
        };
        let m = lock(&mm);
        moved(copy(&m, offset, buf, false), buf.len())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let Some(mm) = self.mm.upgrade() else {
            return Ok(0);
        };
        let m = lock(&mm);
        let mut data = buf.to_vec();
        moved(copy(&m, offset, &mut data, true), buf.len())
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.stat)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
