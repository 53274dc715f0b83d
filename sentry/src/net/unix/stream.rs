// SPDX-License-Identifier: Apache-2.0
//! Stream sockets (`unix_stream_sendmsg`, `unix_stream_read_generic`, `unix_poll`) and the
//! connection set-up stream and seqpacket sockets share (`unix_listen`,
//! `unix_stream_connect`, `unix_accept`).
//!
//! A connect makes the server's end at once (an *embryo*, queued on the listener until
//! accepted): the client may send before the accept, and a listener closed with connections
//! pending resets them. At most backlog+1 connections wait; a blocking connect then waits for
//! room, a non-blocking one gets EAGAIN.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use syscalls::abi::*;
use syscalls::Errno;

use super::gc::Rights;
use super::msg::{self, Msg};
use super::{
    lock_two, name, remaining, wait_for, writable_at, Sock, State, UnixSocket, RCV_SHUTDOWN,
    SEND_SHUTDOWN, SHUTDOWN_MASK,
};
use crate::kernel::Task;
use crate::net::{Accepted, CmsgOut, Fill, Received, SendMsg, Sink};

/// listen(2) (`unix_listen`).
pub(super) fn listen(sk: &Arc<Sock>, backlog: i32) -> Result<(), Errno> {
    if sk.stype == SOCK_DGRAM {
        return Err(Errno::EOPNOTSUPP);
    }
    if sk.name.get().is_none() {
        return Err(Errno::EINVAL);
    }
    let backlog = usize::try_from(backlog).unwrap_or(0);
    let grew = {
        let mut s = sk.lock();
        if !matches!(s.state, State::Close | State::Listen) {
            return Err(Errno::EINVAL);
        }
        let grew = backlog > s.max_ack_backlog;
        s.max_ack_backlog = backlog;
        s.state = State::Listen;
        // Connectors get the listener's credentials as they are now.
        s.peer_cred = Some(crate::net::current_cred());
        grew
    };
    if grew {
        sk.wake_peer_wait();
    }
    Ok(())
}

/// connect(2) of a stream or seqpacket socket (`unix_stream_connect`).
pub(super) fn connect(sk: &Arc<Sock>, t: &Task, raw: &[u8], nonblock: bool) -> Result<(), Errno> {
    name::validate(raw)?;
    if sk.passcred() && sk.name.get().is_none() {
        name::autobind(sk)?;
    }
    let timeout = if nonblock {
        Some(std::time::Duration::ZERO)
    } else {
        sk.common.opts().sndtimeo
    };
    let start = Instant::now();
    loop {
        let other = match name::lookup(t, raw, sk.stype)? {
            name::Peer::Sandbox(o) => o,
            name::Peer::Host(h) => {
                return super::host::connect(sk, &h, name::peer_addr(raw), timeout, start)
            }
        };
        enum Next {
            Retry,
            Full,
            Done,
        }
        let next = {
            let (mut me, os) = lock_two(sk, &other);
            // Connecting to itself: it is not listening (it is being connected).
            let Some(mut os) = os else {
                return Err(if me.state == State::Listen {
                    Errno::EINVAL
                } else {
                    Errno::ECONNREFUSED
                });
            };
            if os.dead {
                Next::Retry
            } else if os.state != State::Listen || os.shutdown & RCV_SHUTDOWN != 0 {
                return Err(Errno::ECONNREFUSED);
            } else if os.backlog.len() > os.max_ack_backlog {
                Next::Full
            } else if me.state != State::Close {
                return Err(if me.state == State::Established {
                    Errno::EISCONN
                } else {
                    Errno::EINVAL
                });
            } else {
                // The server's end: connected to us, our credentials, the listener's name.
                let emb = Sock::embryo(&other);
                {
                    let mut es = emb.lock();
                    es.peer = Some(sk.clone());
                    es.state = State::Established;
                    es.peer_cred = Some(crate::net::task_cred(t));
                }
                if let Some(n) = other.name.get() {
                    let _ = emb.name.set(n.copied());
                }
                me.peer_cred = os.peer_cred;
                me.state = State::Established;
                me.peer = Some(emb.clone());
                os.backlog.push_back(emb);
                Next::Done
            }
        };
        match next {
            Next::Retry => continue,
            Next::Done => {
                other.data_ready();
                return Ok(());
            }
            Next::Full => {
                let left = remaining(timeout, start);
                if left.is_some_and(|d| d.is_zero()) {
                    return Err(Errno::EAGAIN);
                }
                // Wait for room (an accept), or for the listener to go (unix_wait_for_peer).
                match sk.common.wait(&[&other.peer_wait], false, left, || {
                    let os = other.lock();
                    let waiting = !os.dead
                        && os.shutdown & RCV_SHUTDOWN == 0
                        && os.backlog.len() > os.max_ack_backlog;
                    (!waiting).then_some(Ok(()))
                }) {
                    Ok(()) | Err(Errno::EAGAIN) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// accept(2) (`unix_accept`): the oldest pending connection.
pub(super) fn accept(sk: &Arc<Sock>, nonblock: bool) -> Result<Accepted, Errno> {
    if sk.stype == SOCK_DGRAM {
        return Err(Errno::EOPNOTSUPP);
    }
    if sk.state() != State::Listen {
        return Err(Errno::EINVAL);
    }
    let timeout = sk.common.opts().rcvtimeo;
    let emb = wait_for(sk, &[], nonblock, timeout, || {
        let mut s = sk.lock();
        if let Some(e) = s.err.take() {
            return Some(Err(e));
        }
        if let Some(e) = s.backlog.pop_front() {
            return Some(Ok(e));
        }
        // A listener shut down for reading accepts nothing more (only a blocking accept
        // notices: a non-blocking one gets EAGAIN, as skb_recv_datagram).
        if !nonblock && s.shutdown & RCV_SHUTDOWN != 0 {
            return Some(Err(Errno::EINVAL));
        }
        None
    })?;
    sk.wake_peer_wait();
    emb.has_socket.store(true, Ordering::Release);
    {
        let (passcred, passsec) = {
            let o = sk.common.opts();
            (o.passcred, o.passsec)
        };
        let mut o = emb.common.opts();
        o.passcred |= passcred;
        o.passsec |= passsec;
    }
    let peer = emb
        .peer()
        .map(|p| p.addr())
        .unwrap_or_else(|| AF_UNIX.to_ne_bytes().to_vec());
    Ok(Accepted {
        sock: Box::new(UnixSocket { sock: emb }),
        peer,
    })
}

/// Waits until the sender may queue another buffer (`sock_alloc_send_pskb`): its charge
/// below its send buffer. A pending error or a shut-down sending side ends the wait.
pub(super) fn wait_wmem(
    sk: &Sock,
    nonblock: bool,
    timeout: Option<std::time::Duration>,
) -> Result<(), Errno> {
    wait_for(sk, &[], nonblock, timeout, || {
        let mut s = sk.lock();
        if let Some(e) = s.err.take() {
            return Some(Err(e));
        }
        if s.shutdown & SEND_SHUTDOWN != 0 {
            return Some(Err(Errno::EPIPE));
        }
        if sk.wmem.load(Ordering::Acquire) < sk.sndbuf() {
            return Some(Ok(()));
        }
        sk.nospace.store(true, Ordering::Release);
        None
    })
}

/// Whether a message to `other` carries the sender's credentials though none were given
/// (`unix_passcred_enabled`): either side has SO_PASSCRED, or the receiver is a connection
/// not yet accepted.
pub(super) fn passcred_enabled(sk: &Sock, other: &Sock) -> bool {
    sk.passcred() || !other.has_socket.load(Ordering::Acquire) || other.passcred()
}

/// A stream send (`unix_stream_sendmsg`): the bytes go in buffers of at most half the send
/// buffer (and 36,544 bytes), each waiting for the sender's charge to fall below its send
/// buffer; descriptors ride on the first. A short count when a wait ends after some went.
pub(super) fn send(sk: &Arc<Sock>, t: Option<&Task>, m: SendMsg<'_>) -> Result<usize, Errno> {
    send_src(sk, t, Src::Bytes(m.data), m)
}

/// Where a stream send's bytes come from: a sentry buffer, or the sender's memory read as each
/// buffer is queued (no staging copy).
pub(super) enum Src<'a> {
    Bytes(&'a [u8]),
    Fill(usize, Fill<'a>),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Bytes(b) => b.len(),
            Src::Fill(n, _) => *n,
        }
    }

    /// Bytes `at..at + n`, in a buffer of their own.
    fn take(&mut self, at: usize, n: usize) -> Result<Vec<u8>, Errno> {
        match self {
            Src::Bytes(b) => {
                let mut v = msg::buffer(n);
                v.copy_from_slice(&b[at..at + n]);
                Ok(v)
            }
            Src::Fill(_, f) => {
                let mut v = msg::buffer(n);
                f(at, &mut v)?;
                Ok(v)
            }
        }
    }
}

/// [`send`] of the bytes `data` gives (`m.data` is not looked at).
pub(super) fn send_src(
    sk: &Arc<Sock>,
    t: Option<&Task>,
    mut data: Src<'_>,
    m: SendMsg<'_>,
) -> Result<usize, Errno> {
    let scm = msg::parse_control(m.control)?;
    // MSG_OOB: the last byte goes apart, as the out-of-band byte (none: EOPNOTSUPP).
    let oob = m.flags & MSG_OOB != 0;
    if oob && data.len() == 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if m.addr.is_some_and(|a| !a.is_empty()) {
        return Err(if sk.state() == State::Established {
            Errno::EISCONN
        } else {
            Errno::EOPNOTSUPP
        });
    }
    let (other, shut) = {
        let s = sk.lock();
        (s.peer.clone(), s.shutdown)
    };
    let other = other.ok_or(Errno::ENOTCONN)?;
    if shut & SEND_SHUTDOWN != 0 {
        return Err(Errno::EPIPE);
    }
    let timeout = if m.nonblock {
        Some(std::time::Duration::ZERO)
    } else {
        sk.common.opts().sndtimeo
    };
    let start = Instant::now();
    let len = data.len() - usize::from(oob);
    let mut files = Some(scm.files);
    let mut sent = 0;
    let creds = scm.creds;
    // The reader's waiters are woken once for the buffers queued together (and before this
    // sender may sleep), not once per buffer: fewer wake-ups, the same readiness. O_ASYNC
    // owners still hear of each buffer, as Linux signals them.
    let reader = Wake(Some(&other));
    while sent < len {
        let sndbuf = sk.sndbuf();
        let (size, truesize) = msg::stream_skb(len - sent, sndbuf);
        if sent > 0 && sk.wmem.load(Ordering::Acquire) >= sndbuf {
            reader.now();
        }
        if let Err(e) = wait_wmem(sk, false, remaining(timeout, start)) {
            return if sent > 0 { Ok(sent) } else { Err(e) };
        }
        let bytes = match data.take(sent, size) {
            Ok(b) => b,
            Err(e) => return if sent > 0 { Ok(sent) } else { Err(e) },
        };
        let rights = match files.take().filter(|f| !f.is_empty()) {
            Some(f) => Some(Rights::attach(t, f)?),
            None => None,
        };
        let mut msg = Msg::new(sk, bytes, truesize, creds, rights);
        let refused = {
            let mut os = other.lock();
            if os.dead || os.shutdown & RCV_SHUTDOWN != 0 {
                Some(msg)
            } else {
                if msg.creds.is_none() && passcred_enabled(sk, &other) {
                    msg.creds = Some(msg::own_creds(t));
                }
                os.queue.push_back(msg);
                None
            }
        };
        if let Some(msg) = refused {
            drop(msg);
            return if sent > 0 {
                Ok(sent)
            } else {
                Err(Errno::EPIPE)
            };
        }
        other.data_ready_async();
        sent += size;
    }
    if oob {
        // queue_oob: one byte in a buffer of its own, which becomes the mark.
        if let Err(e) = wait_wmem(sk, false, remaining(timeout, start)) {
            return if sent > 0 { Ok(sent) } else { Err(e) };
        }
        let rights = match files.take().filter(|f| !f.is_empty()) {
            Some(f) => Some(Rights::attach(t, f)?),
            None => None,
        };
        let (_, truesize) = msg::stream_skb(1, sk.sndbuf());
        let byte = match data.take(len, 1) {
            Ok(b) => b,
            Err(e) => return if sent > 0 { Ok(sent) } else { Err(e) },
        };
        let mut msg = Msg::new(sk, byte, truesize, creds, rights);
        msg.oob = true;
        let refused = {
            let mut os = other.lock();
            if os.dead || os.shutdown & RCV_SHUTDOWN != 0 {
                Some(msg)
            } else {
                if msg.creds.is_none() && passcred_enabled(sk, &other) {
                    msg.creds = Some(msg::own_creds(t));
                }
                for q in os.queue.iter_mut() {
                    q.oob = false;
                }
                os.queue.push_back(msg);
                os.oob = true;
                None
            }
        };
        if let Some(msg) = refused {
            drop(msg);
            return if sent > 0 {
                Ok(sent)
            } else {
                Err(Errno::EPIPE)
            };
        }
        other.data_ready_async();
        sent += 1;
    }
    drop(reader);
    Ok(sent)
}

/// Wakes a reader's waiters when dropped (at the end of a send, whichever way it ends).
struct Wake<'a>(Option<&'a Sock>);

impl Wake<'_> {
    fn now(&self) {
        if let Some(s) = self.0 {
            s.common.wake_waiters(POLLIN | POLLRDNORM);
        }
    }
}

impl Drop for Wake<'_> {
    fn drop(&mut self) {
        self.now();
    }
}

/// A stream receive (`unix_stream_read_generic`): bytes from as many buffers as fit, waiting
/// (unless `nonblock`) until SO_RCVLOWAT bytes (all of them, MSG_WAITALL) came, EOF or an
/// error. It stops after a buffer that carried descriptors, at the out-of-band mark, and, when
/// the reader has SO_PASSCRED, before a buffer from other credentials.
pub(super) fn recv(
    sk: &Arc<Sock>,
    buf: &mut dyn Sink,
    flags: u32,
    nonblock: bool,
) -> Result<Received, Errno> {
    if sk.state() != State::Established {
        return Err(Errno::EINVAL);
    }
    if flags & MSG_OOB != 0 {
        return recv_oob(sk, buf, flags);
    }
    let (rcvlowat, passcred, peek_off, timeout, inline) = {
        let o = sk.common.opts();
        (o.rcvlowat, o.passcred, o.peek_off, o.rcvtimeo, o.oobinline)
    };
    let size = buf.capacity();
    let target = if flags & MSG_WAITALL != 0 {
        size
    } else {
        size.min(usize::try_from(rcvlowat).unwrap_or(1))
    }
    .max(1);
    let peek = flags & MSG_PEEK != 0;
    let mut skip = if peek {
        usize::try_from(peek_off).unwrap_or(0)
    } else {
        0
    };
    let mut copied = 0usize;
    // Some(creds) once a buffer was read by a reader with SO_PASSCRED.
    let mut check_creds: Option<Option<Ucred>> = None;
    let mut files: Option<Vec<Arc<crate::vfs::File>>> = None;
    let mut addr: Option<Vec<u8>> = None;
    let mut step = || -> Option<Result<(), Errno>> {
        let mut done_msgs: Vec<Msg> = Vec::new();
        let mut rights_out = None;
        let r = 'read: {
            // Readers one at a time (Linux's iolock), so that the state lock can be let go
            // while the bytes are copied out: a writer queueing meanwhile does not wait for the
            // copy (and sleep, and need a cross-vCPU wake-up).
            let _io = crate::kernel::lock(&sk.iolock);
            let mut s = sk.lock();
            // The buffer being read ("redo": the queue's head).
            let mut i = 0;
            loop {
                // "again": past the out-of-band mark's rules, then past what a peek offset
                // skips.
                let found = if i < s.queue.len() {
                    match manage_oob(&mut s, i, peek, copied, inline, &mut done_msgs) {
                        Some(j) => Some(j),
                        None if copied > 0 => break 'read Some(Ok(())),
                        None => None,
                    }
                } else {
                    None
                };
                let mut at = found;
                if let Some(mut j) = at {
                    while skip >= s.queue[j].len() {
                        skip -= s.queue[j].len();
                        j += 1;
                        if j >= s.queue.len() {
                            break;
                        }
                    }
                    at = (j < s.queue.len()).then_some(j);
                }
                let Some(j) = at else {
                    if copied >= target {
                        break 'read Some(Ok(()));
                    }
                    if let Some(e) = s.err.take() {
                        break 'read Some(Err(e));
                    }
                    if s.shutdown & RCV_SHUTDOWN != 0 {
                        break 'read Some(Ok(()));
                    }
                    break 'read None;
                };
                i = j;
                let m = &s.queue[i];
                match check_creds {
                    // Never glue bytes from different writers.
                    Some(c) if c != m.creds => break 'read Some(Ok(())),
                    Some(_) => {}
                    None if passcred => check_creds = Some(m.creds),
                    None => {}
                }
                if let Some(a) = m.sender.bound_addr() {
                    addr = Some(a);
                }
                let chunk = (m.len() - skip).min(size - copied);
                let from = m.consumed + skip;
                // Copied with the state lock let go: writers only append, other readers wait
                // for the iolock; a purge meanwhile (a collector's, a release) ends the read
                // with what was copied.
                let data = m.data.clone();
                drop(s);
                let put = buf.put(copied, &data[from..from + chunk]);
                s = sk.lock();
                // A fault leaves the buffer unread (Linux: EFAULT unless some bytes came).
                if let Err(e) = put {
                    break 'read Some(Err(e));
                }
                copied += chunk;
                if !s.queue.get(i).is_some_and(|m| Arc::ptr_eq(&m.data, &data)) {
                    break 'read Some(Ok(()));
                }
                drop(data);
                if !peek {
                    let m = &mut s.queue[i];
                    m.consumed += chunk;
                    let rights = m.rights.take();
                    let rest = m.len();
                    if peek_off >= 0 {
                        let mut o = sk.common.opts();
                        o.peek_off = o.peek_off.saturating_sub(chunk as i32).max(0);
                    }
                    if let Some(r) = rights {
                        rights_out = Some(r);
                    }
                    if rest > 0 {
                        break 'read Some(Ok(()));
                    }
                    if let Some(m) = s.queue.remove(i) {
                        done_msgs.push(m);
                    }
                    if rights_out.is_some() || copied >= size {
                        break 'read Some(Ok(()));
                    }
                    i = 0;
                } else {
                    if let Some(r) = &s.queue[i].rights {
                        files = Some(r.peek());
                    }
                    if peek_off >= 0 {
                        let mut o = sk.common.opts();
                        o.peek_off = o.peek_off.saturating_add(chunk as i32);
                    }
                    if files.is_some() {
                        break 'read Some(Ok(()));
                    }
                    // Linux goes on to the next buffer even with the reader's buffer full.
                    skip = 0;
                    i += 1;
                    if i >= s.queue.len() {
                        break 'read Some(Ok(()));
                    }
                }
            }
        };
        if let Some(r) = rights_out {
            files = Some(r.detach());
        }
        drop(done_msgs);
        r
    };
    let r = match step() {
        Some(r) => r,
        None if nonblock || timeout.is_some_and(|d| d.is_zero()) => Err(Errno::EAGAIN),
        None => {
            // A reader asleep: data coming wakes it and sends no SIGIO (SOCKWQ_ASYNC_WAITDATA).
            sk.waitdata.fetch_add(1, Ordering::AcqRel);
            let r = sk.common.wait(&[], false, timeout, &mut step);
            sk.waitdata.fetch_sub(1, Ordering::AcqRel);
            r
        }
    };
    match r {
        Ok(()) => {}
        Err(_) if copied > 0 => {}
        Err(e) => return Err(e),
    }
    let mut out = Received {
        copied,
        len: copied,
        addr,
        ..Default::default()
    };
    if passcred {
        // No buffer read: Linux's zeroed scm_cookie (pid 0, uid 0, gid 0).
        let c = match check_creds {
            None => Ucred {
                pid: 0,
                uid: 0,
                gid: 0,
            },
            Some(c) => c.unwrap_or(msg::NO_CREDS),
        };
        out.control.push(msg::creds_cmsg(c));
    }
    if let Some(f) = files {
        out.control.push(CmsgOut::Rights(f));
    }
    Ok(out)
}

/// The out-of-band mark's part of a stream read (`manage_oob`), at buffer `i`: a buffer
/// emptied by a MSG_OOB read is passed (or ends a read that has bytes), the mark ends a read
/// that has bytes, and a read reaching it with none takes the mark away, dropping the urgent
/// byte unless SO_OOBINLINE. The buffer to read next, or none.
fn manage_oob(
    s: &mut super::St,
    mut i: usize,
    peek: bool,
    copied: usize,
    inline: bool,
    done: &mut Vec<Msg>,
) -> Option<usize> {
    let m = &s.queue[i];
    if m.len() > 0 && !m.oob {
        return Some(i);
    }
    if m.len() == 0 {
        if copied > 0 && (!s.oob || m.oob) {
            return None;
        } else if peek {
            i += 1;
        } else if let Some(m) = s.queue.remove(i) {
            done.push(m);
        }
        if i >= s.queue.len() {
            return None;
        }
    }
    if !s.queue[i].oob {
        return Some(i);
    }
    if copied > 0 {
        return None;
    }
    if !peek {
        s.queue[i].oob = false;
        s.oob = false;
        if !inline {
            if let Some(m) = s.queue.remove(i) {
                done.push(m);
            }
            i = 0;
        }
    } else if !inline {
        i += 1;
    }
    (i < s.queue.len()).then_some(i)
}

/// recv(MSG_OOB) (`unix_stream_recv_urg`): the urgent byte, once; EINVAL when there is none
/// or it is read inline.
fn recv_oob(sk: &Arc<Sock>, buf: &mut dyn Sink, flags: u32) -> Result<Received, Errno> {
    let inline = sk.common.opts().oobinline;
    let mut s = sk.lock();
    if inline || !s.oob {
        return Err(Errno::EINVAL);
    }
    let Some(i) = s.queue.iter().position(|m| m.oob) else {
        return Err(Errno::EINVAL);
    };
    let m = &mut s.queue[i];
    let n = buf.capacity().min(m.len()).min(1);
    buf.put(0, &m.data[m.consumed..m.consumed + n])?;
    if flags & MSG_PEEK == 0 {
        m.oob = false;
        m.consumed += 1.min(m.len());
        s.oob = false;
    }
    Ok(Received {
        copied: n,
        len: n,
        flags: MSG_OOB,
        ..Default::default()
    })
}

/// SIOCATMARK: whether the next byte read is at the out-of-band mark.
pub(super) fn at_mark(sk: &Sock) -> bool {
    let s = sk.lock();
    match s.queue.front() {
        Some(m) if m.oob => true,
        Some(m) if m.len() == 0 => !s.oob || s.queue.get(1).is_some_and(|n| n.oob),
        _ => false,
    }
}

/// Readiness of a stream socket (`unix_poll`).
pub(super) fn poll(sk: &Sock) -> u32 {
    let s = sk.lock();
    let mut mask = 0;
    if s.err.is_some() {
        mask |= POLLERR;
    }
    if s.shutdown == SHUTDOWN_MASK {
        mask |= POLLHUP;
    }
    if s.shutdown & RCV_SHUTDOWN != 0 {
        mask |= POLLRDHUP | POLLIN | POLLRDNORM;
    }
    if !s.queue.is_empty() || !s.backlog.is_empty() {
        mask |= POLLIN | POLLRDNORM;
    }
    if s.oob {
        mask |= POLLPRI;
    }
    if s.state == State::Close {
        mask |= POLLHUP;
    }
    if s.state != State::Listen && writable_at(sk.wmem.load(Ordering::Acquire), sk.sndbuf()) {
        mask |= POLLOUT | POLLWRNORM | POLLWRBAND;
    }
    mask
}
