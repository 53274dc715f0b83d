// SPDX-License-Identifier: Apache-2.0
//! Timers: alarm(2) and setitimer(2) (ITIMER_REAL), and POSIX timers (timer_create(2)) on the
//! real-time clocks, fired by one timer thread per kernel that sends their signals.
//!
//! ITIMER_VIRTUAL and ITIMER_PROF count the process's CPU time, read from the host's CPU clock
//! of its stub process: the timer thread checks them every tick.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use syscalls::abi::SI_TIMER;

use super::signal::kernel_info;
use super::signal_deliver::{send_process_signal, send_thread_signal};
use super::tree::{TaskShared, ThreadGroup};
use super::{lock, Kernel};

/// CPU-time timers are checked this often.
const CPU_TICK: Duration = Duration::from_millis(5);

/// Where a timer's signal goes.
#[derive(Clone)]
pub enum TimerTarget {
    /// The process.
    Process(Weak<ThreadGroup>),
    /// One thread (SIGEV_THREAD_ID).
    Thread(Weak<TaskShared>),
    /// Nobody (SIGEV_NONE).
    None,
    /// A timerfd's expiry count, while its arming generation is this one (a timer re-armed
    /// since was cloned for firing under an older generation: its expiries count no more).
    /// As Linux's timerfd timer, a periodic one stops after it fires ([`PARKED`] in its
    /// `value`) until a read or timerfd_gettime counts the periods since and restarts it
    /// ([`Timers::unpark`]): a tiny interval nobody reads costs no thread time.
    Fd(Weak<FdTicks>, u64),
}

/// A timerfd's periodic timer that fired and waits for a read: the timer thread passes it by.
pub const PARKED: u64 = 1;

/// What a timerfd's timer counts into: its expiries since the last read, and the generation of
/// its current arming.
#[derive(Default)]
pub struct FdTicks {
    /// (generation, expiries).
    pub state: Mutex<(u64, u64)>,
    /// Notified (input) at each expiry.
    pub queue: super::block::WaitQueue,
}

/// What a timer counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerClock {
    /// Wall or monotonic time.
    Real,
    /// The process's user CPU time (ITIMER_VIRTUAL), from this host pid's CPU clock.
    Cpu(i32),
}

/// One armed or disarmed timer.
#[derive(Clone)]
pub struct Timer {
    /// Its signal.
    pub signo: i32,
    /// Where the signal goes.
    pub target: TimerTarget,
    /// The next expiry (Real), or the CPU time of the next expiry (Cpu).
    pub next: Option<Duration>,
    /// The reload interval.
    pub interval: Duration,
    /// What it counts.
    pub clock: TimerClock,
    /// The POSIX clock it was created on (absolute times are on it).
    pub clockid: u32,
    /// sigev_value, for SI_TIMER siginfo.
    pub value: u64,
    /// The POSIX timer id (for siginfo), or -1 for itimers.
    pub id: i32,
    /// Expirations not delivered because the previous signal was still pending.
    pub overrun: i32,
    /// Expirations that passed before the timer was armed (an absolute time already gone),
    /// counted into the overrun of its first expiry.
    pub backlog: u64,
    /// The overrun of the last of its signals taken for delivery: what timer_getoverrun(2)
    /// reports (Linux's it_overrun_last).
    pub overrun_last: i32,
}

/// A timer's key: (process, which) with which = -1..-3 for the itimers, the id for POSIX ones.
pub type TimerKey = (i32, i32);

/// The kernel's timers.
pub struct Timers {
    epoch: Instant,
    list: Mutex<HashMap<TimerKey, Timer>>,
    cond: Condvar,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            epoch: Instant::now(),
            list: Mutex::new(HashMap::new()),
            cond: Condvar::new(),
        }
    }
}

/// The CPU time of a host process.
pub fn cpu_time(host_pid: i32) -> Duration {
    let clock = nix::time::ClockId::from_raw(((!host_pid) << 3) | 2);
    nix::time::clock_gettime(clock)
        .map(|t| Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
        .unwrap_or_default()
}

impl Timers {
    /// Now, on the timers' own monotonic scale.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// The time left and interval of a timer, as getitimer/timer_gettime report them.
    pub fn get(&self, key: TimerKey) -> Option<(Duration, Duration)> {
        let list = lock(&self.list);
        let t = list.get(&key)?;
        let now = match t.clock {
            TimerClock::Real => self.now(),
            TimerClock::Cpu(pid) => cpu_time(pid),
        };
        Some((
            t.next
                .map(|n| n.saturating_sub(now).max(Duration::from_nanos(1)))
                .unwrap_or_default(),
            t.interval,
        ))
    }

    /// Sets (or disarms, with `value` zero) a timer; returns the old (left, interval).
    pub fn set(&self, key: TimerKey, mut timer: Timer, value: Duration) -> (Duration, Duration) {
        let old = self.get(key).unwrap_or_default();
        let now = match timer.clock {
            TimerClock::Real => self.now(),
            TimerClock::Cpu(pid) => cpu_time(pid),
        };
        timer.next = (!value.is_zero()).then(|| now + value);
        lock(&self.list).insert(key, timer);
        self.cond.notify_all();
        old
    }

    /// Sets a timer's absolute expiry on its own clock scale (TIMER_ABSTIME).
    pub fn set_at(&self, key: TimerKey, mut timer: Timer, at: Duration) {
        timer.next = Some(at);
        lock(&self.list).insert(key, timer);
        self.cond.notify_all();
    }

    /// Removes a timer.
    pub fn remove(&self, key: TimerKey) -> Option<Timer> {
        lock(&self.list).remove(&key)
    }

    /// The overrun count of a POSIX timer: that of its last signal delivered.
    pub fn overrun(&self, key: TimerKey) -> Option<i32> {
        lock(&self.list).get(&key).map(|t| t.overrun_last)
    }

    /// A signal of process `tgid` was taken for delivery: if a POSIX timer sent it, its
    /// overrun (expiries merged into it while it was pending) is the timer's count now.
    pub fn taken(&self, tgid: i32, info: &syscalls::abi::Siginfo) {
        if info.si_code != SI_TIMER {
            return;
        }
        let id = info.fields[0] as u32 as i32;
        let overrun = (info.fields[0] >> 32) as u32 as i32;
        if let Some(t) = lock(&self.list).get_mut(&(tgid, id)) {
            t.overrun_last = overrun;
        }
    }

    /// Removes every timer of a process (at exit or exec).
    pub fn remove_process(&self, pid: i32) {
        lock(&self.list).retain(|k, _| k.0 != pid);
    }

    /// Removes the POSIX timers of a process (at exec; its itimers stay).
    pub fn remove_posix(&self, pid: i32) {
        lock(&self.list).retain(|k, _| k.0 != pid || k.1 < 0);
    }

    /// Whether `pid` has a POSIX timer `id`.
    pub fn exists(&self, key: TimerKey) -> bool {
        lock(&self.list).contains_key(&key)
    }

    /// Takes the expiries of a real-time timer that are due but not fired yet (the timer
    /// thread may lag behind the clock): counts them and moves the timer on as firing would.
    /// A timerfd's read and poll count this way what Linux's `hrtimer_forward_now` counts.
    pub fn take_due(&self, key: TimerKey) -> u64 {
        let mut list = lock(&self.list);
        let now = self.now();
        let Some(t) = list.get_mut(&key) else {
            return 0;
        };
        match t.next {
            Some(next) if t.clock == TimerClock::Real && now >= next => advance(t, next, now),
            _ => 0,
        }
    }

    /// Restarts a timerfd's parked periodic timer (its expiries were just counted).
    pub fn unpark(&self, key: TimerKey) {
        if let Some(t) = lock(&self.list).get_mut(&key) {
            if matches!(t.target, TimerTarget::Fd(..)) && t.value == PARKED {
                t.value = 0;
                self.cond.notify_all();
            }
        }
    }

    /// A free POSIX timer id of `pid`.
    pub fn free_id(&self, pid: i32) -> i32 {
        let list = lock(&self.list);
        (0..)
            .find(|id| !list.contains_key(&(pid, *id)))
            .unwrap_or(0)
    }
}

/// A POSIX timer whose last signal is still queued gets no second one: the expiry counts as an
/// overrun in the queued siginfo, as Linux does. True when that happened.
fn coalesce(t: &Timer) -> bool {
    if t.id < 0 {
        return false;
    }
    let bump = |q: &mut super::signal::SigQueue| {
        if let Some(info) = q.timer_pending(t.signo, t.id) {
            let overrun = (info.fields[0] >> 32) as u32 as i32;
            let overrun = overrun.saturating_add(t.overrun.saturating_add(1));
            info.fields[0] = t.id as u32 as u64 | ((overrun as u32 as u64) << 32);
            return true;
        }
        false
    };
    match &t.target {
        TimerTarget::Process(w) => w.upgrade().is_some_and(|tg| bump(&mut lock(&tg.pending))),
        TimerTarget::Thread(w) => w
            .upgrade()
            .is_some_and(|task| bump(&mut lock(&task.pending))),
        TimerTarget::None | TimerTarget::Fd(..) => false,
    }
}

/// Fires `t`, which expired `n` times since it last fired.
fn fire(k: &Kernel, t: &Timer, n: u64) -> bool {
    if let TimerTarget::Fd(w, gen) = &t.target {
        let Some(fd) = w.upgrade() else { return false };
        let mut st = lock(&fd.state);
        if st.0 == *gen {
            // Linux's timerfd timer stops at its first expiry and restarts at the read that
            // counts the periods since: pollers hear of the first expiry after a read only.
            let first = st.1 == 0;
            st.1 = st.1.saturating_add(n);
            drop(st);
            if first {
                fd.queue.notify_band(syscalls::abi::POLLIN);
            }
        }
        return true;
    }
    if coalesce(t) {
        return true;
    }
    let mut info = kernel_info(t.signo);
    if t.id >= 0 {
        info.si_code = SI_TIMER;
        info.fields[0] = t.id as u32 as u64 | ((t.overrun as u32 as u64) << 32);
        info.fields[1] = t.value;
    }
    match &t.target {
        TimerTarget::Process(w) => match w.upgrade() {
            Some(tg) if !tg.killed.load(Ordering::Acquire) => {
                send_process_signal(k, &tg, info);
                true
            }
            _ => false,
        },
        TimerTarget::Thread(w) => match w.upgrade() {
            Some(task) if !task.exited.load(Ordering::Acquire) => {
                send_thread_signal(k, &task, info);
                true
            }
            _ => false,
        },
        TimerTarget::None | TimerTarget::Fd(..) => true,
    }
}

/// Moves timer `t`, due at `next`, past `cur` (disarms a one-shot timer); returns how many
/// times it expired.
fn advance(t: &mut Timer, next: Duration, cur: Duration) -> u64 {
    if t.interval.is_zero() {
        t.next = None;
        return 1;
    }
    let local = ((cur - next).as_nanos() / t.interval.as_nanos().max(1)) as u64;
    let missed = local.saturating_add(std::mem::take(&mut t.backlog));
    t.overrun = missed.min(i32::MAX as u64) as i32;
    // The next expiry after `cur`, in nanoseconds (at most one interval past `cur`).
    let step = t.interval.as_nanos() * (u128::from(local) + 1);
    let at = next.as_nanos().saturating_add(step);
    let secs = (at / 1_000_000_000).min(u128::from(u64::MAX)) as u64;
    t.next = Some(Duration::new(secs, (at % 1_000_000_000) as u32));
    missed.saturating_add(1)
}

/// The timer thread's loop; runs while the kernel lives.
pub fn run_timers(k: Weak<Kernel>) {
    loop {
        let Some(kernel) = k.upgrade() else { return };
        let timers = &kernel.timers;
        let mut due: Vec<(Timer, u64)> = Vec::new();
        let mut wait = Duration::from_secs(3600);
        {
            let mut list = lock(&timers.list);
            let now = timers.now();
            let mut dead = Vec::new();
            for (key, t) in list.iter_mut() {
                let Some(next) = t.next else { continue };
                let fd = matches!(t.target, TimerTarget::Fd(..));
                if fd && t.value == PARKED {
                    continue;
                }
                let cur = match t.clock {
                    TimerClock::Real => now,
                    TimerClock::Cpu(pid) => {
                        wait = wait.min(CPU_TICK);
                        cpu_time(pid)
                    }
                };
                if cur >= next {
                    let n = advance(t, next, cur);
                    due.push((t.clone(), n));
                    if fd && t.next.is_some() {
                        t.value = PARKED;
                    }
                    let gone = match &t.target {
                        TimerTarget::Process(w) => w.strong_count() == 0,
                        TimerTarget::Fd(w, _) => w.strong_count() == 0,
                        _ => false,
                    };
                    if gone {
                        dead.push(*key);
                    }
                } else if t.clock == TimerClock::Real {
                    wait = wait.min(next - cur);
                }
            }
            for key in dead {
                list.remove(&key);
            }
            if due.is_empty() {
                drop(
                    kernel
                        .timers
                        .cond
                        .wait_timeout(list, wait)
                        .unwrap_or_else(|e| e.into_inner()),
                );
                continue;
            }
        }
        for (t, n) in &due {
            fire(&kernel, t, *n);
        }
    }
}

/// Starts the timer thread of a kernel.
pub fn start(k: &Arc<Kernel>) {
    let weak = Arc::downgrade(k);
    let _ = std::thread::Builder::new()
        .name("timers".into())
        .spawn(move || {
            crate::confine::enter(crate::confine::policy::TIMERS);
            run_timers(weak)
        });
}
