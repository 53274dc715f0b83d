// SPDX-License-Identifier: Apache-2.0
//! ptrace(2) inside the sandbox: the sentry's own emulation (gVisor
//! `pkg/sentry/kernel/ptrace.go`, Linux `kernel/ptrace.c`). The host's ptrace is the ptrace
//! platform's business and never reaches the program.
//!
//! Each task has a [`Ptrace`] record (in its [`TaskShared`]): who traces it, with which
//! options, and its ptrace-stop. A tracee in a ptrace-stop blocks its own sentry thread in
//! [`stop`] (interruptibly only by SIGKILL, an exec by another thread, or its tracer going
//! away). While it is stopped, the tracer's requests that need the tracee's own state
//! (registers, FPU, memory through its platform context) are closures queued to the tracee's
//! thread and run there ([`on_stopped`]), so the `Task` keeps a single owner. Which tasks a
//! process traces sits in the process table ([`ProcTree::ptraced`]), under the tree lock, for
//! wait(2). Lock order: the tree lock before a task's ptrace lock; nothing else is taken under
//! a ptrace lock but a thread group's `stopped`.
//!
//! What differs from Linux:
//! - The tracer is a whole process (Linux: one thread): any of its threads may issue requests
//!   and wait, and its tracees are detached when its last thread exits.
//! - PTRACE_SYSEMU_SINGLESTEP: EIO. PTRACE_SINGLESTEP sets the trap flag in the registers the
//!   platform resumes with; a step over a `syscall` instruction traps after the next one.
//! - The real parent of a traced child is told of its exit at once (Linux waits until the
//!   tracer has collected it).
//! - Debug registers read as 0 through PEEKUSER; writing anything but 0 to them gives EIO.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use syscalls::abi::*;
use syscalls::Errno;

use super::signal::{child_info, kernel_info, user_info};
use super::signal_deliver::{kill_group, send_process_signal, send_thread_signal};
use super::tree::{wait_status, TaskShared};
use super::{lock, ExitStatus, Kernel, Task};
use crate::platform::Registers;

/// Work a tracer hands to a stopped tracee's thread.
type Request = Box<dyn FnOnce(&mut Task) + Send>;

/// Why a tracee is in a ptrace-stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// Signal-delivery-stop.
    Signal,
    /// Group-stop (job control) while traced.
    Group,
    /// A PTRACE_EVENT_* stop.
    Event(u32),
    /// Syscall-enter-stop.
    SyscallEnter,
    /// Syscall-exit-stop.
    SyscallExit,
}

/// How the tracer resumed the tracee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// PTRACE_CONT.
    #[default]
    Cont,
    /// PTRACE_SYSCALL: stop at the next syscall's entry and exit.
    Syscall,
    /// PTRACE_SYSEMU: stop at the next syscall's entry and do not run it.
    Sysemu,
    /// PTRACE_SINGLESTEP: one instruction (the trap flag), then SIGTRAP.
    Step,
}

#[derive(Debug, Clone, Copy)]
struct Resume {
    mode: Mode,
    sig: i32,
    listen: bool,
}

/// A task's ptrace state.
#[derive(Default)]
pub struct PtraceState {
    /// The tracing process.
    pub tracer: Option<i32>,
    /// Attached by PTRACE_SEIZE.
    pub seized: bool,
    /// PTRACE_O_* options.
    pub options: u32,
    /// How the tracer last resumed it.
    pub mode: Mode,
    /// The ptrace-stop it is in.
    pub stop: Option<StopKind>,
    /// The stop's code (wait status >> 8) until the tracer collects it.
    pub report: Option<i32>,
    /// The task's wait status once it has exited, until the tracer collects it.
    pub exit_report: Option<(i32, ExitStatus)>,
    /// The stop's siginfo (GETSIGINFO).
    pub siginfo: Option<Siginfo>,
    /// PTRACE_GETEVENTMSG.
    pub eventmsg: u64,
    /// PTRACE_LISTEN: stopped, waiting for the group stop to end or an interrupt.
    pub listening: bool,
    /// The group-stop generation it last reported.
    pub seen_stop_gen: u64,
    /// The trap flag is set for PTRACE_SINGLESTEP (Linux's TIF_FORCED_TF).
    pub forced_tf: bool,
    resume: Option<Resume>,
    requests: VecDeque<Request>,
}

/// What other threads touch of a task's tracing.
#[derive(Default)]
pub struct Ptrace {
    /// The state.
    pub state: Mutex<PtraceState>,
    /// Notified when the state changes.
    pub cond: Condvar,
    /// Whether a tracer is attached (the fast path of every syscall and signal).
    pub traced: AtomicBool,
    /// PTRACE_INTERRUPT is pending (a syscall's wait ends as for a signal).
    pub interrupt: AtomicBool,
}

impl Ptrace {
    /// Wakes a tracee waiting in a ptrace-stop (SIGKILL, a detach).
    pub fn wake(&self) {
        drop(lock(&self.state));
        self.cond.notify_all();
    }

    /// The tracer's pid (0 if none), for /proc/[pid]/status.
    pub fn tracer_pid(&self) -> i32 {
        if !self.traced.load(Ordering::Acquire) {
            return 0;
        }
        lock(&self.state).tracer.unwrap_or(0)
    }
}

/// The trap flag.
const TF: u64 = 0x100;

fn wait_code(code: i32) -> i32 {
    (code << 8) | 0x7f
}

/// Tells the tracer of a stop or an exit: SIGCHLD (unless it ignores it or asked for
/// SA_NOCLDSTOP for a stop) and a wake-up of its waiters.
fn notify_tracer(k: &Kernel, tracer: i32, tid: i32, code: i32, si_status: i32, uid: u32) {
    let ttg = lock(&k.tree).procs.get(&tracer).map(|p| p.tg.clone());
    let Some(ttg) = ttg else { return };
    let act = lock(&ttg.sighand()).actions[SIGCHLD as usize - 1];
    let stopped = code == CLD_TRAPPED;
    if act.handler != SIG_IGN && !(stopped && act.flags & SA_NOCLDSTOP != 0) {
        send_process_signal(k, &ttg, child_info(code, tid, uid, si_status));
    }
    ttg.child_events.notify_all();
}

/// Whether the task is traced.
pub fn traced(t: &Task) -> bool {
    t.shared.ptrace.traced.load(Ordering::Acquire)
}

/// Whether the task is traced by a task without CAP_SYS_PTRACE (an exec then gains no
/// privileges: Linux's LSM_UNSAFE_PTRACE without ptracer_capable).
pub fn traced_unprivileged(t: &Task) -> bool {
    if !traced(t) {
        return false;
    }
    let Some(tracer) = lock(&t.shared.ptrace.state).tracer else {
        return false;
    };
    let tracer = lock(&t.k.tree).threads.get(&tracer).cloned();
    !tracer.is_some_and(|tr| {
        lock(&tr.info)
            .as_ref()
            .is_some_and(|i| i.creds.caps & (1 << CAP_SYS_PTRACE) != 0)
    })
}

/// The task's options (0 when untraced).
pub fn options(t: &Task) -> u32 {
    if !traced(t) {
        return 0;
    }
    lock(&t.shared.ptrace.state).options
}

/// The mode the tracer last resumed the task with.
pub fn mode(t: &Task) -> Mode {
    if !traced(t) {
        return Mode::Cont;
    }
    lock(&t.shared.ptrace.state).mode
}

fn must_leave(t: &Task, exiting: bool) -> bool {
    let tg = &t.shared.tg;
    t.shared.must_exit.load(Ordering::Acquire)
        || if exiting {
            tg.sigkilled.load(Ordering::Acquire)
        } else {
            tg.killed.load(Ordering::Acquire)
        }
}

/// Puts the task in a ptrace-stop of `kind` with wait code `code` (WSTOPSIG | event << 8) until
/// its tracer resumes it; the signal the tracer resumed it with, or None when it is not traced,
/// was detached without one being asked, or must die. `exiting`: the PTRACE_EVENT_EXIT stop,
/// which only SIGKILL ends.
pub fn stop(
    t: &mut Task,
    kind: StopKind,
    code: i32,
    info: Option<Siginfo>,
    exiting: bool,
) -> Option<i32> {
    let shared = t.shared.clone();
    let p = &shared.ptrace;
    let tracer = {
        let mut s = lock(&p.state);
        let tracer = s.tracer?;
        if must_leave(t, exiting) {
            return None;
        }
        s.stop = Some(kind);
        s.report = Some(code);
        s.siginfo = info.or_else(|| {
            // Linux's ptrace_notify: SIGTRAP with the stop code as si_code.
            (kind != StopKind::Group).then(|| {
                let mut i = user_info(SIGTRAP, code, t.tid, t.creds.uid.0);
                i.si_code = code;
                i
            })
        });
        s.resume = None;
        s.listening = false;
        tracer
    };
    p.cond.notify_all();
    t.shared.run_state.store(b't', Ordering::Relaxed);
    notify_tracer(&t.k, tracer, t.tid, CLD_TRAPPED, code & 0xff, t.creds.uid.0);
    let tg = t.shared.tg.clone();
    let mut result = None;
    let mut s = lock(&p.state);
    loop {
        if must_leave(t, exiting) {
            break;
        }
        if let Some(r) = s.requests.pop_front() {
            drop(s);
            r(t);
            s = lock(&p.state);
            continue;
        }
        if let Some(r) = s.resume.take() {
            if r.listen {
                s.listening = true;
                s.report = None;
                continue;
            }
            s.mode = r.mode;
            result = Some(r.sig);
            if r.mode == Mode::Step {
                if t.regs.eflags & TF == 0 {
                    t.regs.eflags |= TF;
                    s.forced_tf = true;
                }
            } else if std::mem::take(&mut s.forced_tf) {
                t.regs.eflags &= !TF;
            }
            break;
        }
        if s.tracer.is_none() {
            break;
        }
        if s.listening && (lock(&tg.stopped).is_none() || p.interrupt.swap(false, Ordering::AcqRel))
        {
            // A listening tracee traps again when the group stop ends (or on an interrupt).
            s.listening = false;
            let c = SIGTRAP | ((PTRACE_EVENT_STOP as i32) << 8);
            s.report = Some(c);
            s.stop = Some(StopKind::Event(PTRACE_EVENT_STOP));
            let tracer = s.tracer;
            drop(s);
            if let Some(tr) = tracer {
                notify_tracer(&t.k, tr, t.tid, CLD_TRAPPED, SIGTRAP, t.creds.uid.0);
            }
            s = lock(&p.state);
            continue;
        }
        s = p
            .cond
            .wait_timeout(s, Duration::from_millis(200))
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
    }
    s.stop = None;
    s.report = None;
    s.listening = false;
    // Requests that came too late find the tracee gone (their senders drop: ESRCH).
    let late: Vec<Request> = s.requests.drain(..).collect();
    drop(s);
    drop(late);
    t.shared.run_state.store(b'R', Ordering::Relaxed);
    result
}

/// A PTRACE_EVENT_* stop if the tracer asked for `event` (`option`), with `msg` for
/// PTRACE_GETEVENTMSG. Whether the stop happened.
pub fn event(t: &mut Task, option: u32, event: u32, msg: u64) -> bool {
    if options(t) & option == 0 {
        return false;
    }
    lock(&t.shared.ptrace.state).eventmsg = msg;
    let code = SIGTRAP | ((event as i32) << 8);
    stop(
        t,
        StopKind::Event(event),
        code,
        None,
        event == PTRACE_EVENT_EXIT,
    );
    true
}

/// After a successful execve: PTRACE_EVENT_EXEC, or the SIGTRAP a tracee attached without
/// PTRACE_SEIZE gets.
pub fn on_exec(t: &mut Task, old_tid: i32) {
    if !traced(t) {
        return;
    }
    if event(t, PTRACE_O_TRACEEXEC, PTRACE_EVENT_EXEC, old_tid as u64) {
        return;
    }
    if !lock(&t.shared.ptrace.state).seized {
        let info = user_info(SIGTRAP, 0, t.tgid(), t.creds.uid.0);
        send_thread_signal(&t.k, &t.shared.clone(), info);
    }
}

/// The group stop the task has to report to its tracer (its stop signal and whether it was
/// seized), if one is in force and not yet reported.
pub fn take_group_stop(t: &Task) -> Option<(i32, bool)> {
    if !traced(t) {
        return None;
    }
    let sig = (*lock(&t.shared.tg.stopped))?;
    let gen = t.shared.tg.stop_gen.load(Ordering::Acquire);
    let mut s = lock(&t.shared.ptrace.state);
    s.tracer?;
    if s.seen_stop_gen == gen {
        return None;
    }
    s.seen_stop_gen = gen;
    Some((sig, s.seized))
}

/// Whether a group-stopped, untraced waiter must wake to report its stop to a new tracer.
pub fn group_stop_unreported(shared: &TaskShared) -> bool {
    if !shared.ptrace.traced.load(Ordering::Acquire) {
        return false;
    }
    let gen = shared.tg.stop_gen.load(Ordering::Acquire);
    lock(&shared.ptrace.state).seen_stop_gen != gen
}

/// The tracee is exiting with `status`: record it for its tracer's wait and tell the tracer.
pub fn on_exit(t: &Task, status: ExitStatus, core: bool) {
    if !traced(t) {
        return;
    }
    let (tracer, parent) = {
        let tree = lock(&t.k.tree);
        let parent = tree.procs.get(&t.tgid()).map(|p| p.parent).unwrap_or(0);
        let tracer = tree.ptraced.get(&t.tid).map(|(tr, _)| *tr);
        (tracer, parent)
    };
    let Some(tracer) = tracer else { return };
    lock(&t.shared.ptrace.state).exit_report = Some((wait_status(status, core), status));
    t.shared.ptrace.traced.store(false, Ordering::Release);
    // The real parent that traces its child hears of the whole process's end as its parent.
    let last = lock(&t.shared.tg.tasks).len() <= 1;
    if tracer == parent && t.tid == t.tgid() && last {
        if let Some(p) = lock(&t.k.tree).procs.get(&tracer) {
            p.tg.child_events.notify_all();
        }
        return;
    }
    let (code, st) = match status {
        ExitStatus::Code(c) => (CLD_EXITED, c),
        ExitStatus::Signal(s) => (if core { CLD_DUMPED } else { CLD_KILLED }, s),
    };
    notify_tracer(&t.k, tracer, t.tid, code, st, t.creds.uid.0);
}

/// The process `tgid` ended: its tracees are detached (killed with PTRACE_O_EXITKILL).
pub fn tracer_exit(k: &Kernel, tgid: i32) {
    let tracees: Vec<Arc<TaskShared>> = {
        let mut tree = lock(&k.tree);
        let mine: Vec<i32> = tree
            .ptraced
            .iter()
            .filter(|(_, (tr, _))| *tr == tgid)
            .map(|(tid, _)| *tid)
            .collect();
        mine.iter()
            .filter_map(|tid| tree.ptraced.remove(tid).map(|(_, s)| s))
            .collect()
    };
    for ts in tracees {
        let exitkill = {
            let mut s = lock(&ts.ptrace.state);
            let kill = s.options & PTRACE_O_EXITKILL != 0;
            s.tracer = None;
            s.options = 0;
            s.mode = Mode::Cont;
            s.seized = false;
            kill
        };
        ts.ptrace.traced.store(false, Ordering::Release);
        ts.ptrace.interrupt.store(false, Ordering::Release);
        if exitkill {
            sigkill(&ts);
        }
        ts.ptrace.cond.notify_all();
        ts.tg.resume.notify_all();
        ts.kick();
        // The real parent of a process that ended hears of it now.
        let gone = lock(&ts.ptrace.state).exit_report.is_some();
        if gone && ts.tid == ts.tg.tgid {
            let n = super::exit::parent_hears(&mut lock(&k.tree), ts.tid);
            if let Some(n) = n {
                super::exit::tell_parent(k, n);
            }
        }
    }
}

fn sigkill(ts: &Arc<TaskShared>) {
    ts.tg.sigkilled.store(true, Ordering::Release);
    kill_group(&ts.tg, ExitStatus::Signal(SIGKILL));
    for x in lock(&ts.tg.tasks).iter() {
        x.ptrace.wake();
    }
}

/// A new task `child` made by clone(2) with `flags` (and exit signal `exit_signal`): attached
/// to the creator's tracer when the creator's options (or CLONE_PTRACE) say so, before it ever
/// runs. The event to report, if any.
pub fn on_clone(
    t: &Task,
    child: &Arc<TaskShared>,
    flags: u64,
    exit_signal: i32,
) -> Option<(u32, u32)> {
    if !traced(t) || flags & CLONE_UNTRACED != 0 {
        return None;
    }
    let (ev, opt) = if flags & CLONE_VFORK != 0 {
        (PTRACE_EVENT_VFORK, PTRACE_O_TRACEVFORK)
    } else if flags & CLONE_THREAD != 0 || exit_signal != SIGCHLD {
        (PTRACE_EVENT_CLONE, PTRACE_O_TRACECLONE)
    } else {
        (PTRACE_EVENT_FORK, PTRACE_O_TRACEFORK)
    };
    let (tracer, seized, options) = {
        let s = lock(&t.shared.ptrace.state);
        (s.tracer?, s.seized, s.options)
    };
    if options & opt == 0 && flags & CLONE_PTRACE == 0 {
        return None;
    }
    lock(&t.k.tree)
        .ptraced
        .insert(child.tid, (tracer, child.clone()));
    {
        let mut s = lock(&child.ptrace.state);
        s.tracer = Some(tracer);
        s.seized = seized;
        s.options = options;
    }
    child.ptrace.traced.store(true, Ordering::Release);
    if seized {
        child.ptrace.interrupt.store(true, Ordering::Release);
    } else {
        lock(&child.pending).push(kernel_info(SIGSTOP));
    }
    Some((ev, opt))
}

/// Reports a pending PTRACE_INTERRUPT (or a seized new child's first stop) as a
/// PTRACE_EVENT_STOP; whether it stopped.
pub fn interrupt_stop(t: &mut Task) -> bool {
    if !traced(t) || !t.shared.ptrace.interrupt.swap(false, Ordering::AcqRel) {
        return false;
    }
    let sig = (*lock(&t.shared.tg.stopped)).unwrap_or(SIGTRAP);
    let code = sig | ((PTRACE_EVENT_STOP as i32) << 8);
    stop(t, StopKind::Event(PTRACE_EVENT_STOP), code, None, false);
    true
}

/// What a tracer's wait finds of one tracee: (wait status, si_code, si_status, whether the
/// entry is gone).
pub fn wait_report(ts: &TaskShared, nowait: bool) -> Option<(i32, i32, i32, bool)> {
    let mut s = lock(&ts.ptrace.state);
    if let Some(code) = s.report {
        if !nowait {
            s.report = None;
        }
        return Some((wait_code(code), CLD_TRAPPED, code, false));
    }
    if let Some((status, e)) = s.exit_report {
        let (code, st) = match e {
            ExitStatus::Code(c) => (CLD_EXITED, c),
            ExitStatus::Signal(sig) if status & 0x80 != 0 => (CLD_DUMPED, sig),
            ExitStatus::Signal(sig) => (CLD_KILLED, sig),
        };
        return Some((status, code, st, true));
    }
    None
}

// ---- the tracer's side ----

fn target(k: &Kernel, tid: i32) -> Result<Arc<TaskShared>, Errno> {
    lock(&k.tree).threads.get(&tid).cloned().ok_or(Errno::ESRCH)
}

/// Runs `f` on the thread of `tid`, a tracee of the caller in a ptrace-stop; ESRCH if it is
/// not one.
fn on_stopped<R: Send + 'static>(
    t: &Task,
    tid: i32,
    f: impl FnOnce(&mut Task) -> R + Send + 'static,
) -> Result<R, Errno> {
    let ts = target(&t.k, tid)?;
    let (tx, rx) = mpsc::sync_channel(1);
    {
        let mut s = lock(&ts.ptrace.state);
        check_stopped(t, &ts, &s)?;
        s.requests.push_back(Box::new(move |tt: &mut Task| {
            let _ = tx.send(f(tt));
        }));
    }
    ts.ptrace.cond.notify_all();
    rx.recv().map_err(|_| Errno::ESRCH)
}

fn check_traced(t: &Task, s: &PtraceState) -> Result<(), Errno> {
    if s.tracer != Some(t.tgid()) {
        return Err(Errno::ESRCH);
    }
    Ok(())
}

fn check_stopped(t: &Task, ts: &TaskShared, s: &PtraceState) -> Result<(), Errno> {
    check_traced(t, s)?;
    if s.stop.is_none() || s.resume.is_some() || ts.tg.sigkilled.load(Ordering::Acquire) {
        return Err(Errno::ESRCH);
    }
    Ok(())
}

fn resume(t: &Task, tid: i32, r: Resume) -> Result<u64, Errno> {
    let ts = target(&t.k, tid)?;
    {
        let mut s = lock(&ts.ptrace.state);
        check_stopped(t, &ts, &s)?;
        if r.listen
            && !(s.seized
                && matches!(
                    s.stop,
                    Some(StopKind::Group | StopKind::Event(PTRACE_EVENT_STOP))
                ))
        {
            return Err(Errno::EIO);
        }
        s.resume = Some(r);
    }
    ts.ptrace.cond.notify_all();
    Ok(0)
}

fn valid_sig(data: u64) -> Result<i32, Errno> {
    if data > NSIG as u64 {
        return Err(Errno::EIO);
    }
    Ok(data as i32)
}

/// The user_regs_struct as 27 words, in the kernel's order.
fn regs_words(r: &Registers) -> [u64; 27] {
    [
        r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx, r.r11, r.r10, r.r9, r.r8, r.rax, r.rcx, r.rdx,
        r.rsi, r.rdi, r.orig_rax, r.rip, r.cs, r.eflags, r.rsp, r.ss, r.fs_base, r.gs_base, r.ds,
        r.es, r.fs, r.gs,
    ]
}

/// The registers as the tracer sees them (without a trap flag set for single-stepping).
fn user_regs(t: &Task) -> [u64; 27] {
    let mut w = regs_words(&t.regs);
    if lock(&t.shared.ptrace.state).forced_tf {
        w[18] &= !TF;
    }
    w
}

/// The largest user address + 1 (TASK_SIZE_MAX).
const TASK_SIZE: u64 = 0x7fff_ffff_f000;
/// The flags a tracer may change (Linux's FLAG_MASK less TF: the platforms do not step).
const FLAG_MASK: u64 = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x400 | 0x800 | 0x4000 | 0x40000;

/// Sets word `i` of the user_regs_struct as Linux's putreg does: segment selectors stay (the
/// platform keeps the program's), eflags only in the flags a program may set, the segment
/// bases only to user addresses.
fn put_reg(r: &mut Registers, i: usize, v: u64) -> Result<(), Errno> {
    match i {
        0 => r.r15 = v,
        1 => r.r14 = v,
        2 => r.r13 = v,
        3 => r.r12 = v,
        4 => r.rbp = v,
        5 => r.rbx = v,
        6 => r.r11 = v,
        7 => r.r10 = v,
        8 => r.r9 = v,
        9 => r.r8 = v,
        10 => r.rax = v,
        11 => r.rcx = v,
        12 => r.rdx = v,
        13 => r.rsi = v,
        14 => r.rdi = v,
        15 => r.orig_rax = v,
        16 => r.rip = v,
        18 => r.eflags = (r.eflags & !FLAG_MASK) | (v & FLAG_MASK),
        19 => r.rsp = v,
        21 | 22 if v >= TASK_SIZE => return Err(Errno::EIO),
        21 => r.fs_base = v,
        22 => r.gs_base = v,
        17 | 20 | 23..=26 => {}
        _ => return Err(Errno::EIO),
    }
    Ok(())
}

fn set_regs(r: &mut Registers, words: &[u64; 27]) -> Result<(), Errno> {
    let mut new = *r;
    for (i, v) in words.iter().enumerate() {
        put_reg(&mut new, i, *v)?;
    }
    *r = new;
    Ok(())
}

fn words_from(bytes: &[u8]) -> [u64; 27] {
    let mut w = [0u64; 27];
    for (i, c) in bytes.chunks_exact(8).take(27).enumerate() {
        w[i] = u64::from_le_bytes(c.try_into().unwrap_or_default());
    }
    w
}

fn words_bytes(w: &[u64; 27]) -> Vec<u8> {
    w.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The FXSAVE area (user_fpregs_struct) of an FPU state.
fn fxsave(state: &[u8]) -> Vec<u8> {
    let mut v = state.get(..512).map(<[u8]>::to_vec).unwrap_or_default();
    v.resize(512, 0);
    v
}

/// Puts a new FXSAVE area (or a whole XSAVE state when `whole`) into the task's FPU.
fn set_fpu(t: &mut Task, new: &[u8], whole: bool) -> Result<(), Errno> {
    let mut cur = t.ctx.fpu_state().map_err(|_| Errno::EIO)?;
    if cur.len() < 512 {
        return Err(Errno::EIO);
    }
    let n = if whole {
        new.len().min(cur.len())
    } else {
        512.min(new.len())
    };
    let keep_sw: Vec<u8> = cur[464..512].to_vec();
    cur[..n].copy_from_slice(&new[..n]);
    if !whole {
        cur[464..512].copy_from_slice(&keep_sw);
        if cur.len() >= 520 {
            cur[512] |= 3; // XSTATE_BV: x87 and SSE come from the legacy area
        }
    }
    // MXCSR within its mask (Linux: EINVAL otherwise).
    let mask = u32::from_le_bytes(cur[28..32].try_into().unwrap_or_default());
    let mask = if mask == 0 { 0xffbf } else { mask };
    let mxcsr = u32::from_le_bytes(cur[24..28].try_into().unwrap_or_default());
    if mxcsr & !mask != 0 {
        return Err(Errno::EINVAL);
    }
    t.ctx.set_fpu_state(&cur).map_err(|_| Errno::EINVAL)
}

/// The ptrace_syscall_info of the tracee's stop.
fn syscall_info(t: &Task, kind: Option<StopKind>) -> Vec<u8> {
    let r = &t.regs;
    let mut b = Vec::with_capacity(88);
    let op = match kind {
        Some(StopKind::SyscallEnter) => PTRACE_SYSCALL_INFO_ENTRY,
        Some(StopKind::SyscallExit) => PTRACE_SYSCALL_INFO_EXIT,
        Some(StopKind::Event(PTRACE_EVENT_SECCOMP)) => PTRACE_SYSCALL_INFO_SECCOMP,
        _ => PTRACE_SYSCALL_INFO_NONE,
    };
    b.push(op);
    b.extend_from_slice(&[0; 3]);
    b.extend_from_slice(&AUDIT_ARCH_X86_64.to_le_bytes());
    b.extend_from_slice(&r.rip.to_le_bytes());
    b.extend_from_slice(&r.rsp.to_le_bytes());
    let args = [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9];
    match op {
        PTRACE_SYSCALL_INFO_ENTRY | PTRACE_SYSCALL_INFO_SECCOMP => {
            b.extend_from_slice(&r.orig_rax.to_le_bytes());
            for a in args {
                b.extend_from_slice(&a.to_le_bytes());
            }
            if op == PTRACE_SYSCALL_INFO_SECCOMP {
                let data = lock(&t.shared.ptrace.state).eventmsg as u32;
                b.extend_from_slice(&data.to_le_bytes());
            }
        }
        PTRACE_SYSCALL_INFO_EXIT => {
            let rval = r.rax as i64;
            b.extend_from_slice(&rval.to_le_bytes());
            b.push(u8::from((-4095..0).contains(&rval)));
        }
        _ => {}
    }
    b
}

/// Implements ptrace(2).
pub fn sys_ptrace(t: &mut Task) -> Result<u64, Errno> {
    let (req, pid, addr, data) = (t.arg(0) as i64, t.arg(1) as i32, t.arg(2), t.arg(3));
    match req {
        PTRACE_TRACEME => traceme(t),
        PTRACE_ATTACH => attach(t, pid, false, 0),
        PTRACE_SEIZE => {
            target(&t.k, pid)?;
            if addr != 0 || data as u32 as u64 != data || data as u32 & !PTRACE_O_MASK != 0 {
                return Err(Errno::EIO);
            }
            attach(t, pid, true, data as u32)
        }
        PTRACE_INTERRUPT | PTRACE_KILL => {
            let ts = target(&t.k, pid)?;
            {
                let s = lock(&ts.ptrace.state);
                check_traced(t, &s)?;
                if req == PTRACE_INTERRUPT && !s.seized {
                    return Err(Errno::EIO);
                }
            }
            if req == PTRACE_KILL {
                sigkill(&ts);
            } else {
                ts.ptrace.interrupt.store(true, Ordering::Release);
                ts.ptrace.wake();
                ts.kick();
            }
            Ok(0)
        }
        PTRACE_CONT | PTRACE_SYSCALL | PTRACE_SYSEMU | PTRACE_LISTEN => {
            let sig = if req == PTRACE_LISTEN {
                0
            } else {
                valid_sig(data)?
            };
            let mode = match req {
                PTRACE_SYSCALL => Mode::Syscall,
                PTRACE_SYSEMU => Mode::Sysemu,
                _ => Mode::Cont,
            };
            resume(
                t,
                pid,
                Resume {
                    mode,
                    sig,
                    listen: req == PTRACE_LISTEN,
                },
            )
        }
        PTRACE_SINGLESTEP => resume(
            t,
            pid,
            Resume {
                mode: Mode::Step,
                sig: valid_sig(data)?,
                listen: false,
            },
        ),
        PTRACE_SYSEMU_SINGLESTEP => {
            let ts = target(&t.k, pid)?;
            check_stopped(t, &ts, &lock(&ts.ptrace.state))?;
            Err(Errno::EIO)
        }
        PTRACE_DETACH => {
            let sig = valid_sig(data)?;
            let ts = target(&t.k, pid)?;
            let mut tree = lock(&t.k.tree);
            {
                let mut s = lock(&ts.ptrace.state);
                check_stopped(t, &ts, &s)?;
                s.tracer = None;
                s.options = 0;
                s.seized = false;
                s.resume = Some(Resume {
                    mode: Mode::Cont,
                    sig,
                    listen: false,
                });
            }
            tree.ptraced.remove(&pid);
            drop(tree);
            ts.ptrace.traced.store(false, Ordering::Release);
            ts.ptrace.interrupt.store(false, Ordering::Release);
            ts.ptrace.cond.notify_all();
            Ok(0)
        }
        PTRACE_PEEKTEXT | PTRACE_PEEKDATA => {
            let v = on_stopped(t, pid, move |tt| {
                let mut b = [0u8; 8];
                tt.copy_in(addr, &mut b).map(|_| b)
            })?
            .map_err(|_| Errno::EIO)?;
            t.copy_out(data, &v)?;
            Ok(0)
        }
        PTRACE_POKETEXT | PTRACE_POKEDATA => on_stopped(t, pid, move |tt| {
            let b = data.to_le_bytes();
            if tt.copy_out(addr, &b).is_ok() {
                return Ok(0);
            }
            let mm = tt.mm.clone();
            let mut m = lock(&mm);
            m.write_force(&mut *tt.ctx, addr, &b)
                .map(|_| 0)
                .map_err(|_| Errno::EIO)
        })?,
        PTRACE_PEEKUSR => {
            if addr & 7 != 0 || addr >= USER_AREA_SIZE {
                return Err(Errno::EIO);
            }
            let v = on_stopped(t, pid, move |tt| {
                let i = (addr / 8) as usize;
                user_regs(tt).get(i).copied().unwrap_or(0)
            })?;
            t.write_val(data, &v)?;
            Ok(0)
        }
        PTRACE_POKEUSR => {
            if addr & 7 != 0 || addr >= USER_AREA_SIZE {
                return Err(Errno::EIO);
            }
            if addr < 27 * 8 {
                return on_stopped(t, pid, move |tt| {
                    put_reg(&mut tt.regs, (addr / 8) as usize, data).map(|_| 0)
                })?;
            }
            // The debug registers: nothing but clearing them.
            if (USER_DEBUGREG_OFFSET..USER_DEBUGREG_OFFSET + 64).contains(&addr) && data == 0 {
                on_stopped(t, pid, |_| ())?;
                return Ok(0);
            }
            Err(Errno::EIO)
        }
        PTRACE_GETREGS => {
            let w = on_stopped(t, pid, |tt| user_regs(tt))?;
            t.copy_out(data, &words_bytes(&w))?;
            Ok(0)
        }
        PTRACE_SETREGS => {
            let mut b = vec![0u8; 27 * 8];
            t.copy_in(data, &mut b)?;
            let w = words_from(&b);
            on_stopped(t, pid, move |tt| set_regs(&mut tt.regs, &w).map(|_| 0))?
        }
        PTRACE_GETFPREGS => {
            let fp = on_stopped(t, pid, |tt| tt.ctx.fpu_state().map(|s| fxsave(&s)))?
                .map_err(|_| Errno::EIO)?;
            t.copy_out(data, &fp)?;
            Ok(0)
        }
        PTRACE_SETFPREGS => {
            let mut b = vec![0u8; 512];
            t.copy_in(data, &mut b)?;
            on_stopped(t, pid, move |tt| set_fpu(tt, &b, false).map(|_| 0))?
        }
        PTRACE_GETREGSET | PTRACE_SETREGSET => regset(t, pid, addr, data, req == PTRACE_SETREGSET),
        PTRACE_GETSIGINFO => {
            let ts = target(&t.k, pid)?;
            let info = {
                let s = lock(&ts.ptrace.state);
                check_stopped(t, &ts, &s)?;
                s.siginfo.ok_or(Errno::EINVAL)?
            };
            t.write_val(data, &info)?;
            Ok(0)
        }
        PTRACE_SETSIGINFO => {
            let info: Siginfo = t.read_val(data)?;
            let ts = target(&t.k, pid)?;
            let mut s = lock(&ts.ptrace.state);
            check_stopped(t, &ts, &s)?;
            if s.siginfo.is_none() {
                return Err(Errno::EINVAL);
            }
            s.siginfo = Some(info);
            Ok(0)
        }
        PTRACE_GETEVENTMSG => {
            let ts = target(&t.k, pid)?;
            let msg = {
                let s = lock(&ts.ptrace.state);
                check_stopped(t, &ts, &s)?;
                s.eventmsg
            };
            t.write_val(data, &msg)?;
            Ok(0)
        }
        PTRACE_SETOPTIONS => {
            if data as u32 as u64 != data || data as u32 & !PTRACE_O_MASK != 0 {
                return Err(Errno::EINVAL);
            }
            let ts = target(&t.k, pid)?;
            let mut s = lock(&ts.ptrace.state);
            check_stopped(t, &ts, &s)?;
            s.options = data as u32;
            Ok(0)
        }
        PTRACE_GETSIGMASK | PTRACE_SETSIGMASK => {
            if addr != 8 {
                return Err(Errno::EINVAL);
            }
            let ts = target(&t.k, pid)?;
            check_stopped(t, &ts, &lock(&ts.ptrace.state))?;
            if req == PTRACE_GETSIGMASK {
                let m = *lock(&ts.sigmask);
                t.write_val(data, &m)?;
            } else {
                let m: u64 = t.read_val(data)?;
                *lock(&ts.sigmask) = m & !super::signal::UNBLOCKABLE;
            }
            Ok(0)
        }
        PTRACE_GET_SYSCALL_INFO => {
            let ts = target(&t.k, pid)?;
            let kind = {
                let s = lock(&ts.ptrace.state);
                check_stopped(t, &ts, &s)?;
                s.stop
            };
            let info = on_stopped(t, pid, move |tt| syscall_info(tt, kind))?;
            let n = (addr as usize).min(info.len());
            t.copy_out(data, &info[..n])?;
            Ok(info.len() as u64)
        }
        _ => {
            // Unknown requests: EIO for a tracee of ours, ESRCH otherwise.
            let ts = target(&t.k, pid)?;
            check_stopped(t, &ts, &lock(&ts.ptrace.state))?;
            Err(Errno::EIO)
        }
    }
}

fn regset(t: &mut Task, pid: i32, note: u64, iov_addr: u64, set: bool) -> Result<u64, Errno> {
    let iov: Iovec = t.read_val(iov_addr)?;
    let ts = target(&t.k, pid)?;
    check_stopped(t, &ts, &lock(&ts.ptrace.state))?;
    let cur: Vec<u8> = match note {
        NT_PRSTATUS => words_bytes(&on_stopped(t, pid, |tt| user_regs(tt))?),
        NT_PRFPREG => on_stopped(t, pid, |tt| tt.ctx.fpu_state().map(|s| fxsave(&s)))?
            .map_err(|_| Errno::EIO)?,
        NT_X86_XSTATE => on_stopped(t, pid, |tt| tt.ctx.fpu_state())?.map_err(|_| Errno::EIO)?,
        _ => return Err(Errno::EINVAL),
    };
    let n = (iov.len as usize).min(cur.len());
    if !set {
        t.copy_out(iov.base, &cur[..n])?;
    } else {
        let mut b = cur.clone();
        t.copy_in(iov.base, &mut b[..n])?;
        match note {
            NT_PRSTATUS => {
                let w = words_from(&b);
                on_stopped(t, pid, move |tt| set_regs(&mut tt.regs, &w))??;
            }
            NT_PRFPREG => on_stopped(t, pid, move |tt| set_fpu(tt, &b, false))??,
            _ => on_stopped(t, pid, move |tt| set_fpu(tt, &b, true))??,
        }
    }
    let out = Iovec {
        base: iov.base,
        len: n as u64,
    };
    t.write_val(iov_addr, &out)?;
    Ok(0)
}

fn link(k: &Kernel, ts: &Arc<TaskShared>, tracer: i32) -> Result<(), Errno> {
    let mut tree = lock(&k.tree);
    if tree.ptraced.contains_key(&ts.tid) || ts.exited.load(Ordering::Acquire) {
        return Err(Errno::EPERM);
    }
    tree.ptraced.insert(ts.tid, (tracer, ts.clone()));
    Ok(())
}

fn traceme(t: &mut Task) -> Result<u64, Errno> {
    let parent = t.ppid();
    if parent == 0 {
        return Err(Errno::EPERM);
    }
    let ts = t.shared.clone();
    link(&t.k, &ts, parent)?;
    let mut s = lock(&ts.ptrace.state);
    *s = PtraceState {
        tracer: Some(parent),
        seen_stop_gen: ts.tg.stop_gen.load(Ordering::Acquire),
        ..Default::default()
    };
    ts.ptrace.traced.store(true, Ordering::Release);
    Ok(0)
}

fn attach(t: &mut Task, pid: i32, seize: bool, options: u32) -> Result<u64, Errno> {
    let v = crate::syscalls::kcmp_view(t, pid)?;
    let ts = target(&t.k, pid)?;
    if Arc::ptr_eq(&ts.tg, &t.shared.tg) {
        return Err(Errno::EPERM);
    }
    if !crate::syscalls::kcmp_may_access(t, &v) {
        return Err(Errno::EPERM);
    }
    link(&t.k, &ts, t.tgid())?;
    {
        let mut s = lock(&ts.ptrace.state);
        // A resume its last tracer left (PTRACE_DETACH just before) and the tracee has not
        // taken yet stays: without it the tracee would wait in its old stop for ever, and
        // never stop for the new tracer.
        let pending = s.resume.take();
        *s = PtraceState {
            tracer: Some(t.tgid()),
            seized: seize,
            options,
            resume: pending,
            ..Default::default()
        };
    }
    ts.ptrace.traced.store(true, Ordering::Release);
    if !seize {
        let info = user_info(SIGSTOP, 0, t.tgid(), t.creds.uid.0);
        send_thread_signal(&t.k, &ts, info);
    }
    if lock(&ts.tg.stopped).is_some() {
        // A stopped task reports its stop to the new tracer before the attach returns
        // (Linux's JOBCTL_TRAPPING), as far as its thread is there to do it.
        ts.tg.resume.notify_all();
        ts.kick();
        let deadline = std::time::Instant::now() + Duration::from_millis(200);
        let mut s = lock(&ts.ptrace.state);
        while s.stop.is_none() && std::time::Instant::now() < deadline {
            s = ts
                .ptrace
                .cond
                .wait_timeout(s, Duration::from_millis(5))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
    Ok(0)
}
