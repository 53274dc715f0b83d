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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use syscalls::Errno;

use super::lock;
use super::tree::TaskShared;

/// Wakes one task.
#[derive(Default)]
pub struct Waker {
    seq: Mutex<u64>,
    cond: Condvar,
}

impl Waker {
    /// Records an event and wakes the task if it waits.
    pub fn notify(&self) {
        *lock(&self.seq) += 1;
        self.cond.notify_all();
    }

    fn seq(&self) -> u64 {
        *lock(&self.seq)
    }

    /// Waits for an event after `seen`; false when the deadline passed first.
    fn wait(&self, seen: u64, deadline: Option<Instant>) -> bool {
        let mut g = lock(&self.seq);
        while *g == seen {
            match deadline {
                None => g = self.cond.wait(g).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    g = self
                        .cond
                        .wait_timeout(g, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        true
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
        if !waker.wait(seen, deadline) {
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
        if !waker.wait(seen, deadline) {
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
        waker.wait(seen, None);
    }
    task.run_state
        .store(b'R', std::sync::atomic::Ordering::Relaxed);
    queue.remove(&waker);
}
