// SPDX-License-Identifier: Apache-2.0
//! Semaphore sets: semget(2), semop(2), semtimedop(2), semctl(2) (Linux's ipc/sem.c).
//!
//! A semop applies all its operations or none: they are tried in order on a copy of the
//! values, and a caller that would block waits on the set's [`WaitQueue`] and retries after
//! every change. The operation it blocks on is recorded for GETNCNT and GETZCNT (Linux counts a
//! waiter on the semaphore of the operation that blocks it). A signal ends the wait with EINTR
//! (never restarted, as on Linux); semtimedop's timeout with EAGAIN; removing the set with
//! EIDRM.
//!
//! SEM_UNDO adjustments are kept per process (thread group) and per set, and applied when the
//! process's last thread exits. A forked child starts without any (CLONE_SYSVSEM sharing is not
//! kept: each process has its own list).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use syscalls::abi::*;
use syscalls::Errno;

use super::{ipcget, ipcperms, now, ns, owner_or_admin, Ns, Object, Perm, S_IRUGO, S_IWUGO};
use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::Task;

/// What one semaphore costs the memory budget (Linux's `struct sem`), and a set's header.
const SEM_COST: u64 = 64;
const SET_COST: u64 = 256;

#[derive(Clone, Copy, Default)]
struct Sem {
    val: i32,
    pid: i32,
}

/// A semaphore set.
pub struct Set {
    perm: Perm,
    sems: Vec<Sem>,
    otime: i64,
    ctime: i64,
    /// The blocked semops: (token, semaphore, waits for zero).
    waiters: Vec<(u64, u16, bool)>,
    wq: Arc<WaitQueue>,
}

impl Object for Set {
    fn perm(&self) -> &Perm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut Perm {
        &mut self.perm
    }
}

impl Drop for Set {
    fn drop(&mut self) {
        crate::limits::memory().release(SET_COST + self.sems.len() as u64 * SEM_COST);
        self.wq.notify_all();
    }
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// Implements semget(2).
pub fn semget(t: &Task, key: i32, nsems: i32, flags: u32) -> Result<i32, Errno> {
    let mut ns = ns();
    let [semmsl, semmns, _, semmni] = ns.limits.sem;
    if nsems < 0 || nsems as u64 > semmsl {
        return Err(Errno::EINVAL);
    }
    let create = |ns: &mut Ns| {
        if nsems == 0 {
            return Err(Errno::EINVAL);
        }
        let n = nsems as u64;
        if ns.used_sems + n > semmns {
            return Err(Errno::ENOSPC);
        }
        crate::limits::memory().charge(SET_COST + n * SEM_COST, Errno::ENOMEM)?;
        let mut sems = Vec::new();
        if sems.try_reserve_exact(nsems as usize).is_err() {
            crate::limits::memory().release(SET_COST + n * SEM_COST);
            return Err(Errno::ENOMEM);
        }
        sems.resize(nsems as usize, Sem::default());
        let set = Set {
            perm: Perm::new(t, key, flags),
            sems,
            otime: 0,
            ctime: now(),
            waiters: Vec::new(),
            wq: Arc::new(WaitQueue::default()),
        };
        let id = ns.sem.add(set, semmni)?;
        ns.used_sems += n;
        Ok(id)
    };
    let more = |s: &Set| {
        if nsems as usize > s.sems.len() {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        }
    };
    ipcget(t, |ns| &mut ns.sem, &mut ns, key, flags, more, create)
}

enum Outcome {
    Done,
    Block(u16, bool),
}

/// Tries `sops` on `set` all at once (`perform_atomic_semop`).
fn try_ops(
    set: &mut Set,
    sops: &[Sembuf],
    undo: Option<&mut Vec<i32>>,
    tgid: i32,
) -> Result<Outcome, Errno> {
    let mut vals: Vec<i32> = set.sems.iter().map(|s| s.val).collect();
    for op in sops {
        let n = op.sem_num as usize;
        let cur = vals[n];
        let blocks = if op.sem_op == 0 {
            cur != 0
        } else {
            let r = cur + i32::from(op.sem_op);
            if r < 0 {
                true
            } else {
                if r > SEMVMX {
                    return Err(Errno::ERANGE);
                }
                if op.sem_flg & SEM_UNDO != 0 {
                    let adj = undo.as_ref().and_then(|u| u.get(n)).copied().unwrap_or(0)
                        - i32::from(op.sem_op);
                    if !(-SEMAEM - 1..=SEMAEM).contains(&adj) {
                        return Err(Errno::ERANGE);
                    }
                }
                vals[n] = r;
                false
            }
        };
        if blocks {
            if op.sem_flg & IPC_NOWAIT as i16 != 0 {
                return Err(Errno::EAGAIN);
            }
            return Ok(Outcome::Block(op.sem_num, op.sem_op == 0));
        }
    }
    let mut undo = undo;
    for op in sops {
        let n = op.sem_num as usize;
        set.sems[n].pid = tgid;
        if op.sem_flg & SEM_UNDO != 0 {
            if let Some(a) = undo.as_mut().and_then(|u| u.get_mut(n)) {
                *a -= i32::from(op.sem_op);
            }
        }
    }
    for (s, v) in set.sems.iter_mut().zip(vals) {
        s.val = v;
    }
    set.otime = now();
    Ok(Outcome::Done)
}

/// Implements semop(2) and semtimedop(2) (`timeout`: a relative timespec's address, or 0).
pub fn semtimedop(
    t: &Task,
    id: i32,
    sops_addr: u64,
    nsops: u64,
    timeout: u64,
) -> Result<u64, Errno> {
    let ts: Option<Timespec> = if timeout != 0 {
        Some(t.read_val(timeout)?)
    } else {
        None
    };
    let semopm = ns().limits.sem[2];
    if nsops < 1 || id < 0 {
        return Err(Errno::EINVAL);
    }
    if nsops > semopm || nsops > u64::from(u16::MAX) {
        return Err(Errno::E2BIG);
    }
    let mut sops = vec![Sembuf::default(); nsops as usize];
    t.copy_in(sops_addr, bytemuck::cast_slice_mut(&mut sops))?;
    let deadline = match ts {
        Some(ts) => {
            if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
                return Err(Errno::EINVAL);
            }
            crate::kernel::futex::deadline_after(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
        }
        None => None,
    };
    let max = sops.iter().map(|s| s.sem_num).max().unwrap_or(0);
    let undos = sops.iter().any(|s| s.sem_flg & SEM_UNDO != 0);
    let alter = sops.iter().any(|s| s.sem_op != 0);
    let tgid = t.tgid();
    let wq = {
        let mut ns = ns();
        let set = ns.sem.get(id)?;
        if usize::from(max) >= set.sems.len() {
            return Err(Errno::EFBIG);
        }
        ipcperms(t, &set.perm, if alter { S_IWUGO } else { S_IRUGO })?;
        let (wq, nsems) = (set.wq.clone(), set.sems.len());
        if undos {
            let has = ns.undo.get(&tgid).is_some_and(|m| m.contains_key(&id));
            if !has {
                crate::limits::memory().charge(nsems as u64 * 4, Errno::ENOMEM)?;
                ns.undo.entry(tgid).or_default().insert(id, vec![0; nsems]);
            }
        }
        wq
    };
    let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
    let r = block_on(&[&wq], deadline, || {
        let mut guard = ns();
        let ns = &mut *guard;
        let set = match ns.sem.get_mut(id) {
            Ok(s) if Arc::ptr_eq(&s.wq, &wq) => s,
            _ => return Some(Err(Errno::EIDRM)),
        };
        if let Err(e) = ipcperms(t, &set.perm, if alter { S_IWUGO } else { S_IRUGO }) {
            return Some(Err(e));
        }
        let undo = if undos {
            ns.undo.get_mut(&tgid).and_then(|m| m.get_mut(&id))
        } else {
            None
        };
        set.waiters.retain(|w| w.0 != token);
        match try_ops(set, &sops, undo, tgid) {
            Ok(Outcome::Done) => {
                if alter {
                    set.wq.notify_all();
                }
                Some(Ok(0))
            }
            Ok(Outcome::Block(n, zero)) => {
                set.waiters.push((token, n, zero));
                None
            }
            Err(e) => Some(Err(e)),
        }
    });
    if let Ok(set) = ns().sem.get_mut(id) {
        set.waiters.retain(|w| w.0 != token);
    }
    match r {
        Err(Errno::ERESTARTSYS) => Err(Errno::EINTR),
        Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
        r => r,
    }
}

/// Forgets the SEM_UNDO adjustments of semaphore `num` (all with `None`) of set `id`.
fn clear_undo(ns: &mut Ns, id: i32, num: Option<usize>) {
    for m in ns.undo.values_mut() {
        if let Some(u) = m.get_mut(&id) {
            match num {
                Some(n) => {
                    if let Some(a) = u.get_mut(n) {
                        *a = 0;
                    }
                }
                None => u.iter_mut().for_each(|a| *a = 0),
            }
        }
    }
}

fn stat_of(s: &Set) -> SemidDs {
    SemidDs {
        sem_perm: s.perm.abi(s.perm.seq),
        sem_otime: s.otime,
        sem_ctime: s.ctime,
        sem_nsems: s.sems.len() as u64,
        ..Default::default()
    }
}

/// Implements semctl(2); `arg` is the union semun passed by value.
pub fn semctl(t: &Task, id: i32, num: i32, cmd: i32, arg: u64) -> Result<u64, Errno> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    let tgid = t.tgid();
    match cmd {
        IPC_INFO | SEM_INFO => {
            let (info, max_idx) = {
                let ns = ns();
                let [semmsl, semmns, semopm, semmni] = ns.limits.sem;
                let mut info = Seminfo {
                    semmni: semmni as i32,
                    semmns: semmns as i32,
                    semmsl: semmsl as i32,
                    semopm: semopm as i32,
                    semvmx: SEMVMX,
                    semmnu: SEMMNU,
                    semmap: SEMMAP,
                    semume: SEMUME,
                    semusz: SEMUSZ,
                    semaem: SEMAEM,
                };
                if cmd == SEM_INFO {
                    info.semusz = ns.sem.in_use() as i32;
                    info.semaem = ns.used_sems as i32;
                }
                (info, ns.sem.max_idx())
            };
            t.write_val(arg, &info)?;
            Ok(max_idx.max(0) as u64)
        }
        IPC_STAT | SEM_STAT | SEM_STAT_ANY => {
            let (ret, ds) = {
                let ns = ns();
                let (ret, s) = if cmd == IPC_STAT {
                    (0, ns.sem.get(id)?)
                } else {
                    let (sid, s) = ns.sem.at_index(id)?;
                    (sid as u64, s)
                };
                if cmd != SEM_STAT_ANY {
                    ipcperms(t, &s.perm, S_IRUGO)?;
                }
                (ret, stat_of(s))
            };
            t.write_val(arg, &ds)?;
            Ok(ret)
        }
        GETALL => {
            let vals: Vec<u16> = {
                let ns = ns();
                let s = ns.sem.get(id)?;
                ipcperms(t, &s.perm, S_IRUGO)?;
                s.sems.iter().map(|x| x.val as u16).collect()
            };
            t.copy_out(arg, bytemuck::cast_slice(&vals))?;
            Ok(0)
        }
        SETALL => {
            let (nsems, wq) = {
                let ns = ns();
                let s = ns.sem.get(id)?;
                ipcperms(t, &s.perm, S_IWUGO)?;
                (s.sems.len(), s.wq.clone())
            };
            let mut vals = vec![0u16; nsems];
            t.copy_in(arg, bytemuck::cast_slice_mut(&mut vals))?;
            if vals.iter().any(|v| i32::from(*v) > SEMVMX) {
                return Err(Errno::ERANGE);
            }
            let mut ns = ns();
            match ns.sem.get_mut(id) {
                Ok(s) if Arc::ptr_eq(&s.wq, &wq) => {
                    for (x, v) in s.sems.iter_mut().zip(vals) {
                        x.val = i32::from(v);
                        x.pid = tgid;
                    }
                    s.ctime = now();
                    s.wq.notify_all();
                }
                _ => return Err(Errno::EIDRM),
            }
            clear_undo(&mut ns, id, None);
            Ok(0)
        }
        GETVAL | GETPID | GETNCNT | GETZCNT => {
            let ns = ns();
            let s = ns.sem.get(id)?;
            ipcperms(t, &s.perm, S_IRUGO)?;
            let n = usize::try_from(num)
                .ok()
                .filter(|n| *n < s.sems.len())
                .ok_or(Errno::EINVAL)?;
            let count = |zero: bool| {
                s.waiters
                    .iter()
                    .filter(|w| usize::from(w.1) == n && w.2 == zero)
                    .count() as u64
            };
            Ok(match cmd {
                GETVAL => s.sems[n].val as u64,
                GETPID => s.sems[n].pid as u64,
                GETNCNT => count(false),
                _ => count(true),
            })
        }
        SETVAL => {
            let val = arg as i32;
            if !(0..=SEMVMX).contains(&val) {
                return Err(Errno::ERANGE);
            }
            let mut ns = ns();
            let s = ns.sem.get_mut(id)?;
            let n = usize::try_from(num)
                .ok()
                .filter(|n| *n < s.sems.len())
                .ok_or(Errno::EINVAL)?;
            ipcperms(t, &s.perm, S_IWUGO)?;
            s.sems[n] = Sem { val, pid: tgid };
            s.ctime = now();
            s.wq.notify_all();
            clear_undo(&mut ns, id, Some(n));
            Ok(0)
        }
        IPC_SET => {
            let ds: SemidDs = t.read_val(arg)?;
            let mut ns = ns();
            let s = ns.sem.get_mut(id)?;
            owner_or_admin(t, &s.perm)?;
            s.perm.set(&ds.sem_perm);
            s.ctime = now();
            Ok(0)
        }
        IPC_RMID => {
            let set = {
                let mut ns = ns();
                owner_or_admin(t, &ns.sem.get(id)?.perm)?;
                let set = ns.sem.remove(id);
                if let Some(s) = &set {
                    ns.used_sems = ns.used_sems.saturating_sub(s.sems.len() as u64);
                }
                for m in ns.undo.values_mut() {
                    if let Some(u) = m.remove(&id) {
                        crate::limits::memory().release(u.len() as u64 * 4);
                    }
                }
                set
            };
            drop(set);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// A process ends: its SEM_UNDO adjustments are applied (`exit_sem`).
pub fn exit_process(tgid: i32) {
    let mut ns = ns();
    let Some(list) = ns.undo.remove(&tgid) else {
        return;
    };
    let list: HashMap<i32, Vec<i32>> = list;
    for (id, adj) in list {
        crate::limits::memory().release(adj.len() as u64 * 4);
        let Ok(s) = ns.sem.get_mut(id) else {
            continue;
        };
        let mut changed = false;
        for (x, a) in s.sems.iter_mut().zip(adj) {
            if a != 0 {
                x.val = (x.val + a).clamp(0, SEMVMX);
                x.pid = tgid;
                changed = true;
            }
        }
        if changed {
            s.wq.notify_all();
        }
    }
}

/// /proc/sysvipc/sem.
pub fn proc_text() -> String {
    let mut s = String::from(
        "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n",
    );
    let ns = ns();
    for (id, set) in ns.sem.iter() {
        let p = &set.perm;
        s.push_str(&format!(
            "{:10} {:10}  {:4o} {:10} {:5} {:5} {:5} {:5} {:10} {:10}\n",
            p.key,
            id,
            p.mode,
            set.sems.len(),
            p.uid,
            p.gid,
            p.cuid,
            p.cgid,
            set.otime,
            set.ctime
        ));
    }
    s
}
