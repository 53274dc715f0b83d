// SPDX-License-Identifier: Apache-2.0
//! Advisory file locks and leases, as Linux's fs/locks.c keeps them: flock(2) locks, POSIX
//! record locks and open-file-description (OFD) record locks of fcntl(2), and leases.
//!
//! Locks are keyed by the file's identity, (st_dev, st_ino) of the open file (cached in the
//! [`File`] the first time it is needed), so a file opened twice by path, through any file
//! system (tmpfs, overlay, the gofer's host files), has one set of locks.
//!
//! Owners, as on Linux:
//! - a flock lock and an OFD lock belong to the open file description ([`LockOwner::File`]):
//!   shared by dup and fork, released when the last reference to the description goes
//!   ([`file_released`], from `File`'s drop);
//! - a POSIX record lock belongs to the process ([`LockOwner::Process`], the thread group):
//!   not inherited by fork, and all of a process's locks on a file go when it closes *any* fd
//!   of that file ([`on_close`]) and when it exits ([`release_process`]);
//! - a lease belongs to the description that set it.
//!
//! All of it sits behind one mutex and one wait queue for the whole sandbox: locking is rare,
//! and one lock means no lock order to get wrong (a waiter for one file is woken by a change
//! to another and rechecks). The state is process-global (not per [`crate::kernel::Kernel`])
//! because a description's last reference may go on any thread; the sentry serves one sandbox.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

use super::File;
use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::lock;

/// The identity of a locked file: (st_dev, st_ino).
pub type LockKey = (u64, u64);

/// Linux's OFFSET_MAX: the largest byte offset a record lock can cover.
pub const OFFSET_MAX: u64 = i64::MAX as u64;

/// Who holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockOwner {
    /// A process (thread group id): POSIX record locks.
    Process(i32),
    /// An open file description (its [`File::id`]): flock and OFD locks, leases.
    File(u64),
}

/// One record lock: bytes `start..=end` of the file.
#[derive(Debug, Clone, Copy)]
struct RangeLock {
    owner: LockOwner,
    start: u64,
    end: u64,
    write: bool,
}

/// One flock(2) lock.
#[derive(Debug, Clone, Copy)]
struct FlockLock {
    file: u64,
    write: bool,
}

/// A lease break in progress.
#[derive(Clone, Copy)]
struct Breaking {
    /// The holder must give the lease up (true) or only downgrade it to a read lease (false).
    unlock: bool,
    /// When the lease is broken by force (`None`: lease-break-time is 0, never).
    deadline: Option<Instant>,
}

/// One lease.
#[derive(Clone)]
struct Lease {
    file: u64,
    write: bool,
    /// The description, for its F_SETOWN owner and F_SETSIG signal at a break.
    holder: Weak<File>,
    /// The fd it was set through (the si_fd of the break signal).
    fd: i32,
    breaking: Option<Breaking>,
}

impl Lease {
    /// The type F_GETLEASE reports: what the lease is being broken to, else its own.
    fn target(&self) -> i16 {
        match self.breaking {
            Some(b) if b.unlock => F_UNLCK,
            Some(_) => F_RDLCK,
            None if self.write => F_WRLCK,
            None => F_RDLCK,
        }
    }
}

/// The locks and leases of one file.
#[derive(Default)]
struct FileLocks {
    flocks: Vec<FlockLock>,
    ranges: Vec<RangeLock>,
    leases: Vec<Lease>,
}

impl FileLocks {
    fn is_empty(&self) -> bool {
        self.flocks.is_empty() && self.ranges.is_empty() && self.leases.is_empty()
    }
}

#[derive(Default)]
struct Table {
    files: HashMap<LockKey, FileLocks>,
    /// The wait-for graph of blocked F_SETLKW callers: process -> owner of the lock it waits
    /// for (Linux's blocked_hash; OFD waiters are not in it).
    blocked: HashMap<i32, LockOwner>,
}

static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(Default::default);
/// Notified whenever a lock or lease is released, changed or broken.
static QUEUE: LazyLock<WaitQueue> = LazyLock::new(WaitQueue::default);
/// Process-owned record locks held in the whole sandbox: when 0, close need not look.
static POSIX_LOCKS: AtomicUsize = AtomicUsize::new(0);
/// Leases held in the whole sandbox: when 0, open need not look.
static LEASES: AtomicUsize = AtomicUsize::new(0);
/// /proc/sys/fs/lease-break-time, in seconds.
static LEASE_BREAK_TIME: AtomicU64 = AtomicU64::new(45);

/// /proc/sys/fs/lease-break-time: how long a lease holder has to give way to a conflicting
/// open before the lease is broken by force.
pub fn lease_break_time() -> u64 {
    LEASE_BREAK_TIME.load(Ordering::Relaxed)
}

/// Sets /proc/sys/fs/lease-break-time.
pub fn set_lease_break_time(secs: u64) {
    LEASE_BREAK_TIME.store(secs, Ordering::Relaxed);
}

fn table() -> std::sync::MutexGuard<'static, Table> {
    lock(&TABLE)
}

/// Recounts the fast-path counters after a change to `fl` (old counts `before`).
fn recount(before: (usize, usize), fl: &FileLocks) {
    let posix = fl
        .ranges
        .iter()
        .filter(|r| matches!(r.owner, LockOwner::Process(_)))
        .count();
    let leases = fl.leases.len();
    adjust(&POSIX_LOCKS, before.0, posix);
    adjust(&LEASES, before.1, leases);
}

fn counts(fl: &FileLocks) -> (usize, usize) {
    let posix = fl
        .ranges
        .iter()
        .filter(|r| matches!(r.owner, LockOwner::Process(_)))
        .count();
    (posix, fl.leases.len())
}

fn adjust(c: &AtomicUsize, before: usize, after: usize) {
    if after > before {
        c.fetch_add(after - before, Ordering::Relaxed);
    } else if before > after {
        c.fetch_sub(before - after, Ordering::Relaxed);
    }
}

/// Runs `f` on the locks of `key` (created if absent, dropped again when left empty), keeping
/// the counters right.
fn with_file<R>(t: &mut Table, key: LockKey, f: impl FnOnce(&mut FileLocks) -> R) -> R {
    let fl = t.files.entry(key).or_default();
    let before = counts(fl);
    let r = f(fl);
    recount(before, fl);
    if fl.is_empty() {
        t.files.remove(&key);
    }
    r
}

/// The identity of `file` for locking (cached in the description).
pub fn key_of(file: &File) -> Result<LockKey, Errno> {
    if let Some(k) = file.lock_key.get() {
        return Ok(*k);
    }
    let st = file.stat()?;
    let k = (st.st_dev, st.st_ino);
    let _ = file.lock_key.set(k);
    Ok(k)
}

/// Whether two locks conflict: either is a write lock.
fn conflicts(a_write: bool, b_write: bool) -> bool {
    a_write || b_write
}

// ---------------------------------------------------------------------------------------
// flock(2)

/// flock(2) on `file`: LOCK_SH, LOCK_EX or LOCK_UN (the caller checked), blocking unless
/// `nonblock`. As on Linux, converting a lock first drops the old one (the conversion is not
/// atomic), so a failed LOCK_NB conversion leaves no lock.
pub fn flock(file: &File, op: u32, nonblock: bool) -> Result<(), Errno> {
    let key = key_of(file)?;
    file.mark_lock_owner();
    let id = file.id;
    if op == LOCK_UN {
        let mut t = table();
        let had = with_file(&mut t, key, |fl| {
            let n = fl.flocks.len();
            fl.flocks.retain(|l| l.file != id);
            n != fl.flocks.len()
        });
        drop(t);
        if had {
            QUEUE.notify_all();
        }
        return Ok(());
    }
    let write = op == LOCK_EX;
    {
        let mut t = table();
        let mut dropped = false;
        let r = with_file(&mut t, key, |fl| {
            if let Some(i) = fl.flocks.iter().position(|l| l.file == id) {
                if fl.flocks[i].write == write {
                    return Some(());
                }
                fl.flocks.remove(i);
                dropped = true;
            }
            None
        });
        drop(t);
        if dropped {
            QUEUE.notify_all();
        }
        if r.is_some() {
            return Ok(());
        }
    }
    let attempt = || {
        let mut t = table();
        with_file(&mut t, key, |fl| {
            if fl
                .flocks
                .iter()
                .any(|l| l.file != id && conflicts(l.write, write))
            {
                return false;
            }
            fl.flocks.push(FlockLock { file: id, write });
            true
        })
    };
    if nonblock {
        return if attempt() {
            Ok(())
        } else {
            Err(Errno::EWOULDBLOCK)
        };
    }
    block_on(&[&QUEUE], None, || attempt().then_some(Ok(())))
}

// ---------------------------------------------------------------------------------------
// Record locks (POSIX and OFD)

/// A record lock request, decoded from a `struct flock`: bytes `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// Last byte (OFFSET_MAX: to the end of any file).
    pub end: u64,
}

/// Decodes l_whence/l_start/l_len into a byte range as Linux's flock_to_posix_lock: EINVAL for
/// a bad whence or a range starting before 0, EOVERFLOW for one past OFFSET_MAX. `pos` is the
/// file position (SEEK_CUR), `size` the file size (SEEK_END).
pub fn decode_range(fl: &Flock, pos: u64, size: u64) -> Result<Range, Errno> {
    let base: i64 = match fl.l_whence as u32 {
        SEEK_SET => 0,
        SEEK_CUR => pos as i64,
        SEEK_END => size as i64,
        _ => return Err(Errno::EINVAL),
    };
    let max = OFFSET_MAX as i64;
    if fl.l_start > max - base {
        return Err(Errno::EOVERFLOW);
    }
    if fl.l_start < -base {
        return Err(Errno::EINVAL);
    }
    let mut start = base + fl.l_start;
    let end;
    if fl.l_len > 0 {
        if fl.l_len - 1 > max - start {
            return Err(Errno::EOVERFLOW);
        }
        end = start + (fl.l_len - 1);
    } else if fl.l_len < 0 {
        if start.checked_add(fl.l_len).is_none_or(|s| s < 0) {
            return Err(Errno::EINVAL);
        }
        end = start - 1;
        start += fl.l_len;
    } else {
        end = max;
    }
    Ok(Range {
        start: start as u64,
        end: end as u64,
    })
}

/// A conflicting lock, as F_GETLK reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    /// F_RDLCK or F_WRLCK.
    pub l_type: i16,
    /// Its range.
    pub range: Range,
    /// Its owner.
    pub owner: LockOwner,
}

fn overlaps(l: &RangeLock, r: Range) -> bool {
    l.start <= r.end && r.start <= l.end
}

fn find_conflict(fl: &FileLocks, owner: LockOwner, r: Range, write: bool) -> Option<Conflict> {
    fl.ranges
        .iter()
        .find(|l| l.owner != owner && overlaps(l, r) && conflicts(l.write, write))
        .map(|l| Conflict {
            l_type: if l.write { F_WRLCK } else { F_RDLCK },
            range: Range {
                start: l.start,
                end: l.end,
            },
            owner: l.owner,
        })
}

/// F_GETLK/F_OFD_GETLK: the first lock of another owner that would block a `write` (or read)
/// lock of `owner` on `r`.
pub fn test_lock(
    file: &File,
    owner: LockOwner,
    r: Range,
    write: bool,
) -> Result<Option<Conflict>, Errno> {
    let key = key_of(file)?;
    let t = table();
    Ok(t.files
        .get(&key)
        .and_then(|fl| find_conflict(fl, owner, r, write)))
}

/// Replaces `owner`'s locks on `r` by one of type `l_type` (F_UNLCK: none), merging it with
/// the owner's adjacent and overlapping locks of the same type and splitting those of the
/// other type, as posix_lock_inode does.
fn apply(fl: &mut FileLocks, owner: LockOwner, r: Range, l_type: i16) {
    let write = l_type == F_WRLCK;
    let (mut start, mut end) = (r.start, r.end);
    let mut kept = Vec::with_capacity(fl.ranges.len() + 2);
    let mut insert_at = None;
    for l in fl.ranges.drain(..) {
        if l.owner != owner {
            kept.push(l);
            continue;
        }
        let adjacent = l.start <= r.end.saturating_add(1) && r.start <= l.end.saturating_add(1);
        if l_type != F_UNLCK && l.write == write && adjacent {
            // Same type, touching or overlapping: absorb it.
            start = start.min(l.start);
            end = end.max(l.end);
            insert_at.get_or_insert(kept.len());
            continue;
        }
        if !overlaps(&l, r) {
            kept.push(l);
            continue;
        }
        insert_at.get_or_insert(kept.len());
        if l.start < r.start {
            kept.push(RangeLock {
                end: r.start - 1,
                ..l
            });
        }
        if l.end > r.end {
            kept.push(RangeLock {
                start: r.end + 1,
                ..l
            });
        }
    }
    if l_type != F_UNLCK {
        let new = RangeLock {
            owner,
            start,
            end,
            write,
        };
        // Keep an owner's locks together and in order, as Linux's list is.
        let at = kept
            .iter()
            .position(|l| l.owner == owner && l.start > start)
            .or_else(|| kept.iter().rposition(|l| l.owner == owner).map(|i| i + 1))
            .or(insert_at)
            .unwrap_or(kept.len());
        kept.insert(at.min(kept.len()), new);
    }
    fl.ranges = kept;
}

/// Whether `me` waiting for `blocker` would close a cycle of waiting processes
/// (posix_locks_deadlock).
fn deadlock(t: &Table, me: i32, blocker: LockOwner) -> bool {
    let mut cur = blocker;
    for _ in 0..10 {
        let LockOwner::Process(p) = cur else {
            return false;
        };
        if p == me {
            return true;
        }
        match t.blocked.get(&p) {
            Some(next) => cur = *next,
            None => return false,
        }
    }
    false
}

/// F_SETLK(W)/F_OFD_SETLK(W): sets `owner`'s lock of `l_type` on `r`. With `wait`, blocks
/// (interruptibly) while another owner's lock conflicts, failing with EDEADLK when a POSIX
/// owner would wait for itself; without, fails with EAGAIN.
pub fn set_lock(
    file: &File,
    owner: LockOwner,
    r: Range,
    l_type: i16,
    wait: bool,
) -> Result<(), Errno> {
    let key = key_of(file)?;
    if matches!(owner, LockOwner::File(_)) {
        file.mark_lock_owner();
    }
    let write = l_type == F_WRLCK;
    let me = match owner {
        LockOwner::Process(p) => Some(p),
        LockOwner::File(_) => None,
    };
    // One attempt: Ok(true) set, Ok(false) must wait.
    let attempt = || -> Result<bool, Errno> {
        let mut t = table();
        if l_type != F_UNLCK {
            let conflict = t
                .files
                .get(&key)
                .and_then(|fl| find_conflict(fl, owner, r, write));
            if let Some(c) = conflict {
                if !wait {
                    return Err(Errno::EAGAIN);
                }
                if let Some(me) = me {
                    if deadlock(&t, me, c.owner) {
                        return Err(Errno::EDEADLK);
                    }
                    t.blocked.insert(me, c.owner);
                }
                return Ok(false);
            }
        }
        if let Some(me) = me {
            t.blocked.remove(&me);
        }
        with_file(&mut t, key, |fl| apply(fl, owner, r, l_type));
        Ok(true)
    };
    let r = if wait {
        block_on(&[&QUEUE], None, || match attempt() {
            Ok(false) => None,
            Ok(true) => Some(Ok(())),
            Err(e) => Some(Err(e)),
        })
    } else {
        attempt().map(|_| ())
    };
    if let Some(me) = me {
        table().blocked.remove(&me);
    }
    // Whatever changed (an unlock, a downgrade, a split), waiters recheck.
    if r.is_ok() {
        QUEUE.notify_all();
    }
    r
}

/// The POSIX rule: a process closing any fd of a file loses all its record locks on it.
pub fn on_close(tgid: i32, file: &File) {
    file.ops.flush(tgid);
    if POSIX_LOCKS.load(Ordering::Relaxed) == 0
        || file.inode.is_none() && file.lock_key.get().is_none()
    {
        return;
    }
    let Ok(key) = key_of(file) else {
        return;
    };
    let mut t = table();
    if !t.files.contains_key(&key) {
        return;
    }
    let owner = LockOwner::Process(tgid);
    let had = with_file(&mut t, key, |fl| {
        let n = fl.ranges.len();
        fl.ranges.retain(|l| l.owner != owner);
        n != fl.ranges.len()
    });
    drop(t);
    if had {
        QUEUE.notify_all();
    }
}

/// A process has exited: its record locks go.
pub fn release_process(tgid: i32) {
    if POSIX_LOCKS.load(Ordering::Relaxed) == 0 {
        table().blocked.remove(&tgid);
        return;
    }
    let owner = LockOwner::Process(tgid);
    let mut t = table();
    t.blocked.remove(&tgid);
    let keys: Vec<LockKey> = t
        .files
        .iter()
        .filter(|(_, fl)| fl.ranges.iter().any(|l| l.owner == owner))
        .map(|(k, _)| *k)
        .collect();
    for key in &keys {
        with_file(&mut t, *key, |fl| fl.ranges.retain(|l| l.owner != owner));
    }
    drop(t);
    if !keys.is_empty() {
        QUEUE.notify_all();
    }
}

/// The last reference to an open file description has gone: its flock and OFD locks and its
/// lease go with it.
pub fn file_released(file: &File) {
    let Some(key) = file.lock_key.get().copied() else {
        return;
    };
    let id = file.id;
    let owner = LockOwner::File(id);
    let mut t = table();
    if !t.files.contains_key(&key) {
        return;
    }
    with_file(&mut t, key, |fl| {
        fl.flocks.retain(|l| l.file != id);
        fl.ranges.retain(|l| l.owner != owner);
        fl.leases.retain(|l| l.file != id);
    });
    drop(t);
    QUEUE.notify_all();
}

// ---------------------------------------------------------------------------------------
// Leases

/// Breaks by force the leases whose break time has passed (time_out_leases).
fn time_out_leases(fl: &mut FileLocks) -> bool {
    let now = Instant::now();
    let mut changed = false;
    fl.leases.retain_mut(|l| match l.breaking {
        Some(b) if b.deadline.is_some_and(|d| now >= d) => {
            changed = true;
            if b.unlock {
                false
            } else {
                l.write = false;
                l.breaking = None;
                true
            }
        }
        _ => true,
    });
    changed
}

/// F_GETLEASE: the lease `file` holds (F_RDLCK, F_WRLCK, or F_UNLCK for none), or the type it
/// is being broken to.
pub fn get_lease(file: &File) -> Result<i16, Errno> {
    let key = key_of(file)?;
    let mut t = table();
    if !t.files.contains_key(&key) {
        return Ok(F_UNLCK);
    }
    let id = file.id;
    let (changed, ty) = with_file(&mut t, key, |fl| {
        let changed = time_out_leases(fl);
        let ty = fl
            .leases
            .iter()
            .find(|l| l.file == id)
            .map(|l| l.target())
            .unwrap_or(F_UNLCK);
        (changed, ty)
    });
    drop(t);
    if changed {
        QUEUE.notify_all();
    }
    Ok(ty)
}

/// How a file is open, for the lease rules: readers (read-only) and writers.
#[derive(Debug, Default, Clone, Copy)]
pub struct OpenCounts {
    /// Descriptions open read-only.
    pub readers: usize,
    /// Descriptions open for writing.
    pub writers: usize,
}

/// F_SETLEASE with F_RDLCK, F_WRLCK or F_UNLCK (the caller checked the file type and
/// ownership). `opens` counts the descriptions open on the file (this one included), for
/// generic_add_lease's EAGAIN rules.
pub fn set_lease(
    file: &std::sync::Arc<File>,
    fd: i32,
    l_type: i16,
    opens: OpenCounts,
) -> Result<(), Errno> {
    let key = key_of(file)?;
    file.mark_lock_owner();
    let id = file.id;
    let mut t = table();
    let r = with_file(&mut t, key, |fl| {
        time_out_leases(fl);
        let mine = fl.leases.iter().position(|l| l.file == id);
        if l_type == F_UNLCK {
            return match mine {
                Some(i) => {
                    fl.leases.remove(i);
                    Ok(())
                }
                None => Err(Errno::EAGAIN),
            };
        }
        // check_conflicting_open.
        if l_type == F_RDLCK && opens.writers > 0 {
            return Err(Errno::EAGAIN);
        }
        if l_type == F_WRLCK {
            let self_w = usize::from(file.writable());
            let self_r = usize::from(!file.writable() && file.readable());
            if opens.writers != self_w || opens.readers != self_r {
                return Err(Errno::EAGAIN);
            }
        }
        // A writer waits for this lease to go (Linux counts the blocked opener among the
        // writers already): no downgrade to a read lease.
        if l_type == F_RDLCK
            && mine.is_some_and(|i| fl.leases[i].breaking.is_some_and(|b| b.unlock))
        {
            return Err(Errno::EAGAIN);
        }
        for (i, l) in fl.leases.iter().enumerate() {
            if Some(i) == mine {
                continue;
            }
            if l_type == F_WRLCK || l.breaking.is_some_and(|b| b.unlock) {
                return Err(Errno::EAGAIN);
            }
        }
        match mine {
            Some(i) => {
                let l = &mut fl.leases[i];
                l.write = l_type == F_WRLCK;
                l.fd = fd;
                // lease_clear_pending: a downgrade answers a downgrade request.
                if l_type == F_RDLCK && l.breaking.is_some_and(|b| !b.unlock) {
                    l.breaking = None;
                }
            }
            None => fl.leases.push(Lease {
                file: id,
                write: l_type == F_WRLCK,
                holder: std::sync::Arc::downgrade(file),
                fd,
                breaking: None,
            }),
        }
        Ok(())
    });
    drop(t);
    QUEUE.notify_all();
    r
}

/// Whether any lease is held anywhere (the fast path of open).
pub fn any_leases() -> bool {
    LEASES.load(Ordering::Relaxed) != 0
}

/// A lease holder to signal: the description and the fd it set the lease through.
pub type BreakNotice = (std::sync::Arc<File>, i32);

/// Starts breaking the leases on `key` that conflict with an open (for writing when
/// `want_write`) by description `opener` (None: a truncate), returning the holders to signal.
fn start_break(fl: &mut FileLocks, opener: Option<u64>, want_write: bool) -> Vec<BreakNotice> {
    let secs = lease_break_time();
    let deadline = (secs > 0).then(|| Instant::now() + Duration::from_secs(secs));
    let mut notices = Vec::new();
    for l in fl.leases.iter_mut() {
        if Some(l.file) == opener || !conflicts(l.write, want_write) {
            continue;
        }
        if want_write {
            if l.breaking.is_some_and(|b| b.unlock) {
                continue;
            }
            l.breaking = Some(Breaking {
                unlock: true,
                deadline,
            });
        } else {
            if l.breaking.is_some() {
                continue;
            }
            l.breaking = Some(Breaking {
                unlock: false,
                deadline,
            });
        }
        if let Some(f) = l.holder.upgrade() {
            notices.push((f, l.fd));
        }
    }
    notices
}

fn any_conflict(fl: &FileLocks, opener: Option<u64>, want_write: bool) -> bool {
    fl.leases
        .iter()
        .any(|l| Some(l.file) != opener && conflicts(l.write, want_write))
}

/// __break_lease: an open (or truncate) of file `key` for writing (`want_write`) or reading
/// must wait until conflicting leases are given up, downgraded or time out. The holders are
/// told through `notify` (their F_SETOWN owner gets SIGIO or the F_SETSIG signal). With
/// `nonblock` the break is started but the open fails with EWOULDBLOCK.
pub fn break_lease(
    key: LockKey,
    want_write: bool,
    nonblock: bool,
    notify: &dyn Fn(&BreakNotice),
) -> Result<(), Errno> {
    if !any_leases() {
        return Ok(());
    }
    let notices = {
        let mut t = table();
        if !t.files.contains_key(&key) {
            return Ok(());
        }
        with_file(&mut t, key, |fl| {
            time_out_leases(fl);
            if !any_conflict(fl, None, want_write) {
                return None;
            }
            Some(start_break(fl, None, want_write))
        })
    };
    let Some(notices) = notices else {
        return Ok(());
    };
    for n in &notices {
        notify(n);
    }
    if nonblock {
        return Err(Errno::EWOULDBLOCK);
    }
    // Wait for the holders, rechecking at the earliest forced-break time.
    loop {
        let deadline = {
            let t = table();
            let Some(fl) = t.files.get(&key) else {
                return Ok(());
            };
            fl.leases
                .iter()
                .filter_map(|l| l.breaking.and_then(|b| b.deadline))
                .min()
        };
        let r = block_on(&[&QUEUE], deadline, || {
            let t = table();
            match t.files.get(&key) {
                Some(fl) if any_conflict(fl, None, want_write) => None,
                _ => Some(Ok(())),
            }
        });
        match r {
            Ok(()) => return Ok(()),
            Err(Errno::ETIMEDOUT) => {
                let mut t = table();
                if t.files.contains_key(&key) {
                    with_file(&mut t, key, time_out_leases);
                }
                drop(t);
                QUEUE.notify_all();
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fl(whence: u32, start: i64, len: i64) -> Flock {
        Flock {
            l_type: F_RDLCK,
            l_whence: whence as i16,
            l_start: start,
            l_len: len,
            ..Default::default()
        }
    }

    #[test]
    fn ranges_decode_as_linux() {
        let r = decode_range(&fl(SEEK_SET, 10, 5), 0, 0).unwrap();
        assert_eq!((r.start, r.end), (10, 14));
        let r = decode_range(&fl(SEEK_SET, 10, 0), 0, 0).unwrap();
        assert_eq!((r.start, r.end), (10, OFFSET_MAX));
        let r = decode_range(&fl(SEEK_SET, 10, -5), 0, 0).unwrap();
        assert_eq!((r.start, r.end), (5, 9));
        assert_eq!(decode_range(&fl(SEEK_SET, 3, -5), 0, 0), Err(Errno::EINVAL));
        assert_eq!(decode_range(&fl(SEEK_SET, -1, 1), 0, 0), Err(Errno::EINVAL));
        let r = decode_range(&fl(SEEK_END, -2, 1), 0, 10).unwrap();
        assert_eq!((r.start, r.end), (8, 8));
        let r = decode_range(&fl(SEEK_CUR, 1, 1), 4, 10).unwrap();
        assert_eq!((r.start, r.end), (5, 5));
        assert_eq!(
            decode_range(&fl(SEEK_SET, i64::MAX, 2), 0, 0),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(
            decode_range(&fl(SEEK_CUR, i64::MAX, 1), 5, 0),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(decode_range(&fl(7, 0, 0), 0, 0), Err(Errno::EINVAL));
        assert!(decode_range(&fl(SEEK_SET, 0, i64::MIN), 0, 0).is_err());
    }

    #[test]
    fn apply_merges_and_splits() {
        let me = LockOwner::Process(1);
        let mut f = FileLocks::default();
        let rg = |s, e| Range { start: s, end: e };
        apply(&mut f, me, rg(0, 9), F_WRLCK);
        apply(&mut f, me, rg(10, 19), F_WRLCK);
        assert_eq!(f.ranges.len(), 1);
        assert_eq!((f.ranges[0].start, f.ranges[0].end), (0, 19));
        apply(&mut f, me, rg(5, 7), F_RDLCK);
        let mut v: Vec<_> = f.ranges.iter().map(|l| (l.start, l.end, l.write)).collect();
        v.sort();
        assert_eq!(v, vec![(0, 4, true), (5, 7, false), (8, 19, true)]);
        apply(&mut f, me, rg(0, OFFSET_MAX), F_UNLCK);
        assert!(f.ranges.is_empty());
    }
}
