// SPDX-License-Identifier: Apache-2.0
//! Exit: a thread ends, its process becomes a zombie with its last thread, its children go to
//! the reaper, its parent is told; PID 1's end is the sandbox's.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use syscalls::abi::*;

use super::signal::child_info;
use super::signal_deliver::{kill_group, send_process_signal};
use super::tree::{dumps_core, wait_status, TaskShared, ThreadGroup};
use super::{lock, ExitStatus, Kernel, Task};

/// Ends the whole process with `status` (exit_group(2)).
pub fn exit_group(t: &Task, status: ExitStatus) {
    kill_group(&t.shared.tg, status);
}

/// How PID 1 ended, if it has.
pub fn init_exit_status(k: &Kernel) -> Option<ExitStatus> {
    *lock(&k.init_exit)
}

/// Forgets a process started from outside whose first image never loaded (a failed OCI exec):
/// it never ran, so nobody hears of its end; its pid is free again.
pub fn discard_unstarted(mut t: Task) {
    t.ctx.kill_process();
    let k = t.k.clone();
    {
        let mut tree = lock(&k.tree);
        tree.threads.remove(&t.tid);
        tree.procs.remove(&t.tid);
    }
    lock(&k.detached).remove(&t.tid);
}

/// Ends the task: the last act of its sentry thread.
pub(super) fn do_exit(mut t: Task) {
    let k = t.k.clone();
    let tg = t.shared.tg.clone();
    let status = if tg.killed.load(Ordering::Acquire) {
        lock(&tg.exit_status).unwrap_or(ExitStatus::Signal(SIGKILL))
    } else {
        t.exit.unwrap_or(ExitStatus::Code(0))
    };
    exit_robust_list(&t);
    super::ptrace::on_exit(
        &t,
        status,
        matches!(status, ExitStatus::Signal(s) if dumps_core(s))
            && t.rlimit(RLIMIT_CORE) != 0
            && tg.dumpable.load(Ordering::Relaxed) != 0,
    );
    let core = matches!(status, ExitStatus::Signal(s) if dumps_core(s))
        && t.rlimit(RLIMIT_CORE) != 0
        && tg.dumpable.load(Ordering::Relaxed) != 0;
    // Leave the thread list first: a joiner woken below must not find this thread in
    // /proc/self/task any more.
    let last = {
        let mut tree = lock(&k.tree);
        tree.threads.remove(&t.tid);
        let mut tasks = lock(&tg.tasks);
        tasks.retain(|x| x.tid != t.tid);
        tasks.is_empty()
    };
    t.shared.exited.store(true, Ordering::Release);
    // An exec waiting for the other threads to go (de_thread) goes on now: on ptrace the host
    // reports an exited thread-group leader only once its other threads are gone, and the
    // exec'ing thread is one of them, so it must not wait for this thread's host side.
    tg.resume.notify_all();
    *lock(&t.shared.interrupter) = None;
    t.shared.seccomp.release();
    // CLONE_CHILD_CLEARTID: zero the word and wake a joiner.
    if t.clear_child_tid != 0 {
        let addr = t.clear_child_tid;
        if t.write_val(addr, &0u32).is_ok() {
            let key = super::futex::FutexKey {
                space: Arc::as_ptr(&t.mm) as usize,
                addr,
            };
            k.futexes.wake(key, u32::MAX, 1);
        }
    }
    if let Some(v) = t.vfork_done.take() {
        v.complete();
    }
    // The host side: the last user of an address space takes its process with it; so does
    // the first thread of a killed process whose address space no other process shares: its
    // other threads die anyway, and one the program has parked where no interrupt reaches
    // (spinning in code of its own making, even in the stub's) must not outlive it.
    let others = lock(&tg.tasks).len();
    let group_only = Arc::strong_count(&t.mm) == 1 + others;
    // CPU time: this thread's system time joins the group's; the image's user time too
    // when the stub goes with this thread.
    super::usage::task_gone(&t.shared);
    if Arc::strong_count(&t.mm) == 1 || (tg.killed.load(Ordering::Acquire) && group_only) {
        super::usage::image_gone(&tg, t.ctx.host_process());
        t.ctx.kill_process();
    } else {
        t.ctx.exit_thread();
    }
    tg.resume.notify_all(); // an exec waiting for the other threads to go
    let Task { fds, mm, fs, .. } = t;
    drop(fds); // closes files (pipe ends!) before the parent hears of the exit
    drop(mm);
    drop(fs);
    if last {
        // Its tracees go free (or die with PTRACE_O_EXITKILL).
        super::ptrace::tracer_exit(&k, tg.tgid);
        // The process's record locks go before its parent hears of the exit.
        crate::vfs::lock::release_process(tg.tgid);
        crate::ipc::exit_process(tg.tgid); // SEM_UNDO
        k.timers.remove_process(tg.tgid);
        if !tg.killed.load(Ordering::Acquire) {
            *lock(&tg.exit_status) = Some(status);
        }
        tg.core_dumped.store(core, Ordering::Release);
        become_zombie(&k, &tg, status, &t.shared);
    }
}

fn become_zombie(
    k: &Arc<Kernel>,
    tg: &Arc<ThreadGroup>,
    status: ExitStatus,
    last: &Arc<TaskShared>,
) {
    let tgid = tg.tgid;
    let mut notify: Vec<(Arc<ThreadGroup>, Option<Siginfo>)> = Vec::new();
    let mut pdeath = Vec::new();
    let init_gone;
    let leader;
    {
        let mut tree = lock(&k.tree);
        let reaper = tree.reaper_for(tgid);
        let Some(me) = tree.procs.get_mut(&tgid) else {
            return;
        };
        me.zombie = Some(status);
        me.last_task = Some(last.clone());
        leader = me.sid == tgid;
        let children: Vec<i32> = std::mem::take(&mut me.children).into_iter().collect();
        let parent = me.parent;
        // Orphans go to the reaper (init, or a subreaper).
        let reaper = if reaper == tgid { 0 } else { reaper };
        for c in children {
            if let Some(cp) = tree.procs.get_mut(&c) {
                cp.parent = reaper;
                for task in lock(&cp.tg.tasks).iter() {
                    let sig = *lock(&task.pdeath);
                    if sig > 0 {
                        pdeath.push((task.clone(), sig));
                    }
                }
            }
            let vinit = k.virtual_init.load(Ordering::Acquire);
            let dead = tree.procs.get(&c).is_some_and(|cp| cp.zombie.is_some());
            if dead && reaper == vinit && vinit != 0 {
                tree.procs.remove(&c); // the sentry's init reaps at once
                continue;
            }
            if let Some(rp) = tree.procs.get_mut(&reaper) {
                rp.children.insert(c);
                notify.push((rp.tg.clone(), None));
            }
        }
        let vinit = k.virtual_init.load(Ordering::Acquire);
        init_gone = tgid == k.main_pid.load(Ordering::Acquire);
        if parent == 0 && !init_gone {
            // A process started from outside (an OCI exec): whoever started it hears.
            let mut d = lock(&k.detached);
            if let Some(slot) = d.get_mut(&tgid) {
                *slot = Some(status);
                k.detached_cond.notify_all();
            }
        }
        if parent == 0 || (parent == vinit && vinit != 0) {
            // No parent to wait: the sentry's init reaps at once.
            if !(init_gone && parent == 0) {
                tree.procs.remove(&tgid);
                if let Some(pp) = tree.procs.get_mut(&parent) {
                    pp.children.remove(&tgid);
                }
            }
        } else if tree
            .ptraced
            .get(&tgid)
            .is_some_and(|(tracer, _)| *tracer != parent)
        {
            // Traced by another process: the parent hears of the end once the tracer has
            // collected it (parent_hears).
        } else if let Some(n) = parent_hears(&mut tree, tgid) {
            notify.push(n);
        }
    }
    for (task, sig) in pdeath {
        super::signal_deliver::send_thread_signal(k, &task, super::signal::kernel_info(sig));
    }
    if leader {
        // Its terminal's foreground group hears of the hang-up.
        crate::fsimpl::tty::session_leader_exited(k, tgid);
    }
    for (ptg, info) in notify {
        if let Some(info) = info {
            send_process_signal(k, &ptg, info);
        }
        ptg.child_events.notify_all();
    }
    if init_gone {
        // Linux kills every other process of the namespace when its init ends.
        let others: Vec<Arc<ThreadGroup>> = lock(&k.tree)
            .procs
            .values()
            .filter(|p| p.zombie.is_none() && !lock(&p.tg.tasks).is_empty())
            .map(|p| p.tg.clone())
            .collect();
        for o in others {
            kill_group(&o, ExitStatus::Signal(SIGKILL));
        }
        *lock(&k.init_exit) = Some(status);
        k.init_cond.notify_all();
    }
    let _ = wait_status(status, false);
}

/// The parent of the zombie `tgid` hears of its end: its SIGCHLD (or exit signal) and
/// its waiters to wake, to send once the tree lock is released; a parent that ignores SIGCHLD
/// (or set SA_NOCLDWAIT) reaps it at once.
pub(super) fn parent_hears(
    tree: &mut super::tree::ProcTree,
    tgid: i32,
) -> Option<(Arc<ThreadGroup>, Option<Siginfo>)> {
    let me = tree.procs.get(&tgid)?;
    let (parent, exit_signal, uid, status) = (me.parent, me.exit_signal, me.uid, me.zombie?);
    let core = me.tg.core_dumped.load(Ordering::Acquire);
    let pp = tree.procs.get(&parent)?;
    let ptg = pp.tg.clone();
    let act = lock(&ptg.sighand()).actions[SIGCHLD as usize - 1];
    let autoreap =
        exit_signal == SIGCHLD && (act.handler == SIG_IGN || act.flags & SA_NOCLDWAIT != 0);
    let info = if exit_signal > 0 && !(exit_signal == SIGCHLD && act.handler == SIG_IGN) {
        let (code, st) = match status {
            ExitStatus::Code(c) => (CLD_EXITED, c),
            ExitStatus::Signal(s) if core => (CLD_DUMPED, s),
            ExitStatus::Signal(s) => (CLD_KILLED, s),
        };
        let mut i = child_info(code, tgid, uid, st);
        i.si_signo = exit_signal;
        Some(i)
    } else {
        None
    };
    if autoreap {
        tree.procs.remove(&tgid);
        if let Some(pp) = tree.procs.get_mut(&parent) {
            pp.children.remove(&tgid);
        }
    }
    Some((ptg, info))
}

/// Sends what [`parent_hears`] found.
pub(super) fn tell_parent(k: &Kernel, n: (Arc<ThreadGroup>, Option<Siginfo>)) {
    if let Some(info) = n.1 {
        send_process_signal(k, &n.0, info);
    }
    n.0.child_events.notify_all();
}

/// Marks the robust futexes the exiting thread still holds as owner-died and wakes a waiter
/// of each, as Linux's exit_robust_list does.
fn exit_robust_list(t: &Task) {
    let (head, len) = t.robust_list;
    if head == 0 || len != 24 {
        return;
    }
    let Ok(first) = t.read_val::<u64>(head) else {
        return;
    };
    let Ok(offset) = t.read_val::<i64>(head + 8) else {
        return;
    };
    let Ok(pending) = t.read_val::<u64>(head + 16) else {
        return;
    };
    let death = |entry: u64| {
        let addr = (entry & !1).wrapping_add(offset as u64);
        let Ok(val) = t.read_val::<u32>(addr) else {
            return;
        };
        if val & FUTEX_TID_MASK != t.tid as u32 {
            return;
        }
        let new = (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        if t.write_val(addr, &new).is_ok() && val & FUTEX_WAITERS != 0 {
            let key = super::futex::FutexKey {
                space: Arc::as_ptr(&t.mm) as usize,
                addr,
            };
            t.k.futexes.wake(key, u32::MAX, 1);
        }
    };
    let mut entry = first;
    let mut n = 0;
    while entry != head && entry != 0 && n < ROBUST_LIST_LIMIT {
        let next = t.read_val::<u64>(entry & !1).unwrap_or(0);
        if entry != pending {
            death(entry);
        }
        entry = next;
        n += 1;
    }
    if pending != 0 {
        death(pending);
    }
}
