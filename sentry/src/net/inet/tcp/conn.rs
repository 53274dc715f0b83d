// SPDX-License-Identifier: Apache-2.0
//! A TCP connection: both sides under one lock, the bytes travelling to each, and the data
//! path (sends, receives with the urgent mark, FIN and RST).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

use super::super::ports::Claim;
use super::super::{mem_charge, mem_uncharge};
use super::bridge::Bridge;
use super::{Tcp, RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK};
use crate::net::Received;

/// Buffer sizes and reading options one side of a connection works with.
#[derive(Clone, Copy, Debug)]
pub(super) struct Params {
    /// What it may have queued to it before its peer's further bytes count as unacknowledged
    /// (the receive window, from SO_RCVBUF).
    pub(super) window: usize,
    /// Its send buffer (SO_SNDBUF).
    pub(super) sndbuf: usize,
    /// SO_RCVLOWAT.
    pub(super) lowat: usize,
    /// SO_OOBINLINE.
    pub(super) oobinline: bool,
    /// TCP_NOTSENT_LOWAT.
    pub(super) notsent_lowat: u32,
    /// TCP_CORK: its sends hold back a partial segment.
    pub(super) cork: bool,
    /// Its segment size (TCP_MAXSEG's effective value).
    pub(super) mss: usize,
}

/// How long a partial segment held back by MSG_MORE or TCP_CORK waits before it goes anyway
/// (the 200 ms ceiling tcp(7) names, which Linux's probe timer enforces).
pub(super) const CORK_LIMIT: Duration = Duration::from_millis(200);
/// The receive window a SO_RCVBUF gives (Linux's scaling ratio on loopback leaves about 7/8 of
/// the buffer to payload).
pub(super) fn window_of(rcvbuf: usize) -> usize {
    rcvbuf - rcvbuf / 8
}
/// An urgent byte (MSG_OOB).
#[derive(Clone, Copy, Debug)]
pub(super) struct Urg {
    /// Its position in the stream.
    pub(super) seq: u64,
    pub(super) byte: u8,
    /// Not yet read with MSG_OOB (TCP_URG_VALID).
    pub(super) valid: bool,
}
/// One side of a connection.
pub(super) struct Half {
    pub(super) state: u8,
    pub(super) err: Option<Errno>,
    pub(super) shut: u8,
    /// The peer's FIN has come (SOCK_DONE).
    pub(super) done: bool,
    /// The side's file is closed.
    pub(super) orphan: bool,
    pub(super) local: SocketAddr,
    pub(super) remote: SocketAddr,
    /// The port, while connected.
    pub(super) claim: Option<Claim<Tcp>>,
    pub(super) explicit: bool,
    /// Bytes travelling to this side, not yet read.
    pub(super) rx: VecDeque<u8>,
    /// How many of `rx`'s last bytes the sender still holds back (a partial segment under
    /// MSG_MORE or TCP_CORK), and since when: they are not readable yet.
    pub(super) held: usize,
    pub(super) held_since: Instant,
    pub(super) urg: Option<Urg>,
    /// Bytes read so far (the stream position of `rx`'s front).
    pub(super) read: u64,
    pub(super) p: Params,
    pub(super) since: Instant,
    pub(super) last_send: Instant,
    pub(super) last_recv: Instant,
    pub(super) bytes_sent: u64,
    pub(super) bytes_received: u64,
    pub(super) segs_out: u32,
    pub(super) segs_in: u32,
}
impl Half {
    pub(super) fn new(local: SocketAddr, remote: SocketAddr, p: Params) -> Half {
        let now = Instant::now();
        Half {
            state: TCP_ESTABLISHED,
            err: None,
            shut: 0,
            done: false,
            orphan: false,
            local,
            remote,
            claim: None,
            explicit: false,
            rx: VecDeque::new(),
            held: 0,
            held_since: now,
            urg: None,
            read: 0,
            p,
            since: now,
            last_send: now,
            last_recv: now,
            bytes_sent: 0,
            bytes_received: 0,
            segs_out: 0,
            segs_in: 0,
        }
    }

    /// The stream position after the last byte queued.
    pub(super) fn end(&self) -> u64 {
        self.read + self.rx.len() as u64
    }

    /// Bytes that have arrived: all queued but what the sender holds back.
    pub(super) fn arrived(&self) -> usize {
        self.rx.len() - self.held
    }

    /// A held-back segment goes once it has waited CORK_LIMIT; true if one went.
    pub(super) fn release_held(&mut self, now: Instant) -> bool {
        if self.held > 0 && now.saturating_duration_since(self.held_since) >= CORK_LIMIT {
            self.held = 0;
            return true;
        }
        false
    }

    /// When the held-back segment will go, if there is one.
    pub(super) fn held_deadline(&self) -> Option<Instant> {
        (self.held > 0).then(|| self.held_since + CORK_LIMIT)
    }

    /// Bytes readable before the urgent mark (all when none or inline): SIOCINQ.
    pub(super) fn inq(&self) -> usize {
        let n = self.arrived().min(self.p.window.max(1));
        match self.urg {
            Some(u) if !self.p.oobinline && u.seq >= self.read && u.seq < self.end() => {
                ((u.seq - self.read) as usize).min(n)
            }
            _ => n,
        }
    }

    /// Drops `n` bytes from the front, giving back their memory.
    pub(super) fn consume(&mut self, n: usize) {
        self.rx.drain(..n);
        self.read += n as u64;
        mem_uncharge(n);

        if let Some(u) = self.urg {
            if self.read > u.seq {
                self.urg = None;
            }
        }
    }

    /// Drops everything queued.
    pub(super) fn purge(&mut self) {
        let n = self.rx.len();
        self.held = 0;
        self.consume(n);
    }

    /// Moves to CLOSE: the port goes unless it was asked for.
    pub(super) fn close_state(&mut self) {
        self.state = TCP_CLOSE;
        if !self.explicit || self.orphan {
            self.claim = None;
        }
    }

    /// Moves to TIME_WAIT, which the port keeps for a while; the socket itself is closed then.
    pub(super) fn time_wait_state(&mut self) {
        self.state = TCP_CLOSE;
        if let Some(c) = self.claim.take() {
            c.into_time_wait();
        }
    }

    /// Receives a RST: the error a read or write reports next, and CLOSE.
    pub(super) fn reset(&mut self) {
        if self.state == TCP_CLOSE {
            return;
        }
        self.err = Some(match self.state {
            TCP_SYN_SENT => Errno::ECONNREFUSED,
            TCP_CLOSE_WAIT => Errno::EPIPE,
            _ => Errno::ECONNRESET,
        });
        self.shut = SHUTDOWN_MASK;
        self.close_state();
    }
}
impl Drop for Half {
    fn drop(&mut self) {
        mem_uncharge(self.rx.len());
    }
}
/// One connection: both sides and the bytes between them.
pub struct Conn {
    pub(super) st: Mutex<[Half; 2]>,
    pub(super) ends: [Weak<Tcp>; 2],
    /// The listener whose queue holds the server's side under TCP_DEFER_ACCEPT: data for
    /// that side wakes it.
    pub(super) listener: Mutex<Weak<Tcp>>,
    /// The side a bridge to the outside stands for, and the bridge: wake-ups for that side
    /// make it move bytes (`--network sandbox`).
    pub(super) relay: OnceLock<(usize, Weak<Bridge>)>,
}
/// Wake-ups to deliver once the connection's lock is released.
#[derive(Default)]
pub(super) struct Wakes(pub(super) [u32; 2]);
impl Conn {
    pub(super) fn lock(&self) -> MutexGuard<'_, [Half; 2]> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn listener_lock(&self) -> MutexGuard<'_, Weak<Tcp>> {
        self.listener.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn wake(&self, w: Wakes) {
        if w.0[1] & POLLIN != 0 {
            if let Some(l) = self.listener_lock().upgrade() {
                l.common.wake(POLLIN | POLLRDNORM);
            }
        }
        for (i, band) in w.0.iter().enumerate() {
            if *band != 0 {
                if let Some(t) = self.ends[i].upgrade() {
                    t.common.wake(*band);
                }
            }
        }
        if let Some((r, b)) = self.relay.get() {
            if w.0[*r] != 0 {
                if let Some(b) = b.upgrade() {
                    b.kick();
                }
            }
        }
    }

    /// Side `j` sends its FIN (shutdown(SHUT_WR) or close).
    pub(super) fn fin(h: &mut [Half; 2], j: usize, w: &mut Wakes) {
        let i = 1 - j;
        if h[j].shut & SEND_SHUTDOWN != 0
            && h[j].state != TCP_ESTABLISHED
            && h[j].state != TCP_CLOSE_WAIT
        {
            h[j].shut |= SEND_SHUTDOWN;
            return;
        }
        h[j].shut |= SEND_SHUTDOWN;
        match h[j].state {
            // The FIN is acknowledged at once (FIN_WAIT1 passes).
            TCP_ESTABLISHED => h[j].state = TCP_FIN_WAIT2,
            // LAST_ACK, acknowledged at once.
            TCP_CLOSE_WAIT => h[j].close_state(),
            _ => return,
        }
        w.0[j] |= POLLOUT | POLLIN;
        if h[i].state == TCP_CLOSE {
            return;
        }
        // The FIN pushes out what was held back.
        h[i].held = 0;
        h[i].done = true;
        h[i].shut |= RCV_SHUTDOWN;
        match h[i].state {
            TCP_ESTABLISHED => h[i].state = TCP_CLOSE_WAIT,
            TCP_FIN_WAIT1 | TCP_FIN_WAIT2 => h[i].time_wait_state(),
            _ => {}
        }
        w.0[i] |= POLLIN | POLLRDHUP | POLLOUT;
    }

    /// Side `j` sends a RST.
    pub(super) fn rst(h: &mut [Half; 2], j: usize, w: &mut Wakes) {
        let i = 1 - j;
        h[i].reset();
        // What j had sent beyond i's window, or held back, was still j's to send: gone with it.
        let keep = h[i].arrived().min(h[i].p.window);
        h[i].held = 0;
        if h[i].rx.len() > keep {
            let extra = h[i].rx.len() - keep;
            h[i].rx.truncate(keep);
            mem_uncharge(extra);
        }
        h[j].shut = SHUTDOWN_MASK;
        h[j].close_state();
        w.0[i] |= POLLIN | POLLOUT | POLLERR | POLLHUP;
        w.0[j] |= POLLIN | POLLOUT | POLLHUP;
    }

    /// Whether side `j` may write (tcp_poll's sk_stream_is_writeable and
    /// tcp_stream_memory_free).
    pub(super) fn writable(h: &[Half; 2], j: usize) -> bool {
        let i = 1 - j;
        let queued = h[i].rx.len().saturating_sub(h[i].p.window);
        let sndbuf = h[j].p.sndbuf;
        sndbuf.saturating_sub(queued) >= queued / 2
            && (queued as u64) < u64::from(h[j].p.notsent_lowat)
    }

    /// Room for side `j`'s next bytes.
    pub(super) fn room(h: &[Half; 2], j: usize) -> usize {
        let i = 1 - j;
        (h[i].p.window + h[j].p.sndbuf).saturating_sub(h[i].rx.len())
    }
}

impl Conn {
    /// One round of a send under the connection's lock: as much as fits; Some when the send
    /// is over (all sent, or an error).
    pub(super) fn send_locked(
        h: &mut [Half; 2],
        j: usize,
        data: &[u8],
        done: &mut usize,
        flags: u32,
        w: &mut Wakes,
        pressured: &mut bool,
    ) -> Option<Result<usize, Errno>> {
        let i = 1 - j;
        let oob = flags & MSG_OOB != 0;
        // MSG_MORE and TCP_CORK hold back a partial segment (TCP_NAGLE_CORK); urgent data and
        // a send without them push everything out.
        let more = (flags & MSG_MORE != 0 || h[j].p.cork) && !oob;
        if let Some(e) = h[j].err.take() {
            return Some(Err(e));
        }
        if h[j].shut & SEND_SHUTDOWN != 0 || !matches!(h[j].state, TCP_ESTABLISHED | TCP_CLOSE_WAIT)
        {
            return Some(Err(Errno::EPIPE));
        }
        if data.is_empty() && !oob {
            // An empty send without MSG_MORE pushes what was held back (tcp_push).
            if !more && h[i].held > 0 {
                h[i].held = 0;
                w.0[i] |= POLLIN | POLLRDNORM;
            }
            return Some(Ok(0));
        }
        // Bytes to a side that has shut down reading in FIN_WAIT (an orphan, or one that did
        // shutdown(SHUT_RDWR)) draw a RST (RFC 1122; tcp_rcv_state_process): the send itself
        // succeeded.
        if h[i].shut & RCV_SHUTDOWN != 0
            && matches!(
                h[i].state,
                TCP_FIN_WAIT1 | TCP_FIN_WAIT2 | TCP_CLOSING | TCP_CLOSE
            )
        {
            if h[i].state != TCP_CLOSE {
                h[i].reset();
                h[i].claim = None;
            }
            h[j].reset();
            w.0[j] |= POLLIN | POLLOUT | POLLERR | POLLHUP;
            w.0[i] |= POLLIN | POLLOUT | POLLERR | POLLHUP;
            return Some(Ok(data.len()));
        }
        let left = data.len() - *done;
        let room = Conn::room(h, j).min(left);
        let n = if room > 0 { mem_charge(room) } else { 0 };
        // Room, but the sandbox-wide socket memory is spent: look again later.
        *pressured = room > 0 && n == 0;
        if n > 0 {
            let now = Instant::now();
            let arrived = h[i].arrived();
            h[i].rx.extend(&data[*done..*done + n]);
            *done += n;
            if more {
                if h[i].held == 0 {
                    h[i].held_since = now;
                }
                h[i].held += n;
                // Whole segments go; the partial one stays.
                h[i].held %= h[j].p.mss.max(1);
            } else {
                h[i].held = 0;
            }
            h[j].bytes_sent += n as u64;
            h[j].segs_out += 1;
            h[j].last_send = now;
            h[i].bytes_received += n as u64;
            h[i].segs_in += 1;
            h[i].last_recv = now;
            if h[i].arrived() > arrived {
                w.0[i] |= POLLIN | POLLRDNORM;
            }
            if oob && *done == data.len() {
                let end = h[i].end();
                Conn::mark_urgent_at(&mut h[i], end - 1);
                w.0[i] |= POLLPRI;
            }
        } else if data.is_empty() {
            h[i].held = 0;
            let end = h[i].end();
            if end > 0 {
                Conn::mark_urgent_at(&mut h[i], end - 1);
            }
            return Some(Ok(0));
        }
        if *done == data.len() {
            return Some(Ok(*done));
        }
        None
    }

    /// The byte at `ptr` is urgent (tcp_check_urg and tcp_urg).
    pub(super) fn mark_urgent_at(h: &mut Half, ptr: u64) {
        if h.read > ptr {
            return;
        }
        if let Some(u) = h.urg {
            if ptr <= u.seq {
                return;
            }
            // The old urgent byte was next to read and more follows: it is passed over now
            // (Linux cannot let it be read as data once the mark moves).
            if u.seq == h.read && !h.p.oobinline && h.rx.len() > 1 {
                h.consume(1);
            }
        }
        let Some(&byte) = h.rx.get((ptr - h.read) as usize) else {
            return;
        };
        h.urg = Some(Urg {
            seq: ptr,
            byte,
            valid: true,
        });
    }

    /// Whether a receive that has `copied` bytes so far is over (tcp_recvmsg's loop): enough
    /// for the target; or some, and nothing more will come; or none, and EOF (the FIN, or
    /// SHUT_RD), the pending error, or no connection.
    pub(super) fn recv_outcome(
        h: &mut Half,
        copied: usize,
        target: usize,
        len: usize,
    ) -> Option<Result<usize, Errno>> {
        let ended = h.err.is_some() || h.state == TCP_CLOSE || h.done || h.shut & RCV_SHUTDOWN != 0;
        if copied > 0 {
            return (copied >= target.max(1) || copied == len || ended).then_some(Ok(copied));
        }
        if len == 0 || h.done {
            return Some(Ok(0));
        }
        if let Some(e) = h.err.take() {
            return Some(Err(e));
        }
        if h.shut & RCV_SHUTDOWN != 0 {
            return Some(Ok(0));
        }
        if h.state == TCP_CLOSE {
            return Some(Err(Errno::ENOTCONN));
        }
        None
    }

    /// Copies (or with `discard` drops; with `peek` leaves) bytes from the front of a side's
    /// queue, `off` bytes in for a peek, stopping at the urgent mark as tcp_recvmsg does: a read
    /// that has copied something stops before it; one at it passes over the urgent byte
    /// unless SO_OOBINLINE.
    pub(super) fn take(
        h: &mut Half,
        out: &mut [u8],
        off: usize,
        peek: bool,
        discard: bool,
        copied_before: bool,
    ) -> usize {
        let mut n = 0usize;
        let mut pos_off = off;
        loop {
            if n == out.len() {
                break;
            }
            let pos = h.read + pos_off as u64;
            if pos_off >= h.arrived() {
                break;
            }
            let mut avail = h.arrived() - pos_off;
            if let Some(u) = h.urg {
                if u.seq == pos {
                    if n > 0 || copied_before {
                        break;
                    }
                    if !h.p.oobinline {
                        if peek {
                            pos_off += 1;
                        } else {
                            h.consume(1);
                        }
                        continue;
                    }
                } else if u.seq > pos {
                    avail = avail.min((u.seq - pos) as usize);
                }
            }
            let k = avail.min(out.len() - n);
            if !discard {
                let (a, b) = h.rx.as_slices();
                let start = pos_off;
                let mut got = 0;
                if start < a.len() {
                    let m = k.min(a.len() - start);
                    out[n..n + m].copy_from_slice(&a[start..start + m]);
                    got = m;
                }
                if got < k {
                    let bs = start + got - a.len();
                    out[n + got..n + k].copy_from_slice(&b[bs..bs + (k - got)]);
                }
            }
            n += k;
            if peek {
                pos_off += k;
            } else {
                h.consume(k);
            }
            // Only the first stretch before the mark in one call.
            if h.urg.is_some_and(|u| u.seq == h.read + pos_off as u64) {
                break;
            }
        }
        n
    }

    /// recv(MSG_OOB) (tcp_recv_urg).
    pub(super) fn recv_urgent(
        conn: &Arc<Conn>,
        i: usize,
        buf: &mut [u8],
        flags: u32,
    ) -> Result<Received, Errno> {
        let mut h = conn.lock();
        let hi = &mut h[i];
        let Some(u) = hi.urg.filter(|u| u.valid && !hi.p.oobinline) else {
            if hi.p.oobinline || hi.urg.is_none() || hi.urg.is_some_and(|u| !u.valid) {
                return Err(Errno::EINVAL);
            }
            return Err(Errno::EAGAIN);
        };
        if hi.state == TCP_CLOSE && !hi.done && hi.rx.is_empty() {
            return Err(Errno::ENOTCONN);
        }
        if flags & MSG_PEEK == 0 {
            if let Some(x) = hi.urg.as_mut() {
                x.valid = false;
            }
        }
        let mut r = Received {
            flags: MSG_OOB,
            ..Default::default()
        };
        if buf.is_empty() {
            r.flags |= MSG_TRUNC;
            return Ok(r);
        }
        if flags & MSG_TRUNC == 0 {
            buf[0] = u.byte;
            r.copied = 1;
        }
        r.len = 1;
        Ok(r)
    }
}
