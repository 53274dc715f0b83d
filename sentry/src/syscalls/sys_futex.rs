// SPDX-License-Identifier: Apache-2.0
//! futex(2) and kill(2)/tkill(2)/tgkill(2) aimed at the caller itself.

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
            Ok(u64::from(table.wake(k, bitset, val)))
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
                .wake_op(k, k2, val, n2, || Ok(pass))
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
