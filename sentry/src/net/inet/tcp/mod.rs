// SPDX-License-Identifier: Apache-2.0
//! TCP over AF_INET and AF_INET6, between sockets of the sandbox (see the module docs of
//! [`super`] for why this is a pair of byte queues and not a packet stack).
//!
//! A socket ([`Tcp`]) is closed, listening, connecting (its SYN waits for room in a full
//! backlog) or open on a connection ([`Conn`]). A connection holds both sides under one lock:
//! each side's TCP state, pending error (sk_err), shutdown bits, and the bytes travelling to
//! it. Bytes are delivered at once; what the peer has not read yet is the peer's receive queue
//! up to its window and the sender's unacknowledged send queue beyond it, so SIOCINQ,
//! SIOCOUTQ and where a writer blocks follow the two buffer sizes as on Linux.
//!
//! Lock order: a socket's state, then a listener's state (connect), then a connection. Wake-ups
//! happen after the connection's lock is released.

mod bridge;
mod conn;
mod listen;
mod sockopt;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

pub use self::bridge::accept_published;
use self::conn::{window_of, Conn, Params, Wakes};
use self::listen::{Listener, Pending};
use self::sockopt::TcpOpts;
use super::opts::{Ctx, InetOpts, Memberships};
use super::ports::{Claim, Cover, Flags, Pick, Request, Rules, Table, Use};
use crate::kernel::block::block_on;
use crate::kernel::Task;
use crate::net::stack::{self, Destination};
use crate::net::{Accepted, CmsgIn, CmsgOut, Received, SendMsg, SockCommon, Socket};

/// The TCP port table.
static TABLE: LazyLock<Arc<Table<Tcp>>> = LazyLock::new(|| Arc::new(Table::new(Rules::Tcp)));

/// net.ipv4.tcp_rmem[1]: a new socket's SO_RCVBUF.
const TCP_RMEM_DEFAULT: usize = 131_072;
/// net.ipv4.tcp_wmem[1]: a new socket's SO_SNDBUF.
const TCP_WMEM_DEFAULT: usize = 16_384;
/// The send buffer Linux grows an unlocked one to when a loopback connection is established
/// (tcp_sndbuf_expand: twice ten segments of 131,328 bytes with cubic).
const SNDBUF_EXPANDED: usize = 2_626_560;
/// TCP_MSS_DEFAULT: TCP_MAXSEG before a connection.
const MSS_DEFAULT: u32 = 536;
/// The MSS Linux 6.x settles on for a loopback connection (65,536-byte MTU, bounded to half
/// the window).
const LOOPBACK_MSS: u32 = 32_741;

/// sk_shutdown bits.
const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;
const SHUTDOWN_MASK: u8 = 3;

/// socket(2)'s TCP socket of `domain` (`protocol`: what SO_PROTOCOL reports).
pub fn new_socket(domain: u16, protocol: u32) -> Box<dyn Socket> {
    Box::new(TcpSocket(Tcp::new(domain, protocol)))
}

/// The BSD socket's own state (`sock->state`), which decides what connect(2) answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ss {
    Unconnected,
    Connecting,
    Connected,
    Disconnecting,
}

enum Phase {
    Closed,
    Listen(Listener),
    SynSent(Arc<Pending>),
    Open(Arc<Conn>, usize),
}

struct State {
    ip: InetOpts,
    tcp: TcpOpts,
    ss: Ss,
    /// The port, while not on a connection (which holds it then).
    claim: Option<Claim<Tcp>>,
    /// The port was asked for (SOCK_BINDPORT_LOCK: it outlives a connection).
    explicit: bool,
    /// The local address (unmapped; the wildcard until a connection picks one).
    local: Option<SocketAddr>,
    phase: Phase,
    /// sk_err outside a connection (a refused non-blocking connect, a disconnect).
    err: Option<Errno>,
    /// sk_shutdown outside a connection.
    shut: u8,
    /// Multicast groups joined (MCAST_JOIN_GROUP works on any inet socket; an accepted socket
    /// starts with none).
    mc: Memberships,
}

/// One TCP socket.
pub struct Tcp {
    common: SockCommon,
    id: u64,
    family: u16,
    st: Mutex<State>,
}

/// The socket as the file sees it: closing the file closes the socket.
pub struct TcpSocket(Arc<Tcp>);

impl Drop for TcpSocket {
    fn drop(&mut self) {
        self.0.close_file();
    }
}

impl Tcp {
    fn new(family: u16, protocol: u32) -> Arc<Tcp> {
        Arc::new(Tcp {
            common: SockCommon::new(
                family,
                SOCK_STREAM,
                protocol,
                TCP_WMEM_DEFAULT,
                TCP_RMEM_DEFAULT,
            ),
            id: super::ports::new_id(),
            family,
            st: Mutex::new(State {
                ip: InetOpts::default(),
                tcp: TcpOpts::default(),
                ss: Ss::Unconnected,
                claim: None,
                explicit: false,
                local: None,
                phase: Phase::Closed,
                err: None,
                shut: 0,
                mc: Memberships::default(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        let mut g = self.st.lock().unwrap_or_else(|e| e.into_inner());
        self.refresh(&mut g);
        g
    }

    /// A connect waiting on a listener learns its outcome.
    fn refresh(&self, st: &mut State) {
        let Phase::SynSent(p) = &st.phase else {
            return;
        };
        let Some(r) = p.lock().clone() else {
            return;
        };
        match r {
            Ok((conn, side)) => {
                {
                    let mut h = conn.lock();
                    h[side].explicit = st.explicit;
                    if let Some(c) = st.claim.take() {
                        TABLE.set_connected(&c, h[side].local, Some(h[side].remote));
                        h[side].claim = Some(c);
                    }
                }
                st.phase = Phase::Open(conn, side);
            }
            Err(e) => {
                st.phase = Phase::Closed;
                st.err = Some(e);
                st.shut = SHUTDOWN_MASK;
                if !st.explicit {
                    st.claim = None;
                }
            }
        }
    }

    /// The TCP state (tcpi_state).
    fn sk_state(st: &State) -> u8 {
        match &st.phase {
            Phase::Closed => TCP_CLOSE,
            Phase::Listen(_) => TCP_LISTEN,
            Phase::SynSent(_) => TCP_SYN_SENT,
            Phase::Open(c, i) => c.lock()[*i].state,
        }
    }

    fn params(&self, tcp: &TcpOpts) -> Params {
        let o = self.common.opts();
        Params {
            window: window_of(o.rcvbuf),
            sndbuf: o.sndbuf,
            lowat: o.rcvlowat.max(1) as usize,
            oobinline: o.oobinline,
            notsent_lowat: tcp.notsent_lowat,
            cork: tcp.cork,
            mss: if tcp.user_mss > 0 {
                (tcp.user_mss as usize).min(LOOPBACK_MSS as usize)
            } else {
                LOOPBACK_MSS as usize
            },
        }
    }

    /// Pushes out what this socket's sends held back (TCP_CORK cleared, TCP_NODELAY set:
    /// tcp_push_pending_frames).
    fn push_held(&self, st: &State) {
        if let Phase::Open(c, i) = &st.phase {
            let mut w = Wakes::default();
            {
                let mut h = c.lock();
                let peer = 1 - *i;
                if h[peer].held > 0 {
                    h[peer].held = 0;
                    w.0[peer] |= POLLIN | POLLRDNORM;
                }
            }
            c.wake(w);
        }
    }

    fn flags(&self) -> Flags {
        let o = self.common.opts();
        Flags {
            reuseaddr: o.reuseaddr,
            reuseport: o.reuseport,
            uid: self.common.uid,
            dev: o.bound_dev,
        }
    }

    fn ctx(&self, st: &State) -> Ctx {
        let (connected, mtu) = match &st.phase {
            Phase::Open(c, i) => {
                let h = c.lock();
                (h[*i].state != TCP_CLOSE, super::path_mtu(h[*i].remote.ip()))
            }
            _ => (false, 0),
        };
        Ctx {
            family: self.family,
            stype: SOCK_STREAM,
            bound: st.local.is_some() || !matches!(st.phase, Phase::Closed),
            connected,
            mtu,
        }
    }

    /// A bound socket's cover of addresses.
    fn cover(&self, st: &State, ip: IpAddr) -> Cover {
        Cover::new(self.family, ip, st.ip.v6only)
    }

    /// Claims a port for the socket (port 0: picks one as `pick` says).
    fn claim(
        self: &Arc<Self>,
        st: &State,
        local: SocketAddr,
        explicit: bool,
        pick: Pick,
    ) -> Result<Claim<Tcp>, Errno> {
        let req = Request {
            id: self.id,
            family: self.family,
            cover: self.cover(st, local.ip()),
            flags: self.flags(),
            local,
            explicit,
        };
        TABLE.claim(req, local.port(), pick, Arc::downgrade(self))
    }

    fn bind(self: &Arc<Self>, t: &Task, raw: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        let (a, dev) = super::bind_addr(
            self.family,
            raw,
            st.ip.v6only,
            st.ip.flag4(IP_FREEBIND) || st.ip.flag4(IP_TRANSPARENT) || st.ip.flag6(IPV6_FREEBIND),
            super::capable(t, CAP_NET_BIND_SERVICE),
        )?;
        if !matches!(st.phase, Phase::Closed) || st.local.is_some() {
            return Err(Errno::EINVAL);
        }
        if dev != 0 {
            self.common.opts().bound_dev = dev;
        }
        let explicit = a.port() != 0;
        let c = self.claim(&st, a, explicit, Pick::Bind)?;
        st.local = Some(SocketAddr::new(a.ip(), c.port()));
        st.claim = Some(c);
        st.explicit = explicit;
        Ok(())
    }

    fn listen(self: &Arc<Self>, backlog: i32) -> Result<(), Errno> {
        let mut st = self.lock();
        if st.ss != Ss::Unconnected {
            return Err(Errno::EINVAL);
        }
        let (ip, tcp) = (st.ip.clone(), st.tcp.clone());
        match &mut st.phase {
            Phase::Listen(l) => {
                l.backlog = backlog;
                self.promote(&ip, &tcp, l);
                return Ok(());
            }
            Phase::Closed => {}
            _ => return Err(Errno::EINVAL),
        }
        if st.claim.is_none() {
            let local = st.local.unwrap_or_else(|| super::unspecified(self.family));
            let c = self.claim(&st, local, false, Pick::Bind)?;
            st.local = Some(SocketAddr::new(local.ip(), c.port()));
            st.claim = Some(c);
        }
        if let Some(c) = &st.claim {
            TABLE.listen(c)?;
        }
        st.shut = 0;
        st.phase = Phase::Listen(Listener {
            backlog,
            queue: VecDeque::new(),
            waiting: VecDeque::new(),
        });
        Ok(())
    }

    fn connect(self: &Arc<Self>, raw: &[u8], nonblock: bool) -> Result<(), Errno> {
        if raw.len() < 2 {
            return Err(Errno::EINVAL);
        }
        if super::addr::family(raw) == AF_UNSPEC {
            return self.disconnect();
        }
        let mut st = self.lock();
        match st.ss {
            Ss::Connected => return Err(Errno::EISCONN),
            Ss::Disconnecting => return Err(Errno::EINVAL),
            Ss::Connecting => {
                return match &st.phase {
                    Phase::SynSent(_) if nonblock => Err(Errno::EALREADY),
                    Phase::SynSent(p) => {
                        let p = p.clone();
                        drop(st);
                        self.wait_connected(p, Errno::EALREADY)
                    }
                    Phase::Open(c, i) if c.lock()[*i].state != TCP_CLOSE => {
                        st.ss = Ss::Connected;
                        Ok(())
                    }
                    _ => {
                        let e = self.take_error(&mut st).unwrap_or(Errno::ECONNABORTED);
                        st.ss = Ss::Unconnected;
                        self.reset_closed(&mut st);
                        Err(e)
                    }
                };
            }
            Ss::Unconnected => {}
        }
        if !matches!(st.phase, Phase::Closed) {
            return Err(Errno::EISCONN);
        }
        let dst = super::dest_addr(self.family, raw, st.ip.v6only, false)?;
        let dst = super::wildcard_to_loopback(dst);
        match dst.ip() {
            IpAddr::V4(a) if a.is_multicast() || super::is_broadcast(a) => {
                return Err(Errno::ENETUNREACH)
            }
            IpAddr::V6(a) if a.is_multicast() => return Err(Errno::ENETUNREACH),
            _ => {}
        }
        if self.family == AF_INET6 && dst.is_ipv4() {
            if let Some(l) = st.local {
                if l.is_ipv6() && !l.ip().is_unspecified() {
                    // A socket bound to an IPv6 address cannot reach IPv4 (tcp_v6_connect).
                    return Err(Errno::ENETUNREACH);
                }
            }
        } else if self.family == AF_INET6 && dst.is_ipv6() {
            if let Some(l) = st.local {
                if l.is_ipv4() {
                    return Err(Errno::ENETUNREACH);
                }
            }
        }
        let src_ip = match st.local {
            Some(l) if !l.ip().is_unspecified() => l.ip(),
            _ => super::source_for(dst.ip()),
        };
        let (refused, outside) = match stack::destination(dst) {
            Destination::Local => (false, None),
            Destination::Unreachable(Errno::ECONNREFUSED) => (true, None),
            Destination::Unreachable(e) => return Err(e),
            Destination::Outside(host) => (false, Some(host)),
        };
        // The local port: the bound one, or one picked for this destination.
        if st.claim.is_none() {
            let local = SocketAddr::new(src_ip, 0);
            let c = self.claim(&st, local, false, Pick::Connect(dst))?;
            st.claim = Some(c);
            st.explicit = false;
        }
        let port = st.claim.as_ref().map_or(0, |c| c.port());
        let src = SocketAddr::new(src_ip, port);
        st.local = Some(src);
        if let Some(host) = outside {
            // A flow to the outside: a bridge's host connect decides it, as a listener's room
            // decides a connect held by a full backlog.
            let mut cp = self.params(&st.tcp);
            cp.sndbuf = grown_sndbuf(cp.sndbuf, self.common.opts().sndbuf_locked);
            let p = self.pending(src, dst, cp);
            if let Err(e) = bridge::connect_out(p.clone(), host) {
                self.reset_closed(&mut st);
                return Err(e);
            }
            return self.await_pending(st, p, nonblock);
        }
        let listener = if refused {
            None
        } else {
            TABLE.listener(dst, src)
        };
        let Some(listener) = listener else {
            return self.refused(&mut st, nonblock);
        };
        let mut cp = self.params(&st.tcp);
        // An unlocked send buffer grows once the connection is established.
        cp.sndbuf = grown_sndbuf(cp.sndbuf, self.common.opts().sndbuf_locked);
        let mut lst = listener.st.lock().unwrap_or_else(|e| e.into_inner());
        let lstate = &mut *lst;
        let Phase::Listen(l) = &mut lstate.phase else {
            drop(lst);
            return self.refused(&mut st, nonblock);
        };
        if l.full() {
            let p = self.pending(src, dst, cp);
            // Connects given up (their sockets closed or decided) leave the queue, so it holds
            // no more than the live sockets waiting.
            l.waiting
                .retain(|w| w.client.strong_count() > 0 && w.lock().is_none());
            l.waiting.push_back(p.clone());
            drop(lst);
            return self.await_pending(st, p, nonblock);
        }
        let (lip, ltcp) = (lstate.ip.clone(), lstate.tcp.clone());
        let Phase::Listen(l) = &mut lstate.phase else {
            return Err(Errno::ECONNREFUSED);
        };
        let (conn, side) = listener.establish(&lip, &ltcp, l, Arc::downgrade(self), src, dst, cp);
        drop(lst);
        listener.common.wake(POLLIN | POLLRDNORM);
        self.grow_sndbuf();
        {
            let mut h = conn.lock();
            h[side].explicit = st.explicit;
            if let Some(c) = st.claim.take() {
                TABLE.set_connected(&c, src, Some(dst));
                h[side].claim = Some(c);
            }
        }
        st.phase = Phase::Open(conn, side);
        if nonblock {
            st.ss = Ss::Connecting;
            return Err(Errno::EINPROGRESS);
        }
        st.ss = Ss::Connected;
        Ok(())
    }

    /// A connect whose outcome comes later (a full backlog's room, or a host connect).
    fn pending(self: &Arc<Self>, src: SocketAddr, dst: SocketAddr, params: Params) -> Arc<Pending> {
        Arc::new(Pending {
            client: Arc::downgrade(self),
            src,
            dst,
            params,
            slot: Mutex::new(None),
        })
    }

    /// The socket waits for `p`'s outcome: at once EINPROGRESS when non-blocking, else until
    /// it comes.
    fn await_pending(
        &self,
        mut st: MutexGuard<'_, State>,
        p: Arc<Pending>,
        nonblock: bool,
    ) -> Result<(), Errno> {
        st.phase = Phase::SynSent(p.clone());
        st.ss = Ss::Connecting;
        if nonblock {
            return Err(Errno::EINPROGRESS);
        }
        drop(st);
        self.wait_connected(p, Errno::EINPROGRESS)
    }

    /// An unlocked send buffer grows when a connection is established (tcp_sndbuf_expand).
    fn grow_sndbuf(&self) {
        let mut o = self.common.opts();
        o.sndbuf = grown_sndbuf(o.sndbuf, o.sndbuf_locked);
    }

    /// Nothing listens: a blocking connect fails with ECONNREFUSED; a non-blocking one says
    /// EINPROGRESS and leaves the error for SO_ERROR (Linux's RST arrives before it returns).
    fn refused(&self, st: &mut State, nonblock: bool) -> Result<(), Errno> {
        if !st.explicit {
            st.claim = None;
            st.local = st
                .local
                .map(|l| SocketAddr::new(l.ip(), 0))
                .filter(|_| false);
        }
        if nonblock {
            st.err = Some(Errno::ECONNREFUSED);
            st.shut = SHUTDOWN_MASK;
            st.ss = Ss::Connecting;
            return Err(Errno::EINPROGRESS);
        }
        Err(Errno::ECONNREFUSED)
    }

    /// Waits for a connect held by a full backlog; `timed_out` is what a passing SO_SNDTIMEO
    /// gives (EINPROGRESS, or EALREADY on a repeated connect).
    fn wait_connected(&self, p: Arc<Pending>, timed_out: Errno) -> Result<(), Errno> {
        let timeout = self.common.opts().sndtimeo;
        let r = self
            .common
            .wait(&[], false, timeout, || p.lock().is_some().then_some(Ok(())));
        let mut st = self.lock();
        match r {
            Err(Errno::EAGAIN) => return Err(timed_out),
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        match &st.phase {
            Phase::Open(..) => {
                st.ss = Ss::Connected;
                Ok(())
            }
            _ => {
                let e = self.take_error(&mut st).unwrap_or(Errno::ECONNABORTED);
                st.ss = Ss::Unconnected;
                self.reset_closed(&mut st);
                Err(e)
            }
        }
    }

    /// tcp_disconnect on a socket that failed to connect: it may connect again.
    fn reset_closed(&self, st: &mut State) {
        st.shut = 0;
        if !st.explicit {
            st.claim = None;
            st.local = None;
        }
    }

    /// connect(2) with AF_UNSPEC: the connection is dropped with a RST (or the listener
    /// stops), the socket is unconnected again.
    fn disconnect(self: &Arc<Self>) -> Result<(), Errno> {
        let mut st = self.lock();
        let phase = std::mem::replace(&mut st.phase, Phase::Closed);
        match phase {
            Phase::Closed => {}
            Phase::Listen(l) => {
                Self::stop_listening(l);
                if !st.explicit {
                    st.claim = None;
                    st.local = None;
                }
            }
            Phase::SynSent(p) => {
                p.fail(Errno::ECONNRESET);
                *p.lock() = Some(Err(Errno::ECONNRESET));
                if !st.explicit {
                    st.claim = None;
                    st.local = None;
                }
            }
            Phase::Open(conn, i) => {
                let mut w = Wakes::default();
                let claim = {
                    let mut h = conn.lock();
                    if matches!(
                        h[i].state,
                        TCP_ESTABLISHED
                            | TCP_CLOSE_WAIT
                            | TCP_FIN_WAIT1
                            | TCP_FIN_WAIT2
                            | TCP_SYN_RECV
                    ) {
                        Conn::rst(&mut h, i, &mut w);
                        st.err = Some(Errno::ECONNRESET);
                    }
                    h[i].orphan = true;
                    h[i].purge();
                    h[i].claim.take()
                };
                conn.wake(w);
                // tcp_disconnect keeps a port that was asked for (SOCK_BINDPORT_LOCK).
                match claim {
                    Some(c) if st.explicit => {
                        let local = st.local.unwrap_or_else(|| super::unspecified(self.family));
                        TABLE.set_connected(&c, local, None);
                        st.claim = Some(c);
                    }
                    _ => st.local = None,
                }
            }
        }
        st.shut = 0;
        st.ss = Ss::Unconnected;
        self.common.wake(POLLIN | POLLOUT);
        Ok(())
    }

    /// An accepted-but-never-taken side is dropped with a RST (its listener closed).
    fn abort(&self) {
        let mut st = self.lock();
        if let Phase::Open(conn, i) = std::mem::replace(&mut st.phase, Phase::Closed) {
            let mut w = Wakes::default();
            {
                let mut h = conn.lock();
                Conn::rst(&mut h, i, &mut w);
                h[i].orphan = true;
                h[i].purge();
                h[i].claim = None;
            }
            conn.wake(w);
        }
    }

    /// The file is closed (tcp_close).
    fn close_file(self: &Arc<Self>) {
        let mut st = self.lock();
        let phase = std::mem::replace(&mut st.phase, Phase::Closed);
        st.claim = None;
        match phase {
            Phase::Closed => {}
            Phase::Listen(l) => Self::stop_listening(l),
            Phase::SynSent(p) => {
                *p.lock() = Some(Err(Errno::ECONNRESET));
            }
            Phase::Open(conn, i) => {
                let linger = self.common.opts().linger;
                let abort = linger.l_onoff != 0 && linger.l_linger == 0;
                let linger2 = st.tcp.linger2;
                drop(st);
                if linger.l_onoff != 0 && linger.l_linger > 0 && !abort {
                    self.linger_wait(&conn, i, Duration::from_secs(linger.l_linger as u64));
                }
                let mut w = Wakes::default();
                {
                    let mut h = conn.lock();
                    let unread = h[i].arrived() > 0;
                    if h[i].state == TCP_CLOSE {
                        h[i].claim = None;
                    } else if unread || abort || linger2 < 0 {
                        Conn::rst(&mut h, i, &mut w);
                        h[i].claim = None;
                    } else {
                        Conn::fin(&mut h, i, &mut w);
                        if h[i].state == TCP_FIN_WAIT2 {
                            // The orphan waits out its FIN_WAIT2 as a TIME_WAIT
                            // (tcp_close: tcp_time_wait(sk, TCP_FIN_WAIT2, ...)).
                            if let Some(c) = h[i].claim.take() {
                                c.into_time_wait();
                            }
                        } else if h[i].state == TCP_CLOSE {
                            h[i].claim = None;
                        }
                    }
                    h[i].orphan = true;
                    h[i].shut = SHUTDOWN_MASK;
                    h[i].purge();
                }
                conn.wake(w);
            }
        }
    }

    /// SO_LINGER with a time: close waits (interruptibly) for what it sent to be taken.
    fn linger_wait(&self, conn: &Arc<Conn>, i: usize, d: Duration) {
        let j = 1 - i;
        let _ = self.common.wait(&[], false, Some(d), || {
            let h = conn.lock();
            let unacked = h[j].rx.len().saturating_sub(h[j].p.window);
            (unacked == 0 || h[j].state == TCP_CLOSE).then_some(Ok(()))
        });
    }

    /// sk_err, taken (sock_error).
    fn take_error(&self, st: &mut State) -> Option<Errno> {
        if let Phase::Open(c, i) = &st.phase {
            if let Some(e) = c.lock()[*i].err.take() {
                return Some(e);
            }
        }
        st.err.take()
    }

    fn shutdown(&self, how: u32) -> Result<(), Errno> {
        let bits = (how + 1) as u8;
        let mut st = self.lock();
        if st.ss == Ss::Connecting {
            st.ss = match &st.phase {
                Phase::Open(c, i) if c.lock()[*i].state != TCP_CLOSE => Ss::Connected,
                _ => Ss::Disconnecting,
            };
        }
        let r = match &mut st.phase {
            Phase::Closed => {
                st.shut |= bits;
                Err(Errno::ENOTCONN)
            }
            Phase::Listen(_) => {
                if bits & RCV_SHUTDOWN != 0 {
                    if let Phase::Listen(l) = std::mem::replace(&mut st.phase, Phase::Closed) {
                        Self::stop_listening(l);
                    }
                    if !st.explicit {
                        st.claim = None;
                        st.local = None;
                    }
                    st.ss = Ss::Unconnected;
                }
                Ok(())
            }
            Phase::SynSent(p) => {
                *p.lock() = Some(Err(Errno::ECONNRESET));
                st.phase = Phase::Closed;
                st.ss = Ss::Unconnected;
                Ok(())
            }
            Phase::Open(conn, i) => {
                let (conn, i) = (conn.clone(), *i);
                let mut w = Wakes::default();
                let r = {
                    let mut h = conn.lock();
                    if h[i].state == TCP_CLOSE {
                        h[i].shut |= bits;
                        Err(Errno::ENOTCONN)
                    } else {
                        h[i].shut |= bits & RCV_SHUTDOWN;
                        if bits & SEND_SHUTDOWN != 0 {
                            Conn::fin(&mut h, i, &mut w);
                        }
                        w.0[i] |= POLLIN | POLLOUT;
                        Ok(())
                    }
                };
                conn.wake(w);
                r
            }
        };
        drop(st);
        self.common.wake(POLLIN | POLLOUT);
        r
    }

    fn send(self: &Arc<Self>, msg: SendMsg<'_>) -> Result<usize, Errno> {
        for c in &msg.control {
            match c {
                CmsgIn::Rights(_) | CmsgIn::Creds(_) => return Err(Errno::EINVAL),
                CmsgIn::Other(SOL_SOCKET, ty, _) => {
                    if !matches!(*ty, SO_MARK | SO_TIMESTAMPING_OLD | SO_PRIORITY | SO_TXTIME) {
                        return Err(Errno::EINVAL);
                    }
                }
                CmsgIn::Other(..) => {}
            }
        }
        let (conn, j) = {
            let mut st = self.lock();
            if msg.flags & MSG_FASTOPEN != 0 && matches!(st.phase, Phase::Closed) {
                if let Some(a) = msg.addr {
                    let a = a.to_vec();
                    drop(st);
                    match self.connect(&a, msg.nonblock) {
                        Ok(()) | Err(Errno::EINPROGRESS) => {}
                        Err(e) => return Err(e),
                    }
                    st = self.lock();
                }
            }
            match &st.phase {
                Phase::Open(c, i) => (c.clone(), *i),
                Phase::SynSent(_) if msg.nonblock => return Err(Errno::EAGAIN),
                Phase::SynSent(p) => {
                    let p = p.clone();
                    drop(st);
                    self.wait_connected(p, Errno::EAGAIN)?;
                    match &self.lock().phase {
                        Phase::Open(c, i) => (c.clone(), *i),
                        _ => return Err(Errno::EPIPE),
                    }
                }
                _ => {
                    if let Some(e) = st.err.take() {
                        return Err(e);
                    }
                    return Err(Errno::EPIPE);
                }
            }
        };
        let data = msg.data;
        let timeout = self.common.opts().sndtimeo;
        let mut done = 0usize;
        let pressured = std::cell::Cell::new(false);
        let tick = || pressured.get().then(|| Instant::now() + PRESSURE_TICK);
        let r = wait_ticking(&self.common, msg.nonblock, timeout, tick, || {
            let mut w = Wakes::default();
            let mut p = false;
            let r = {
                let mut h = conn.lock();
                Conn::send_locked(&mut h, j, data, &mut done, msg.flags, &mut w, &mut p)
            };
            pressured.set(p);
            conn.wake(w);
            r
        });
        match r {
            Ok(n) => Ok(n),
            Err(_) if done > 0 => Ok(done),
            Err(e) => Err(e),
        }
    }

    fn recv(
        self: &Arc<Self>,
        buf: &mut [u8],
        flags: u32,
        nonblock: bool,
    ) -> Result<Received, Errno> {
        if flags & MSG_ERRQUEUE != 0 {
            // inet_recv_error: nothing the sandbox does queues errors.
            return Err(Errno::EAGAIN);
        }
        let (conn, i, inq_opt) = {
            let mut st = self.lock();
            match &st.phase {
                Phase::Open(c, i) => (c.clone(), *i, st.tcp.inq),
                Phase::Listen(_) => return Err(Errno::ENOTCONN),
                Phase::SynSent(_) if nonblock => return Err(Errno::EAGAIN),
                Phase::SynSent(p) => {
                    let p = p.clone();
                    drop(st);
                    self.wait_connected(p, Errno::EAGAIN)?;
                    let st = self.lock();
                    match &st.phase {
                        Phase::Open(c, i) => (c.clone(), *i, st.tcp.inq),
                        _ => return Err(Errno::ENOTCONN),
                    }
                }
                Phase::Closed => {
                    if let Some(e) = st.err.take() {
                        return Err(e);
                    }
                    if st.shut & RCV_SHUTDOWN != 0 {
                        return Ok(Received::default());
                    }
                    return Err(Errno::ENOTCONN);
                }
            }
        };
        if flags & MSG_OOB != 0 {
            return Conn::recv_urgent(&conn, i, buf, flags);
        }
        let peek = flags & MSG_PEEK != 0;
        let discard = flags & MSG_TRUNC != 0;
        let (timeout, lowat) = {
            let o = self.common.opts();
            (o.rcvtimeo, o.rcvlowat.max(1) as usize)
        };
        let target = if flags & MSG_WAITALL != 0 {
            buf.len()
        } else {
            lowat.min(buf.len())
        };
        let mut copied = 0usize;
        // A held-back segment goes by itself after a while: look again then.
        let held_until = std::cell::Cell::new(None);
        let r = wait_ticking(
            &self.common,
            nonblock,
            timeout,
            || held_until.get(),
            || {
                let mut w = Wakes::default();
                let r = {
                    let mut h = conn.lock();
                    h[i].release_held(Instant::now());
                    held_until.set(h[i].held_deadline());
                    let writable_before = Conn::writable(&h, 1 - i);
                    let n = Conn::take(
                        &mut h[i],
                        &mut buf[copied..],
                        if peek { copied } else { 0 },
                        peek,
                        discard,
                        copied > 0,
                    );
                    copied += n;
                    // The writer hears of room when it becomes writable again (hysteresis as
                    // sk_stream_write_space), not for every byte read.
                    if n > 0 && !peek && !writable_before && Conn::writable(&h, 1 - i) {
                        w.0[1 - i] |= POLLOUT | POLLWRNORM;
                    }
                    Conn::recv_outcome(&mut h[i], copied, target, buf.len())
                };
                conn.wake(w);
                r
            },
        );
        let n = match r {
            Ok(n) => n,
            Err(_) if copied > 0 => copied,
            Err(e) => return Err(e),
        };
        let mut control = Vec::new();
        if inq_opt {
            let inq = conn.lock()[i].inq() as i32;
            control.push(CmsgOut::Data(
                SOL_TCP,
                TCP_CM_INQ,
                inq.to_ne_bytes().to_vec(),
            ));
        }
        Ok(Received {
            copied: if discard { 0 } else { n },
            len: n,
            addr: None,
            control,
            flags: 0,
        })
    }

    fn poll(&self) -> u32 {
        let st = self.lock();
        let err = if st.err.is_some() { POLLERR } else { 0 };
        match &st.phase {
            Phase::Listen(l) => {
                if l.has_ready(listen::defer_of(&st.tcp)) {
                    POLLIN | POLLRDNORM
                } else {
                    0
                }
            }
            Phase::SynSent(_) => err,
            Phase::Closed => {
                let mut m = POLLHUP | POLLOUT | POLLWRNORM | err;
                if st.shut & RCV_SHUTDOWN != 0 {
                    m |= POLLIN | POLLRDNORM | POLLRDHUP;
                }
                m
            }
            Phase::Open(c, i) => {
                let mut h = c.lock();
                h[*i].release_held(Instant::now());
                let me = &h[*i];
                let mut m = 0;
                if me.shut == SHUTDOWN_MASK || me.state == TCP_CLOSE {
                    m |= POLLHUP;
                }
                if me.shut & RCV_SHUTDOWN != 0 {
                    m |= POLLIN | POLLRDNORM | POLLRDHUP;
                }
                let mut target = me.p.lowat.max(1);
                if let Some(u) = me.urg {
                    if u.seq == me.read && !me.p.oobinline {
                        target += 1;
                    }
                }
                if me.arrived() >= target || (me.done && me.arrived() > 0) {
                    m |= POLLIN | POLLRDNORM;
                }
                if me.shut & SEND_SHUTDOWN != 0 || Conn::writable(&h, *i) {
                    m |= POLLOUT | POLLWRNORM;
                }
                if me.urg.is_some_and(|u| u.valid) {
                    m |= POLLPRI;
                }
                if me.err.is_some() || err != 0 {
                    m |= POLLERR;
                }
                m
            }
        }
    }

    fn sockname(&self) -> Vec<u8> {
        let st = self.lock();
        let a = match &st.phase {
            Phase::Open(c, i) => c.lock()[*i].local,
            _ => st.local.unwrap_or_else(|| super::unspecified(self.family)),
        };
        super::encode(a, self.family)
    }

    fn peername(&self) -> Result<Vec<u8>, Errno> {
        let st = self.lock();
        match &st.phase {
            Phase::Open(c, i) => {
                let h = c.lock();
                if h[*i].state == TCP_CLOSE {
                    return Err(Errno::ENOTCONN);
                }
                Ok(super::encode(h[*i].remote, self.family))
            }
            _ => Err(Errno::ENOTCONN),
        }
    }

    fn inq(&self) -> Result<usize, Errno> {
        let st = self.lock();
        match &st.phase {
            Phase::Listen(_) => Err(Errno::EINVAL),
            Phase::Open(c, i) => {
                let mut h = c.lock();
                h[*i].release_held(Instant::now());
                Ok(h[*i].inq())
            }
            _ => Ok(0),
        }
    }

    fn outq(&self) -> Result<usize, Errno> {
        let st = self.lock();
        match &st.phase {
            Phase::Listen(_) => Err(Errno::EINVAL),
            Phase::Open(c, i) => {
                let h = c.lock();
                let peer = &h[1 - *i];
                Ok(peer.rx.len().saturating_sub(peer.p.window))
            }
            _ => Ok(0),
        }
    }

    fn atmark(&self) -> Result<bool, Errno> {
        let st = self.lock();
        match &st.phase {
            Phase::Listen(_) => Err(Errno::EINVAL),
            Phase::Open(c, i) => {
                let h = c.lock();
                Ok(h[*i].urg.is_some_and(|u| u.seq == h[*i].read))
            }
            _ => Ok(false),
        }
    }

    /// One /proc/net/tcp line's state and queues: (state, tx_queue, rx_queue).
    fn proc_info(&self) -> (u8, usize, usize) {
        let st = self.lock();
        match &st.phase {
            Phase::Listen(l) => (TCP_LISTEN, 0, l.queue.len()),
            Phase::Open(c, i) => {
                let h = c.lock();
                let peer = &h[1 - *i];
                (
                    h[*i].state,
                    peer.rx.len().saturating_sub(peer.p.window),
                    h[*i].inq(),
                )
            }
            Phase::SynSent(_) => (TCP_SYN_SENT, 0, 0),
            Phase::Closed => (TCP_CLOSE, 0, 0),
        }
    }
}

impl Socket for TcpSocket {
    fn common(&self) -> &SockCommon {
        &self.0.common
    }

    fn bind(&self, t: &Task, addr: &[u8]) -> Result<(), Errno> {
        self.0.bind(t, addr)
    }

    fn listen(&self, backlog: i32) -> Result<(), Errno> {
        self.0.listen(backlog)
    }

    fn accept(&self, _t: &Task, nonblock: bool) -> Result<Accepted, Errno> {
        self.0.accept(nonblock)
    }

    fn connect(&self, _t: &Task, addr: &[u8], nonblock: bool) -> Result<(), Errno> {
        self.0.connect(addr, nonblock)
    }

    fn shutdown(&self, how: u32) -> Result<(), Errno> {
        self.0.shutdown(how)
    }

    fn sockname(&self) -> Result<Vec<u8>, Errno> {
        Ok(self.0.sockname())
    }

    fn peername(&self) -> Result<Vec<u8>, Errno> {
        self.0.peername()
    }

    fn setsockopt(
        &self,
        _t: &Task,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Option<Result<(), Errno>> {
        Some(self.0.setsockopt(level, name, val))
    }

    fn getsockopt(
        &self,
        _t: &Task,
        level: i32,
        name: i32,
        len: usize,
    ) -> Option<Result<Vec<u8>, Errno>> {
        self.0.getsockopt(level, name, len)
    }

    fn send(&self, _t: Option<&Task>, msg: SendMsg<'_>) -> Result<usize, Errno> {
        self.0.send(msg)
    }

    fn recv(
        &self,
        _t: Option<&Task>,
        buf: &mut [u8],
        flags: u32,
        nonblock: bool,
    ) -> Result<Received, Errno> {
        self.0.recv(buf, flags, nonblock)
    }

    fn poll(&self) -> u32 {
        self.0.poll()
    }

    fn inq(&self) -> Result<usize, Errno> {
        self.0.inq()
    }

    fn outq(&self) -> Result<usize, Errno> {
        self.0.outq()
    }

    fn ioctl(&self, t: &Task, req: u32, arg: u64) -> Option<Result<u64, Errno>> {
        match req {
            SIOCATMARK => Some(
                self.0
                    .atmark()
                    .and_then(|m| t.write_val(arg, &i32::from(m)).map(|_| 0)),
            ),
            SIOCOUTQNSD => Some(
                self.0
                    .outq()
                    .and_then(|n| t.write_val(arg, &(n as i32)).map(|_| 0)),
            ),
            SIOCINQ => Some(
                self.0
                    .inq()
                    .and_then(|n| t.write_val(arg, &(n as i32)).map(|_| 0)),
            ),
            _ => None,
        }
    }

    fn listening(&self) -> bool {
        matches!(self.0.lock().phase, Phase::Listen(_))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// /proc/net/tcp or tcp6, as Linux's `tcp4_seq_show`/`tcp6_seq_show` print them (IPv4 lines
/// padded to 149 characters; kernel pointers shown as zeros, as to a reader without
/// CAP_SYSLOG).
pub fn proc_net(v6: bool) -> String {
    let mut out = String::new();
    if v6 {
        out.push_str("  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
    } else {
        out.push_str(&format!(
            "{:<149}\n",
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
        ));
    }
    let mut n = 0;
    let now = Instant::now();
    for e in TABLE.entries() {
        if super::proc_is_v6(e.family) != v6 {
            continue;
        }
        let remote = e.remote.unwrap_or_else(|| super::unspecified(e.family));
        let line = match (&e.usage, &e.sock) {
            (Use::TimeWait(until), _) => {
                // USER_HZ ticks left.
                let left = until.saturating_duration_since(now).as_millis() / 10;
                format!(
                    "{:4}: {} {} {:02X} {:08X}:{:08X} {:02X}:{:08X} {:08X} {:5} {:8} {} {} {:016X}",
                    n,
                    super::proc_addr(e.local, v6),
                    super::proc_addr(remote, v6),
                    TCP_TIME_WAIT,
                    0,
                    0,
                    3,
                    left,
                    0,
                    0,
                    0,
                    0,
                    3,
                    0
                )
            }
            (_, Some(s)) => {
                let (state, tx, rx) = s.proc_info();
                let local = {
                    let st = s.lock();
                    match &st.phase {
                        Phase::Open(c, i) => c.lock()[*i].local,
                        _ => e.local,
                    }
                };
                let (rto, ato, cwnd, thresh) = if state == TCP_LISTEN {
                    (100, 0, 10, 0)
                } else {
                    (20, 4, 10, -1)
                };
                format!(
                    "{:4}: {} {} {:02X} {:08X}:{:08X} {:02X}:{:08X} {:08X} {:5} {:8} {} {} {:016X} {} {} {} {} {}",
                    n,
                    super::proc_addr(local, v6),
                    super::proc_addr(remote, v6),
                    state,
                    tx,
                    rx,
                    0,
                    0,
                    0,
                    e.uid,
                    0,
                    s.common.ino,
                    1,
                    0,
                    rto,
                    ato,
                    0,
                    cwnd,
                    thresh
                )
            }
            (_, None) => continue,
        };
        if v6 {
            out.push_str(&line);
            out.push('\n');
        } else {
            out.push_str(&format!("{line:<149}\n"));
        }
        n += 1;
    }
    out
}

/// How often a send held back by the sandbox-wide socket memory limit looks again (memory that
/// other connections free wakes nobody here).
const PRESSURE_TICK: Duration = Duration::from_millis(10);

/// Waits as [`SockCommon::wait`] does (EAGAIN at once when `nonblock`, or once `timeout`
/// passes; ERESTARTSYS on a signal, EINTR when there is a timeout), and also looks again at
/// the instant `tick` names, if any (a deferred connection's time, memory pressure).
fn wait_ticking<T>(
    common: &SockCommon,
    nonblock: bool,
    timeout: Option<Duration>,
    tick: impl Fn() -> Option<Instant>,
    mut ready: impl FnMut() -> Option<Result<T, Errno>>,
) -> Result<T, Errno> {
    if nonblock {
        return ready().unwrap_or(Err(Errno::EAGAIN));
    }
    let deadline = timeout.map(|d| Instant::now() + d);
    loop {
        if let Some(r) = ready() {
            return r;
        }
        let until = match (deadline, tick()) {
            (Some(d), Some(t)) => Some(d.min(t)),
            (d, t) => d.or(t),
        };
        match block_on(&[&common.queue], until, &mut ready) {
            Err(Errno::ETIMEDOUT) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(Errno::EAGAIN);
                }
            }
            Err(Errno::ERESTARTSYS) if timeout.is_some() => return Err(Errno::EINTR),
            r => return r,
        }
    }
}

/// What an established connection's send buffer becomes.
fn grown_sndbuf(sndbuf: usize, locked: bool) -> usize {
    if locked {
        sndbuf
    } else {
        sndbuf.max(SNDBUF_EXPANDED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port_of(t: &Tcp) -> u16 {
        let raw = t.sockname();
        u16::from_be_bytes([raw[2], raw[3]])
    }

    #[test]
    fn proc_net_lists_listeners_and_connections_as_linux() {
        let l = Tcp::new(AF_INET, IPPROTO_TCP);
        l.listen(5).unwrap();
        let port = port_of(&l);
        let c = Tcp::new(AF_INET, IPPROTO_TCP);
        let dst = super::super::encode(SocketAddr::from(([127, 0, 0, 1], port)), AF_INET);
        c.connect(&dst, false).unwrap();
        let cport = port_of(&c);
        let text = proc_net(false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("  sl  local_address rem_address   st tx_queue"));
        assert!(lines.iter().all(|l| l.len() == 149), "{text}");
        // A listener's rx_queue is its accept queue (one connection waits).
        let listener =
            format!("00000000:{port:04X} 00000000:0000 0A 00000000:00000001 00:00000000 00000000");
        assert!(lines.iter().any(|l| l.contains(&listener)), "{text}");
        let client = format!("0100007F:{cport:04X} 0100007F:{port:04X} 01 ");
        assert!(lines.iter().any(|l| l.contains(&client)), "{text}");
        let server = format!("0100007F:{port:04X} 0100007F:{cport:04X} 01 ");
        assert!(lines.iter().any(|l| l.contains(&server)), "{text}");
        assert!(!proc_net(true).contains(&format!(":{port:04X} ")));
    }
}
