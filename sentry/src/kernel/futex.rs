// SPDX-License-Identifier: Apache-2.0
//! Futexes: wait queues keyed by address.
//!
//! The value check and the enqueue happen under the table's lock, which every wake takes too,
//! so no wake-up is lost. Private futexes are keyed by (address space, address); shared ones
//! will be keyed by the backing object once processes share memory (the processes issue).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
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

struct Waiter {
    bitset: u32,
    woken: AtomicBool,
    /// The waiting task's waker (None off task threads, e.g. in unit tests: then it polls).
    waker: Option<Arc<Waker>>,
}

impl Waiter {
    fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        if let Some(w) = &self.waker {
            w.notify();
        }
    }
}

/// All the futex wait queues of a kernel.
#[derive(Default)]
pub struct FutexTable {
    queues: Mutex<HashMap<FutexKey, Vec<Arc<Waiter>>>>,
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
        let waker = block::current().map(|t| t.waker.clone());
        let w = Arc::new(Waiter {
            bitset,
            woken: AtomicBool::new(false),
            waker,
        });
        {
            let mut q = lock(&self.queues);
            if !check()? {
                return Err(Errno::EAGAIN);
            }
            q.entry(key).or_default().push(w.clone());
        }
        let r = block::block_on(&[], deadline, || {
            w.woken.load(Ordering::Acquire).then_some(Ok(()))
        });
        if r.is_ok() {
            return Ok(());
        }
        // Timed out or interrupted: leave the queue, unless a wake raced us (then report it).
        let mut q = lock(&self.queues);
        if let Some(list) = q.get_mut(&key) {
            list.retain(|x| !Arc::ptr_eq(x, &w));
            if list.is_empty() {
                q.remove(&key);
            }
        }
        if w.woken.load(Ordering::Acquire) {
            Ok(())
        } else {
            r
        }
    }

    /// How many tasks wait on `key`.
    pub fn waiters(&self, key: FutexKey) -> usize {
        lock(&self.queues).get(&key).map(Vec::len).unwrap_or(0)
    }

    /// FUTEX_WAKE(_BITSET): wakes up to `n` waiters whose bitset intersects `bitset`.
    pub fn wake(&self, key: FutexKey, bitset: u32, n: u32) -> u32 {
        let mut q = lock(&self.queues);
        Self::wake_locked(&mut q, key, bitset, n)
    }

    fn wake_locked(
        q: &mut HashMap<FutexKey, Vec<Arc<Waiter>>>,
        key: FutexKey,
        bitset: u32,
        n: u32,
    ) -> u32 {
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

    /// FUTEX_(CMP_)REQUEUE: wakes `n` waiters of `from` and moves up to `m` more to `to`, if
    /// `check()` holds.
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
        n: u32,
        n2: u32,
        op: impl FnOnce() -> Result<bool, Errno>,
    ) -> Result<u32, Errno> {
        let mut q = lock(&self.queues);
        let pass = op()?;
        let mut woken = Self::wake_locked(&mut q, a, u32::MAX, n);
        if pass {
            woken += Self::wake_locked(&mut q, b, u32::MAX, n2);
        }
        Ok(woken)
    }
}

/// A relative timeout as a deadline.
pub fn deadline_after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}
