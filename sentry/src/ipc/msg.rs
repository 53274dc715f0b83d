// SPDX-License-Identifier: Apache-2.0
//! Message queues: msgget(2), msgsnd(2), msgrcv(2), msgctl(2) (Linux's ipc/msg.c).
//!
//! A sender that finds no room and a receiver that finds no message wait on the queue's
//! [`WaitQueue`]; every change wakes them all and each rechecks (Linux hands a message straight
//! to a waiting receiver; the order in which waiters are served may differ, the results do
//! not). A signal ends the wait with EINTR whatever SA_RESTART says (ERESTARTNOHAND), as on
//! Linux; removing the queue wakes its waiters with EIDRM.

use std::collections::VecDeque;
use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::{ipcget, ipcperms, now, ns, owner_or_admin, Object, Perm, S_IRUGO, S_IWUGO};
use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::Task;

/// What a message costs the memory budget beyond its text (Linux's `struct msg_msg`).
const MSG_OVERHEAD: u64 = 48;

/// A message queue.
pub struct Queue {
    perm: Perm,
    msgs: VecDeque<(i64, Vec<u8>)>,
    stime: i64,
    rtime: i64,
    ctime: i64,
    cbytes: u64,
    qbytes: u64,
    lspid: i32,
    lrpid: i32,
    wq: Arc<WaitQueue>,
}

impl Object for Queue {
    fn perm(&self) -> &Perm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut Perm {
        &mut self.perm
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let n = self.msgs.len() as u64;
        crate::limits::memory().release(self.cbytes + n * MSG_OVERHEAD);
        self.wq.notify_all();
    }
}

/// A charge against the memory budget, given back when dropped (unless zeroed).
struct Charge(u64);

impl Drop for Charge {
    fn drop(&mut self) {
        crate::limits::memory().release(self.0);
    }
}

fn scopeguard(n: u64) -> Charge {
    Charge(n)
}

/// Implements msgget(2).
pub fn msgget(t: &Task, key: i32, flags: u32) -> Result<i32, Errno> {
    let mut ns = ns();
    let create = |ns: &mut super::Ns| {
        let q = Queue {
            perm: Perm::new(t, key, flags),
            msgs: VecDeque::new(),
            stime: 0,
            rtime: 0,
            ctime: now(),
            cbytes: 0,
            qbytes: ns.limits.msgmnb,
            lspid: 0,
            lrpid: 0,
            wq: Arc::new(WaitQueue::default()),
        };
        let max = ns.limits.msgmni;
        ns.msg.add(q, max)
    };
    ipcget(t, |ns| &mut ns.msg, &mut ns, key, flags, |_| Ok(()), create)
}

/// Implements msgsnd(2).
pub fn msgsnd(t: &Task, id: i32, msgp: u64, size: u64, flags: u32) -> Result<u64, Errno> {
    let mtype: i64 = t.read_val(msgp)?;
    let max = ns().limits.msgmax;
    if size > max || (size as i64) < 0 || id < 0 {
        return Err(Errno::EINVAL);
    }
    if mtype < 1 {
        return Err(Errno::EINVAL);
    }
    // The message is counted against the memory budget before it is made (root may raise
    // msgmax to 2 GiB), and given back unless a queue takes it.
    let cost = size + MSG_OVERHEAD;
    crate::limits::memory().charge(cost, Errno::ENOMEM)?;
    let mut charged = scopeguard(cost);
    let mut text = Vec::new();
    text.try_reserve_exact(size as usize)
        .map_err(|_| Errno::ENOMEM)?;
    text.resize(size as usize, 0);
    t.copy_in(msgp.checked_add(8).ok_or(Errno::EFAULT)?, &mut text)?;
    let wq = ns().msg.get(id)?.wq.clone();
    let mut text = Some(text);
    let tgid = t.tgid();
    let r = block_on(&[&wq], None, || {
        let mut ns = ns();
        let q = match ns.msg.get_mut(id) {
            Ok(q) if Arc::ptr_eq(&q.wq, &wq) => q,
            _ => return Some(Err(Errno::EIDRM)),
        };
        if let Err(e) = ipcperms(t, &q.perm, S_IWUGO) {
            return Some(Err(e));
        }
        if size + q.cbytes <= q.qbytes && (q.msgs.len() as u64) < q.qbytes {
            charged.0 = 0; // the queue's now
            q.msgs.push_back((mtype, text.take().unwrap_or_default()));
            q.cbytes += size;
            q.lspid = tgid;
            q.stime = now();
            q.wq.notify_all();
            ns.msg_hdrs += 1;
            ns.msg_bytes += size;
            return Some(Ok(0));
        }
        if flags & IPC_NOWAIT != 0 {
            return Some(Err(Errno::EAGAIN));
        }
        None
    });
    match r {
        Err(Errno::ERESTARTSYS) => Err(Errno::ERESTARTNOHAND),
        r => r,
    }
}

/// How msgrcv picks a message (`convert_mode`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Any,
    Equal,
    NotEqual,
    LessEqual,
    Number,
}

/// The index of the message msgrcv takes (`find_msg`).
fn find(msgs: &VecDeque<(i64, Vec<u8>)>, typ: i64, mode: Mode) -> Option<usize> {
    match mode {
        Mode::Any => (!msgs.is_empty()).then_some(0),
        Mode::Equal => msgs.iter().position(|m| m.0 == typ),
        Mode::NotEqual => msgs.iter().position(|m| m.0 != typ),
        Mode::LessEqual => {
            let mut best: Option<(usize, i64)> = None;
            for (i, m) in msgs.iter().enumerate() {
                if m.0 <= typ && best.is_none_or(|(_, b)| m.0 < b) {
                    best = Some((i, m.0));
                }
            }
            best.map(|b| b.0)
        }
        Mode::Number => usize::try_from(typ).ok().filter(|i| *i < msgs.len()),
    }
}

/// Implements msgrcv(2).
pub fn msgrcv(
    t: &Task,
    id: i32,
    msgp: u64,
    bufsz: u64,
    typ: i64,
    flags: u32,
) -> Result<u64, Errno> {
    if id < 0 || (bufsz as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MSG_COPY != 0 && (flags & MSG_EXCEPT != 0 || flags & IPC_NOWAIT == 0) {
        return Err(Errno::EINVAL);
    }
    let (mode, typ) = if flags & MSG_COPY != 0 {
        (Mode::Number, typ)
    } else if typ == 0 {
        (Mode::Any, typ)
    } else if typ < 0 {
        (Mode::LessEqual, typ.checked_neg().unwrap_or(i64::MAX))
    } else if flags & MSG_EXCEPT != 0 {
        (Mode::NotEqual, typ)
    } else {
        (Mode::Equal, typ)
    };
    let wq = ns().msg.get(id)?.wq.clone();
    let tgid = t.tgid();
    let r = block_on(&[&wq], None, || {
        let mut ns = ns();
        let q = match ns.msg.get_mut(id) {
            Ok(q) if Arc::ptr_eq(&q.wq, &wq) => q,
            _ => return Some(Err(Errno::EIDRM)),
        };
        if let Err(e) = ipcperms(t, &q.perm, S_IRUGO) {
            return Some(Err(e));
        }
        if let Some(i) = find(&q.msgs, typ, mode) {
            let len = q.msgs[i].1.len() as u64;
            if bufsz < len && flags & MSG_NOERROR == 0 {
                return Some(Err(Errno::E2BIG));
            }
            if mode == Mode::Number {
                return Some(Ok(q.msgs[i].clone()));
            }
            let m = q.msgs.remove(i)?;
            q.cbytes -= len;
            q.lrpid = tgid;
            q.rtime = now();
            q.wq.notify_all();
            crate::limits::memory().release(len + MSG_OVERHEAD);
            ns.msg_hdrs = ns.msg_hdrs.saturating_sub(1);
            ns.msg_bytes = ns.msg_bytes.saturating_sub(len);
            return Some(Ok(m));
        }
        if flags & IPC_NOWAIT != 0 {
            return Some(Err(Errno::ENOMSG));
        }
        None
    });
    let (mtype, text) = match r {
        Err(Errno::ERESTARTSYS) => return Err(Errno::ERESTARTNOHAND),
        r => r?,
    };
    let n = (bufsz as usize).min(text.len());
    t.write_val(msgp, &mtype)?;
    t.copy_out(msgp.checked_add(8).ok_or(Errno::EFAULT)?, &text[..n])?;
    Ok(n as u64)
}

fn stat_of(q: &Queue) -> MsqidDs {
    MsqidDs {
        msg_perm: q.perm.abi(q.perm.seq),
        msg_stime: q.stime,
        msg_rtime: q.rtime,
        msg_ctime: q.ctime,
        msg_cbytes: q.cbytes,
        msg_qnum: q.msgs.len() as u64,
        msg_qbytes: q.qbytes,
        msg_lspid: q.lspid,
        msg_lrpid: q.lrpid,
        ..Default::default()
    }
}

/// Implements msgctl(2).
pub fn msgctl(t: &Task, id: i32, cmd: i32, buf: u64) -> Result<u64, Errno> {
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    match cmd {
        IPC_INFO | MSG_INFO => {
            let (info, max_idx) = {
                let ns = ns();
                let l = ns.limits;
                let mut info = Msginfo {
                    msgmni: l.msgmni as i32,
                    msgmax: l.msgmax as i32,
                    msgmnb: l.msgmnb as i32,
                    msgssz: MSGSSZ,
                    msgseg: MSGSEG,
                    ..Default::default()
                };
                if cmd == MSG_INFO {
                    info.msgpool = ns.msg.in_use() as i32;
                    info.msgmap = ns.msg_hdrs as i32;
                    info.msgtql = ns.msg_bytes as i32;
                } else {
                    info.msgmap = MSGMNB as i32;
                    info.msgpool = (MSGMNI as i32) * (MSGMNB as i32 / 1024);
                    info.msgtql = MSGMNB as i32;
                }
                (info, ns.msg.max_idx())
            };
            t.write_val(buf, &info)?;
            Ok(max_idx.max(0) as u64)
        }
        IPC_STAT | MSG_STAT | MSG_STAT_ANY => {
            let (ret, ds) = {
                let ns = ns();
                let (ret, q) = if cmd == IPC_STAT {
                    (0, ns.msg.get(id)?)
                } else {
                    let (qid, q) = ns.msg.at_index(id)?;
                    (qid as u64, q)
                };
                if cmd != MSG_STAT_ANY {
                    ipcperms(t, &q.perm, S_IRUGO)?;
                }
                (ret, stat_of(q))
            };
            t.write_val(buf, &ds)?;
            Ok(ret)
        }
        IPC_SET => {
            let ds: MsqidDs = t.read_val(buf)?;
            let mut ns = ns();
            let mnb = ns.limits.msgmnb;
            let q = ns.msg.get_mut(id)?;
            owner_or_admin(t, &q.perm)?;
            if ds.msg_qbytes > mnb && !super::capable(t, CAP_SYS_RESOURCE) {
                return Err(Errno::EPERM);
            }
            q.qbytes = ds.msg_qbytes;
            q.perm.set(&ds.msg_perm);
            q.ctime = now();
            // A bigger queue may take a waiting sender's message.
            q.wq.notify_all();
            Ok(0)
        }
        IPC_RMID => {
            let q = {
                let mut ns = ns();
                let q = ns.msg.get(id)?;
                owner_or_admin(t, &q.perm)?;
                let q = ns.msg.remove(id);
                if let Some(q) = &q {
                    ns.msg_hdrs = ns.msg_hdrs.saturating_sub(q.msgs.len() as u64);
                    ns.msg_bytes = ns.msg_bytes.saturating_sub(q.cbytes);
                }
                q
            };
            // Dropped (waking its waiters) without the namespace's lock.
            drop(q);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// /proc/sysvipc/msg.
pub fn proc_text() -> String {
    let mut s = String::from(
        "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n",
    );
    let ns = ns();
    for (id, q) in ns.msg.iter() {
        let p = &q.perm;
        s.push_str(&format!(
            "{:10} {:10}  {:4o}  {:10} {:10} {:5} {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10}\n",
            p.key,
            id,
            p.mode,
            q.cbytes,
            q.msgs.len(),
            q.lspid,
            q.lrpid,
            p.uid,
            p.gid,
            p.cuid,
            p.cgid,
            q.stime,
            q.rtime,
            q.ctime
        ));
    }
    s
}
