// SPDX-License-Identifier: Apache-2.0
//! The sandbox's resource limits (`sandbox run --memory`, `--pids`), kept by the sentry's own
//! accounting: every host resource the program can make the sandbox use goes through a system
//! call the sentry answers, so the sentry counts it there and refuses past the limit with the
//! errno Linux gives at its own limits, before the host is asked for anything.
//!
//! One sentry process is one sandbox, so the budgets are process-wide.
//!
//! - Memory ([`memory`]): what the program commits (anonymous and private writable mappings,
//!   the heap, as Linux's strict overcommit counts them), the files of its tmpfs instances
//!   (the overlay's upper layer, /tmp, /dev/shm, tmpfs it mounts), pipe buffers (each pipe's
//!   capacity), and a share for each task's sentry thread. Past the limit: ENOMEM (mmap, brk,
//!   mremap, clone), ENOSPC (a tmpfs write), ENFILE (pipe).
//! - Tasks ([`tasks`]): every application thread is a sentry thread and a host thread of a
//!   stub; past the limit clone, fork and vfork fail with EAGAIN, as at RLIMIT_NPROC.

use std::sync::atomic::{AtomicU64, Ordering};

use syscalls::Errno;

/// A budget: what is used and the most that may be.
#[derive(Debug)]
pub struct Budget {
    used: AtomicU64,
    max: AtomicU64,
}

impl Budget {
    const fn unlimited() -> Budget {
        Budget {
            used: AtomicU64::new(0),
            max: AtomicU64::new(u64::MAX),
        }
    }

    /// Takes `n` more, or fails with `err` (taking nothing) when that would pass the limit.
    pub fn charge(&self, n: u64, err: Errno) -> Result<(), Errno> {
        let max = self.max.load(Ordering::Relaxed);
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let next = cur.checked_add(n).filter(|&v| v <= max).ok_or(err)?;
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => cur = now,
            }
        }
    }

    /// Takes `n` more whatever the limit (a change already made, counted after the fact).
    pub fn force(&self, n: u64) {
        self.used.fetch_add(n, Ordering::AcqRel);
    }

    /// Gives `n` back.
    pub fn release(&self, n: u64) {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            match self.used.compare_exchange_weak(
                cur,
                cur.saturating_sub(n),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Whether `n` more would fit.
    pub fn fits(&self, n: u64) -> bool {
        self.used
            .load(Ordering::Relaxed)
            .checked_add(n)
            .is_some_and(|v| v <= self.max.load(Ordering::Relaxed))
    }

    /// What is used.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit (`u64::MAX`: none).
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Sets the limit (the loader does, from the command line, before the program starts).
    pub fn set_max(&self, max: u64) {
        self.max.store(max, Ordering::Relaxed);
    }
}

static MEMORY: Budget = Budget::unlimited();
static TASKS: Budget = Budget::unlimited();
static OPEN_FILES: AtomicU64 = AtomicU64::new(1 << 20);

/// The most descriptors a process of the sandbox may have: fs.nr_open's value, the ceiling of
/// RLIMIT_NOFILE. The sentry holds a host descriptor for each host file a program has open, so
/// this is what its own RLIMIT_NOFILE leaves once its own descriptors are kept aside
/// ([`open_files_within`]); Linux's 1,048,576 where the host gives that much.
pub fn open_files() -> u64 {
    OPEN_FILES.load(Ordering::Relaxed)
}

/// Sets [`open_files`] from the sentry's own RLIMIT_NOFILE `host` (the loader does, before
/// the program starts); returns it.
pub fn set_open_files(host: u64) -> u64 {
    let n = open_files_within(host).min(1 << 20);
    OPEN_FILES.store(n, Ordering::Relaxed);
    n
}

/// What a sentry with `host` descriptors can give its programs: an eighth is kept (64 to
/// 4,096) for its own (stubs' memory files, the gofer's channels, sockets, pipes' ends), so
/// that a program at its limit gets EMFILE from the sandbox's table, as on Linux, before the
/// sentry runs out of host descriptors.
pub fn open_files_within(host: u64) -> u64 {
    let keep = (host / 8).clamp(64, 4096);
    host.saturating_sub(keep).max(64)
}

/// The sandbox's memory budget, in bytes.
pub fn memory() -> &'static Budget {
    &MEMORY
}

/// The sandbox's task budget (application threads).
pub fn tasks() -> &'static Budget {
    &TASKS
}

/// What each task's sentry thread is counted for against [`memory`]: its stack as touched by
/// a system call, its buffers and bookkeeping.
pub const TASK_MEMORY: u64 = 256 << 10;

/// A task's place in the budgets: taken when a task is made (clone, fork), given back when its
/// sentry thread ends.
#[derive(Debug)]
pub struct TaskSlot(());

impl TaskSlot {
    /// Takes a task and its sentry thread's memory: EAGAIN past `--pids`, ENOMEM past
    /// `--memory`.
    pub fn take() -> Result<TaskSlot, Errno> {
        tasks().charge(1, Errno::EAGAIN)?;
        if let Err(e) = memory().charge(TASK_MEMORY, Errno::ENOMEM) {
            tasks().release(1);
            return Err(e);
        }
        Ok(TaskSlot(()))
    }
}

impl Drop for TaskSlot {
    fn drop(&mut self) {
        tasks().release(1);
        memory().release(TASK_MEMORY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_past_its_limit_and_gives_back() {
        let b = Budget::unlimited();
        b.set_max(100);
        assert!(b.charge(60, Errno::ENOMEM).is_ok());
        assert_eq!(b.charge(50, Errno::ENOMEM), Err(Errno::ENOMEM));
        assert_eq!(b.used(), 60);
        assert!(b.fits(40) && !b.fits(41));
        b.release(60);
        assert!(b.charge(100, Errno::ENOMEM).is_ok());
        b.force(10);
        assert_eq!(b.used(), 110);
        b.release(1000);
        assert_eq!(b.used(), 0);
        assert_eq!(b.charge(u64::MAX, Errno::EAGAIN), Err(Errno::EAGAIN));
    }
}
