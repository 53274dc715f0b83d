// SPDX-License-Identifier: Apache-2.0
//! kcmp(2): whether two tasks share a kernel object (kernel/kcmp.c), over the sentry's own
//! objects: open file descriptions, address spaces, fd tables, fs contexts, signal handler
//! tables. Both tasks must pass Linux's ptrace_may_access(PTRACE_MODE_READ_REALCREDS) for the
//! caller's sandbox credentials.
//!
//! The order kcmp reports for different objects (1 or 2) is that of their addresses scrambled
//! with a per-sandbox key, as Linux scrambles its pointers: consistent, and meaningless.
//! The sandbox has no I/O contexts or System V semaphore undo lists of its own: KCMP_IO and
//! KCMP_SYSVSEM compare two absent objects (0), as Linux does for tasks that never made one.

use std::sync::{Arc, OnceLock};

use syscalls::Errno;

use super::SysResult;
use crate::kernel::tree::TaskShared;
use crate::kernel::{lock, Credentials, Task};
use crate::vfs::File;

const KCMP_FILE: i32 = 0;
const KCMP_VM: i32 = 1;
const KCMP_FILES: i32 = 2;
const KCMP_FS: i32 = 3;
const KCMP_SIGHAND: i32 = 4;
const KCMP_IO: i32 = 5;
const KCMP_SYSVSEM: i32 = 6;
const KCMP_EPOLL_TFD: i32 = 7;
const CAP_SYS_PTRACE: u32 = 19;

/// What kcmp reads of a task: its credentials, and its objects' addresses.
pub(crate) struct View {
    pub(crate) shared: Arc<TaskShared>,
    creds: Credentials,
    mm: usize,
    /// The address space itself (process_vm_readv/writev).
    pub(crate) mm_ref: Option<Arc<std::sync::Mutex<crate::mm::MemoryManager>>>,
    files: usize,
    fs: usize,
    fds: Option<Arc<std::sync::Mutex<crate::vfs::FdTable>>>,
}

pub(crate) fn view(t: &Task, pid: i32) -> Result<View, Errno> {
    if pid == t.shared.tid {
        return Ok(View {
            shared: t.shared.clone(),
            creds: t.creds.clone(),
            mm: Arc::as_ptr(&t.mm) as usize,
            mm_ref: Some(t.mm.clone()),
            files: Arc::as_ptr(&t.fds) as usize,
            fs: Arc::as_ptr(&t.fs) as usize,
            fds: Some(t.fds.clone()),
        });
    }
    let shared = lock(&t.k.tree)
        .threads
        .get(&pid)
        .cloned()
        .ok_or(Errno::ESRCH)?;
    let info = lock(&shared.info).clone().ok_or(Errno::ESRCH)?;
    Ok(View {
        creds: info.creds.clone(),
        mm: info.mm.as_ptr() as usize,
        mm_ref: info.mm.upgrade(),
        files: info.fds.as_ptr() as usize,
        fs: info.fs.as_ptr() as usize,
        fds: info.fds.upgrade(),
        shared,
    })
}

/// Linux's __ptrace_may_access with real credentials (READ and ATTACH differ only in the
/// Yama rules, which root's CAP_SYS_PTRACE passes and the sandbox does not apply).
pub(crate) fn may_access(t: &Task, v: &View) -> bool {
    if Arc::ptr_eq(&v.shared.tg, &t.shared.tg) {
        return true;
    }
    let cap = t.creds.caps & (1 << CAP_SYS_PTRACE) != 0;
    let (uid, gid) = (t.creds.uid.0, t.creds.gid.0);
    let (tu, tg) = (v.creds.uid, v.creds.gid);
    let same =
        tu.0 == uid && tu.1 == uid && tu.2 == uid && tg.0 == gid && tg.1 == gid && tg.2 == gid;
    if !same && !cap {
        return false;
    }
    // SUID_DUMP_USER is 1.
    cap || v
        .shared
        .tg
        .dumpable
        .load(std::sync::atomic::Ordering::Relaxed)
        == 1
}

/// The order of two objects, Linux's kcmp_ptr: 0 same, 1 or 2 by their scrambled addresses.
fn order(a: usize, b: usize, kind: i32) -> u64 {
    static KEYS: OnceLock<[(u64, u64); 8]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let mut k = [(0u64, 0u64); 8];
        for (i, slot) in k.iter_mut().enumerate() {
            let mut b = [0u8; 16];
            let _ = crate::fsimpl::dev::fill_random(&mut b);
            let lo = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
            let hi = u64::from_le_bytes(b[8..].try_into().unwrap_or_default());
            *slot = (lo ^ i as u64, hi | 1);
        }
        k
    });
    let (x, m) = keys[kind as usize & 7];
    let scramble = |v: usize| (v as u64 ^ x).wrapping_mul(m) as i64;
    let (a, b) = (scramble(a), scramble(b));
    u64::from(a < b) | u64::from(a > b) << 1
}

pub(crate) fn file_of(v: &View, fd: u64) -> Result<Arc<File>, Errno> {
    let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
    let fds = v.fds.as_ref().ok_or(Errno::EBADF)?;
    lock(fds).file(fd).map_err(|_| Errno::EBADF)
}

/// Implements kcmp(2).
pub fn sys_kcmp(t: &mut Task) -> SysResult {
    let (pid1, pid2, kind, idx1, idx2) = (
        t.arg(0) as i32,
        t.arg(1) as i32,
        t.arg(2) as i32,
        t.arg(3),
        t.arg(4),
    );
    let (v1, v2) = (view(t, pid1)?, view(t, pid2)?);
    if !may_access(t, &v1) || !may_access(t, &v2) {
        return Err(Errno::EPERM);
    }
    match kind {
        KCMP_FILE => {
            let (f1, f2) = (file_of(&v1, idx1), file_of(&v2, idx2));
            match (f1, f2) {
                (Ok(a), Ok(b)) => Ok(order(
                    Arc::as_ptr(&a) as usize,
                    Arc::as_ptr(&b) as usize,
                    kind,
                )),
                _ => Err(Errno::EBADF),
            }
        }
        KCMP_VM => Ok(order(v1.mm, v2.mm, kind)),
        KCMP_FILES => Ok(order(v1.files, v2.files, kind)),
        KCMP_FS => Ok(order(v1.fs, v2.fs, kind)),
        KCMP_SIGHAND => Ok(order(
            Arc::as_ptr(&v1.shared.tg.sighand()) as usize,
            Arc::as_ptr(&v2.shared.tg.sighand()) as usize,
            kind,
        )),
        KCMP_IO | KCMP_SYSVSEM => Ok(0),
        KCMP_EPOLL_TFD => {
            // struct kcmp_epoll_slot { __u32 efd, tfd, toff; }.
            let slot: [u32; 3] = t.read_val(idx2)?;
            let f = file_of(&v1, idx1)?;
            let ep = file_of(&v2, u64::from(slot[0]))?;
            let target = super::sys_poll::epoll_target(&ep, slot[1] as i32, slot[2])?;
            Ok(order(
                Arc::as_ptr(&f) as usize,
                Arc::as_ptr(&target) as usize,
                KCMP_FILE,
            ))
        }
        _ => Err(Errno::EINVAL),
    }
}
