// SPDX-License-Identifier: Apache-2.0
//! The task loop: run the application thread until it traps, service the trap, repeat.

use syscalls::abi::*;

use super::{ExitStatus, Task};
use crate::platform::Trap;

/// Runs a task until it exits; returns how it ended.
pub fn run(mut t: Task) -> ExitStatus {
    loop {
        let trap = match t.ctx.switch(&mut t.regs) {
            Ok(trap) => trap,
            Err(e) => {
                tracing::error!("task {}: platform failure: {e}", t.tid);
                t.ctx.kill();
                return ExitStatus::Signal(SIGKILL);
            }
        };
        match trap {
            Trap::Syscall => {
                crate::syscalls::dispatch(&mut t);
                if let Some(status) = t.exit {
                    t.ctx.kill();
                    return status;
                }
            }
            Trap::Fault { signo, code, addr } => {
                // Handlers come with the signals issue; until then every fault takes the default
                // action (terminate with a core dump), as it does with no handler installed.
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
                    eprintln!(
                        "[{}] +++ killed by {} (core dumped) +++",
                        t.tid,
                        signal_name(signo)
                    );
                }
                t.ctx.kill();
                return ExitStatus::Signal(signo);
            }
            Trap::Signal { signo } => {
                tracing::debug!("task {}: host signal {signo} suppressed", t.tid);
            }
            Trap::Died { signo } => {
                tracing::warn!("task {}: stub died (signal {signo})", t.tid);
                return ExitStatus::Signal(if signo == 0 { SIGKILL } else { signo });
            }
        }
    }
}

/// The conventional name of a signal.
pub fn signal_name(sig: i32) -> &'static str {
    const NAMES: [&str; 32] = [
        "SIG0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    NAMES.get(sig as usize).copied().unwrap_or("SIGRT")
}
