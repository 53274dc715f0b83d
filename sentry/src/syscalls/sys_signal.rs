// SPDX-License-Identifier: Apache-2.0
//! Signal system calls.

use std::time::Duration;

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::block::block_on;
use crate::kernel::signal::{bit, user_info, SigSet, UNBLOCKABLE};
use crate::kernel::tree::ThreadGroup;
use crate::kernel::{self, lock, Task};

fn check_sig(sig: i32) -> Result<(), Errno> {
    if (0..=NSIG).contains(&sig) {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// Whether `t` may signal the process `target` (root, or a matching uid).
/// Whether `t` may send `sig` to process `tgid`, whose task `target` is (Linux's
/// check_kill_permission): its own process, or the sender's real or effective uid is the
/// target's real or saved uid, or it has CAP_KILL, or SIGCONT within its session. `uid`: the
/// target's real uid when it has published no credentials yet.
fn may_signal(
    t: &Task,
    tgid: i32,
    target: Option<&kernel::tree::TaskShared>,
    uid: u32,
    sig: i32,
) -> bool {
    if tgid == t.tgid() || t.creds.caps & (1 << CAP_KILL) != 0 {
        return true;
    }
    if sig == SIGCONT {
        let tree = lock(&t.k.tree);
        let sid = |p: i32| tree.procs.get(&p).map(|x| x.sid);
        if sid(tgid).is_some() && sid(tgid) == sid(t.tgid()) {
            return true;
        }
    }
    let (r, s) = target
        .and_then(|ts| {
            lock(&ts.info)
                .as_ref()
                .map(|i| (i.creds.uid.0, i.creds.uid.2))
        })
        .unwrap_or((uid, uid));
    let (mr, me) = (t.creds.uid.0, t.creds.uid.1);
    me == s || me == r || mr == s || mr == r
}

fn send_to_group(
    t: &Task,
    tg: &std::sync::Arc<ThreadGroup>,
    uid: u32,
    info: Siginfo,
) -> Result<(), Errno> {
    let first = lock(&tg.tasks).first().cloned();
    if !may_signal(t, tg.tgid, first.as_deref(), uid, info.si_signo) {
        return Err(Errno::EPERM);
    }
    let leader = kernel::lock(&tg.leader).clone();
    if let Some(leader) = leader {
        kernel::landlock::check_signal(t, &leader)?;
    }
    if info.si_signo != 0 {
        kernel::try_send_process_signal(&t.k, tg, info)?;
    }
    Ok(())
}

pub(super) fn kill_common(t: &Task, pid: i32, info: Siginfo) -> SysResult {
    let me = t.tgid();
    let targets: Vec<(std::sync::Arc<ThreadGroup>, u32)> = {
        let tree = lock(&t.k.tree);
        let my_pgid = tree.procs.get(&me).map(|p| p.pgid).unwrap_or(0);
        let live = |p: &&kernel::tree::Proc| p.zombie.is_none();
        match pid {
            // A thread id names its process, as Linux's find_vpid does.
            p if p > 0 => match tree
                .procs
                .get(&p)
                .map(|x| x.tg.clone())
                .or_else(|| tree.threads.get(&p).map(|t| t.tg.clone()))
            {
                Some(tg)
                    if tree.procs.get(&tg.tgid).is_some_and(|x| x.zombie.is_none())
                        || p == tg.tgid =>
                {
                    let uid = tree.procs.get(&tg.tgid).map(|x| x.uid).unwrap_or(0);
                    vec![(tg, uid)]
                }
                _ => return Err(Errno::ESRCH),
            },
            0 => tree
                .procs
                .values()
                .filter(live)
                .filter(|p| p.pgid == my_pgid)
                .map(|p| (p.tg.clone(), p.uid))
                .collect(),
            -1 => tree
                .procs
                .iter()
                .filter(|(k, p)| **k != 1 && **k != me && p.zombie.is_none())
                .map(|(_, p)| (p.tg.clone(), p.uid))
                .collect(),
            p => {
                let g = p.checked_neg().ok_or(Errno::ESRCH)?;
                tree.procs
                    .values()
                    .filter(live)
                    .filter(|x| x.pgid == g)
                    .map(|x| (x.tg.clone(), x.uid))
                    .collect()
            }
        }
    };
    if targets.is_empty() {
        return Err(Errno::ESRCH);
    }
    let mut sent = false;
    let mut err = Errno::EPERM;
    for (tg, uid) in targets {
        match send_to_group(t, &tg, uid, info) {
            Ok(()) => sent = true,
            Err(e) => err = e,
        }
    }
    if sent {
        Ok(0)
    } else {
        Err(err)
    }
}

/// Implements kill(2).
pub fn sys_kill(t: &mut Task) -> SysResult {
    let (pid, sig) = (t.arg(0) as i32, t.arg(1) as i32);
    check_sig(sig)?;
    kill_common(t, pid, user_info(sig, SI_USER, t.tgid(), t.creds.uid.0))
}

pub(super) fn thread_signal(t: &Task, tgid: Option<i32>, tid: i32, info: Siginfo) -> SysResult {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) {
        return Err(Errno::EINVAL);
    }
    check_sig(info.si_signo)?;
    let target = lock(&t.k.tree)
        .threads
        .get(&tid)
        .cloned()
        .ok_or(Errno::ESRCH)?;
    if tgid.is_some_and(|g| g != target.tg.tgid) {
        return Err(Errno::ESRCH);
    }
    let uid = lock(&t.k.tree)
        .procs
        .get(&target.tg.tgid)
        .map(|p| p.uid)
        .unwrap_or(0);
    if !may_signal(t, target.tg.tgid, Some(&target), uid, info.si_signo) {
        return Err(Errno::EPERM);
    }
    kernel::landlock::check_signal(t, &target)?;
    if info.si_signo != 0 {
        kernel::try_send_thread_signal(&t.k, &target, info)?;
    }
    Ok(0)
}

/// Implements tkill(2).
pub fn sys_tkill(t: &mut Task) -> SysResult {
    let info = user_info(t.arg(1) as i32, SI_TKILL, t.tgid(), t.creds.uid.0);
    thread_signal(t, None, t.arg(0) as i32, info)
}

/// Implements tgkill(2).
pub fn sys_tgkill(t: &mut Task) -> SysResult {
    let info = user_info(t.arg(2) as i32, SI_TKILL, t.tgid(), t.creds.uid.0);
    thread_signal(t, Some(t.arg(0) as i32), t.arg(1) as i32, info)
}

fn queued_info(t: &Task, sig: i32, addr: u64) -> Result<Siginfo, Errno> {
    let mut info: Siginfo = t.read_val(addr)?;
    // A process may not pretend to be the kernel or kill(2) when signalling another.
    if info.si_code >= 0 || info.si_code == SI_TKILL {
        return Err(Errno::EPERM);
    }
    info.si_signo = sig;
    Ok(info)
}

/// Implements rt_sigqueueinfo(2).
pub fn sys_rt_sigqueueinfo(t: &mut Task) -> SysResult {
    let (pid, sig) = (t.arg(0) as i32, t.arg(1) as i32);
    check_sig(sig)?;
    let info = queued_info(t, sig, t.arg(2))?;
    if pid <= 0 {
        return Err(Errno::ESRCH);
    }
    kill_common(t, pid, info)
}

/// Implements rt_tgsigqueueinfo(2).
pub fn sys_rt_tgsigqueueinfo(t: &mut Task) -> SysResult {
    let (tgid, tid, sig) = (t.arg(0) as i32, t.arg(1) as i32, t.arg(2) as i32);
    check_sig(sig)?;
    let info = queued_info(t, sig, t.arg(3))?;
    thread_signal(t, Some(tgid), tid, info)
}

/// Implements rt_sigaction(2).
pub fn sys_rt_sigaction(t: &mut Task) -> SysResult {
    let (sig, act, oldact, size) = (t.arg(0) as i32, t.arg(1), t.arg(2), t.arg(3));
    if size != 8 || !(1..=NSIG).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let new: Option<KernelSigaction> = if act != 0 {
        Some(t.read_val(act)?)
    } else {
        None
    };
    if new.is_some() && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let sighand = t.sighand();
    let old = lock(&sighand).actions[sig as usize - 1];
    if oldact != 0 {
        t.write_val(oldact, &old)?;
    }
    if let Some(mut new) = new {
        new.mask &= !UNBLOCKABLE;
        lock(&sighand).actions[sig as usize - 1] = new;
        // Setting a signal to be ignored discards it where pending (POSIX).
        let ignored = new.handler == SIG_IGN
            || (new.handler == SIG_DFL && matches!(sig, SIGCHLD | SIGURG | SIGWINCH));
        if ignored {
            let tg = t.shared.tg.clone();
            lock(&tg.pending).discard(bit(sig));
            for x in lock(&tg.tasks).iter() {
                lock(&x.pending).discard(bit(sig));
            }
        }
    }
    Ok(0)
}

/// Implements rt_sigprocmask(2).
pub fn sys_rt_sigprocmask(t: &mut Task) -> SysResult {
    let (how, set, oldset, size) = (t.arg(0) as u32, t.arg(1), t.arg(2), t.arg(3));
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let old = t.sigmask();
    if set != 0 {
        let s: u64 = t.read_val(set)?;
        let new = match how {
            SIG_BLOCK => old | s,
            SIG_UNBLOCK => old & !s,
            SIG_SETMASK => s,
            _ => return Err(Errno::EINVAL),
        };
        t.set_sigmask(new);
    }
    if oldset != 0 {
        t.write_val(oldset, &old)?;
    }
    Ok(0)
}

/// Implements rt_sigpending(2).
pub fn sys_rt_sigpending(t: &mut Task) -> SysResult {
    if t.arg(1) > 8 {
        return Err(Errno::EINVAL);
    }
    let set: SigSet = (lock(&t.shared.pending).set | lock(&t.shared.tg.pending).set) & t.sigmask();
    let n = t.arg(1) as usize;
    t.copy_out(t.arg(0), &set.to_le_bytes()[..n]).map(|_| 0)
}

/// Implements rt_sigsuspend(2): waits with a temporary mask until a signal is delivered.
pub fn sys_rt_sigsuspend(t: &mut Task) -> SysResult {
    if t.arg(1) != 8 {
        return Err(Errno::EINVAL);
    }
    let mask: u64 = t.read_val(t.arg(0))?;
    let old = t.sigmask();
    t.set_sigmask(mask);
    let r = block_on::<()>(&[], None, || None);
    if r == Err(Errno::ERESTARTSYS) {
        // Deliver with the temporary mask; the frame saves the old one, as Linux's
        // saved_sigmask does. A signal that runs no handler goes back to waiting.
        t.saved_sigmask = Some(old);
        return Err(Errno::ERESTARTNOHAND);
    }
    t.set_sigmask(old);
    r.map(|_| 0)
}

/// Implements pause(2).
pub fn sys_pause(_t: &mut Task) -> SysResult {
    block_on::<u64>(&[], None, || None).map_err(|_| Errno::ERESTARTNOHAND)
}

/// Implements rt_sigtimedwait(2).
pub fn sys_rt_sigtimedwait(t: &mut Task) -> SysResult {
    let (set_addr, info_addr, ts_addr, size) = (t.arg(0), t.arg(1), t.arg(2), t.arg(3));
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let set: u64 = t.read_val(set_addr)?;
    let set = set & !UNBLOCKABLE;
    let deadline = if ts_addr != 0 {
        let ts: Timespec = t.read_val(ts_addr)?;
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        std::time::Instant::now().checked_add(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    } else {
        None
    };
    // Wait with the set unblocked for the wait's duration, but take the signal here.
    let take = |t: &Task| -> Option<Siginfo> {
        let blocked = !set;
        let info = lock(&t.shared.pending)
            .pop(blocked)
            .or_else(|| lock(&t.shared.tg.pending).pop(blocked))
            .map(|p| p.info);
        if let Some(info) = &info {
            t.k.timers.taken(t.tgid(), info);
        }
        info
    };
    if let Some(info) = take(t) {
        if info_addr != 0 {
            t.write_val(info_addr, &info)?;
        }
        return Ok(info.si_signo as u64);
    }
    let old = t.sigmask();
    t.set_sigmask(old & !set);
    let r = block_on(&[], deadline, || take(t).map(Ok));
    t.set_sigmask(old);
    match r {
        Ok(info) => {
            if info_addr != 0 {
                t.write_val(info_addr, &info)?;
            }
            Ok(info.si_signo as u64)
        }
        Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
        Err(Errno::ERESTARTSYS) => Err(Errno::EINTR),
        Err(e) => Err(e),
    }
}

/// Implements rt_sigreturn(2).
pub fn sys_rt_sigreturn(t: &mut Task) -> SysResult {
    kernel::sigreturn(t)
}

/// Implements sigaltstack(2).
pub fn sys_sigaltstack(t: &mut Task) -> SysResult {
    let (ss, old) = (t.arg(0), t.arg(1));
    let (sp, flags, size) = t.altstack;
    let on = size != 0 && t.regs.rsp > sp && t.regs.rsp - sp <= size;
    if old != 0 {
        let flags = if size == 0 {
            SS_DISABLE
        } else if on {
            SS_ONSTACK | (flags & SS_AUTODISARM)
        } else {
            flags
        };
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&sp.to_le_bytes());
        b[8..12].copy_from_slice(&flags.to_le_bytes());
        b[16..24].copy_from_slice(&size.to_le_bytes());
        t.copy_out(old, &b)?;
    }
    if ss != 0 {
        let mut b = [0u8; 24];
        t.copy_in(ss, &mut b)?;
        let nsp = u64::from_le_bytes(b[0..8].try_into().unwrap_or_default());
        let nflags = i32::from_le_bytes(b[8..12].try_into().unwrap_or_default());
        let nsize = u64::from_le_bytes(b[16..24].try_into().unwrap_or_default());
        if on {
            return Err(Errno::EPERM);
        }
        let mode = nflags & !SS_AUTODISARM;
        if mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK {
            return Err(Errno::EINVAL);
        }
        if mode == SS_DISABLE {
            t.altstack = (0, SS_DISABLE, 0);
        } else {
            if nsize < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            t.altstack = (nsp, nflags & SS_AUTODISARM, nsize);
        }
    }
    Ok(0)
}
