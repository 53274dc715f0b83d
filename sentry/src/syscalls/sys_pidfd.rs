// SPDX-License-Identifier: Apache-2.0
//! pidfd_open(2) and pidfd_send_signal(2): file descriptors that refer to a process; and what
//! is done through them to a process's memory: process_madvise(2), process_mrelease(2).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::signal::user_info;
use crate::kernel::tree::ThreadGroup;
use crate::kernel::{lock, send_process_signal, Task};
use crate::vfs::{File, FileOps};

/// A pidfd: readable (POLLIN) once the process has exited.
struct PidFd {
    tgid: i32,
    tg: Weak<ThreadGroup>,
}

impl FileOps for PidFd {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(crate::vfs::inode::anon_stat(self.tgid as u64))
    }

    fn poll_events(&self) -> u32 {
        match self.tg.upgrade() {
            Some(tg) if !lock(&tg.tasks).is_empty() => 0,
            _ => POLLIN | POLLRDNORM,
        }
    }

    fn poll_queue(&self) -> Option<&crate::kernel::block::WaitQueue> {
        // Exits notify the parent's queue, not ours; pollers recheck on their own schedule.
        None
    }

    fn polls_host(&self) -> bool {
        true
    }

    /// Linux pidfd_show_fdinfo: the pid, -1 once the process is gone.
    fn fdinfo(&self) -> String {
        let pid = match self.tg.upgrade() {
            Some(tg) if !lock(&tg.tasks).is_empty() => self.tgid,
            _ => -1,
        };
        format!("Pid:\t{pid}\nNSpid:\t{pid}\n")
    }
}

/// pidfds by the id of their file description.
/// A pidfd's pid and process.
type PidfdTarget = (i32, Weak<ThreadGroup>);

fn registry() -> &'static Mutex<HashMap<u64, PidfdTarget>> {
    static R: OnceLock<Mutex<HashMap<u64, PidfdTarget>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Implements pidfd_open(2).
pub fn sys_pidfd_open(t: &mut Task) -> SysResult {
    const PIDFD_NONBLOCK: u32 = O_NONBLOCK;
    let (pid, flags) = (t.arg(0) as i32, t.arg(1) as u32);
    if flags & !PIDFD_NONBLOCK != 0 || pid <= 0 {
        return Err(Errno::EINVAL);
    }
    let tg = {
        let tree = lock(&t.k.tree);
        match tree.procs.get(&pid) {
            Some(p) => p.tg.clone(),
            None if tree.threads.contains_key(&pid) => return Err(Errno::ENOENT), // not a leader
            None => return Err(Errno::ESRCH),
        }
    };
    pidfd_alloc(t, pid, &tg, flags).map(|fd| fd as u64)
}

/// A new pidfd (close-on-exec) for the process `tg` with id `pid`, in `t`'s table.
fn pidfd_alloc(t: &Task, pid: i32, tg: &Arc<ThreadGroup>, flags: u32) -> Result<i32, Errno> {
    let file = File::new(
        Box::new(PidFd {
            tgid: pid,
            tg: Arc::downgrade(tg),
        }),
        O_RDWR | flags,
        "anon_inode:[pidfd]",
    );
    {
        let mut r = lock(registry());
        r.retain(|_, (_, w)| w.strong_count() > 0);
        r.insert(file.id, (pid, Arc::downgrade(tg)));
    }
    let limit = t.rlimit(RLIMIT_NOFILE);
    t.fds().alloc(file, true, 0, limit)
}

/// A pidfd for fanotify's FAN_REPORT_PIDFD records.
pub(crate) fn pidfd_install(t: &Task, pid: i32, tg: &Arc<ThreadGroup>) -> Result<i32, Errno> {
    pidfd_alloc(t, pid, tg, 0)
}

/// The pid a pidfd refers to (waitid's P_PIDFD), if `f` is one.
pub fn pidfd_pid(f: &File) -> Option<i32> {
    lock(registry()).get(&f.id).map(|(pid, _)| *pid)
}

/// Implements pidfd_getfd(2): a duplicate (close-on-exec) of another process's descriptor,
/// with ptrace's access check.
pub fn sys_pidfd_getfd(t: &mut Task) -> SysResult {
    let (pidfd, fd, flags) = (t.arg(0) as i32, t.arg(1), t.arg(2) as u32);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let f = t.file(pidfd)?;
    let (pid, tg) = lock(registry()).get(&f.id).cloned().ok_or(Errno::EBADF)?;
    let tg = tg.upgrade().ok_or(Errno::ESRCH)?;
    if lock(&tg.tasks).is_empty() {
        return Err(Errno::ESRCH);
    }
    let v = super::sys_kcmp::view(t, pid)?;
    if !super::sys_kcmp::may_access(t, &v) {
        return Err(Errno::EPERM);
    }
    let file = super::sys_kcmp::file_of(&v, fd)?;
    let limit = t.rlimit(RLIMIT_NOFILE);
    t.fds().alloc(file, true, 0, limit).map(|fd| fd as u64)
}

/// Implements pidfd_send_signal(2).
pub fn sys_pidfd_send_signal(t: &mut Task) -> SysResult {
    // PIDFD_SIGNAL_THREAD, PIDFD_SIGNAL_THREAD_GROUP, PIDFD_SIGNAL_PROCESS_GROUP (Linux 6.9):
    // at most one; none is the process.
    const THREAD: u64 = 1;
    const PROCESS_GROUP: u64 = 4;
    let (fd, sig, info_addr, flags) = (t.arg(0) as i32, t.arg(1) as i32, t.arg(2), t.arg(3));
    if flags & !7 != 0 || flags.count_ones() > 1 || !(0..=NSIG).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let f = t.file(fd)?;
    // A pidfd, or (as Linux's tgid_pidfd_to_pid) an open /proc/[pid] directory.
    let (pid, tg) = match lock(registry()).get(&f.id).cloned() {
        Some((pid, tg)) => (pid, tg.upgrade().ok_or(Errno::ESRCH)?),
        None => {
            let pid = f
                .inode
                .as_deref()
                .and_then(crate::fsimpl::proc::nodes::process_dir_pid)
                .ok_or(Errno::EBADF)?;
            let tg = lock(&t.k.tree).procs.get(&pid).map(|p| p.tg.clone());
            (pid, tg.ok_or(Errno::ESRCH)?)
        }
    };
    // The sentry's own init has no task but lives (and ignores every signal).
    let vinit = pid == t.k.virtual_init.load(std::sync::atomic::Ordering::Acquire);
    if lock(&tg.tasks).is_empty() && !vinit {
        return Err(Errno::ESRCH);
    }
    let info = if info_addr != 0 {
        let mut i: Siginfo = t.read_val(info_addr)?;
        if i.si_signo != sig {
            return Err(Errno::EINVAL);
        }
        if (i.si_code >= 0 || i.si_code == -6) && (pid != t.tgid() || flags == PROCESS_GROUP) {
            return Err(Errno::EPERM);
        }
        i.si_signo = sig;
        i
    } else {
        user_info(sig, SI_USER, t.tgid(), t.creds.uid.0)
    };
    match flags {
        THREAD => {
            // Linux's prepare_kill_siginfo: a signal to one thread is SI_TKILL.
            let mut info = info;
            if info_addr == 0 {
                info.si_code = SI_TKILL;
            }
            return super::sys_signal::thread_signal(t, Some(pid), pid, info);
        }
        // The process group the process leads (Linux's __kill_pgrp_info on its pid).
        PROCESS_GROUP => return super::sys_signal::kill_common(t, -pid, info),
        _ => {}
    }
    let uid = lock(&t.k.tree).procs.get(&pid).map(|p| p.uid).unwrap_or(0);
    if t.creds.uid.1 != 0 && t.creds.uid.0 != uid && t.creds.uid.1 != uid {
        return Err(Errno::EPERM);
    }
    if vinit {
        return Ok(0);
    }
    let _ = SI_QUEUE;
    let leader = lock(&tg.leader).clone();
    if let Some(leader) = leader {
        crate::kernel::landlock::check_signal(t, &leader)?;
    }
    if sig != 0 {
        send_process_signal(&t.k, &tg, info);
    }
    Ok(0)
}

/// The process a pidfd refers to: EBADF if `fd` is not a pidfd, ESRCH once it has exited.
fn pidfd_process(t: &Task, fd: i32) -> Result<(i32, Arc<ThreadGroup>), Errno> {
    let f = t.file(fd)?;
    let (pid, tg) = lock(registry()).get(&f.id).cloned().ok_or(Errno::EBADF)?;
    let tg = tg.upgrade().ok_or(Errno::ESRCH)?;
    if lock(&tg.tasks).is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok((pid, tg))
}

/// Implements process_mrelease(2): reaping the memory of a process that is being killed. Its
/// memory goes with its stub process as soon as the host has killed it, so there is nothing
/// to hurry: 0 for a process being killed, EINVAL for one that is not (as Linux), ESRCH for
/// one that is gone.
pub fn sys_process_mrelease(t: &mut Task) -> SysResult {
    let (fd, flags) = (t.arg(0) as i32, t.arg(1) as u32);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let (_, tg) = pidfd_process(t, fd)?;
    if tg.killed.load(std::sync::atomic::Ordering::Acquire) {
        Ok(0)
    } else {
        Err(Errno::EINVAL)
    }
}

/// MADV_COLLAPSE (not in the sandbox's madvise: EINVAL there too).
const MADV_COLLAPSE: u32 = 25;
/// Linux's MAX_RW_COUNT: an iovec array's total is clamped to it.
const MAX_RW_COUNT: u64 = 0x7fff_f000;
const CAP_SYS_NICE: u32 = 23;

/// Implements process_madvise(2): madvise over an iovec array, on the process a pidfd refers
/// to. On another process only the hints Linux allows there (MADV_COLD, MADV_PAGEOUT,
/// MADV_WILLNEED, MADV_COLLAPSE), with CAP_SYS_NICE; as hints they change nothing in the
/// sandbox. Returns the bytes advised before the first failure (its errno if none were).
pub fn sys_process_madvise(t: &mut Task) -> SysResult {
    let (fd, vec, vlen, advice, flags) = (
        t.arg(0) as i32,
        t.arg(1),
        t.arg(2),
        t.arg(3) as u32,
        t.arg(4) as u32,
    );
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let mut iovs = super::sys_file::read_iovecs(t, vec, vlen)?;
    let mut left = MAX_RW_COUNT;
    for v in &mut iovs {
        v.len = v.len.min(left);
        left -= v.len;
    }
    let (pid, _) = pidfd_process(t, fd)?;
    let v = super::sys_kcmp::view(t, pid)?;
    let mm = v.mm_ref.clone().ok_or(Errno::ESRCH)?;
    let own = Arc::ptr_eq(&mm, &t.mm);
    if !own && !super::sys_kcmp::may_access(t, &v) {
        return Err(Errno::EACCES);
    }
    if !own {
        if !matches!(
            advice,
            MADV_COLD | MADV_PAGEOUT | MADV_WILLNEED | MADV_COLLAPSE
        ) {
            return Err(Errno::EINVAL);
        }
        if t.creds.caps & (1 << CAP_SYS_NICE) == 0 {
            return Err(Errno::EPERM);
        }
    }
    let mut done = 0u64;
    let mut err = Ok(());
    for iov in &iovs {
        let r = if own {
            lock(&t.mm).madvise(t.ctx.as_mut(), iov.base, iov.len, advice)
        } else if advice == MADV_COLLAPSE {
            Err(Errno::EINVAL)
        } else {
            lock(&mm).madvise_hint(iov.base, iov.len)
        };
        if let Err(e) = r {
            err = Err(e);
            break;
        }
        done += iov.len;
    }
    match (done, err) {
        (0, Err(e)) => Err(e),
        (n, _) => Ok(n),
    }
}
