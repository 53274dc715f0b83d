// SPDX-License-Identifier: Apache-2.0
//! Signal queues and sets.

use std::collections::VecDeque;

use syscalls::abi::*;

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
        self.queue.push_back(Pending { info });
        true
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
        self.queue.retain(|p| set & bit(p.info.si_signo) == 0);
        self.set &= !set;
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
