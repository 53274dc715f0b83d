// SPDX-License-Identifier: Apache-2.0
//! Time system calls. (With the host vDSO mapped, most clock reads never trap; these serve the
//! rest.)

use std::time::{Duration, Instant};

use nix::time::{clock_getres, clock_gettime, ClockId};
use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::{clock, lock, Restart, Task};

fn clock(id: i32) -> Result<ClockId, Errno> {
    let id = match id {
        // The alarm clocks read as the clocks they wake on (the host may have no RTC alarm
        // device behind them; the sandbox never suspends).
        8 => CLOCK_REALTIME,
        9 => CLOCK_BOOTTIME,
        0..=7 | 11 => id as u32,
        // Negative ids name a process's or thread's CPU clock (`~pid << 3 | thread << 2 |
        // kind`); whose it is, [`cpu_clock_owner`] finds.
        _ if id < 0 => {
            if id & 3 == 3 {
                return Err(Errno::EINVAL);
            }
            if id & 4 != 0 {
                CLOCK_THREAD_CPUTIME_ID
            } else {
                CLOCK_PROCESS_CPUTIME_ID
            }
        }
        _ => return Err(Errno::EINVAL),
    };
    Ok(ClockId::from_raw(id as libc::clockid_t))
}

fn to_abi(ts: nix::sys::time::TimeSpec) -> Timespec {
    Timespec {
        tv_sec: ts.tv_sec(),
        tv_nsec: ts.tv_nsec(),
    }
}

/// Clock `id` now: the host's, but the wall clocks are the sandbox's own
/// ([`crate::kernel::clock`]).
fn now(id: ClockId) -> Result<Timespec, Errno> {
    let ts = clock_gettime(id).map(to_abi).map_err(|e| Errno(e as i32))?;
    let raw = id.as_raw();
    if raw >= 0 && clock::is_wall(raw as u32) {
        let ns = i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec);
        return Ok(clock::from_ns(ns + i128::from(clock::offset())));
    }
    Ok(ts)
}

/// `ts` of clock `raw` as the task's time namespace shows it (its offset added).
fn in_ns(t: &Task, raw: i32, ts: Timespec) -> Timespec {
    let off = if raw >= 0 {
        lock(&t.shared.time).ns.offset(raw as u32)
    } else {
        0
    };
    if off == 0 {
        return ts;
    }
    clock::from_ns(i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec) + off)
}

/// The host clock that counts an application CPU clock: the stub process's. (Linux lets a
/// process read another process's CPU clock but not another process's thread's, so a thread
/// CPU clock reads its whole process's time: monotonic, and exact for one thread.)
fn app_clock(t: &Task, id: i32) -> Result<Option<ClockId>, Errno> {
    let c = clock(id)?;
    if matches!(
        id as u32,
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID
    ) || id < 0
    {
        return Ok(cpu_clock_owner(t, id)?.map(|host| ClockId::from_raw(((!host) << 3) | 2)));
    }
    Ok(Some(c))
}

/// The host process whose CPU time a CPU clock of the caller's counts: its own for the
/// CPUTIME ids and pid 0; a thread's clock must be of one of its own threads
/// (posix_cpu_clock_get's lookup_task), a process's clock may be any live process's of the
/// sandbox, by its process id (`None` for one just forked whose host process has not yet
/// started: it has used no CPU); anything else is EINVAL.
fn cpu_clock_owner(t: &Task, id: i32) -> Result<Option<i32>, Errno> {
    let pid = if id < 0 { !(id >> 3) } else { 0 };
    if pid == 0 {
        return Ok(Some(t.ctx.host_process()));
    }
    let tree = crate::kernel::lock(&t.k.tree);
    if id & 4 != 0 {
        let s = tree.threads.get(&pid).ok_or(Errno::EINVAL)?;
        if !std::sync::Arc::ptr_eq(&s.tg, &t.shared.tg) {
            return Err(Errno::EINVAL);
        }
        return Ok(Some(t.ctx.host_process()));
    }
    let p = tree.procs.get(&pid).ok_or(Errno::EINVAL)?;
    if p.zombie.is_some() {
        return Err(Errno::EINVAL);
    }
    let tasks = crate::kernel::lock(&p.tg.tasks);
    if tasks.is_empty() {
        return Err(Errno::EINVAL);
    }
    Ok(tasks
        .iter()
        .find_map(|s| crate::kernel::lock(&s.info).as_ref().map(|i| i.host_pid))
        .filter(|&h| h > 0))
}

/// The CPU time of the zombie whose process clock `id` is, if it is one: its final time (a
/// zombie is there until it is reaped, and so is its clock; its stub is gone).
fn zombie_cpu_ns(t: &Task, id: i32) -> Option<u64> {
    if id >= 0 || id & 7 != 2 {
        return None;
    }
    let pid = !(id >> 3);
    let tree = crate::kernel::lock(&t.k.tree);
    let p = tree.procs.get(&pid).filter(|p| p.zombie.is_some())?;
    Some(crate::kernel::usage::own(&p.tg, 0).0)
}

/// Implements clock_gettime(2).
pub fn sys_clock_gettime(t: &mut Task) -> SysResult {
    let raw = t.arg(0) as i32;
    let ts = match zombie_cpu_ns(t, raw) {
        Some(ns) => Timespec {
            tv_sec: (ns / 1_000_000_000) as i64,
            tv_nsec: (ns % 1_000_000_000) as i64,
        },
        None => match app_clock(t, raw)? {
            Some(c) => in_ns(t, raw, now(c)?),
            None => Timespec::default(),
        },
    };
    t.write_val(t.arg(1), &ts).map(|_| 0)
}

/// Implements clock_getres(2).
pub fn sys_clock_getres(t: &mut Task) -> SysResult {
    let raw = t.arg(0) as i32;
    let id = clock(raw)?;
    if raw < 0 && zombie_cpu_ns(t, raw).is_none() {
        cpu_clock_owner(t, raw)?;
    }
    let res = clock_getres(id).map(to_abi).map_err(|e| Errno(e as i32))?;
    if t.arg(1) != 0 {
        t.write_val(t.arg(1), &res)?;
    }
    Ok(0)
}

/// Implements gettimeofday(2).
pub fn sys_gettimeofday(t: &mut Task) -> SysResult {
    if t.arg(0) != 0 {
        let ts = now(ClockId::CLOCK_REALTIME)?;
        t.write_val(
            t.arg(0),
            &Timeval {
                tv_sec: ts.tv_sec,
                tv_usec: ts.tv_nsec / 1000,
            },
        )?;
    }
    if t.arg(1) != 0 {
        let (west, dst) = clock::timezone();
        t.write_val(
            t.arg(1),
            &Timezone {
                tz_minuteswest: west,
                tz_dsttime: dst,
            },
        )?;
    }
    Ok(0)
}

/// Implements time(2).
pub fn sys_time(t: &mut Task) -> SysResult {
    let secs = now(ClockId::CLOCK_REALTIME)?.tv_sec;
    if t.arg(0) != 0 {
        t.write_val(t.arg(0), &secs)?;
    }
    Ok(secs as u64)
}

fn read_timespec(t: &Task, addr: u64) -> Result<Timespec, Errno> {
    let ts: Timespec = t.read_val(addr)?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(ts)
}

/// Implements clock_nanosleep(2).
pub fn sys_clock_nanosleep(t: &mut Task) -> SysResult {
    let (id, flags, req) = (t.arg(0) as i32, t.arg(1) as u32, t.arg(2));
    let clock_id = match id as u32 {
        CLOCK_REALTIME
        | CLOCK_MONOTONIC
        | CLOCK_BOOTTIME
        | CLOCK_TAI
        | CLOCK_PROCESS_CPUTIME_ID => clock(id)?,
        CLOCK_THREAD_CPUTIME_ID => return Err(Errno::EOPNOTSUPP),
        CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => return Err(Errno::EPERM),
        _ if id < 0 => clock(id)?,
        _ => return Err(Errno::EINVAL),
    };
    let ts = read_timespec(t, req)?;
    let start = Instant::now();
    let d = if flags & TIMER_ABSTIME != 0 {
        let cur = in_ns(t, id, now(clock_id)?);
        let target = ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128;
        let cur = cur.tv_sec as i128 * 1_000_000_000 + cur.tv_nsec as i128;
        Duration::from_nanos((target - cur).clamp(0, u64::MAX as i128) as u64)
    } else {
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    };
    let deadline = start
        .checked_add(d)
        .unwrap_or(start + Duration::from_secs(1 << 40));
    if flags & TIMER_ABSTIME != 0 {
        // An absolute sleep is simply run again after a stop.
        return match crate::kernel::block::sleep_until(deadline) {
            Ok(()) => Ok(0),
            Err(Errno::ERESTARTSYS) => Err(Errno::ERESTARTNOHAND),
            Err(e) => Err(e),
        };
    }
    sleep_relative(t, deadline, t.arg(3))
}

/// Implements nanosleep(2).
pub fn sys_nanosleep(t: &mut Task) -> SysResult {
    let ts = read_timespec(t, t.arg(0))?;
    let start = Instant::now();
    let d = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    let deadline = start
        .checked_add(d)
        .unwrap_or(start + Duration::from_secs(1 << 40));
    sleep_relative(t, deadline, t.arg(1))
}

/// A relative sleep until `deadline`. Interrupted, it writes the time left to `rem` (unless 0)
/// and returns ERESTART_RESTARTBLOCK: a handler turns that into EINTR, a stop and continue
/// (or an ignored signal) into restart_syscall(2), which sleeps only what is left.
fn sleep_relative(t: &mut Task, deadline: Instant, rem: u64) -> SysResult {
    t.restart = None;
    match crate::kernel::block::sleep_until(deadline) {
        Ok(()) => Ok(0),
        Err(Errno::ERESTARTSYS) => {
            if rem != 0 {
                let left = deadline.saturating_duration_since(Instant::now());
                let ts = Timespec {
                    tv_sec: left.as_secs() as i64,
                    tv_nsec: left.subsec_nanos() as i64,
                };
                t.write_val(rem, &ts)?;
            }
            t.restart = Some(Restart::Sleep { deadline, rem });
            Err(Errno::ERESTART_RESTARTBLOCK)
        }
        Err(e) => Err(e),
    }
}

/// Implements restart_syscall(2): resumes the call a signal interrupted, or EINTR when there
/// is none (as Linux's `do_no_restart_syscall`).
pub fn sys_restart_syscall(t: &mut Task) -> SysResult {
    match t.restart.take() {
        Some(Restart::Sleep { deadline, rem }) => sleep_relative(t, deadline, rem),
        None => Err(Errno::EINTR),
    }
}

fn ticks(d: Timespec) -> i64 {
    d.tv_sec * 100 + d.tv_nsec / 10_000_000
}

/// Implements times(2).
pub fn sys_times(t: &mut Task) -> SysResult {
    if t.arg(0) != 0 {
        use crate::kernel::usage;
        let (u, s) = usage::own(&t.shared.tg, t.ctx.host_process());
        let (cu, cs) = usage::children(&t.shared.tg);
        let clock_ticks = |ns: u64| (ns / (1_000_000_000 / 100)) as i64; // USER_HZ
        t.write_val(
            t.arg(0),
            &Tms {
                tms_utime: clock_ticks(u),
                tms_stime: clock_ticks(s),
                tms_cutime: clock_ticks(cu),
                tms_cstime: clock_ticks(cs),
            },
        )?;
    }
    let up = now(ClockId::CLOCK_BOOTTIME)?;
    Ok(ticks(up) as u64)
}

/// Implements getrusage(2): user time is the program's host process's CPU time, system
/// time the CPU of the sentry threads serving it (see [`crate::kernel::usage`]); the other
/// fields are not kept (zero).
pub fn sys_getrusage(t: &mut Task) -> SysResult {
    use crate::kernel::usage;
    let who = t.arg(0) as i32;
    // RUSAGE_SELF 0, RUSAGE_CHILDREN -1, RUSAGE_THREAD 1.
    let (user, system) = match who {
        0 => usage::own(&t.shared.tg, t.ctx.host_process()),
        -1 => usage::children(&t.shared.tg),
        // The thread's own system time; its user time is its process's (the host counts the
        // stub's threads together where the sentry can read them).
        1 => (
            usage::process_cpu_ns(t.ctx.host_process()),
            usage::task_stime(&t.shared),
        ),
        _ => return Err(Errno::EINVAL),
    };
    let ru = Rusage {
        ru_utime: usage::timeval(user),
        ru_stime: usage::timeval(system),
        ..Default::default()
    };
    t.write_val(t.arg(1), &ru).map(|_| 0)
}

/// CAP_SYS_TIME in the sandbox.
fn may_set_time(t: &Task) -> bool {
    t.creds.caps & (1 << CAP_SYS_TIME) != 0
}

/// Implements clock_settime(2) and settimeofday(2) (`do_sys_settimeofday64`): with
/// CAP_SYS_TIME, the sandbox's own CLOCK_REALTIME moves (never the host's, see
/// [`crate::kernel::clock`]); the other clocks cannot be set (EINVAL).
pub fn sys_settime(t: &mut Task) -> SysResult {
    let nr = t.regs.orig_rax;
    if nr == 227 {
        let id = t.arg(0) as i32;
        clock(id)?;
        let ts: Timespec = t.read_val(t.arg(1))?;
        if id as u32 != CLOCK_REALTIME {
            return Err(Errno::EINVAL);
        }
        if !(0..1_000_000_000).contains(&ts.tv_nsec) || ts.tv_sec < 0 {
            return Err(Errno::EINVAL);
        }
        if !may_set_time(t) {
            return Err(Errno::EPERM);
        }
        return clock::set_realtime(ts).map(|_| 0);
    }
    let tv = if t.arg(0) != 0 {
        let tv: Timeval = t.read_val(t.arg(0))?;
        if !(0..1_000_000).contains(&tv.tv_usec) {
            return Err(Errno::EINVAL);
        }
        Some(tv)
    } else {
        None
    };
    let tz = if t.arg(1) != 0 {
        let tz: Timezone = t.read_val(t.arg(1))?;
        if !(-15 * 60..=15 * 60).contains(&tz.tz_minuteswest) {
            return Err(Errno::EINVAL);
        }
        Some(tz)
    } else {
        None
    };
    let ts = tv.map(|tv| Timespec {
        tv_sec: tv.tv_sec,
        tv_nsec: tv.tv_usec * 1000,
    });
    if ts.is_some_and(|ts| ts.tv_sec < 0) {
        return Err(Errno::EINVAL);
    }
    if !may_set_time(t) {
        return Err(Errno::EPERM);
    }
    if let Some(tz) = tz {
        clock::set_timezone((tz.tz_minuteswest, tz.tz_dsttime));
    }
    if let Some(ts) = ts {
        clock::set_realtime(ts)?;
    }
    Ok(0)
}

/// Implements adjtimex(2) and clock_adjtime(2) on the sandbox's own clock and NTP state
/// ([`clock::adjtimex`]); only CLOCK_REALTIME can be adjusted (another valid clock:
/// EOPNOTSUPP).
pub fn sys_adjtimex(t: &mut Task) -> SysResult {
    let buf = if t.regs.orig_rax == 305 {
        let id = t.arg(0) as i32;
        clock(id)?;
        if id as u32 != CLOCK_REALTIME {
            return Err(Errno::EOPNOTSUPP);
        }
        t.arg(1)
    } else {
        t.arg(0)
    };
    let mut tx: clock::Timex = t.read_val(buf)?;
    let r = clock::adjtimex(&mut tx, may_set_time(t))?;
    tx.clear_padding();
    t.write_val(buf, &tx)?;
    Ok(r)
}
