// SPDX-License-Identifier: Apache-2.0
//! CPU time as getrusage(2), times(2) and wait4(2) report it.
//!
//! A task's *user* time is its host process's (the stub's CPU clock: the program's own
//! instructions, and the signal deliveries that carry its traps); its *system* time is the
//! CPU of the sentry thread that serves it (each task has one: the sandbox's kernel time is
//! exactly that thread's). Both are read from the host's clocks while the task lives and
//! folded into its thread group when a thread exits or an exec replaces the stub, so a
//! process's totals survive them; a reaped child's totals (with its own children's) go to
//! its parent's children's times, as Linux's wait_task_zombie adds them.

use std::sync::atomic::Ordering;

use nix::time::{clock_gettime, ClockId};

use super::lock;
use super::tree::{TaskShared, ThreadGroup};

/// What a thread group has counted of threads and images that are gone, and of its reaped
/// children, in nanoseconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct Usage {
    pub utime_gone: u64,
    pub stime_gone: u64,
    pub cutime: u64,
    pub cstime: u64,
}

fn ns(id: ClockId) -> u64 {
    clock_gettime(id)
        .map(|t| (t.tv_sec() as u64).saturating_mul(1_000_000_000) + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// The CPU time of host process `pid` (a stub), 0 if there is none.
pub fn process_cpu_ns(pid: i32) -> u64 {
    if pid <= 0 {
        return 0;
    }
    // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED).
    ns(ClockId::from_raw(((!pid) << 3) | 2))
}

/// The CPU time the calling sentry thread has used.
pub fn own_thread_ns() -> u64 {
    ns(ClockId::CLOCK_THREAD_CPUTIME_ID)
}

/// The CPU time sentry thread `tid` (of this process) has used, 0 if it is gone.
fn sentry_thread_ns(tid: i32) -> u64 {
    if tid <= 0 {
        return 0;
    }
    // MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED): readable for any thread of the caller's
    // own thread group, which every sentry thread is.
    ns(ClockId::from_raw(((!tid) << 3) | 6))
}

/// Records that the calling sentry thread starts serving `task` (its system time counts
/// from now).
pub fn serving(task: &TaskShared) {
    task.cpu_base.store(own_thread_ns(), Ordering::Relaxed);
    task.sentry_tid
        .store(nix::unistd::gettid().as_raw(), Ordering::Release);
}

/// The system time of a live task so far.
pub fn task_stime(task: &TaskShared) -> u64 {
    let now = sentry_thread_ns(task.sentry_tid.load(Ordering::Acquire));
    now.saturating_sub(task.cpu_base.load(Ordering::Relaxed))
}

/// The calling sentry thread is done with `task`: its system time joins the group's.
pub fn task_gone(task: &TaskShared) {
    let s = own_thread_ns().saturating_sub(task.cpu_base.load(Ordering::Relaxed));
    task.sentry_tid.store(0, Ordering::Release);
    lock(&task.tg.usage).stime_gone += s;
}

/// An image ends (exec, or the last user of the address space exits): its stub's CPU time
/// joins the group's user time.
pub fn image_gone(tg: &ThreadGroup, stub_pid: i32) {
    let u = process_cpu_ns(stub_pid);
    lock(&tg.usage).utime_gone += u;
}

/// A group's own (user, system) time so far; `stub_pid` is its live stub (0: none).
pub fn own(tg: &ThreadGroup, stub_pid: i32) -> (u64, u64) {
    let u = *lock(&tg.usage);
    let live: u64 = lock(&tg.tasks).iter().map(|t| task_stime(t)).sum();
    (u.utime_gone + process_cpu_ns(stub_pid), u.stime_gone + live)
}

/// Its reaped children's (user, system) time.
pub fn children(tg: &ThreadGroup) -> (u64, u64) {
    let u = *lock(&tg.usage);
    (u.cutime, u.cstime)
}

/// A zombie's totals, its own and its children's, as its parent collects them.
pub fn zombie_totals(tg: &ThreadGroup) -> (u64, u64) {
    let u = *lock(&tg.usage);
    (u.utime_gone + u.cutime, u.stime_gone + u.cstime)
}

/// A parent reaped a child whose totals are `child`.
pub fn reaped(parent: &ThreadGroup, child: (u64, u64)) {
    let mut u = lock(&parent.usage);
    u.cutime += child.0;
    u.cstime += child.1;
}

/// A `struct timeval` of `ns` nanoseconds.
pub fn timeval(ns: u64) -> syscalls::abi::Timeval {
    syscalls::abi::Timeval {
        tv_sec: (ns / 1_000_000_000) as i64,
        tv_usec: ((ns % 1_000_000_000) / 1000) as i64,
    }
}
