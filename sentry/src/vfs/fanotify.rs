// SPDX-License-Identifier: Apache-2.0
//! fanotify(7): notification groups, their marks on inodes, mounts and file systems, the events
//! the VFS reports to them and the permission events a listener answers (Linux
//! `fs/notify/fanotify/`; gVisor has none).
//!
//! The events come from [`super::notify`]'s hooks, which serve inotify and dnotify too: every
//! place that reports an inotify event reports the fanotify one (the IN_* and FAN_* bits are
//! the same numbers). Three kinds, as in Linux's `fsnotify()`:
//! - *file events* (open, access, modify, close, attrib) on an object, with its directory and
//!   name when known; those that come through an open file are *path* events, the only ones
//!   a mount mark or a group reporting descriptors (classic mode) hears;
//! - *entry events* (create, delete, moved from/to) on a directory, with the entry's name;
//! - *self events* (attrib of a link count, delete_self, move_self).
//!
//! Marks are keyed like inotify's: an inode by `(st_dev, st_ino)`, a mount by its id, a file
//! system by its device. Permission events (FAN_OPEN_PERM, FAN_ACCESS_PERM) queue an event and
//! block the caller, interruptibly, until the listener answers, or closes its descriptor (then
//! everything pending is allowed, as Linux's `fanotify_release` does).
//!
//! Lock order: the registry, then a group's state. Events are queued after the registry is
//! released; nobody blocks holding either.
//!
//! Divergences: events are reported to groups in no particular order but permission events
//! go to the higher classes first; FAN_MARK_EVICTABLE marks are evicted (all of them) by a
//! write to /proc/sys/vm/drop_caches, never under memory pressure; an ignore mask is added
//! even while the file is open for writing; the pid in an event is the sandbox's, whatever the
//! reader's pid namespace; FAN_UNLIMITED_QUEUE is bounded at [`UNLIMITED_EVENTS`] events (then
//! FAN_Q_OVERFLOW), so a program cannot make the sentry allocate without bound;
//! FAN_ACCESS_PERM comes from read(2) and pread(2) only (not readv, sendfile or getdents);
//! inotify's divergences hold (a file opened before a rename reports under its old name);
//! no FAN_FS_ERROR, pre-content events (FAN_PRE_ACCESS) or responses with info records
//! (FAN_INFO).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::notify::{key_of, Key};
use super::{File, Inode, Mount};
use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::lock;
use crate::kernel::tree::ThreadGroup;

/// /proc/sys/fs/fanotify/max_queued_events (read when a group is made).
pub static MAX_QUEUED_EVENTS: AtomicU64 = AtomicU64::new(16384);
/// /proc/sys/fs/fanotify/max_user_groups.
pub static MAX_USER_GROUPS: AtomicU64 = AtomicU64::new(128);
/// /proc/sys/fs/fanotify/max_user_marks.
pub static MAX_USER_MARKS: AtomicU64 = AtomicU64::new(65536);

/// The queue bound of a group made with FAN_UNLIMITED_QUEUE.
pub const UNLIMITED_EVENTS: usize = 1 << 20;

/// Every event bit a mark may hold (Linux FANOTIFY_EVENTS | FANOTIFY_PERM_EVENTS).
const VALID_EVENTS: u32 = FAN_ACCESS
    | FAN_MODIFY
    | FAN_ATTRIB
    | FAN_CLOSE
    | FAN_OPEN
    | FAN_MOVE
    | FAN_CREATE
    | FAN_DELETE
    | FAN_DELETE_SELF
    | FAN_MOVE_SELF
    | FAN_OPEN_EXEC
    | FAN_FS_ERROR
    | FAN_RENAME
    | PERM_EVENTS;
/// The event flags (FANOTIFY_EVENT_FLAGS).
const EVENT_FLAGS: u32 = FAN_EVENT_ON_CHILD | FAN_ONDIR;
/// Permission events.
const PERM_EVENTS: u32 = FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_OPEN_EXEC_PERM;
/// Events that come with a path (FANOTIFY_PATH_EVENTS) or are permission events: all a
/// classic group may ask for.
const FD_EVENTS: u32 = FAN_ACCESS | FAN_MODIFY | FAN_CLOSE | FAN_OPEN | FAN_OPEN_EXEC | PERM_EVENTS;
/// Directory entry events.
const DIRENT_EVENTS: u32 = FAN_MOVE | FAN_CREATE | FAN_DELETE | FAN_RENAME;
/// The plain event bits (ALL_FSNOTIFY_EVENTS as fanotify uses them).
const ALL_EVENTS: u32 = VALID_EVENTS | FAN_Q_OVERFLOW;
/// The bits that choose how events are reported with file ids.
const FID_BITS: u32 = FAN_REPORT_FID | FAN_REPORT_DIR_FID | FAN_REPORT_NAME | FAN_REPORT_TARGET_FID;
/// fanotify_init flags that need CAP_SYS_ADMIN (FANOTIFY_ADMIN_INIT_FLAGS).
const ADMIN_INIT_FLAGS: u32 = FAN_CLASS_CONTENT
    | FAN_CLASS_PRE_CONTENT
    | FAN_REPORT_TID
    | FAN_REPORT_PIDFD
    | FAN_UNLIMITED_QUEUE
    | FAN_UNLIMITED_MARKS;
/// Every fanotify_init flag (FANOTIFY_INIT_FLAGS; FAN_ENABLE_AUDIT too, audit being built).
const INIT_FLAGS: u32 = ADMIN_INIT_FLAGS
    | FAN_CLOEXEC
    | FAN_NONBLOCK
    | FID_BITS
    | FAN_REPORT_FD_ERROR
    | FAN_ENABLE_AUDIT;
/// The event_f_flags fanotify_init accepts (FANOTIFY_INIT_ALL_EVENT_F_BITS).
const EVENT_F_BITS: u32 =
    O_ACCMODE | O_APPEND | O_NONBLOCK | O_SYNC | O_DSYNC | O_CLOEXEC | O_LARGEFILE | O_NOATIME;
/// Every fanotify_mark flag this kernel knows (FANOTIFY_MARK_FLAGS).
const MARK_FLAGS: u32 = FAN_MARK_ADD
    | FAN_MARK_REMOVE
    | FAN_MARK_DONT_FOLLOW
    | FAN_MARK_ONLYDIR
    | FAN_MARK_MOUNT
    | FAN_MARK_FILESYSTEM
    | FAN_MARK_IGNORED_MASK
    | FAN_MARK_IGNORED_SURV_MODIFY
    | FAN_MARK_FLUSH
    | FAN_MARK_EVICTABLE
    | FAN_MARK_IGNORE;
const MARK_TYPE_BITS: u32 = FAN_MARK_MOUNT | FAN_MARK_FILESYSTEM;
const MARK_IGNORE_BITS: u32 = FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORE;

/// Number of marks: the hooks' fast path.
static MARKS: AtomicUsize = AtomicUsize::new(0);

/// Whether any fanotify mark exists.
pub fn active() -> bool {
    MARKS.load(Ordering::Relaxed) != 0
}

/// What a mark is on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Obj {
    /// An inode, by `(st_dev, st_ino)`.
    Inode(Key),
    /// A mount, by id.
    Mount(u32),
    /// A file system, by device.
    Sb(u64),
}

/// One group's mark on one object.
struct Mark {
    group: Weak<Group>,
    mask: u32,
    ignore: u32,
    /// FAN_MARK_IGNORED_SURV_MODIFY, FAN_MARK_EVICTABLE and FAN_MARK_IGNORE (the ignore mask's
    /// event flags count) as they were given.
    flags: u32,
}

impl Mark {
    fn of(&self, g: &Arc<Group>) -> bool {
        std::ptr::eq(self.group.as_ptr(), Arc::as_ptr(g))
    }
}

#[derive(Default)]
struct Registry {
    marks: HashMap<Obj, Vec<Mark>>,
    groups: HashMap<u64, Weak<Group>>,
    user_groups: HashMap<u32, u64>,
    user_marks: HashMap<u32, u64>,
}

fn registry() -> MutexGuard<'static, Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    lock(R.get_or_init(Mutex::default))
}

impl Registry {
    fn forget(&mut self, obj: Obj, mut gone: impl FnMut(&Mark) -> bool) {
        let Some(list) = self.marks.get_mut(&obj) else {
            return;
        };
        let mut uids = Vec::new();
        list.retain(|m| {
            if gone(m) {
                uids.push(m.group.upgrade().map(|g| g.uid));
                false
            } else {
                true
            }
        });
        if list.is_empty() {
            self.marks.remove(&obj);
        }
        MARKS.fetch_sub(uids.len(), Ordering::Relaxed);
        for uid in uids.into_iter().flatten() {
            if let Some(n) = self.user_marks.get_mut(&uid) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

/// A file id: the file system's id and the handle name_to_handle_at(2) gives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Fid {
    dev: u64,
    ino: u64,
}

impl Fid {
    fn of(st: &Stat) -> Fid {
        Fid {
            dev: st.st_dev,
            ino: st.st_ino,
        }
    }
}

/// The `f_fsid` statfs(2) reports for the file system with device `dev`, and the fsid of
/// fanotify's file id records.
pub fn fsid_of(dev: u64) -> [i32; 2] {
    [dev as u32 as i32, (dev >> 32) as u32 as i32]
}

/// Bytes of a file id record with a name of `name_len` bytes (0: none), header included.
fn fid_record_len(name_len: usize) -> usize {
    let n = if name_len == 0 { 0 } else { name_len + 1 };
    (4 + 8 + 8 + 12 + n).next_multiple_of(4)
}

/// The file an event is about, as a path: what a classic group opens for its reader.
#[derive(Clone)]
struct PathObj {
    inode: Arc<dyn Inode>,
    mount: Arc<Mount>,
    path: String,
    key: Key,
}

/// What an event reports besides its mask and pid.
#[derive(Clone, PartialEq, Eq)]
enum Info {
    /// Classic mode: a descriptor on the path, opened when read (the key and mount id
    /// identify it for merging).
    Path(Key, u32),
    /// The object's file id.
    Fid(Fid),
    /// A directory's file id and an entry name, and maybe the child's file id.
    Name {
        dir: Option<Fid>,
        name: Vec<u8>,
        child: Option<Fid>,
    },
    /// FAN_RENAME: the old and new directories and names, and maybe the child's file id.
    Rename {
        old: Option<(Fid, Vec<u8>)>,
        new: Option<(Fid, Vec<u8>)>,
        child: Option<Fid>,
    },
    /// FAN_Q_OVERFLOW.
    Overflow,
}

/// The answer to a permission event.
#[derive(Default)]
struct Perm {
    answer: Mutex<Option<u32>>,
}

struct Event {
    mask: u32,
    /// The pid (or tid, FAN_REPORT_TID) reported.
    pid: i32,
    /// The process that caused it.
    tgid: i32,
    tg: Option<Weak<ThreadGroup>>,
    info: Info,
    path: Option<PathObj>,
    perm: Option<Arc<Perm>>,
}

impl Event {
    fn mergeable(&self, new: &Event) -> bool {
        self.perm.is_none()
            && new.perm.is_none()
            && self.pid == new.pid
            && self.info == new.info
            && (self.mask & FAN_ONDIR) == (new.mask & FAN_ONDIR)
            && !matches!(self.info, Info::Overflow | Info::Rename { .. })
    }
}

#[derive(Default)]
struct GState {
    events: VecDeque<Event>,
    /// Permission events read and not yet answered, by the descriptor the read gave.
    access: Vec<(i32, Arc<Perm>)>,
    /// The listener closed its descriptor: nothing more is queued.
    shutdown: bool,
}

/// A notification group: one fanotify descriptor.
pub struct Group {
    uid: u32,
    /// fanotify_init's flags.
    flags: u32,
    /// The flags of the descriptors events carry (event_f_flags, with O_LARGEFILE).
    f_flags: u32,
    /// 0 notification, 1 content, 2 pre-content.
    priority: u8,
    max_events: usize,
    /// Made without CAP_SYS_ADMIN (Linux FANOTIFY_UNPRIV).
    unpriv: bool,
    state: Mutex<GState>,
    /// Readers and pollers.
    queue: WaitQueue,
    /// Tasks waiting for an answer.
    answers: WaitQueue,
    ino: u64,
    file_id: AtomicU64,
}

impl Group {
    fn fid_mode(&self) -> u32 {
        self.flags & FID_BITS
    }

    /// The bytes `ev` takes when read.
    fn event_len(&self, ev: &Event) -> usize {
        let mut n = FAN_EVENT_METADATA_LEN;
        match &ev.info {
            Info::Fid(_) => {
                let dot = self.fid_mode() & FAN_REPORT_NAME != 0 && ev.mask & FAN_ONDIR != 0;
                n += fid_record_len(usize::from(dot));
            }
            Info::Name { dir, name, child } => {
                if dir.is_some() {
                    n += fid_record_len(name.len());
                }
                if child.is_some() {
                    n += fid_record_len(0);
                }
            }
            Info::Rename { old, new, child } => {
                for (_, name) in old.iter().chain(new.iter()) {
                    n += fid_record_len(name.len());
                }
                if child.is_some() {
                    n += fid_record_len(0);
                }
            }
            Info::Path(..) | Info::Overflow => {}
        }
        if self.flags & FAN_REPORT_PIDFD != 0 && !matches!(ev.info, Info::Overflow) {
            n += 8;
        }
        n
    }

    /// Queues an event: merged into a queued one about the same object, or FAN_Q_OVERFLOW
    /// (once) when the queue is full. False when it was not queued as itself.
    fn push(&self, ev: Event) -> bool {
        let mut st = lock(&self.state);
        if st.shutdown {
            return false;
        }
        if st.events.len() >= self.max_events {
            if !st.events.iter().any(|e| matches!(e.info, Info::Overflow)) {
                st.events.push_back(Event {
                    mask: FAN_Q_OVERFLOW,
                    pid: 0,
                    tgid: 0,
                    tg: None,
                    info: Info::Overflow,
                    path: None,
                    perm: None,
                });
            }
            drop(st);
            self.queue.notify_all();
            return false;
        }
        // Linux looks for a merge among the recent events about the same object.
        if let Some(old) = st
            .events
            .iter_mut()
            .rev()
            .take(128)
            .find(|e| e.mergeable(&ev))
        {
            old.mask |= ev.mask;
            return false;
        }
        st.events.push_back(ev);
        drop(st);
        self.queue.notify_all();
        true
    }
}

/// A group's file.
struct FanotifyFile(Arc<Group>);

/// The group behind an open file, if it is a fanotify descriptor.
pub fn group_of(file: &File) -> Option<Arc<Group>> {
    registry().groups.get(&file.id).and_then(Weak::upgrade)
}

impl super::FileOps for FanotifyFile {
    fn is_stream(&self) -> bool {
        true
    }

    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        // Without a task (no descriptor can be made): only file-id events are readable.
        read_events(&self.0, None, buf, nonblock)
    }

    fn read_stream_into(
        &self,
        t: &crate::kernel::Task,
        sink: &mut dyn super::Sink,
        nonblock: bool,
    ) -> Option<Result<usize, Errno>> {
        let len = sink.capacity().min(1 << 20);
        let mut buf = vec![0u8; len];
        Some(
            read_events(&self.0, Some(t), &mut buf, nonblock)
                .and_then(|n| sink.put(0, &buf[..n]).map(|_| n)),
        )
    }

    fn write_stream(&self, buf: &[u8], _nonblock: bool) -> Result<usize, Errno> {
        respond(&self.0, buf)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(crate::vfs::inode::anon_stat(self.0.ino))
    }

    fn readable_bytes(&self) -> Result<usize, Errno> {
        let st = lock(&self.0.state);
        Ok(st.events.iter().map(|e| self.0.event_len(e)).sum())
    }

    fn poll_events(&self) -> u32 {
        let ready = !lock(&self.0.state).events.is_empty();
        // Linux: always writable (responses).
        POLLOUT | POLLWRNORM | if ready { POLLIN | POLLRDNORM } else { 0 }
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.0.queue)
    }

    fn fdinfo(&self) -> String {
        fdinfo(&self.0)
    }
}

impl Drop for FanotifyFile {
    /// The listener is gone: its marks go, and every pending permission event is allowed.
    fn drop(&mut self) {
        let g = &self.0;
        {
            let mut reg = registry();
            let objs: Vec<Obj> = reg
                .marks
                .iter()
                .filter(|(_, l)| l.iter().any(|m| m.of(g)))
                .map(|(o, _)| *o)
                .collect();
            for o in objs {
                reg.forget(o, |m| m.of(g));
            }
            reg.groups.remove(&g.file_id.load(Ordering::Relaxed));
            if let Some(n) = reg.user_groups.get_mut(&g.uid) {
                *n = n.saturating_sub(1);
            }
        }
        let mut st = lock(&g.state);
        st.shutdown = true;
        for (_, p) in st.access.drain(..) {
            *lock(&p.answer) = Some(FAN_ALLOW);
        }
        for ev in st.events.drain(..) {
            if let Some(p) = ev.perm {
                *lock(&p.answer) = Some(FAN_ALLOW);
            }
        }
        drop(st);
        g.answers.notify_all();
    }
}

/// Reads events into `buf`; with `t`, classic events get a descriptor in its table.
fn read_events(
    g: &Arc<Group>,
    t: Option<&crate::kernel::Task>,
    buf: &mut [u8],
    nonblock: bool,
) -> Result<usize, Errno> {
    block_on(&[&g.queue], None, || {
        let mut used = 0;
        loop {
            let mut st = lock(&g.state);
            let Some(ev) = st.events.front() else {
                break;
            };
            let len = g.event_len(ev);
            if used + len > buf.len() {
                if used == 0 {
                    return Some(Err(Errno::EINVAL));
                }
                break;
            }
            let Some(ev) = st.events.pop_front() else {
                break;
            };
            drop(st);
            // The descriptor is made without the group's lock (opening may report events).
            let fd = match (&ev.path, t) {
                (Some(p), Some(t)) if !g.unpriv => match open_for_reader(g, t, p) {
                    Ok(fd) => fd,
                    Err(e) if g.flags & FAN_REPORT_FD_ERROR != 0 => -e.0,
                    Err(e) => {
                        if let Some(p) = &ev.perm {
                            *lock(&p.answer) = Some(FAN_DENY);
                            g.answers.notify_all();
                        }
                        if used == 0 {
                            return Some(Err(e));
                        }
                        break;
                    }
                },
                // Linux: an overflow's descriptor is -EBADF with FAN_REPORT_FD_ERROR.
                _ if matches!(ev.info, Info::Overflow) && g.flags & FAN_REPORT_FD_ERROR != 0 => {
                    -Errno::EBADF.0
                }
                _ => FAN_NOFD,
            };
            let pidfd = if g.flags & FAN_REPORT_PIDFD != 0 && !matches!(ev.info, Info::Overflow) {
                Some(make_pidfd(g, t, &ev))
            } else {
                None
            };
            let pid = if g.unpriv && t.map(|t| t.tgid()) != Some(ev.tgid) {
                0
            } else {
                ev.pid
            };
            encode(g, &ev, fd, pid, pidfd, &mut buf[used..used + len]);
            used += len;
            if let Some(p) = ev.perm {
                lock(&g.state).access.push((fd, p));
            }
        }
        if used > 0 {
            Some(Ok(used))
        } else if nonblock {
            Some(Err(Errno::EAGAIN))
        } else {
            None
        }
    })
}

/// A pidfd for the process that caused `ev`, in the reader's table: FAN_NOPIDFD when it is
/// gone... as Linux 6.x, FAN_EPIDFD when a pidfd cannot be made.
fn make_pidfd(g: &Group, t: Option<&crate::kernel::Task>, ev: &Event) -> i32 {
    let errors = g.flags & FAN_REPORT_FD_ERROR != 0;
    let Some(t) = t else {
        return FAN_EPIDFD;
    };
    let gone = if errors { -Errno::ESRCH.0 } else { FAN_NOFD };
    let Some(tg) = ev.tg.as_ref().and_then(Weak::upgrade) else {
        return gone;
    };
    if lock(&tg.tasks).is_empty() {
        return gone;
    }
    match crate::syscalls::pidfd_install(t, ev.tgid, &tg) {
        Ok(fd) => fd,
        Err(e) if errors => -e.0,
        Err(_) => FAN_EPIDFD,
    }
}

/// Opens the event's file for the reader, with the group's event_f_flags; reading or closing
/// it reports nothing (Linux FMODE_NONOTIFY).
fn open_for_reader(g: &Group, t: &crate::kernel::Task, p: &PathObj) -> Result<i32, Errno> {
    if g.f_flags & O_ACCMODE != O_RDONLY && p.mount.read_only() {
        return Err(Errno::EROFS);
    }
    let ops = p.inode.open(g.f_flags)?;
    let file = File::open_inode(
        ops,
        g.f_flags,
        p.path.clone(),
        p.inode.clone(),
        p.mount.clone(),
    );
    file.set_nonotify();
    let limit = t.rlimit(RLIMIT_NOFILE);
    t.fds().alloc(file, g.f_flags & O_CLOEXEC != 0, 0, limit)
}

fn put_fid(out: &mut [u8], at: &mut usize, kind: u8, f: &Fid, name: &[u8]) {
    let len = fid_record_len(name.len());
    let rec = &mut out[*at..*at + len];
    rec.fill(0);
    rec[0] = kind;
    rec[2..4].copy_from_slice(&(len as u16).to_ne_bytes());
    let fsid = fsid_of(f.dev);
    rec[4..8].copy_from_slice(&fsid[0].to_ne_bytes());
    rec[8..12].copy_from_slice(&fsid[1].to_ne_bytes());
    // struct file_handle as name_to_handle_at(2) makes it.
    rec[12..16].copy_from_slice(&12u32.to_ne_bytes());
    rec[16..20].copy_from_slice(&1i32.to_ne_bytes());
    rec[20..28].copy_from_slice(&f.ino.to_ne_bytes());
    rec[28..32].copy_from_slice(&(f.dev as u32).to_ne_bytes());
    rec[32..32 + name.len()].copy_from_slice(name);
    *at += len;
}

/// Lays out one event (Linux copy_event_to_user): metadata, file id records, pidfd record.
fn encode(g: &Group, ev: &Event, fd: i32, pid: i32, pidfd: Option<i32>, out: &mut [u8]) {
    out.fill(0);
    let len = out.len();
    out[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    out[4] = FANOTIFY_METADATA_VERSION;
    out[6..8].copy_from_slice(&(FAN_EVENT_METADATA_LEN as u16).to_ne_bytes());
    let mask = if g.fid_mode() == 0 {
        ev.mask & !EVENT_FLAGS
    } else {
        ev.mask & !FAN_EVENT_ON_CHILD
    };
    out[8..16].copy_from_slice(&u64::from(mask).to_ne_bytes());
    out[16..20].copy_from_slice(&fd.to_ne_bytes());
    out[20..24].copy_from_slice(&pid.to_ne_bytes());
    let mut at = FAN_EVENT_METADATA_LEN;
    let fid_mode = g.fid_mode();
    match &ev.info {
        Info::Fid(f) => {
            let (kind, name): (u8, &[u8]) = if fid_mode == FAN_REPORT_FID {
                (FAN_EVENT_INFO_TYPE_FID, b"")
            } else if fid_mode & FAN_REPORT_NAME != 0 && ev.mask & FAN_ONDIR != 0 {
                (FAN_EVENT_INFO_TYPE_DFID_NAME, b".")
            } else if ev.mask & (DIRENT_EVENTS | FAN_ONDIR) != 0 {
                (FAN_EVENT_INFO_TYPE_DFID, b"")
            } else {
                (FAN_EVENT_INFO_TYPE_FID, b"")
            };
            put_fid(out, &mut at, kind, f, name);
        }
        Info::Name { dir, name, child } => {
            if let Some(d) = dir {
                let kind = if name.is_empty() {
                    FAN_EVENT_INFO_TYPE_DFID
                } else {
                    FAN_EVENT_INFO_TYPE_DFID_NAME
                };
                put_fid(out, &mut at, kind, d, name);
            }
            if let Some(c) = child {
                put_fid(out, &mut at, FAN_EVENT_INFO_TYPE_FID, c, b"");
            }
        }
        Info::Rename { old, new, child } => {
            if let Some((d, name)) = old {
                put_fid(out, &mut at, FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, d, name);
            }
            if let Some((d, name)) = new {
                put_fid(out, &mut at, FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, d, name);
            }
            if let Some(c) = child {
                put_fid(out, &mut at, FAN_EVENT_INFO_TYPE_FID, c, b"");
            }
        }
        Info::Path(..) | Info::Overflow => {}
    }
    if let Some(pidfd) = pidfd {
        out[at] = FAN_EVENT_INFO_TYPE_PIDFD;
        out[at + 2..at + 4].copy_from_slice(&8u16.to_ne_bytes());
        out[at + 4..at + 8].copy_from_slice(&pidfd.to_ne_bytes());
    }
}

/// A write of a `struct fanotify_response` (Linux fanotify_write and
/// process_access_response).
fn respond(g: &Group, buf: &[u8]) -> Result<usize, Errno> {
    if buf.len() < 8 {
        return Err(Errno::EINVAL);
    }
    let fd = i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let response = u32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let access = response & (FAN_ALLOW | FAN_DENY);
    if access != FAN_ALLOW && access != FAN_DENY {
        return Err(Errno::EINVAL);
    }
    if response & FAN_AUDIT != 0 && g.flags & FAN_ENABLE_AUDIT == 0 {
        return Err(Errno::EINVAL);
    }
    if response & FAN_INFO != 0 {
        // No info records are understood.
        return Err(Errno::EINVAL);
    }
    if fd < 0 {
        return Err(Errno::EINVAL);
    }
    let perm = {
        let mut st = lock(&g.state);
        let i = st
            .access
            .iter()
            .position(|(f, _)| *f == fd)
            .ok_or(Errno::ENOENT)?;
        st.access.remove(i).1
    };
    *lock(&perm.answer) = Some(access);
    g.answers.notify_all();
    Ok(8)
}

/// The lines /proc/[pid]/fdinfo shows for a group (Linux fanotify_show_fdinfo).
fn fdinfo(g: &Arc<Group>) -> String {
    let mut out = format!(
        "fanotify flags:{:x} event-flags:{:x}\n",
        g.flags & INIT_FLAGS,
        g.f_flags
    );
    let reg = registry();
    let mut marks: Vec<(Obj, u32, u32, u32)> = reg
        .marks
        .iter()
        .flat_map(|(o, l)| {
            l.iter()
                .filter(|m| m.of(g))
                .map(|m| (*o, m.mask, m.ignore, m.flags))
        })
        .collect();
    drop(reg);
    marks.sort_by_key(|(o, ..)| format!("{o:?}"));
    for (o, mask, ignore, flags) in marks {
        let mut mflags = 0;
        if flags & FAN_MARK_IGNORED_SURV_MODIFY != 0 {
            mflags |= FAN_MARK_IGNORED_SURV_MODIFY;
        }
        if flags & FAN_MARK_EVICTABLE != 0 {
            mflags |= FAN_MARK_EVICTABLE;
        }
        match o {
            Obj::Inode((dev, ino)) => {
                let mut h = ino.to_ne_bytes().to_vec();
                h.extend_from_slice(&(dev as u32).to_ne_bytes());
                let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
                out.push_str(&format!(
                    "fanotify ino:{ino:x} sdev:{dev:x} mflags:{mflags:x} mask:{mask:x} ignored_mask:{ignore:x} fhandle-bytes:c fhandle-type:1 f_handle:{hex}\n"
                ));
            }
            Obj::Mount(id) => out.push_str(&format!(
                "fanotify mnt_id:{id:x} mflags:{mflags:x} mask:{mask:x} ignored_mask:{ignore:x}\n"
            )),
            Obj::Sb(dev) => out.push_str(&format!(
                "fanotify sdev:{dev:x} mflags:{mflags:x} mask:{mask:x} ignored_mask:{ignore:x}\n"
            )),
        }
    }
    out
}

/// A new group, its file's operations and the file's status flags.
pub type NewGroup = (Arc<Group>, Box<dyn super::FileOps>, u32);

/// fanotify_init(2)'s checks and a new group for a caller with effective uid `uid`, as the
/// file operations of its descriptor; [`register`] it once the file exists. Returns the
/// descriptor's flags too.
pub fn init(
    uid: u32,
    admin: bool,
    ino: u64,
    flags: u32,
    event_f_flags: u32,
) -> Result<NewGroup, Errno> {
    let fid_mode = flags & FID_BITS;
    let class = flags & (FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT);
    if !admin && (flags & ADMIN_INIT_FLAGS != 0 || fid_mode == 0) {
        return Err(Errno::EPERM);
    }
    if flags & !INIT_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & FAN_REPORT_PIDFD != 0 && flags & FAN_REPORT_TID != 0 {
        return Err(Errno::EINVAL);
    }
    if event_f_flags & !EVENT_F_BITS != 0 {
        return Err(Errno::EINVAL);
    }
    if event_f_flags & O_ACCMODE == O_ACCMODE {
        return Err(Errno::EINVAL);
    }
    if fid_mode != 0 && class != FAN_CLASS_NOTIF {
        return Err(Errno::EINVAL);
    }
    if fid_mode & FAN_REPORT_NAME != 0 && fid_mode & FAN_REPORT_DIR_FID == 0 {
        return Err(Errno::EINVAL);
    }
    if fid_mode & FAN_REPORT_TARGET_FID != 0
        && (fid_mode & FAN_REPORT_NAME == 0 || fid_mode & FAN_REPORT_FID == 0)
    {
        return Err(Errno::EINVAL);
    }
    let priority = match class {
        FAN_CLASS_NOTIF => 0,
        FAN_CLASS_CONTENT => 1,
        FAN_CLASS_PRE_CONTENT => 2,
        _ => return Err(Errno::EINVAL),
    };
    let max_events = if flags & FAN_UNLIMITED_QUEUE != 0 {
        UNLIMITED_EVENTS
    } else {
        usize::try_from(MAX_QUEUED_EVENTS.load(Ordering::Relaxed))
            .unwrap_or(usize::MAX)
            .min(UNLIMITED_EVENTS)
    };
    {
        let mut reg = registry();
        let n = reg.user_groups.entry(uid).or_default();
        if *n >= MAX_USER_GROUPS.load(Ordering::Relaxed) {
            return Err(Errno::EMFILE);
        }
        *n += 1;
    }
    let g = Arc::new(Group {
        uid,
        flags,
        f_flags: event_f_flags | O_LARGEFILE,
        priority,
        max_events,
        unpriv: !admin,
        state: Mutex::default(),
        queue: WaitQueue::default(),
        answers: WaitQueue::default(),
        ino,
        file_id: AtomicU64::new(0),
    });
    let mut fflags = O_RDWR;
    if flags & FAN_NONBLOCK != 0 {
        fflags |= O_NONBLOCK;
    }
    Ok((g.clone(), Box::new(FanotifyFile(g)), fflags))
}

/// Records that `g` is served by the file description with id `file_id`.
pub fn register(g: &Arc<Group>, file_id: u64) {
    g.file_id.store(file_id, Ordering::Relaxed);
    registry().groups.insert(file_id, Arc::downgrade(g));
}

/// A fanotify_mark(2) call, checked as far as it can be without its path.
#[derive(Clone, Copy, Debug)]
pub struct MarkArgs {
    /// The flags.
    pub flags: u32,
    /// The mask (upper half checked zero).
    pub mask: u32,
}

/// fanotify_mark(2)'s argument checks before the group is known (EINVAL as Linux).
pub fn check_mark(flags: u32, mask: u64) -> Result<MarkArgs, Errno> {
    if mask >> 32 != 0 {
        return Err(Errno::EINVAL);
    }
    let mut mask = mask as u32;
    if flags & !MARK_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MARK_TYPE_BITS == MARK_TYPE_BITS {
        return Err(Errno::EINVAL);
    }
    match flags & (FAN_MARK_ADD | FAN_MARK_REMOVE | FAN_MARK_FLUSH) {
        FAN_MARK_ADD | FAN_MARK_REMOVE => {
            if mask == 0 {
                return Err(Errno::EINVAL);
            }
        }
        FAN_MARK_FLUSH => {
            if flags & !(MARK_TYPE_BITS | FAN_MARK_FLUSH) != 0 {
                return Err(Errno::EINVAL);
            }
        }
        _ => return Err(Errno::EINVAL),
    }
    if mask & !(VALID_EVENTS | EVENT_FLAGS) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MARK_IGNORE_BITS == MARK_IGNORE_BITS {
        return Err(Errno::EINVAL);
    }
    if flags & MARK_IGNORE_BITS == FAN_MARK_IGNORED_MASK {
        mask &= !EVENT_FLAGS;
    }
    // FAN_MARK_IGNORE on a mount or file system needs FAN_MARK_IGNORED_SURV_MODIFY.
    if flags & FAN_MARK_ADD != 0
        && flags & MARK_IGNORE_BITS == FAN_MARK_IGNORE
        && flags & MARK_TYPE_BITS != 0
        && flags & FAN_MARK_IGNORED_SURV_MODIFY == 0
    {
        return Err(Errno::EINVAL);
    }
    Ok(MarkArgs { flags, mask })
}

/// fanotify_mark(2)'s checks that need the group (after EBADF/EINVAL for the descriptor).
pub fn check_mark_group(g: &Group, a: &MarkArgs, admin: bool) -> Result<(), Errno> {
    let mark_type = a.flags & MARK_TYPE_BITS;
    if (!admin || g.unpriv) && mark_type != 0 {
        return Err(Errno::EPERM);
    }
    if a.mask & PERM_EVENTS != 0 && g.priority < 1 {
        return Err(Errno::EINVAL);
    }
    if a.mask & FAN_FS_ERROR != 0 && mark_type != FAN_MARK_FILESYSTEM {
        return Err(Errno::EINVAL);
    }
    if a.flags & FAN_MARK_EVICTABLE != 0 && mark_type != 0 {
        return Err(Errno::EINVAL);
    }
    let fid_mode = g.fid_mode();
    if a.mask & !(FD_EVENTS | EVENT_FLAGS) != 0 && (fid_mode == 0 || mark_type == FAN_MARK_MOUNT) {
        return Err(Errno::EINVAL);
    }
    if a.mask & FAN_RENAME != 0 && fid_mode & FAN_REPORT_NAME == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// FAN_MARK_FLUSH: removes every mark of `g` of the kind `flags` names.
pub fn flush(g: &Arc<Group>, flags: u32) {
    let kind = flags & MARK_TYPE_BITS;
    let mut reg = registry();
    let objs: Vec<Obj> = reg
        .marks
        .keys()
        .filter(|o| {
            matches!(
                (o, kind),
                (Obj::Inode(_), 0)
                    | (Obj::Mount(_), FAN_MARK_MOUNT)
                    | (Obj::Sb(_), FAN_MARK_FILESYSTEM)
            )
        })
        .copied()
        .collect();
    for o in objs {
        reg.forget(o, |m| m.of(g));
    }
}

/// The object a mark call resolved: its stat and mount.
pub struct Target<'a> {
    /// The file's stat.
    pub st: Stat,
    /// The mount it was reached through.
    pub mount: &'a Mount,
}

/// fanotify_mark(2) FAN_MARK_ADD / FAN_MARK_REMOVE on the resolved object.
pub fn mark(g: &Arc<Group>, a: &MarkArgs, tgt: &Target<'_>) -> Result<(), Errno> {
    let mark_type = a.flags & MARK_TYPE_BITS;
    let ignore = a.flags & MARK_IGNORE_BITS;
    let is_dir = tgt.st.st_mode & S_IFMT == S_IFDIR;
    let add = a.flags & FAN_MARK_ADD != 0;
    let mut mask = a.mask;
    if add {
        // fanotify_events_supported.
        if mask & PERM_EVENTS != 0 && tgt.mount.fs.name() == "proc" {
            return Err(Errno::EINVAL);
        }
        let strict = g.flags & FAN_REPORT_TARGET_FID != 0 || ignore == FAN_MARK_IGNORE;
        if strict && mark_type == 0 && !is_dir && mask & (DIRENT_EVENTS | EVENT_FLAGS) != 0 {
            return Err(Errno::ENOTDIR);
        }
        if ignore == FAN_MARK_IGNORE
            && mark_type == 0
            && is_dir
            && a.flags & FAN_MARK_IGNORED_SURV_MODIFY == 0
        {
            return Err(Errno::EISDIR);
        }
    }
    let mut umask = if ignore == FAN_MARK_IGNORED_MASK {
        EVENT_FLAGS
    } else {
        0
    };
    if mark_type != 0 || !is_dir {
        mask &= !FAN_EVENT_ON_CHILD;
        umask = FAN_EVENT_ON_CHILD;
        if g.flags & FAN_REPORT_DIR_FID != 0 && add && ignore == 0 {
            // Events on children are wanted with their directory and name.
            mask |= FAN_EVENT_ON_CHILD;
        }
    }
    let obj = match mark_type {
        0 => Obj::Inode(key_of(&tgt.st)),
        FAN_MARK_MOUNT => Obj::Mount(tgt.mount.id),
        _ => Obj::Sb(tgt.st.st_dev),
    };
    let mut reg = registry();
    if add {
        let exists = reg
            .marks
            .get(&obj)
            .is_some_and(|l| l.iter().any(|m| m.of(g)));
        if !exists {
            if g.flags & FAN_UNLIMITED_MARKS == 0 {
                let used = reg.user_marks.get(&g.uid).copied().unwrap_or(0);
                if used >= MAX_USER_MARKS.load(Ordering::Relaxed) {
                    return Err(Errno::ENOSPC);
                }
            }
            *reg.user_marks.entry(g.uid).or_default() += 1;
            MARKS.fetch_add(1, Ordering::Relaxed);
            reg.marks.entry(obj).or_default().push(Mark {
                group: Arc::downgrade(g),
                mask: 0,
                ignore: 0,
                flags: a.flags & FAN_MARK_EVICTABLE,
            });
        }
        let Some(m) = reg
            .marks
            .get_mut(&obj)
            .and_then(|l| l.iter_mut().find(|m| m.of(g)))
        else {
            return Err(Errno::ENOENT);
        };
        if exists {
            if a.flags & FAN_MARK_EVICTABLE != 0 && m.flags & FAN_MARK_EVICTABLE == 0 {
                return Err(Errno::EEXIST);
            }
            if ignore == FAN_MARK_IGNORE && m.ignore != 0 && m.flags & FAN_MARK_IGNORE == 0 {
                return Err(Errno::EEXIST);
            }
            if ignore == FAN_MARK_IGNORED_MASK && m.flags & FAN_MARK_IGNORE != 0 {
                return Err(Errno::EEXIST);
            }
            if a.flags & FAN_MARK_EVICTABLE == 0 {
                m.flags &= !FAN_MARK_EVICTABLE;
            }
        }
        if ignore == 0 {
            m.mask |= mask;
        } else {
            m.ignore |= mask;
            if ignore == FAN_MARK_IGNORE {
                m.flags |= FAN_MARK_IGNORE;
            }
            if a.flags & FAN_MARK_IGNORED_SURV_MODIFY != 0 {
                m.flags |= FAN_MARK_IGNORED_SURV_MODIFY;
            }
        }
        Ok(())
    } else {
        let Some(m) = reg
            .marks
            .get_mut(&obj)
            .and_then(|l| l.iter_mut().find(|m| m.of(g)))
        else {
            return Err(Errno::ENOENT);
        };
        if ignore == 0 {
            m.mask &= !mask;
        } else {
            m.ignore &= !mask;
        }
        if (m.mask | m.ignore) & !umask == 0 {
            reg.forget(obj, |m| m.of(g));
        }
        Ok(())
    }
}

/// What a fired event is about, for building each group's copy.
struct Ctx<'a> {
    /// FAN_* bits, with FAN_ONDIR.
    mask: u32,
    /// Marks of the inode kind are looked up here (an entry event's directory).
    inode: Key,
    /// The file system.
    dev: u64,
    /// The object's directory, for marks watching their children.
    parent: Option<Key>,
    path: Option<PathObj>,
    /// The object's file id (an entry event's directory).
    id: Fid,
    /// An entry event's child.
    child: Option<Fid>,
    /// The directory reported with the name (the object itself when it is a directory).
    dir: Option<Fid>,
    name: &'a [u8],
    dirent: bool,
    /// FAN_RENAME: the new directory's key (when another), its file id and the new name.
    new: Option<(Option<Key>, Fid, &'a [u8])>,
}

/// Mark kinds, as bits of what matched (Linux's iterator types).
const MATCH_INODE: u32 = 1;
const MATCH_INODE2: u32 = 1 << 4;
const MATCH_SB: u32 = 1 << 3;

/// The groups to report `c` to, each with its event mask (Linux fsnotify() and
/// fanotify_group_event_mask).
fn targets(c: &Ctx<'_>) -> Vec<(Arc<Group>, u32, u32)> {
    let ondir = c.mask & FAN_ONDIR != 0;
    let mut reg = registry();
    // Parent marks count only when the directory watches its children for this event.
    let parent = c.parent.filter(|p| {
        let pm = reg
            .marks
            .get(&Obj::Inode(*p))
            .map_or(0, |l| l.iter().fold(0, |a, m| a | interest(m)));
        pm & FAN_EVENT_ON_CHILD != 0 && c.mask & pm & ALL_EVENTS != 0
    });
    let mask = if parent.is_some() {
        c.mask | FAN_EVENT_ON_CHILD
    } else {
        c.mask
    };
    let mut kinds: Vec<(Obj, u32)> = vec![(Obj::Inode(c.inode), MATCH_INODE)];
    if let Some(p) = parent {
        kinds.push((Obj::Inode(p), 1 << 1));
    }
    if let Some((Some(k2), ..)) = c.new {
        kinds.push((Obj::Inode(k2), MATCH_INODE2));
    }
    if let Some(p) = &c.path {
        kinds.push((Obj::Mount(p.mount.id), 1 << 2));
    }
    kinds.push((Obj::Sb(c.dev), MATCH_SB));
    // Per group: the marks' masks, ignore masks and the kinds that matched.
    let mut per: Vec<(Arc<Group>, u32, u32, u32)> = Vec::new();
    let modify = c.mask & FAN_MODIFY != 0;
    for (obj, kind) in kinds {
        let is_parent = kind == 1 << 1;
        let Some(list) = reg.marks.get_mut(&obj) else {
            continue;
        };
        for m in list.iter_mut() {
            // A directory's mark counts for its children's events only when it watches
            // children, or ignores their events (Linux fsnotify_iter_select_report_types).
            if is_parent && (m.mask | ignore_flags(m)) & FAN_EVENT_ON_CHILD == 0 {
                continue;
            }
            let Some(g) = m.group.upgrade() else {
                continue;
            };
            let i = match per.iter().position(|(h, ..)| Arc::ptr_eq(h, &g)) {
                Some(i) => i,
                None => {
                    per.push((g, 0, 0, 0));
                    per.len() - 1
                }
            };
            per[i].2 |= effective_ignore(m, ondir, is_parent);
            let applies = !(ondir && m.mask & FAN_ONDIR == 0
                || is_parent && m.mask & FAN_EVENT_ON_CHILD == 0);
            if applies {
                per[i].1 |= m.mask;
                per[i].3 |= kind;
            }
            if modify && m.flags & FAN_MARK_IGNORED_SURV_MODIFY == 0 {
                m.ignore = 0;
            }
        }
    }
    drop(reg);
    let mut out = Vec::new();
    for (g, marks, ignore, matched) in per {
        let fid_mode = g.fid_mode();
        if fid_mode == 0 && c.path.is_none() {
            continue;
        }
        let mut test = mask & marks & !ignore;
        let mut user = ALL_EVENTS | EVENT_FLAGS;
        if fid_mode != 0 {
            if test & !EVENT_FLAGS == 0 {
                continue;
            }
        } else {
            user &= !EVENT_FLAGS;
        }
        test &= user;
        if test != 0 {
            out.push((g, test, matched));
        }
    }
    out
}

/// A mark's ignore mask with the event flags that count (Linux fsnotify_ignore_mask).
fn ignore_flags(m: &Mark) -> u32 {
    if m.ignore == 0 || m.flags & FAN_MARK_IGNORE != 0 {
        return m.ignore;
    }
    // Legacy: events on directories are always ignored, and events on children when the mark
    // watches children.
    (m.ignore | FAN_ONDIR) & !FAN_EVENT_ON_CHILD | (m.mask & FAN_EVENT_ON_CHILD)
}

/// What a mark makes its object interested in (Linux fsnotify_calc_mask).
fn interest(m: &Mark) -> u32 {
    if m.ignore == 0 {
        return m.mask;
    }
    let modify = if m.flags & FAN_MARK_IGNORED_SURV_MODIFY == 0 {
        FAN_MODIFY
    } else {
        0
    };
    m.mask | modify | ignore_flags(m)
}

/// Linux fsnotify_effective_ignore_mask.
fn effective_ignore(m: &Mark, ondir: bool, is_parent: bool) -> u32 {
    if m.ignore == 0 {
        return 0;
    }
    if !ondir && !is_parent {
        return m.ignore;
    }
    let ig = ignore_flags(m);
    if ondir && ig & FAN_ONDIR == 0 {
        return 0;
    }
    if is_parent && ig & FAN_EVENT_ON_CHILD == 0 {
        return 0;
    }
    ig & ALL_EVENTS
}

/// The event group `g` gets for `c` with mask `mask`.
fn build(g: &Group, c: &Ctx<'_>, mask: u32, matched: u32, perm: Option<Arc<Perm>>) -> Event {
    let (tid, tgid, tg) = match crate::kernel::block::current() {
        Some(t) => (t.tid, t.tg.tgid, Some(Arc::downgrade(&t.tg))),
        None => (0, 0, None),
    };
    let pid = if g.flags & FAN_REPORT_TID != 0 {
        tid
    } else {
        tgid
    };
    let fid_mode = g.fid_mode();
    let ondir = mask & FAN_ONDIR != 0;
    let info = if fid_mode == 0 {
        let p = c.path.as_ref();
        Info::Path(p.map_or(c.inode, |p| p.key), p.map_or(0, |p| p.mount.id))
    } else if fid_mode & FAN_REPORT_DIR_FID == 0 {
        Info::Fid(c.id)
    } else if let (true, Some((k2, new_dir, new_name))) = (mask & FAN_RENAME != 0, c.new) {
        // Linux: the old directory and name when the old directory (or the file system) is
        // watched, the new ones when the new directory (or the file system) is.
        let both = k2.is_none() && matched & MATCH_INODE != 0;
        let old = matched & (MATCH_INODE | MATCH_SB) != 0;
        let new = both || matched & (MATCH_INODE2 | MATCH_SB) != 0;
        Info::Rename {
            old: c.dir.filter(|_| old).map(|d| (d, c.name.to_vec())),
            new: new.then(|| (new_dir, new_name.to_vec())),
            child: c.child.filter(|_| fid_mode & FAN_REPORT_TARGET_FID != 0),
        }
    } else {
        let id = if c.dirent && fid_mode & FAN_REPORT_TARGET_FID != 0 {
            c.child.unwrap_or(c.id)
        } else {
            c.id
        };
        let report_child = if c.dirent {
            fid_mode & FAN_REPORT_TARGET_FID != 0
        } else {
            fid_mode & FAN_REPORT_FID != 0 && !ondir
        };
        let child = (report_child && Some(id) != c.dir).then_some(id);
        let (name_event, name) = if fid_mode & FAN_REPORT_NAME == 0 {
            (child.is_some(), &[][..])
        } else if c.dirent || !ondir {
            (true, c.name)
        } else {
            (false, &[][..])
        };
        if name_event && (!name.is_empty() || child.is_some()) {
            Info::Name {
                dir: c.dir,
                name: name.to_vec(),
                child,
            }
        } else {
            Info::Fid(id)
        }
    };
    Event {
        mask,
        pid,
        tgid,
        tg,
        info,
        path: if fid_mode == 0 { c.path.clone() } else { None },
        perm,
    }
}

fn fire(c: &Ctx<'_>) {
    for (g, mask, matched) in targets(c) {
        let ev = build(&g, c, mask, matched, None);
        g.push(ev);
    }
}

fn path_of(file: &File, st: &Stat) -> Option<PathObj> {
    match (&file.inode, &file.mount) {
        (Some(i), Some(m)) => Some(PathObj {
            inode: i.clone(),
            mount: m.clone(),
            path: file.path.clone(),
            key: key_of(st),
        }),
        _ => None,
    }
}

/// A file event (open, access, modify, close, attrib) on the object with stat `st`, reached
/// through `file` when it came through an open file, with its directory and name if known.
pub fn file_event(file: Option<&File>, st: &Stat, parent: Option<(&dyn Inode, &[u8])>, mask: u32) {
    let mask = mask & VALID_EVENTS;
    if !active() || mask == 0 {
        return;
    }
    file_ctx(file, st, parent, mask, fire);
}

fn file_ctx(
    file: Option<&File>,
    st: &Stat,
    parent: Option<(&dyn Inode, &[u8])>,
    mask: u32,
    f: impl FnOnce(&Ctx<'_>),
) {
    let is_dir = st.st_mode & S_IFMT == S_IFDIR;
    let parent = parent.filter(|(_, n)| !n.is_empty() && *n != b"." && *n != b"..");
    let pst = parent.and_then(|(p, n)| p.stat().ok().map(|s| (s, n)));
    let id = Fid::of(st);
    let c = Ctx {
        mask: if is_dir { mask | FAN_ONDIR } else { mask },
        inode: key_of(st),
        dev: st.st_dev,
        parent: pst.as_ref().map(|(s, _)| key_of(s)),
        path: file.and_then(|f| path_of(f, st)),
        id,
        child: None,
        dir: if is_dir {
            Some(id)
        } else {
            pst.as_ref().map(|(s, _)| Fid::of(s))
        },
        name: if is_dir {
            &[]
        } else {
            pst.as_ref().map_or(&[][..], |(_, n)| n)
        },
        dirent: false,
        new: None,
    };
    f(&c)
}

/// An entry event (create, delete, moved from/to) on the directory with stat `dir`, about its
/// entry `name` (the child's stat if known).
pub fn dirent_event(dir: &Stat, mask: u32, name: &[u8], child_is_dir: bool, child: Option<&Stat>) {
    let mask = mask & VALID_EVENTS;
    if !active() || mask == 0 {
        return;
    }
    let id = Fid::of(dir);
    fire(&Ctx {
        mask: if child_is_dir { mask | FAN_ONDIR } else { mask },
        inode: key_of(dir),
        dev: dir.st_dev,
        parent: None,
        path: None,
        id,
        child: child.map(Fid::of),
        dir: Some(id),
        name,
        dirent: true,
        new: None,
    });
}

/// A rename of the entry `old_name` of the directory with stat `old_dir` to `new_name` in
/// `new_dir` (the moved file's stat `moved`): one FAN_RENAME event with both names.
pub fn rename_event(
    old_dir: &Stat,
    old_name: &[u8],
    new_dir: &Stat,
    new_name: &[u8],
    moved: &Stat,
) {
    if !active() {
        return;
    }
    let is_dir = moved.st_mode & S_IFMT == S_IFDIR;
    let id = Fid::of(old_dir);
    let k2 = key_of(new_dir);
    fire(&Ctx {
        mask: if is_dir {
            FAN_RENAME | FAN_ONDIR
        } else {
            FAN_RENAME
        },
        inode: key_of(old_dir),
        dev: old_dir.st_dev,
        parent: None,
        path: None,
        id,
        child: Some(Fid::of(moved)),
        dir: Some(id),
        name: old_name,
        dirent: true,
        new: Some((
            (k2 != key_of(old_dir)).then_some(k2),
            Fid::of(new_dir),
            new_name,
        )),
    });
}

/// A self event (attrib, delete_self, move_self) on the inode with stat `st`.
pub fn self_event(st: &Stat, mask: u32) {
    let mask = mask & VALID_EVENTS;
    if !active() || mask == 0 {
        return;
    }
    let is_dir = st.st_mode & S_IFMT == S_IFDIR;
    let id = Fid::of(st);
    fire(&Ctx {
        mask: if is_dir { mask | FAN_ONDIR } else { mask },
        inode: key_of(st),
        dev: st.st_dev,
        parent: None,
        path: None,
        id,
        child: None,
        dir: is_dir.then_some(id),
        name: &[],
        dirent: false,
        new: None,
    });
}

/// The inode with key `key` is gone: its marks go.
pub fn inode_gone(key: Key) {
    if active() {
        registry().forget(Obj::Inode(key), |_| true);
    }
}

/// A permission event (FAN_OPEN_PERM, FAN_ACCESS_PERM, FAN_OPEN_EXEC_PERM) on `file`: each
/// group listening is asked in turn, higher classes first; EPERM when one denies. Blocks until
/// answered (ERESTARTSYS on a signal, the event then withdrawn).
pub fn permission(file: &File, mask: u32) -> Result<(), Errno> {
    if !active() || file.nonotify() || file.flags() & O_PATH != 0 {
        return Ok(());
    }
    let Some(inode) = &file.inode else {
        return Ok(());
    };
    let Ok(st) = inode.stat() else {
        return Ok(());
    };
    let parent = file.parent().map(|(d, n)| (d.as_ref(), n.as_slice()));
    let mut asks = Vec::new();
    file_ctx(Some(file), &st, parent, mask, |c| {
        let mut list = targets(c);
        list.retain(|(g, m, _)| m & PERM_EVENTS != 0 && g.fid_mode() == 0);
        list.sort_by_key(|(g, ..)| std::cmp::Reverse(g.priority));
        for (g, m, matched) in list {
            let p = Arc::new(Perm::default());
            let ev = build(
                &g,
                c,
                m & (PERM_EVENTS | FAN_ONDIR),
                matched,
                Some(p.clone()),
            );
            asks.push((g, ev, p));
        }
    });
    for (g, ev, p) in asks {
        if !g.push(ev) {
            // Not queued (overflow, or the listener is gone): allowed.
            continue;
        }
        let r = block_on(&[&g.answers], None, || {
            if let Some(a) = *lock(&p.answer) {
                return Some(Ok(a));
            }
            if lock(&g.state).shutdown {
                return Some(Ok(FAN_ALLOW));
            }
            None
        });
        match r {
            Ok(FAN_ALLOW) => {}
            Ok(_) => return Err(Errno::EPERM),
            Err(e) => {
                let mut st = lock(&g.state);
                st.events
                    .retain(|e| !e.perm.as_ref().is_some_and(|q| Arc::ptr_eq(q, &p)));
                st.access.retain(|(_, q)| !Arc::ptr_eq(q, &p));
                return Err(e);
            }
        }
    }
    Ok(())
}

/// A file opened for exec (the program or its interpreter): FAN_OPEN_EXEC_PERM, then
/// FAN_OPEN_PERM, then FAN_OPEN | FAN_OPEN_EXEC (Linux fsnotify_open_perm and fsnotify_open
/// with FMODE_EXEC). Only fanotify hears it: the sentry's inotify reports no exec opens.
pub fn exec_opened(file: &File) -> Result<(), Errno> {
    if !active() {
        return Ok(());
    }
    let refused =
        permission(file, FAN_OPEN_EXEC_PERM).and_then(|_| permission(file, FAN_OPEN_PERM));
    if let Err(e) = refused {
        file.set_nonotify();
        return Err(e);
    }
    if let (Some(_), Ok(st)) = (&file.inode, file.stat()) {
        let parent = file.parent().map(|(d, n)| (d.as_ref(), n.as_slice()));
        file_event(Some(file), &st, parent, FAN_OPEN | FAN_OPEN_EXEC);
    }
    Ok(())
}

/// Memory is short (a write to /proc/sys/vm/drop_caches): evictable inode marks go, as the
/// inodes they are on would be evicted.
pub fn drop_caches() {
    if !active() {
        return;
    }
    let mut reg = registry();
    let objs: Vec<Obj> = reg
        .marks
        .iter()
        .filter(|(o, l)| {
            matches!(o, Obj::Inode(_)) && l.iter().any(|m| m.flags & FAN_MARK_EVICTABLE != 0)
        })
        .map(|(o, _)| *o)
        .collect();
    for o in objs {
        reg.forget(o, |m| m.flags & FAN_MARK_EVICTABLE != 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_checks_follow_linux() {
        let e = |flags, ef| init(0, true, 1, flags, ef).err();
        assert_eq!(e(FAN_REPORT_NAME, 0), Some(Errno::EINVAL));
        assert_eq!(
            e(FAN_REPORT_FID | FAN_CLASS_CONTENT, 0),
            Some(Errno::EINVAL)
        );
        assert_eq!(e(FAN_REPORT_PIDFD | FAN_REPORT_TID, 0), Some(Errno::EINVAL));
        assert_eq!(e(0, O_ACCMODE), Some(Errno::EINVAL));
        assert_eq!(e(0x8000_0000, 0), Some(Errno::EINVAL));
        assert_eq!(
            init(0, false, 1, 0, 0).err(),
            Some(Errno::EPERM),
            "classic mode needs CAP_SYS_ADMIN"
        );
        assert!(init(0, false, 1, FAN_REPORT_FID, 0).is_ok());
    }

    #[test]
    fn mark_checks_follow_linux() {
        assert_eq!(check_mark(FAN_MARK_ADD, 0).err(), Some(Errno::EINVAL));
        assert_eq!(check_mark(FAN_MARK_ADD, 1 << 32).err(), Some(Errno::EINVAL));
        assert_eq!(
            check_mark(FAN_MARK_ADD | FAN_MARK_REMOVE, 1).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(
            check_mark(FAN_MARK_FLUSH | FAN_MARK_ONLYDIR, 0).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(
            check_mark(FAN_MARK_ADD | FAN_MARK_IGNORE | FAN_MARK_IGNORED_MASK, 1).err(),
            Some(Errno::EINVAL)
        );
        let a = check_mark(
            FAN_MARK_ADD | FAN_MARK_IGNORED_MASK,
            u64::from(FAN_OPEN | FAN_ONDIR),
        );
        assert_eq!(a.map(|a| a.mask), Ok(FAN_OPEN));
    }

    #[test]
    fn fid_records_are_padded() {
        assert_eq!(fid_record_len(0), 32);
        assert_eq!(fid_record_len(1), 36);
        assert_eq!(fid_record_len(3), 36);
        assert_eq!(fid_record_len(4), 40);
    }
}
