// SPDX-License-Identifier: Apache-2.0
//! The system call table and its handlers, one `sys_<area>.rs` per family (gVisor
//! `pkg/sentry/syscalls/linux`).
//!
//! A handler decodes its arguments, validates them (unknown flag bits give EINVAL), looks up the
//! objects it acts on, copies application memory only through the task's memory manager, and
//! returns the value for `rax` or an errno. Control outcomes (exit) are set on the task.

mod strace;
mod sys_aio;
pub(crate) mod sys_block;
mod sys_cred;
mod sys_eventfd;
mod sys_fanotify;
pub(crate) mod sys_file;
mod sys_futex;
mod sys_inotify;
mod sys_ioprio;
mod sys_ipc;
mod sys_kcmp;
pub(crate) use sys_kcmp::{may_access as kcmp_may_access, view as kcmp_view};
mod sys_keys;
mod sys_landlock;
mod sys_lsm;
mod sys_misc;
mod sys_mm;
mod sys_mount;
pub use sys_aio::{AioContext, AIO_MAX_NR, AIO_NR};
mod sys_mount_api;
pub use sys_mount::{mask_path, readonly_path};
mod sys_mqueue;
mod sys_numa;
mod sys_pidfd;
pub(crate) use sys_pidfd::pidfd_install;
mod sys_poll;
mod sys_process;
mod sys_process_vm;
mod sys_rw2;
mod sys_sched;
mod sys_sched_attr;
mod sys_seccomp;
mod sys_signal;
mod sys_signalfd;
mod sys_socket;
mod sys_task;
mod sys_time;
mod sys_timer;
pub(crate) mod sys_timerfd;
pub mod table;

use syscalls::{Errno, Sysno};

use crate::kernel::Task;

/// A tmpfs from mount(2)'s options, for the mounts the sandbox makes at start.
pub(crate) use sys_mount::new_tmpfs;

/// What a handler returns: the value for `rax`, or an errno.
pub type SysResult = Result<u64, Errno>;

/// Services the system call the task stopped at, leaving the result in its `rax`; a traced
/// task stops for its tracer before and after (PTRACE_SYSCALL, PTRACE_SYSEMU).
pub fn dispatch(t: &mut Task) {
    use crate::kernel::ptrace::{self, Mode, StopKind};
    use syscalls::abi::{PTRACE_O_TRACESYSGOOD, SIGTRAP};
    let mode = ptrace::mode(t);
    if !matches!(mode, Mode::Syscall | Mode::Sysemu) {
        return service(t);
    }
    let code = if ptrace::options(t) & PTRACE_O_TRACESYSGOOD != 0 {
        SIGTRAP | 0x80
    } else {
        SIGTRAP
    };
    // Syscall-enter-stop: the tracer may change the number (-1 skips the call) and arguments.
    t.regs.rax = (-(Errno::ENOSYS.0 as i64)) as u64;
    ptrace::stop(t, StopKind::SyscallEnter, code, None, false);
    if t.shared
        .tg
        .killed
        .load(std::sync::atomic::Ordering::Acquire)
    {
        return;
    }
    if mode == Mode::Sysemu {
        t.syscall_return = true;
        return;
    }
    if t.regs.orig_rax == u64::MAX {
        t.syscall_return = true;
    } else {
        service(t);
    }
    if t.exit.is_some()
        || t.shared
            .tg
            .killed
            .load(std::sync::atomic::Ordering::Acquire)
    {
        return;
    }
    if ptrace::mode(t) == Mode::Syscall {
        ptrace::stop(t, StopKind::SyscallExit, code, None, false);
    }
}

fn service(t: &mut Task) {
    let nr = t.regs.orig_rax;
    let entry = u32::try_from(nr).ok().and_then(table::lookup);
    let trace = t.k.strace;
    if trace {
        strace::enter(t, nr, entry);
    }
    t.syscall_return = true;
    // The task's seccomp filters see the call as it was made, before the sentry acts on it.
    if let crate::kernel::seccomp::Verdict::Skip = crate::kernel::seccomp::on_syscall(t) {
        if trace {
            let rax = t.regs.rax as i64;
            let result = if (-4095..0).contains(&rax) {
                Err(Errno(-rax as i32))
            } else {
                Ok(rax as u64)
            };
            strace::exit(t, nr, entry, result);
        }
        return;
    }
    // The set*id family, capset and prctl: the credentials before, for commit_creds's rule.
    let creds_call = matches!(
        nr,
        105 | 106 | 113 | 114 | 116 | 117 | 119 | 122 | 123 | 126 | 157
    );
    let before = creds_call.then(|| {
        let c = &t.creds;
        (c.uid.1, c.gid.1, c.fsuid, c.fsgid, c.caps_permitted)
    });
    let result = match entry.and_then(|e| e.handler) {
        Some(handler) => handler(t),
        None => {
            let name = Sysno(nr as u32);
            if nr <= u64::from(u32::MAX) && t.k.first_unimplemented(nr as u32) {
                tracing::warn!("unimplemented system call {name} ({nr}): ENOSYS");
            }
            Err(Errno::ENOSYS)
        }
    };
    // A write to a pipe or socket nobody reads raises SIGPIPE as well as EPIPE (write, writev,
    // pwrite64, pwritev, pwritev2, splice, tee, vmsplice).
    if result == Err(Errno::EPIPE)
        && matches!(nr, 1 | 20 | 18 | 296 | 328 | 275 | 276 | 278)
        && (!matches!(nr, 1 | 20) || sys_socket::epipe_raises_sigpipe(t, fd_arg(t, 0)))
        && !(nr == 328 && t.arg(5) as u32 & syscalls::abi::RWF_NOSIGNAL != 0)
    {
        let info = crate::kernel::signal::user_info(syscalls::abi::SIGPIPE, 0x80, 0, 0);
        crate::kernel::send_thread_signal(&t.k, &t.shared.clone(), info);
    }
    // Internal restart codes (ERESTARTSYS...) stay in rax for signal delivery to resolve.
    let rax = match result {
        Ok(v) => v,
        Err(e) => (-(e.0 as i64)) as u64,
    };
    if trace {
        strace::exit(t, nr, entry, result);
    }
    // What /proc shows changes with the ids and the name.
    if result.is_ok() && creds_call {
        if let Some((euid, egid, fsuid, fsgid, permitted)) = before {
            // Linux's commit_creds: new effective or file-system ids, or permitted
            // capabilities beyond the old, make the process undumpable (fs.suid_dumpable, 0:
            // its /proc files become root's, and only CAP_SYS_PTRACE may trace it or open its
            // memory) and clear the parent-death signal.
            let c = &t.creds;
            if c.uid.1 != euid
                || c.gid.1 != egid
                || c.fsuid != fsuid
                || c.fsgid != fsgid
                || c.caps_permitted & !permitted != 0
            {
                t.shared
                    .tg
                    .dumpable
                    .store(0, std::sync::atomic::Ordering::Release);
                t.pdeath_signal = 0;
            }
        }
        t.publish();
    }
    t.regs.rax = rax;
}

/// The i-th argument as a file descriptor.
pub(crate) fn fd_arg(t: &Task, i: usize) -> i32 {
    t.arg(i) as i32
}
