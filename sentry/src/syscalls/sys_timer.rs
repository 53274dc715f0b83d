// SPDX-License-Identifier: Apache-2.0
//! alarm(2), setitimer(2)/getitimer(2) and the POSIX timers.

use std::sync::Arc;
use std::time::Duration;

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::timer::{Timer, TimerClock, TimerTarget};
use crate::kernel::{lock, Task};

fn tv_dur(tv: &Timeval) -> Result<Duration, Errno> {
    if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000))
}

fn dur_tv(d: Duration) -> Timeval {
    // Round up to the microsecond, as Linux does, so a running timer never reads as zero.
    let us = d.as_nanos().div_ceil(1000);
    Timeval {
        tv_sec: (us / 1_000_000) as i64,
        tv_usec: (us % 1_000_000) as i64,
    }
}

fn ts_dur(ts: &Timespec) -> Result<Duration, Errno> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

fn dur_ts(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: d.subsec_nanos() as i64,
    }
}

fn itimer(t: &Task, which: i32) -> Result<(TimerClock, i32), Errno> {
    match which {
        ITIMER_REAL => Ok((TimerClock::Real, SIGALRM)),
        ITIMER_VIRTUAL => Ok((TimerClock::Cpu(t.ctx.host_process()), SIGVTALRM)),
        ITIMER_PROF => Ok((TimerClock::Cpu(t.ctx.host_process()), SIGPROF)),
        _ => Err(Errno::EINVAL),
    }
}

fn set_itimer(
    t: &Task,
    which: i32,
    value: Duration,
    interval: Duration,
) -> Result<(Duration, Duration), Errno> {
    let (clock, signo) = itimer(t, which)?;
    let timer = Timer {
        signo,
        target: TimerTarget::Process(Arc::downgrade(&t.shared.tg)),
        next: None,
        interval,
        clock,
        clockid: CLOCK_MONOTONIC,
        value: 0,
        id: -1,
        overrun: 0,
        backlog: 0,
        overrun_last: 0,
    };
    Ok(t.k.timers.set((t.tgid(), -1 - which), timer, value))
}

/// Implements setitimer(2).
pub fn sys_setitimer(t: &mut Task) -> SysResult {
    let (which, new, old) = (t.arg(0) as i32, t.arg(1), t.arg(2));
    itimer(t, which)?;
    let prev = if new != 0 {
        let mut b = [Timeval::default(); 2];
        b[0] = t.read_val(new)?;
        b[1] = t.read_val(new + 16)?;
        let (interval, value) = (tv_dur(&b[0])?, tv_dur(&b[1])?);
        set_itimer(t, which, value, interval)?
    } else {
        t.k.timers.get((t.tgid(), -1 - which)).unwrap_or_default()
    };
    if old != 0 {
        t.write_val(old, &dur_tv(prev.1))?;
        t.write_val(old + 16, &dur_tv(prev.0))?;
    }
    Ok(0)
}

/// Implements getitimer(2).
pub fn sys_getitimer(t: &mut Task) -> SysResult {
    let which = t.arg(0) as i32;
    itimer(t, which)?;
    let (left, interval) = t.k.timers.get((t.tgid(), -1 - which)).unwrap_or_default();
    t.write_val(t.arg(1), &dur_tv(interval))?;
    t.write_val(t.arg(1) + 16, &dur_tv(left))?;
    Ok(0)
}

/// Implements alarm(2): returns the seconds left of the previous alarm, rounded.
pub fn sys_alarm(t: &mut Task) -> SysResult {
    let secs = t.arg(0) as u32;
    let (left, _) = set_itimer(
        t,
        ITIMER_REAL,
        Duration::from_secs(u64::from(secs)),
        Duration::ZERO,
    )?;
    let mut s = left.as_secs();
    if left.subsec_nanos() >= 500_000_000 || (s == 0 && !left.is_zero()) {
        s += 1;
    }
    Ok(s)
}

/// Most POSIX timers one process may have.
const MAX_TIMERS: i32 = 4096;

/// Implements timer_create(2) on CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME (and the
/// process CPU clock, counted like ITIMER_PROF).
pub fn sys_timer_create(t: &mut Task) -> SysResult {
    let (clockid, sev, idp) = (t.arg(0) as i32, t.arg(1), t.arg(2));
    let clock = match clockid as u32 {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_TAI => TimerClock::Real,
        // The alarm clocks need CAP_WAKE_ALARM; the sandbox has no suspend to wake from.
        CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM if t.creds.caps & (1 << 35) != 0 => {
            TimerClock::Real
        }
        // A thread's CPU clock counts its process's time (see clock_gettime).
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => TimerClock::Cpu(t.ctx.host_process()),
        CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    };
    let pid = t.tgid();
    let id = t.k.timers.free_id(pid);
    if id >= MAX_TIMERS {
        return Err(Errno::EAGAIN);
    }
    // struct sigevent { sigval value; int signo; int notify; union { int tid; ... } }.
    let (value, signo, notify, tid) = if sev == 0 {
        (id as u64, SIGALRM, SIGEV_SIGNAL, 0)
    } else {
        let mut b = [0u8; 24];
        t.copy_in(sev, &mut b)?;
        let value = u64::from_le_bytes(b[0..8].try_into().unwrap_or_default());
        let signo = i32::from_le_bytes(b[8..12].try_into().unwrap_or_default());
        let notify = i32::from_le_bytes(b[12..16].try_into().unwrap_or_default());
        let tid = i32::from_le_bytes(b[16..20].try_into().unwrap_or_default());
        (value, signo, notify, tid)
    };
    let target = match notify {
        SIGEV_NONE => TimerTarget::None,
        SIGEV_SIGNAL | SIGEV_THREAD => TimerTarget::Process(Arc::downgrade(&t.shared.tg)),
        SIGEV_THREAD_ID => {
            let task = lock(&t.k.tree)
                .threads
                .get(&tid)
                .cloned()
                .ok_or(Errno::EINVAL)?;
            if task.tg.tgid != pid {
                return Err(Errno::EINVAL);
            }
            TimerTarget::Thread(Arc::downgrade(&task))
        }
        _ => return Err(Errno::EINVAL),
    };
    if notify != SIGEV_NONE && !(1..=NSIG).contains(&signo) {
        return Err(Errno::EINVAL);
    }
    t.write_val(idp, &id)?;
    let timer = Timer {
        signo,
        target,
        next: None,
        interval: Duration::ZERO,
        clock,
        clockid: clockid as u32,
        value,
        id,
        overrun: 0,
        backlog: 0,
        overrun_last: 0,
    };
    t.k.timers.set((pid, id), timer, Duration::ZERO);
    Ok(0)
}

fn timer_key(t: &Task) -> Result<(i32, i32), Errno> {
    let id = t.arg(0) as i32;
    let key = (t.tgid(), id);
    if id < 0 || !t.k.timers.exists(key) {
        return Err(Errno::EINVAL);
    }
    Ok(key)
}

/// Implements timer_settime(2).
pub fn sys_timer_settime(t: &mut Task) -> SysResult {
    let key = timer_key(t)?;
    let (flags, new, old) = (t.arg(1) as u32, t.arg(2), t.arg(3));
    if new == 0 {
        return Err(Errno::EINVAL);
    }
    let interval: Timespec = t.read_val(new)?;
    let value: Timespec = t.read_val(new + 16)?;
    let (interval, value) = (ts_dur(&interval)?, ts_dur(&value)?);
    let prev = t.k.timers.get(key).unwrap_or_default();
    let mut timer = lock_timer(t, key)?;
    timer.interval = interval;
    timer.overrun = 0;
    timer.backlog = 0;
    timer.overrun_last = 0;
    if flags & TIMER_ABSTIME != 0 && !value.is_zero() && timer.clock == TimerClock::Real {
        // Absolute on the timer's clock: convert through the time left from now (the wall
        // clocks are the sandbox's own).
        let host = match timer.clockid {
            CLOCK_MONOTONIC => nix::time::ClockId::CLOCK_MONOTONIC,
            CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => nix::time::ClockId::CLOCK_BOOTTIME,
            _ => nix::time::ClockId::CLOCK_REALTIME,
        };
        let clk = nix::time::clock_gettime(host).map_err(|e| Errno(e as i32))?;
        let mut ns = i128::from(clk.tv_sec()) * 1_000_000_000 + i128::from(clk.tv_nsec());
        if crate::kernel::clock::is_wall(timer.clockid) {
            ns += i128::from(crate::kernel::clock::offset());
        }
        ns += crate::kernel::lock(&t.shared.time).ns.offset(timer.clockid);
        // The same distance from now on the timers' scale; a time before the timers' epoch
        // expired already, with the periods since counted as overruns (capped at INT_MAX).
        let mut at = t.k.timers.now().as_nanos() as i128 + (value.as_nanos() as i128 - ns);
        if at < 0 {
            let step = interval.as_nanos() as i128;
            if step == 0 {
                at = 0;
            } else {
                let n = -at / step + 1;
                timer.backlog = n.min(i128::from(u64::MAX)) as u64;
                at += n * step;
            }
        }
        let at = at.clamp(0, i128::from(i64::MAX)) as u128;
        let at = Duration::new((at / 1_000_000_000) as u64, (at % 1_000_000_000) as u32);
        t.k.timers.set_at(key, timer, at);
    } else if flags & TIMER_ABSTIME != 0 && !value.is_zero() {
        // A CPU clock's timer counts on the scale clock_gettime(2) reads it on: the stub
        // process's CPU time.
        t.k.timers.set_at(key, timer, value);
    } else {
        t.k.timers.set(key, timer, value);
    }
    if old != 0 {
        t.write_val(old, &dur_ts(prev.1))?;
        t.write_val(old + 16, &dur_ts(prev.0))?;
    }
    Ok(0)
}

fn lock_timer(t: &Task, key: (i32, i32)) -> Result<Timer, Errno> {
    t.k.timers.remove(key).ok_or(Errno::EINVAL)
}

/// Implements timer_gettime(2).
pub fn sys_timer_gettime(t: &mut Task) -> SysResult {
    let key = timer_key(t)?;
    let (left, interval) = t.k.timers.get(key).unwrap_or_default();
    t.write_val(t.arg(1), &dur_ts(interval))?;
    t.write_val(t.arg(1) + 16, &dur_ts(left))?;
    Ok(0)
}

/// Implements timer_getoverrun(2).
pub fn sys_timer_getoverrun(t: &mut Task) -> SysResult {
    let key = timer_key(t)?;
    Ok(t.k.timers.overrun(key).unwrap_or(0) as u64)
}

/// Implements timer_delete(2).
pub fn sys_timer_delete(t: &mut Task) -> SysResult {
    let key = timer_key(t)?;
    t.k.timers.remove(key);
    Ok(0)
}
