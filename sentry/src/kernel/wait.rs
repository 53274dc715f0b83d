// SPDX-License-Identifier: Apache-2.0
//! wait4(2) and waitid(2): collecting children's exits, stops and continues.

use syscalls::abi::*;
use syscalls::Errno;

use super::block::block_on;
use super::tree::{wait_status, Report};
use std::sync::Arc;

use super::tree::TaskShared;
use super::{lock, ptrace, ExitStatus, Task};

/// Which children a wait is for.
#[derive(Debug, Clone, Copy)]
pub enum WaitTarget {
    /// Any child.
    Any,
    /// The child with this pid.
    Pid(i32),
    /// Children in this process group.
    Pgid(i32),
}

/// wait options.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitOptions {
    /// WNOHANG.
    pub nohang: bool,
    /// WEXITED (implied by wait4).
    pub exited: bool,
    /// WUNTRACED / WSTOPPED.
    pub stopped: bool,
    /// WCONTINUED.
    pub continued: bool,
    /// WNOWAIT: leave the child waitable.
    pub nowait: bool,
    /// __WCLONE: only clone children; __WALL: all.
    pub clone_only: bool,
    /// __WALL.
    pub all: bool,
}

/// What a wait found.
#[derive(Debug, Clone, Copy)]
pub struct WaitResult {
    /// The child's pid.
    pub pid: i32,
    /// The wait4 status word.
    pub status: i32,
    /// waitid's si_code (CLD_*) and si_status.
    pub code: i32,
    /// si_status for waitid.
    pub si_status: i32,
    /// The child's uid.
    pub uid: u32,
    /// The child's (user, system) CPU time with its reaped children's, in nanoseconds, for
    /// an exit (wait4's rusage); zero for a stop or a continue.
    pub usage: (u64, u64),
}

/// Waits for a child as wait4/waitid do; `Ok(None)` for WNOHANG with nothing to report.
pub fn do_wait(
    t: &Task,
    target: WaitTarget,
    opts: WaitOptions,
) -> Result<Option<WaitResult>, Errno> {
    let k = t.k.clone();
    let me = t.tgid();
    let my_pgid = lock(&k.tree).procs.get(&me).map(|p| p.pgid).unwrap_or(0);
    let mut deferred = None;
    let r = block_on(&[&t.shared.tg.child_events], None, || {
        let mut tree = lock(&k.tree);
        let children: Vec<i32> = tree
            .procs
            .get(&me)
            .map(|p| p.children.iter().copied().collect())
            .unwrap_or_default();
        let mut any = false;
        // Tasks this process traces: their ptrace-stops, and the end of those that are not
        // its own children (whatever __WCLONE/__WALL say, as Linux's eligible_child).
        let traced: Vec<(i32, Arc<TaskShared>)> = tree
            .ptraced
            .iter()
            .filter(|(_, (tr, _))| *tr == me)
            .map(|(tid, (_, ts))| (*tid, ts.clone()))
            .collect();
        for (tid, ts) in traced {
            let tgid = ts.tg.tgid;
            let proc_ = tree.procs.get(&tgid);
            let matches = match target {
                WaitTarget::Any => true,
                WaitTarget::Pid(p) => p == tid,
                WaitTarget::Pgid(g) => {
                    proc_.map(|p| p.pgid) == Some(if g == 0 { my_pgid } else { g })
                }
            };
            if !matches {
                continue;
            }
            let my_child = tid == tgid && proc_.is_some_and(|p| p.parent == me);
            let uid = proc_.map(|p| p.uid).unwrap_or(0);
            let zombie = proc_.is_some_and(|p| p.zombie.is_some());
            let Some((status, code, si_status, gone)) = ptrace::wait_report(&ts, opts.nowait)
            else {
                any = true;
                continue;
            };
            if gone && my_child {
                continue; // its end is collected as a child's
            }
            any = true;
            if gone && !opts.exited {
                continue;
            }
            if gone && !opts.nowait {
                tree.ptraced.remove(&tid);
                // The real parent of a process hears of its end now.
                if tid == tgid && zombie {
                    deferred = super::exit::parent_hears(&mut tree, tgid);
                }
            }
            return Some(Ok(Some(WaitResult {
                pid: tid,
                status,
                code,
                si_status,
                uid,
                usage: (0, 0),
            })));
        }
        for c in children {
            let Some(cp) = tree.procs.get(&c) else {
                continue;
            };
            let matches = match target {
                WaitTarget::Any => true,
                WaitTarget::Pid(p) => p == c,
                WaitTarget::Pgid(g) => cp.pgid == if g == 0 { my_pgid } else { g },
            };
            let is_clone = cp.exit_signal != SIGCHLD;
            if !matches || (!opts.all && is_clone != opts.clone_only) {
                continue;
            }
            // A zombie is something to wait for only by a wait for exits (wait_task_zombie
            // leaves notask_error alone): with only zombies and no WEXITED, ECHILD.
            if cp.zombie.is_some() && !opts.exited {
                continue;
            }
            any = true;
            if cp.zombie.is_some() && tree.ptraced.get(&c).is_some_and(|(tr, _)| *tr != me) {
                continue; // its tracer collects its end first
            }
            if let (Some(st), true) = (cp.zombie, opts.exited) {
                let core = cp.tg.core_dumped.load(std::sync::atomic::Ordering::Acquire);
                let (code, si_status) = match st {
                    ExitStatus::Code(x) => (CLD_EXITED, x),
                    ExitStatus::Signal(s) if core => (CLD_DUMPED, s),
                    ExitStatus::Signal(s) => (CLD_KILLED, s),
                };
                let r = WaitResult {
                    pid: c,
                    status: wait_status(st, core),
                    code,
                    si_status,
                    uid: cp.uid,
                    usage: super::usage::zombie_totals(&cp.tg),
                };
                if !opts.nowait {
                    super::usage::reaped(&t.shared.tg, r.usage);
                    tree.procs.remove(&c);
                    tree.ptraced.remove(&c);
                    if let Some(p) = tree.procs.get_mut(&me) {
                        p.children.remove(&c);
                    }
                }
                return Some(Ok(Some(r)));
            }
            let uid = cp.uid;
            if tree.ptraced.get(&c).is_some_and(|(tr, _)| *tr == me) {
                continue; // a tracer sees its traced child's stops as ptrace-stops
            }
            match cp.report {
                Some(Report::Stopped(sig)) if opts.stopped => {
                    if !opts.nowait {
                        if let Some(cp) = tree.procs.get_mut(&c) {
                            cp.report = None;
                        }
                    }
                    let r = WaitResult {
                        pid: c,
                        status: (sig << 8) | 0x7f,
                        code: CLD_STOPPED,
                        si_status: sig,
                        uid,
                        usage: (0, 0),
                    };
                    return Some(Ok(Some(r)));
                }
                Some(Report::Continued) if opts.continued => {
                    if !opts.nowait {
                        if let Some(cp) = tree.procs.get_mut(&c) {
                            cp.report = None;
                        }
                    }
                    let r = WaitResult {
                        pid: c,
                        status: 0xffff,
                        code: CLD_CONTINUED,
                        si_status: SIGCONT,
                        uid,
                        usage: (0, 0),
                    };
                    return Some(Ok(Some(r)));
                }
                _ => {}
            }
        }
        if !any {
            return Some(Err(Errno::ECHILD));
        }
        if opts.nohang {
            return Some(Ok(None));
        }
        None
    });
    if let Some(n) = deferred {
        super::exit::tell_parent(&k, n);
    }
    r
}
