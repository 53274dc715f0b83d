// SPDX-License-Identifier: Apache-2.0
//! Futexes: wait queues keyed by address.
//!
//! The value check and the enqueue happen under the table's lock, which every wake takes too,
//! so no wake-up is lost. Private futexes are keyed by (address space, address); shared ones
//! will be keyed by the backing object once processes share memory (the processes issue).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use syscalls::Errno;

use super::block::{self, Waker};
use super::lock;

/// A futex's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FutexKey {
    /// The address space (its memory manager's address) or 0 for shared keys.
    pub space: usize,
    /// The address (or offset in the shared object).
    pub addr: u64,
}

/// One waiting task (one futex_wait, or one futex_waitv over several futexes).
struct WaitState {
    /// The index of the futex that woke it (the highest, if several did), or -1.
    woken: AtomicI64,
    /// The waiting task's waker (None off task threads, e.g. in unit tests: then it polls).
    waker: Option<Arc<Waker>>,
    /// Where each of its entries is queued now (a requeue moves them); guarded by the
    /// table's lock in practice.
    keys: Mutex<Vec<FutexKey>>,
}

/// One entry of a wait queue.
struct Waiter {
    bitset: u32,
    /// Its index in the waiting task's futex_waitv array (0 for a plain wait).
    index: u32,
    state: Arc<WaitState>,
}

impl Waiter {
    fn wake(&self) {
        self.state
            .woken
            .fetch_max(i64::from(self.index), Ordering::AcqRel);
        if let Some(w) = &self.state.waker {
            w.notify();
        }
    }
}

type Queues = HashMap<FutexKey, Vec<Waiter>>;

/// All the futex wait queues of a kernel.
#[derive(Default)]
pub struct FutexTable {
    queues: Mutex<Queues>,
}

/// How many waiters a wake count lets through: Linux counts with `++n >= nr`, so a count of
/// zero or less still wakes one.
fn wake_limit(n: i32) -> u32 {
    n.max(1) as u32
}

impl FutexTable {
    /// FUTEX_WAIT(_BITSET): if `check()` (the value still equals the expected one, read under
    /// the lock) holds, sleep until woken or `deadline`.
    pub fn wait(
        &self,
        key: FutexKey,
        bitset: u32,
        deadline: Option<Instant>,
        check: impl FnOnce() -> Result<bool, Errno>,
    ) -> Result<(), Errno> {
        let mut check = Some(check);
        self.wait_multiple(&[(key, bitset)], deadline, |_| {
            check.take().map_or(Ok(true), |c| c())
        })
        .map(|_| ())
    }

    /// futex_waitv(2): queues on every key whose `check(i)` holds (all under the lock, in
    /// order; EAGAIN as soon as one does not) and sleeps until one is woken or `deadline`.
    /// Returns the index of the futex that woke it.
    pub fn wait_multiple(
        &self,
        keys: &[(FutexKey, u32)],
        deadline: Option<Instant>,
        mut check: impl FnMut(usize) -> Result<bool, Errno>,
    ) -> Result<usize, Errno> {
        let waker = block::current().map(|t| t.waker.clone());
        let state = Arc::new(WaitState {
            woken: AtomicI64::new(-1),
            waker,
            keys: Mutex::new(keys.iter().map(|k| k.0).collect()),
        });
        {
            let mut q = lock(&self.queues);
            for (i, &(key, bitset)) in keys.iter().enumerate() {
                let ok = check(i);
                if !matches!(ok, Ok(true)) {
                    Self::unqueue(&mut q, &state);
                    return Err(ok.err().unwrap_or(Errno::EAGAIN));
                }
                q.entry(key).or_default().push(Waiter {
                    bitset,
                    index: i as u32,
                    state: state.clone(),
                });
            }
        }
        let woken = || usize::try_from(state.woken.load(Ordering::Acquire)).ok();
        let r = block::block_on(&[], deadline, || woken().map(Ok));
        // Leave every queue still holding us; a wake that raced a timeout or a signal wins.
        Self::unqueue(&mut lock(&self.queues), &state);
        match woken() {
            Some(i) => Ok(i),
            None => r,
        }
    }

    /// Removes every entry of a waiting task from the queues.
    fn unqueue(q: &mut Queues, state: &Arc<WaitState>) {
        let mut keys = lock(&state.keys).clone();
        keys.sort_unstable_by_key(|k| (k.space, k.addr));
        keys.dedup();
        for key in keys {
            if let Some(list) = q.get_mut(&key) {
                list.retain(|x| !Arc::ptr_eq(&x.state, state));
                if list.is_empty() {
                    q.remove(&key);
                }
            }
        }
    }

    /// How many tasks wait on `key`.
    pub fn waiters(&self, key: FutexKey) -> usize {
        lock(&self.queues).get(&key).map(Vec::len).unwrap_or(0)
    }

    /// FUTEX_WAKE(_BITSET): wakes up to `n` waiters whose bitset intersects `bitset` (a count
    /// of zero or less wakes one, as Linux's does).
    pub fn wake(&self, key: FutexKey, bitset: u32, n: i32) -> u32 {
        let mut q = lock(&self.queues);
        Self::wake_locked(&mut q, key, bitset, wake_limit(n))
    }

    fn wake_locked(q: &mut Queues, key: FutexKey, bitset: u32, n: u32) -> u32 {
        let Some(list) = q.get_mut(&key) else {
            return 0;
        };
        let mut woken = 0;
        let mut i = 0;
        while i < list.len() && woken < n {
            if list[i].bitset & bitset != 0 {
                list.remove(i).wake();
                woken += 1;
            } else {
                i += 1;
            }
        }
        if list.is_empty() {
            q.remove(&key);
        }
        woken
    }

    /// FUTEX_(CMP_)REQUEUE and futex_requeue(2): wakes `n` waiters of `from` and moves up to
    /// `m` more to `to`, if `check()` holds.
    pub fn requeue(
        &self,
        from: FutexKey,
        to: FutexKey,
        n: u32,
        m: u32,
        check: impl FnOnce() -> Result<bool, Errno>,
    ) -> Result<u32, Errno> {
        let mut q = lock(&self.queues);
        if !check()? {
            return Err(Errno::EAGAIN);
        }
        let woken = Self::wake_locked(&mut q, from, u32::MAX, n);
        let mut moved = 0;
        if let Some(mut list) = q.remove(&from) {
            let k = (m as usize).min(list.len());
            let rest = list.split_off(k);
            moved = list.len() as u32;
            for w in &list {
                if let Some(slot) = lock(&w.state.keys).get_mut(w.index as usize) {
                    *slot = to;
                }
            }
            q.entry(to).or_default().extend(list);
            if !rest.is_empty() {
                q.insert(from, rest);
            }
        }
        Ok(woken + moved)
    }

    /// FUTEX_WAKE_OP's second half runs under the same lock: wakes `n` of `a`, then, if
    /// `op()` (which updates the second word and says whether its old value passed the
    /// comparison), `n2` of `b`.
    pub fn wake_op(
        &self,
        a: FutexKey,
        b: FutexKey,
        n: i32,
        n2: i32,
        op: impl FnOnce() -> Result<bool, Errno>,
    ) -> Result<u32, Errno> {
        let mut q = lock(&self.queues);
        let pass = op()?;
        let mut woken = Self::wake_locked(&mut q, a, u32::MAX, wake_limit(n));
        if pass {
            woken += Self::wake_locked(&mut q, b, u32::MAX, wake_limit(n2));
        }
        Ok(woken)
    }
}

/// A relative timeout as a deadline.
pub fn deadline_after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(addr: u64) -> FutexKey {
        FutexKey { space: 1, addr }
    }

    #[test]
    fn a_waitv_waiter_reports_the_futex_that_woke_it_and_leaves_every_queue() {
        let t = Arc::new(FutexTable::default());
        let t2 = t.clone();
        let h = std::thread::spawn(move || {
            t2.wait_multiple(&[(key(0), u32::MAX), (key(4), u32::MAX)], None, |_| {
                Ok(true)
            })
        });
        while t.waiters(key(4)) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(t.wake(key(4), u32::MAX, 1), 1);
        assert_eq!(h.join().ok(), Some(Ok(1)));
        assert_eq!(t.waiters(key(0)), 0);
        assert_eq!(t.waiters(key(4)), 0);
    }

    #[test]
    fn a_requeued_waiter_that_times_out_leaves_the_queue_it_was_moved_to() {
        let t = Arc::new(FutexTable::default());
        let t2 = t.clone();
        let deadline = Instant::now() + Duration::from_millis(200);
        let h = std::thread::spawn(move || t2.wait(key(0), u32::MAX, Some(deadline), || Ok(true)));
        while t.waiters(key(0)) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(t.requeue(key(0), key(8), 0, 1, || Ok(true)), Ok(1));
        assert_eq!(h.join().ok(), Some(Err(Errno::ETIMEDOUT)));
        assert_eq!(t.waiters(key(8)), 0);
    }

    #[test]
    fn a_value_that_differs_queues_nothing() {
        let t = FutexTable::default();
        let r = t.wait_multiple(&[(key(0), u32::MAX), (key(4), u32::MAX)], None, |i| {
            Ok(i == 0)
        });
        assert_eq!(r, Err(Errno::EAGAIN));
        assert_eq!(t.waiters(key(0)), 0);
        assert_eq!(t.wake(key(0), u32::MAX, 0), 0);
    }
}
