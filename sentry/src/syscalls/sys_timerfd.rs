// SPDX-License-Identifier: Apache-2.0
//! timerfd_create(2), timerfd_settime(2), timerfd_gettime(2): a timer whose expiries are read
//! from a file as an 8-byte count (fs/timerfd.c).
//!
//! The timer is one of the kernel's timers ([`crate::kernel::timer`]): the one timer thread
//! that fires POSIX timers and itimers adds the expiries to the file's count and wakes its
//! readers and pollers, so a timerfd costs no thread of its own.
//!
//! A TFD_TIMER_CANCEL_ON_SET timer (absolute, on CLOCK_REALTIME) is cancelled when the
//! sandbox's clock is set ([`crate::kernel::clock`]): its readers and pollers wake and its next
//! read fails with ECANCELED, as in Linux. A change of the host's clock is not seen. The
//! *_ALARM clocks count as their plain clocks (there is no suspend to
//! wake from) and need CAP_WAKE_ALARM, as on Linux.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use nix::time::{clock_gettime, ClockId};
use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::timer::{FdTicks, Timer, TimerClock, TimerKey, TimerTarget};
use crate::kernel::{lock, Kernel, Task};
use crate::vfs::{File, FileOps};

/// Timerfd timers' keys in the kernel's timer list: negative "processes" no process has.
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

fn new_key() -> TimerKey {
    let n = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
    (
        i32::MIN.wrapping_add((n >> 31) as i32),
        (n & 0x7fff_ffff) as i32,
    )
}

struct TimerFd {
    k: Weak<Kernel>,
    key: TimerKey,
    clockid: u32,
    /// The flags of the last timerfd_settime (for fdinfo).
    settime_flags: AtomicU32,
    /// The clock's generation a TFD_TIMER_CANCEL_ON_SET arming saw (u64::MAX: none).
    cancel_gen: AtomicU64,
    /// Registered to hear of clock changes.
    listening: std::sync::atomic::AtomicBool,
    ticks: Arc<FdTicks>,
    ino: u64,
}

impl Drop for TimerFd {
    fn drop(&mut self) {
        if let Some(k) = self.k.upgrade() {
            k.timers.remove(self.key);
        }
    }
}

impl TimerFd {
    /// The expiry count, with the expiries the timer thread has not fired yet.
    fn count(&self) -> std::sync::MutexGuard<'_, (u64, u64)> {
        let mut st = lock(&self.ticks.state);
        if let Some(k) = self.k.upgrade() {
            let due = k.timers.take_due(self.key);
            if due > 0 && st.1 == 0 {
                // The expiry the timer thread would have announced.
                self.ticks.queue.notify_band(POLLIN);
            }
            st.1 = st.1.saturating_add(due);
        }
        st
    }

    /// (time left, interval) of the timer.
    fn get(&self) -> (Duration, Duration) {
        self.k
            .upgrade()
            .and_then(|k| k.timers.get(self.key))
            .unwrap_or_default()
    }

    /// Restarts the timer after its expiries were counted (Linux's read and gettime do).
    fn restart(&self) {
        if let Some(k) = self.k.upgrade() {
            k.timers.unpark(self.key);
        }
    }

    /// Whether the clock was set since a TFD_TIMER_CANCEL_ON_SET arming (`timerfd_canceled`):
    /// reported once, then the timer goes on as armed.
    fn canceled(&self) -> bool {
        let armed = self.cancel_gen.load(Ordering::Acquire);
        if armed == u64::MAX {
            return false;
        }
        let now = crate::kernel::clock::generation();
        armed != now
            && self
                .cancel_gen
                .compare_exchange(armed, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Whether a cancellation is waiting to be read.
    fn cancel_pending(&self) -> bool {
        let armed = self.cancel_gen.load(Ordering::Acquire);
        armed != u64::MAX && armed != crate::kernel::clock::generation()
    }

    /// The host clock absolute times of this timer are given on.
    fn host_clock(&self) -> ClockId {
        match self.clockid {
            CLOCK_REALTIME | CLOCK_REALTIME_ALARM => ClockId::CLOCK_REALTIME,
            CLOCK_MONOTONIC => ClockId::CLOCK_MONOTONIC,
            _ => ClockId::CLOCK_BOOTTIME,
        }
    }
}

impl FileOps for TimerFd {
    fn is_stream(&self) -> bool {
        true
    }

    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let v = block_on(&[&self.ticks.queue], None, || {
            if self.canceled() {
                let mut st = self.count();
                st.1 = 0;
                return Some(Err(Errno::ECANCELED));
            }
            let mut st = self.count();
            if st.1 == 0 {
                return nonblock.then_some(Err(Errno::EAGAIN));
            }
            Some(Ok(std::mem::take(&mut st.1)))
        })?;
        self.restart();
        self.ticks.queue.wake();
        buf[..8].copy_from_slice(&v.to_le_bytes());
        Ok(8)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(crate::vfs::inode::anon_stat(self.ino))
    }

    fn poll_events(&self) -> u32 {
        if self.count().1 > 0 || self.cancel_pending() {
            POLLIN
        } else {
            0
        }
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.ticks.queue)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn fdinfo(&self) -> String {
        let (value, interval) = self.get();
        format!(
            "clockid: {}\nticks: {}\nsettime flags: 0{:o}\nit_value: ({}, {})\nit_interval: ({}, {})\n",
            self.clockid,
            self.count().1,
            self.settime_flags.load(Ordering::Relaxed),
            value.as_secs(),
            value.subsec_nanos(),
            interval.as_secs(),
            interval.subsec_nanos()
        )
    }
}

/// Implements timerfd_create(2).
pub fn sys_timerfd_create(t: &mut Task) -> SysResult {
    let (clockid, flags) = (t.arg(0) as i32, t.arg(1) as u32);
    if flags & !(TFD_CLOEXEC | TFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let clockid = match clockid as u32 {
        c @ (CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME) => c,
        c @ (CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM) => {
            if t.creds.caps & (1 << CAP_WAKE_ALARM) == 0 {
                return Err(Errno::EPERM);
            }
            c
        }
        _ => return Err(Errno::EINVAL),
    };
    let tfd = TimerFd {
        k: Arc::downgrade(&t.k),
        key: new_key(),
        clockid,
        settime_flags: AtomicU32::new(0),
        cancel_gen: AtomicU64::new(u64::MAX),
        listening: std::sync::atomic::AtomicBool::new(false),
        ticks: Arc::new(FdTicks::default()),
        ino: t.k.new_ino(),
    };
    let file = File::new(
        Box::new(tfd),
        O_RDWR | (flags & O_NONBLOCK),
        "anon_inode:[timerfd]",
    );
    let limit = t.rlimit(RLIMIT_NOFILE);
    t.fds()
        .alloc(file, flags & O_CLOEXEC != 0, 0, limit)
        .map(|fd| fd as u64)
}

/// The timerfd behind a file: EINVAL if it is not one.
fn of(file: &File) -> Result<&TimerFd, Errno> {
    file.ops
        .as_any()
        .and_then(|a| a.downcast_ref::<TimerFd>())
        .ok_or(Errno::EINVAL)
}

fn ts_dur(ts: &Timespec) -> Result<Duration, Errno> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

fn write_itimerspec(t: &Task, addr: u64, (value, interval): (Duration, Duration)) -> SysResult {
    let ts = |d: Duration| Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    };
    t.write_val(addr, &[ts(interval), ts(value)])?;
    Ok(0)
}

/// Implements timerfd_settime(2).
pub fn sys_timerfd_settime(t: &mut Task) -> SysResult {
    let (fd, flags, new, old) = (t.arg(0) as i32, t.arg(1) as u32, t.arg(2), t.arg(3));
    let spec: [Timespec; 2] = t.read_val(new)?;
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let (interval, value) = (ts_dur(&spec[0])?, ts_dur(&spec[1])?);
    let file = t.file(fd)?;
    let tfd = of(&file)?;
    if matches!(tfd.clockid, CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM)
        && t.creds.caps & (1 << CAP_WAKE_ALARM) == 0
    {
        return Err(Errno::EPERM);
    }
    let prev = tfd.get();
    let timers = &t.k.timers;
    {
        // Under the count's lock, so that a concurrent settime cannot leave the list with an
        // arming of an older generation than the count's.
        let mut st = lock(&tfd.ticks.state);
        st.0 += 1;
        st.1 = 0;
        let mut timer = Timer {
            signo: 0,
            target: TimerTarget::Fd(Arc::downgrade(&tfd.ticks), st.0),
            next: None,
            interval,
            clock: TimerClock::Real,
            clockid: tfd.clockid,
            value: 0,
            id: -1,
            overrun: 0,
            backlog: 0,
            overrun_last: 0,
        };
        if flags & TFD_TIMER_ABSTIME != 0 && !value.is_zero() {
            // Absolute on the timer's clock: the same distance from now on the timers' scale
            // (a time already past expires at once, with the periods since counted).
            let clk = clock_gettime(tfd.host_clock()).map_err(|e| Errno(e as i32))?;
            let mut now_clk = i128::from(clk.tv_sec()) * 1_000_000_000 + i128::from(clk.tv_nsec());
            if crate::kernel::clock::is_wall(tfd.clockid) {
                now_clk += i128::from(crate::kernel::clock::offset());
            }
            now_clk += lock(&t.shared.time).ns.offset(tfd.clockid);
            let mut at = timers.now().as_nanos() as i128 + (value.as_nanos() as i128 - now_clk);
            if at < 0 {
                // Before the timers' epoch: count the expiries up to it here, arm the next.
                let step = interval.as_nanos() as i128;
                let n = if step == 0 { 1 } else { -at / step + 1 };
                st.1 = n.min(i128::from(u64::MAX)) as u64;
                at = if step == 0 { 0 } else { at + n * step };
                tfd.ticks.queue.notify_band(POLLIN);
            }
            let at = at.clamp(0, i128::from(i64::MAX)) as u128;
            let at = Duration::new((at / 1_000_000_000) as u64, (at % 1_000_000_000) as u32);
            if st.1 > 0 && interval.is_zero() {
                // A one-shot timer that expired before the epoch is spent.
                timer.next = None;
                timers.set(tfd.key, timer, Duration::ZERO);
            } else {
                timers.set_at(tfd.key, timer, at);
            }
        } else {
            timers.set(tfd.key, timer, value);
        }
    }
    tfd.settime_flags.store(flags, Ordering::Relaxed);
    let cancelable = flags & TFD_TIMER_CANCEL_ON_SET != 0
        && flags & TFD_TIMER_ABSTIME != 0
        && matches!(tfd.clockid, CLOCK_REALTIME | CLOCK_REALTIME_ALARM);
    tfd.cancel_gen.store(
        if cancelable {
            crate::kernel::clock::generation()
        } else {
            u64::MAX
        },
        Ordering::Release,
    );
    if cancelable && !tfd.listening.swap(true, Ordering::AcqRel) {
        let ticks = Arc::downgrade(&tfd.ticks);
        crate::kernel::clock::on_set(Box::new(move || match ticks.upgrade() {
            Some(t) => {
                t.queue.notify_band(POLLIN);
                t.queue.wake();
                true
            }
            None => false,
        }));
    }
    tfd.ticks.queue.wake();
    if old != 0 {
        write_itimerspec(t, old, prev)?;
    }
    Ok(0)
}

/// Implements timerfd_gettime(2).
pub fn sys_timerfd_gettime(t: &mut Task) -> SysResult {
    let file = t.file(t.arg(0) as i32)?;
    let tfd = of(&file)?;
    // Linux's gettime counts the periods since a periodic timer expired, and restarts it.
    drop(tfd.count());
    tfd.restart();
    let cur = tfd.get();
    write_itimerspec(t, t.arg(1), cur)
}

/// TFD_IOC_SET_TICKS on `file`: sets the expiry count (nonzero), waking readers. ENOTTY for
/// other files.
pub fn ioctl_set_ticks(t: &Task, file: &File, arg: u64) -> SysResult {
    let tfd = of(file).map_err(|_| Errno::ENOTTY)?;
    let ticks: u64 = t.read_val(arg)?;
    if ticks == 0 {
        return Err(Errno::EINVAL);
    }
    lock(&tfd.ticks.state).1 = ticks;
    tfd.ticks.queue.notify_band(POLLIN);
    Ok(0)
}
