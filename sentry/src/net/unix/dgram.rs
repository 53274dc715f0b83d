// SPDX-License-Identifier: Apache-2.0
//! Datagram and seqpacket sockets (`unix_dgram_connect`, `unix_dgram_sendmsg`,
//! `unix_dgram_recvmsg`, `unix_dgram_poll`; a seqpacket socket is a connected datagram socket
//! with stream-style connection set-up).
//!
//! A datagram goes whole into the receiver's queue. A receiver that is not connected back to
//! the sender (a server many clients send to) takes at most max_dgram_qlen+1 of them: the
//! sender then waits, or gets EAGAIN. A sender whose peer is such a full receiver is not
//! writable; to hear when it becomes so, it registers with the receiver (Linux's `peer_wake`
//! relay, [`relay`]), which wakes it when it next takes a datagram.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use syscalls::abi::*;
use syscalls::Errno;

use super::gc::Rights;
use super::msg::{self, Msg};
use super::stream::{passcred_enabled, wait_wmem};
use super::{lock_two, name, remaining, writable_at, Sock, State, RCV_SHUTDOWN, SHUTDOWN_MASK};
use crate::kernel::Task;
use crate::net::{CmsgOut, Received, SendMsg};

/// Senders registered to hear when a receiver takes a datagram: (sender, receiver's address).
fn relays() -> MutexGuard<'static, Vec<(Weak<Sock>, usize)>> {
    static R: Mutex<Vec<(Weak<Sock>, usize)>> = Mutex::new(Vec::new());
    R.lock().unwrap_or_else(|e| e.into_inner())
}

fn addr_of(s: &Sock) -> usize {
    s as *const Sock as usize
}

/// Registers `sk` with `other` unless it is registered already (with anyone); true if it
/// registered now (`unix_dgram_peer_wake_connect`).
fn relay_connect(sk: &Arc<Sock>, other: &Sock) -> bool {
    let mut r = relays();
    if r.iter()
        .any(|(s, _)| std::ptr::eq(s.as_ptr(), Arc::as_ptr(sk)))
    {
        return false;
    }
    r.push((Arc::downgrade(sk), addr_of(other)));
    other.relay_waiters.fetch_add(1, Ordering::AcqRel);
    true
}

/// Removes `sk`'s registration with `other` (`unix_dgram_peer_wake_disconnect`).
pub(super) fn relay_disconnect(sk: &Sock, other: &Sock) {
    if other.relay_waiters.load(Ordering::Acquire) == 0 {
        return;
    }
    let mut r = relays();
    if let Some(i) = r
        .iter()
        .position(|(s, o)| std::ptr::eq(s.as_ptr(), sk) && *o == addr_of(other))
    {
        r.swap_remove(i);
        other.relay_waiters.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `other`'s peer_wait was woken: the senders registered with it hear of room, once.
pub(super) fn relay(other: &Sock) {
    if other.relay_waiters.load(Ordering::Acquire) == 0 {
        return;
    }
    let senders: Vec<Arc<Sock>> = {
        let mut r = relays();
        let mut out = Vec::new();
        r.retain(|(s, o)| {
            if *o != addr_of(other) {
                return true;
            }
            other.relay_waiters.fetch_sub(1, Ordering::AcqRel);
            if let Some(s) = s.upgrade() {
                out.push(s);
            }
            false
        });
        out
    };
    for s in senders {
        s.common.wake_waiters(POLLOUT | POLLWRNORM | POLLWRBAND);
    }
}

/// Whether a sender whose peer `other` is full must wait (`unix_dgram_peer_wake_me`): it
/// registers for the wake-up, and stays registered only when it must.
fn peer_wake_me(sk: &Arc<Sock>, other: &Sock, full: bool, dead: bool) -> bool {
    let connected = relay_connect(sk, other);
    if full && !dead {
        return true;
    }
    if connected {
        relay_disconnect(sk, other);
    }
    false
}

/// Whether `os` (the receiver's state) takes no more datagrams from `sk`
/// (`unix_recvq_full` for a receiver not connected back to the sender).
fn full_for(sk: &Sock, other: &Sock, os: &super::St) -> bool {
    !other.is(sk)
        && !os.peer.as_ref().is_some_and(|p| p.is(sk))
        && os.queue.len() > os.max_ack_backlog
}

/// The sender lost its peer (`unix_dgram_disconnected`): what it had received goes (Linux
/// lets a connected socket hold only its peer's datagrams), and a peer still connected back
/// hears ECONNRESET.
fn disconnected(sk: &Sock, old: &Sock) {
    let purged = {
        let mut s = sk.lock();
        std::mem::take(&mut s.queue)
    };
    if purged.is_empty() {
        return;
    }
    sk.wake_peer_wait();
    let reset = {
        let mut os = old.lock();
        let reset = !os.dead && os.peer.as_ref().is_some_and(|p| p.is(sk));
        if reset {
            os.err = Some(Errno::ECONNRESET);
        }
        reset
    };
    if reset {
        old.error_report();
    }
    drop(purged);
}

/// connect(2) of a datagram socket: sets (or, with AF_UNSPEC, clears) the default
/// destination and the only sender it takes datagrams from.
pub(super) fn connect(sk: &Arc<Sock>, t: &Task, raw: &[u8]) -> Result<(), Errno> {
    if raw.len() < 2 {
        return Err(Errno::EINVAL);
    }
    // Connected to a host socket (`--host-uds open`) instead of one of the sandbox's.
    let mut host_conn = None;
    let other = if crate::net::addr::family(raw) != AF_UNSPEC {
        name::validate(raw)?;
        if sk.passcred() && sk.name.get().is_none() {
            name::autobind(sk)?;
        }
        loop {
            let other = match name::lookup(t, raw, sk.stype)? {
                name::Peer::Sandbox(o) => o,
                name::Peer::Host(h) => {
                    host_conn = Some(super::host::connect_dgram(sk, &h, name::peer_addr(raw))?);
                    break None;
                }
            };
            {
                let (me, os) = lock_two(sk, &other);
                if let Some(mut os) = os {
                    if os.dead {
                        continue;
                    }
                    if os.peer.as_ref().is_some_and(|p| !p.is(sk)) {
                        return Err(Errno::EPERM);
                    }
                    os.state = State::Established;
                } else if me.peer.as_ref().is_some_and(|p| !p.is(sk)) {
                    return Err(Errno::EPERM);
                }
            }
            break Some(other);
        }
    } else {
        None
    };
    let (old, old_host) = {
        let mut s = sk.lock();
        let old = std::mem::replace(&mut s.peer, other.clone());
        let connected = other.is_some() || host_conn.is_some();
        let old_host = sk.set_host(host_conn);
        if connected {
            s.state = State::Established;
        } else if old.is_some() || old_host.is_some() {
            s.state = State::Close;
        }
        (old, old_host)
    };
    drop(old_host);
    if let Some(old) = old {
        relay_disconnect(sk, &old);
        sk.common.wake_waiters(POLLOUT | POLLWRNORM | POLLWRBAND);
        if !other.as_ref().is_some_and(|o| o.is(&old)) {
            disconnected(sk, &old);
            let mut os = old.lock();
            if os.peer.is_none() {
                os.state = State::Close;
            }
        }
    }
    Ok(())
}

/// A datagram or seqpacket send (`unix_dgram_sendmsg`, `unix_seqpacket_sendmsg`).
pub(super) fn send(sk: &Arc<Sock>, t: Option<&Task>, m: SendMsg<'_>) -> Result<usize, Errno> {
    let seqpacket = sk.stype == SOCK_SEQPACKET;
    if seqpacket {
        let mut s = sk.lock();
        if let Some(e) = s.err.take() {
            return Err(e);
        }
        if s.state != State::Established {
            return Err(Errno::ENOTCONN);
        }
    }
    let scm = msg::parse_control(m.control)?;
    if m.flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let addr = if seqpacket {
        None
    } else {
        m.addr.filter(|a| !a.is_empty())
    };
    let mut other = match addr {
        Some(a) => {
            name::validate(a)?;
            None
        }
        None => Some(sk.peer().ok_or(Errno::ENOTCONN)?),
    };
    if sk.passcred() && sk.name.get().is_none() {
        name::autobind(sk)?;
    }
    let len = m.data.len();
    if len > sk.sndbuf().saturating_sub(32) || len > msg::DGRAM_MAX {
        return Err(Errno::EMSGSIZE);
    }
    let timeout = if m.nonblock {
        Some(std::time::Duration::ZERO)
    } else {
        sk.common.opts().sndtimeo
    };
    let start = Instant::now();
    wait_wmem(sk, false, remaining(timeout, start))?;
    let rights = match scm.files {
        f if f.is_empty() => None,
        f => Some(Rights::attach(t, f)?),
    };
    let mut msg = Some(Msg::new(
        sk,
        m.data.to_vec(),
        msg::dgram_truesize(len),
        scm.creds,
        rights,
    ));
    loop {
        let o = match other.take() {
            Some(o) => o,
            None => match (addr, t) {
                (Some(a), Some(t)) => match name::lookup(t, a, sk.stype)? {
                    name::Peer::Sandbox(o) => o,
                    name::Peer::Host(h) => {
                        // A host socket (`--host-uds open`): the datagram goes there instead
                        // of a queue of the sandbox's.
                        let rights = msg.as_ref().is_some_and(|m| m.rights.is_some());
                        drop(msg.take());
                        return super::host::send_to(
                            sk, &h, a, m.data, rights, m.flags, m.nonblock,
                        );
                    }
                },
                _ => return Err(Errno::ECONNRESET),
            },
        };
        enum Next {
            Sent,
            Restart,
            Refused,
            Wait,
        }
        let next = {
            let (mut me, os) = lock_two(sk, &o);
            let self_send = os.is_none();
            let mut os = os;
            let ost: &mut super::St = match os.as_mut() {
                Some(g) => g,
                None => &mut me,
            };
            if ost.peer.as_ref().is_some_and(|p| !p.is(sk)) {
                return Err(Errno::EPERM);
            }
            if ost.dead {
                drop(os);
                if seqpacket {
                    return Err(Errno::EPIPE);
                }
                if me.peer.as_ref().is_some_and(|p| p.is(&o)) {
                    me.peer = None;
                    me.state = State::Close;
                    Next::Refused
                } else {
                    Next::Restart
                }
            } else if ost.shutdown & RCV_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            } else if !self_send && full_for(sk, &o, ost) {
                let left = remaining(timeout, start);
                if !left.is_some_and(|d| d.is_zero()) {
                    Next::Wait
                } else if !me.peer.as_ref().is_some_and(|p| p.is(&o))
                    || peer_wake_me(sk, &o, true, false)
                {
                    return Err(Errno::EAGAIN);
                } else {
                    Next::Restart
                }
            } else {
                let Some(mut mm) = msg.take() else {
                    return Err(Errno::EINVAL);
                };
                if mm.creds.is_none() && passcred_enabled(sk, &o) {
                    mm.creds = Some(msg::own_creds(t));
                }
                ost.queue.push_back(mm);
                Next::Sent
            }
        };
        match next {
            Next::Sent => {
                o.data_ready();
                return Ok(len);
            }
            Next::Restart => {
                // Same receiver again, unless it is gone (then the address is looked up).
                if !o.lock().dead {
                    other = Some(o);
                }
            }
            Next::Refused => {
                relay_disconnect(sk, &o);
                sk.common.wake_waiters(POLLOUT | POLLWRNORM | POLLWRBAND);
                disconnected(sk, &o);
                return Err(Errno::ECONNREFUSED);
            }
            Next::Wait => {
                let left = remaining(timeout, start);
                let r = sk.common.wait(&[&o.peer_wait], false, left, || {
                    let os = o.lock();
                    let waiting =
                        !os.dead && os.shutdown & RCV_SHUTDOWN == 0 && full_for(sk, &o, &os);
                    (!waiting).then_some(Ok(()))
                });
                match r {
                    Ok(()) | Err(Errno::EAGAIN) => other = Some(o),
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// A datagram or seqpacket receive (`__unix_dgram_recvmsg`): one datagram, cut to the buffer
/// (MSG_TRUNC in the flags; with MSG_TRUNC asked, the whole length returned).
pub(super) fn recv(
    sk: &Arc<Sock>,
    buf: &mut [u8],
    flags: u32,
    nonblock: bool,
) -> Result<Received, Errno> {
    let seqpacket = sk.stype == SOCK_SEQPACKET;
    if seqpacket && sk.state() != State::Established {
        return Err(Errno::ENOTCONN);
    }
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let (passcred, peek_off, timeout) = {
        let o = sk.common.opts();
        (o.passcred, o.peek_off, o.rcvtimeo)
    };
    let peek = flags & MSG_PEEK != 0;
    let mut taken: Option<Msg> = None;
    let mut files = None;
    let mut try_once = |blocking: bool| -> Option<Result<Received, Errno>> {
        let mut s = sk.lock();
        if let Some(e) = s.err.take() {
            return Some(Err(e));
        }
        // The datagram a peek offset points into, skipping whole ones before it.
        let mut off = if peek && peek_off >= 0 {
            peek_off as usize
        } else {
            0
        };
        let at_off = peek && peek_off >= 0;
        let mut found = None;
        for (i, m) in s.queue.iter().enumerate() {
            if at_off && off >= m.len() && (off > 0 || m.peeked) {
                off -= m.len();
                continue;
            }
            found = Some(i);
            break;
        }
        let Some(i) = found else {
            if s.shutdown & RCV_SHUTDOWN != 0 && (blocking || seqpacket) {
                return Some(Ok(Received::default()));
            }
            if blocking && seqpacket && !matches!(s.state, State::Established | State::Listen) {
                return Some(Err(Errno::ENOTCONN));
            }
            return None;
        };
        let m = &mut s.queue[i];
        let avail = m.len() - off;
        let n = avail.min(buf.len());
        buf[..n].copy_from_slice(&m.data[off..off + n]);
        let mut r = Received {
            copied: n,
            len: avail,
            addr: m.sender.bound_addr(),
            ..Default::default()
        };
        if n < avail {
            r.flags |= MSG_TRUNC;
        }
        if passcred {
            r.control
                .push(msg::creds_cmsg(m.creds.unwrap_or(msg::NO_CREDS)));
        }
        if peek {
            m.peeked = true;
            if let Some(rights) = &m.rights {
                files = Some(rights.peek());
            }
            if peek_off >= 0 {
                let mut o = sk.common.opts();
                o.peek_off = o.peek_off.saturating_add(n as i32);
            }
        } else {
            let whole = m.len();
            taken = s.queue.remove(i);
            if peek_off >= 0 {
                let mut o = sk.common.opts();
                o.peek_off = o.peek_off.saturating_sub(whole as i32).max(0);
            }
        }
        Some(Ok(r))
    };
    let r = match try_once(!nonblock) {
        Some(r) => r,
        None if nonblock || timeout.is_some_and(|d| d.is_zero()) => Err(Errno::EAGAIN),
        None => sk.common.wait(&[], false, timeout, || try_once(true)),
    };
    let r = match r {
        // A seqpacket socket whose peer is gone reads EOF even when it would not wait.
        Err(Errno::EAGAIN) if seqpacket && sk.lock().shutdown & RCV_SHUTDOWN != 0 => {
            Ok(Received::default())
        }
        r => r,
    };
    let mut r = r?;
    if let Some(mut m) = taken {
        if let Some(rights) = m.rights.take() {
            files = Some(rights.detach());
        }
        sk.wake_peer_wait();
        drop(m);
    }
    if let Some(f) = files {
        r.control.push(CmsgOut::Rights(f));
    }
    Ok(r)
}

/// Readiness of a datagram or seqpacket socket (`unix_dgram_poll`).
pub(super) fn poll(sk: &Arc<Sock>) -> u32 {
    let (mut mask, state, peer) = {
        let s = sk.lock();
        let mut mask = 0;
        if s.err.is_some() {
            mask |= POLLERR;
        }
        if s.shutdown & RCV_SHUTDOWN != 0 {
            mask |= POLLRDHUP | POLLIN | POLLRDNORM;
        }
        if s.shutdown == SHUTDOWN_MASK {
            mask |= POLLHUP;
        }
        if !s.queue.is_empty() || !s.backlog.is_empty() {
            mask |= POLLIN | POLLRDNORM;
        }
        if sk.stype == SOCK_SEQPACKET && s.state == State::Close {
            mask |= POLLHUP;
        }
        (mask, s.state, s.peer.clone())
    };
    let mut writable =
        state != State::Listen && writable_at(sk.wmem.load(Ordering::Acquire), sk.sndbuf());
    if writable {
        if let Some(other) = &peer {
            let (me, os) = lock_two(sk, other);
            if let Some(os) = os {
                if me.peer.as_ref().is_some_and(|p| p.is(other))
                    && full_for(sk, other, &os)
                    && peer_wake_me(sk, other, true, os.dead)
                {
                    writable = false;
                }
            }
        }
    }
    drop(peer);
    if writable {
        mask |= POLLOUT | POLLWRNORM | POLLWRBAND;
    } else {
        sk.nospace.store(true, Ordering::Release);
    }
    mask
}
