// SPDX-License-Identifier: Apache-2.0
//! The process table: thread groups, their parents and children, process groups and sessions,
//! zombies and what wait(2) reports. One lock (the kernel's `tree`) guards all of it, as
//! gVisor's TaskSet mutex does, so there is no lock order to get wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use syscalls::abi::*;

use super::block::{WaitQueue, Waker};
use super::signal::{bit, SigQueue, SigSet};
use super::{lock, ExitStatus, SigHand};
use crate::platform::Interrupter;

/// What other sentry threads may touch of a task.
pub struct TaskShared {
    /// Thread id.
    pub tid: i32,
    /// Its thread group.
    pub tg: Arc<ThreadGroup>,
    /// Signals sent to this thread.
    pub pending: Mutex<SigQueue>,
    /// Blocked signals.
    pub sigmask: Mutex<SigSet>,
    /// Wakes the task when it blocks in the sentry.
    pub waker: Arc<Waker>,
    /// The head set_robust_list(2) gave, for get_robust_list(2) of another task.
    pub robust_head: std::sync::atomic::AtomicU64,
    /// The host thread of the sentry thread serving it (0: none yet, or gone), and that
    /// thread's CPU time when it began: the task's system time ([`super::usage`]).
    pub sentry_tid: std::sync::atomic::AtomicI32,
    pub cpu_base: std::sync::atomic::AtomicU64,
    /// Interrupts the task when it runs application code.
    pub interrupter: Mutex<Option<Arc<dyn Interrupter>>>,
    /// Set once the task has exited.
    pub exited: AtomicBool,
    /// Set when another thread's execve ends this one.
    pub must_exit: AtomicBool,
    /// What /proc shows of the task, published by its own thread.
    pub info: Mutex<Option<super::TaskInfo>>,
    /// When the task started.
    pub start: std::time::Instant,
    /// PR_SET_PDEATHSIG: the signal this task gets when its parent dies.
    pub pdeath: Mutex<i32>,
    /// 'R' running or 'S' sleeping in the sentry (/proc/[pid]/stat).
    pub run_state: std::sync::atomic::AtomicU8,
    /// Scheduling policy, priority and nice value (recorded only: the host's scheduler is not
    /// changed); a new task inherits its creator's.
    pub sched: Mutex<Sched>,
    /// `sched.cpus` changed since the task's platform context last followed it.
    pub cpus_changed: AtomicBool,
    /// Its seccomp mode and filters (shared with the threads a TSYNC reaches).
    pub seccomp: super::seccomp::TaskSeccomp,
    /// A session keyring a child gave it (KEYCTL_SESSION_TO_PARENT), installed by its own
    /// thread before it next returns to the program.
    pub new_session: super::keys::Handoff,
    /// Its tracer and ptrace-stop (in-sandbox ptrace).
    pub ptrace: super::ptrace::Ptrace,
    /// Its time namespaces (changed through [`TaskShared::set_time`]).
    pub time: Mutex<super::timens::Pair>,
    /// Its clocks read in a time namespace other than the initial one (the run loop's check,
    /// on every system call, without the lock).
    pub timens_moved: AtomicBool,
}

/// A task's scheduling state, as sched_setscheduler(2) and setpriority(2) leave it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sched {
    /// SCHED_OTHER, SCHED_FIFO, ...
    pub policy: u32,
    /// The static priority (1..=99 for the real-time policies, 0 otherwise).
    pub priority: i32,
    /// SCHED_RESET_ON_FORK was asked.
    pub reset_on_fork: bool,
    /// The nice value (-20..=19).
    pub nice: i32,
    /// The I/O priority ioprio_set(2) gave (class << 13 | hints << 3 | level; 0: none set).
    pub ioprio: u32,
    /// sched_setattr(2)'s custom time slice of a fair policy (ns; 0: the default).
    pub slice: u64,
    /// SCHED_DEADLINE's runtime, deadline and period (ns), and its flags.
    pub dl: (u64, u64, u64, u64),
    /// The CPUs sched_setaffinity(2) allows (inherited by every child, kept across execve).
    pub cpus: CpuMask,
}

/// A set of the sandbox's CPUs (numbered from 0 over the host CPUs the sandbox may use), up to
/// glibc's 1,024. The empty set, which sched_setaffinity(2) never leaves, stands for all of
/// them (so that `Sched::default()` allows every CPU).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuMask([u64; 16]);

impl CpuMask {
    /// The most CPUs a mask can name.
    pub const MAX: usize = 1024;

    /// The set of the CPUs in the first `len` bytes of `bytes` (a cpu_set_t), limited to the
    /// sandbox's CPUs; None when that leaves none.
    pub fn from_bytes(bytes: &[u8]) -> Option<CpuMask> {
        let mut m = CpuMask::default();
        for c in 0..crate::host::ncpu().min(Self::MAX) {
            if bytes.get(c / 8).is_some_and(|b| b & (1 << (c % 8)) != 0) {
                m.0[c / 64] |= 1 << (c % 64);
            }
        }
        (m != CpuMask::default()).then_some(m)
    }

    /// Whether the set names CPU `c`.
    pub fn contains(&self, c: usize) -> bool {
        if c >= crate::host::ncpu().min(Self::MAX) {
            return false;
        }
        *self == CpuMask::default() || self.0[c / 64] & (1 << (c % 64)) != 0
    }

    /// Whether the set names every CPU of the sandbox.
    pub fn is_all(&self) -> bool {
        (0..crate::host::ncpu().min(Self::MAX)).all(|c| self.contains(c))
    }

    /// The CPUs, in order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..crate::host::ncpu().min(Self::MAX)).filter(|&c| self.contains(c))
    }

    /// The set as a cpu_set_t of `len` bytes.
    pub fn to_bytes(&self, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        for c in self.iter() {
            if let Some(x) = b.get_mut(c / 8) {
                *x |= 1 << (c % 8);
            }
        }
        b
    }

    /// The set as /proc/[pid]/status's Cpus_allowed shows it (`%*pb` over the CPUs): hex
    /// words of 32 bits, the highest first and only as wide as the CPUs it holds, joined by
    /// commas.
    pub fn hex(&self) -> String {
        let n = crate::host::ncpu().clamp(1, Self::MAX);
        let words = n.div_ceil(32);
        let mut out = Vec::with_capacity(words);
        for w in (0..words).rev() {
            let mut v = 0u32;
            for c in self.iter().filter(|c| c / 32 == w) {
                v |= 1 << (c % 32);
            }
            let width = if w == words - 1 {
                (n - 32 * w).div_ceil(4)
            } else {
                8
            };
            out.push(format!("{v:0width$x}"));
        }
        out.join(",")
    }

    /// The set as a list of ranges ("0-3,6").
    pub fn list(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut run: Option<(usize, usize)> = None;
        for c in self.iter() {
            run = match run {
                Some((a, b)) if b + 1 == c => Some((a, c)),
                Some(r) => {
                    out.push(range(r));
                    Some((c, c))
                }
                None => Some((c, c)),
            };
        }
        out.extend(run.map(range));
        return out.join(",");

        fn range((a, b): (usize, usize)) -> String {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        }
    }
}

impl Sched {
    /// What a task created by a task with this state starts with (sched(7), "Resetting
    /// scheduling policy for child processes": with SCHED_RESET_ON_FORK a real-time policy
    /// becomes SCHED_OTHER, a negative nice 0, and the flag is not inherited).
    pub fn inherited(self) -> Sched {
        if !self.reset_on_fork {
            return self;
        }
        let realtime = matches!(self.policy, SCHED_FIFO | SCHED_RR | SCHED_DEADLINE);
        Sched {
            policy: if realtime { SCHED_OTHER } else { self.policy },
            priority: if realtime { 0 } else { self.priority },
            reset_on_fork: false,
            nice: if realtime { 0 } else { self.nice.max(0) },
            ioprio: self.ioprio,
            slice: self.slice,
            dl: if realtime { (0, 0, 0, 0) } else { self.dl },
            cpus: self.cpus,
        }
    }
}

impl TaskShared {
    /// A new task of `tg`.
    pub fn new(tid: i32, tg: Arc<ThreadGroup>, sigmask: SigSet) -> Arc<TaskShared> {
        Arc::new(TaskShared {
            tid,
            tg,
            pending: Mutex::new(SigQueue::default()),
            sigmask: Mutex::new(sigmask),
            waker: Arc::new(Waker::default()),
            robust_head: std::sync::atomic::AtomicU64::new(0),
            sentry_tid: std::sync::atomic::AtomicI32::new(0),
            cpu_base: std::sync::atomic::AtomicU64::new(0),
            interrupter: Mutex::new(None),
            exited: AtomicBool::new(false),
            must_exit: AtomicBool::new(false),
            info: Mutex::new(None),
            start: std::time::Instant::now(),
            run_state: std::sync::atomic::AtomicU8::new(b'R'),
            pdeath: Mutex::new(0),
            sched: Mutex::new(Sched::default()),
            cpus_changed: AtomicBool::new(false),
            seccomp: Default::default(),
            new_session: Default::default(),
            ptrace: Default::default(),
            time: Default::default(),
            timens_moved: AtomicBool::new(false),
        })
    }

    /// Sets the task's time namespaces.
    pub fn set_time(&self, p: super::timens::Pair) {
        self.timens_moved.store(!p.ns.is_root(), Ordering::Release);
        *super::lock(&self.time) = p;
    }

    /// Whether a signal the task does not block is pending (or its group is being killed).
    pub fn signal_pending(&self) -> bool {
        if self.tg.killed.load(Ordering::Acquire)
            || self.must_exit.load(Ordering::Acquire)
            || self.ptrace.interrupt.load(Ordering::Acquire)
        {
            return true;
        }
        let mask = *lock(&self.sigmask);
        let own = lock(&self.pending).set;
        let shared = lock(&self.tg.pending).set;
        (own | shared) & !mask != 0
    }

    /// Makes the task notice a signal: wakes it if blocked, interrupts it if running.
    pub fn kick(&self) {
        self.waker.notify();
        if self.ptrace.traced.load(Ordering::Acquire) {
            self.ptrace.wake();
        }
        if let Some(i) = lock(&self.interrupter).as_ref() {
            i.interrupt();
        }
    }

    /// The task's scheduling state as /proc shows it.
    pub fn state(&self) -> char {
        self.run_state.load(Ordering::Relaxed) as char
    }

    /// Whether the task blocks `sig`.
    pub fn blocks(&self, sig: i32) -> bool {
        *lock(&self.sigmask) & bit(sig) != 0
    }
}

/// A thread group (an application process): what its threads share.
pub struct ThreadGroup {
    /// The process id.
    pub tgid: i32,
    /// Signals sent to the process.
    pub pending: Mutex<SigQueue>,
    /// Signal dispositions (replaced by an unshared copy at exec when shared).
    pub sighand: Mutex<Arc<Mutex<SigHand>>>,
    /// Notified when a child changes state (exit, stop, continue).
    pub child_events: WaitQueue,
    /// Notified when the group is continued after a stop, or killed.
    pub resume: WaitQueue,
    /// Notified when a signal is queued to the group or one of its threads (signalfd's
    /// pollers).
    pub signal_events: WaitQueue,
    /// Set when the group is being killed (exit_group, a fatal signal): every thread exits.
    pub killed: AtomicBool,
    /// The group's exit status once `killed` is set.
    pub exit_status: Mutex<Option<ExitStatus>>,
    /// Group stop: the stop signal, while stopped.
    pub stopped: Mutex<Option<i32>>,
    /// Counts group stops (a traced thread reports each one once to its tracer).
    pub stop_gen: std::sync::atomic::AtomicU64,
    /// SIGKILL was sent to the group (it ends even a PTRACE_EVENT_EXIT stop).
    pub sigkilled: AtomicBool,
    /// Its live threads.
    pub tasks: Mutex<Vec<Arc<TaskShared>>>,
    /// PR_SET_DUMPABLE.
    pub dumpable: std::sync::atomic::AtomicU8,
    /// Whether the group's end counts as a core dump (WCOREDUMP, CLD_DUMPED): killed by a
    /// signal whose default action dumps core, with RLIMIT_CORE above 0 and the process
    /// dumpable, when Linux would write one. (The sandbox writes no core file.)
    pub core_dumped: AtomicBool,
    /// Its first thread, kept after it exits (a zombie's /proc entry still shows it).
    pub leader: Mutex<Option<Arc<TaskShared>>>,
    /// /proc/[pid]/oom_score_adj (kept and inherited; the sandbox has no OOM killer of its
    /// own), and the least a task without CAP_SYS_RESOURCE may set it to.
    pub oom_score_adj: std::sync::atomic::AtomicI32,
    /// See `oom_score_adj`.
    pub oom_score_adj_min: std::sync::atomic::AtomicI32,
    /// CPU time of its threads and images that are gone, and of its reaped children.
    pub usage: Mutex<super::usage::Usage>,
    /// The membarrier(2) registrations of its address space (MEMBARRIER_CMD_REGISTER_*
    /// bits; execve clears them).
    pub membarrier: std::sync::atomic::AtomicU32,
}

impl ThreadGroup {
    /// A new thread group.
    pub fn new(tgid: i32, sighand: Arc<Mutex<SigHand>>) -> Arc<ThreadGroup> {
        Arc::new(ThreadGroup {
            tgid,
            pending: Mutex::new(SigQueue::default()),
            sighand: Mutex::new(sighand),
            child_events: WaitQueue::default(),
            resume: WaitQueue::default(),
            signal_events: WaitQueue::default(),
            killed: AtomicBool::new(false),
            exit_status: Mutex::new(None),
            stopped: Mutex::new(None),
            stop_gen: Default::default(),
            sigkilled: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
            leader: Mutex::new(None),
            dumpable: std::sync::atomic::AtomicU8::new(1),
            core_dumped: AtomicBool::new(false),
            oom_score_adj: Default::default(),
            oom_score_adj_min: Default::default(),
            usage: Mutex::new(Default::default()),
            membarrier: Default::default(),
        })
    }

    /// Wakes every thread of the group (to notice a signal, a stop or a kill).
    pub fn kick_all(&self) {
        for t in lock(&self.tasks).iter() {
            t.kick();
        }
    }

    /// The current dispositions.
    pub fn sighand(&self) -> Arc<Mutex<SigHand>> {
        lock(&self.sighand).clone()
    }
}

/// A state change a parent has not yet collected with wait(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Stopped by this signal (WUNTRACED).
    Stopped(i32),
    /// Continued (WCONTINUED).
    Continued,
}

/// One process in the table.
pub struct Proc {
    /// Its thread group.
    pub tg: Arc<ThreadGroup>,
    /// The parent's pid (0: outside the sandbox).
    pub parent: i32,
    /// Children's pids.
    pub children: BTreeSet<i32>,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// How it ended, once all its threads have: a zombie until reaped.
    pub zombie: Option<ExitStatus>,
    /// A zombie's last thread, which the calls that read a task's scheduling state still
    /// find (as Linux finds a zombie's task until it is reaped).
    pub last_task: Option<Arc<TaskShared>>,
    /// The signal sent to the parent at exit (SIGCHLD, or another for clone children).
    pub exit_signal: i32,
    /// A stop or continue not yet reported to wait(2).
    pub report: Option<Report>,
    /// PR_SET_CHILD_SUBREAPER.
    pub subreaper: bool,
    /// Real uid (for SIGCHLD's siginfo).
    pub uid: u32,
    /// Whether it has called execve since fork (setpgid's EACCES).
    pub execed: bool,
    /// It gave up its session's controlling terminal (TIOCNOTTY by a process that is not the
    /// leader: Linux clears its signal->tty alone); inherited by fork, cleared by setsid.
    pub no_ctty: bool,
}

/// The whole table.
#[derive(Default)]
pub struct ProcTree {
    /// Processes by pid.
    pub procs: BTreeMap<i32, Proc>,
    /// Threads by tid.
    pub threads: BTreeMap<i32, Arc<TaskShared>>,
    /// Traced tasks by tid: their tracer's pid, and the task (kept after it exits, until the
    /// tracer has collected its end).
    pub ptraced: BTreeMap<i32, (i32, Arc<TaskShared>)>,
    last_pid: i32,
}

/// Largest pid (Linux's default pid_max).
pub const PID_MAX: i32 = 4_194_304;

impl ProcTree {
    /// A fresh pid (tids and pids share one space).
    pub fn alloc_pid(&mut self) -> Option<i32> {
        for _ in 0..PID_MAX {
            self.last_pid = if self.last_pid >= PID_MAX - 1 {
                300
            } else {
                self.last_pid + 1
            };
            let p = self.last_pid;
            if !self.threads.contains_key(&p)
                && !self.procs.contains_key(&p)
                && !self.pgid_in_use(p)
            {
                return Some(p);
            }
        }
        None
    }

    fn pgid_in_use(&self, p: i32) -> bool {
        self.procs.values().any(|x| x.pgid == p || x.sid == p)
    }

    /// Live processes (not zombies) in process group `pgid`.
    pub fn group_members(&self, pgid: i32) -> Vec<i32> {
        self.procs
            .iter()
            .filter(|(_, p)| p.pgid == pgid && p.zombie.is_none())
            .map(|(k, _)| *k)
            .collect()
    }

    /// The process that adopts the orphans of `pid`: the nearest subreaper ancestor, else init.
    pub fn reaper_for(&self, pid: i32) -> i32 {
        let mut at = self.procs.get(&pid).map(|p| p.parent).unwrap_or(0);
        while at > 0 {
            match self.procs.get(&at) {
                Some(p) if p.subreaper && p.zombie.is_none() => return at,
                Some(p) => at = p.parent,
                None => break,
            }
        }
        1
    }
}

/// The wait(2) status word of an exit.
pub fn wait_status(e: ExitStatus, core: bool) -> i32 {
    match e {
        ExitStatus::Code(c) => (c & 0xff) << 8,
        ExitStatus::Signal(s) => s | if core { 0x80 } else { 0 },
    }
}

/// Whether `sig`'s default action dumps core (the status's core bit).
pub fn dumps_core(sig: i32) -> bool {
    matches!(
        sig,
        SIGQUIT
            | SIGILL
            | SIGTRAP
            | SIGABRT
            | SIGBUS
            | SIGFPE
            | SIGSEGV
            | SIGXCPU
            | SIGXFSZ
            | SIGSYS
    )
}
