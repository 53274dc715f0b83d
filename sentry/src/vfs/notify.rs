// SPDX-License-Identifier: Apache-2.0
//! File change notification: inotify(7) instances and dnotify (fcntl F_NOTIFY) marks on inodes,
//! and the events the VFS reports to them (Linux `fs/notify`, gVisor `vfs/inotify.go`).
//!
//! A watch is a *mark* on an inode, keyed by the inode's identity `(st_dev, st_ino)` ([`Key`]):
//! tmpfs, overlay (whose numbers survive copy-up) and gofer inodes all keep theirs for life, and
//! the same file reached by two paths or two inode objects is one key. Marks live in one
//! registry; while it is empty ([`active`] is false) every hook returns at once, without even
//! a stat.
//!
//! The hooks follow Linux's `include/linux/fsnotify.h`:
//! - *file events* ([`file_event`], through `File::notify` and the attribute calls):
//!   IN_OPEN, IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_*: to the file's own marks (no name)
//!   and to its directory's marks with its name, the directory's first;
//! - *entry events* ([`created`], [`unlinked`], [`renamed`], [`linked`]): IN_CREATE,
//!   IN_DELETE, IN_MOVED_FROM/TO to the directory, with the name;
//! - *self events*: IN_ATTRIB for a link count change, IN_MOVE_SELF, IN_DELETE_SELF (then the
//!   marks go, each inotify watch with IN_IGNORED).
//!
//! Divergence: Linux reports IN_DELETE_SELF when the last link is gone *and* the last open
//! file is closed; here it comes with the removal of the last link. Renaming a file does not
//! rename its open descriptions' view of their directory: events from a file opened before a
//! rename are reported to its old directory under its old name.
//!
//! Lock order: the registry, then an instance's state, then wait queues. Signals for dnotify
//! are sent after the registry is released.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::path::Resolved;
use super::{File, Inode, SetAttr};
use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::lock;
use crate::kernel::tree::ThreadGroup;

/// An inode's identity: `(st_dev, st_ino)`.
pub type Key = (u64, u64);

/// The key of the file with stat `st`.
pub fn key_of(st: &Stat) -> Key {
    (st.st_dev, st.st_ino)
}

/// /proc/sys/fs/inotify/max_user_instances.
pub static MAX_USER_INSTANCES: AtomicU64 = AtomicU64::new(128);
/// /proc/sys/fs/inotify/max_user_watches.
pub static MAX_USER_WATCHES: AtomicU64 = AtomicU64::new(65536);
/// /proc/sys/fs/inotify/max_queued_events (read when an instance is made, as Linux does).
pub static MAX_QUEUED_EVENTS: AtomicU64 = AtomicU64::new(16384);

/// dnotify's DN_RENAME as an event bit (Linux FS_DN_RENAME): a rename within one directory.
/// Never reported to inotify.
const EV_DN_RENAME: u32 = 0x0800_0000;

/// The event bits an inotify read reports.
const REPORTED: u32 = IN_ALL_EVENTS | IN_ISDIR | IN_UNMOUNT | IN_IGNORED | IN_Q_OVERFLOW;

/// Every bit inotify_add_watch knows (Linux ALL_INOTIFY_BITS).
const ALL_INOTIFY_BITS: u32 = IN_ALL_EVENTS
    | IN_UNMOUNT
    | IN_Q_OVERFLOW
    | IN_IGNORED
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
    | IN_MASK_ADD
    | IN_MASK_CREATE
    | IN_ISDIR
    | IN_ONESHOT;

/// Number of marks in the registry: the hooks' fast path.
static MARKS: AtomicUsize = AtomicUsize::new(0);

/// Number of dnotify marks: what a closing file checks before looking for its own.
static DNOTIFY_MARKS: AtomicUsize = AtomicUsize::new(0);

/// Whether any watch exists (inotify, dnotify or fanotify); every hook checks this first.
pub fn active() -> bool {
    MARKS.load(Ordering::Relaxed) != 0 || super::fanotify::active()
}

/// Who a mark reports to.
enum Target {
    /// An inotify watch.
    Inotify { inst: Weak<Instance>, wd: i32 },
    /// A dnotify registration: signal the process that made it, naming `fd`.
    Dnotify {
        file_id: u64,
        fd: i32,
        /// The description, for its F_SETSIG signal when an event comes.
        file: Weak<File>,
        tg: Weak<ThreadGroup>,
    },
}

/// A watch on one inode.
struct Mark {
    target: Target,
    /// Inotify: the IN_* mask with its flags. Dnotify: the IN_* events wanted (plus
    /// [`EV_DN_RENAME`] and DN_MULTISHOT).
    mask: u32,
    /// Whether the watched inode is a directory (IN_ONLYDIR was checked; dnotify only).
    is_dir: bool,
}

#[derive(Default)]
struct Registry {
    marks: HashMap<Key, Vec<Mark>>,
    /// Live inotify instances by the id of their file description.
    instances: HashMap<u64, Weak<Instance>>,
    /// Instances and watches per effective uid (the limits are per user).
    user_instances: HashMap<u32, u64>,
    user_watches: HashMap<u32, u64>,
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    lock(R.get_or_init(Mutex::default))
}

impl Registry {
    fn drop_watch_count(&mut self, uid: u32) {
        if let Some(n) = self.user_watches.get_mut(&uid) {
            *n = n.saturating_sub(1);
        }
    }

    /// Removes the marks on `key` for which `gone` holds, queueing IN_IGNORED for each inotify
    /// watch removed when `ignored` is set.
    fn remove_marks(&mut self, key: Key, ignored: bool, mut gone: impl FnMut(&Mark) -> bool) {
        let Some(list) = self.marks.get_mut(&key) else {
            return;
        };
        let mut removed = Vec::new();
        let mut i = 0;
        while i < list.len() {
            if gone(&list[i]) {
                removed.push(list.remove(i));
            } else {
                i += 1;
            }
        }
        if list.is_empty() {
            self.marks.remove(&key);
        }
        MARKS.fetch_sub(removed.len(), Ordering::Relaxed);
        let dn = removed
            .iter()
            .filter(|m| matches!(m.target, Target::Dnotify { .. }))
            .count();
        DNOTIFY_MARKS.fetch_sub(dn, Ordering::Relaxed);
        for m in removed {
            if let Target::Inotify { inst, wd } = m.target {
                if let Some(inst) = inst.upgrade() {
                    let mut st = lock(&inst.state);
                    st.wds.remove(&wd);
                    if ignored {
                        inst.push(&mut st, wd, IN_IGNORED, 0, &[]);
                    }
                    drop(st);
                    inst.queue.notify_all();
                    self.drop_watch_count(inst.uid);
                }
            }
        }
    }
}

/// One queued event.
#[derive(PartialEq, Eq)]
struct Event {
    wd: i32,
    mask: u32,
    cookie: u32,
    name: Vec<u8>,
}

impl Event {
    /// The name field's length: NUL-terminated and padded to the event size, as Linux does.
    fn name_len(&self) -> usize {
        if self.name.is_empty() {
            0
        } else {
            (self.name.len() + 1).next_multiple_of(INOTIFY_EVENT_SIZE)
        }
    }

    fn size(&self) -> usize {
        INOTIFY_EVENT_SIZE + self.name_len()
    }
}

#[derive(Default)]
struct State {
    events: VecDeque<Event>,
    /// Bytes the queued events take when read (FIONREAD).
    bytes: usize,
    /// Watch descriptors and the inodes they watch.
    wds: BTreeMap<i32, Key>,
    last_wd: i32,
}

/// An inotify instance.
pub struct Instance {
    uid: u32,
    max_events: usize,
    state: Mutex<State>,
    queue: WaitQueue,
    ino: u64,
    /// Its file description's id, once installed.
    file_id: AtomicU64,
}

impl Instance {
    /// Queues an event, coalescing it with an identical last one, or IN_Q_OVERFLOW when the
    /// queue is full.
    fn push(&self, st: &mut State, wd: i32, mask: u32, cookie: u32, name: &[u8]) {
        let ev = if st.events.len() >= self.max_events {
            Event {
                wd: -1,
                mask: IN_Q_OVERFLOW,
                cookie: 0,
                name: Vec::new(),
            }
        } else {
            Event {
                wd,
                mask,
                cookie,
                name: name.to_vec(),
            }
        };
        if st.events.back() == Some(&ev) {
            return;
        }
        st.bytes += ev.size();
        st.events.push_back(ev);
    }
}

/// The open inotify file.
struct InotifyFile(Arc<Instance>);

impl super::FileOps for InotifyFile {
    fn is_stream(&self) -> bool {
        true
    }

    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        let inst = &self.0;
        block_on(&[&inst.queue], None, || {
            let mut st = lock(&inst.state);
            let mut used = 0;
            while let Some(ev) = st.events.front() {
                let size = ev.size();
                if used + size > buf.len() {
                    if used == 0 {
                        return Some(Err(Errno::EINVAL));
                    }
                    break;
                }
                let rec = &mut buf[used..used + size];
                rec.fill(0);
                rec[0..4].copy_from_slice(&ev.wd.to_le_bytes());
                rec[4..8].copy_from_slice(&ev.mask.to_le_bytes());
                rec[8..12].copy_from_slice(&ev.cookie.to_le_bytes());
                rec[12..16].copy_from_slice(&(ev.name_len() as u32).to_le_bytes());
                rec[16..16 + ev.name.len()].copy_from_slice(&ev.name);
                used += size;
                st.bytes -= size;
                st.events.pop_front();
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

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(crate::vfs::inode::anon_stat(self.0.ino))
    }

    fn readable_bytes(&self) -> Result<usize, Errno> {
        Ok(lock(&self.0.state).bytes)
    }

    fn poll_events(&self) -> u32 {
        if lock(&self.0.state).events.is_empty() {
            0
        } else {
            POLLIN | POLLRDNORM
        }
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.0.queue)
    }
}

impl Drop for InotifyFile {
    fn drop(&mut self) {
        let inst = &self.0;
        let mut reg = registry();
        let wds: Vec<(i32, Key)> = lock(&inst.state)
            .wds
            .iter()
            .map(|(w, k)| (*w, *k))
            .collect();
        for (wd, key) in wds {
            reg.remove_marks(key, false, |m| is_watch(m, inst, wd));
        }
        reg.instances.remove(&inst.file_id.load(Ordering::Relaxed));
        if let Some(n) = reg.user_instances.get_mut(&inst.uid) {
            *n = n.saturating_sub(1);
        }
    }
}

fn is_watch(m: &Mark, inst: &Arc<Instance>, wd: i32) -> bool {
    matches!(&m.target, Target::Inotify { inst: i, wd: w }
        if *w == wd && std::ptr::eq(i.as_ptr(), Arc::as_ptr(inst)))
}

/// inotify_init1(2): a new instance for a user with effective uid `uid` (EMFILE beyond
/// max_user_instances), as the file operations of its file; [`register`] it once its file
/// exists.
pub fn new_instance(uid: u32, ino: u64) -> Result<(Arc<Instance>, Box<dyn super::FileOps>), Errno> {
    let mut reg = registry();
    let n = reg.user_instances.entry(uid).or_default();
    if *n >= MAX_USER_INSTANCES.load(Ordering::Relaxed) {
        return Err(Errno::EMFILE);
    }
    *n += 1;
    let inst = Arc::new(Instance {
        uid,
        max_events: usize::try_from(MAX_QUEUED_EVENTS.load(Ordering::Relaxed))
            .unwrap_or(usize::MAX),
        state: Mutex::default(),
        queue: WaitQueue::default(),
        ino,
        file_id: AtomicU64::new(0),
    });
    Ok((inst.clone(), Box::new(InotifyFile(inst))))
}

/// Records that `inst` is served by the file description with id `file_id`.
pub fn register(inst: &Arc<Instance>, file_id: u64) {
    inst.file_id.store(file_id, Ordering::Relaxed);
    registry().instances.insert(file_id, Arc::downgrade(inst));
}

/// The instance behind the file description `file_id`. Linux: EINVAL for a file that is not
/// an inotify instance.
pub fn instance_of(file_id: u64) -> Result<Arc<Instance>, Errno> {
    registry()
        .instances
        .get(&file_id)
        .and_then(Weak::upgrade)
        .ok_or(Errno::EINVAL)
}

/// The lines /proc/[pid]/fdinfo shows for an inotify instance's watches (empty for other
/// files): `inotify wd:<hex> ino:<hex> sdev:<hex> mask:<hex> ignored_mask:0`, the mask with
/// IN_ONESHOT and IN_EXCL_UNLINK as set (Linux since a32e697cda27).
pub fn fdinfo(file_id: u64) -> String {
    let reg = registry();
    let Some(inst) = reg.instances.get(&file_id).and_then(Weak::upgrade) else {
        return String::new();
    };
    let wds: Vec<(i32, Key)> = lock(&inst.state)
        .wds
        .iter()
        .map(|(w, k)| (*w, *k))
        .collect();
    let mut out = String::new();
    for (wd, key) in wds {
        let mask = reg
            .marks
            .get(&key)
            .and_then(|l| l.iter().find(|m| is_watch(m, &inst, wd)))
            .map_or(0, |m| m.mask);
        out.push_str(&format!(
            "inotify wd:{wd:x} ino:{:x} sdev:{:x} mask:{mask:x} ignored_mask:0\n",
            key.1, key.0
        ));
    }
    out
}

/// Checks inotify_add_watch's mask before the path is looked up (EINVAL as Linux).
pub fn check_watch_mask(mask: u32) -> Result<(), Errno> {
    if mask & ALL_INOTIFY_BITS == 0 {
        return Err(Errno::EINVAL);
    }
    if mask & IN_MASK_ADD != 0 && mask & IN_MASK_CREATE != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// inotify_add_watch(2) on the inode with stat `st` (the caller resolved the path and checked
/// read permission): the watch descriptor, new or updated.
pub fn add_watch(inst: &Arc<Instance>, st: &Stat, mask: u32) -> Result<i32, Errno> {
    let key = key_of(st);
    let is_dir = st.st_mode & S_IFMT == S_IFDIR;
    if mask & IN_ONLYDIR != 0 && !is_dir {
        return Err(Errno::ENOTDIR);
    }
    let keep = mask & (IN_ALL_EVENTS | IN_EXCL_UNLINK | IN_ONESHOT);
    let mut reg = registry();
    if let Some(m) = reg
        .marks
        .get_mut(&key)
        .and_then(|l| l.iter_mut().find(|m| is_inst(m, inst)))
    {
        if mask & IN_MASK_CREATE != 0 {
            return Err(Errno::EEXIST);
        }
        m.mask = if mask & IN_MASK_ADD != 0 {
            m.mask | keep
        } else {
            keep
        };
        if let Target::Inotify { wd, .. } = m.target {
            return Ok(wd);
        }
    }
    let used = reg.user_watches.get(&inst.uid).copied().unwrap_or(0);
    if used >= MAX_USER_WATCHES.load(Ordering::Relaxed) {
        return Err(Errno::ENOSPC);
    }
    let wd = {
        let mut s = lock(&inst.state);
        let mut wd = s.last_wd;
        loop {
            wd = if wd == i32::MAX { 1 } else { wd + 1 };
            if !s.wds.contains_key(&wd) {
                break;
            }
        }
        s.last_wd = wd;
        s.wds.insert(wd, key);
        wd
    };
    *reg.user_watches.entry(inst.uid).or_default() += 1;
    reg.marks.entry(key).or_default().push(Mark {
        target: Target::Inotify {
            inst: Arc::downgrade(inst),
            wd,
        },
        mask: keep,
        is_dir,
    });
    MARKS.fetch_add(1, Ordering::Relaxed);
    Ok(wd)
}

fn is_inst(m: &Mark, inst: &Arc<Instance>) -> bool {
    matches!(&m.target, Target::Inotify { inst: i, .. } if std::ptr::eq(i.as_ptr(), Arc::as_ptr(inst)))
}

/// inotify_rm_watch(2): removes the watch, queueing IN_IGNORED. Linux: EINVAL for an unknown
/// watch descriptor.
pub fn rm_watch(inst: &Arc<Instance>, wd: i32) -> Result<(), Errno> {
    let mut reg = registry();
    let key = *lock(&inst.state).wds.get(&wd).ok_or(Errno::EINVAL)?;
    reg.remove_marks(key, true, |m| is_watch(m, inst, wd));
    Ok(())
}

/// fcntl(F_NOTIFY) on the directory with stat `st`, opened as `file` and descriptor `fd` by
/// the process `tg`: adds `arg`'s DN_* events to its registration there, or removes it when
/// `arg` has none. The signal is the file's F_SETSIG one when the event comes. Linux: ENOTDIR
/// on a non-directory.
pub fn dnotify(
    st: &Stat,
    file: &Arc<File>,
    fd: i32,
    tg: &Arc<ThreadGroup>,
    arg: u32,
) -> Result<(), Errno> {
    let key = key_of(st);
    let file_id = file.id;
    let mut reg = registry();
    let mine = |m: &Mark| matches!(m.target, Target::Dnotify { file_id: f, fd: d, .. } if f == file_id && d == fd);
    if arg & !DN_MULTISHOT == 0 {
        // Linux: no event bits removes the registration.
        reg.remove_marks(key, false, mine);
        return Ok(());
    }
    if st.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    let mut mask = 0;
    for (dn, ev) in [
        (DN_ACCESS, IN_ACCESS),
        (DN_MODIFY, IN_MODIFY),
        (DN_CREATE, IN_CREATE | IN_MOVED_TO),
        (DN_DELETE, IN_DELETE | IN_MOVED_FROM),
        (DN_RENAME, EV_DN_RENAME),
        (DN_ATTRIB, IN_ATTRIB),
        (DN_MULTISHOT, DN_MULTISHOT),
    ] {
        if arg & dn != 0 {
            mask |= ev;
        }
    }
    let list = reg.marks.entry(key).or_default();
    match list.iter_mut().find(|m| mine(m)) {
        // Linux: a second F_NOTIFY through the same file adds to the first.
        Some(m) => m.mask |= mask,
        None => {
            MARKS.fetch_add(1, Ordering::Relaxed);
            DNOTIFY_MARKS.fetch_add(1, Ordering::Relaxed);
            list.push(Mark {
                target: Target::Dnotify {
                    file_id,
                    fd,
                    file: Arc::downgrade(file),
                    tg: Arc::downgrade(tg),
                },
                mask,
                is_dir: true,
            })
        }
    }
    Ok(())
}

/// Drops the dnotify registrations made through the file description `file_id` (it closed).
pub fn forget_file(file_id: u64) {
    if DNOTIFY_MARKS.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut reg = registry();
    let keys: Vec<Key> = reg
        .marks
        .iter()
        .filter(|(_, l)| {
            l.iter()
                .any(|m| matches!(m.target, Target::Dnotify { file_id: f, .. } if f == file_id))
        })
        .map(|(k, _)| *k)
        .collect();
    for k in keys {
        reg.remove_marks(
            k,
            false,
            |m| matches!(m.target, Target::Dnotify { file_id: f, .. } if f == file_id),
        );
    }
}

/// A signal dnotify owes a process, sent once the registry is released.
struct Sigio {
    tg: Weak<ThreadGroup>,
    file: Weak<File>,
    fd: i32,
}

fn send_sigios(list: Vec<Sigio>) {
    if list.is_empty() {
        return;
    }
    let Some(k) = crate::kernel::block::current_kernel() else {
        return;
    };
    for s in list {
        let Some(tg) = s.tg.upgrade() else {
            continue;
        };
        // Upgraded only here, with the registry released: a last reference dropped here
        // closes the file, which takes the registry.
        let sig = s
            .file
            .upgrade()
            .map_or(0, |f| f.fsig.load(Ordering::Relaxed));
        let info = if sig <= 0 {
            crate::kernel::signal::kernel_info(SIGIO)
        } else {
            // A queued signal naming the descriptor (Linux send_sigio_to_task, POLL_MSG).
            let mut fields = [0u64; 14];
            fields[0] = u64::from(POLLIN | POLLRDNORM | POLLMSG);
            fields[1] = s.fd as u32 as u64;
            Siginfo {
                si_signo: sig,
                si_errno: 0,
                si_code: POLL_MSG,
                _pad0: 0,
                fields,
            }
        };
        crate::kernel::send_process_signal(&k, &tg, info);
    }
}

/// Reports `mask` to the marks on `key`; `name` is the child's when the marks are its
/// directory's. `unlinked` tells (lazily) whether the child has no links left, for
/// IN_EXCL_UNLINK.
fn deliver(
    reg: &mut Registry,
    key: Key,
    mask: u32,
    cookie: u32,
    name: &[u8],
    unlinked: &mut dyn FnMut() -> bool,
    sigs: &mut Vec<Sigio>,
) {
    let Some(list) = reg.marks.get_mut(&key) else {
        return;
    };
    let mut oneshots = Vec::new();
    let mut spent = Vec::new();
    for (i, m) in list.iter().enumerate() {
        match &m.target {
            Target::Inotify { inst, wd } => {
                if m.mask & mask & IN_ALL_EVENTS == 0 {
                    continue;
                }
                if !name.is_empty() && m.mask & IN_EXCL_UNLINK != 0 && unlinked() {
                    continue;
                }
                let Some(inst) = inst.upgrade() else {
                    continue;
                };
                let mut st = lock(&inst.state);
                inst.push(&mut st, *wd, mask & REPORTED, cookie, name);
                drop(st);
                inst.queue.notify_all();
                if m.mask & IN_ONESHOT != 0 {
                    oneshots.push((inst, *wd));
                }
            }
            Target::Dnotify { fd, file, tg, .. } => {
                // dnotify cares about a directory's children and the directory itself.
                if !m.is_dir || m.mask & mask & (IN_ALL_EVENTS | EV_DN_RENAME) == 0 {
                    continue;
                }
                sigs.push(Sigio {
                    tg: tg.clone(),
                    file: file.clone(),
                    fd: *fd,
                });
                if m.mask & DN_MULTISHOT == 0 {
                    spent.push(i);
                }
            }
        }
    }
    if !spent.is_empty() {
        let mut i = 0;
        list.retain(|_| {
            i += 1;
            !spent.contains(&(i - 1))
        });
        MARKS.fetch_sub(spent.len(), Ordering::Relaxed);
        DNOTIFY_MARKS.fetch_sub(spent.len(), Ordering::Relaxed);
        if list.is_empty() {
            reg.marks.remove(&key);
        }
    }
    for (inst, wd) in oneshots {
        reg.remove_marks(key, true, |m| is_watch(m, &inst, wd));
    }
}

/// What a file event is about: a file, and where it was reached from.
pub struct Subject<'a> {
    /// The file.
    pub inode: &'a dyn Inode,
    /// Its stat, if the caller has it.
    pub stat: Option<Stat>,
    /// Its directory and its name there (`None` for a root, or a name that is `.`/`..`).
    pub parent: Option<(&'a dyn Inode, &'a [u8])>,
    /// The open file it came through, if any (fanotify's path events).
    pub file: Option<&'a File>,
}

/// Reports a file event (IN_OPEN, IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_*) to the file's
/// directory (with its name) and to the file itself, as Linux's fsnotify_parent does.
pub fn file_event(s: &Subject<'_>, mask: u32) {
    if !active() || mask == 0 {
        return;
    }
    let Some(st) = s.stat.or_else(|| s.inode.stat().ok()) else {
        return;
    };
    let mask = if st.st_mode & S_IFMT == S_IFDIR {
        mask | IN_ISDIR
    } else {
        mask
    };
    let parent_key = s.parent.and_then(|(p, name)| {
        let ok = !name.is_empty() && name != b"." && name != b"..";
        ok.then(|| p.stat().ok().map(|ps| key_of(&ps)))
            .flatten()
            .map(|k| (k, name))
    });
    let mut sigs = Vec::new();
    {
        let mut reg = registry();
        let mut unlinked = || s.inode.stat().map_or(true, |st| st.st_nlink == 0);
        if let Some((pk, name)) = parent_key {
            deliver(&mut reg, pk, mask, 0, name, &mut unlinked, &mut sigs);
        }
        deliver(
            &mut reg,
            key_of(&st),
            mask,
            0,
            &[],
            &mut unlinked,
            &mut sigs,
        );
    }
    send_sigios(sigs);
    super::fanotify::file_event(s.file, &st, s.parent, mask);
}

/// The event an attribute change gives (Linux fsnotify_change); 0 for none.
pub fn attr_mask(a: &SetAttr) -> u32 {
    let mut mask = 0;
    if a.uid.is_some() || a.gid.is_some() || a.mode.is_some() {
        mask |= IN_ATTRIB;
    }
    if a.size.is_some() {
        mask |= IN_MODIFY;
    }
    match (a.atime.is_some(), a.mtime.is_some()) {
        (true, true) => mask |= IN_ATTRIB,
        (true, false) => mask |= IN_ACCESS,
        (false, true) => mask |= IN_MODIFY,
        (false, false) => {}
    }
    mask
}

/// Reports an entry event to the directory `dir` about its child `name` (with stat `child`
/// when known).
fn dir_event(
    dir: &dyn Inode,
    mask: u32,
    cookie: u32,
    name: &[u8],
    child_is_dir: bool,
    child: Option<&Stat>,
) {
    let Ok(ds) = dir.stat() else {
        return;
    };
    super::fanotify::dirent_event(&ds, mask, name, child_is_dir, child);
    let mask = if child_is_dir { mask | IN_ISDIR } else { mask };
    let mut sigs = Vec::new();
    deliver(
        &mut registry(),
        key_of(&ds),
        mask,
        cookie,
        name,
        &mut || false,
        &mut sigs,
    );
    send_sigios(sigs);
}

/// Reports an event about an inode itself (no name, not to its directory; Linux sets no
/// IN_ISDIR on these).
fn self_event(st: &Stat, mask: u32) {
    super::fanotify::self_event(st, mask);
    let mut sigs = Vec::new();
    deliver(
        &mut registry(),
        key_of(st),
        mask,
        0,
        &[],
        &mut || false,
        &mut sigs,
    );
    send_sigios(sigs);
}

/// The inode with stat `st` is gone: IN_DELETE_SELF, then every mark on it goes (IN_IGNORED).
fn removed(st: &Stat) {
    self_event(st, IN_DELETE_SELF);
    registry().remove_marks(key_of(st), true, |_| true);
    super::fanotify::inode_gone(key_of(st));
}

/// A file `name` was created in `dir` (open O_CREAT, mkdir, mknod, symlink).
pub fn created(dir: &dyn Inode, name: &[u8], is_dir: bool) {
    if active() {
        let child = if super::fanotify::active() {
            dir.lookup_stat(name).ok().map(|(_, st)| st)
        } else {
            None
        };
        dir_event(dir, IN_CREATE, 0, name, is_dir, child.as_ref());
    }
}

/// A hard link `name` to the file with stat `target` (before the link) was made in `dir`.
pub fn linked(dir: &dyn Inode, name: &[u8], target: &Stat) {
    if active() {
        self_event(target, IN_ATTRIB);
        dir_event(dir, IN_CREATE, 0, name, false, Some(target));
    }
}

/// The entry `r` (with its stat before the removal) was unlinked or, a directory, removed.
pub fn unlinked(r: &Resolved) {
    if !active() {
        return;
    }
    let Some(st) = r.stat else {
        return;
    };
    let is_dir = st.st_mode & S_IFMT == S_IFDIR;
    if !is_dir {
        self_event(&st, IN_ATTRIB);
    }
    // Linux: the inode goes (d_delete) before the directory hears of it.
    if is_dir || st.st_nlink <= 1 {
        removed(&st);
    }
    dir_event(r.parent.as_ref(), IN_DELETE, 0, &r.name, is_dir, Some(&st));
}

static COOKIE: AtomicU32 = AtomicU32::new(0);

fn new_cookie() -> u32 {
    COOKIE.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
}

/// `from` (stat `src`) was renamed to `to`, replacing a file with stat `dst` (or exchanging
/// with it, RENAME_EXCHANGE). Linux fsnotify_move, once per direction.
pub fn renamed(from: &Resolved, to: &Resolved, src: &Stat, dst: Option<&Stat>, exchange: bool) {
    if !active() || dst.is_some_and(|d| key_of(d) == key_of(src)) {
        // Linux: renaming a file onto another link of itself does nothing, and says nothing.
        return;
    }
    let one = |odir: &dyn Inode, oname: &[u8], ndir: &dyn Inode, nname: &[u8], moved: &Stat| {
        let is_dir = moved.st_mode & S_IFMT == S_IFDIR;
        let cookie = new_cookie();
        let same = match (odir.stat(), ndir.stat()) {
            (Ok(a), Ok(b)) => {
                super::fanotify::rename_event(&a, oname, &b, nname, moved);
                key_of(&a) == key_of(&b)
            }
            _ => false,
        };
        let from_mask = if same {
            IN_MOVED_FROM | EV_DN_RENAME
        } else {
            IN_MOVED_FROM
        };
        dir_event(odir, from_mask, cookie, oname, is_dir, Some(moved));
        dir_event(ndir, IN_MOVED_TO, cookie, nname, is_dir, Some(moved));
    };
    one(
        from.parent.as_ref(),
        &from.name,
        to.parent.as_ref(),
        &to.name,
        src,
    );
    match dst {
        Some(d) if exchange => {
            self_event(src, IN_MOVE_SELF);
            one(
                to.parent.as_ref(),
                &to.name,
                from.parent.as_ref(),
                &from.name,
                d,
            );
            self_event(d, IN_MOVE_SELF);
        }
        Some(d) => {
            self_event(d, IN_ATTRIB);
            self_event(src, IN_MOVE_SELF);
            if d.st_mode & S_IFMT == S_IFDIR || d.st_nlink <= 1 {
                removed(d);
            }
        }
        None => self_event(src, IN_MOVE_SELF),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::FileOps;

    fn instance(max_events: usize) -> InotifyFile {
        InotifyFile(Arc::new(Instance {
            uid: 12345,
            max_events,
            state: Mutex::default(),
            queue: WaitQueue::default(),
            ino: 1,
            file_id: AtomicU64::new(0),
        }))
    }

    fn push(f: &InotifyFile, wd: i32, mask: u32, name: &[u8]) {
        let mut st = lock(&f.0.state);
        f.0.push(&mut st, wd, mask, 0, name);
    }

    #[test]
    fn events_are_packed_with_padded_names() {
        let f = instance(16);
        push(&f, 1, IN_CREATE, b"abc");
        push(&f, 2, IN_MODIFY, b"");
        assert_eq!(f.readable_bytes(), Ok(32 + 16));
        let mut small = [0u8; 31];
        assert_eq!(f.read_stream(&mut small, true), Err(Errno::EINVAL));
        let mut buf = [0xffu8; 100];
        assert_eq!(f.read_stream(&mut buf, true), Ok(48));
        assert_eq!(&buf[0..4], &1i32.to_le_bytes());
        assert_eq!(&buf[4..8], &IN_CREATE.to_le_bytes());
        assert_eq!(&buf[12..16], &16u32.to_le_bytes());
        assert_eq!(&buf[16..32], b"abc\0\0\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(&buf[32..36], &2i32.to_le_bytes());
        assert_eq!(&buf[44..48], &0u32.to_le_bytes());
        assert_eq!(f.read_stream(&mut buf, true), Err(Errno::EAGAIN));
        assert_eq!(f.poll_events(), 0);
    }

    #[test]
    fn identical_last_events_coalesce_and_a_full_queue_overflows_once() {
        let f = instance(3);
        push(&f, 1, IN_MODIFY, b"");
        push(&f, 1, IN_MODIFY, b"");
        push(&f, 1, IN_ACCESS, b"");
        push(&f, 1, IN_MODIFY, b"");
        push(&f, 1, IN_ACCESS, b"");
        push(&f, 1, IN_MODIFY, b"");
        let masks: Vec<(i32, u32)> = lock(&f.0.state)
            .events
            .iter()
            .map(|e| (e.wd, e.mask))
            .collect();
        assert_eq!(
            masks,
            vec![
                (1, IN_MODIFY),
                (1, IN_ACCESS),
                (1, IN_MODIFY),
                (-1, IN_Q_OVERFLOW)
            ]
        );
        assert_eq!(f.poll_events(), POLLIN | POLLRDNORM);
    }

    #[test]
    fn watch_masks_are_checked() {
        assert_eq!(check_watch_mask(0), Err(Errno::EINVAL));
        assert_eq!(
            check_watch_mask(IN_OPEN | IN_MASK_ADD | IN_MASK_CREATE),
            Err(Errno::EINVAL)
        );
        assert_eq!(check_watch_mask(IN_ONESHOT), Ok(()));
        assert_eq!(attr_mask(&SetAttr::default()), 0);
        let times = SetAttr {
            mtime: Some(crate::vfs::TimeSpec::Now),
            ..Default::default()
        };
        assert_eq!(attr_mask(&times), IN_MODIFY);
    }
}
