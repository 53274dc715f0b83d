// SPDX-License-Identifier: Apache-2.0
//! Process system calls: clone, fork, vfork, execve, exit, wait, process groups and sessions.

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::{self, lock, CloneArgs, ExitStatus, Task, WaitOptions, WaitTarget};

/// Implements clone(2) (x86_64 argument order: flags, stack, parent_tid, child_tid, tls).
pub fn sys_clone(t: &mut Task) -> SysResult {
    let flags = t.arg(0);
    let a = CloneArgs {
        flags: flags & !0xff & 0xffff_ffff,
        exit_signal: (flags & 0xff) as i32,
        stack: t.arg(1),
        parent_tid: t.arg(2),
        child_tid: t.arg(3),
        tls: t.arg(4),
        pidfd: t.arg(2),
    };
    // clone(2) has one pointer for both: CLONE_PIDFD with CLONE_PARENT_SETTID is EINVAL.
    use kernel::fork_flags::{CLONE_PARENT_SETTID, CLONE_PIDFD};
    if a.flags & CLONE_PIDFD != 0 && a.flags & CLONE_PARENT_SETTID != 0 {
        return Err(Errno::EINVAL);
    }
    kernel::clone_task(t, a).map(|tid| tid as u64)
}

/// Implements clone3(2).
pub fn sys_clone3(t: &mut Task) -> SysResult {
    let (addr, size) = (t.arg(0), t.arg(1) as usize);
    const VER0: usize = 64;
    if !(VER0..=4096).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; size];
    t.copy_in(addr, &mut b)?;
    if b[88.min(size)..].iter().any(|x| *x != 0) {
        // Fields past set_tid_size/cgroup that we do not know must be zero.
        return Err(Errno::E2BIG);
    }
    let q = |i: usize| {
        if (i + 1) * 8 <= size {
            u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or_default())
        } else {
            0
        }
    };
    // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
    // tls, set_tid, set_tid_size, cgroup.
    let (flags, exit_signal, stack, stack_size) = (q(0), q(4), q(5), q(6));
    // The low byte is clone(2)'s exit signal; clone3 reuses only CLONE_NEWTIME's bit of it
    // (clone3_args_valid).
    if exit_signal > NSIG as u64 || flags & 0xff & !CLONE_NEWTIME != 0 || q(9) != 0 {
        return Err(Errno::EINVAL);
    }
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    let a = CloneArgs {
        flags,
        exit_signal: exit_signal as i32,
        stack: if stack != 0 { stack + stack_size } else { 0 },
        parent_tid: q(3),
        child_tid: q(2),
        tls: q(7),
        pidfd: q(1),
    };
    kernel::clone_task(t, a).map(|tid| tid as u64)
}

/// Implements fork(2).
pub fn sys_fork(t: &mut Task) -> SysResult {
    kernel::clone_task(
        t,
        CloneArgs {
            exit_signal: SIGCHLD,
            ..Default::default()
        },
    )
    .map(|tid| tid as u64)
}

/// Implements vfork(2).
pub fn sys_vfork(t: &mut Task) -> SysResult {
    use kernel::fork_flags::{CLONE_VFORK, CLONE_VM};
    kernel::clone_task(
        t,
        CloneArgs {
            flags: CLONE_VM | CLONE_VFORK,
            exit_signal: SIGCHLD,
            ..Default::default()
        },
    )
    .map(|tid| tid as u64)
}

fn do_execve(
    t: &mut Task,
    dirfd: i32,
    path_addr: u64,
    argv: u64,
    envp: u64,
    flags: u32,
) -> SysResult {
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(path_addr)?;
    let limit = (t.rlimit(RLIMIT_STACK).min(1 << 30) / 4).max(128 << 10) as usize;
    let mut total = 0;
    let argv = kernel::read_string_array(t, argv, &mut total, limit)?;
    let envp = kernel::read_string_array(t, envp, &mut total, limit)?;
    let full = if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        // The descriptor's own file, through its /dev/fd link (a magic link to the open file:
        // found even once unlinked); Linux names the program so too (bprm->filename,
        // AT_EXECFN). A root with no /dev/fd (a bare rootfs) goes by the file's path.
        let file = t.file(dirfd)?;
        let fd_link = format!("/dev/fd/{dirfd}").into_bytes();
        if t.resolve_at(AT_FDCWD, &fd_link, true).is_ok() {
            fd_link
        } else {
            file.path.clone().into_bytes()
        }
    } else if path[0] == b'/' || dirfd == AT_FDCWD {
        path.clone()
    } else {
        let base = t.file(dirfd)?.path.clone();
        let mut p = base.into_bytes();
        p.push(b'/');
        p.extend_from_slice(&path);
        p
    };
    if flags & AT_SYMLINK_NOFOLLOW != 0 {
        let r = t.resolve_at(dirfd, &path, false)?;
        if r.stat.is_some_and(|s| s.st_mode & S_IFMT == S_IFLNK) {
            return Err(Errno::ELOOP);
        }
    }
    let argv = if argv.is_empty() {
        vec![Vec::new()]
    } else {
        argv
    };
    let old_tid = t.tid;
    kernel::exec(t, &full, argv, envp)?;
    t.regs.rax = 0;
    kernel::ptrace::on_exec(t, old_tid);
    Ok(0)
}

/// Implements execve(2).
pub fn sys_execve(t: &mut Task) -> SysResult {
    do_execve(t, AT_FDCWD, t.arg(0), t.arg(1), t.arg(2), 0)
}

/// Implements execveat(2).
pub fn sys_execveat(t: &mut Task) -> SysResult {
    do_execve(
        t,
        t.arg(0) as i32,
        t.arg(1),
        t.arg(2),
        t.arg(3),
        t.arg(4) as u32,
    )
}

/// Implements exit(2): ends the calling thread.
pub fn sys_exit(t: &mut Task) -> SysResult {
    t.exit = Some(ExitStatus::Code(t.arg(0) as i32 & 0xff));
    Ok(0)
}

/// Implements exit_group(2).
pub fn sys_exit_group(t: &mut Task) -> SysResult {
    kernel::exit_group(t, ExitStatus::Code(t.arg(0) as i32 & 0xff));
    Ok(0)
}

/// Implements wait4(2).
pub fn sys_wait4(t: &mut Task) -> SysResult {
    let (pid, status, options, rusage) = (t.arg(0) as i32, t.arg(1), t.arg(2) as u32, t.arg(3));
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE) != 0 {
        return Err(Errno::EINVAL);
    }
    let target = match pid {
        -1 => WaitTarget::Any,
        0 => WaitTarget::Pgid(0),
        p if p < -1 => WaitTarget::Pgid(-p),
        p => WaitTarget::Pid(p),
    };
    if pid == i32::MIN {
        return Err(Errno::ESRCH);
    }
    let opts = WaitOptions {
        nohang: options & WNOHANG != 0,
        exited: true,
        stopped: options & WUNTRACED != 0,
        continued: options & WCONTINUED != 0,
        nowait: false,
        clone_only: options & WCLONE != 0,
        all: options & WALL != 0,
    };
    match kernel::do_wait(t, target, opts)? {
        None => Ok(0),
        Some(r) => {
            if status != 0 {
                t.write_val(status, &r.status)?;
            }
            if rusage != 0 {
                t.write_val(rusage, &rusage_of(r.usage))?;
            }
            Ok(r.pid as u64)
        }
    }
}

/// Implements waitid(2).
pub fn sys_waitid(t: &mut Task) -> SysResult {
    let (idtype, id, infop, options, rusage) = (
        t.arg(0) as u32,
        t.arg(1) as i32,
        t.arg(2),
        t.arg(3) as u32,
        t.arg(4),
    );
    if options & !(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE)
        != 0
        || options & (WEXITED | WUNTRACED | WCONTINUED) == 0
    {
        return Err(Errno::EINVAL);
    }
    // A pidfd opened with PIDFD_NONBLOCK makes the wait WNOHANG, and nothing to report then is
    // EAGAIN unless the caller asked for WNOHANG itself (kernel_waitid).
    let mut pidfd_nonblock = false;
    let target = match idtype {
        P_ALL => WaitTarget::Any,
        P_PID if id > 0 => WaitTarget::Pid(id),
        P_PGID if id >= 0 => WaitTarget::Pgid(id),
        P_PIDFD if id >= 0 => {
            let f = t.file(id)?;
            let pid = super::sys_pidfd::pidfd_pid(&f).ok_or(Errno::EBADF)?;
            pidfd_nonblock = f.flags() & O_NONBLOCK != 0;
            WaitTarget::Pid(pid)
        }
        _ => return Err(Errno::EINVAL),
    };
    let opts = WaitOptions {
        nohang: options & WNOHANG != 0 || pidfd_nonblock,
        exited: options & WEXITED != 0,
        stopped: options & WUNTRACED != 0,
        continued: options & WCONTINUED != 0,
        nowait: options & WNOWAIT != 0,
        clone_only: options & WCLONE != 0,
        all: options & WALL != 0,
    };
    let r = kernel::do_wait(t, target, opts)?;
    if r.is_none() && pidfd_nonblock && options & WNOHANG == 0 {
        return Err(Errno::EAGAIN);
    }
    if infop != 0 {
        let info = match r {
            None => Siginfo {
                si_signo: 0,
                si_errno: 0,
                si_code: 0,
                _pad0: 0,
                fields: [0; 14],
            },
            Some(r) => {
                let mut i = kernel::signal::child_info(r.code, r.pid, r.uid, r.si_status);
                i.si_signo = SIGCHLD;
                i
            }
        };
        t.write_val(infop, &info)?;
    }
    if rusage != 0 {
        let usage = r.as_ref().map_or((0, 0), |r| r.usage);
        t.write_val(rusage, &rusage_of(usage))?;
    }
    Ok(0)
}

/// The rusage of a waited-for child: its CPU times (the other fields are not kept).
fn rusage_of((user, system): (u64, u64)) -> Rusage {
    Rusage {
        ru_utime: kernel::usage::timeval(user),
        ru_stime: kernel::usage::timeval(system),
        ..Default::default()
    }
}

/// Implements getppid(2).
pub fn sys_getppid(t: &mut Task) -> SysResult {
    Ok(t.ppid() as u64)
}

fn target_pid(t: &Task, pid: i32) -> Result<i32, Errno> {
    match pid {
        0 => Ok(t.tgid()),
        p if p < 0 => Err(Errno::ESRCH),
        p => Ok(p),
    }
}

/// Implements getpgid(2).
pub fn sys_getpgid(t: &mut Task) -> SysResult {
    let pid = target_pid(t, t.arg(0) as i32)?;
    let tree = lock(&t.k.tree);
    tree.procs
        .get(&pid)
        .map(|p| p.pgid as u64)
        .ok_or(Errno::ESRCH)
}

/// Implements getpgrp(2).
pub fn sys_getpgrp(t: &mut Task) -> SysResult {
    let tree = lock(&t.k.tree);
    Ok(tree.procs.get(&t.tgid()).map(|p| p.pgid).unwrap_or(0) as u64)
}

/// Implements getsid(2).
pub fn sys_getsid(t: &mut Task) -> SysResult {
    let pid = target_pid(t, t.arg(0) as i32)?;
    let tree = lock(&t.k.tree);
    tree.procs
        .get(&pid)
        .map(|p| p.sid as u64)
        .ok_or(Errno::ESRCH)
}

/// Implements setpgid(2).
pub fn sys_setpgid(t: &mut Task) -> SysResult {
    let me = t.tgid();
    let pid = target_pid(t, t.arg(0) as i32)?;
    let pgid = t.arg(1) as i32;
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let pgid = if pgid == 0 { pid } else { pgid };
    let mut tree = lock(&t.k.tree);
    let my_sid = tree.procs.get(&me).map(|p| p.sid).ok_or(Errno::ESRCH)?;
    let target = tree.procs.get(&pid).ok_or(Errno::ESRCH)?;
    if pid != me {
        if target.parent != me || target.zombie.is_some() {
            return Err(Errno::ESRCH);
        }
        if target.sid != my_sid {
            return Err(Errno::EPERM);
        }
        if target.execed {
            return Err(Errno::EACCES);
        }
    }
    if target.sid == pid {
        return Err(Errno::EPERM); // a session leader
    }
    if pgid != pid
        && !tree
            .procs
            .values()
            .any(|p| p.pgid == pgid && p.sid == my_sid && p.zombie.is_none())
    {
        return Err(Errno::EPERM);
    }
    if let Some(p) = tree.procs.get_mut(&pid) {
        p.pgid = pgid;
    }
    Ok(0)
}

/// Implements vhangup(2).
pub fn sys_vhangup(t: &mut Task) -> SysResult {
    crate::fsimpl::tty::vhangup_self(t.creds.caps).map(|_| 0)
}

/// Implements setsid(2).
pub fn sys_setsid(t: &mut Task) -> SysResult {
    let me = t.tgid();
    let mut tree = lock(&t.k.tree);
    if tree.procs.values().any(|p| p.pgid == me) {
        return Err(Errno::EPERM);
    }
    let p = tree.procs.get_mut(&me).ok_or(Errno::ESRCH)?;
    p.pgid = me;
    p.sid = me;
    p.no_ctty = false;
    drop(tree);
    crate::fsimpl::tty::new_session(&t.k, me);
    Ok(me as u64)
}

/// Implements unshare(2): a private fd table, fs context or mount namespace; other namespaces
/// are refused as for an unprivileged caller.
pub fn sys_unshare(t: &mut Task) -> SysResult {
    use kernel::fork_flags::*;
    let flags = t.arg(0);
    let known = CLONE_FILES
        | CLONE_FS
        | CLONE_SYSVSEM
        | CLONE_THREAD
        | CLONE_SIGHAND
        | CLONE_VM
        | CLONE_NEWTIME
        | NAMESPACES;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & NAMESPACES & !CLONE_NEWNS != 0 {
        return Err(Errno::EPERM);
    }
    if flags & (CLONE_NEWNS | CLONE_NEWTIME) != 0 && t.creds.caps & (1 << CAP_SYS_ADMIN) == 0 {
        return Err(Errno::EPERM);
    }
    // Unsharing threads, handlers or memory is allowed only when nothing is shared.
    if flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM) != 0 && lock(&t.shared.tg.tasks).len() > 1
    {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_FILES != 0 {
        let copy = lock(&t.fds).duplicate()?;
        t.fds = std::sync::Arc::new(std::sync::Mutex::new(copy));
    }
    // A new mount namespace implies a private fs context, as on Linux.
    if flags & (CLONE_FS | CLONE_NEWNS) != 0 {
        let mut copy = lock(&t.fs).clone();
        if flags & CLONE_NEWNS != 0 {
            copy.mnt = copy.mnt.unshare();
        }
        t.fs = std::sync::Arc::new(std::sync::Mutex::new(copy));
    }
    // A new time namespace is for the children (made from theirs, with its offsets): the
    // caller's own clocks stay as they are.
    if flags & CLONE_NEWTIME != 0 {
        let mut time = lock(&t.shared.time);
        time.children = kernel::timens::TimeNs::new_from(&time.children);
    }
    t.publish();
    Ok(0)
}

/// Implements setns(2) (kernel/nsproxy.c): joins the namespace a /proc/[pid]/ns file names,
/// or those of the process a pidfd names (`flags` a set of CLONE_NEW*). The sandbox is one
/// namespace of each kind but for mount and time namespaces (unshare makes new ones), so
/// joining is a change only for those: the caller then works in the mount namespace, at its
/// root, as Linux's `mntns_install` leaves it; a time namespace becomes both the caller's and
/// its children's (`timens_install`). Each kind's checks are Linux's: CAP_SYS_ADMIN (and
/// CAP_SYS_CHROOT for a mount namespace), EINVAL for one's own user namespace, for a shared
/// fs context joining a mount namespace and for a kind the fd does not name, EUSERS for a
/// multi-threaded process joining a time namespace.
pub fn sys_setns(t: &mut Task) -> SysResult {
    use kernel::fork_flags::NAMESPACES;
    let (fd, flags) = (t.arg(0) as i32, t.arg(1));
    let file = t.file(fd)?;
    let admin = t.creds.caps & (1 << CAP_SYS_ADMIN) != 0;
    let chroot = t.creds.caps & (1 << 18) != 0; // CAP_SYS_CHROOT
                                                // (kind, the mount namespace to join for CLONE_NEWNS)
                                                // The time namespace to join, if one is named.
    let mut time_ns: Option<std::sync::Arc<kernel::timens::TimeNs>> = None;
    let joins: Vec<(u64, Option<std::sync::Arc<crate::vfs::mount::MountNs>>)> = if let Some(ns) =
        file.ops
            .as_any()
            .and_then(|a| a.downcast_ref::<crate::fsimpl::nsfs::NsFile>())
    {
        if flags != 0 && flags != ns.kind {
            return Err(Errno::EINVAL);
        }
        time_ns = ns.time.clone();
        vec![(ns.kind, ns.mnt.clone())]
    } else if let Some(pid) = super::sys_pidfd::pidfd_pid(&file) {
        if flags == 0 || flags & !(NAMESPACES | CLONE_NEWTIME) != 0 {
            return Err(Errno::EINVAL);
        }
        let tg = lock(&t.k.tree)
            .procs
            .get(&pid)
            .filter(|p| p.zombie.is_none())
            .map(|p| p.tg.clone())
            .ok_or(Errno::ESRCH)?;
        if flags & CLONE_NEWTIME != 0 {
            let task = lock(&tg.tasks).first().cloned().ok_or(Errno::ESRCH)?;
            time_ns = Some(lock(&task.time).ns.clone());
        }
        let mnt = if flags & CLONE_NEWNS != 0 {
            let task = lock(&tg.tasks).first().cloned().ok_or(Errno::ESRCH)?;
            let info = lock(&task.info).clone().ok_or(Errno::ESRCH)?;
            let m = lock(&*info.fs()?).mnt.clone();
            Some(m)
        } else {
            None
        };
        [
            CLONE_NEWUSER,
            CLONE_NEWNS,
            CLONE_NEWUTS,
            CLONE_NEWIPC,
            CLONE_NEWPID,
            CLONE_NEWCGROUP,
            CLONE_NEWNET,
            CLONE_NEWTIME,
        ]
        .into_iter()
        .filter(|k| flags & k != 0)
        .map(|k| (k, if k == CLONE_NEWNS { mnt.clone() } else { None }))
        .collect()
    } else {
        return Err(Errno::EINVAL);
    };
    // Every check before any change (prepare_nsset, then validate; commit_nsset at the end).
    for (kind, _) in &joins {
        match *kind {
            CLONE_NEWUSER => return Err(Errno::EINVAL),
            CLONE_NEWNS => {
                if !admin || !chroot {
                    return Err(Errno::EPERM);
                }
                if std::sync::Arc::strong_count(&t.fs) > 1 {
                    return Err(Errno::EINVAL);
                }
            }
            CLONE_NEWTIME => {
                if !admin {
                    return Err(Errno::EPERM);
                }
                // The address space (and its vDSO) is shared by every thread
                // (timens_install's EUSERS).
                if lock(&t.shared.tg.tasks).len() > 1 {
                    return Err(Errno::EUSERS);
                }
            }
            _ if !admin => return Err(Errno::EPERM),
            _ => {}
        }
    }
    for (kind, mnt) in joins {
        if let (CLONE_NEWNS, Some(m)) = (kind, mnt) {
            let mut fs = lock(&t.fs);
            fs.mnt = m;
            fs.root = "/".into();
            fs.cwd = "/".into();
            fs.cwd_anchor = None;
        }
        if let (CLONE_NEWTIME, Some(ns)) = (kind, &time_ns) {
            // Both the task's and its children's (timens_install), frozen from now on.
            ns.enter();
            t.shared.set_time(kernel::timens::Pair {
                ns: ns.clone(),
                children: ns.clone(),
            });
        }
    }
    t.publish();
    Ok(0)
}
