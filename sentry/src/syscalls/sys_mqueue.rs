// SPDX-License-Identifier: Apache-2.0
//! POSIX message queues: mq_open(2), mq_unlink(2), mq_timedsend(2), mq_timedreceive(2),
//! mq_notify(2), mq_getsetattr(2), on the sandbox's mqueue file system
//! ([`crate::fsimpl::mqueue`]), in Linux's order of checks (ipc/mqueue.c).

use std::sync::Arc;
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::fsimpl::mqueue::{self, MqFile, MqInode, NewQueue, Notify};
use crate::kernel::block::block_on;
use crate::kernel::{lock, Task};
use crate::vfs::File;

/// A queue name argument: what getname() and the look-up in the mqueue root accept.
fn read_name(t: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    let name = t.read_path(addr)?;
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    mqueue::check_name(&name)?;
    Ok(name)
}

/// Implements mq_open(2).
pub fn sys_mq_open(t: &mut Task) -> SysResult {
    let (uname, oflag, mode, uattr) = (t.arg(0), t.arg(1) as u32, t.arg(2) as u32, t.arg(3));
    let attr = if uattr != 0 {
        Some(t.read_val::<MqAttr>(uattr)?)
    } else {
        None
    };
    let name = t.read_path(uname)?;
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    if !t.fds().has_free(t.rlimit(RLIMIT_NOFILE)) {
        return Err(Errno::EMFILE);
    }
    mqueue::check_name(&name)?;
    let fs = mqueue::instance();
    let dir = fs.dir();
    let q = match dir.get(&name) {
        None => {
            if oflag & O_CREAT == 0 {
                return Err(Errno::ENOENT);
            }
            let umask = lock(&t.fs).umask;
            let owner = crate::vfs::Owner {
                uid: t.creds.fsuid,
                gid: t.creds.fsgid,
            };
            let new = attr.map(|a| NewQueue {
                maxmsg: a.mq_maxmsg,
                msgsize: a.mq_msgsize,
            });
            let limit = t.rlimit(RLIMIT_MSGQUEUE);
            match dir.create(
                &name,
                mode & !umask & 0o7777,
                owner,
                t.creds.uid.0,
                limit,
                new,
            ) {
                // Another process made it meanwhile: open that one, as Linux's lookup under
                // the directory's lock would have found it.
                Err(Errno::EEXIST) => existing(t, dir.get(&name).ok_or(Errno::ENOENT)?, oflag)?,
                r => r?,
            }
        }
        Some(q) => existing(t, q, oflag)?,
    };
    let file = File::new(
        Box::new(MqFile::new(q)),
        oflag & (O_ACCMODE | O_NONBLOCK),
        format!("/{}", String::from_utf8_lossy(&name)),
    );
    // A message queue descriptor is always close-on-exec.
    let limit = t.rlimit(RLIMIT_NOFILE);
    t.fds().alloc(file, true, 0, limit).map(|fd| fd as u64)
}

/// The checks of opening a queue that exists (prepare_open).
fn existing(t: &Task, q: Arc<MqInode>, oflag: u32) -> Result<Arc<MqInode>, Errno> {
    if oflag & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL {
        return Err(Errno::EEXIST);
    }
    let want = match oflag & O_ACCMODE {
        O_RDONLY => R_OK,
        O_WRONLY => W_OK,
        O_RDWR => R_OK | W_OK,
        _ => return Err(Errno::EINVAL),
    };
    let st = crate::vfs::Inode::stat(&*q)?;
    if !t.creds.may(st.st_mode, st.st_uid, st.st_gid, want) {
        return Err(Errno::EACCES);
    }
    Ok(q)
}

/// Implements mq_unlink(2).
pub fn sys_mq_unlink(t: &mut Task) -> SysResult {
    let name = read_name(t, t.arg(0))?;
    mqueue::instance().dir().remove(&name, &t.creds)?;
    Ok(0)
}

/// The queue behind a descriptor: EBADF when it is not one.
fn queue_of(t: &Task, fd: i32) -> Result<(Arc<File>, Arc<MqInode>), Errno> {
    let file = t.file(fd)?;
    let q = file
        .ops
        .as_any()
        .and_then(|a| a.downcast_ref::<MqFile>())
        .map(|f| f.q.clone())
        .ok_or(Errno::EBADF)?;
    Ok((file, q))
}

/// An absolute CLOCK_REALTIME timeout argument (prepare_timeout), as a deadline.
fn deadline(t: &Task, addr: u64) -> Result<Option<Instant>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let ts: Timespec = t.read_val(addr)?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    let target = i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec);
    let cur = crate::kernel::clock::realtime_ns();
    let left = Duration::from_nanos((target - cur).clamp(0, i128::from(u64::MAX)) as u64);
    let start = Instant::now();
    Ok(Some(
        start
            .checked_add(left)
            .unwrap_or(start + Duration::from_secs(1 << 40)),
    ))
}

/// Implements mq_timedsend(2).
pub fn sys_mq_timedsend(t: &mut Task) -> SysResult {
    let (fd, ptr, len, prio, timeout) = (
        t.arg(0) as i32,
        t.arg(1),
        t.arg(2),
        t.arg(3) as u32,
        t.arg(4),
    );
    let deadline = deadline(t, timeout)?;
    if prio >= MQ_PRIO_MAX {
        return Err(Errno::EINVAL);
    }
    let (file, q) = queue_of(t, fd)?;
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    let msgsize = q.lock().msgsize;
    if len > msgsize as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let mut msg = vec![0u8; len as usize];
    t.copy_in(ptr, &mut msg)?;
    let nonblock = file.flags() & O_NONBLOCK != 0;
    let mut msg = Some(msg);
    let sender = (t.tgid(), t.creds.uid.0);
    block_on(&[&q.queue], deadline, || {
        let mut st = q.lock();
        if st.curmsgs() >= st.maxmsg {
            return nonblock.then_some(Err(Errno::EAGAIN));
        }
        let m = msg.take()?;
        if q.push(&mut st, m, prio) {
            q.notify_nonempty(&mut st, &t.k, sender);
        }
        Some(Ok(0))
    })
}

/// Implements mq_timedreceive(2).
pub fn sys_mq_timedreceive(t: &mut Task) -> SysResult {
    let (fd, ptr, len, prio_ptr, timeout) =
        (t.arg(0) as i32, t.arg(1), t.arg(2), t.arg(3), t.arg(4));
    let deadline = deadline(t, timeout)?;
    let (file, q) = queue_of(t, fd)?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    if len < q.lock().msgsize as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let nonblock = file.flags() & O_NONBLOCK != 0;
    let mut waiting = false;
    let r = block_on(&[&q.queue], deadline, || {
        let mut st = q.lock();
        if let Some(m) = q.pop(&mut st) {
            if waiting {
                st.receivers = st.receivers.saturating_sub(1);
            }
            return Some(Ok(m));
        }
        if nonblock {
            return Some(Err(Errno::EAGAIN));
        }
        if !waiting {
            waiting = true;
            st.receivers += 1;
        }
        None
    });
    if waiting && r.is_err() {
        let mut st = q.lock();
        st.receivers = st.receivers.saturating_sub(1);
    }
    let (msg, prio) = r?;
    // The message is taken even when it cannot be stored (Linux: EFAULT, message lost).
    if prio_ptr != 0 {
        t.write_val(prio_ptr, &prio)?;
    }
    t.copy_out(ptr, &msg)?;
    Ok(msg.len() as u64)
}

/// Implements mq_notify(2).
pub fn sys_mq_notify(t: &mut Task) -> SysResult {
    let (fd, sevp) = (t.arg(0) as i32, t.arg(1));
    // struct sigevent { sigval value; int signo; int notify; ... }.
    let req = if sevp != 0 {
        let mut b = [0u8; 16];
        t.copy_in(sevp, &mut b)?;
        let value = u64::from_le_bytes(b[0..8].try_into().unwrap_or_default());
        let signo = i32::from_le_bytes(b[8..12].try_into().unwrap_or_default());
        let kind = i32::from_le_bytes(b[12..16].try_into().unwrap_or_default());
        if !matches!(kind, SIGEV_NONE | SIGEV_SIGNAL | SIGEV_THREAD) {
            return Err(Errno::EINVAL);
        }
        if kind == SIGEV_SIGNAL && !(0..=NSIG).contains(&signo) {
            return Err(Errno::EINVAL);
        }
        let socket = if kind == SIGEV_THREAD {
            let mut cookie = [0u8; NOTIFY_COOKIE_LEN];
            t.copy_in(value, &mut cookie)?;
            let sock = t.file(signo)?;
            let s = sock.ops.as_socket().ok_or(Errno::ENOTSOCK)?;
            if s.common().domain != AF_NETLINK {
                return Err(Errno::EINVAL);
            }
            Some((Arc::downgrade(&sock), cookie))
        } else {
            None
        };
        Some(Notify {
            owner: Arc::downgrade(&t.shared.tg),
            pid: t.tgid(),
            kind,
            signo,
            value,
            socket,
        })
    } else {
        None
    };
    let (_, q) = queue_of(t, fd)?;
    let mut st = q.lock();
    match req {
        None => {
            if st.notify().is_some_and(|n| n.pid == t.tgid()) {
                st.notify = None;
                q.touch_attr(&mut st);
            }
        }
        Some(n) => {
            if st.notify().is_some() {
                return Err(Errno::EBUSY);
            }
            st.notify = Some(n);
            q.touch_attr(&mut st);
        }
    }
    Ok(0)
}

/// Implements mq_getsetattr(2).
pub fn sys_mq_getsetattr(t: &mut Task) -> SysResult {
    let (fd, new, old) = (t.arg(0) as i32, t.arg(1), t.arg(2));
    let new = if new != 0 {
        Some(t.read_val::<MqAttr>(new)?)
    } else {
        None
    };
    if new.is_some_and(|a| a.mq_flags & !i64::from(O_NONBLOCK) != 0) {
        return Err(Errno::EINVAL);
    }
    let (file, q) = queue_of(t, fd)?;
    let prev = {
        let mut st = q.lock();
        let prev = MqAttr {
            mq_flags: i64::from(file.flags() & O_NONBLOCK),
            mq_maxmsg: st.maxmsg,
            mq_msgsize: st.msgsize,
            mq_curmsgs: st.curmsgs(),
            reserved: [0; 4],
        };
        if let Some(a) = new {
            let flags = file.flags();
            file.set_flags(if a.mq_flags != 0 {
                flags | O_NONBLOCK
            } else {
                flags & !O_NONBLOCK
            });
            q.touch_attr(&mut st);
        }
        prev
    };
    if old != 0 {
        t.write_val(old, &prev)?;
    }
    Ok(0)
}
