// SPDX-License-Identifier: Apache-2.0
//! Descriptors: dup, fcntl, ioctl, pipes, flock.

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::{install, nofile};
use crate::fsimpl::pipe;
use crate::kernel::Task;
use crate::syscalls::{fd_arg, SysResult};
use crate::vfs::lock::{self, LockOwner};
use crate::vfs::{File, FileOwner};

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
    if let Some(p) = &prev {
        lock::on_close(t.tgid(), &p.file);
    }
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
            let was = entry.file.flags() & O_ASYNC != 0;
            entry.file.set_flags(arg as u32);
            let now = entry.file.flags() & O_ASYNC != 0;
            if was != now {
                entry.file.ops.set_async(&entry.file, fd, now);
            }
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
        F_NOTIFY => crate::syscalls::sys_inotify::fcntl_notify(t, fd, &entry.file, arg),
        _ => fcntl_more(t, &entry.file, fd, cmd, arg),
    }
}

/// FS_IOC_FIEMAP (fs/ioctl.c's ioctl_fiemap and fiemap_prep, as ext4 answers it): the
/// extents of `file` in the header's range, as many as the caller's array holds (none with
/// `fm_extent_count` 0: only their count), the last of the file's marked FIEMAP_EXTENT_LAST.
fn fiemap(t: &Task, file: &crate::vfs::File, arg: u64) -> SysResult {
    let mut hdr = [0u8; FIEMAP_HEADER_SIZE as usize];
    t.copy_in(arg, &mut hdr)?;
    let u64_at = |o: usize| u64::from_le_bytes(hdr[o..o + 8].try_into().unwrap_or_default());
    let u32_at = |o: usize| u32::from_le_bytes(hdr[o..o + 4].try_into().unwrap_or_default());
    let (start, len, flags, count) = (u64_at(0), u64_at(8), u32_at(16), u32_at(24));
    if u64::from(count) > u64::from(u32::MAX) / FIEMAP_EXTENT_SIZE {
        return Err(Errno::EINVAL);
    }
    // Only a file system with a fiemap answers (tmpfs, proc, pipes: EOPNOTSUPP).
    let probe = file.ops.fiemap(0, 0, false);
    if probe.is_none() {
        return Err(Errno::EOPNOTSUPP);
    }
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let put_header = |flags: u32, mapped: u32| {
        let mut h = hdr;
        h[16..20].copy_from_slice(&flags.to_le_bytes());
        h[20..24].copy_from_slice(&mapped.to_le_bytes());
        t.copy_out(arg, &h)
    };
    let incompat = flags & !(FIEMAP_FLAG_SYNC | FIEMAP_FLAG_XATTR | FIEMAP_FLAG_CACHE);
    if incompat != 0 {
        put_header(incompat, 0)?;
        return Err(Errno::EBADR);
    }
    if flags & FIEMAP_FLAG_SYNC != 0 {
        file.ops.sync()?;
    }
    let extents = match file.ops.fiemap(start, len, flags & FIEMAP_FLAG_XATTR != 0) {
        Some(r) => r?,
        None => return Err(Errno::EOPNOTSUPP),
    };
    let total = extents.len();
    let mut mapped = 0u32;
    if count == 0 {
        mapped = total.min(u32::MAX as usize) as u32;
    } else {
        for (i, e) in extents.iter().take(count as usize).enumerate() {
            let mut rec = [0u8; FIEMAP_EXTENT_SIZE as usize];
            rec[0..8].copy_from_slice(&e.logical.to_le_bytes());
            rec[8..16].copy_from_slice(&e.physical.to_le_bytes());
            rec[16..24].copy_from_slice(&e.length.to_le_bytes());
            let last = if i + 1 == total {
                FIEMAP_EXTENT_LAST
            } else {
                0
            };
            rec[40..44].copy_from_slice(&(e.flags | last).to_le_bytes());
            let at = arg + FIEMAP_HEADER_SIZE + i as u64 * FIEMAP_EXTENT_SIZE;
            t.copy_out(at, &rec)?;
            mapped += 1;
        }
    }
    put_header(flags, mapped)?;
    Ok(0)
}

/// Implements ioctl(2) for the requests every program makes.
pub fn sys_ioctl(t: &mut Task) -> SysResult {
    let (fd, req, arg) = (fd_arg(t, 0), t.arg(1) as u32, t.arg(2));
    let file = t.file(fd)?;
    if file.flags() & O_PATH != 0 {
        // ioctl(2) takes no O_PATH descriptor, not even for FIOCLEX (fdget refuses it).
        return Err(Errno::EBADF);
    }
    crate::kernel::landlock::check_ioctl(&file, req)?;
    if let Some(r) = super::fileattr::ioctl(t, &file, req, arg) {
        return r;
    }
    if req == FS_IOC_FIEMAP {
        return fiemap(t, &file, arg);
    }
    if req == crate::fsimpl::proc::procmap::PROCMAP_QUERY {
        if let Some(r) = crate::fsimpl::proc::procmap::ioctl(t, &file, arg) {
            return r;
        }
    }
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
        FIOASYNC => {
            let on: i32 = t.read_val(arg)?;
            let flags = file.flags();
            file.set_flags(if on != 0 {
                flags | O_ASYNC
            } else {
                flags & !O_ASYNC
            });
            if (flags & O_ASYNC != 0) != (on != 0) {
                file.ops.set_async(&file, fd, on != 0);
            }
            Ok(0)
        }
        _ if crate::kernel::seccomp::notify::is_listener(&file) => {
            crate::kernel::seccomp::notify::ioctl(t, &file, req, arg)
        }
        _ if file.ops.as_any().is_some_and(|a| {
            a.is::<crate::fsimpl::loopdev::LoopFile>()
                || a.is::<crate::fsimpl::loopdev::LoopControl>()
        }) =>
        {
            crate::syscalls::sys_block::ioctl(t, &file, req, arg).unwrap_or(Err(Errno::ENOTTY))
        }
        _ if file
            .ops
            .as_any()
            .is_some_and(|a| a.is::<crate::fsimpl::nsfs::NsFile>()) =>
        {
            crate::fsimpl::nsfs::ioctl(t, &file, req, arg)
        }
        _ if file.ops.as_tty().is_some() => {
            let Some(tty) = file.ops.as_tty() else {
                return Err(Errno::ENOTTY);
            };
            tty_ioctl(t, tty, req, arg)
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
        TFD_IOC_SET_TICKS => crate::syscalls::sys_timerfd::ioctl_set_ticks(t, &file, arg),
        RNDGETENTCNT => {
            let mut count = [0u8; 4];
            file.ops.ioctl(req, &mut count)?;
            t.copy_out(arg, &count).map(|_| 0)
        }
        // Reflinks and deduplication: none of the sandbox's file systems shares extents
        // (ioctl_file_clone: EBADF for a bad source, EOPNOTSUPP for regular files).
        FICLONE | FICLONERANGE | FIDEDUPERANGE => {
            if req == FICLONE {
                t.file(arg as i32)?;
            }
            let st = file.ops.stat()?;
            match st.st_mode & S_IFMT {
                S_IFREG => Err(Errno::EOPNOTSUPP),
                S_IFDIR => Err(Errno::EISDIR),
                _ => Err(Errno::EINVAL),
            }
        }
        _ => crate::syscalls::sys_socket::socket_ioctl(t, &file, req, arg)
            .unwrap_or(Err(Errno::ENOTTY)),
    }
}

/// The ioctls of the sentry's terminals (pty masters and replicas).
fn tty_ioctl(t: &mut Task, tty: &crate::fsimpl::tty::TtyFile, req: u32, arg: u64) -> SysResult {
    use crate::fsimpl::tty::{self, devpts};
    if req == TIOCGPTPEER {
        if !tty.master {
            return Err(Errno::ENOTTY);
        }
        let flags = arg as u32;
        if u64::from(flags) != arg
            || flags & !(O_ACCMODE | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | O_LARGEFILE) != 0
        {
            return Err(Errno::EINVAL);
        }
        let peer = devpts::peer(tty, flags)?;
        let f = File::new(
            Box::new(peer),
            flags | O_LARGEFILE,
            devpts::replica_path(&tty.term),
        );
        return install(t, f, flags & O_CLOEXEC != 0);
    }
    let who = {
        let tree = crate::kernel::lock(&t.k.tree);
        let p = tree.procs.get(&t.tgid()).ok_or(Errno::ESRCH)?;
        tty::Caller {
            pid: t.tgid(),
            pgid: p.pgid,
            sid: tty::tty_sid(p),
            admin: t.creds.caps & (1 << CAP_SYS_ADMIN) != 0,
        }
    };
    match tty::arg_size(req) {
        None => {
            // No argument, or an integer passed by value.
            let mut data = (arg as i32).to_le_bytes();
            tty::ioctl(tty, &who, req, &mut data)
        }
        Some(size) => {
            let (input, output) = tty::arg_dir(req);
            let mut data = vec![0u8; size];
            if input {
                t.copy_in(arg, &mut data)?;
            }
            let r = tty::ioctl(tty, &who, req, &mut data)?;
            if output {
                t.copy_out(arg, &data)?;
            }
            Ok(r)
        }
    }
}

fn do_pipe(t: &Task, addr: u64, flags: u32) -> SysResult {
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = pipe::new_pipe(t.k.new_ino())?;
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

/// fcntl's record lock commands: F_GETLK/F_SETLK/F_SETLKW (POSIX locks, owned by the
/// process) and F_OFD_GETLK/F_OFD_SETLK/F_OFD_SETLKW (owned by the open file description),
/// as Linux's fcntl_getlk and fcntl_setlk.
fn record_lock(t: &Task, file: &File, addr: u64, cmd: u32) -> SysResult {
    let mut fl: Flock = t.read_val(addr)?;
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    if ofd && fl.l_pid != 0 {
        return Err(Errno::EINVAL);
    }
    let is_get = matches!(cmd, F_GETLK | F_OFD_GETLK);
    if is_get && !matches!(fl.l_type, F_RDLCK | F_WRLCK) {
        return Err(Errno::EINVAL);
    }
    if file.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let pos = *file.pos.lock().unwrap_or_else(|e| e.into_inner());
    let size = if fl.l_whence as u32 == SEEK_END {
        file.stat()?.st_size.max(0) as u64
    } else {
        0
    };
    let range = lock::decode_range(&fl, pos, size)?;
    if !matches!(fl.l_type, F_RDLCK | F_WRLCK | F_UNLCK) {
        return Err(Errno::EINVAL);
    }
    let owner = if ofd {
        LockOwner::File(file.id)
    } else {
        LockOwner::Process(t.tgid())
    };
    if is_get {
        match lock::test_lock(file, owner, range, fl.l_type == F_WRLCK)? {
            None => fl.l_type = F_UNLCK,
            Some(c) => {
                fl.l_type = c.l_type;
                fl.l_whence = SEEK_SET as i16;
                fl.l_start = c.range.start as i64;
                fl.l_len = if c.range.end == lock::OFFSET_MAX {
                    0
                } else {
                    (c.range.end - c.range.start + 1) as i64
                };
                // The owner's pid in the sandbox; -1 for an OFD lock.
                fl.l_pid = match c.owner {
                    LockOwner::Process(p) => p,
                    LockOwner::File(_) => -1,
                };
            }
        }
        return t.write_val(addr, &fl).map(|_| 0);
    }
    if (fl.l_type == F_RDLCK && !file.readable()) || (fl.l_type == F_WRLCK && !file.writable()) {
        return Err(Errno::EBADF);
    }
    let wait = matches!(cmd, F_SETLKW | F_OFD_SETLKW);
    lock::set_lock(file, owner, range, fl.l_type, wait).map(|_| 0)
}

/// Whether a thread, process or process group (by F_OWNER_* kind) exists in the sandbox.
fn owner_exists(t: &Task, kind: i32, id: i32) -> bool {
    let tree = crate::kernel::lock(&t.k.tree);
    match kind {
        F_OWNER_TID => tree.threads.contains_key(&id),
        F_OWNER_PID => tree.procs.get(&id).is_some_and(|p| p.zombie.is_none()),
        _ => tree.procs.values().any(|p| p.pgid == id),
    }
}

/// F_SETOWN/F_SETOWN_EX: records who gets the description's signals (ESRCH when no such
/// thread, process or group exists).
pub(crate) fn set_owner(t: &Task, file: &File, kind: i32, id: i32) -> SysResult {
    if id != 0 && !owner_exists(t, kind, id) {
        return Err(Errno::ESRCH);
    }
    *crate::kernel::lock(&file.fown) = FileOwner { kind, id };
    Ok(0)
}

/// F_SETLEASE: leases go only on regular files the caller owns (or with CAP_LEASE); the
/// opens of the file are counted across every process of the sandbox for the EAGAIN rules.
fn set_lease(t: &Task, file: &Arc<File>, fd: i32, arg: u64) -> SysResult {
    let l_type = match arg {
        0 => F_RDLCK,
        1 => F_WRLCK,
        2 => F_UNLCK,
        _ => return Err(Errno::EINVAL),
    };
    if file.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let st = file.stat()?;
    if st.st_uid != t.creds.fsuid && t.creds.caps & (1 << CAP_LEASE) == 0 {
        return Err(Errno::EACCES);
    }
    if st.st_mode & S_IFMT != S_IFREG {
        return Err(Errno::EINVAL);
    }
    let key = lock::key_of(file)?;
    let opens = if l_type == F_UNLCK {
        lock::OpenCounts::default()
    } else {
        count_opens(t, key)
    };
    lock::set_lease(file, fd, l_type, opens)?;
    if l_type != F_UNLCK {
        // lease_setup: the lease holder's process gets the break signal.
        *crate::kernel::lock(&file.fown) = FileOwner {
            kind: F_OWNER_PID,
            id: t.tgid(),
        };
    }
    Ok(0)
}

/// How many distinct open descriptions of file `key` the sandbox's fd tables hold, by mode.
fn count_opens(t: &Task, key: lock::LockKey) -> lock::OpenCounts {
    let threads: Vec<_> = crate::kernel::lock(&t.k.tree)
        .threads
        .values()
        .cloned()
        .collect();
    let tables: Vec<_> = threads
        .iter()
        .filter_map(|s| {
            crate::kernel::lock(&s.info)
                .as_ref()
                .and_then(|i| i.fds().ok())
        })
        .collect();
    let mut tables_seen = std::collections::HashSet::new();
    let mut files = std::collections::HashMap::new();
    for table in tables.iter().chain(std::iter::once(&t.fds)) {
        if !tables_seen.insert(Arc::as_ptr(table) as usize) {
            continue;
        }
        let fds = crate::kernel::lock(table);
        for (_, e) in fds.iter() {
            if e.file.inode.is_some() && e.file.flags() & O_PATH == 0 {
                files.entry(e.file.id).or_insert_with(|| e.file.clone());
            }
        }
    }
    let mut c = lock::OpenCounts::default();
    for f in files.values() {
        if lock::key_of(f).ok() != Some(key) {
            continue;
        }
        if f.writable() {
            c.writers += 1;
        } else if f.readable() {
            c.readers += 1;
        }
    }
    c
}

/// Sends a lease break's signal to the F_SETOWN owner of the holder's description: SIGIO, or
/// the F_SETSIG signal with si_code POLL_MSG, the fd and the band, as send_sigio does.
pub(crate) fn lease_break_signal(_k: &crate::kernel::Kernel, notice: &lock::BreakNotice) {
    let (file, fd) = notice;
    crate::vfs::fasync::send_sigio(file, *fd, POLL_MSG, POLLIN | POLLRDNORM | POLLMSG);
}

/// Breaks the leases on `file` that an open (`flags`) or a truncate (O_WRONLY) conflicts with:
/// the holders are signalled and the caller waits for them, unless O_NONBLOCK (EWOULDBLOCK).
pub(crate) fn break_lease(t: &Task, st: &Stat, flags: u32) -> Result<(), Errno> {
    if !lock::any_leases() || st.st_mode & S_IFMT != S_IFREG {
        return Ok(());
    }
    let want_write = flags & O_ACCMODE != O_RDONLY;
    let k = t.k.clone();
    lock::break_lease(
        (st.st_dev, st.st_ino),
        want_write,
        flags & O_NONBLOCK != 0,
        &|n| lease_break_signal(&k, n),
    )
}

/// The fcntl commands beyond descriptor flags: locks, leases, owner, signal, seals.
pub(crate) fn fcntl_more(t: &Task, file: &Arc<File>, fd: i32, cmd: u32, arg: u64) -> SysResult {
    match cmd {
        F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW => {
            record_lock(t, file, arg, cmd)
        }
        F_SETLEASE => set_lease(t, file, fd, arg),
        F_GETLEASE => lock::get_lease(file).map(|ty| ty as u64),
        // F_CREATED_QUERY (6.12): whether this description's open created the file.
        F_CREATED_QUERY => Ok(u64::from(file.created())),
        F_SETOWN => {
            let who = arg as i32;
            if who == i32::MIN {
                return Err(Errno::EINVAL);
            }
            if who < 0 {
                set_owner(t, file, F_OWNER_PGRP, -who)
            } else {
                set_owner(t, file, F_OWNER_PID, who)
            }
        }
        F_GETOWN => {
            let o = *crate::kernel::lock(&file.fown);
            let v = if o.kind == F_OWNER_PGRP { -o.id } else { o.id };
            Ok(v as i64 as u64)
        }
        F_SETOWN_EX => {
            let o: FOwnerEx = t.read_val(arg)?;
            if !matches!(o.type_, F_OWNER_TID | F_OWNER_PID | F_OWNER_PGRP) {
                return Err(Errno::EINVAL);
            }
            if o.pid < 0 {
                return Err(Errno::EINVAL);
            }
            set_owner(t, file, o.type_, o.pid)
        }
        F_GETOWN_EX => {
            let o = *crate::kernel::lock(&file.fown);
            t.write_val(
                arg,
                &FOwnerEx {
                    type_: o.kind,
                    pid: o.id,
                },
            )
            .map(|_| 0)
        }
        F_SETSIG => {
            if arg > 64 {
                return Err(Errno::EINVAL);
            }
            file.fsig
                .store(arg as i32, std::sync::atomic::Ordering::Relaxed);
            Ok(0)
        }
        F_GETSIG => Ok(file.fsig.load(std::sync::atomic::Ordering::Relaxed) as u64),
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

/// Implements flock(2): LOCK_SH/LOCK_EX/LOCK_UN (with LOCK_NB), owned by the open file
/// description (see [`crate::vfs::lock`]).
pub fn sys_flock(t: &mut Task) -> SysResult {
    let (fd, op) = (fd_arg(t, 0), t.arg(1) as u32);
    let file = t.file(fd)?;
    if file.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let kind = op & !LOCK_NB;
    if !matches!(kind, LOCK_SH | LOCK_EX | LOCK_UN) {
        return Err(Errno::EINVAL);
    }
    lock::flock(&file, kind, op & LOCK_NB != 0).map(|_| 0)
}
