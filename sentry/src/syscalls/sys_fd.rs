// SPDX-License-Identifier: Apache-2.0
//! Descriptors: dup, fcntl, ioctl, pipes, flock.

use syscalls::abi::*;
use syscalls::Errno;

use super::{install, nofile};
use crate::fsimpl::pipe;
use crate::kernel::Task;
use crate::syscalls::{fd_arg, SysResult};
use crate::vfs::File;

/// Implements dup(2).
pub fn sys_dup(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    install(t, file, false)
}

fn do_dup3(t: &Task, old: i32, new: i32, cloexec: bool) -> SysResult {
    let file = t.file(old)?;
    if new < 0 || new as u64 >= nofile(t) {
        return Err(Errno::EBADF);
    }
    let limit = nofile(t);
    let prev = t.fds().install(new, file, cloexec, limit)?;
    drop(prev);
    Ok(new as u64)
}

/// Implements dup2(2).
pub fn sys_dup2(t: &mut Task) -> SysResult {
    let (old, new) = (fd_arg(t, 0), fd_arg(t, 1));
    if old == new {
        t.file(old)?;
        return Ok(new as u64);
    }
    do_dup3(t, old, new, false)
}

/// Implements dup3(2).
pub fn sys_dup3(t: &mut Task) -> SysResult {
    let (old, new, flags) = (fd_arg(t, 0), fd_arg(t, 1), t.arg(2) as u32);
    if flags & !O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL);
    }
    do_dup3(t, old, new, flags & O_CLOEXEC != 0)
}

/// Implements fcntl(2).
pub fn sys_fcntl(t: &mut Task) -> SysResult {
    let (fd, cmd, arg) = (fd_arg(t, 0), t.arg(1) as u32, t.arg(2));
    let entry = t.fds().get(fd)?.clone();
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let min = arg as i32;
            if min < 0 || min as u64 >= nofile(t) {
                return Err(Errno::EINVAL);
            }
            let limit = nofile(t);
            t.fds()
                .alloc(entry.file, cmd == F_DUPFD_CLOEXEC, min, limit)
                .map(|fd| fd as u64)
        }
        F_GETFD => Ok(if entry.cloexec {
            u64::from(FD_CLOEXEC)
        } else {
            0
        }),
        F_SETFD => t
            .fds()
            .set_cloexec(fd, arg as u32 & FD_CLOEXEC != 0)
            .map(|_| 0),
        F_GETFL => Ok(u64::from(entry.file.flags())),
        F_SETFL => {
            entry.file.set_flags(arg as u32);
            Ok(0)
        }
        F_GETPIPE_SZ => entry.file.ops.pipe_size(None).map(|n| n as u64),
        F_SETPIPE_SZ => {
            let n = arg as i32;
            if n < 0 {
                return Err(Errno::EINVAL);
            }
            entry.file.ops.pipe_size(Some(n as usize)).map(|n| n as u64)
        }
        _ => fcntl_more(t, &entry.file, cmd, arg),
    }
}

/// Implements ioctl(2) for the requests every program makes.
pub fn sys_ioctl(t: &mut Task) -> SysResult {
    let (fd, req, arg) = (fd_arg(t, 0), t.arg(1) as u32, t.arg(2));
    let file = t.file(fd)?;
    match req {
        FIOCLEX | FIONCLEX => t.fds().set_cloexec(fd, req == FIOCLEX).map(|_| 0),
        FIONBIO => {
            let on: i32 = t.read_val(arg)?;
            let flags = file.flags();
            file.set_flags(if on != 0 {
                flags | O_NONBLOCK
            } else {
                flags & !O_NONBLOCK
            });
            Ok(0)
        }
        FIONREAD => {
            let st = file.ops.stat()?;
            let n = if st.st_mode & S_IFMT == S_IFREG {
                let pos = *file.pos.lock().unwrap_or_else(|e| e.into_inner());
                (st.st_size as u64).saturating_sub(pos).min(i32::MAX as u64) as usize
            } else if st.st_mode & S_IFMT == S_IFDIR {
                return Err(Errno::EINVAL);
            } else {
                file.ops.readable_bytes()?
            };
            t.write_val(arg, &(n as i32)).map(|_| 0)
        }
        // Job control on the terminal: the foreground process group is the sandbox's own (the
        // host terminal's stays the sandbox's), so shells can hand it between their jobs.
        TIOCGPGRP | TIOCSPGRP | TIOCGSID => {
            let mut termios = vec![0u8; std::mem::size_of::<Termios>()];
            file.ops.ioctl(TCGETS, &mut termios)?; // ENOTTY unless a terminal
            let me = t.tgid();
            let (my_pgid, my_sid) = {
                let tree = crate::kernel::lock(&t.k.tree);
                let p = tree.procs.get(&me).ok_or(Errno::ESRCH)?;
                (p.pgid, p.sid)
            };
            match req {
                TIOCGSID => {
                    let sid = t.k.tty_session(my_sid);
                    t.write_val(arg, &sid).map(|_| 0)
                }
                TIOCGPGRP => {
                    let pg = t.k.foreground_pgrp(my_pgid);
                    t.write_val(arg, &pg).map(|_| 0)
                }
                _ => {
                    let pg: i32 = t.read_val(arg)?;
                    if pg < 0 {
                        return Err(Errno::EINVAL);
                    }
                    let ok = crate::kernel::lock(&t.k.tree)
                        .procs
                        .values()
                        .any(|p| p.pgid == pg && p.sid == my_sid);
                    if !ok {
                        return Err(Errno::EPERM);
                    }
                    t.k.set_foreground_pgrp(pg);
                    Ok(0)
                }
            }
        }
        TCGETS | TIOCGWINSZ => {
            let size = if req == TCGETS {
                std::mem::size_of::<Termios>()
            } else {
                std::mem::size_of::<Winsize>()
            };
            let mut data = vec![0u8; size];
            let r = file.ops.ioctl(req, &mut data)?;
            t.copy_out(arg, &data)?;
            Ok(r)
        }
        TCSETS | TCSETSW | TCSETSF | TIOCSWINSZ => {
            let size = if req == TIOCSWINSZ {
                std::mem::size_of::<Winsize>()
            } else {
                std::mem::size_of::<Termios>()
            };
            let mut data = vec![0u8; size];
            t.copy_in(arg, &mut data)?;
            file.ops.ioctl(req, &mut data)
        }
        _ => Err(Errno::ENOTTY),
    }
}

fn do_pipe(t: &Task, addr: u64, flags: u32) -> SysResult {
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = pipe::new_pipe(t.k.new_ino());
    let keep = flags & (O_NONBLOCK | O_DIRECT);
    let rf = File::new(r, O_RDONLY | keep, "pipe:");
    let wf = File::new(w, O_WRONLY | keep, "pipe:");
    let cloexec = flags & O_CLOEXEC != 0;
    let rfd = install(t, rf, cloexec)? as i32;
    let wfd = match install(t, wf, cloexec) {
        Ok(fd) => fd as i32,
        Err(e) => {
            let _ = t.fds().remove(rfd);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&rfd.to_le_bytes());
    out[4..].copy_from_slice(&wfd.to_le_bytes());
    if let Err(e) = t.copy_out(addr, &out) {
        let _ = t.fds().remove(rfd);
        let _ = t.fds().remove(wfd);
        return Err(e);
    }
    Ok(0)
}

/// Implements pipe(2).
pub fn sys_pipe(t: &mut Task) -> SysResult {
    do_pipe(t, t.arg(0), 0)
}

/// Implements pipe2(2).
pub fn sys_pipe2(t: &mut Task) -> SysResult {
    do_pipe(t, t.arg(0), t.arg(1) as u32)
}

/// Checks a `struct flock` as fcntl's lock commands do.
fn check_flock(t: &Task, file: &File, addr: u64, cmd: u32) -> SysResult {
    let mut fl: Flock = t.read_val(addr)?;
    if !matches!(fl.l_type, F_RDLCK | F_WRLCK | F_UNLCK)
        || !matches!(fl.l_whence as u32, SEEK_SET | SEEK_CUR | SEEK_END)
    {
        return Err(Errno::EINVAL);
    }
    if matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW) && fl.l_pid != 0 {
        return Err(Errno::EINVAL);
    }
    if matches!(cmd, F_SETLK | F_SETLKW | F_OFD_SETLK | F_OFD_SETLKW) {
        let need_w = fl.l_type == F_WRLCK;
        let need_r = fl.l_type == F_RDLCK;
        if (need_w && !file.writable()) || (need_r && !file.readable()) {
            return Err(Errno::EBADF);
        }
        return Ok(0);
    }
    // F_GETLK: no other process holds a conflicting lock (locks are not yet recorded).
    fl.l_type = F_UNLCK;
    t.write_val(addr, &fl).map(|_| 0)
}

/// The fcntl commands beyond descriptor flags: locks, owner, signal, pipe size, seals.
pub(crate) fn fcntl_more(t: &Task, file: &File, cmd: u32, arg: u64) -> SysResult {
    match cmd {
        F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW => {
            check_flock(t, file, arg, cmd)
        }
        F_SETOWN | F_SETSIG => Ok(0),
        F_GETOWN | F_GETSIG => Ok(0),
        F_GET_SEALS => file.ops.seals().map(u64::from),
        F_ADD_SEALS => {
            // Linux takes the argument as an unsigned int.
            let seals = arg as u32;
            if !file.writable() {
                return Err(Errno::EPERM);
            }
            let all = F_SEAL_SEAL
                | F_SEAL_SHRINK
                | F_SEAL_GROW
                | F_SEAL_WRITE
                | F_SEAL_FUTURE_WRITE
                | F_SEAL_EXEC;
            if seals & !all != 0 {
                return Err(Errno::EINVAL);
            }
            file.ops.add_seals(seals).map(|_| 0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Implements flock(2): the operation is checked; locks are not yet recorded (one sandbox,
/// advisory locks: nothing outside it can contend).
pub fn sys_flock(t: &mut Task) -> SysResult {
    let (fd, op) = (fd_arg(t, 0), t.arg(1) as u32);
    let file = t.file(fd)?;
    if file.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    match op & !LOCK_NB {
        LOCK_SH | LOCK_EX | LOCK_UN => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
