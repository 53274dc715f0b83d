// SPDX-License-Identifier: Apache-2.0
//! Blocking in the sentry, interruptibly.
//!
//! Every task has a [`Waker`]; objects a task can wait for (pipes, futexes, child processes)
//! keep a [`WaitQueue`] of wakers and notify it when something changes. A signal sent to a task
//! notifies its waker too, so every blocking wait ([`block_on`]) ends with ERESTARTSYS when a
//! signal is pending, and the syscall layer turns that into EINTR or a restart as Linux does.
//!
//! Each sentry thread drives exactly one task, so the task being served is a thread-local
//! ([`set_current`]); file operations deep in the VFS block through it without a task argument.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use syscalls::Errno;

use super::lock;
use super::tree::TaskShared;

/// Wakes one task.
///
/// The task's sentry thread sleeps on a futex word of its own, and a notification pays for a
/// futex wake-up only when the thread sleeps. Before it sleeps, a wait for an object (not a
/// plain timeout) spins a short while when its recent waits were mostly answered within such a
/// spin: a writer and a reader in two processes that hand buffers to each other then meet
/// without a cross-vCPU wake-up (tens of microseconds on these VMs, more than the work
/// itself). When most spins miss (the other side runs on this vCPU, or waits long) the waker
/// stops spinning for a while, as the systrap platform's handoff does ([`SpinPolicy`]).
pub struct Waker {
    /// Events so far: the futex word the thread sleeps on.
    seq: AtomicU32,
    /// Whether the thread sleeps (or is about to) on `seq`.
    sleeping: AtomicU32,
    /// Only the thread that waits touches it (one waiter per waker).
    policy: Mutex<SpinPolicy>,
}

impl Default for Waker {
    fn default() -> Self {
        Waker {
            seq: AtomicU32::new(0),
            sleeping: AtomicU32::new(0),
            policy: Mutex::new(SpinPolicy::default()),
        }
    }
}

/// When a waker spins before it sleeps, decided per window of [`SPIN_WINDOW`] waits. A
/// waker starts out sleeping and counts the waits that ended within twice the spin budget
/// (a spin would have caught most of them: part of their time was the wake-up itself); when
/// three quarters of a window's did, it spins. A spinning window in which more than a quarter
/// of the spins missed puts it back to sleeping for at least `backoff` windows, doubled after
/// each such window up to [`SPIN_BACKOFF_MAX`] (a pair on one vCPU, or a wait that is always
/// long, wastes little), and reset by a good spinning window.
#[derive(Debug)]
struct SpinPolicy {
    spinning: bool,
    waits: u32,
    /// Spinning: the spins that missed; sleeping: the waits short enough to have been caught.
    count: u32,
    /// Windows to sleep through before spinning may be tried again.
    rest: u32,
    backoff: u32,
}

impl Default for SpinPolicy {
    fn default() -> Self {
        SpinPolicy {
            spinning: false,
            waits: 0,
            count: 0,
            rest: 0,
            backoff: 1,
        }
    }
}

impl SpinPolicy {
    /// Counts one wait: whether it was spun and missed, or how long it took when it slept.
    fn account(&mut self, missed: bool, took: std::time::Duration, budget: std::time::Duration) {
        self.waits += 1;
        self.count += u32::from(if self.spinning {
            missed
        } else {
            took <= budget * 2
        });
        if self.waits < SPIN_WINDOW {
            return;
        }
        if self.spinning {
            if self.count * 4 > self.waits {
                self.spinning = false;
                self.rest = self.backoff;
                self.backoff = (self.backoff * 2).min(SPIN_BACKOFF_MAX);
            } else {
                self.backoff = 1;
            }
        } else if self.rest > 0 {
            self.rest -= 1;
        } else if self.count * 4 >= self.waits * 3 {
            self.spinning = true;
        }
        self.waits = 0;
        self.count = 0;
    }
}

const SPIN_WINDOW: u32 = 32;
const SPIN_BACKOFF_MAX: u32 = 64;

/// How long a wait spins before it sleeps (none on a machine with one CPU for the sandbox:
/// whoever would end the wait could not run meanwhile).
fn spin_budget() -> std::time::Duration {
    static BUDGET: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(|| {
        if crate::host::ncpu() < 2 {
            return std::time::Duration::ZERO;
        }
        let us = std::env::var("SANDBOX_BLOCK_SPIN_US")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(20);
        std::time::Duration::from_micros(us)
    })
}

impl Waker {
    /// Records an event and wakes the task if it waits.
    pub fn notify(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) != 0 {
            crate::host::futex_wake(&self.seq);
        }
    }

    fn seq(&self) -> u32 {
        self.seq.load(Ordering::SeqCst)
    }

    /// Waits for an event after `seen` (spinning first when `spin` and the policy says so);
    /// false when the deadline passed first.
    fn wait(&self, seen: u32, deadline: Option<Instant>, spin: bool) -> bool {
        let budget = if spin {
            spin_budget()
        } else {
            std::time::Duration::ZERO
        };
        if budget.is_zero() {
            return self.sleep(seen, deadline);
        }
        let mut p = lock(&self.policy);
        let start = Instant::now();
        if p.spinning {
            'spin: loop {
                for _ in 0..64 {
                    if self.seq.load(Ordering::Acquire) != seen {
                        break 'spin;
                    }
                    std::hint::spin_loop();
                }
                if start.elapsed() >= budget {
                    p.account(true, budget, budget);
                    drop(p);
                    return self.sleep(seen, deadline);
                }
            }
            p.account(false, start.elapsed(), budget);
            return true;
        }
        drop(p);
        let woke = self.sleep(seen, deadline);
        if woke {
            lock(&self.policy).account(false, start.elapsed(), budget);
        }
        woke
    }

    /// Sleeps until an event after `seen`; false when the deadline passed first.
    fn sleep(&self, seen: u32, deadline: Option<Instant>) -> bool {
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        let woke = loop {
            if self.seq.load(Ordering::SeqCst) != seen {
                break true;
            }
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break false;
                    }
                    Some(d - now)
                }
            };
            crate::host::futex_wait(&self.seq, seen, timeout);
        };
        self.sleeping.fetch_sub(1, Ordering::SeqCst);
        woke
    }
}

/// The wakers of the tasks waiting for one object.
///
/// Each wake-up also counts, per direction, that something happened (input: data, a
/// connection, EOF; output: room): edge-triggered epoll reports a file again only after a
/// wake-up in a direction it watches, as Linux's wake-up keys filter `ep_poll_callback`.
#[derive(Default)]
pub struct WaitQueue {
    list: Mutex<Vec<Arc<Waker>>>,
    gen_in: AtomicU64,
    gen_out: AtomicU64,
    /// The last input generation an EPOLLEXCLUSIVE interest reported (one reporter per
    /// wake-up).
    exclusive: AtomicU64,
}

/// The poll bits that count as input for [`WaitQueue::notify_band`].
pub const BAND_IN: u32 = syscalls::abi::POLLIN
    | syscalls::abi::POLLRDNORM
    | syscalls::abi::POLLRDBAND
    | syscalls::abi::POLLPRI
    | syscalls::abi::POLLRDHUP;
/// The poll bits that count as output.
pub const BAND_OUT: u32 =
    syscalls::abi::POLLOUT | syscalls::abi::POLLWRNORM | syscalls::abi::POLLWRBAND;

impl WaitQueue {
    /// Wakes every waiting task (each rechecks its condition), for a change in either
    /// direction.
    pub fn notify_all(&self) {
        self.gen_in.fetch_add(1, Ordering::Release);
        self.gen_out.fetch_add(1, Ordering::Release);
        self.wake();
    }

    /// Wakes every waiting task for a change in the directions of `band` (input bits, output
    /// bits; POLLHUP and POLLERR are both).
    pub fn notify_band(&self, band: u32) {
        let both = syscalls::abi::POLLHUP | syscalls::abi::POLLERR;
        if band & (BAND_IN | both) != 0 || band == 0 {
            self.gen_in.fetch_add(1, Ordering::Release);
        }
        if band & (BAND_OUT | both) != 0 || band == 0 {
            self.gen_out.fetch_add(1, Ordering::Release);
        }
        self.wake();
    }

    /// Claims the wake-ups up to generations `gens` for one EPOLLEXCLUSIVE waiter: true for the
    /// first claimer of a new input wake-up.
    pub fn claim_exclusive(&self, gens: (u64, u64)) -> bool {
        self.exclusive.fetch_max(gens.0, Ordering::AcqRel) < gens.0
    }

    /// How many input and output wake-ups the queue has had.
    pub fn generations(&self) -> (u64, u64) {
        (
            self.gen_in.load(Ordering::Acquire),
            self.gen_out.load(Ordering::Acquire),
        )
    }

    /// Wakes every waiting task without counting a wake-up for edge-triggered epoll (a change
    /// Linux does not signal to pollers, e.g. room in a pipe that was not full).
    pub fn wake(&self) {
        for w in lock(&self.list).iter() {
            w.notify();
        }
    }

    fn add(&self, w: &Arc<Waker>) {
        lock(&self.list).push(w.clone());
    }

    fn remove(&self, w: &Arc<Waker>) {
        let mut l = lock(&self.list);
        if let Some(i) = l.iter().position(|x| Arc::ptr_eq(x, w)) {
            l.swap_remove(i);
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<TaskShared>>> = const { RefCell::new(None) };
    static KERNEL: RefCell<std::sync::Weak<super::Kernel>> = const { RefCell::new(std::sync::Weak::new()) };
}

/// Records the kernel this sentry thread serves.
pub fn set_kernel(k: &Arc<super::Kernel>) {
    KERNEL.with(|c| *c.borrow_mut() = Arc::downgrade(k));
}

/// The kernel this sentry thread serves (for file systems that show kernel state: /proc).
pub fn current_kernel() -> Option<Arc<super::Kernel>> {
    KERNEL.with(|c| c.borrow().upgrade())
}

/// Makes `task` the one this sentry thread serves.
pub fn set_current(task: Option<Arc<TaskShared>>) {
    CURRENT.with(|c| *c.borrow_mut() = task);
}

/// The task this sentry thread serves, if any.
pub fn current() -> Option<Arc<TaskShared>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Blocks the current task until `ready` gives a result, a signal is pending (ERESTARTSYS) or
/// the deadline passes (ETIMEDOUT). `ready` is rechecked after every notification of `queues`.
pub fn block_on<T>(
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    mut ready: impl FnMut() -> Option<Result<T, Errno>>,
) -> Result<T, Errno> {
    let Some(task) = current() else {
        // Not on a task thread (tests): poll.
        loop {
            if let Some(r) = ready() {
                return r;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Errno::ETIMEDOUT);
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    };
    let waker = task.waker.clone();
    for q in queues {
        q.add(&waker);
    }
    task.run_state
        .store(b'S', std::sync::atomic::Ordering::Relaxed);
    let result = loop {
        let seen = waker.seq();
        if let Some(r) = ready() {
            break r;
        }
        if task.signal_pending() {
            break Err(Errno::ERESTARTSYS);
        }
        if !waker.wait(seen, deadline, !queues.is_empty()) {
            break match ready() {
                Some(r) => r,
                None => Err(Errno::ETIMEDOUT),
            };
        }
    };
    for q in queues {
        q.remove(&waker);
    }
    task.run_state
        .store(b'R', std::sync::atomic::Ordering::Relaxed);
    result
}

/// Blocks a thread that serves no task (the loader's terminal bridge) until `ready` gives a
/// result or the deadline passes (ETIMEDOUT); `ready` is rechecked after every notification
/// of `queues`.
pub fn wait_external<T>(
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    mut ready: impl FnMut() -> Option<Result<T, Errno>>,
) -> Result<T, Errno> {
    let waker = Arc::new(Waker::default());
    for q in queues {
        q.add(&waker);
    }
    let result = loop {
        let seen = waker.seq();
        if let Some(r) = ready() {
            break r;
        }
        if !waker.wait(seen, deadline, false) {
            break match ready() {
                Some(r) => r,
                None => Err(Errno::ETIMEDOUT),
            };
        }
    };
    for q in queues {
        q.remove(&waker);
    }
    result
}

/// Sleeps the current task until the deadline or a signal (ERESTARTSYS).
pub fn sleep_until(deadline: Instant) -> Result<(), Errno> {
    match block_on::<()>(&[], Some(deadline), || None) {
        Err(Errno::ETIMEDOUT) => Ok(()),
        r => r,
    }
}

/// Waits, ignoring signals, until `ready()` holds; rechecked on every notification of `queue`
/// or of the current task's waker.
pub fn wait_uninterruptible(queue: &WaitQueue, mut ready: impl FnMut() -> bool) {
    let Some(task) = current() else {
        while !ready() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        return;
    };
    let waker = task.waker.clone();
    queue.add(&waker);
    task.run_state
        .store(b'S', std::sync::atomic::Ordering::Relaxed);
    loop {
        let seen = waker.seq();
        if ready() {
            break;
        }
        waker.wait(seen, None, true);
    }
    task.run_state
        .store(b'R', std::sync::atomic::Ordering::Relaxed);
    queue.remove(&waker);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const BUDGET: Duration = Duration::from_micros(20);

    fn window(p: &mut SpinPolicy, missed: bool, took: Duration) {
        for _ in 0..SPIN_WINDOW {
            p.account(missed, took, BUDGET);
        }
    }

    #[test]
    fn short_waits_turn_spinning_on() {
        let mut p = SpinPolicy::default();
        assert!(!p.spinning);
        window(&mut p, false, Duration::from_millis(5));
        assert!(!p.spinning, "long waits never spin");
        window(&mut p, false, Duration::from_micros(30));
        assert!(p.spinning, "waits within twice the budget spin");
    }

    #[test]
    fn missed_spins_back_off_doubling() {
        let mut p = SpinPolicy::default();
        window(&mut p, false, Duration::from_micros(1));
        assert!(p.spinning);
        window(&mut p, true, BUDGET);
        assert!(!p.spinning);
        assert_eq!((p.rest, p.backoff), (1, 2));
        // One window of rest, however short the waits, then spinning again.
        window(&mut p, false, Duration::from_micros(1));
        assert!(!p.spinning);
        window(&mut p, false, Duration::from_micros(1));
        assert!(p.spinning);
        window(&mut p, true, BUDGET);
        assert_eq!((p.rest, p.backoff), (2, 4));
        for _ in 0..10 {
            window(&mut p, false, Duration::from_micros(1));
            if p.spinning {
                window(&mut p, true, BUDGET);
            }
        }
        assert!(p.backoff <= SPIN_BACKOFF_MAX);
        // A good spinning window resets the backoff.
        while !p.spinning {
            window(&mut p, false, Duration::from_micros(1));
        }
        window(&mut p, false, Duration::from_micros(1));
        assert_eq!(p.backoff, 1);
    }

    #[test]
    fn notify_wakes_a_sleeper_and_counts_without_one() {
        let w = Arc::new(Waker::default());
        let seen = w.seq();
        w.notify();
        assert!(
            w.wait(seen, None, false),
            "an event already counted ends the wait"
        );
        let seen = w.seq();
        let w2 = w.clone();
        let t = std::thread::spawn(move || w2.wait(seen, None, true));
        std::thread::sleep(Duration::from_millis(20));
        w.notify();
        assert!(t.join().unwrap_or(false));
        let seen = w.seq();
        let deadline = Instant::now() + Duration::from_millis(5);
        assert!(
            !w.wait(seen, Some(deadline), true),
            "the deadline ends a wait"
        );
    }
}
