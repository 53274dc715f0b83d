// SPDX-License-Identifier: Apache-2.0
//! Sending signals, job control, and delivering signals to application handlers: the
//! `rt_sigframe` built on the application stack and taken apart again by rt_sigreturn.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::block::wait_uninterruptible;
use super::signal::{
    bit, child_info, default_action, kernel_info, user_info, DefaultAction, UNBLOCKABLE,
};
use super::tree::{Report, TaskShared, ThreadGroup};
use super::{lock, ptrace, ExitStatus, Kernel, Task};

/// Where a signal goes.
#[derive(Debug, Clone, Copy)]
pub enum SendTarget {
    /// A whole process.
    Process(i32),
    /// One thread.
    Thread(i32),
}

const STOP_SIGNALS: u64 =
    (1 << (SIGSTOP - 1)) | (1 << (SIGTSTP - 1)) | (1 << (SIGTTIN - 1)) | (1 << (SIGTTOU - 1));

/// Ends every thread of `tg` with `status` (the first status wins).
pub fn kill_group(tg: &ThreadGroup, status: ExitStatus) {
    {
        let mut s = lock(&tg.exit_status);
        if s.is_none() {
            *s = Some(status);
        }
    }
    if status == ExitStatus::Signal(SIGKILL) {
        tg.sigkilled.store(true, Ordering::Release);
    }
    tg.killed.store(true, Ordering::Release);
    tg.resume.notify_all();
    tg.kick_all();
}

/// Tells the parent of `tgid` about a stop or continue (wait report and SIGCHLD).
fn report_to_parent(k: &Kernel, tgid: i32, report: Report) {
    let parent_tg = {
        let mut tree = lock(&k.tree);
        let Some(p) = tree.procs.get_mut(&tgid) else {
            return;
        };
        p.report = Some(report);
        let (parent, uid) = (p.parent, p.uid);
        let Some(pp) = tree.procs.get(&parent) else {
            return;
        };
        Some((pp.tg.clone(), uid))
    };
    let Some((ptg, uid)) = parent_tg else { return };
    let act = lock(&ptg.sighand()).actions[SIGCHLD as usize - 1];
    if act.flags & SA_NOCLDSTOP == 0 {
        let (code, status) = match report {
            Report::Stopped(sig) => (CLD_STOPPED, sig),
            Report::Continued => (CLD_CONTINUED, SIGCONT),
        };
        send_process_signal(k, &ptg, child_info(code, tgid, uid, status));
    }
    ptg.child_events.notify_all();
}

/// Whether `tg` is the protected init of the sandbox's pid namespace (see
/// [`Kernel::init_protected`]; the sentry's own `--init` is never one).
fn protected_init(k: &Kernel, tg: &ThreadGroup) -> bool {
    tg.tgid == 1
        && k.init_protected.load(Ordering::Acquire)
        && k.virtual_init.load(Ordering::Acquire) == 0
}

/// Whether a protected init must take `info` even with its default action (Linux's `force`
/// in send_signal_locked, for SIGKILL and SIGSTOP only): one the kernel generated, or one from
/// outside the sandbox's pid namespace (the host, which has no pid in it).
fn forced(info: &Siginfo) -> bool {
    matches!(info.si_signo, SIGKILL | SIGSTOP)
        && (info.si_code == SI_KERNEL || (info.si_code == SI_USER && info.fields[0] as u32 == 0))
}

/// Side effects every signal has at send time, whatever its disposition: SIGKILL kills,
/// SIGCONT continues, stop signals and SIGCONT cancel each other. Returns whether the signal is
/// still to be queued (false when it is ignored).
fn on_send(k: &Kernel, tg: &Arc<ThreadGroup>, info: &Siginfo) -> bool {
    let sig = info.si_signo;
    if protected_init(k, tg)
        && lock(&tg.sighand()).actions[sig as usize - 1].handler == SIG_DFL
        && !forced(info)
    {
        // Linux's sig_task_ignored for SIGNAL_UNKILLABLE: a namespace's init gets no signal it
        // has not asked for, unless it is blocked (its handler may change before it is
        // delivered; delivery drops it then) or a tracer wants to see it.
        let kept = sig != SIGKILL
            && lock(&tg.tasks)
                .iter()
                .any(|t| t.blocks(sig) || t.ptrace.traced.load(Ordering::Acquire));
        if !kept {
            return false;
        }
    }
    if sig == SIGKILL {
        tg.sigkilled.store(true, Ordering::Release);
        kill_group(tg, ExitStatus::Signal(SIGKILL));
        return false;
    }
    if sig == SIGCONT {
        lock(&tg.pending).discard(STOP_SIGNALS);
        for t in lock(&tg.tasks).iter() {
            lock(&t.pending).discard(STOP_SIGNALS);
        }
        let was_stopped = lock(&tg.stopped).take().is_some();
        if was_stopped {
            tg.resume.notify_all();
            tg.kick_all();
            report_to_parent(k, tg.tgid, Report::Continued);
        }
    }
    if bit(sig) & STOP_SIGNALS != 0 {
        lock(&tg.pending).discard(bit(SIGCONT));
        for t in lock(&tg.tasks).iter() {
            lock(&t.pending).discard(bit(SIGCONT));
        }
    }
    let act = lock(&tg.sighand()).actions[sig as usize - 1];
    let ignored = act.handler == SIG_IGN
        || (act.handler == SIG_DFL
            && matches!(
                default_action(sig),
                DefaultAction::Ignore | DefaultAction::Continue
            ));
    // A blocked signal is kept even if ignored: the disposition may change before it is
    // unblocked, and sigwaitinfo may take it (Linux's sig_ignored).
    let blocked = lock(&tg.tasks).iter().any(|t| t.blocks(sig));
    // A tracer sees even ignored signals (Linux's sig_ignored).
    let traced = lock(&tg.tasks)
        .iter()
        .any(|t| t.ptrace.traced.load(Ordering::Acquire));
    !ignored || blocked || traced
}

/// The real user id a signal queued for `task` is charged to, and its RLIMIT_SIGPENDING.
fn charge_of(task: &TaskShared) -> (u32, u64) {
    lock(&task.info).as_ref().map_or((0, RLIM_INFINITY), |i| {
        (
            i.creds.uid.0,
            lock(&i.limits)[RLIMIT_SIGPENDING as usize].rlim_cur,
        )
    })
}

/// Sends a signal to a whole process.
pub fn send_process_signal(k: &Kernel, tg: &Arc<ThreadGroup>, info: Siginfo) {
    let _ = try_send_process_signal(k, tg, info);
}

/// [`send_process_signal`], or EAGAIN when the process's user has RLIMIT_SIGPENDING signals
/// queued and this one is a real-time signal a process queued (sigqueue(3)).
pub fn try_send_process_signal(
    k: &Kernel,
    tg: &Arc<ThreadGroup>,
    info: Siginfo,
) -> Result<(), Errno> {
    if tg.killed.load(Ordering::Acquire) || !on_send(k, tg, &info) {
        return Ok(());
    }
    let first = lock(&tg.tasks).first().cloned();
    let (uid, limit) = first.map_or((0, RLIM_INFINITY), |t| charge_of(&t));
    if lock(&tg.pending).push_charged(info, uid, limit)? {
        tg.kick_all();
        tg.signal_events.notify_band(POLLIN);
    }
    Ok(())
}

/// Sends a signal to one thread.
pub fn send_thread_signal(k: &Kernel, task: &Arc<TaskShared>, info: Siginfo) {
    let _ = try_send_thread_signal(k, task, info);
}

/// [`send_thread_signal`], or EAGAIN as [`try_send_process_signal`] (tgkill(2),
/// rt_tgsigqueueinfo(2)).
pub fn try_send_thread_signal(
    k: &Kernel,
    task: &Arc<TaskShared>,
    info: Siginfo,
) -> Result<(), Errno> {
    if task.tg.killed.load(Ordering::Acquire) || !on_send(k, &task.tg, &info) {
        return Ok(());
    }
    let (uid, limit) = charge_of(task);
    if lock(&task.pending).push_charged(info, uid, limit)? {
        task.kick();
        task.tg.signal_events.notify_band(POLLIN);
    }
    Ok(())
}

/// Applies the restart rules to a system call interrupted by a signal: `handler` is the action
/// about to run, or `None` when no handler runs.
fn restart_syscall(t: &mut Task, handler: Option<&KernelSigaction>) {
    if !t.syscall_return {
        return;
    }
    t.syscall_return = false;
    let code = -(t.regs.rax as i64);
    let restart = match (code as i32, handler) {
        (512, Some(a)) => a.flags & SA_RESTART != 0, // ERESTARTSYS
        (513, _) => true,                            // ERESTARTNOINTR
        (514 | 516, Some(_)) => false,               // ERESTARTNOHAND, ERESTART_RESTARTBLOCK
        (512 | 514 | 516, None) => true,
        _ => return,
    };
    if restart {
        // ERESTART_RESTARTBLOCK resumes through restart_syscall(2), which finishes the call
        // from where it stopped (a sleep sleeps what is left); the others run it again.
        t.regs.rax = if code == Errno::ERESTART_RESTARTBLOCK.0 as i64 {
            u64::from(syscalls::Sysno::restart_syscall.0)
        } else {
            t.regs.orig_rax
        };
        t.regs.rip -= 2;
    } else {
        // A handler runs: the call fails with EINTR and nothing is left to resume.
        t.restart = None;
        t.regs.rax = (-(Errno::EINTR.0 as i64)) as u64;
    }
}

/// Delivers pending signals before the task returns to application code: default actions,
/// group stops, or one handler frame.
pub fn deliver(t: &mut Task) {
    let tg = t.shared.tg.clone();
    loop {
        if tg.killed.load(Ordering::Acquire) {
            return;
        }
        if lock(&tg.stopped).is_some() {
            if let Some((sig, seized)) = ptrace::take_group_stop(t) {
                // A traced task reports the group stop to its tracer, and runs on once the
                // tracer resumes it.
                let code = if seized {
                    sig | ((PTRACE_EVENT_STOP as i32) << 8)
                } else {
                    sig
                };
                ptrace::stop(t, ptrace::StopKind::Group, code, None, false);
                continue;
            }
            if !ptrace::traced(t) {
                let shared = t.shared.clone();
                wait_uninterruptible(&tg.resume, || {
                    lock(&tg.stopped).is_none()
                        || tg.killed.load(Ordering::Acquire)
                        || ptrace::group_stop_unreported(&shared)
                });
                continue;
            }
        }
        if ptrace::interrupt_stop(t) {
            continue;
        }
        let mask = t.sigmask();
        let next = lock(&t.shared.pending)
            .pop(mask)
            .or_else(|| lock(&tg.pending).pop(mask));
        let Some(mut p) = next else { break };
        t.k.timers.taken(tg.tgid, &p.info);
        let mut sig = p.info.si_signo;
        if ptrace::traced(t) {
            // Signal-delivery-stop: the tracer chooses the signal (0: none).
            match ptrace::stop(t, ptrace::StopKind::Signal, sig, Some(p.info), false) {
                None if tg.killed.load(Ordering::Acquire) => return,
                None => {}
                Some(0) => continue,
                Some(new) => {
                    let info = lock(&t.shared.ptrace.state).siginfo;
                    if new != sig {
                        let tracer = lock(&t.shared.ptrace.state).tracer.unwrap_or(0);
                        p.info = user_info(new, 0, tracer, 0);
                    } else if let Some(i) = info {
                        p.info = i;
                        p.info.si_signo = new;
                    }
                    sig = new;
                    if t.sigmask() & bit(sig) != 0 {
                        lock(&t.shared.pending).push(p.info);
                        continue;
                    }
                }
            }
        }
        let sighand = t.sighand();
        let act = lock(&sighand).actions[sig as usize - 1];
        match act.handler {
            SIG_IGN => continue,
            // A protected init drops a default action that reached it while blocked or traced
            // (Linux's get_signal for SIGNAL_UNKILLABLE); only SIGKILL and SIGSTOP, which were
            // forced to get this far, act.
            SIG_DFL if sig != SIGKILL && sig != SIGSTOP && protected_init(&t.k, &tg) => continue,
            SIG_DFL => match default_action(sig) {
                DefaultAction::Ignore | DefaultAction::Continue => continue,
                DefaultAction::Stop => {
                    if lock(&tg.stopped).replace(sig).is_none() {
                        tg.stop_gen.fetch_add(1, Ordering::AcqRel);
                        tg.kick_all();
                        report_to_parent(&t.k, tg.tgid, Report::Stopped(sig));
                    }
                    continue;
                }
                DefaultAction::Terminate | DefaultAction::Core => {
                    kill_group(&tg, ExitStatus::Signal(sig));
                    return;
                }
            },
            _ => {
                restart_syscall(t, Some(&act));
                if setup_frame(t, sig, &p.info, &act).is_err() {
                    // The stack is unusable: Linux's force_sigsegv. A SIGSEGV's own frame
                    // that cannot be written ends the process; any other signal's raises
                    // SIGSEGV, which its handler may take (on a stack that works) and which
                    // ends the process if blocked, ignored or not handled.
                    if sig == SIGSEGV {
                        kill_group(&tg, ExitStatus::Signal(SIGSEGV));
                        return;
                    }
                    force_signal(t, kernel_info(SIGSEGV));
                    continue;
                }
                if act.flags & SA_RESETHAND != 0 {
                    // SA_ONESHOT: only the handler goes back to the default; flags stay.
                    lock(&sighand).actions[sig as usize - 1].handler = SIG_DFL;
                }
                // Like Linux's exit-to-user loop: every other deliverable signal gets a frame
                // too, on top, so the last one set up runs first.
                continue;
            }
        }
    }
    restart_syscall(t, None);
    if let Some(m) = t.saved_sigmask.take() {
        t.set_sigmask(m);
    }
}

/// Size of the frame before the FPU state: pretcode, ucontext (304), siginfo (128).
const FRAME_SIZE: u64 = 8 + 304 + 128;
const UC_OFFSET: u64 = 8;
const INFO_OFFSET: u64 = 8 + 304;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;

fn on_altstack(t: &Task, sp: u64) -> bool {
    let (base, _, size) = t.altstack;
    size != 0 && sp > base && sp - base <= size
}

fn sigcontext(t: &Task, mask: u64, fpstate: u64, altstack: (u64, i32, u64)) -> Vec<u8> {
    let r = &t.regs;
    let mut b = Vec::with_capacity(304);
    let mut q = |v: u64| b.extend_from_slice(&v.to_le_bytes());
    // struct ucontext: uc_flags, uc_link, uc_stack { ss_sp, ss_flags, ss_size }.
    q(if fpstate != 0 { 0x7 } else { 0x6 });
    q(0);
    q(altstack.0);
    q(altstack.1 as u32 as u64);
    q(altstack.2);
    // struct sigcontext.
    for v in [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx,
        r.rax, r.rcx, r.rsp, r.rip, r.eflags,
    ] {
        q(v);
    }
    q((r.cs & 0xffff)
        | ((r.gs & 0xffff) << 16)
        | ((r.fs & 0xffff) << 32)
        | ((r.ss & 0xffff) << 48));
    q(0); // err
    q(0); // trapno
    q(mask); // oldmask
    q(0); // cr2
    q(fpstate);
    for _ in 0..8 {
        q(0);
    }
    q(mask); // uc_sigmask
    b
}

fn setup_frame(t: &mut Task, sig: i32, info: &Siginfo, act: &KernelSigaction) -> Result<(), Errno> {
    let cur_mask = t.sigmask();
    // After sigsuspend, the frame restores the mask from before the call.
    let old_mask = t.saved_sigmask.take().unwrap_or(cur_mask);
    let altstack = (
        t.altstack.0,
        if on_altstack(t, t.regs.rsp) {
            SS_ONSTACK
        } else {
            t.altstack.1
        },
        t.altstack.2,
    );
    let mut sp = t.regs.rsp;
    if act.flags & SA_ONSTACK != 0
        && t.altstack.2 != 0
        && t.altstack.1 & SS_DISABLE == 0
        && !on_altstack(t, sp)
    {
        sp = t.altstack.0 + t.altstack.2;
    } else {
        sp = sp.wrapping_sub(128); // the red zone
    }
    let mut fp = t.ctx.fpu_state().map_err(|_| Errno::EFAULT)?;
    let len = fp.len();
    let xcr0 = fp
        .get(464..472)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        .unwrap_or(0);
    if len >= 512 {
        let mut sw = [0u8; 48];
        sw[0..4].copy_from_slice(&FP_XSTATE_MAGIC1.to_le_bytes());
        sw[4..8].copy_from_slice(&((len + 4) as u32).to_le_bytes());
        sw[8..16].copy_from_slice(&xcr0.to_le_bytes());
        sw[16..20].copy_from_slice(&(len as u32).to_le_bytes());
        fp[464..512].copy_from_slice(&sw);
    }
    fp.extend_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());
    let fpstate = sp.wrapping_sub(fp.len() as u64) & !63;
    let frame = (fpstate.wrapping_sub(FRAME_SIZE) & !15).wrapping_sub(8);
    let mut bytes = Vec::with_capacity(FRAME_SIZE as usize);
    bytes.extend_from_slice(&act.restorer.to_le_bytes());
    bytes.extend_from_slice(&sigcontext(t, old_mask, fpstate, altstack));
    bytes.extend_from_slice(syscalls::bytes_of(info));
    debug_assert_eq!(bytes.len() as u64, FRAME_SIZE);
    t.copy_out(frame, &bytes)?;
    t.copy_out(fpstate, &fp)?;
    // The handler starts with a clean FPU (Linux's fpu__clear_user_states): every component in
    // its initial state, default control words.
    if fp.len() >= 576 {
        let mut init = fp[..fp.len() - 4].to_vec();
        init[..512].fill(0);
        init[0..2].copy_from_slice(&0x037fu16.to_le_bytes()); // FCW
        init[24..28].copy_from_slice(&0x1f80u32.to_le_bytes()); // MXCSR
        init[28..32].copy_from_slice(&0xffffu32.to_le_bytes()); // MXCSR_MASK
        init[512..520].fill(0); // XSTATE_BV: all in the initial state
        if xcr0 != 0 {
            init[464..472].copy_from_slice(&xcr0.to_le_bytes());
        }
        let _ = t.ctx.set_fpu_state(&init);
    }
    t.regs.rsp = frame;
    t.regs.rip = act.handler;
    t.regs.rdi = sig as u64;
    t.regs.rsi = frame + INFO_OFFSET;
    t.regs.rdx = frame + UC_OFFSET;
    t.regs.rax = 0;
    t.regs.eflags &= !(0x100 | 0x400 | 0x40000); // TF, DF, AC
    t.regs.orig_rax = u64::MAX;
    let mut mask = cur_mask | act.mask;
    if act.flags & SA_NODEFER == 0 {
        mask |= bit(sig);
    }
    t.set_sigmask(mask);
    if act.flags & SA_ONSTACK != 0 && t.altstack.1 & (1 << 31) != 0 {
        t.altstack = (0, SS_DISABLE, 0); // SS_AUTODISARM
    }
    Ok(())
}

/// Implements rt_sigreturn(2): restores the state saved in the frame the handler returns from.
/// Returns the restored `rax`.
pub fn sigreturn(t: &mut Task) -> Result<u64, Errno> {
    let uc = t.regs.rsp; // the handler's `ret` popped pretcode
    let mut b = vec![0u8; 304];
    if t.copy_in(uc, &mut b).is_err() {
        kill_group(&t.shared.tg, ExitStatus::Signal(SIGSEGV));
        return Err(Errno::EFAULT);
    }
    let q = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    // Offsets in 8-byte words: uc_flags 0, uc_link 1, uc_stack 2..5, sigcontext 5..37, mask 37.
    let sc = |i: usize| q(5 + i);
    let r = &mut t.regs;
    r.r8 = sc(0);
    r.r9 = sc(1);
    r.r10 = sc(2);
    r.r11 = sc(3);
    r.r12 = sc(4);
    r.r13 = sc(5);
    r.r14 = sc(6);
    r.r15 = sc(7);
    r.rdi = sc(8);
    r.rsi = sc(9);
    r.rbp = sc(10);
    r.rbx = sc(11);
    r.rdx = sc(12);
    r.rax = sc(13);
    r.rcx = sc(14);
    r.rsp = sc(15);
    r.rip = sc(16);
    const FIX_EFLAGS: u64 =
        0x0001 | 0x0004 | 0x0010 | 0x0040 | 0x0080 | 0x0100 | 0x0400 | 0x0800 | 0x40000 | 0x10000;
    r.eflags = (r.eflags & !FIX_EFLAGS) | (sc(17) & FIX_EFLAGS);
    r.orig_rax = u64::MAX;
    let fpstate = sc(23);
    let rax = r.rax;
    t.set_sigmask(q(37) & !UNBLOCKABLE);
    // uc_stack: restore the alternate stack as sigaltstack would.
    let (ss_sp, ss_flags, ss_size) = (q(2), q(3) as i32, q(4));
    if ss_flags & SS_DISABLE != 0 {
        t.altstack = (0, SS_DISABLE, 0);
    } else if ss_size != 0 {
        t.altstack = (ss_sp, ss_flags & (1 << 31), ss_size);
    }
    if fpstate != 0 {
        if let Ok(cur) = t.ctx.fpu_state() {
            let mut fp = vec![0u8; cur.len()];
            if t.copy_in(fpstate, &mut fp).is_ok() {
                if fp.len() >= 512 {
                    fp[464..512].copy_from_slice(&cur[464..512]);
                }
                if t.ctx.set_fpu_state(&fp).is_err() {
                    let _ = t.ctx.set_fpu_state(&cur);
                }
            }
        }
    }
    t.syscall_return = false;
    Ok(rax)
}

/// A synchronous fault in application code: delivered to a handler if one is installed and the
/// signal is not blocked; otherwise (as Linux's force_sig) it ends the process.
pub fn fault(t: &mut Task, signo: i32, code: i32, addr: u64) {
    let mut info = kernel_info(signo);
    info.si_code = code;
    info.fields[0] = addr;
    force_signal(t, info);
}

/// Linux's `force_sig_info` for a signal whose default action ends the process (a fault, a
/// seccomp trap): queued to the thread when a handler is installed and the signal is not
/// blocked; otherwise the handler is reset and the process ends by the signal.
pub fn force_signal(t: &mut Task, info: Siginfo) {
    let signo = info.si_signo;
    let act = lock(&t.sighand()).actions[signo as usize - 1];
    let blocked = t.sigmask() & bit(signo) != 0;
    if ptrace::traced(t) {
        // The tracer sees it first (signal-delivery-stop); as force_sig_info, a blocked or
        // ignored one is unblocked and reset to its default.
        if blocked {
            t.set_sigmask(t.sigmask() & !bit(signo));
        }
        if act.handler == SIG_IGN {
            lock(&t.sighand()).actions[signo as usize - 1].handler = SIG_DFL;
        }
        lock(&t.shared.pending).push(info);
        return;
    }
    if act.handler == SIG_DFL || act.handler == SIG_IGN || blocked {
        kill_group(&t.shared.tg, ExitStatus::Signal(signo));
        return;
    }
    lock(&t.shared.pending).push(info);
}
