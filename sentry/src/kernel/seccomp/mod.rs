// SPDX-License-Identifier: Apache-2.0
//! seccomp inside the sandbox: the sentry's own emulation of strict mode and of classic BPF
//! filters on the application's system calls (Linux kernel/seccomp.c, gVisor
//! `pkg/sentry/kernel/seccomp.go`).
//!
//! This module owns a task's seccomp state ([`TaskSeccomp`], in its `TaskShared` so that
//! another thread's TSYNC can set it), the filter chain ([`Filter`], shared by fork and clone
//! through `Arc`, newest first, kept across execve), installing filters ([`set_mode_filter`],
//! [`set_mode_strict`]) and running them on every system call the task makes, before the
//! sentry's own dispatch ([`on_syscall`]). [`bpf`] checks and runs the programs; [`notify`] is
//! the user-notification listener.
//!
//! Nothing here touches the host: the application's filters never reach the host kernel (the
//! stub runs under the platform's own filter only), so a filter can neither loosen nor break
//! the sandbox's confinement; it only changes what the sentry does with a call.
//!
//! What differs from Linux:
//! - SECCOMP_RET_TRACE: a PTRACE_EVENT_SECCOMP stop for a tracer with PTRACE_O_TRACESECCOMP
//!   (ENOSYS without one, as Linux); the call the tracer leaves is run without running the
//!   filters again (Linux rechecks it).
//! - 32-bit calls (`int 0x80`): on systrap a filter sees them as Linux shows them (arch
//!   AUDIT_ARCH_I386, the i386 number and argument registers); when the filters allow one, the
//!   sentry answers ENOSYS (it runs no i386 calls), where Linux would run it. The ptrace
//!   platform cannot tell them from x86_64 calls (a PTRACE_SYSEMU stop does not say), so there
//!   a filter sees them as x86_64 calls of the same number.
//! - RET_LOG and the LOG flag write to the sentry's log (tracing), not the host's audit log.
//! - WAIT_KILLABLE_RECV: once the supervisor has received the notification, only the end of
//!   the process (SIGKILL, exit_group, a fatal signal already acted on) ends the wait.

pub mod bpf;
pub mod notify;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use syscalls::abi::*;
use syscalls::Errno;

use super::signal_deliver::{force_signal, kill_group};
use super::{lock, ExitStatus, Task};

/// The most instructions one task's filters may hold together, each filter counting four more
/// than the length of its eBPF translation (Linux's MAX_INSNS_PER_PATH): more gives ENOMEM.
pub const MAX_INSNS_PER_PATH: usize = 32768;
/// Linux's MAX_ERRNO: the largest value SECCOMP_RET_ERRNO returns.
const MAX_ERRNO: u32 = 4095;

/// One attached filter; `prev` is the one attached before it.
pub struct Filter {
    prog: bpf::Program,
    prev: Option<Arc<Filter>>,
    /// SECCOMP_FILTER_FLAG_LOG: log every action but ALLOW.
    log: bool,
    /// The user-notification listener made with the filter (NEW_LISTENER).
    notif: Option<Arc<notify::Notif>>,
}

impl Filter {
    /// The filters of the chain from this one back, newest first.
    fn chain(self: &Arc<Filter>) -> impl Iterator<Item = &Arc<Filter>> {
        std::iter::successors(Some(self), |f| f.prev.as_ref())
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        // No task uses the filter any more: its listener reports POLLHUP.
        if let Some(n) = &self.notif {
            n.unused();
        }
        // Unlink iteratively: a chain may be thousands of filters long.
        let mut prev = self.prev.take();
        while let Some(p) = prev {
            match Arc::try_unwrap(p) {
                Ok(mut f) => prev = f.prev.take(),
                Err(_) => break,
            }
        }
    }
}

/// A task's seccomp state as other threads may see and (TSYNC) change it.
#[derive(Default)]
pub struct TaskSeccomp {
    /// SECCOMP_MODE_*: read without the lock on every system call.
    mode: AtomicU8,
    state: Mutex<State>,
}

#[derive(Default, Clone)]
struct State {
    filter: Option<Arc<Filter>>,
    /// How many filters the task attached or inherited (/proc/[pid]/status Seccomp_filters).
    count: u32,
    /// Another thread's TSYNC set no_new_privs for this one too (picked up at its next call).
    nnp: bool,
}

impl TaskSeccomp {
    /// The mode (SECCOMP_MODE_DISABLED, _STRICT or _FILTER).
    pub fn mode(&self) -> u8 {
        self.mode.load(Ordering::Acquire)
    }

    /// How many filters are attached.
    pub fn filter_count(&self) -> u32 {
        lock(&self.state).count
    }

    /// What a new task created by this one starts with (fork, clone: the same filters).
    pub fn inherit_into(&self, child: &TaskSeccomp) {
        let st = lock(&self.state).clone();
        *lock(&child.state) = st;
        child.mode.store(self.mode(), Ordering::Release);
    }

    /// The task has exited: its filters go (a listener whose filter nobody uses any more
    /// reports POLLHUP); the mode stays for /proc.
    pub fn release(&self) {
        let f = lock(&self.state).filter.take();
        drop(f);
    }
}

/// The arguments of SECCOMP_SET_MODE_FILTER after the checks that need no lock.
struct Prepared {
    prog: bpf::Program,
    flags: u32,
}

/// Implements SECCOMP_SET_MODE_STRICT (seccomp(2) and prctl PR_SET_SECCOMP).
pub fn set_mode_strict(t: &mut Task) -> Result<u64, Errno> {
    let s = &t.shared.seccomp;
    let _g = lock(&s.state);
    match s.mode() {
        SECCOMP_MODE_DISABLED | SECCOMP_MODE_STRICT => {
            s.mode.store(SECCOMP_MODE_STRICT, Ordering::Release);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Implements SECCOMP_SET_MODE_FILTER: checks the flags and the program at `uargs`, attaches
/// it (to every thread with TSYNC) and returns 0 or the new listener's descriptor.
pub fn set_mode_filter(t: &mut Task, flags: u32, uargs: u64) -> Result<u64, Errno> {
    if flags & !SECCOMP_FILTER_FLAG_MASK != 0 {
        return Err(Errno::EINVAL);
    }
    let tsync = flags & SECCOMP_FILTER_FLAG_TSYNC != 0;
    let listener = flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0;
    // A TSYNC failure returns a thread id, which cannot be told from a listener descriptor.
    if tsync && listener && flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 && !listener {
        return Err(Errno::EINVAL);
    }
    // seccomp_prepare_user_filter.
    let fprog: SockFprog = t.read_val(uargs)?;
    let len = usize::from(fprog.len);
    if len == 0 || len > BPF_MAXINSNS {
        return Err(Errno::EINVAL);
    }
    if !t.no_new_privs && t.creds.caps & (1 << CAP_SYS_ADMIN) == 0 {
        return Err(Errno::EACCES);
    }
    let mut raw = vec![0u8; len * std::mem::size_of::<SockFilter>()];
    t.copy_in(fprog.filter, &mut raw)?;
    let insns: Vec<SockFilter> = raw
        .chunks_exact(8)
        .map(|c| SockFilter {
            code: u16::from_le_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let prog = bpf::check(insns)?;
    let prepared = Prepared { prog, flags };
    if !listener {
        return attach(t, prepared, None).map(|r| r.map_or(0, |tid| tid as u64));
    }
    // The listener's descriptor is taken first (EMFILE), and given back if attaching fails.
    let notif = notify::Notif::new(flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0);
    let file = notify::listener_file(notif.clone());
    let limit = t.rlimit(RLIMIT_NOFILE);
    let fd = t.fds().alloc(file, true, 0, limit)?;
    match attach(t, prepared, Some(notif)) {
        Ok(None) => Ok(fd as u64),
        // (TSYNC with a listener needs TSYNC_ESRCH, so no thread id comes back here.)
        Ok(Some(_)) => {
            let _ = t.fds().remove(fd);
            Err(Errno::ESRCH)
        }
        Err(e) => {
            let _ = t.fds().remove(fd);
            Err(e)
        }
    }
}

/// seccomp_attach_filter (and seccomp_sync_threads for TSYNC), under the thread list's lock so
/// no thread is created or synchronised halfway. `Some(tid)`: TSYNC found thread `tid` on
/// another filter chain and attached nothing.
fn attach(
    t: &mut Task,
    p: Prepared,
    notif: Option<Arc<notify::Notif>>,
) -> Result<Option<i32>, Errno> {
    let tg = t.shared.tg.clone();
    let tasks = lock(&tg.tasks);
    let me = &t.shared.seccomp;
    let mut st = lock(&me.state);
    if me.mode() == SECCOMP_MODE_STRICT {
        return Err(Errno::EINVAL);
    }
    if notif.is_some()
        && st
            .filter
            .as_ref()
            .is_some_and(|f| f.chain().any(|f| f.notif.is_some()))
    {
        return Err(Errno::EBUSY);
    }
    let mut total = p.prog.path_len();
    if let Some(f) = &st.filter {
        for f in f.chain() {
            total += f.prog.path_len() + 4;
            if total > MAX_INSNS_PER_PATH {
                return Err(Errno::ENOMEM);
            }
        }
    }
    let tsync = p.flags & SECCOMP_FILTER_FLAG_TSYNC != 0;
    if tsync {
        for other in tasks.iter().filter(|o| o.tid != t.tid) {
            if other.exited.load(Ordering::Acquire) {
                continue;
            }
            let os = &other.seccomp;
            let ok = match os.mode() {
                SECCOMP_MODE_DISABLED => true,
                SECCOMP_MODE_FILTER => {
                    is_ancestor(lock(&os.state).filter.as_ref(), st.filter.as_ref())
                }
                _ => false,
            };
            if !ok {
                if p.flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH != 0 {
                    return Err(Errno::ESRCH);
                }
                // The first thread that cannot follow: its id is the call's (positive) result.
                return Ok(Some(other.tid));
            }
        }
    }
    let filter = Arc::new(Filter {
        prog: p.prog,
        prev: st.filter.take(),
        log: p.flags & SECCOMP_FILTER_FLAG_LOG != 0,
        notif,
    });
    st.filter = Some(filter);
    st.count = st.count.saturating_add(1);
    me.mode.store(SECCOMP_MODE_FILTER, Ordering::Release);
    if tsync {
        let nnp = t.no_new_privs;
        for other in tasks.iter().filter(|o| o.tid != t.tid) {
            if other.exited.load(Ordering::Acquire) {
                continue;
            }
            let os = &other.seccomp;
            let mut ost = lock(&os.state);
            ost.filter = st.filter.clone();
            ost.count = st.count;
            ost.nnp |= nnp;
            os.mode.store(SECCOMP_MODE_FILTER, Ordering::Release);
        }
    }
    Ok(None)
}

/// Whether `parent` is `child` or one of the filters before it (no filter is everyone's).
fn is_ancestor(parent: Option<&Arc<Filter>>, child: Option<&Arc<Filter>>) -> bool {
    let Some(parent) = parent else { return true };
    child.is_some_and(|c| c.chain().any(|f| Arc::ptr_eq(f, parent)))
}

/// What the filters decided for a system call.
pub enum Verdict {
    /// Run it.
    Run,
    /// Do not run it: `rax` already holds its result (or the task is ending).
    Skip,
}

/// The system calls strict mode allows.
fn strict_allows(nr: u64) -> bool {
    matches!(nr, 0 | 1 | 60 | 15) // read, write, exit, rt_sigreturn
}

/// The `struct seccomp_data` of the call the task stopped at: an i386 call (`int 0x80`, where
/// the platform can tell one) with its own number, arch and argument registers.
fn seccomp_data(t: &Task) -> SeccompData {
    let r = &t.regs;
    if let Some((arch, nr)) = t.ctx.foreign_syscall() {
        let w = |v: u64| v & 0xffff_ffff;
        return SeccompData {
            nr: nr as i32,
            arch,
            instruction_pointer: r.rip,
            args: [w(r.rbx), w(r.rcx), w(r.rdx), w(r.rsi), w(r.rdi), w(r.rbp)],
        };
    }
    SeccompData {
        nr: r.orig_rax as i32,
        arch: AUDIT_ARCH_X86_64,
        instruction_pointer: r.rip,
        args: t.args(),
    }
}

/// Ends the task (or, as its last thread, its process) by `sig`.
fn kill_thread(t: &mut Task, sig: i32) {
    if lock(&t.shared.tg.tasks).len() <= 1 {
        kill_group(&t.shared.tg, ExitStatus::Signal(sig));
    } else {
        t.exit = Some(ExitStatus::Signal(sig));
    }
}

/// Checks the call the task stopped at against its seccomp mode, before the sentry looks at
/// it (Linux's `__secure_computing`, called from syscall entry).
pub fn on_syscall(t: &mut Task) -> Verdict {
    let s = &t.shared.seccomp;
    let mode = s.mode();
    if mode == SECCOMP_MODE_DISABLED {
        return Verdict::Run;
    }
    let nr = t.regs.orig_rax;
    if mode == SECCOMP_MODE_STRICT {
        if strict_allows(nr) {
            return Verdict::Run;
        }
        tracing::info!(
            "task {}: seccomp strict mode: killed at syscall {nr}",
            t.tid
        );
        kill_thread(t, SIGKILL);
        return Verdict::Skip;
    }
    let (filter, nnp) = {
        let mut st = lock(&s.state);
        (st.filter.clone(), std::mem::take(&mut st.nnp))
    };
    if nnp && !t.no_new_privs {
        t.no_new_privs = true;
        t.publish();
    }
    let Some(filter) = filter else {
        // A filter mode without filters cannot happen; fail closed as Linux does.
        kill_group(&t.shared.tg, ExitStatus::Signal(SIGSYS));
        return Verdict::Skip;
    };
    let sd = seccomp_data(t);
    let mut bytes = [0u8; 64];
    bytes.copy_from_slice(syscalls::bytes_of(&sd));
    let mut ret = SECCOMP_RET_ALLOW;
    let mut matched: Option<&Arc<Filter>> = None;
    for f in filter.chain() {
        let cur = f.prog.run(&bytes);
        if ((cur & SECCOMP_RET_ACTION_FULL) as i32) < ((ret & SECCOMP_RET_ACTION_FULL) as i32) {
            ret = cur;
            matched = Some(f);
        }
    }
    let data = ret & SECCOMP_RET_DATA;
    let action = ret & SECCOMP_RET_ACTION_FULL;
    let log = matched.is_some_and(|f| f.log);
    if log || action == SECCOMP_RET_LOG {
        tracing::info!(
            "task {}: seccomp: syscall {} action {action:#x} data {data}",
            t.tid,
            sd.nr
        );
    }
    match action {
        SECCOMP_RET_ERRNO => {
            t.regs.rax = (-(i64::from(data.min(MAX_ERRNO)))) as u64;
            Verdict::Skip
        }
        SECCOMP_RET_TRAP => {
            // The registers as they were at entry (syscall_rollback), and SIGSYS.
            t.regs.rax = if sd.arch == AUDIT_ARCH_X86_64 {
                t.regs.orig_rax
            } else {
                u64::from(sd.nr as u32)
            };
            let mut info = super::signal::kernel_info(SIGSYS);
            info.si_code = SYS_SECCOMP;
            info.si_errno = data as i32;
            info.fields[0] = sd.instruction_pointer; // si_call_addr
            info.fields[1] = u64::from(sd.nr as u32) | (u64::from(sd.arch) << 32);
            t.syscall_return = false;
            force_signal(t, info);
            Verdict::Skip
        }
        SECCOMP_RET_TRACE => {
            // A PTRACE_EVENT_SECCOMP stop for a tracer that asked for it (it may change or
            // skip the call); ENOSYS without one, as Linux.
            t.regs.rax = (-(Errno::ENOSYS.0 as i64)) as u64;
            if !super::ptrace::event(
                t,
                PTRACE_O_TRACESECCOMP,
                PTRACE_EVENT_SECCOMP,
                u64::from(data),
            ) || t
                .shared
                .tg
                .killed
                .load(std::sync::atomic::Ordering::Acquire)
                || t.regs.orig_rax == u64::MAX
            {
                return Verdict::Skip;
            }
            Verdict::Run
        }
        SECCOMP_RET_USER_NOTIF => {
            let notif = matched.and_then(|f| f.notif.clone());
            match notify::notify(t, notif.as_ref(), sd) {
                notify::Outcome::Continue => Verdict::Run,
                notify::Outcome::Return(rax) => {
                    t.regs.rax = rax;
                    Verdict::Skip
                }
                notify::Outcome::Killed => Verdict::Skip,
            }
        }
        SECCOMP_RET_LOG | SECCOMP_RET_ALLOW => Verdict::Run,
        _ => {
            // KILL_PROCESS, KILL_THREAD and every unknown action: SIGSYS, with a core as the
            // last thread (as Linux, the process's wait status shows SIGSYS).
            tracing::info!(
                "task {}: seccomp killed {} at syscall {}",
                t.tid,
                if action == SECCOMP_RET_KILL_THREAD {
                    "the thread"
                } else {
                    "the process"
                },
                sd.nr
            );
            if action == SECCOMP_RET_KILL_THREAD {
                kill_thread(t, SIGSYS);
            } else {
                kill_group(&t.shared.tg, ExitStatus::Signal(SIGSYS));
            }
            Verdict::Skip
        }
    }
}

/// Implements SECCOMP_GET_ACTION_AVAIL: whether the action at `addr` is known.
pub fn action_avail(t: &Task, flags: u32, addr: u64) -> Result<u64, Errno> {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let action: u32 = t.read_val(addr)?;
    match action {
        SECCOMP_RET_KILL_PROCESS
        | SECCOMP_RET_KILL_THREAD
        | SECCOMP_RET_TRAP
        | SECCOMP_RET_ERRNO
        | SECCOMP_RET_USER_NOTIF
        | SECCOMP_RET_TRACE
        | SECCOMP_RET_LOG
        | SECCOMP_RET_ALLOW => Ok(0),
        _ => Err(Errno::EOPNOTSUPP),
    }
}

/// Implements SECCOMP_GET_NOTIF_SIZES.
pub fn notif_sizes(t: &Task, flags: u32, addr: u64) -> Result<u64, Errno> {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let sizes = SeccompNotifSizes {
        seccomp_notif: std::mem::size_of::<SeccompNotif>() as u16,
        seccomp_notif_resp: std::mem::size_of::<SeccompNotifResp>() as u16,
        seccomp_data: std::mem::size_of::<SeccompData>() as u16,
    };
    t.write_val(addr, &sizes).map(|_| 0)
}
