// SPDX-License-Identifier: Apache-2.0
//! sched_setattr(2) and sched_getattr(2), over the per-task scheduling state that
//! sched_setscheduler(2) and setpriority(2) keep (recorded, not applied to the host's
//! scheduler), in Linux's order of checks (kernel/sched/syscalls.c). SCHED_DEADLINE parameters
//! are checked as Linux's `__checkparam_dl` does; the bandwidth admission test (EBUSY) is not
//! made. The kernel here has no utilisation clamping: SCHED_FLAG_UTIL_CLAMP is EOPNOTSUPP.

use syscalls::abi::*;
use syscalls::Errno;

use super::sys_sched::{may_nice, target};
use super::SysResult;
use crate::kernel::tree::Sched;
use crate::kernel::{lock, Task};

const SCHED_ATTR_SIZE_VER0: usize = 48;
const SCHED_ATTR_SIZE_VER1: usize = 56;
const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
const SCHED_FLAG_RECLAIM: u64 = 0x02;
const SCHED_FLAG_DL_OVERRUN: u64 = 0x04;
const SCHED_FLAG_KEEP_POLICY: u64 = 0x08;
const SCHED_FLAG_KEEP_PARAMS: u64 = 0x10;
const SCHED_FLAG_UTIL_CLAMP: u64 = 0x20 | 0x40;
const SCHED_FLAG_ALL: u64 = 0x7f;
const SCHED_FLAG_SUGOV: u64 = 0x1000_0000;

/// `struct sched_attr` (VER1).
#[derive(Default, Clone, Copy)]
struct Attr {
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

impl Attr {
    fn parse(b: &[u8; SCHED_ATTR_SIZE_VER1]) -> Attr {
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| u64::from(u32_at(o)) | u64::from(u32_at(o + 4)) << 32;
        Attr {
            policy: u32_at(4),
            flags: u64_at(8),
            nice: u32_at(16) as i32,
            priority: u32_at(20),
            runtime: u64_at(24),
            deadline: u64_at(32),
            period: u64_at(40),
        }
    }

    fn bytes(&self, size: u32) -> [u8; SCHED_ATTR_SIZE_VER1] {
        let mut b = [0u8; SCHED_ATTR_SIZE_VER1];
        b[0..4].copy_from_slice(&size.to_le_bytes());
        b[4..8].copy_from_slice(&self.policy.to_le_bytes());
        b[8..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..20].copy_from_slice(&self.nice.to_le_bytes());
        b[20..24].copy_from_slice(&self.priority.to_le_bytes());
        b[24..32].copy_from_slice(&self.runtime.to_le_bytes());
        b[32..40].copy_from_slice(&self.deadline.to_le_bytes());
        b[40..48].copy_from_slice(&self.period.to_le_bytes());
        b
    }
}

/// The fair scheduler's default slice: 0.7 ms scaled by 1 + log2 of the CPUs (at most 8).
fn base_slice() -> u64 {
    let cpus = crate::host::ncpu().clamp(1, 8) as u64;
    700_000 * (1 + u64::from(cpus.ilog2()))
}

/// Linux's get_params: what sched_getattr shows of a task's state.
fn params(s: &Sched, a: &mut Attr) {
    match s.policy {
        SCHED_DEADLINE => {
            (a.runtime, a.deadline, a.period) = (s.dl.0, s.dl.1, s.dl.2);
            a.flags |= s.dl.3;
        }
        SCHED_FIFO | SCHED_RR => a.priority = s.priority as u32,
        _ => {
            a.nice = s.nice;
            a.runtime = if s.slice == 0 { base_slice() } else { s.slice };
        }
    }
}

/// Linux's __checkparam_dl with the default period bounds (100 us to 4.19 s).
fn valid_dl(a: &Attr) -> bool {
    if a.deadline == 0 || a.runtime < 1 << 10 {
        return false;
    }
    if a.deadline & 1 << 63 != 0 || a.period & 1 << 63 != 0 {
        return false;
    }
    let period = if a.period == 0 { a.deadline } else { a.period };
    if period < a.deadline || a.deadline < a.runtime {
        return false;
    }
    (100_000..=4_194_304_000).contains(&period)
}

/// Implements sched_setattr(2).
pub fn sys_sched_setattr(t: &mut Task) -> SysResult {
    let (pid, uattr, flags) = (t.arg(0) as i32, t.arg(1), t.arg(2) as u32);
    if uattr == 0 || pid < 0 || flags != 0 {
        return Err(Errno::EINVAL);
    }
    // sched_copy_attr: the size first, then copy_struct_from_user's rule for the tail.
    let size: u32 = t.read_val(uattr)?;
    let size = if size == 0 {
        SCHED_ATTR_SIZE_VER0
    } else {
        size as usize
    };
    let too_big = |t: &Task| {
        let _ = t.write_val(uattr, &(SCHED_ATTR_SIZE_VER1 as u32));
        Err(Errno::E2BIG)
    };
    if !(SCHED_ATTR_SIZE_VER0..=4096).contains(&size) {
        return too_big(t);
    }
    let mut raw = vec![0u8; size];
    t.copy_in(uattr, &mut raw)?;
    if raw.iter().skip(SCHED_ATTR_SIZE_VER1).any(|b| *b != 0) {
        return too_big(t);
    }
    let mut b = [0u8; SCHED_ATTR_SIZE_VER1];
    let n = size.min(SCHED_ATTR_SIZE_VER1);
    b[..n].copy_from_slice(&raw[..n]);
    let mut a = Attr::parse(&b);
    if a.flags & SCHED_FLAG_UTIL_CLAMP != 0 && size < SCHED_ATTR_SIZE_VER1 {
        return Err(Errno::EINVAL);
    }
    a.nice = a.nice.clamp(-20, 19);
    if (a.policy as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let keep_policy = a.flags & SCHED_FLAG_KEEP_POLICY != 0;
    let task = target(t, pid)?;
    let cur = *lock(&task.sched);
    if a.flags & SCHED_FLAG_KEEP_PARAMS != 0 {
        params(&cur, &mut a);
    }
    // __sched_setscheduler.
    let (policy, reset_on_fork) = if keep_policy {
        (cur.policy, cur.reset_on_fork)
    } else {
        if !matches!(
            a.policy,
            SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_FIFO | SCHED_RR | SCHED_DEADLINE
        ) {
            return Err(Errno::EINVAL);
        }
        (a.policy, a.flags & SCHED_FLAG_RESET_ON_FORK != 0)
    };
    if a.flags & !(SCHED_FLAG_ALL | SCHED_FLAG_SUGOV) != 0 || a.priority > 99 {
        return Err(Errno::EINVAL);
    }
    let rt = matches!(policy, SCHED_FIFO | SCHED_RR);
    if (policy == SCHED_DEADLINE && a.flags & SCHED_FLAG_SUGOV == 0 && !valid_dl(&a))
        || rt != (a.priority != 0)
    {
        return Err(Errno::EINVAL);
    }
    let fair = matches!(policy, SCHED_OTHER | SCHED_BATCH | SCHED_IDLE);
    if !may_nice(t) {
        // user_check_sched_setscheduler, without an RLIMIT_RTPRIO allowance.
        if (fair && a.nice < cur.nice) || rt || policy == SCHED_DEADLINE {
            return Err(Errno::EPERM);
        }
        if cur.reset_on_fork && !reset_on_fork {
            return Err(Errno::EPERM);
        }
    }
    if a.flags & SCHED_FLAG_SUGOV != 0 {
        return Err(Errno::EINVAL);
    }
    if a.flags & SCHED_FLAG_UTIL_CLAMP != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let mut s = lock(&task.sched);
    s.policy = policy;
    s.reset_on_fork = reset_on_fork;
    s.priority = if rt { a.priority as i32 } else { 0 };
    if fair {
        s.nice = a.nice;
        s.slice = if a.runtime == 0 {
            0
        } else {
            a.runtime.clamp(100_000, 100_000_000)
        };
    }
    if policy == SCHED_DEADLINE {
        let period = if a.period == 0 { a.deadline } else { a.period };
        let dl_flags = a.flags & (SCHED_FLAG_RECLAIM | SCHED_FLAG_DL_OVERRUN);
        s.dl = (a.runtime, a.deadline, period, dl_flags);
    }
    Ok(0)
}

/// Implements sched_getattr(2).
pub fn sys_sched_getattr(t: &mut Task) -> SysResult {
    let (pid, uattr, usize_, flags) = (
        t.arg(0) as i32,
        t.arg(1),
        t.arg(2) as u32 as usize,
        t.arg(3) as u32,
    );
    if uattr == 0 || pid < 0 || !(SCHED_ATTR_SIZE_VER0..=4096).contains(&usize_) || flags != 0 {
        return Err(Errno::EINVAL);
    }
    let task = target(t, pid)?;
    let s = *lock(&task.sched);
    let mut a = Attr {
        policy: s.policy,
        flags: if s.reset_on_fork {
            SCHED_FLAG_RESET_ON_FORK
        } else {
            0
        },
        ..Attr::default()
    };
    params(&s, &mut a);
    a.flags &= SCHED_FLAG_ALL;
    let size = usize_.min(SCHED_ATTR_SIZE_VER1);
    let b = a.bytes(size as u32);
    // copy_struct_to_user: a larger buffer's tail is zeroed.
    let mut out = vec![0u8; usize_];
    out[..size].copy_from_slice(&b[..size]);
    t.copy_out(uattr, &out)?;
    Ok(0)
}
