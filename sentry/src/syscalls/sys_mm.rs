// SPDX-License-Identifier: Apache-2.0
//! Memory system calls: brk, mmap, munmap, mprotect, mremap, madvise, mincore, msync.

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::{lock, Task};

/// Implements brk(2).
pub fn sys_brk(t: &mut Task) -> SysResult {
    let a = t.args();
    let mut mm = lock(&t.mm);
    let r = mm.set_brk(t.ctx.as_mut(), a[0]);
    mm.recharge();
    Ok(r)
}

/// `--memory`: a change that may add `more` bytes of committed memory fails with ENOMEM when
/// they do not fit in the sandbox's budget.
fn check_commit(more: u64) -> Result<(), Errno> {
    if crate::limits::memory().fits(more) {
        Ok(())
    } else {
        Err(Errno::ENOMEM)
    }
}

/// Implements mmap(2).
pub fn sys_mmap(t: &mut Task) -> SysResult {
    let (addr, len, prot, flags, fd, off) = (
        t.arg(0),
        t.arg(1),
        t.arg(2) as u32,
        t.arg(3) as u32,
        t.arg(4) as i32,
        t.arg(5),
    );
    if off % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    // The descriptor is looked at before the length (ksys_mmap_pgoff's fget, then do_mmap):
    // EBADF for a closed one or an O_PATH one (fget takes none).
    if flags & MAP_ANONYMOUS == 0 && t.file(fd)?.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    match flags & MAP_TYPE {
        MAP_SHARED | MAP_PRIVATE => {}
        MAP_SHARED_VALIDATE => {
            let known = MAP_TYPE
                | MAP_FIXED
                | MAP_ANONYMOUS
                | MAP_32BIT
                | MAP_GROWSDOWN
                | MAP_DENYWRITE
                | MAP_EXECUTABLE
                | MAP_LOCKED
                | MAP_NORESERVE
                | MAP_POPULATE
                | MAP_NONBLOCK
                | MAP_STACK
                | MAP_HUGETLB
                | MAP_FIXED_NOREPLACE
                | MAP_SYNC;
            if flags & !known != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            if flags & MAP_SYNC != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
        }
        _ => return Err(Errno::EINVAL),
    }
    let prot = prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
    if flags & MAP_ANONYMOUS != 0 && !matches!(flags & MAP_TYPE, MAP_SHARED | MAP_PRIVATE) {
        return Err(Errno::EINVAL);
    }
    let anon_file = flags & MAP_ANONYMOUS == 0 && t.file(fd)?.ops.maps_as_anonymous();
    // A shared mapping of /dev/zero opened without write: anonymous memory that may never be
    // written (EACCES now for PROT_WRITE, and from mprotect later).
    let no_write = anon_file && flags & MAP_TYPE != MAP_PRIVATE && !t.file(fd)?.writable();
    if no_write && prot & PROT_WRITE != 0 {
        return Err(Errno::EACCES);
    }
    let flags = if anon_file {
        flags | MAP_ANONYMOUS
    } else {
        flags
    };
    let file = if flags & MAP_ANONYMOUS != 0 {
        None
    } else {
        let file = t.file(fd)?;
        if !file.readable() {
            return Err(Errno::EACCES);
        }
        let shared = flags & MAP_TYPE != MAP_PRIVATE;
        if shared && prot & PROT_WRITE != 0 && !file.writable() {
            return Err(Errno::EACCES);
        }
        let st = file.ops.stat()?;
        if st.st_mode & S_IFMT == S_IFDIR {
            return Err(Errno::ENODEV);
        }
        // Checked first: a file system may make the host descriptor for the mapping then.
        file.ops.check_mmap(shared, prot)?;
        if file.ops.host_fd().is_none() {
            return Err(Errno::ENODEV);
        }
        off.checked_add(len).ok_or(Errno::EOVERFLOW)?;
        Some((file, off))
    };
    let addr = if flags & MAP_32BIT != 0 && flags & MAP_FIXED == 0 && addr == 0 {
        0x4000_0000 // only meaningful below 2 GiB; honoured as a hint
    } else {
        addr
    };
    if crate::mm::commits(flags, prot) {
        check_commit(len)?;
    }
    let mut mm = lock(&t.mm);
    let r = mm.mmap(t.ctx.as_mut(), addr, len, prot, flags, file);
    if let (Ok(start), true) = (&r, no_write) {
        mm.deny_write(*start, len);
    }
    mm.recharge();
    r
}

/// Implements munmap(2).
pub fn sys_munmap(t: &mut Task) -> SysResult {
    let a = t.args();
    let mut mm = lock(&t.mm);
    let r = mm.munmap(t.ctx.as_mut(), a[0], a[1]).map(|_| 0);
    mm.recharge();
    r
}

/// Implements mprotect(2).
pub fn sys_mprotect(t: &mut Task) -> SysResult {
    let a = t.args();
    if a[2] as u32 & PROT_WRITE != 0 {
        // Making private file pages writable commits them.
        check_commit(a[1])?;
    }
    let mut mm = lock(&t.mm);
    let r = mm
        .mprotect(t.ctx.as_mut(), a[0], a[1], a[2] as u32)
        .map(|_| 0);
    mm.recharge();
    r
}

/// Implements mremap(2).
pub fn sys_mremap(t: &mut Task) -> SysResult {
    let a = t.args();
    if a[2] > a[1] {
        check_commit(a[2] - a[1])?;
    }
    let mut mm = lock(&t.mm);
    let r = mm.mremap(t.ctx.as_mut(), a[0], a[1], a[2], a[3] as u32, a[4]);
    mm.recharge();
    r
}

/// Implements madvise(2).
pub fn sys_madvise(t: &mut Task) -> SysResult {
    let a = t.args();
    lock(&t.mm)
        .madvise(t.ctx.as_mut(), a[0], a[1], a[2] as u32)
        .map(|_| 0)
}

/// Implements msync(2).
pub fn sys_msync(t: &mut Task) -> SysResult {
    let a = t.args();
    lock(&t.mm)
        .msync(t.ctx.as_mut(), a[0], a[1], a[2] as u32)
        .map(|_| 0)
}

/// Implements mincore(2).
pub fn sys_mincore(t: &mut Task) -> SysResult {
    let (addr, vec) = (t.arg(0), t.arg(2));
    let pages = t.mm().mincore_pages(addr, t.arg(1))?;
    // The host's answer, from the program's own process: which of its pages are resident
    // (mincore03, mlock201). The vector must be the program's writable memory.
    if pages > 0 {
        t.mm().check_writable(vec, pages as usize)?;
        match t.ctx.mincore(addr, pages * 4096, vec) {
            Err(Errno::ENOSYS) => {}
            r => return r.map(|_| 0),
        }
    }
    // Where the platform cannot ask: every page resident.
    let ones = vec![1u8; (pages as usize).min(1 << 16)];
    let mut done = 0u64;
    while done < pages {
        let n = (pages - done).min(ones.len() as u64);
        t.copy_out(t.arg(2) + done, &ones[..n as usize])?;
        done += n;
    }
    Ok(0)
}

/// Whether the caller may lock memory beyond RLIMIT_MEMLOCK (CAP_IPC_LOCK).
fn may_lock_any(t: &Task) -> bool {
    t.creds.caps & (1 << CAP_IPC_LOCK) != 0
}

/// mlock(2), mlock2(2), munlock(2): the range's mappings take lock state `mode` (0 unlocks).
/// The host never swaps the sandbox's memory out of its view, so a lock is what Linux lets a
/// program observe of it: the pages faulted in, VmLck, RLIMIT_MEMLOCK, and madvise/msync
/// refusing to discard locked memory.
fn lock_range(t: &mut Task, addr: u64, len: u64, mode: u8) -> SysResult {
    let start = crate::mm::page_down(addr);
    let end =
        crate::mm::page_up(addr.checked_add(len).ok_or(Errno::ENOMEM)?).ok_or(Errno::ENOMEM)?;
    if end == start {
        return Ok(0);
    }
    let limit = t.rlimit(RLIMIT_MEMLOCK);
    let mm_arc = t.mm.clone();
    let mut mm = lock(&mm_arc);
    if mode != 0 && !may_lock_any(t) {
        // Linux's do_mlock: EPERM when nothing may be locked, ENOMEM past the limit (what
        // the range already holds locked is not counted twice).
        if limit == 0 {
            return Err(Errno::EPERM);
        }
        let after = mm.locked_bytes() - mm.locked_in(start, end) + (end - start);
        if after > limit {
            return Err(Errno::ENOMEM);
        }
    }
    mm.set_locked(t.ctx.as_mut(), start, end, mode).map(|_| 0)
}

/// Implements mlock(2).
pub fn sys_mlock(t: &mut Task) -> SysResult {
    let a = t.args();
    lock_range(t, a[0], a[1], crate::mm::LOCKED)
}

/// Implements mlock2(2).
pub fn sys_mlock2(t: &mut Task) -> SysResult {
    let a = t.args();
    if a[2] & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    let mode = if a[2] & MLOCK_ONFAULT != 0 {
        crate::mm::LOCKED | crate::mm::LOCK_ONFAULT
    } else {
        crate::mm::LOCKED
    };
    lock_range(t, a[0], a[1], mode)
}

/// Implements munlock(2).
pub fn sys_munlock(t: &mut Task) -> SysResult {
    let a = t.args();
    lock_range(t, a[0], a[1], 0)
}

/// Implements mlockall(2): MCL_CURRENT locks every mapping, MCL_FUTURE every one made later
/// (MCL_ONFAULT: as they are faulted in).
pub fn sys_mlockall(t: &mut Task) -> SysResult {
    let flags = t.arg(0);
    if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT
    {
        return Err(Errno::EINVAL);
    }
    let limit = t.rlimit(RLIMIT_MEMLOCK);
    if !may_lock_any(t) && limit == 0 {
        return Err(Errno::EPERM);
    }
    let mm_arc = t.mm.clone();
    let mut mm = lock(&mm_arc);
    if flags & MCL_CURRENT != 0 && !may_lock_any(t) && mm.mapped_bytes() > limit {
        return Err(Errno::ENOMEM);
    }
    let mode = if flags & MCL_ONFAULT != 0 {
        crate::mm::LOCKED | crate::mm::LOCK_ONFAULT
    } else {
        crate::mm::LOCKED
    };
    mm.def_locked = if flags & MCL_FUTURE != 0 { mode } else { 0 };
    if flags & MCL_CURRENT != 0 {
        mm.set_locked_all(t.ctx.as_mut(), mode);
    }
    Ok(0)
}

/// Implements munlockall(2).
pub fn sys_munlockall(t: &mut Task) -> SysResult {
    let mm_arc = t.mm.clone();
    let mut mm = lock(&mm_arc);
    mm.def_locked = 0;
    mm.set_locked_all(t.ctx.as_mut(), 0);
    Ok(0)
}

/// Implements pkey_alloc(2) for a machine without memory protection keys (the sandbox
/// declares none: /proc/cpuinfo has no `pku`): EINVAL, as Linux without PKU.
pub fn sys_pkey_alloc(_t: &mut Task) -> SysResult {
    Err(Errno::EINVAL)
}

/// Implements map_shadow_stack(2) for a machine without user shadow stacks (the sandbox
/// declares none: /proc/cpuinfo has no `user_shstk`): EOPNOTSUPP, which Linux checks before
/// any argument (arch/x86/kernel/shstk.c).
pub fn sys_map_shadow_stack(_t: &mut Task) -> SysResult {
    Err(Errno::EOPNOTSUPP)
}

/// Implements pkey_free(2): no key is ever allocated without PKU.
pub fn sys_pkey_free(_t: &mut Task) -> SysResult {
    Err(Errno::EINVAL)
}

/// Implements pkey_mprotect(2): mprotect for key -1 (none); EINVAL for any key, after
/// mprotect's own argument checks.
pub fn sys_pkey_mprotect(t: &mut Task) -> SysResult {
    if t.arg(3) as i32 == -1 {
        return sys_mprotect(t);
    }
    let (start, len) = (t.arg(0), t.arg(1));
    if start & 0xfff != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let len = len.checked_add(0xfff).ok_or(Errno::ENOMEM)? & !0xfff;
    if start.checked_add(len).is_none() {
        return Err(Errno::ENOMEM);
    }
    Err(Errno::EINVAL)
}

/// Implements mseal(2).
pub fn sys_mseal(t: &mut Task) -> SysResult {
    let (start, len_in, flags) = (t.arg(0), t.arg(1), t.arg(2));
    if flags != 0 || start & 0xfff != 0 {
        return Err(Errno::EINVAL);
    }
    let len = len_in.wrapping_add(0xfff) & !0xfff;
    if len_in != 0 && len == 0 {
        return Err(Errno::EINVAL);
    }
    let end = start.checked_add(len).ok_or(Errno::EINVAL)?;
    if end == start {
        return Ok(0);
    }
    t.mm().seal(start, end).map(|_| 0)
}
