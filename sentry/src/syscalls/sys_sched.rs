// SPDX-License-Identifier: Apache-2.0
//! Scheduling: policies and priorities are recorded per task (virtual; the host scheduler is
//! not touched), affinity is virtual over the host's CPUs.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::tree::{CpuMask, TaskShared};
use crate::kernel::{lock, Task};

fn ncpu() -> usize {
    crate::host::ncpu()
}

/// The task `pid` names (0: the caller).
pub(crate) fn target(t: &Task, pid: i32) -> Result<Arc<TaskShared>, Errno> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 {
        return Ok(t.shared.clone());
    }
    let tree = lock(&t.k.tree);
    tree.threads
        .get(&pid)
        .or_else(|| tree.procs.get(&pid).and_then(|p| p.last_task.as_ref()))
        .cloned()
        .ok_or(Errno::ESRCH)
}

pub(crate) fn may_nice(t: &Task) -> bool {
    t.creds.caps & (1 << CAP_SYS_NICE) != 0
}

/// The size of the kernel's cpumask in bytes (the host kernel's: NR_CPUS or nr_cpu_ids rounded
/// up to longs, as it was built).
fn cpumask_size() -> usize {
    crate::host::cpumask_bytes().max(ncpu().div_ceil(64) * 8)
}

/// Whether the caller may change `target`'s scheduling: itself, a task of its own user
/// (check_same_owner: the caller's euid is the target's uid or euid), or any with
/// CAP_SYS_NICE; EPERM otherwise.
fn may_change(t: &Task, target: &Arc<TaskShared>) -> Result<(), Errno> {
    if Arc::ptr_eq(target, &t.shared) || may_nice(t) {
        return Ok(());
    }
    let theirs = lock(&target.info).as_ref().map(|i| i.creds.uid);
    let euid = t.creds.uid.1;
    if theirs.is_some_and(|(r, e, _)| euid != r && euid != e) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// Implements sched_setaffinity(2): the task's mask over the sandbox's CPUs (its application
/// thread and the sentry thread that drives it then run only there, see
/// `Context::set_cpus`); another task follows at its next trap. Another user's task needs
/// CAP_SYS_NICE (EPERM), as in Linux.
pub fn sys_sched_setaffinity(t: &mut Task) -> SysResult {
    // find_process_by_pid: a negative pid names no task.
    let target = target(t, t.arg(0) as i32).map_err(|_| Errno::ESRCH)?;
    let len = (t.arg(1) as usize).min(CpuMask::MAX / 8);
    let mut mask = vec![0u8; len];
    t.copy_in(t.arg(2), &mut mask)?;
    may_change(t, &target)?;
    let cpus = CpuMask::from_bytes(&mask).ok_or(Errno::EINVAL)?;
    lock(&target.sched).cpus = cpus;
    target.cpus_changed.store(true, Ordering::Release);
    Ok(0)
}

/// Implements sched_getaffinity(2): the task's mask, in a buffer of at least the kernel's
/// cpumask size (a multiple of 8 bytes, else EINVAL); returns the bytes written.
pub fn sys_sched_getaffinity(t: &mut Task) -> SysResult {
    let len = t.arg(1) as usize;
    let target = target(t, t.arg(0) as i32).map_err(|_| Errno::ESRCH)?;
    if len * 8 < ncpu() || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let n = len.min(cpumask_size());
    let cpus = lock(&target.sched).cpus;
    t.copy_out(t.arg(2), &cpus.to_bytes(n))?;
    Ok(n as u64)
}

/// Implements sched_getscheduler(2).
pub fn sys_sched_getscheduler(t: &mut Task) -> SysResult {
    let s = *lock(&target(t, t.arg(0) as i32)?.sched);
    let reset = if s.reset_on_fork {
        SCHED_RESET_ON_FORK
    } else {
        0
    };
    Ok(u64::from(s.policy | reset))
}

fn valid_policy(p: u32) -> Result<u32, Errno> {
    match p & !SCHED_RESET_ON_FORK {
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE => Ok(0),
        SCHED_FIFO | SCHED_RR => Ok(99),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements sched_setscheduler(2): policies and priorities are recorded per task (the host
/// scheduler is not changed); real-time ones need CAP_SYS_NICE.
pub fn sys_sched_setscheduler(t: &mut Task) -> SysResult {
    let (pid, policy, param) = (t.arg(0) as i32, t.arg(1) as i32, t.arg(2));
    if policy < 0 || param == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let max = valid_policy(policy as u32)?;
    let prio: i32 = t.read_val(param)?;
    if (policy as u32 & !SCHED_RESET_ON_FORK) == SCHED_DEADLINE {
        return Err(Errno::EINVAL);
    }
    if prio < 0 || prio as u32 > max || (max > 0 && prio == 0) {
        return Err(Errno::EINVAL);
    }
    let task = target(t, pid)?;
    if max > 0 && !may_nice(t) {
        return Err(Errno::EPERM);
    }
    may_change(t, &task)?;
    let mut s = lock(&task.sched);
    s.policy = policy as u32 & !SCHED_RESET_ON_FORK;
    s.priority = prio;
    s.reset_on_fork = policy as u32 & SCHED_RESET_ON_FORK != 0;
    Ok(0)
}

/// Implements sched_getparam(2).
pub fn sys_sched_getparam(t: &mut Task) -> SysResult {
    let (pid, param) = (t.arg(0) as i32, t.arg(1));
    if param == 0 {
        return Err(Errno::EINVAL);
    }
    let prio = lock(&target(t, pid)?.sched).priority;
    t.write_val(param, &prio).map(|_| 0)
}

/// Implements sched_setparam(2).
pub fn sys_sched_setparam(t: &mut Task) -> SysResult {
    let (pid, param) = (t.arg(0) as i32, t.arg(1));
    if param == 0 {
        return Err(Errno::EINVAL);
    }
    let task = target(t, pid)?;
    let prio: i32 = t.read_val(param)?;
    let policy = lock(&task.sched).policy;
    let max = valid_policy(policy)?;
    if prio < 0 || prio as u32 > max || (max > 0 && prio == 0) {
        return Err(Errno::EINVAL);
    }
    may_change(t, &task)?;
    lock(&task.sched).priority = prio;
    Ok(0)
}

/// Implements sched_get_priority_max(2).
pub fn sys_sched_get_priority_max(t: &mut Task) -> SysResult {
    valid_policy(t.arg(0) as u32).map(u64::from)
}

/// Implements sched_get_priority_min(2).
pub fn sys_sched_get_priority_min(t: &mut Task) -> SysResult {
    valid_policy(t.arg(0) as u32).map(|m| if m > 0 { 1 } else { 0 })
}

/// Implements sched_rr_get_interval(2).
pub fn sys_sched_rr_get_interval(t: &mut Task) -> SysResult {
    target(t, t.arg(0) as i32)?;
    let ts = syscalls::abi::Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    t.write_val(t.arg(1), &ts).map(|_| 0)
}

/// The tasks getpriority(2)/setpriority(2) address: one task (PRIO_PROCESS), the process
/// group's, or the user's (`who` 0: the caller's own). ESRCH when none matches.
/// A task's real uid, as it last published it.
fn real_uid(task: &TaskShared) -> u32 {
    lock(&task.info)
        .as_ref()
        .map_or(u32::MAX, |i| i.creds.uid.0)
}

pub(crate) fn prio_targets(t: &Task, which: u32, who: i32) -> Result<Vec<Arc<TaskShared>>, Errno> {
    if who < 0 {
        return Err(Errno::ESRCH);
    }
    match which {
        PRIO_PROCESS => Ok(vec![target(t, who)?]),
        PRIO_PGRP | PRIO_USER => {
            let tree = lock(&t.k.tree);
            let own_pgid = tree.procs.get(&t.tgid()).map_or(0, |p| p.pgid);
            let (pgid, uid) = match which {
                PRIO_PGRP if who == 0 => (Some(own_pgid), None),
                PRIO_PGRP => (Some(who), None),
                _ if who == 0 => (None, Some(t.creds.uid.0)),
                _ => (None, Some(who as u32)),
            };
            // PRIO_USER: the tasks whose real uid is `who` now (set*uid moves a task).
            let found: Vec<Arc<TaskShared>> = tree
                .procs
                .values()
                .filter(|p| p.zombie.is_none())
                .filter(|p| pgid.is_none_or(|g| p.pgid == g))
                .flat_map(|p| lock(&p.tg.tasks).clone())
                .filter(|task| uid.is_none_or(|u| real_uid(task) == u))
                .collect();
            if found.is_empty() {
                Err(Errno::ESRCH)
            } else {
                Ok(found)
            }
        }
        _ => Err(Errno::EINVAL),
    }
}

/// The uid of the sentry's own init when `which`/`who` name it alone (PRIO_PROCESS of its
/// pid): a process with no task, owned by the sandbox's first user.
fn virtual_init(t: &Task, which: u32, who: i32) -> Option<u32> {
    let vinit = t.k.virtual_init.load(Ordering::Acquire);
    if which != PRIO_PROCESS || who == 0 || who != vinit {
        return None;
    }
    lock(&t.k.tree).procs.get(&vinit).map(|p| p.uid)
}

/// Implements getpriority(2): 20 - nice of the highest-priority (lowest nice) task addressed.
pub fn sys_getpriority(t: &mut Task) -> SysResult {
    let (which, who) = (t.arg(0) as u32, t.arg(1) as i32);
    if virtual_init(t, which, who).is_some() {
        return Ok((20 - t.k.virtual_init_nice.load(Ordering::Relaxed)) as u64);
    }
    let nice = prio_targets(t, which, who)?
        .iter()
        .map(|s| lock(&s.sched).nice)
        .min()
        .unwrap_or(0);
    Ok((20 - nice) as u64)
}

/// Implements setpriority(2): lowering nice needs CAP_SYS_NICE.
pub fn sys_setpriority(t: &mut Task) -> SysResult {
    let (which, who, nice) = (t.arg(0) as u32, t.arg(1) as i32, t.arg(2) as i32);
    let nice = nice.clamp(-20, 19);
    if let Some(uid) = virtual_init(t, which, who) {
        let me = t.creds.uid.1;
        let cur = t.k.virtual_init_nice.load(Ordering::Relaxed);
        if uid != me && !may_nice(t) {
            return Err(Errno::EPERM);
        }
        if nice < cur && !may_nice(t) {
            return Err(Errno::EACCES);
        }
        t.k.virtual_init_nice.store(nice, Ordering::Relaxed);
        return Ok(0);
    }
    let tasks = prio_targets(t, which, who)?;
    // Linux's set_one_prio: another user's task needs CAP_SYS_NICE (EPERM), a lower nice
    // needs it too (EACCES); the last error stands, the others are still changed.
    let mut err = None;
    for task in &tasks {
        let (ruid, euid) = lock(&task.info)
            .as_ref()
            .map_or((u32::MAX, u32::MAX), |i| (i.creds.uid.0, i.creds.uid.1));
        let me = t.creds.uid.1;
        if ruid != me && euid != me && !may_nice(t) {
            err = Some(Errno::EPERM);
            continue;
        }
        let mut s = lock(&task.sched);
        if nice < s.nice && !may_nice(t) {
            err = Some(Errno::EACCES);
            continue;
        }
        s.nice = nice;
    }
    err.map_or(Ok(0), Err)
}

/// Implements getcpu(2): the CPU the task runs on. Its sentry thread shares its application
/// thread's CPU while the pair is pinned, and its allowed CPUs always, so the sentry thread's
/// CPU is the answer when the task's mask allows it (else the first the mask allows: the pair
/// is on its way there).
pub fn sys_getcpu(t: &mut Task) -> SysResult {
    let cpus = lock(&t.shared.sched).cpus;
    let here = crate::host::sandbox_cpu(crate::host::current_cpu() as usize);
    let cpu = here
        .filter(|&c| cpus.contains(c))
        .or_else(|| cpus.iter().next())
        .unwrap_or(0) as u32;
    if t.arg(0) != 0 {
        t.write_val(t.arg(0), &cpu)?;
    }
    if t.arg(1) != 0 {
        t.write_val(t.arg(1), &0u32)?;
    }
    Ok(0)
}

/// Implements personality(2): the thread's value, kept and inherited as Linux keeps it (no
/// execution domain but Linux's exists, and none of the flags changes how the sandbox runs a
/// program); 0xffffffff only queries.
pub fn sys_personality(t: &mut Task) -> SysResult {
    let p = t.arg(0) as u32;
    let old = t.personality;
    if p != 0xffff_ffff {
        t.personality = p;
    }
    Ok(u64::from(old))
}

/// Implements membarrier(2): Linux's commands, flags, registrations (per process, cleared
/// by execve) and errors. The barrier is the host's: the same command made by the
/// application's own host process (registered with the host when the program registers), so
/// that the host's IPIs reach the program's threads on every CPU. GLOBAL costs what it costs
/// natively (an RCU grace period, ~10 ms here). Where the host refuses (an old kernel), a
/// fence in the sentry is all there is.
pub fn sys_membarrier(t: &mut Task) -> SysResult {
    let (cmd, flags) = (t.arg(0) as u32, t.arg(1) as u32);
    let flags_ok = match cmd {
        MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ => flags == 0 || flags == MEMBARRIER_CMD_FLAG_CPU,
        _ => flags == 0,
    };
    if !flags_ok {
        return Err(Errno::EINVAL);
    }
    let reg = &t.shared.tg.membarrier;
    let registered = |bit: u32| reg.load(std::sync::atomic::Ordering::Acquire) & bit != 0;
    let barrier = |t: &mut Task, host: u32| {
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        let _ = t.ctx.membarrier(host);
        Ok(0)
    };
    match cmd {
        MEMBARRIER_CMD_QUERY => Ok(u64::from(
            MEMBARRIER_CMD_GLOBAL
                | MEMBARRIER_CMD_GLOBAL_EXPEDITED
                | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
                | MEMBARRIER_CMD_PRIVATE_EXPEDITED
                | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
                | MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE
                | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
                | MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ
                | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ
                | MEMBARRIER_CMD_GET_REGISTRATIONS,
        )),
        MEMBARRIER_CMD_GLOBAL => barrier(t, MEMBARRIER_CMD_GLOBAL),
        // The processes registered for it: other sandboxed programs' stubs registered with
        // the host when they registered.
        MEMBARRIER_CMD_GLOBAL_EXPEDITED => barrier(t, MEMBARRIER_CMD_GLOBAL_EXPEDITED),
        MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
        | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
        | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
        | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ => {
            // Every private command is the host's PRIVATE_EXPEDITED (on x86 its IPI also
            // serialises the cores, and it reaches a thread in an rseq section).
            let host = match cmd {
                MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED => cmd,
                _ => MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
            };
            let _ = t.ctx.membarrier(host);
            reg.fetch_or(cmd, std::sync::atomic::Ordering::AcqRel);
            Ok(0)
        }
        // Each private command needs its registration first.
        MEMBARRIER_CMD_PRIVATE_EXPEDITED
        | MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE
        | MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ => {
            if !registered(cmd << 1) {
                return Err(Errno::EPERM);
            }
            barrier(t, MEMBARRIER_CMD_PRIVATE_EXPEDITED)
        }
        MEMBARRIER_CMD_GET_REGISTRATIONS => {
            Ok(u64::from(reg.load(std::sync::atomic::Ordering::Acquire)))
        }
        _ => Err(Errno::EINVAL),
    }
}
