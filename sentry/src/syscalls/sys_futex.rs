// SPDX-License-Identifier: Apache-2.0
//! futex(2), the futex2 calls (futex_waitv, futex_wake, futex_wait, futex_requeue) and kill(2)/tkill(2)/tgkill(2) aimed at the caller itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::futex::{deadline_after, FutexKey};
use crate::kernel::Task;

/// A futex's key: private futexes (and shared ones in private memory) by address space and
/// address; shared ones in shared memory by the memory itself, so that processes mapping it
/// meet.
fn key(t: &Task, addr: u64, private: bool) -> Result<FutexKey, Errno> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    if !private {
        // A shared futex is found through its page, which must be there to find (Linux's
        // get_user_pages in get_futex_key): unmapped, PROT_NONE or past the end of its file
        // is EFAULT.
        load(t, addr)?;
        if let Some((id, off)) = t.mm().shared_key(addr) {
            return Ok(FutexKey {
                space: id as usize,
                addr: off,
            });
        }
    }
    Ok(FutexKey {
        space: Arc::as_ptr(&t.mm) as usize,
        addr,
    })
}

fn load(t: &Task, addr: u64) -> Result<u32, Errno> {
    t.read_val::<u32>(addr)
}

/// The deadline of a futex wait: relative for FUTEX_WAIT, absolute for FUTEX_WAIT_BITSET.
fn deadline(t: &Task, addr: u64, absolute: bool, realtime: bool) -> Result<Option<Instant>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let ts: Timespec = t.read_val(addr)?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    let d = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    if !absolute {
        return Ok(deadline_after(d));
    }
    let now = if realtime {
        // The sandbox's own wall clock.
        let ns = crate::kernel::clock::realtime_ns().max(0) as u128;
        Duration::new((ns / 1_000_000_000) as u64, (ns % 1_000_000_000) as u32)
    } else {
        let m = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map_err(|e| Errno(e as i32))?;
        Duration::new(m.tv_sec() as u64, m.tv_nsec() as u32)
    };
    Ok(Some(
        deadline_after(d.saturating_sub(now)).unwrap_or_else(Instant::now),
    ))
}

fn wake_op_apply(op: u32, old: u32) -> (u32, bool) {
    let (kind, cmp) = ((op >> 28) & 7, (op >> 24) & 15);
    let mut oparg = (op >> 12) & 0xfff;
    let cmparg = op & 0xfff;
    if (op >> 28) & 8 != 0 {
        oparg = 1u32.checked_shl(oparg).unwrap_or(0);
    }
    let oparg_s = ((oparg << 20) as i32 >> 20) as u32; // sign-extend the 12-bit value
    let new = match kind {
        0 => oparg_s,
        1 => old.wrapping_add(oparg_s),
        2 => old | oparg_s,
        3 => old & !oparg_s,
        4 => old ^ oparg_s,
        _ => old,
    };
    let (o, c) = (old as i32, ((cmparg << 20) as i32) >> 20);
    let pass = match cmp {
        0 => o == c,
        1 => o != c,
        2 => o < c,
        3 => o <= c,
        4 => o > c,
        5 => o >= c,
        _ => false,
    };
    (new, pass)
}

/// Implements futex(2): WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET, WAKE_BITSET.
pub fn sys_futex(t: &mut Task) -> SysResult {
    let (uaddr, op, val, timeout, uaddr2, val3) = (
        t.arg(0),
        t.arg(1) as u32,
        t.arg(2) as u32,
        t.arg(3),
        t.arg(4),
        t.arg(5) as u32,
    );
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT {
        return Err(Errno::ENOSYS);
    }
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    let k = key(t, uaddr, private)?;
    let table = &t.k.futexes;
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3
            };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let dl = deadline(
                t,
                timeout,
                cmd == FUTEX_WAIT_BITSET,
                op & FUTEX_CLOCK_REALTIME != 0,
            )?;
            table
                .wait(k, bitset, dl, || Ok(load(t, uaddr)? == val))
                .map(|_| 0)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3
            };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            Ok(u64::from(table.wake(k, bitset, val as i32)))
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            let k2 = key(t, uaddr2, private)?;
            let m = timeout as u32; // val2 travels in the timeout argument
            if (val as i32) < 0 || (m as i32) < 0 {
                return Err(Errno::EINVAL);
            }
            let cmp = cmd == FUTEX_CMP_REQUEUE;
            table
                .requeue(k, k2, val, m, || Ok(!cmp || load(t, uaddr)? == val3))
                .map(u64::from)
        }
        FUTEX_WAKE_OP => {
            let k2 = key(t, uaddr2, private)?;
            let n2 = timeout as u32;
            // The operation on the second word is atomic (a cmpxchg loop in the caller's own
            // thread), as threads may change the word concurrently.
            let pass = loop {
                let old = load(t, uaddr2)?;
                let (new, pass) = wake_op_apply(val3, old);
                if cas(t, uaddr2, old, new)? == old {
                    break pass;
                }
            };
            t.k.futexes
                .wake_op(k, k2, val as i32, n2 as i32, || Ok(pass))
                .map(u64::from)
        }
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI => {
            let dl = if cmd == FUTEX_TRYLOCK_PI {
                None
            } else {
                // LOCK_PI's timeout is absolute on CLOCK_REALTIME; LOCK_PI2's on the clock the
                // flag names.
                deadline(
                    t,
                    timeout,
                    true,
                    cmd == FUTEX_LOCK_PI || op & FUTEX_CLOCK_REALTIME != 0,
                )?
            };
            lock_pi(t, uaddr, k, dl, cmd == FUTEX_TRYLOCK_PI).map(|_| 0)
        }
        FUTEX_UNLOCK_PI => unlock_pi(t, uaddr, k).map(|_| 0),
        _ => Err(Errno::ENOSYS),
    }
}

/// The address space's end: futex words above it are EFAULT (Linux's access_ok).
const TASK_SIZE: u64 = 0x7fff_ffff_f000;

/// Checks futex2 flags as Linux's futex2_to_flags/futex_flags_valid do: known bits only, and a
/// 32-bit size (the only one Linux implements; FUTEX2_NUMA is accepted, one node here).
fn check_flags2(flags: u32) -> Result<(), Errno> {
    if flags & !FUTEX2_VALID_MASK != 0 || flags & FUTEX2_SIZE_MASK != FUTEX2_SIZE_U32 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// A futex2 word's key (Linux's get_futex_key): natural alignment (twice the size for a NUMA
/// futex, whose node word follows the value), a user address, the node word checked (node 0
/// is the only one; FUTEX_NO_NODE becomes 0 and is written back), and for a shared futex the
/// word must be mapped ([`key`]).
fn key2(t: &Task, addr: u64, flags: u32) -> Result<FutexKey, Errno> {
    let numa = flags & FUTEX2_NUMA != 0;
    let size = if numa { 8 } else { 4 };
    if !addr.is_multiple_of(size) {
        return Err(Errno::EINVAL);
    }
    if addr.checked_add(size).is_none_or(|e| e > TASK_SIZE) {
        return Err(Errno::EFAULT);
    }
    if numa {
        let naddr = addr + 4;
        let node: u32 = t.read_val(naddr)?;
        if node != FUTEX_NO_NODE && node != 0 {
            return Err(Errno::EINVAL);
        }
        // FUTEX2_MPOL would take the node from the address's memory policy: node 0 too.
        if node == FUTEX_NO_NODE {
            t.write_val(naddr, &0u32)?;
        }
    }
    key(t, addr, flags & FUTEX2_PRIVATE != 0)
}

/// A futex2 timeout: absolute, on CLOCK_MONOTONIC or CLOCK_REALTIME (EINVAL otherwise).
fn timeout2(t: &Task, addr: u64, clockid: u32) -> Result<Option<Instant>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let realtime = match clockid {
        CLOCK_REALTIME => true,
        CLOCK_MONOTONIC => false,
        _ => return Err(Errno::EINVAL),
    };
    deadline(t, addr, true, realtime)
}

/// Reads and checks an array of struct futex_waitv (Linux's futex_parse_waitv), entry by
/// entry: EFAULT for an unreadable one, EINVAL for unknown flags, a nonzero reserved field, a
/// size other than 32 bits or a value wider than that.
fn parse_waitv(t: &Task, addr: u64, n: u32) -> Result<Vec<FutexWaitv>, Errno> {
    let size = std::mem::size_of::<FutexWaitv>() as u64;
    let mut v = Vec::with_capacity(n as usize);
    for i in 0..u64::from(n) {
        let at = addr.checked_add(i * size).ok_or(Errno::EFAULT)?;
        let w: FutexWaitv = t.read_val(at)?;
        if w.flags & !FUTEX2_VALID_MASK != 0 || w.reserved != 0 {
            return Err(Errno::EINVAL);
        }
        check_flags2(w.flags)?;
        if w.val >> 32 != 0 {
            return Err(Errno::EINVAL);
        }
        v.push(w);
    }
    Ok(v)
}

/// futex_waitv(2): waits on up to 128 futexes at once; returns the index of the one woken.
pub fn sys_futex_waitv(t: &mut Task) -> SysResult {
    let (waiters, nr, flags, timeout, clockid) = (
        t.arg(0),
        t.arg(1) as u32,
        t.arg(2) as u32,
        t.arg(3),
        t.arg(4) as u32,
    );
    if flags != 0 || nr == 0 || nr > FUTEX_WAITV_MAX || waiters == 0 {
        return Err(Errno::EINVAL);
    }
    let dl = timeout2(t, timeout, clockid)?;
    let v = parse_waitv(t, waiters, nr)?;
    let keys = v
        .iter()
        .map(|w| Ok((key2(t, w.uaddr, w.flags)?, FUTEX_BITSET_MATCH_ANY)))
        .collect::<Result<Vec<_>, Errno>>()?;
    t.k.futexes
        .wait_multiple(&keys, dl, |i| {
            Ok(u64::from(load(t, v[i].uaddr)?) == v[i].val)
        })
        .map(|i| i as u64)
}

/// futex_wake(2): wakes up to `nr` waiters whose bitset meets `mask`.
pub fn sys_futex_wake(t: &mut Task) -> SysResult {
    let (uaddr, mask, nr, flags) = (t.arg(0), t.arg(1), t.arg(2) as i32, t.arg(3) as u32);
    check_flags2(flags)?;
    if mask >> 32 != 0 || mask == 0 {
        return Err(Errno::EINVAL);
    }
    let k = key2(t, uaddr, flags)?;
    if nr == 0 {
        return Ok(0);
    }
    Ok(u64::from(t.k.futexes.wake(k, mask as u32, nr)))
}

/// futex_wait(2): FUTEX_WAIT_BITSET with futex2 flags and an absolute timeout on a chosen
/// clock.
pub fn sys_futex_wait(t: &mut Task) -> SysResult {
    let (uaddr, val, mask, flags, timeout, clockid) = (
        t.arg(0),
        t.arg(1),
        t.arg(2),
        t.arg(3) as u32,
        t.arg(4),
        t.arg(5) as u32,
    );
    check_flags2(flags)?;
    if val >> 32 != 0 || mask >> 32 != 0 {
        return Err(Errno::EINVAL);
    }
    let dl = timeout2(t, timeout, clockid)?;
    if mask == 0 {
        return Err(Errno::EINVAL);
    }
    let k = key2(t, uaddr, flags)?;
    t.k.futexes
        .wait(k, mask as u32, dl, || Ok(u64::from(load(t, uaddr)?) == val))
        .map(|_| 0)
}

/// futex_requeue(2): FUTEX_CMP_REQUEUE between two struct futex_waitv (the first's value is
/// the one compared), each with its own flags.
pub fn sys_futex_requeue(t: &mut Task) -> SysResult {
    let (waiters, flags, nr_wake, nr_requeue) =
        (t.arg(0), t.arg(1) as u32, t.arg(2) as i32, t.arg(3) as i32);
    if flags != 0 || waiters == 0 {
        return Err(Errno::EINVAL);
    }
    let v = parse_waitv(t, waiters, 2)?;
    if nr_wake < 0 || nr_requeue < 0 {
        return Err(Errno::EINVAL);
    }
    let k1 = key2(t, v[0].uaddr, v[0].flags)?;
    let k2 = key2(t, v[1].uaddr, v[1].flags)?;
    let (addr, cmp) = (v[0].uaddr, v[0].val);
    t.k.futexes
        .requeue(k1, k2, nr_wake as u32, nr_requeue as u32, || {
            Ok(u64::from(load(t, addr)?) == cmp)
        })
        .map(u64::from)
}

/// One atomic step on the futex word, done by the caller's own thread in its address space.
fn cas(t: &mut Task, addr: u64, old: u32, new: u32) -> Result<u32, Errno> {
    t.mm().check_writable(addr, 4)?;
    t.ctx.cmpxchg_u32(addr, old, new)
}

/// FUTEX_LOCK_PI and FUTEX_TRYLOCK_PI: take the lock (the word becomes our tid), or mark it
/// contended (FUTEX_WAITERS) and sleep until the owner hands it over. Priority inheritance
/// itself is moot in the sandbox: the host schedules every task at the same priority.
fn lock_pi(
    t: &mut Task,
    addr: u64,
    k: FutexKey,
    dl: Option<std::time::Instant>,
    try_only: bool,
) -> Result<(), Errno> {
    let me = t.tid as u32 & FUTEX_TID_MASK;
    loop {
        let v = load(t, addr)?;
        let owner = v & FUTEX_TID_MASK;
        if owner == me {
            return Err(Errno::EDEADLK);
        }
        if owner == 0 {
            // Free (or its owner died): take it, keeping the waiters bit if others still wait.
            let waiters = if t.k.futexes.waiters(k) > 0 {
                FUTEX_WAITERS
            } else {
                0
            };
            let new = me | waiters | (v & FUTEX_OWNER_DIED);
            if cas(t, addr, v, new)? == v {
                // An owner-died word is taken as it is; glibc reads the bit and reports EOWNERDEAD.
                return Ok(());
            }
            continue;
        }
        if !crate::kernel::lock(&t.k.tree)
            .threads
            .contains_key(&(owner as i32))
        {
            // The owner is gone without unlocking: hand the lock on as owner-died.
            let new = me | (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
            if cas(t, addr, v, new)? == v {
                return Ok(());
            }
            continue;
        }
        if try_only {
            return Err(Errno::EAGAIN);
        }
        if v & FUTEX_WAITERS == 0 && cas(t, addr, v, v | FUTEX_WAITERS)? != v {
            continue;
        }
        // Sleep until an unlock wakes us (or the word changed already).
        let marked = v | FUTEX_WAITERS;
        match t
            .k
            .futexes
            .wait(k, u32::MAX, dl, || Ok(load(t, addr)? == marked))
        {
            Ok(()) | Err(Errno::EAGAIN) => {}
            Err(e) => return Err(e),
        }
    }
}

/// FUTEX_UNLOCK_PI: release a lock we own and wake one waiter, which takes it in its loop.
fn unlock_pi(t: &mut Task, addr: u64, k: FutexKey) -> Result<(), Errno> {
    let me = t.tid as u32 & FUTEX_TID_MASK;
    loop {
        let v = load(t, addr)?;
        if v & FUTEX_TID_MASK != me {
            return Err(Errno::EPERM);
        }
        if cas(t, addr, v, 0)? == v {
            t.k.futexes.wake(k, u32::MAX, 1);
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wake_op_apply;

    #[test]
    fn wake_op_encoding() {
        // FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0): glibc's pthread_cond_signal shape.
        let op = (1 << 28) | (4 << 24) | (1 << 12);
        assert_eq!(wake_op_apply(op, 5), (6, true));
        assert_eq!(wake_op_apply(op, 0), (1, false));
        // FUTEX_OP_SET with the shift flag: 1 << 3.
        let op = (8 << 28) | (3 << 12);
        assert_eq!(wake_op_apply(op, 0).0, 8);
    }
}
