// SPDX-License-Identifier: Apache-2.0
//! ioprio_get(2) and ioprio_set(2): I/O priorities, recorded per task (block/ioprio.c). The
//! sandbox's I/O is the sentry's, so a priority changes nothing but what is read back; a new
//! task inherits its creator's, as Linux copies the io_context's priority at fork.

use syscalls::abi::*;
use syscalls::Errno;

use super::sys_sched::prio_targets;
use super::SysResult;
use crate::kernel::tree::{Sched, TaskShared};
use crate::kernel::{lock, Task};

const IOPRIO_WHO_PROCESS: u32 = 1;
const IOPRIO_WHO_USER: u32 = 3;
const IOPRIO_CLASS_NONE: u32 = 0;
const IOPRIO_CLASS_RT: u32 = 1;
const IOPRIO_CLASS_BE: u32 = 2;
const IOPRIO_CLASS_IDLE: u32 = 3;

/// Linux's ioprio_check_cap: the class must be known, RT needs CAP_SYS_ADMIN or CAP_SYS_NICE,
/// and the class NONE takes no level. (A level is 3 bits: it cannot pass IOPRIO_NR_LEVELS.)
fn check(t: &Task, ioprio: u32) -> Result<(), Errno> {
    let (class, level) = ((ioprio >> 13) & 7, ioprio & 7);
    match class {
        IOPRIO_CLASS_RT => {
            if t.creds.caps & (1 << CAP_SYS_ADMIN | 1 << CAP_SYS_NICE) == 0 {
                return Err(Errno::EPERM);
            }
        }
        IOPRIO_CLASS_BE | IOPRIO_CLASS_IDLE => {}
        IOPRIO_CLASS_NONE if level == 0 => {}
        _ => return Err(Errno::EINVAL),
    }
    Ok(())
}

/// The targets of `which`/`who` (ioprio's WHO_* are getpriority's PRIO_* plus one).
fn targets(t: &Task, which: u32, who: i32) -> Result<Vec<std::sync::Arc<TaskShared>>, Errno> {
    if !(IOPRIO_WHO_PROCESS..=IOPRIO_WHO_USER).contains(&which) {
        return Err(Errno::EINVAL);
    }
    prio_targets(t, which - 1, who)
}

/// The priority a task's I/O gets: its own, or (none set) one from its policy and nice value.
fn effective(s: &Sched) -> u32 {
    if (s.ioprio >> 13) & 7 != IOPRIO_CLASS_NONE {
        return s.ioprio;
    }
    let class = match s.policy {
        SCHED_IDLE => IOPRIO_CLASS_IDLE,
        SCHED_FIFO | SCHED_RR => IOPRIO_CLASS_RT,
        _ => IOPRIO_CLASS_BE,
    };
    class << 13 | ((s.nice + 20) / 5) as u32
}

/// Implements ioprio_get(2): a task's own value; for a group or a user, the best (lowest) of
/// their tasks' effective priorities.
pub fn sys_ioprio_get(t: &mut Task) -> SysResult {
    let (which, who) = (t.arg(0) as u32, t.arg(1) as i32);
    let tasks = targets(t, which, who)?;
    let v = if which == IOPRIO_WHO_PROCESS {
        tasks.first().map_or(0, |s| lock(&s.sched).ioprio)
    } else {
        tasks
            .iter()
            .map(|s| effective(&lock(&s.sched)))
            .min()
            .unwrap_or(0)
    };
    Ok(u64::from(v))
}

/// Implements ioprio_set(2): a task whose owner is not the caller (real or effective uid)
/// needs CAP_SYS_NICE.
pub fn sys_ioprio_set(t: &mut Task) -> SysResult {
    let (which, who, ioprio) = (t.arg(0) as u32, t.arg(1) as i32, t.arg(2) as u32);
    check(t, ioprio)?;
    let tasks = targets(t, which, who)?;
    let nice_cap = t.creds.caps & (1 << CAP_SYS_NICE) != 0;
    for task in &tasks {
        if !nice_cap {
            let uid = lock(&t.k.tree)
                .procs
                .get(&task.tg.tgid)
                .map(|p| p.uid)
                .ok_or(Errno::ESRCH)?;
            if uid != t.creds.uid.1 && uid != t.creds.uid.0 {
                return Err(Errno::EPERM);
            }
        }
        lock(&task.sched).ioprio = ioprio & 0xffff;
    }
    Ok(0)
}
