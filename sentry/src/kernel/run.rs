// SPDX-License-Identifier: Apache-2.0
//! The task loop: deliver signals, run the application thread until it traps, service the
//! trap, repeat; then exit.

use std::sync::atomic::Ordering;

use syscalls::abi::*;

use super::signal_deliver::{deliver, fault, kill_group};
use super::{block, ExitStatus, Task};
use crate::platform::Trap;

/// Makes the task's application thread (and its sentry thread) run only on the host CPUs of
/// its affinity mask.
fn follow_affinity(t: &mut Task) {
    let cpus = super::lock(&t.shared.sched).cpus;
    let host: Option<Vec<usize>> =
        (!cpus.is_all()).then(|| cpus.iter().filter_map(crate::host::host_cpu).collect());
    t.ctx.set_cpus(host.as_deref());
}

/// Runs a task on the calling sentry thread until it exits.
pub fn run(mut t: Task) {
    super::usage::serving(&t.shared);
    block::set_current(Some(t.shared.clone()));
    block::set_kernel(&t.k);
    t.publish();
    loop {
        if t.exit.is_some()
            || t.shared.tg.killed.load(Ordering::Acquire)
            || t.shared.must_exit.load(Ordering::Acquire)
        {
            break;
        }
        if t.k.frozen() {
            let k = t.k.clone();
            k.wait_thawed(|| {
                t.shared.tg.killed.load(Ordering::Acquire)
                    || t.shared.must_exit.load(Ordering::Acquire)
            });
        }
        deliver(&mut t);
        if t.shared.tg.killed.load(Ordering::Acquire) {
            break;
        }
        if let Some(ses) = t.shared.new_session.take() {
            t.creds.keys.session = Some(ses);
            t.publish();
        }
        if t.shared.cpus_changed.swap(false, Ordering::AcqRel) {
            follow_affinity(&mut t);
        }
        if super::clock::vdso_traps() || t.shared.timens_moved.load(Ordering::Acquire) {
            let mm = t.mm.clone();
            super::lock(&mm).patch_vdso(t.ctx.as_mut());
        }
        let trap = match t.ctx.switch(&mut t.regs) {
            Ok(trap) => trap,
            Err(e) => {
                tracing::error!("task {}: platform failure: {e}", t.tid);
                kill_group(&t.shared.tg, ExitStatus::Signal(SIGKILL));
                break;
            }
        };
        match trap {
            Trap::Syscall => crate::syscalls::dispatch(&mut t),
            Trap::Fault { signo, code, addr } => {
                tracing::debug!(
                    "task {}: fault signal {signo} code {code} at {addr:#x}, rip {:#x}",
                    t.tid,
                    t.regs.rip
                );
                if t.k.strace {
                    eprintln!(
                        "[{}] --- {} {{si_code={code}, si_addr={addr:#x}}} ---",
                        t.tid,
                        signal_name(signo)
                    );
                }
                fault(&mut t, signo, code, addr);
            }
            Trap::Interrupted => {}
            Trap::Died { signo } => {
                tracing::warn!("task {}: stub died (signal {signo})", t.tid);
                kill_group(
                    &t.shared.tg,
                    ExitStatus::Signal(if signo == 0 { SIGKILL } else { signo }),
                );
            }
        }
    }
    if super::ptrace::traced(&t) && !t.shared.tg.sigkilled.load(Ordering::Acquire) {
        // PTRACE_EVENT_EXIT: the tracer sees the task before it goes (only SIGKILL skips it).
        let status = if t.shared.tg.killed.load(Ordering::Acquire) {
            *super::lock(&t.shared.tg.exit_status)
        } else {
            t.exit
        };
        let st = super::tree::wait_status(status.unwrap_or(ExitStatus::Code(0)), false);
        super::ptrace::event(&mut t, PTRACE_O_TRACEEXIT, PTRACE_EVENT_EXIT, st as u64);
    }
    if t.k.strace {
        if let Some(ExitStatus::Signal(s)) = *super::lock(&t.shared.tg.exit_status) {
            eprintln!("[{}] +++ killed by {} +++", t.tid, signal_name(s));
        }
    }
    super::exit::do_exit(t);
    block::set_current(None);
}

/// The conventional name of a signal.
pub fn signal_name(sig: i32) -> &'static str {
    syscalls::abi::signal_name(sig).unwrap_or("SIGRT")
}
