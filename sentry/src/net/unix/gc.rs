// SPDX-License-Identifier: Apache-2.0
//! Descriptors in flight (SCM_RIGHTS sent and not yet received), their limit, and the
//! collection of unix sockets that only messages in flight keep alive.
//!
//! - **Limit** (Linux's `too_many_unix_fds`): a send fails with ETOOMANYREFS when the sending
//!   user already has more descriptors in flight than the sender's RLIMIT_NOFILE. Linux lets a
//!   task with CAP_SYS_RESOURCE or CAP_SYS_ADMIN past that without any limit; here such a
//!   task is held to its *hard* RLIMIT_NOFILE instead, so that no program can make the sentry
//!   hold an unbounded number of files (a root program sending within its hard limit sees
//!   Linux's behaviour).
//! - **Collection** (Linux's `unix_gc`): a socket sent over itself, or a ring of sockets each in
//!   the other's queue, whose descriptors are all closed is reachable by no one but stays
//!   alive through its own queue. Every unix socket file in flight is recorded with how many
//!   messages hold it. A socket is a *candidate* when every reference to its file is such a
//!   message; a candidate is *live* if a message in a non-candidate's queue holds it, or one in
//!   a live candidate's queue; the rest are garbage and their queues are purged, which frees
//!   them. It runs when a unix socket is released while sockets are in flight (as Linux; once
//!   for a cascade of releases), when a sender meets the limit (before refusing), and after
//!   every 1,024 sends of sockets, so garbage is both bounded (by the limit) and freed soon
//!   after it is made, and the cost of a collection (a look at every socket in flight) is
//!   spread over many sends.
//! - **Deferred drops**: closing a socket drops the files its queue holds, which may close
//!   sockets whose queues hold more files: a chain of sockets, each in the previous one's
//!   queue, would recurse once per link and overflow the stack. Files leaving a queue are
//!   dropped from a per-thread list by the outermost drop instead (as Linux's `fput` defers).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::{Sock, UnixSocket};
use crate::kernel::Task;
use crate::vfs::File;

/// CAP_SYS_RESOURCE and CAP_SYS_ADMIN.
const CAP_SYS_ADMIN: u64 = 1 << 21;
const CAP_SYS_RESOURCE: u64 = 1 << 24;

/// A send of sockets collects after this many such sends since the last collection (each
/// collection looks at every socket in flight: its cost is spread over the sends).
const TRIGGER_SENDS: usize = 1024;

#[derive(Default)]
struct Inflight {
    /// Unix socket files in flight: file id -> (the file, how many messages hold it).
    socks: HashMap<u64, (Weak<File>, usize)>,
    /// Descriptors in flight per user (real uid of the sender).
    users: HashMap<u32, usize>,
    /// Sends of sockets since the last collection.
    sends: usize,
    /// The candidates of the last collection (a digest of their ids and counts), when it
    /// found no garbage: the same candidates again cannot hold any either (their queues
    /// cannot change while nothing else holds them), so the scan of their queues is skipped.
    quiet: Option<(u64, usize)>,
}

static INFLIGHT: Mutex<Option<Inflight>> = Mutex::new(None);
/// How many unix socket files are in flight (read without the lock).
static SOCKS: AtomicUsize = AtomicUsize::new(0);
static COLLECTING: AtomicBool = AtomicBool::new(false);

fn state() -> MutexGuard<'static, Option<Inflight>> {
    INFLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

/// The unix socket a file is, if it is one.
pub(super) fn unix_of(f: &File) -> Option<&Arc<Sock>> {
    f.ops
        .as_socket()?
        .as_any()
        .downcast_ref::<UnixSocket>()
        .map(|u| &u.sock)
}

/// The files of one message's SCM_RIGHTS, counted in flight while they exist.
pub(super) struct Rights {
    files: Vec<Arc<File>>,
    uid: u32,
}

impl Rights {
    /// Puts `files` in flight for the sender `t` (`unix_attach_fds`): ETOOMANYREFS when the
    /// sender's user already has more in flight than its limit.
    pub fn attach(t: Option<&Task>, files: Vec<Arc<File>>) -> Result<Rights, Errno> {
        let (uid, limit) = match t {
            Some(t) => {
                let privileged = t.creds.caps & (CAP_SYS_ADMIN | CAP_SYS_RESOURCE) != 0;
                let limits = crate::kernel::lock(&t.limits);
                let l = limits
                    .get(RLIMIT_NOFILE as usize)
                    .map(|r| if privileged { r.rlim_max } else { r.rlim_cur })
                    .unwrap_or(RLIM_INFINITY);
                (t.creds.uid.0, l)
            }
            // Descriptors are only sent by sendmsg, which has its task.
            None => return Err(Errno::EINVAL),
        };
        let over = |g: &Option<Inflight>| {
            g.as_ref()
                .and_then(|s| s.users.get(&uid))
                .is_some_and(|n| *n as u64 > limit)
        };
        if over(&state()) {
            collect();
            if over(&state()) {
                return Err(Errno::ETOOMANYREFS);
            }
        }
        let mut sends_socks = false;
        let mut trigger = false;
        {
            let mut g = state();
            let s = g.get_or_insert_with(Inflight::default);
            *s.users.entry(uid).or_insert(0) += files.len();
            for f in &files {
                if unix_of(f).is_some() {
                    sends_socks = true;
                    let e = s.socks.entry(f.id).or_insert_with(|| {
                        SOCKS.fetch_add(1, Ordering::Relaxed);
                        (Arc::downgrade(f), 0)
                    });
                    e.1 += 1;
                }
            }
            if sends_socks {
                s.sends += 1;
                trigger = s.sends >= TRIGGER_SENDS;
            }
        }
        if trigger {
            collect();
        }
        Ok(Rights { files, uid })
    }

    /// Takes the files out of flight, for the receiver's descriptor table.
    pub fn detach(mut self) -> Vec<Arc<File>> {
        uncount(&self.files, self.uid);
        std::mem::take(&mut self.files)
    }

    /// New references to the files, for MSG_PEEK (Linux duplicates them).
    pub fn peek(&self) -> Vec<Arc<File>> {
        self.files.clone()
    }

    /// The files, for the collector's scan.
    fn files(&self) -> &[Arc<File>] {
        &self.files
    }
}

impl Drop for Rights {
    fn drop(&mut self) {
        if self.files.is_empty() {
            return;
        }
        uncount(&self.files, self.uid);
        defer_drop(std::mem::take(&mut self.files));
    }
}

fn uncount(files: &[Arc<File>], uid: u32) {
    let mut g = state();
    let Some(s) = g.as_mut() else {
        return;
    };
    if let Some(n) = s.users.get_mut(&uid) {
        *n = n.saturating_sub(files.len());
        if *n == 0 {
            s.users.remove(&uid);
        }
    }
    for f in files {
        if let Some(e) = s.socks.get_mut(&f.id) {
            e.1 = e.1.saturating_sub(1);
            if e.1 == 0 {
                s.socks.remove(&f.id);
                SOCKS.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

thread_local! {
    static DEFERRED: RefCell<Vec<Arc<File>>> = const { RefCell::new(Vec::new()) };
    static DRAINING: Cell<bool> = const { Cell::new(false) };
    /// A release during a drain asked for a collection: the drain's end runs one.
    static COLLECT_AFTER: Cell<bool> = const { Cell::new(false) };
}

/// Drops `files`, iteratively: drops that happen while dropping (a closed socket's queue) are
/// queued and done by the outermost call.
fn defer_drop(files: Vec<Arc<File>>) {
    if DRAINING.with(Cell::get) {
        DEFERRED.with(|d| d.borrow_mut().extend(files));
        return;
    }
    DRAINING.with(|d| d.set(true));
    drop(files);
    loop {
        let next = DEFERRED.with(|d| d.borrow_mut().pop());
        match next {
            Some(f) => drop(f),
            None => break,
        }
    }
    DRAINING.with(|d| d.set(false));
    if COLLECT_AFTER.with(|c| c.replace(false)) {
        collect();
    }
}

/// A unix socket was released: sockets only messages in flight hold may now be garbage.
/// Releases in a cascade (a closed socket's queue closing more) collect once, at its end,
/// not once each (which would scan the sockets in flight once per socket freed).
pub(super) fn released() {
    if !any_inflight() {
        return;
    }
    if DRAINING.with(Cell::get) {
        COLLECT_AFTER.with(|c| c.set(true));
    } else {
        collect();
    }
}

/// Whether any unix socket is in flight (then a release collects).
pub(super) fn any_inflight() -> bool {
    SOCKS.load(Ordering::Relaxed) > 0
}

/// Frees the sockets that only messages in flight keep alive (see the module docs).
pub(super) fn collect() {
    if COLLECTING.swap(true, Ordering::AcqRel) {
        return;
    }
    let mut purged = Vec::new();
    let mut embryos = Vec::new();
    let mut held: Vec<Arc<File>> = Vec::new();
    // Sockets are only dropped once the lock is released (a drop may need it).
    let mut cands: HashMap<u64, (Arc<Sock>, usize, usize)> = HashMap::new();
    {
        let mut g = state();
        if let Some(s) = g.as_mut() {
            s.sends = 0;
            // Candidates: every reference to the file is a message in flight.
            let mut digest = (0u64, 0usize);
            for (id, (w, n)) in &s.socks {
                if w.strong_count() == *n {
                    let h = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (*n as u64);
                    digest = (digest.0.wrapping_add(h.rotate_left(17)), digest.1 + 1);
                }
            }
            if digest.1 == 0 || s.quiet == Some(digest) {
                COLLECTING.store(false, Ordering::Release);
                return;
            }
            for (id, (w, n)) in &s.socks {
                if w.strong_count() == *n {
                    if let Some(f) = w.upgrade() {
                        if let Some(sk) = unix_of(&f) {
                            cands.insert(*id, (sk.clone(), *n, 0));
                        }
                        held.push(f);
                    }
                }
            }
            // References to candidates from candidates' queues.
            let ids: Vec<u64> = cands.keys().copied().collect();
            for id in &ids {
                let sk = cands[id].0.clone();
                for r in queued_refs(&sk) {
                    if let Some(c) = cands.get_mut(&r) {
                        c.2 += 1;
                    }
                }
            }
            // Live: held by some queue outside the candidates, or by a live candidate's.
            let mut live: Vec<u64> = cands
                .iter()
                .filter(|(_, c)| c.1 > c.2)
                .map(|(id, _)| *id)
                .collect();
            let mut seen: std::collections::HashSet<u64> = live.iter().copied().collect();
            while let Some(id) = live.pop() {
                let sk = cands[&id].0.clone();
                for r in queued_refs(&sk) {
                    if cands.contains_key(&r) && seen.insert(r) {
                        live.push(r);
                    }
                }
            }
            let mut garbage = false;
            for (id, (sk, _, _)) in &cands {
                if !seen.contains(id) {
                    garbage = true;
                    let (msgs, embs) = sk.purge_queues();
                    purged.extend(msgs);
                    embryos.extend(embs);
                }
            }
            s.quiet = (!garbage).then_some(digest);
        }
    }
    COLLECTING.store(false, Ordering::Release);
    drop(cands);
    for e in &embryos {
        super::release(e, true);
    }
    drop(embryos);
    drop(purged);
    defer_drop(held);
}

/// The ids of the unix socket files queued on `sk` (and, for a listener, on the connections
/// waiting to be accepted).
fn queued_refs(sk: &Arc<Sock>) -> Vec<u64> {
    let mut out = Vec::new();
    let embryos = {
        let s = sk.lock();
        for m in &s.queue {
            if let Some(r) = &m.rights {
                out.extend(
                    r.files()
                        .iter()
                        .filter(|f| unix_of(f).is_some())
                        .map(|f| f.id),
                );
            }
        }
        s.backlog.clone()
    };
    for e in embryos {
        let s = e.lock();
        for m in &s.queue {
            if let Some(r) = &m.rights {
                out.extend(
                    r.files()
                        .iter()
                        .filter(|f| unix_of(f).is_some())
                        .map(|f| f.id),
                );
            }
        }
    }
    out
}
