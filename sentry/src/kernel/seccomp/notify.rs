// SPDX-License-Identifier: Apache-2.0
//! SECCOMP_RET_USER_NOTIF: the listener descriptor (anon inode "seccomp notify") a supervisor
//! reads notifications from and answers (seccomp_unotify(2)), and the notifying task's wait.
//!
//! One [`Notif`] per filter made with SECCOMP_FILTER_FLAG_NEW_LISTENER holds the pending
//! notifications under one lock, each INIT (not yet received), SENT (received, unanswered) or
//! REPLIED. The notifying task's sentry thread queues its notification and blocks,
//! interruptibly, until the answer; a signal takes the notification back and the call returns
//! ERESTARTSYS, so it is restarted (and notified again) or fails with EINTR as Linux's does.
//! SECCOMP_IOCTL_NOTIF_ADDFD installs the descriptor in the target's table from the
//! supervisor's thread while the target waits (Linux has the target do it; the table is the
//! same and the target is blocked either way). When the listener is closed, every unanswered
//! notification is answered ENOSYS, and so is every later one.
//!
//! Bounded: a task has at most one notification pending, so a list holds at most one entry
//! per task of the sandbox.

use std::sync::{Arc, Mutex, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use crate::kernel::block::{block_on, wait_uninterruptible, WaitQueue};
use crate::kernel::{lock, Task};
use crate::vfs::{FdTable, File, FileOps};

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Init,
    Sent,
    Replied,
}

struct Knotif {
    id: u64,
    tid: i32,
    data: SeccompData,
    state: State,
    val: i64,
    error: i32,
    flags: u32,
    /// The notifying task's descriptor table and RLIMIT_NOFILE (for ADDFD).
    fds: Weak<Mutex<FdTable>>,
    nofile: u64,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    list: Vec<Knotif>,
    /// The listener descriptor is still open.
    listening: bool,
    /// No task uses the filter any more (POLLHUP).
    unused: bool,
}

/// The notifications of one filter.
pub struct Notif {
    inner: Mutex<Inner>,
    /// Woken at every change: receivers, pollers and notifying tasks all recheck.
    queue: WaitQueue,
    /// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV.
    killable: bool,
}

impl Notif {
    /// A listener's notification list (ids start at a random value, as Linux's do).
    pub fn new(killable: bool) -> Arc<Notif> {
        let mut seed = [0u8; 8];
        let _ = crate::fsimpl::dev::fill_random(&mut seed);
        Arc::new(Notif {
            inner: Mutex::new(Inner {
                next_id: u64::from_le_bytes(seed),
                listening: true,
                ..Default::default()
            }),
            queue: WaitQueue::default(),
            killable,
        })
    }

    /// The filter is no longer used by any task.
    pub(super) fn unused(&self) {
        lock(&self.inner).unused = true;
        self.queue.notify_band(POLLHUP);
    }

    /// The listener was closed: every unanswered notification gets ENOSYS.
    fn detach(&self) {
        let mut g = lock(&self.inner);
        g.listening = false;
        for k in g.list.iter_mut().filter(|k| k.state != State::Replied) {
            k.state = State::Replied;
            k.error = -(Errno::ENOSYS.0);
            k.val = 0;
            k.flags = 0;
        }
        drop(g);
        self.queue.notify_all();
    }
}

/// How a notified call ends.
pub enum Outcome {
    /// SECCOMP_USER_NOTIF_FLAG_CONTINUE: the sentry runs the call.
    Continue,
    /// The call returns this (`rax`): the answer, ENOSYS, or ERESTARTSYS after a signal.
    Return(u64),
    /// The process is ending.
    Killed,
}

fn neg(e: Errno) -> u64 {
    (-(e.0 as i64)) as u64
}

/// Sends the call described by `data` to the supervisor of `notif` and waits for the answer.
pub fn notify(t: &mut Task, notif: Option<&Arc<Notif>>, data: SeccompData) -> Outcome {
    let Some(n) = notif else {
        return Outcome::Return(neg(Errno::ENOSYS));
    };
    let id = {
        let mut g = lock(&n.inner);
        if !g.listening {
            return Outcome::Return(neg(Errno::ENOSYS));
        }
        let id = g.next_id;
        g.next_id = g.next_id.wrapping_add(1);
        g.list.push(Knotif {
            id,
            tid: t.tid,
            data,
            state: State::Init,
            val: 0,
            error: 0,
            flags: 0,
            fds: Arc::downgrade(&t.fds),
            nofile: t.rlimit(RLIMIT_NOFILE),
        });
        id
    };
    n.queue.notify_band(POLLIN);
    let tg = t.shared.tg.clone();
    let ended = || {
        tg.killed.load(std::sync::atomic::Ordering::Acquire)
            || t.shared
                .must_exit
                .load(std::sync::atomic::Ordering::Acquire)
    };
    // Some(answer) once replied; the state otherwise.
    let look = |g: &Inner| -> Option<Result<(i64, i32, u32), State>> {
        let k = g.list.iter().find(|k| k.id == id)?;
        Some(if k.state == State::Replied {
            Ok((k.val, k.error, k.flags))
        } else {
            Err(k.state)
        })
    };
    let take = |n: &Notif| {
        let mut g = lock(&n.inner);
        g.list.retain(|k| k.id != id);
    };
    let answer = loop {
        let r = block_on(&[&n.queue], None, || match look(&lock(&n.inner)) {
            Some(Ok(a)) => Some(Ok(Ok(a))),
            Some(Err(State::Sent)) if n.killable => Some(Ok(Err(()))),
            Some(Err(_)) => None,
            None => Some(Ok(Ok((0, -(Errno::ENOSYS.0), 0)))),
        });
        match r {
            Ok(Ok(a)) => break a,
            Ok(Err(())) => {
                // WAIT_KILLABLE_RECV and received: only the end of the process interrupts.
                wait_uninterruptible(&n.queue, || {
                    ended() || matches!(look(&lock(&n.inner)), Some(Ok(_)) | None)
                });
                if ended() {
                    take(n);
                    return Outcome::Killed;
                }
                if let Some(Ok(a)) = look(&lock(&n.inner)) {
                    break a;
                }
            }
            Err(e) => {
                // A signal (or the process's end): the notification is withdrawn.
                take(n);
                n.queue.notify_all();
                if ended() {
                    return Outcome::Killed;
                }
                return Outcome::Return(neg(e));
            }
        }
    };
    take(n);
    let (val, error, flags) = answer;
    if flags & SECCOMP_USER_NOTIF_FLAG_CONTINUE != 0 {
        return Outcome::Continue;
    }
    Outcome::Return(if error != 0 {
        i64::from(error) as u64
    } else {
        val as u64
    })
}

/// The listener descriptor's file.
struct Listener {
    notif: Arc<Notif>,
    ino: u64,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.notif.detach();
    }
}

impl FileOps for Listener {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(crate::vfs::inode::anon_stat(self.ino))
    }

    fn poll_events(&self) -> u32 {
        let g = lock(&self.notif.inner);
        let mut ev = 0;
        for k in &g.list {
            match k.state {
                State::Init => ev |= POLLIN | POLLRDNORM,
                State::Sent => ev |= POLLOUT | POLLWRNORM,
                State::Replied => {}
            }
        }
        if g.unused {
            ev |= POLLHUP;
        }
        ev
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.notif.queue)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// A new listener file for `notif` (the caller installs it close-on-exec).
pub fn listener_file(notif: Arc<Notif>) -> Arc<File> {
    let ino = crate::kernel::block::current_kernel().map_or(0, |k| k.new_ino());
    File::new(
        Box::new(Listener { notif, ino }),
        O_RDWR,
        "anon_inode:seccomp notify",
    )
}

/// The listener behind `file`, if it is one.
fn listener(file: &File) -> Option<&Listener> {
    file.ops.as_any()?.downcast_ref::<Listener>()
}

/// Whether `file` is a seccomp listener (its ioctls go to [`ioctl`]).
pub fn is_listener(file: &File) -> bool {
    listener(file).is_some()
}

/// The listener's ioctls (seccomp_unotify(2)).
pub fn ioctl(t: &mut Task, file: &File, req: u32, arg: u64) -> Result<u64, Errno> {
    let Some(l) = listener(file) else {
        return Err(Errno::ENOTTY);
    };
    let n = &l.notif;
    match req {
        SECCOMP_IOCTL_NOTIF_RECV => recv(t, n, arg),
        SECCOMP_IOCTL_NOTIF_SEND => send(t, n, arg),
        SECCOMP_IOCTL_NOTIF_ID_VALID | SECCOMP_IOCTL_NOTIF_ID_VALID_WRONG_DIR => {
            let id: u64 = t.read_val(arg)?;
            let g = lock(&n.inner);
            match g.list.iter().find(|k| k.id == id) {
                Some(k) if k.state == State::Sent => Ok(0),
                _ => Err(Errno::ENOENT),
            }
        }
        SECCOMP_IOCTL_NOTIF_SET_FLAGS => {
            if arg & !SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP != 0 {
                return Err(Errno::EINVAL);
            }
            Ok(0) // a scheduling hint only
        }
        // Extensible-argument ioctls: any size of the structure.
        _ if req & 0xffff == SECCOMP_IOCTL_NOTIF_ADDFD & 0xffff => {
            addfd(t, n, arg, ((req >> 16) & 0x3fff) as usize)
        }
        _ => Err(Errno::EINVAL),
    }
}

fn recv(t: &mut Task, n: &Notif, arg: u64) -> Result<u64, Errno> {
    // The buffer must be zeroed (room for future fields).
    let mut buf = [0u8; std::mem::size_of::<SeccompNotif>()];
    t.copy_in(arg, &mut buf)?;
    if buf.iter().any(|b| *b != 0) {
        return Err(Errno::EINVAL);
    }
    let got = block_on(&[&n.queue], None, || {
        let mut g = lock(&n.inner);
        let k = g.list.iter_mut().find(|k| k.state == State::Init)?;
        k.state = State::Sent;
        Some(Ok(SeccompNotif {
            id: k.id,
            pid: k.tid as u32,
            flags: 0,
            data: k.data,
        }))
    })
    .map_err(|e| {
        if e == Errno::ERESTARTSYS {
            Errno::EINTR
        } else {
            e
        }
    })?;
    n.queue.notify_band(POLLOUT);
    if let Err(e) = t.write_val(arg, &got) {
        // Keep the notification alive for another receiver.
        let mut g = lock(&n.inner);
        if let Some(k) = g
            .list
            .iter_mut()
            .find(|k| k.id == got.id && k.state == State::Sent)
        {
            k.state = State::Init;
        }
        drop(g);
        n.queue.notify_band(POLLIN);
        return Err(e);
    }
    Ok(0)
}

fn send(t: &mut Task, n: &Notif, arg: u64) -> Result<u64, Errno> {
    let resp: SeccompNotifResp = t.read_val(arg)?;
    if resp.flags & !SECCOMP_USER_NOTIF_FLAG_CONTINUE != 0 {
        return Err(Errno::EINVAL);
    }
    if resp.flags & SECCOMP_USER_NOTIF_FLAG_CONTINUE != 0 && (resp.error != 0 || resp.val != 0) {
        return Err(Errno::EINVAL);
    }
    let mut g = lock(&n.inner);
    let k = g
        .list
        .iter_mut()
        .find(|k| k.id == resp.id)
        .ok_or(Errno::ENOENT)?;
    if k.state != State::Sent {
        return Err(Errno::EINPROGRESS);
    }
    k.state = State::Replied;
    k.val = resp.val;
    k.error = resp.error;
    k.flags = resp.flags;
    drop(g);
    n.queue.notify_all();
    Ok(0)
}

fn addfd(t: &mut Task, n: &Notif, arg: u64, size: usize) -> Result<u64, Errno> {
    if !(SECCOMP_NOTIFY_ADDFD_SIZE_VER0..4096).contains(&size) {
        return Err(Errno::EINVAL);
    }
    // copy_struct_from_user: a larger structure's extra bytes must be zero.
    let mut buf = vec![0u8; size];
    t.copy_in(arg, &mut buf)?;
    if buf[SECCOMP_NOTIFY_ADDFD_SIZE_VER0..]
        .iter()
        .any(|b| *b != 0)
    {
        return Err(Errno::E2BIG);
    }
    let mut a = <SeccompNotifAddfd as syscalls::Zeroable>::zeroed();
    syscalls::bytes_of_mut(&mut a).copy_from_slice(&buf[..SECCOMP_NOTIFY_ADDFD_SIZE_VER0]);
    if a.newfd_flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    if a.flags & !(SECCOMP_ADDFD_FLAG_SETFD | SECCOMP_ADDFD_FLAG_SEND) != 0 {
        return Err(Errno::EINVAL);
    }
    if a.newfd != 0 && a.flags & SECCOMP_ADDFD_FLAG_SETFD == 0 {
        return Err(Errno::EINVAL);
    }
    let file = t.file(a.srcfd as i32)?;
    let (fds, nofile) = {
        let g = lock(&n.inner);
        let k = g.list.iter().find(|k| k.id == a.id).ok_or(Errno::ENOENT)?;
        if k.state != State::Sent {
            return Err(Errno::EINPROGRESS);
        }
        (k.fds.upgrade().ok_or(Errno::ESRCH)?, k.nofile)
    };
    // The target is blocked in its call; its table is changed here, outside the list's lock
    // (closing a listener while holding a table must not deadlock with this).
    let cloexec = a.newfd_flags & O_CLOEXEC != 0;
    let fd = if a.flags & SECCOMP_ADDFD_FLAG_SETFD != 0 {
        let old = lock(&fds).install(a.newfd as i32, file, cloexec, nofile)?;
        drop(old);
        a.newfd as i32
    } else {
        lock(&fds).alloc(file, cloexec, 0, nofile)?
    };
    if a.flags & SECCOMP_ADDFD_FLAG_SEND != 0 {
        let mut g = lock(&n.inner);
        match g.list.iter_mut().find(|k| k.id == a.id) {
            Some(k) if k.state == State::Sent => {
                k.state = State::Replied;
                k.val = i64::from(fd);
                k.error = 0;
                k.flags = 0;
            }
            _ => return Err(Errno::EINPROGRESS),
        }
        drop(g);
        n.queue.notify_all();
    }
    Ok(fd as u64)
}
