// SPDX-License-Identifier: Apache-2.0
//! System V IPC: message queues ([`msg`]), semaphore sets ([`sem`]) and shared memory
//! segments ([`shm`]), as Linux's ipc/{util,msg,sem,shm}.c and gVisor's
//! pkg/sentry/kernel/{msgqueue,semaphore,shm}.
//!
//! One IPC namespace serves the whole sandbox (a sentry process is one sandbox, so the
//! namespace is process-wide, like the budgets of [`crate::limits`]); CLONE_NEWIPC is refused
//! with EPERM as the other namespaces but the mount namespace are. Objects are found by key or
//! by id, `seq * IPCMNI + index` as Linux numbers them (cyclic indexes, a sequence number
//! bumped when the indexes wrap), and their permissions are checked against the caller's
//! virtual credentials as Linux's `ipcperms` does.
//!
//! Everything an object holds is bounded by the namespace's limits (/proc/sys/kernel/msgmnb,
//! msgmni, sem, shmall, shmmni...) and counted against the sandbox's memory budget: message
//! bytes, semaphore arrays, and the pages of shared memory segments (host memfds the sentry
//! owns, mapped into each stub that attaches them as tmpfs files are).
//!
//! Locking: one mutex for the namespace ([`ns`]); blocking calls wait on an object's
//! [`WaitQueue`] without it, and recheck under it.

pub mod msg;
pub mod sem;
pub mod shm;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use syscalls::abi::*;
use syscalls::Errno;

use crate::kernel::{lock, Task};

/// The owner, creator and mode of an object (`struct kern_ipc_perm`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Perm {
    /// The key (IPC_PRIVATE once removed).
    pub key: i32,
    /// Owner.
    pub uid: u32,
    /// Owner's group.
    pub gid: u32,
    /// Creator.
    pub cuid: u32,
    /// Creator's group.
    pub cgid: u32,
    /// Permission bits, and SHM_DEST/SHM_LOCKED for segments.
    pub mode: u32,
    /// The id's sequence number.
    pub seq: u32,
}

impl Perm {
    fn new(t: &Task, key: i32, mode: u32) -> Perm {
        Perm {
            key,
            uid: t.creds.uid.1,
            gid: t.creds.gid.1,
            cuid: t.creds.uid.1,
            cgid: t.creds.gid.1,
            mode: mode & 0o777,
            seq: 0,
        }
    }

    /// The ABI form.
    pub fn abi(&self, seq: u32) -> Ipc64Perm {
        Ipc64Perm {
            key: self.key,
            uid: self.uid,
            gid: self.gid,
            cuid: self.cuid,
            cgid: self.cgid,
            mode: self.mode,
            seq: seq as u16,
            ..Default::default()
        }
    }

    /// IPC_SET: owner and permission bits.
    fn set(&mut self, p: &Ipc64Perm) {
        self.uid = p.uid;
        self.gid = p.gid;
        self.mode = (self.mode & !0o777) | (p.mode & 0o777);
    }
}

/// Whether the task has capability `cap`.
pub(crate) fn capable(t: &Task, cap: u32) -> bool {
    t.creds.caps & (1u64 << cap) != 0
}

/// Linux's `ipcperms`: whether the task may access `p` for `flag` (S_IRUGO, S_IWUGO... or the
/// permission bits of a get call); EACCES otherwise.
pub(crate) fn ipcperms(t: &Task, p: &Perm, flag: u32) -> Result<(), Errno> {
    let requested = (flag >> 6) | (flag >> 3) | flag;
    let mut granted = p.mode;
    let euid = t.creds.uid.1;
    let in_group = |g: u32| t.creds.fsgid == g || t.creds.groups.contains(&g);
    if euid == p.cuid || euid == p.uid {
        granted >>= 6;
    } else if in_group(p.cgid) || in_group(p.gid) {
        granted >>= 3;
    }
    if requested & !granted & 0o7 != 0 && !capable(t, CAP_IPC_OWNER) {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// Linux's `ipcctl_obtain_check` after the lookup: IPC_SET and IPC_RMID are for the owner,
/// the creator or CAP_SYS_ADMIN (EPERM).
pub(crate) fn owner_or_admin(t: &Task, p: &Perm) -> Result<(), Errno> {
    let euid = t.creds.uid.1;
    if euid == p.cuid || euid == p.uid || capable(t, CAP_SYS_ADMIN) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// Read permission bits (S_IRUGO).
pub const S_IRUGO: u32 = 0o444;
/// Write permission bits (S_IWUGO).
pub const S_IWUGO: u32 = 0o222;
/// Execute permission bits (S_IXUGO).
pub const S_IXUGO: u32 = 0o111;

/// Something with a [`Perm`].
pub trait Object {
    /// The permissions.
    fn perm(&self) -> &Perm;
    /// The permissions, to change.
    fn perm_mut(&mut self) -> &mut Perm;
}

/// The objects of one kind (`struct ipc_ids`).
pub struct Ids<T> {
    objs: BTreeMap<u32, T>,
    keys: HashMap<i32, u32>,
    seq: u32,
    last_idx: i64,
    /// msg_next_id, sem_next_id, shm_next_id: the id the next object gets, or -1.
    pub next_id: i64,
}

impl<T: Object> Default for Ids<T> {
    fn default() -> Ids<T> {
        Ids {
            objs: BTreeMap::new(),
            keys: HashMap::new(),
            seq: 0,
            last_idx: -1,
            next_id: -1,
        }
    }
}

/// Sequence numbers wrap below this (Linux's `ipcid_seq_max` without extended ids).
const SEQ_MAX: u32 = i32::MAX as u32 / IPCMNI;

/// The id of the object at `idx` with sequence `seq`.
pub fn make_id(idx: u32, seq: u32) -> i32 {
    (seq * IPCMNI + idx) as i32
}

impl<T: Object> Ids<T> {
    /// How many objects there are.
    pub fn in_use(&self) -> usize {
        self.objs.len()
    }

    /// The highest index in use, or -1 (`ipc_get_maxidx`).
    pub fn max_idx(&self) -> i64 {
        self.objs.keys().next_back().map_or(-1, |i| i64::from(*i))
    }

    /// The object with this id (EINVAL: none, or a stale sequence number).
    pub fn get(&self, id: i32) -> Result<&T, Errno> {
        let id = u32::try_from(id).map_err(|_| Errno::EINVAL)?;
        let o = self.objs.get(&(id % IPCMNI)).ok_or(Errno::EINVAL)?;
        if o.perm().seq != id / IPCMNI {
            return Err(Errno::EINVAL);
        }
        Ok(o)
    }

    /// The object with this id, to change.
    pub fn get_mut(&mut self, id: i32) -> Result<&mut T, Errno> {
        let id = u32::try_from(id).map_err(|_| Errno::EINVAL)?;
        let o = self.objs.get_mut(&(id % IPCMNI)).ok_or(Errno::EINVAL)?;
        if o.perm().seq != id / IPCMNI {
            return Err(Errno::EINVAL);
        }
        Ok(o)
    }

    /// The object at index `idx` (*_STAT), with its id.
    pub fn at_index(&self, idx: i32) -> Result<(i32, &T), Errno> {
        let idx = u32::try_from(idx).map_err(|_| Errno::EINVAL)?;
        let o = self.objs.get(&idx).ok_or(Errno::EINVAL)?;
        Ok((make_id(idx, o.perm().seq), o))
    }

    /// The id of the object with `key`.
    pub fn find_key(&self, key: i32) -> Option<i32> {
        let idx = *self.keys.get(&key)?;
        let o = self.objs.get(&idx)?;
        Some(make_id(idx, o.perm().seq))
    }

    /// Adds an object (at most `max` of them: ENOSPC), returning its id (`ipc_addid`).
    pub fn add(&mut self, mut obj: T, max: u64) -> Result<i32, Errno> {
        let limit = max.min(u64::from(IPCMNI));
        if self.objs.len() as u64 >= limit {
            return Err(Errno::ENOSPC);
        }
        let (idx, seq) = if self.next_id >= 0 {
            // The id asked for, or (as Linux's idr_alloc from it) the first free index after
            // it with its sequence number; next_id is used once either way.
            let want = self.next_id as u32;
            self.next_id = -1;
            let idx = (want % IPCMNI..IPCMNI)
                .find(|i| !self.objs.contains_key(i))
                .ok_or(Errno::ENOSPC)?;
            (idx, want / IPCMNI)
        } else {
            // Cyclic: the first free index after the last one given.
            let start = (self.last_idx + 1) as u32 % IPCMNI;
            let free = (start..IPCMNI)
                .chain(0..start)
                .find(|i| !self.objs.contains_key(i))
                .ok_or(Errno::ENOSPC)?;
            if i64::from(free) <= self.last_idx {
                self.seq += 1;
                if self.seq >= SEQ_MAX {
                    self.seq = 0;
                }
            }
            self.last_idx = i64::from(free);
            (free, self.seq)
        };
        obj.perm_mut().seq = seq;
        let key = obj.perm().key;
        if key != IPC_PRIVATE {
            self.keys.insert(key, idx);
        }
        self.objs.insert(idx, obj);
        Ok(make_id(idx, seq))
    }

    /// Removes the object with this id.
    pub fn remove(&mut self, id: i32) -> Option<T> {
        self.get(id).ok()?;
        let idx = id as u32 % IPCMNI;
        let o = self.objs.remove(&idx)?;
        self.forget_key(&o, idx);
        Some(o)
    }

    fn forget_key(&mut self, o: &T, idx: u32) {
        if o.perm().key != IPC_PRIVATE && self.keys.get(&o.perm().key) == Some(&idx) {
            self.keys.remove(&o.perm().key);
        }
    }

    /// Makes the object's key IPC_PRIVATE (a segment removed while attached).
    pub fn set_private(&mut self, id: i32) {
        let idx = id as u32 % IPCMNI;
        if let Some(o) = self.objs.remove(&idx) {
            self.forget_key(&o, idx);
            let mut o = o;
            o.perm_mut().key = IPC_PRIVATE;
            self.objs.insert(idx, o);
        }
    }

    /// Every object with its id, by index.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &T)> {
        self.objs
            .iter()
            .map(|(i, o)| (make_id(*i, o.perm().seq), o))
    }
}

/// The namespace's tunables (/proc/sys/kernel).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// msgmax: the largest message.
    pub msgmax: u64,
    /// msgmnb: a new queue's capacity in bytes.
    pub msgmnb: u64,
    /// msgmni: how many queues.
    pub msgmni: u64,
    /// sem: semmsl, semmns, semopm, semmni.
    pub sem: [u64; 4],
    /// shmmax: the largest segment.
    pub shmmax: u64,
    /// shmall: pages of all segments.
    pub shmall: u64,
    /// shmmni: how many segments.
    pub shmmni: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            msgmax: u64::from(MSGMAX),
            msgmnb: u64::from(MSGMNB),
            msgmni: u64::from(MSGMNI),
            sem: [
                u64::from(SEMMSL),
                u64::from(SEMMNS),
                u64::from(SEMOPM),
                u64::from(SEMMNI),
            ],
            shmmax: SHMMAX,
            shmall: SHMALL,
            shmmni: SHMMNI,
        }
    }
}

/// The IPC namespace.
#[derive(Default)]
pub struct Ns {
    /// Tunables.
    pub limits: Limits,
    /// Message queues.
    pub msg: Ids<msg::Queue>,
    /// Semaphore sets.
    pub sem: Ids<sem::Set>,
    /// Shared memory segments.
    pub shm: Ids<shm::Seg>,
    /// SEM_UNDO adjustments: by process, by set id, one per semaphore.
    pub undo: HashMap<i32, HashMap<i32, Vec<i32>>>,
    /// Semaphores in all sets.
    pub used_sems: u64,
    /// Pages of all segments.
    pub shm_tot: u64,
    /// Messages and message bytes in all queues.
    pub msg_hdrs: u64,
    /// Bytes of all messages.
    pub msg_bytes: u64,
}

pub(crate) static NS: Mutex<Option<Ns>> = Mutex::new(None);

/// The namespace, locked.
pub fn ns() -> NsGuard {
    let mut g = lock(&NS);
    if g.is_none() {
        *g = Some(Ns::default());
    }
    NsGuard(g)
}

/// The locked namespace.
pub struct NsGuard(MutexGuard<'static, Option<Ns>>);

impl std::ops::Deref for NsGuard {
    type Target = Ns;
    fn deref(&self) -> &Ns {
        // Set by `ns()` before the guard is made.
        self.0.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for NsGuard {
    fn deref_mut(&mut self) -> &mut Ns {
        self.0.as_mut().unwrap_or_else(|| unreachable!())
    }
}

/// Seconds since the epoch, on the sandbox's clock.
pub fn now() -> i64 {
    crate::kernel::clock::realtime().tv_sec
}

/// The common part of msgget, semget and shmget (`ipcget`): the id of the object with `key`
/// after the checks, or the id `create` gives a new one.
pub(crate) fn ipcget<T: Object>(
    t: &Task,
    ids: impl Fn(&mut Ns) -> &mut Ids<T>,
    ns: &mut Ns,
    key: i32,
    flags: u32,
    more_checks: impl Fn(&T) -> Result<(), Errno>,
    create: impl FnOnce(&mut Ns) -> Result<i32, Errno>,
) -> Result<i32, Errno> {
    if key == IPC_PRIVATE {
        return create(ns);
    }
    let Some(id) = ids(ns).find_key(key) else {
        if flags & IPC_CREAT == 0 {
            return Err(Errno::ENOENT);
        }
        return create(ns);
    };
    if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 {
        return Err(Errno::EEXIST);
    }
    let o = ids(ns).get(id)?;
    more_checks(o)?;
    ipcperms(t, o.perm(), flags)?;
    Ok(id)
}

/// A process ends: its semaphore adjustments are undone.
pub fn exit_process(tgid: i32) {
    sem::exit_process(tgid);
}

/// /proc/sys/kernel files of the namespace: the text of `name`, if it is one.
pub fn sysctl_read(name: &str) -> Option<String> {
    let ns = ns();
    let l = &ns.limits;
    Some(match name {
        "msgmax" => format!("{}\n", l.msgmax),
        "msgmnb" => format!("{}\n", l.msgmnb),
        "msgmni" => format!("{}\n", l.msgmni),
        "sem" => format!("{}\t{}\t{}\t{}\n", l.sem[0], l.sem[1], l.sem[2], l.sem[3]),
        "shmmax" => format!("{}\n", l.shmmax),
        "shmall" => format!("{}\n", l.shmall),
        "shmmni" => format!("{}\n", l.shmmni),
        "msg_next_id" => format!("{}\n", ns.msg.next_id),
        "sem_next_id" => format!("{}\n", ns.sem.next_id),
        "shm_next_id" => format!("{}\n", ns.shm.next_id),
        _ => return None,
    })
}

/// Writes a /proc/sys/kernel file of the namespace (the caller checked the writer is root):
/// ints as Linux's proc_dointvec_minmax takes them, unsigned longs for shmmax and shmall.
pub fn sysctl_write(name: &str, v: &[u8]) -> Result<(), Errno> {
    let s = std::str::from_utf8(v).map_err(|_| Errno::EINVAL)?;
    let words: Vec<&str> = s.split_whitespace().collect();
    let int = |w: Option<&&str>, min: i64, max: i64| -> Result<u64, Errno> {
        let n: i64 = w.ok_or(Errno::EINVAL)?.parse().map_err(|_| Errno::EINVAL)?;
        if n < min || n > max {
            return Err(Errno::EINVAL);
        }
        Ok(n as u64)
    };
    let ulong = |w: Option<&&str>| -> Result<u64, Errno> {
        w.ok_or(Errno::EINVAL)?.parse().map_err(|_| Errno::EINVAL)
    };
    let imax = i64::from(i32::MAX);
    let mut ns = ns();
    match name {
        "msgmax" => ns.limits.msgmax = int(words.first(), 0, imax)?,
        "msgmnb" => ns.limits.msgmnb = int(words.first(), 0, imax)?,
        "msgmni" => ns.limits.msgmni = int(words.first(), 0, i64::from(IPCMNI))?,
        "shmmni" => ns.limits.shmmni = int(words.first(), 0, i64::from(IPCMNI))?,
        "shmmax" => ns.limits.shmmax = ulong(words.first())?,
        "shmall" => ns.limits.shmall = ulong(words.first())?,
        "sem" => {
            if words.len() < 4 {
                return Err(Errno::EINVAL);
            }
            let mut v = [0u64; 4];
            for (i, w) in words.iter().take(4).enumerate() {
                let n: i64 = w.parse().map_err(|_| Errno::EINVAL)?;
                v[i] = u64::try_from(n.clamp(0, imax)).unwrap_or(0);
            }
            if v[3] > u64::from(IPCMNI) {
                return Err(Errno::EINVAL);
            }
            ns.limits.sem = v;
        }
        "msg_next_id" | "sem_next_id" | "shm_next_id" => {
            let n: i64 = words
                .first()
                .ok_or(Errno::EINVAL)?
                .parse()
                .map_err(|_| Errno::EINVAL)?;
            if !(-1..=imax).contains(&n) {
                return Err(Errno::EINVAL);
            }
            match name {
                "msg_next_id" => ns.msg.next_id = n,
                "sem_next_id" => ns.sem.next_id = n,
                _ => ns.shm.next_id = n,
            }
        }
        _ => return Err(Errno::EINVAL),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct O(Perm);

    impl Object for O {
        fn perm(&self) -> &Perm {
            &self.0
        }
        fn perm_mut(&mut self) -> &mut Perm {
            &mut self.0
        }
    }

    fn obj(key: i32) -> O {
        O(Perm {
            key,
            ..Default::default()
        })
    }

    #[test]
    fn ids_are_cyclic_with_sequence_numbers() {
        let mut ids: Ids<O> = Ids::default();
        assert_eq!(ids.add(obj(7), 10), Ok(0));
        assert_eq!(ids.add(obj(0), 10), Ok(1));
        assert_eq!(ids.find_key(7), Some(0));
        assert!(ids.remove(0).is_some());
        assert_eq!(ids.find_key(7), None);
        // The next index, not the freed one.
        assert_eq!(ids.add(obj(0), 10), Ok(2));
        assert_eq!(ids.max_idx(), 2);
        assert!(ids.get(1).is_ok());
        assert_eq!(ids.get(1 + IPCMNI as i32).err(), Some(Errno::EINVAL));
        assert_eq!(ids.get(-1).err(), Some(Errno::EINVAL));
        assert_eq!(ids.add(obj(0), 2), Err(Errno::ENOSPC));
    }

    #[test]
    fn next_id_is_used_once() {
        let mut ids: Ids<O> = Ids {
            next_id: 3 * IPCMNI as i64 + 5,
            ..Default::default()
        };
        assert_eq!(ids.add(obj(0), 10), Ok(3 * IPCMNI as i32 + 5));
        assert_eq!(ids.next_id, -1);
        // Taken: the next free index, with the sequence asked for.
        ids.next_id = 5;
        assert_eq!(ids.add(obj(0), 10), Ok(6));
        assert_eq!(ids.at_index(6).map(|(id, _)| id), Ok(6));
    }

    #[test]
    fn private_key_after_removal_while_attached() {
        let mut ids: Ids<O> = Ids::default();
        let id = ids.add(obj(9), 10).unwrap_or(-1);
        ids.set_private(id);
        assert_eq!(ids.find_key(9), None);
        assert_eq!(ids.get(id).map(|o| o.perm().key).ok(), Some(IPC_PRIVATE));
    }
}
