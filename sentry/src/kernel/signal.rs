// SPDX-License-Identifier: Apache-2.0
//! Signal queues and sets.

use std::collections::{BTreeMap, VecDeque};

use syscalls::abi::*;
use syscalls::Errno;

/// A signal set: bit `n - 1` stands for signal `n`.
pub type SigSet = u64;

/// The bit of signal `sig`.
pub fn bit(sig: i32) -> SigSet {
    1u64 << (sig - 1)
}

/// Signals that can never be blocked, caught or ignored.
pub const UNBLOCKABLE: SigSet = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

/// What a signal does by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    /// End the process.
    Terminate,
    /// End the process with a core dump.
    Core,
    /// Stop the process (job control).
    Stop,
    /// Continue a stopped process.
    Continue,
    /// Nothing.
    Ignore,
}

/// The default action of a signal.
pub fn default_action(sig: i32) -> DefaultAction {
    match sig {
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ
        | SIGSYS => DefaultAction::Core,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        SIGCONT => DefaultAction::Continue,
        SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ignore,
        _ => DefaultAction::Terminate,
    }
}

/// One pending signal with its siginfo.
#[derive(Clone, Copy, Debug)]
pub struct Pending {
    /// Its siginfo (si_signo set).
    pub info: Siginfo,
    /// The user charged for it in [`QUEUED`] (None: queued without a charge).
    charged: Option<u32>,
}

/// Signals queued now, by the real user id charged for each (Linux's per-user count,
/// UCOUNT_RLIMIT_SIGPENDING, which RLIMIT_SIGPENDING bounds): a charge is taken when a signal
/// is queued by [`SigQueue::push_charged`] and given back when it leaves its queue.
static QUEUED: std::sync::Mutex<BTreeMap<u32, u64>> = std::sync::Mutex::new(BTreeMap::new());

fn uncharge(uid: Option<u32>) {
    if let Some(uid) = uid {
        let mut q = super::lock(&QUEUED);
        if let Some(n) = q.get_mut(&uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                q.remove(&uid);
            }
        }
    }
}

/// The signals queued now for which `uid` was charged.
pub fn queued_for(uid: u32) -> u64 {
    super::lock(&QUEUED).get(&uid).copied().unwrap_or(0)
}

/// A queue of pending signals: one instance of each standard signal, every instance of a
/// real-time one, in order.
#[derive(Default)]
pub struct SigQueue {
    /// Which signals are pending.
    pub set: SigSet,
    queue: VecDeque<Pending>,
}

/// Most real-time signals queued at once (RLIMIT_SIGPENDING is the real bound).
const MAX_QUEUED: usize = 4096;

impl SigQueue {
    /// Queues a signal; false if it was dropped (a standard signal already pending, or the queue
    /// is full).
    pub fn push(&mut self, info: Siginfo) -> bool {
        let sig = info.si_signo;
        if sig < SIGRTMIN && self.set & bit(sig) != 0 {
            return false;
        }
        if self.queue.len() >= MAX_QUEUED {
            return false;
        }
        self.set |= bit(sig);
        self.queue.push_back(Pending {
            info,
            charged: None,
        });
        true
    }

    /// [`Self::push`], charging the real user `uid` of the receiving task, whose
    /// RLIMIT_SIGPENDING is `limit` (Linux's __send_signal_locked and __sigqueue_alloc). Only a
    /// standard signal from the kernel or kill(2) (si_code >= 0) may go past the limit. Past
    /// it, a real-time signal a process queued (si_code < 0) fails with EAGAIN; any other
    /// signal is made pending without its siginfo (it is taken as SI_USER from nobody), and
    /// adds no instance when one is pending already.
    pub fn push_charged(&mut self, info: Siginfo, uid: u32, limit: u64) -> Result<bool, Errno> {
        let sig = info.si_signo;
        if sig < SIGRTMIN && self.set & bit(sig) != 0 {
            return Ok(false);
        }
        // A POSIX timer's signal has its queue entry from timer_create on (Linux preallocates
        // it), so it is never refused here.
        let exempt = (sig < SIGRTMIN && info.si_code >= 0) || info.si_code == SI_TIMER;
        let charged = {
            let mut q = super::lock(&QUEUED);
            let n = q.entry(uid).or_insert(0);
            if exempt || *n < limit {
                *n += 1;
                Some(uid)
            } else {
                None
            }
        };
        let info = match charged {
            Some(_) => info,
            None if sig >= SIGRTMIN && info.si_code != SI_USER => return Err(Errno::EAGAIN),
            None if self.set & bit(sig) != 0 => return Ok(false),
            None => user_info(sig, SI_USER, 0, 0),
        };
        if self.queue.len() >= MAX_QUEUED {
            uncharge(charged);
            return Ok(false);
        }
        self.set |= bit(sig);
        self.queue.push_back(Pending { info, charged });
        Ok(true)
    }

    /// Takes the lowest-numbered pending signal not in `blocked` (standard signals first, as
    /// Linux does).
    pub fn pop(&mut self, blocked: SigSet) -> Option<Pending> {
        let ready = self.set & !blocked;
        if ready == 0 {
            return None;
        }
        let sig = ready.trailing_zeros() as i32 + 1;
        self.take(sig)
    }

    /// Takes one instance of `sig`.
    pub fn take(&mut self, sig: i32) -> Option<Pending> {
        let i = self.queue.iter().position(|p| p.info.si_signo == sig)?;
        let p = self.queue.remove(i)?;
        uncharge(p.charged);
        if !self.queue.iter().any(|p| p.info.si_signo == sig) {
            self.set &= !bit(sig);
        }
        Some(p)
    }

    /// The pending instance of a POSIX timer's signal (SI_TIMER with this timer id), if any.
    pub fn timer_pending(&mut self, sig: i32, id: i32) -> Option<&mut Siginfo> {
        self.queue
            .iter_mut()
            .find(|p| {
                p.info.si_signo == sig
                    && p.info.si_code == -2
                    && p.info.fields[0] as u32 as i32 == id
            })
            .map(|p| &mut p.info)
    }

    /// Drops every pending instance of the signals in `set`.
    pub fn discard(&mut self, set: SigSet) {
        self.queue.retain(|p| {
            let keep = set & bit(p.info.si_signo) == 0;
            if !keep {
                uncharge(p.charged);
            }
            keep
        });
        self.set &= !set;
    }
}

impl Drop for SigQueue {
    fn drop(&mut self) {
        for p in &self.queue {
            uncharge(p.charged);
        }
    }
}

/// A siginfo for a signal sent by a process (SI_USER, SI_TKILL, SI_QUEUE).
pub fn user_info(sig: i32, code: i32, pid: i32, uid: u32) -> Siginfo {
    let mut fields = [0u64; 14];
    fields[0] = (pid as u32 as u64) | (u64::from(uid) << 32);
    Siginfo {
        si_signo: sig,
        si_errno: 0,
        si_code: code,
        _pad0: 0,
        fields,
    }
}

/// A siginfo sent by the kernel itself.
pub fn kernel_info(sig: i32) -> Siginfo {
    Siginfo {
        si_signo: sig,
        si_errno: 0,
        si_code: SI_KERNEL,
        _pad0: 0,
        fields: [0; 14],
    }
}

/// The SIGCHLD siginfo for a child event.
pub fn child_info(code: i32, pid: i32, uid: u32, status: i32) -> Siginfo {
    let mut fields = [0u64; 14];
    fields[0] = (pid as u32 as u64) | (u64::from(uid) << 32);
    fields[1] = status as u32 as u64;
    Siginfo {
        si_signo: SIGCHLD,
        si_errno: 0,
        si_code: code,
        _pad0: 0,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_signals_coalesce_realtime_ones_queue() {
        let mut q = SigQueue::default();
        assert!(q.push(kernel_info(SIGUSR1)));
        assert!(!q.push(kernel_info(SIGUSR1)));
        assert!(q.push(kernel_info(SIGRTMIN)));
        assert!(q.push(kernel_info(SIGRTMIN)));
        assert_eq!(q.pop(bit(SIGUSR1)).map(|p| p.info.si_signo), Some(SIGRTMIN));
        assert_eq!(q.set & bit(SIGRTMIN), bit(SIGRTMIN));
        assert_eq!(q.pop(0).map(|p| p.info.si_signo), Some(SIGUSR1));
        assert_eq!(q.pop(0).map(|p| p.info.si_signo), Some(SIGRTMIN));
        assert!(q.pop(0).is_none());
        assert_eq!(q.set, 0);
    }
}
