// SPDX-License-Identifier: Apache-2.0
//! The mqueue file system: the sandbox's POSIX message queues (ipc/mqueue.c).
//!
//! One instance per sandbox (the sandbox is one IPC namespace): mq_open(2) and mq_unlink(2)
//! act on its root directly, and `mount -t mqueue` mounts that same instance, where each queue
//! is a file whose read gives "QSIZE:... NOTIFY:... SIGNO:... NOTIFY_PID:...". A descriptor
//! from open(2) on such a file is a message queue descriptor too, as on Linux.
//!
//! Memory: a queue's worst case (its messages at their largest, and Linux's per-message and
//! per-priority bookkeeping) is counted when it is made, against the creator's
//! RLIMIT_MSGQUEUE (EMFILE, as Linux) and the sandbox's memory budget (ENOMEM), and given back
//! when the last reference to the queue goes: nothing a program does can make a queue hold more.
//!
//! The limits of /proc/sys/fs/mqueue are here ([`MSG_MAX`]...). The sandbox grants no
//! CAP_SYS_RESOURCE overrides (as for rlimits): msg_max, msgsize_max and queues_max bind root
//! too.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use crate::fsimpl::synthetic::ListDir;
use crate::kernel::block::WaitQueue;
use crate::kernel::tree::ThreadGroup;
use crate::kernel::{lock, Credentials, Kernel};
use crate::net::netlink::NetlinkSocket;
use crate::vfs::inode::{now, synthetic_statfs};
use crate::vfs::{FileOps, Filesystem, Inode, Owner, SetAttr};

/// /proc/sys/fs/mqueue/msg_max.
pub static MSG_MAX: AtomicU64 = AtomicU64::new(DFLT_MSGMAX as u64);
/// /proc/sys/fs/mqueue/msgsize_max.
pub static MSGSIZE_MAX: AtomicU64 = AtomicU64::new(DFLT_MSGSIZEMAX as u64);
/// /proc/sys/fs/mqueue/queues_max.
pub static QUEUES_MAX: AtomicU64 = AtomicU64::new(DFLT_QUEUESMAX as u64);
/// /proc/sys/fs/mqueue/msg_default.
pub static MSG_DEFAULT: AtomicU64 = AtomicU64::new(DFLT_MSG as u64);
/// /proc/sys/fs/mqueue/msgsize_default.
pub static MSGSIZE_DEFAULT: AtomicU64 = AtomicU64::new(DFLT_MSGSIZE as u64);

/// Linux's per-message (`struct msg_msg`) and per-priority (`struct posix_msg_tree_node`)
/// bookkeeping, counted in a queue's size.
const MSG_OVERHEAD: u64 = 48;
const PRIO_OVERHEAD: u64 = 48;
/// A queue file's size (Linux's FILENT_SIZE).
const FILENT_SIZE: i64 = 80;

/// The queues made and not yet freed (queues_max counts them).
static QUEUES: AtomicU64 = AtomicU64::new(0);

/// Bytes of queues counted against each real uid's RLIMIT_MSGQUEUE.
fn user_bytes() -> MutexGuard<'static, HashMap<u32, u64>> {
    static BYTES: OnceLock<Mutex<HashMap<u32, u64>>> = OnceLock::new();
    lock(BYTES.get_or_init(Default::default))
}

/// The sandbox's mqueue file system.
pub struct MqueueFs {
    root: Arc<MqDir>,
}

/// The one instance.
pub fn instance() -> Arc<MqueueFs> {
    static FS: OnceLock<Arc<MqueueFs>> = OnceLock::new();
    FS.get_or_init(|| {
        // A device number of its own, away from the mount counter's.
        let dev = 0xff00;
        Arc::new(MqueueFs {
            root: Arc::new(MqDir {
                dev,
                entries: Mutex::new(BTreeMap::new()),
                times: Mutex::new(crate::vfs::inode::boot_time()),
            }),
        })
    })
    .clone()
}

impl MqueueFs {
    /// The root directory.
    pub fn dir(&self) -> &Arc<MqDir> {
        &self.root
    }
}

impl Filesystem for MqueueFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    fn name(&self) -> &'static str {
        "mqueue"
    }

    fn statfs(&self) -> Result<Statfs, Errno> {
        Ok(synthetic_statfs(MQUEUE_MAGIC))
    }
}

/// The root directory: the queues by name.
pub struct MqDir {
    dev: u64,
    entries: Mutex<BTreeMap<Vec<u8>, Arc<MqInode>>>,
    times: Mutex<(i64, i64)>,
}

/// Checks a queue name as Linux's look-up in the mqueue root does.
pub fn check_name(name: &[u8]) -> Result<(), Errno> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(Errno::EACCES);
    }
    if name.len() > 255 {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

/// The attributes a new queue asks for (`struct mq_attr`'s mq_maxmsg and mq_msgsize).
#[derive(Clone, Copy)]
pub struct NewQueue {
    /// Most messages.
    pub maxmsg: i64,
    /// Largest message.
    pub msgsize: i64,
}

impl MqDir {
    /// The queue `name`.
    pub fn get(&self, name: &[u8]) -> Option<Arc<MqInode>> {
        lock(&self.entries).get(name).cloned()
    }

    /// Makes queue `name` (which does not exist) with `attr`, or the defaults; `mode` is
    /// already masked by the umask.
    pub fn create(
        &self,
        name: &[u8],
        mode: u32,
        owner: Owner,
        ruid: u32,
        msgqueue_limit: u64,
        attr: Option<NewQueue>,
    ) -> Result<Arc<MqInode>, Errno> {
        let mut entries = lock(&self.entries);
        if entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let q = MqInode::new(self.dev, mode, owner, ruid, msgqueue_limit, attr)?;
        entries.insert(name.to_vec(), q.clone());
        *lock(&self.times) = now();
        Ok(q)
    }

    /// Removes queue `name` (it lives on while open), with the sticky directory's rule.
    pub fn remove(&self, name: &[u8], creds: &Credentials) -> Result<(), Errno> {
        let mut entries = lock(&self.entries);
        let q = entries.get(name).ok_or(Errno::ENOENT)?;
        let owner = lock(&q.st).uid;
        // The root is 01777 and root's: only the queue's owner (or CAP_FOWNER) removes it.
        if creds.fsuid != owner && creds.fsuid != 0 && creds.caps & (1 << 3) == 0 {
            return Err(Errno::EPERM);
        }
        entries.remove(name);
        *lock(&self.times) = now();
        Ok(())
    }
}

impl Inode for MqDir {
    fn stat(&self) -> Result<Stat, Errno> {
        let (s, ns) = *lock(&self.times);
        Ok(Stat {
            st_dev: self.dev,
            st_ino: 1,
            st_nlink: 2,
            st_mode: S_IFDIR | S_ISVTX | 0o777,
            st_blksize: 4096,
            st_atime: s,
            st_atime_nsec: ns,
            st_mtime: s,
            st_mtime_nsec: ns,
            st_ctime: s,
            st_ctime_nsec: ns,
            ..Default::default()
        })
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let mut list = vec![(1, DT_DIR, b".".to_vec()), (1, DT_DIR, b"..".to_vec())];
        for (name, q) in lock(&self.entries).iter() {
            list.push((q.ino, DT_REG, name.clone()));
        }
        Ok(Box::new(ListDir {
            stat: self.stat()?,
            list,
        }))
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        self.get(name)
            .map(|q| q as Arc<dyn Inode>)
            .ok_or(Errno::ENOENT)
    }

    /// open(2) with O_CREAT (and mknod of a regular file): a queue with the default attributes.
    fn mknod(&self, name: &[u8], mode: u32, _rdev: u64, o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        if mode & S_IFMT != S_IFREG && mode & S_IFMT != 0 {
            return Err(Errno::EPERM);
        }
        // (The VFS does not say whose RLIMIT_MSGQUEUE: the memory budget alone bounds these.)
        let q = self.create(name, mode & 0o7777, o, o.uid, u64::MAX, None)?;
        Ok(q)
    }

    fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        // The VFS has checked the caller may write here; the sticky rule is checked by the
        // caller's look-up of the owner (root's directory, 01777).
        let mut entries = lock(&self.entries);
        entries.remove(name).ok_or(Errno::ENOENT)?;
        *lock(&self.times) = now();
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A notification request (mq_notify).
#[derive(Clone)]
pub struct Notify {
    /// The registering process.
    pub owner: Weak<ThreadGroup>,
    /// Its process id.
    pub pid: i32,
    /// SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD.
    pub kind: i32,
    /// The signal (SIGEV_SIGNAL).
    pub signo: i32,
    /// sigev_value.
    pub value: u64,
    /// SIGEV_THREAD: the socket the cookie goes to, and the cookie.
    pub socket: Option<(Weak<crate::vfs::File>, [u8; NOTIFY_COOKIE_LEN])>,
}

impl Notify {
    fn alive(&self) -> bool {
        self.owner
            .upgrade()
            .is_some_and(|tg| !tg.killed.load(Ordering::Acquire))
    }
}

/// A queue's state.
pub struct Q {
    /// Most messages.
    pub maxmsg: i64,
    /// Largest message.
    pub msgsize: i64,
    /// Messages by (priority, highest first; arrival).
    msgs: BTreeMap<(Reverse<u32>, u64), Vec<u8>>,
    seq: u64,
    /// Bytes of message text queued.
    pub qsize: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    atime: (i64, i64),
    mtime: (i64, i64),
    ctime: (i64, i64),
    /// The registered notification.
    pub notify: Option<Notify>,
    /// Receivers blocked in mq_timedreceive (a notification is for an empty queue nobody
    /// waits on).
    pub receivers: usize,
}

impl Q {
    /// Messages queued.
    pub fn curmsgs(&self) -> i64 {
        self.msgs.len() as i64
    }

    /// The live notification, dropping one whose owner is gone.
    pub fn notify(&mut self) -> Option<&Notify> {
        if self.notify.as_ref().is_some_and(|n| !n.alive()) {
            self.notify = None;
        }
        self.notify.as_ref()
    }

    fn touch(&mut self, m: bool) {
        let t = now();
        self.atime = t;
        self.ctime = t;
        if m {
            self.mtime = t;
        }
    }
}

/// A message queue (an inode of the mqueue file system).
pub struct MqInode {
    me: Weak<MqInode>,
    dev: u64,
    ino: u64,
    /// Its state.
    pub st: Mutex<Q>,
    /// Notified at every change (a message in or out).
    pub queue: WaitQueue,
    /// Bytes counted against the memory budget and the creator's RLIMIT_MSGQUEUE.
    charged: u64,
    ruid: u32,
}

static NEXT_INO: AtomicU64 = AtomicU64::new(2);

impl MqInode {
    fn new(
        dev: u64,
        mode: u32,
        owner: Owner,
        ruid: u32,
        msgqueue_limit: u64,
        attr: Option<NewQueue>,
    ) -> Result<Arc<MqInode>, Errno> {
        // queues_max, then the attributes, then the size (mqueue_create_attr,
        // mqueue_get_inode).
        let max_queues = QUEUES_MAX.load(Ordering::Relaxed);
        if QUEUES
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < max_queues).then_some(n + 1)
            })
            .is_err()
        {
            return Err(Errno::ENOSPC);
        }
        let r = Self::sized(dev, mode, owner, ruid, msgqueue_limit, attr);
        if r.is_err() {
            QUEUES.fetch_sub(1, Ordering::AcqRel);
        }
        r
    }

    fn sized(
        dev: u64,
        mode: u32,
        owner: Owner,
        ruid: u32,
        msgqueue_limit: u64,
        attr: Option<NewQueue>,
    ) -> Result<Arc<MqInode>, Errno> {
        let msg_max = MSG_MAX.load(Ordering::Relaxed) as i64;
        let msgsize_max = MSGSIZE_MAX.load(Ordering::Relaxed) as i64;
        let a = attr.unwrap_or(NewQueue {
            maxmsg: msg_max.min(MSG_DEFAULT.load(Ordering::Relaxed) as i64),
            msgsize: msgsize_max.min(MSGSIZE_DEFAULT.load(Ordering::Relaxed) as i64),
        });
        if a.maxmsg <= 0 || a.msgsize <= 0 || a.maxmsg > msg_max || a.msgsize > msgsize_max {
            return Err(Errno::EINVAL);
        }
        let (maxmsg, msgsize) = (a.maxmsg as u64, a.msgsize as u64);
        let tree = maxmsg * MSG_OVERHEAD + maxmsg.min(u64::from(MQ_PRIO_MAX)) * PRIO_OVERHEAD;
        let bytes = maxmsg
            .checked_mul(msgsize)
            .and_then(|b| b.checked_add(tree))
            .ok_or(Errno::EOVERFLOW)?;
        {
            let mut users = user_bytes();
            let used = users.entry(ruid).or_insert(0);
            if used.saturating_add(bytes) > msgqueue_limit {
                return Err(Errno::EMFILE);
            }
            crate::limits::memory().charge(bytes, Errno::ENOMEM)?;
            *used += bytes;
        }
        let t = now();
        Ok(Arc::new_cyclic(|me| MqInode {
            me: me.clone(),
            dev,
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            st: Mutex::new(Q {
                maxmsg: a.maxmsg,
                msgsize: a.msgsize,
                msgs: BTreeMap::new(),
                seq: 0,
                qsize: 0,
                mode: mode & 0o7777,
                uid: owner.uid,
                gid: owner.gid,
                atime: t,
                mtime: t,
                ctime: t,
                notify: None,
                receivers: 0,
            }),
            queue: WaitQueue::default(),
            charged: bytes,
            ruid,
        }))
    }

    /// The queue's state.
    pub fn lock(&self) -> MutexGuard<'_, Q> {
        lock(&self.st)
    }

    /// Queues a message (the caller checked its size and that there is room). True when the
    /// queue was empty.
    pub fn push(&self, q: &mut Q, msg: Vec<u8>, prio: u32) -> bool {
        let was_empty = q.msgs.is_empty();
        q.qsize += msg.len() as u64;
        q.seq += 1;
        q.msgs.insert((Reverse(prio), q.seq), msg);
        q.touch(true);
        self.queue.notify_band(POLLIN);
        was_empty
    }

    /// Takes the first message of the highest priority.
    pub fn pop(&self, q: &mut Q) -> Option<(Vec<u8>, u32)> {
        let ((Reverse(prio), _), msg) = q.msgs.pop_first()?;
        q.qsize -= msg.len() as u64;
        q.touch(true);
        self.queue.notify_band(POLLOUT);
        Some((msg, prio))
    }

    /// Records an attribute change (mq_notify, mq_getsetattr).
    pub fn touch_attr(&self, q: &mut Q) {
        q.touch(false);
    }

    /// What a read of the queue's file gives.
    pub fn status(&self) -> String {
        let mut q = self.lock();
        let qsize = q.qsize;
        let (kind, signo, pid) = match q.notify() {
            Some(n) => (
                n.kind,
                if n.kind == SIGEV_SIGNAL { n.signo } else { 0 },
                n.pid,
            ),
            None => (0, 0, 0),
        };
        format!("QSIZE:{qsize:<10} NOTIFY:{kind:<5} SIGNO:{signo:<5} NOTIFY_PID:{pid:<6}\n")
    }

    /// The close of a descriptor of the queue by process `tgid` drops its notification
    /// (Linux's mqueue_flush_file).
    pub fn flush(&self, tgid: i32) {
        let mut q = self.lock();
        if q.notify.as_ref().is_some_and(|n| n.pid == tgid) {
            q.notify = None;
        }
    }

    /// Sends the registered notification of a queue that just became non-empty with nobody
    /// waiting to receive, and unregisters it. `sender` is (pid, uid) of the sending process.
    pub fn notify_nonempty(&self, q: &mut Q, k: &Kernel, sender: (i32, u32)) {
        if q.receivers > 0 || q.notify().is_none() {
            return;
        }
        let Some(n) = q.notify.take() else { return };
        match n.kind {
            SIGEV_SIGNAL if n.signo != 0 => {
                if let Some(tg) = n.owner.upgrade() {
                    let mut info =
                        crate::kernel::signal::user_info(n.signo, SI_MESGQ, sender.0, sender.1);
                    info.fields[1] = n.value;
                    crate::kernel::send_process_signal(k, &tg, info);
                }
            }
            SIGEV_THREAD => {
                if let Some((sock, cookie)) = &n.socket {
                    if let Some(file) = sock.upgrade() {
                        let mut c = *cookie;
                        // The cookie's last byte says why: NOTIFY_WOKENUP (1).
                        c[NOTIFY_COOKIE_LEN - 1] = 1;
                        if let Some(nl) = file
                            .ops
                            .as_socket()
                            .and_then(|s| s.as_any().downcast_ref::<NetlinkSocket>())
                        {
                            nl.deliver_kernel(c.to_vec());
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

impl Drop for MqInode {
    fn drop(&mut self) {
        crate::limits::memory().release(self.charged);
        if let Some(used) = user_bytes().get_mut(&self.ruid) {
            *used = used.saturating_sub(self.charged);
        }
        QUEUES.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Inode for MqInode {
    fn stat(&self) -> Result<Stat, Errno> {
        let q = self.lock();
        Ok(Stat {
            st_dev: self.dev,
            st_ino: self.ino,
            st_nlink: 1,
            st_mode: S_IFREG | q.mode,
            st_uid: q.uid,
            st_gid: q.gid,
            st_size: FILENT_SIZE,
            st_blksize: 4096,
            st_atime: q.atime.0,
            st_atime_nsec: q.atime.1,
            st_mtime: q.mtime.0,
            st_mtime_nsec: q.mtime.1,
            st_ctime: q.ctime.0,
            st_ctime_nsec: q.ctime.1,
            ..Default::default()
        })
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let me = self.me.upgrade().ok_or(Errno::ENOENT)?;
        Ok(Box::new(MqFile { q: me }))
    }

    fn setattr(&self, a: &SetAttr) -> Result<(), Errno> {
        let mut q = self.lock();
        if let Some(m) = a.mode {
            q.mode = m & 0o7777;
        }
        if let Some(u) = a.uid {
            q.uid = u;
        }
        if let Some(g) = a.gid {
            q.gid = g;
        }
        if a.size.is_some() {
            return Err(Errno::EINVAL);
        }
        q.ctime = now();
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An open message queue (from mq_open(2), or open(2) on a mounted mqueue file system).
pub struct MqFile {
    /// The queue.
    pub q: Arc<MqInode>,
}

impl MqFile {
    /// An open description of `q`.
    pub fn new(q: Arc<MqInode>) -> MqFile {
        MqFile { q }
    }
}

impl FileOps for MqFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let s = self.q.status();
        let b = s.as_bytes();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(b.len());
        let n = buf.len().min(b.len() - start);
        buf[..n].copy_from_slice(&b[start..start + n]);
        if n > 0 {
            let mut q = self.q.lock();
            q.touch(false);
        }
        Ok(n)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        self.q.stat()
    }

    fn poll_events(&self) -> u32 {
        let q = self.q.lock();
        let mut ev = 0;
        if q.curmsgs() > 0 {
            ev |= POLLIN | POLLRDNORM;
        }
        if q.curmsgs() < q.maxmsg {
            ev |= POLLOUT | POLLWRNORM;
        }
        ev
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.q.queue)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn flush(&self, tgid: i32) {
        self.q.flush(tgid);
    }
}
