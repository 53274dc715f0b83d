// SPDX-License-Identifier: Apache-2.0
//! clone(2), fork(2), vfork(2): new threads and processes, each driven by a sentry thread of
//! its own from birth (the platform keeps the new host thread parked until then).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use syscalls::abi::*;
use syscalls::Errno;

use super::tree::{Proc, TaskShared, ThreadGroup};
use super::{lock, ExitStatus, Task, VforkDone};
use crate::platform::NewContext;

/// clone flags (the ABI's, from `syscalls::abi`) and the set of namespace flags.
pub mod flags {
    pub use syscalls::abi::{
        CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_CLEAR_SIGHAND, CLONE_DETACHED, CLONE_FILES,
        CLONE_FS, CLONE_INTO_CGROUP, CLONE_IO, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET,
        CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS, CLONE_PARENT,
        CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_PTRACE, CLONE_SETTLS, CLONE_SIGHAND, CLONE_SYSVSEM,
        CLONE_THREAD, CLONE_UNTRACED, CLONE_VFORK, CLONE_VM, CSIGNAL,
    };
    /// Every flag that asks for a new namespace.
    pub const NAMESPACES: u64 = CLONE_NEWNS
        | CLONE_NEWCGROUP
        | CLONE_NEWUTS
        | CLONE_NEWIPC
        | CLONE_NEWUSER
        | CLONE_NEWPID
        | CLONE_NEWNET;
}
use flags::NAMESPACES;

/// The arguments of clone(2)/clone3(2).
#[derive(Debug, Clone, Copy, Default)]
pub struct CloneArgs {
    /// Flags, exit signal in the low byte for clone(2).
    pub flags: u64,
    /// The exit signal (clone3's separate field).
    pub exit_signal: i32,
    /// The child's stack pointer, or 0.
    pub stack: u64,
    /// Where CLONE_PARENT_SETTID writes the tid.
    pub parent_tid: u64,
    /// Where CLONE_CHILD_SETTID writes and CLONE_CHILD_CLEARTID clears.
    pub child_tid: u64,
    /// CLONE_SETTLS's new fs base.
    pub tls: u64,
    /// Where CLONE_PIDFD writes the new process's pidfd (clone(2): `parent_tid`).
    pub pidfd: u64,
}

fn validate(a: &CloneArgs) -> Result<(), Errno> {
    let f = a.flags;
    if f & CLONE_THREAD != 0 && f & CLONE_SIGHAND == 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_SIGHAND != 0 && f & CLONE_VM == 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_FS != 0 && f & CLONE_NEWNS != 0 {
        return Err(Errno::EINVAL);
    }
    if f & (CLONE_THREAD | CLONE_PARENT) != 0 && a.exit_signal != 0 && f & CLONE_THREAD != 0 {
        // A thread's exit signal is ignored; Linux does not reject it.
    }
    if !(0..=NSIG).contains(&a.exit_signal) {
        return Err(Errno::EINVAL);
    }
    // A pidfd names a process here: none for a new thread (Linux 6.9's PIDFD_THREAD
    // descriptors are not modelled), nor with CLONE_DETACHED.
    if f & CLONE_PIDFD != 0 && f & (CLONE_THREAD | CLONE_DETACHED) != 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_INTO_CGROUP != 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_CLEAR_SIGHAND != 0 && f & CLONE_SIGHAND != 0 {
        return Err(Errno::EINVAL);
    }
    if f & NAMESPACES & !CLONE_NEWNS != 0 {
        // Other namespaces inside the sandbox are refused as Linux refuses an unprivileged
        // caller.
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// Creates a thread or process as clone(2) does; returns the child's tid.
pub fn clone_task(t: &mut Task, a: CloneArgs) -> Result<i32, Errno> {
    validate(&a)?;
    let f = a.flags;
    // CLONE_NEWTIME comes from clone3 only (clone(2)'s low byte is the exit signal).
    if f & CLONE_NEWTIME != 0 && t.creds.caps & (1 << CAP_SYS_ADMIN) == 0 {
        return Err(Errno::EPERM);
    }
    let k = t.k.clone();
    let tid = lock(&k.tree).alloc_pid().ok_or(Errno::EAGAIN)?;
    // --pids and --memory: a task and its sentry thread, given back when that thread ends.
    let slot = crate::limits::TaskSlot::take()?;
    if f & CLONE_THREAD == 0 {
        let nproc = t.rlimit(RLIMIT_NPROC);
        let count = lock(&k.tree)
            .procs
            .values()
            .filter(|p| p.zombie.is_none())
            .count() as u64;
        if count >= nproc && t.creds.uid.1 != 0 {
            return Err(Errno::EAGAIN);
        }
    }
    // The descriptor table's copy first: it may fail (EMFILE past fs.nr_open).
    let fds_copy = if f & CLONE_FILES == 0 {
        Some(lock(&t.fds).duplicate()?)
    } else {
        None
    };
    // The host side, and the memory manager copied under its lock so nothing changes between.
    let (pending, mm): (Box<dyn NewContext>, _) = if f & CLONE_VM != 0 {
        let p = t.ctx.new_thread().map_err(|e| {
            tracing::error!("clone: {e}");
            Errno::EAGAIN
        })?;
        (p, t.mm.clone())
    } else {
        let guard = lock(&t.mm);
        // --memory: the child's copy of the committed memory must fit.
        if !crate::limits::memory().fits(guard.committed_bytes()) {
            return Err(Errno::ENOMEM);
        }
        let p = t.ctx.fork().map_err(|e| {
            tracing::error!("fork: {e}");
            Errno::EAGAIN
        })?;
        let child = guard.fork(p.address_space());
        crate::ipc::shm::address_space_forked(child.vmas(), t.tgid());
        (p, Arc::new(Mutex::new(child)))
    };
    let fds = match fds_copy {
        Some(copy) => Arc::new(Mutex::new(copy)),
        None => t.fds.clone(),
    };
    let fs = if f & CLONE_FS != 0 {
        t.fs.clone()
    } else {
        let mut fs = lock(&t.fs).clone();
        if f & CLONE_NEWNS != 0 {
            if t.creds.caps & (1 << CAP_SYS_ADMIN) == 0 {
                return Err(Errno::EPERM);
            }
            fs.mnt = fs.mnt.unshare();
        }
        Arc::new(Mutex::new(fs))
    };
    let limits = if f & CLONE_THREAD != 0 {
        t.limits.clone()
    } else {
        Arc::new(Mutex::new(*lock(&t.limits)))
    };
    let tg = if f & CLONE_THREAD != 0 {
        t.shared.tg.clone()
    } else {
        let sighand = if f & CLONE_SIGHAND != 0 {
            t.sighand()
        } else {
            let mut copy = lock(&t.sighand()).clone();
            if f & CLONE_CLEAR_SIGHAND != 0 {
                for a in copy.actions.iter_mut() {
                    if a.handler != SIG_IGN {
                        *a = KernelSigaction::default();
                    }
                }
            }
            Arc::new(Mutex::new(copy))
        };
        let tg = ThreadGroup::new(tid, sighand);
        // A new process has its parent's OOM adjustment (it is the signal struct's).
        let parent = &t.shared.tg;
        for (from, to) in [
            (&parent.oom_score_adj, &tg.oom_score_adj),
            (&parent.oom_score_adj_min, &tg.oom_score_adj_min),
        ] {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        tg
    };
    let shared = TaskShared::new(tid, tg.clone(), t.sigmask());
    let time = lock(&t.shared.time).for_child(f & CLONE_VM != 0, f & CLONE_NEWTIME != 0);
    shared.set_time(time);
    *lock(&shared.sched) = lock(&t.shared.sched).inherited();
    if !lock(&shared.sched).cpus.is_all() {
        shared.cpus_changed.store(true, Ordering::Release);
    }
    let mut regs = t.regs;
    regs.rax = 0;
    if a.stack != 0 {
        regs.rsp = a.stack;
    }
    if f & CLONE_SETTLS != 0 {
        regs.fs_base = a.tls;
    }
    let vfork = (f & CLONE_VFORK != 0).then(|| Arc::new(VforkDone::default()));
    let child_space = pending.address_space();
    if f & CLONE_CHILD_SETTID != 0 {
        let _ = child_space.write(a.child_tid, &tid.to_le_bytes());
    }
    if f & CLONE_PARENT_SETTID != 0 {
        if let Err(e) = t.write_val(a.parent_tid, &tid) {
            abandon(pending, f & CLONE_VM != 0);
            return Err(e);
        }
    }
    if f & CLONE_PIDFD != 0 {
        // Installed close-on-exec in the creator's table before the child runs; a pointer
        // that cannot be written fails the clone (EFAULT) with no child made.
        let fd = match crate::syscalls::pidfd_install(t, tid, &tg) {
            Ok(fd) => fd,
            Err(e) => {
                abandon(pending, f & CLONE_VM != 0);
                return Err(e);
            }
        };
        if let Err(e) = t.write_val(a.pidfd, &fd) {
            let _ = t.fds().remove(fd);
            abandon(pending, f & CLONE_VM != 0);
            return Err(e);
        }
    }
    // Enter the process table.
    {
        let mut tree = lock(&k.tree);
        tree.threads.insert(tid, shared.clone());
        {
            // The seccomp filters are copied under the creator's thread list lock, so a TSYNC
            // by another thread either reaches the new one or happened before the copy.
            let mut parent_tasks = lock(&t.shared.tg.tasks);
            t.shared.seccomp.inherit_into(&shared.seccomp);
            if Arc::ptr_eq(&tg, &t.shared.tg) {
                parent_tasks.push(shared.clone());
            } else {
                drop(parent_tasks);
                lock(&tg.tasks).push(shared.clone());
            }
        }
        if f & CLONE_THREAD == 0 {
            *lock(&tg.leader) = Some(shared.clone());
        }
        if f & CLONE_THREAD == 0 {
            let me = t.tgid();
            let (parent, pgid, sid, uid, no_ctty) = match tree.procs.get(&me) {
                Some(p) => (
                    if f & CLONE_PARENT != 0 { p.parent } else { me },
                    p.pgid,
                    p.sid,
                    p.uid,
                    p.no_ctty,
                ),
                None => (me, me, me, t.creds.uid.0, false),
            };
            let exit_signal = if a.exit_signal != 0 {
                a.exit_signal
            } else {
                (f & CSIGNAL) as i32
            };
            tree.procs.insert(
                tid,
                Proc {
                    tg: tg.clone(),
                    parent,
                    children: Default::default(),
                    pgid,
                    sid,
                    zombie: None,
                    last_task: None,
                    exit_signal,
                    report: None,
                    subreaper: false,
                    uid,
                    execed: false,
                    no_ctty,
                },
            );
            if let Some(pp) = tree.procs.get_mut(&parent) {
                pp.children.insert(tid);
            }
        }
    }
    *lock(&shared.info) = Some(super::TaskInfo {
        mm: Arc::downgrade(&mm),
        fds: Arc::downgrade(&fds),
        fs: Arc::downgrade(&fs),
        limits: limits.clone(),
        comm: t.comm,
        creds: t.creds.clone(),
        host_pid: if f & CLONE_VM != 0 {
            t.ctx.host_process()
        } else {
            0
        },
        no_new_privs: t.no_new_privs,
    });
    let child = ChildSpec {
        tid,
        shared,
        regs,
        mm,
        fds,
        fs,
        limits,
        creds: {
            let mut c = t.creds.clone();
            c.keys = super::keys::TaskKeys::for_clone(&t.creds, f & CLONE_THREAD != 0);
            c
        },
        altstack: if f & CLONE_VM != 0 && f & CLONE_VFORK == 0 {
            (0, 2, 0)
        } else {
            t.altstack
        },
        clear_child_tid: if f & CLONE_CHILD_CLEARTID != 0 {
            a.child_tid
        } else {
            0
        },
        comm: t.comm,
        slot,
        vfork_done: vfork.clone(),
        no_new_privs: t.no_new_privs,
        // The child's default is its creator's current value (Linux's copy_process).
        timer_slack: (t.timer_slack.0, t.timer_slack.0),
        mempolicy: t.mempolicy,
        personality: t.personality,
    };
    let traced_event = super::ptrace::on_clone(t, &child.shared, f, {
        if a.exit_signal != 0 {
            a.exit_signal
        } else {
            (f & CSIGNAL) as i32
        }
    });
    spawn(k.clone(), pending, child);
    if let Some((event, option)) = traced_event {
        super::ptrace::event(t, option, event, tid as u64);
    }
    if let Some(v) = vfork {
        v.wait();
        super::ptrace::event(
            t,
            PTRACE_O_TRACEVFORKDONE,
            PTRACE_EVENT_VFORK_DONE,
            tid as u64,
        );
    }
    Ok(tid)
}

/// What a new task starts with.
pub struct ChildSpec {
    tid: i32,
    /// Its place in the sandbox's budgets, kept while its sentry thread runs.
    slot: crate::limits::TaskSlot,
    shared: Arc<TaskShared>,
    regs: crate::platform::Registers,
    mm: Arc<Mutex<crate::mm::MemoryManager>>,
    fds: Arc<Mutex<crate::vfs::FdTable>>,
    fs: Arc<Mutex<super::FsContext>>,
    limits: Arc<Mutex<[Rlimit; RLIM_NLIMITS as usize]>>,
    creds: super::Credentials,
    altstack: (u64, i32, u64),
    clear_child_tid: u64,
    comm: [u8; 16],
    vfork_done: Option<Arc<VforkDone>>,
    no_new_privs: bool,
    timer_slack: (u64, u64),
    mempolicy: Option<crate::mm::MemPolicy>,
    personality: u32,
}

/// Starts the sentry thread of a new task: it adopts the parked host thread and runs it.
/// Ends the host side of a clone that fails after it was made (a pointer the creator gave
/// could not be written): the new host thread (`same_space`: CLONE_VM) or process would
/// otherwise wait for a sentry thread for ever (on ptrace, an orphan stub once the sandbox
/// ends).
fn abandon(pending: Box<dyn NewContext>, same_space: bool) {
    match pending.adopt() {
        Ok(mut c) if same_space => c.exit_thread(),
        Ok(mut c) => c.kill_process(),
        Err(e) => tracing::error!("clone: abandoning the new thread: {e}"),
    }
}

pub fn spawn(k: Arc<super::Kernel>, pending: Box<dyn NewContext>, c: ChildSpec) {
    let name = format!("task-{}", c.tid);
    let shared = c.shared.clone();
    let started = std::thread::Builder::new().name(name).spawn(move || {
        let _slot = c.slot;
        let ctx: Box<dyn crate::platform::Context> = match pending.adopt() {
            Ok(ctx) => ctx,
            Err(e) => {
                // (The program may have wrecked its own stub: a thread that never starts.)
                // The process dies, and this task goes through the usual exit on a context
                // with nothing behind it, so that it leaves the thread list and the process
                // can end and be waited for.
                tracing::error!("task {}: could not take over its thread: {e}", c.tid);
                super::signal_deliver::kill_group(&c.shared.tg, ExitStatus::Signal(SIGKILL));
                Box::new(crate::platform::Detached)
            }
        };
        *lock(&c.shared.interrupter) = Some(ctx.interrupter());
        let t = Task {
            k,
            tid: c.tid,
            shared: c.shared,
            regs: c.regs,
            ctx,
            mm: c.mm,
            fds: c.fds,
            fs: c.fs,
            creds: c.creds,
            altstack: c.altstack,
            limits: c.limits,
            clear_child_tid: c.clear_child_tid,
            robust_list: (0, 0),
            comm: c.comm,
            exit: None,
            vfork_done: c.vfork_done,
            syscall_return: false,
            pdeath_signal: 0,
            saved_sigmask: None,
            no_new_privs: c.no_new_privs,
            timer_slack: c.timer_slack,
            mempolicy: c.mempolicy,
            personality: c.personality,
            restart: None,
        };
        super::run(t);
    });
    if let Err(e) = started {
        tracing::error!("could not start a sentry thread: {e}");
        shared.exited.store(true, Ordering::Release);
    }
}
