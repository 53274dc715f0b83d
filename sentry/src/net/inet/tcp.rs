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

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

use super::opts::{Ctx, InetOpts};
use super::ports::{Claim, Cover, Flags, Pick, Request, Rules, Table, Use};
use super::{mem_charge, mem_uncharge};
use crate::kernel::Task;
use crate::net::stack::{self, Destination};
use crate::net::{int_opt, Accepted, CmsgIn, CmsgOut, Received, SendMsg, SockCommon, Socket};

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
/// The MSS a loopback connection advertises (MTU less headers and timestamps).
const LOOPBACK_ADVMSS: u32 = 65_483;
/// TCP_MIN_MSS and MAX_TCP_WINDOW: TCP_MAXSEG's range.
const TCP_MIN_MSS: i32 = 88;
const MAX_TCP_WINDOW: i32 = 32_767;
/// MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT, MAX_TCP_SYNCNT.
const MAX_KEEPIDLE: i32 = 32_767;
const MAX_KEEPINTVL: i32 = 32_767;
const MAX_KEEPCNT: i32 = 127;
const MAX_SYNCNT: i32 = 127;
/// TCP_FIN_TIMEOUT_MAX in seconds.
const FIN_TIMEOUT_MAX: i32 = 120;
/// The congestion control algorithms the sandbox offers (Linux's default first).
const CONGESTION: &[&str] = &["cubic", "reno", "bbr"];

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

/// SOL_TCP options.
#[derive(Clone, Debug)]
struct TcpOpts {
    nodelay: bool,
    cork: bool,
    keepidle: i32,
    keepintvl: i32,
    keepcnt: i32,
    syncnt: i32,
    linger2: i32,
    defer_accept: u8,
    window_clamp: i32,
    user_timeout: i32,
    congestion: &'static str,
    user_mss: i32,
    quickack: bool,
    fastopen: i32,
    fastopen_connect: bool,
    fastopen_no_cookie: bool,
    notsent_lowat: u32,
    thin_linear: bool,
    inq: bool,
    tx_delay: i32,
    save_syn: i32,
}

impl Default for TcpOpts {
    fn default() -> Self {
        TcpOpts {
            nodelay: false,
            cork: false,
            keepidle: 7200,
            keepintvl: 75,
            keepcnt: 9,
            syncnt: 6,
            linger2: 0,
            defer_accept: 0,
            window_clamp: 0,
            user_timeout: 0,
            congestion: CONGESTION[0],
            user_mss: 0,
            quickack: true,
            fastopen: 0,
            fastopen_connect: false,
            fastopen_no_cookie: false,
            notsent_lowat: u32::MAX,
            thin_linear: false,
            inq: false,
            tx_delay: 0,
            save_syn: 0,
        }
    }
}

/// A listening socket's queues.
struct Listener {
    /// listen(2)'s backlog: the accept queue holds one more than this.
    backlog: i32,
    /// Established connections not yet accepted (the server's sides).
    queue: VecDeque<Arc<Tcp>>,
    /// Connects waiting for room in the queue (their SYNs, which Linux would retransmit).
    waiting: VecDeque<Arc<Pending>>,
}

impl Listener {
    fn full(&self) -> bool {
        self.queue.len() as i64 > i64::from(self.backlog)
    }
}

/// What a connect waiting for room in a listener's queue needs to be established later.
struct Pending {
    client: Weak<Tcp>,
    src: SocketAddr,
    dst: SocketAddr,
    params: Params,
    /// Set once: the connection, or why there is none.
    slot: Mutex<Option<Result<(Arc<Conn>, usize), Errno>>>,
}

impl Pending {
    fn lock(&self) -> MutexGuard<'_, Option<Result<(Arc<Conn>, usize), Errno>>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails the connect unless it was decided already; wakes the client.
    fn fail(&self, e: Errno) {
        let mut s = self.lock();
        if s.is_none() {
            *s = Some(Err(e));
            drop(s);
            if let Some(c) = self.client.upgrade() {
                c.common.wake(POLLIN | POLLOUT);
            }
        }
    }
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

/// Buffer sizes and reading options one side of a connection works with.
#[derive(Clone, Copy, Debug)]
struct Params {
    /// What it may have queued to it before its peer's further bytes count as unacknowledged
    /// (the receive window, from SO_RCVBUF).
    window: usize,
    /// Its send buffer (SO_SNDBUF).
    sndbuf: usize,
    /// SO_RCVLOWAT.
    lowat: usize,
    /// SO_OOBINLINE.
    oobinline: bool,
    /// TCP_NOTSENT_LOWAT.
    notsent_lowat: u32,
}

/// The receive window a SO_RCVBUF gives (Linux's scaling ratio on loopback leaves about 7/8 of
/// the buffer to payload).
fn window_of(rcvbuf: usize) -> usize {
    rcvbuf - rcvbuf / 8
}

/// An urgent byte (MSG_OOB).
#[derive(Clone, Copy, Debug)]
struct Urg {
    /// Its position in the stream.
    seq: u64,
    byte: u8,
    /// Not yet read with MSG_OOB (TCP_URG_VALID).
    valid: bool,
}

/// One side of a connection.
struct Half {
    state: u8,
    err: Option<Errno>,
    shut: u8,
    /// The peer's FIN has come (SOCK_DONE).
    done: bool,
    /// The side's file is closed.
    orphan: bool,
    local: SocketAddr,
    remote: SocketAddr,
    /// The port, while connected.
    claim: Option<Claim<Tcp>>,
    explicit: bool,
    /// Bytes travelling to this side, not yet read.
    rx: VecDeque<u8>,
    urg: Option<Urg>,
    /// Bytes read so far (the stream position of `rx`'s front).
    read: u64,
    p: Params,
    since: Instant,
    last_send: Instant,
    last_recv: Instant,
    bytes_sent: u64,
    bytes_received: u64,
    segs_out: u32,
    segs_in: u32,
}

impl Half {
    fn new(local: SocketAddr, remote: SocketAddr, p: Params) -> Half {
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
    fn end(&self) -> u64 {
        self.read + self.rx.len() as u64
    }

    /// Bytes readable before the urgent mark (all when none or inline): SIOCINQ.
    fn inq(&self) -> usize {
        let n = self.rx.len().min(self.p.window.max(1));
        match self.urg {
            Some(u) if !self.p.oobinline && u.seq >= self.read && u.seq < self.end() => {
                ((u.seq - self.read) as usize).min(n)
            }
            _ => n,
        }
    }

    /// Drops `n` bytes from the front, giving back their memory.
    fn consume(&mut self, n: usize) {
        self.rx.drain(..n);
        self.read += n as u64;
        mem_uncharge(n);
        if self.rx.is_empty() && self.rx.capacity() > (1 << 20) {
            self.rx = VecDeque::new();
        }
        if let Some(u) = self.urg {
            if self.read > u.seq {
                self.urg = None;
            }
        }
    }

    /// Drops everything queued.
    fn purge(&mut self) {
        let n = self.rx.len();
        self.consume(n);
    }

    /// Moves to CLOSE: the port goes unless it was asked for.
    fn to_close(&mut self) {
        self.state = TCP_CLOSE;
        if !self.explicit || self.orphan {
            self.claim = None;
        }
    }

    /// Moves to TIME_WAIT, which the port keeps for a while; the socket itself is closed then.
    fn to_time_wait(&mut self) {
        self.state = TCP_CLOSE;
        if let Some(c) = self.claim.take() {
            c.into_time_wait();
        }
    }

    /// Receives a RST: the error a read or write reports next, and CLOSE.
    fn reset(&mut self) {
        if self.state == TCP_CLOSE {
            return;
        }
        self.err = Some(match self.state {
            TCP_SYN_SENT => Errno::ECONNREFUSED,
            TCP_CLOSE_WAIT => Errno::EPIPE,
            _ => Errno::ECONNRESET,
        });
        self.shut = SHUTDOWN_MASK;
        self.to_close();
    }
}

impl Drop for Half {
    fn drop(&mut self) {
        mem_uncharge(self.rx.len());
    }
}

/// One connection: both sides and the bytes between them.
pub struct Conn {
    st: Mutex<[Half; 2]>,
    ends: [Weak<Tcp>; 2],
}

/// Wake-ups to deliver once the connection's lock is released.
#[derive(Default)]
struct Wakes([u32; 2]);

impl Conn {
    fn lock(&self) -> MutexGuard<'_, [Half; 2]> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self, w: Wakes) {
        for (i, band) in w.0.iter().enumerate() {
            if *band != 0 {
                if let Some(t) = self.ends[i].upgrade() {
                    t.common.wake(*band);
                }
            }
        }
    }

    /// Side `j` sends its FIN (shutdown(SHUT_WR) or close).
    fn fin(h: &mut [Half; 2], j: usize, w: &mut Wakes) {
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
            TCP_CLOSE_WAIT => h[j].to_close(),
            _ => return,
        }
        w.0[j] |= POLLOUT | POLLIN;
        if h[i].state == TCP_CLOSE {
            return;
        }
        h[i].done = true;
        h[i].shut |= RCV_SHUTDOWN;
        match h[i].state {
            TCP_ESTABLISHED => h[i].state = TCP_CLOSE_WAIT,
            TCP_FIN_WAIT1 | TCP_FIN_WAIT2 => h[i].to_time_wait(),
            _ => {}
        }
        w.0[i] |= POLLIN | POLLRDHUP | POLLOUT;
    }

    /// Side `j` sends a RST.
    fn rst(h: &mut [Half; 2], j: usize, w: &mut Wakes) {
        let i = 1 - j;
        h[i].reset();
        // What j had sent beyond i's window was still j's to send: gone with it.
        let keep = h[i].rx.len().min(h[i].p.window);
        if h[i].rx.len() > keep {
            let extra = h[i].rx.len() - keep;
            h[i].rx.truncate(keep);
            mem_uncharge(extra);
        }
        h[j].shut = SHUTDOWN_MASK;
        h[j].to_close();
        w.0[i] |= POLLIN | POLLOUT | POLLERR | POLLHUP;
        w.0[j] |= POLLIN | POLLOUT | POLLHUP;
    }

    /// Whether side `j` may write (tcp_poll's sk_stream_is_writeable and
    /// tcp_stream_memory_free).
    fn writable(h: &[Half; 2], j: usize) -> bool {
        let i = 1 - j;
        let queued = h[i].rx.len().saturating_sub(h[i].p.window);
        let sndbuf = h[j].p.sndbuf;
        sndbuf.saturating_sub(queued) >= queued / 2
            && (queued as u64) < u64::from(h[j].p.notsent_lowat)
    }

    /// Room for side `j`'s next bytes.
    fn room(h: &[Half; 2], j: usize) -> usize {
        let i = 1 - j;
        (h[i].p.window + h[j].p.sndbuf).saturating_sub(h[i].rx.len())
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

    /// Establishes a connection from a client to this listener (whose IP and TCP options are
    /// `ip` and `tcp`): the server's side is made, inheriting the listener's options as
    /// sk_clone does, and queued. Returns the connection and the client's side.
    #[allow(clippy::too_many_arguments)]
    fn establish(
        self: &Arc<Self>,
        ip: &InetOpts,
        tcp: &TcpOpts,
        l: &mut Listener,
        client: Weak<Tcp>,
        src: SocketAddr,
        dst: SocketAddr,
        cp: Params,
    ) -> (Arc<Conn>, usize) {
        let mut common = SockCommon::new(
            self.family,
            SOCK_STREAM,
            self.common.protocol,
            TCP_WMEM_DEFAULT,
            TCP_RMEM_DEFAULT,
        );
        // The accepted socket is owned as the listener is, not by the task that connected.
        common.uid = self.common.uid;
        common.gid = self.common.gid;
        {
            let mut opts = self.common.opts().clone();
            if !opts.sndbuf_locked {
                opts.sndbuf = opts.sndbuf.max(SNDBUF_EXPANDED);
            }
            *common.opts() = opts;
        }
        let child = Arc::new(Tcp {
            common,
            id: super::ports::new_id(),
            family: self.family,
            st: Mutex::new(State {
                ip: ip.clone(),
                tcp: tcp.clone(),
                ss: Ss::Connected,
                claim: None,
                explicit: true,
                local: Some(dst),
                phase: Phase::Closed,
                err: None,
                shut: 0,
            }),
        });
        let sp = child.params(tcp);
        let mut server = Half::new(dst, src, sp);
        server.explicit = true;
        let req = Request {
            id: child.id,
            family: self.family,
            cover: Cover::new(self.family, dst.ip(), ip.v6only),
            flags: self.flags(),
            local: dst,
            explicit: true,
        };
        server.claim = Some(TABLE.inherit(req, dst.port(), Some(src), Arc::downgrade(&child)));
        let client_half = Half::new(src, dst, cp);
        let conn = Arc::new(Conn {
            st: Mutex::new([client_half, server]),
            ends: [client, Arc::downgrade(&child)],
        });
        child.st.lock().unwrap_or_else(|e| e.into_inner()).phase = Phase::Open(conn.clone(), 1);
        l.queue.push_back(child);
        (conn, 0)
    }

    /// Completes waiting connects while the listener's queue has room.
    fn promote(self: &Arc<Self>, ip: &InetOpts, tcp: &TcpOpts, l: &mut Listener) {
        while !l.full() {
            let Some(p) = l.waiting.pop_front() else {
                break;
            };
            if p.lock().is_some() || p.client.strong_count() == 0 {
                continue;
            }
            let (conn, side) = self.establish(ip, tcp, l, p.client.clone(), p.src, p.dst, p.params);
            *p.lock() = Some(Ok((conn, side)));
            if let Some(c) = p.client.upgrade() {
                c.grow_sndbuf();
                c.common.wake(POLLOUT | POLLWRNORM);
            }
            self.common.wake(POLLIN | POLLRDNORM);
        }
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
        let refused = match stack::destination(dst) {
            Destination::Local => false,
            Destination::Unreachable(Errno::ECONNREFUSED) => true,
            Destination::Unreachable(e) => return Err(e),
            Destination::Outside(host) => {
                let src = SocketAddr::new(src_ip, st.local.map_or(0, |l| l.port()));
                return match super::outside::connect_tcp(src, host) {
                    Ok(never) => match never {},
                    Err(e) => Err(e),
                };
            }
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
        let listener = if refused {
            None
        } else {
            TABLE.listener(dst, src)
        };
        let Some(listener) = listener else {
            return self.refused(&mut st, nonblock);
        };
        let cp = self.params(&st.tcp);
        let mut lst = listener.st.lock().unwrap_or_else(|e| e.into_inner());
        let lstate = &mut *lst;
        let Phase::Listen(l) = &mut lstate.phase else {
            drop(lst);
            return self.refused(&mut st, nonblock);
        };
        if l.full() {
            let p = Arc::new(Pending {
                client: Arc::downgrade(self),
                src,
                dst,
                params: cp,
                slot: Mutex::new(None),
            });
            l.waiting.push_back(p.clone());
            drop(lst);
            st.phase = Phase::SynSent(p.clone());
            st.ss = Ss::Connecting;
            if nonblock {
                return Err(Errno::EINPROGRESS);
            }
            drop(st);
            return self.wait_connected(p, Errno::EINPROGRESS);
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

    /// An unlocked send buffer grows when a connection is established (tcp_sndbuf_expand).
    fn grow_sndbuf(&self) {
        let mut o = self.common.opts();
        if !o.sndbuf_locked {
            o.sndbuf = o.sndbuf.max(SNDBUF_EXPANDED);
        }
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
                if st.explicit {
                    if let Some(c) = claim {
                        TABLE.set_connected(
                            &c,
                            st.local.unwrap_or_else(|| super::unspecified(self.family)),
                            None,
                        );
                        st.claim = Some(c);
                    }
                    if let Some(l) = st.local {
                        if !st.claim.is_some() {
                            st.local = None;
                        } else {
                            st.local = Some(l);
                        }
                    }
                } else {
                    st.local = None;
                }
            }
        }
        st.shut = 0;
        st.ss = Ss::Unconnected;
        self.common.wake(POLLIN | POLLOUT);
        Ok(())
    }

    fn stop_listening(l: Listener) {
        for c in l.queue {
            c.abort();
        }
        for p in l.waiting {
            p.fail(Errno::ECONNREFUSED);
        }
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
                    let unread = !h[i].rx.is_empty();
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

    fn accept(self: &Arc<Self>, nonblock: bool) -> Result<Accepted, Errno> {
        let timeout = self.common.opts().rcvtimeo;
        let child = self.common.wait(&[], nonblock, timeout, || {
            let mut st = self.lock();
            let (ip, tcp) = (st.ip.clone(), st.tcp.clone());
            match &mut st.phase {
                Phase::Listen(l) => match l.queue.pop_front() {
                    Some(c) => {
                        self.promote(&ip, &tcp, l);
                        Some(Ok(c))
                    }
                    None => None,
                },
                _ => Some(Err(Errno::EINVAL)),
            }
        });
        let child = match child {
            Err(Errno::EAGAIN) if nonblock || timeout.is_some() => return Err(Errno::EAGAIN),
            r => r?,
        };
        let peer = {
            let st = child.lock();
            match &st.phase {
                Phase::Open(c, i) => c.lock()[*i].remote,
                _ => super::unspecified(self.family),
            }
        };
        Ok(Accepted {
            peer: super::encode(peer, self.family),
            sock: Box::new(TcpSocket(child)),
        })
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
        let oob = msg.flags & MSG_OOB != 0;
        let timeout = self.common.opts().sndtimeo;
        let mut done = 0usize;
        let r = self.common.wait(&[], msg.nonblock, timeout, || {
            let mut w = Wakes::default();
            let r = {
                let mut h = conn.lock();
                Self::send_locked(&mut h, j, data, &mut done, oob, &mut w)
            };
            conn.wake(w);
            r
        });
        match r {
            Ok(n) => Ok(n),
            Err(_) if done > 0 => Ok(done),
            Err(e) => Err(e),
        }
    }

    /// One round of a send under the connection's lock: as much as fits; Some when the send
    /// is over (all sent, or an error).
    fn send_locked(
        h: &mut [Half; 2],
        j: usize,
        data: &[u8],
        done: &mut usize,
        oob: bool,
        w: &mut Wakes,
    ) -> Option<Result<usize, Errno>> {
        let i = 1 - j;
        if let Some(e) = h[j].err.take() {
            return Some(Err(e));
        }
        if h[j].shut & SEND_SHUTDOWN != 0 || !matches!(h[j].state, TCP_ESTABLISHED | TCP_CLOSE_WAIT)
        {
            return Some(Err(Errno::EPIPE));
        }
        if data.is_empty() && !oob {
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
        if n > 0 {
            h[i].rx.extend(&data[*done..*done + n]);
            *done += n;
            h[j].bytes_sent += n as u64;
            h[j].segs_out += 1;
            h[j].last_send = Instant::now();
            h[i].bytes_received += n as u64;
            h[i].segs_in += 1;
            h[i].last_recv = h[j].last_send;
            w.0[i] |= POLLIN | POLLRDNORM;
            if oob && *done == data.len() {
                let end = h[i].end();
                Self::mark_urgent_at(&mut h[i], end - 1);
                w.0[i] |= POLLPRI;
            }
        } else if oob && data.is_empty() {
            let end = h[i].end();
            if end > 0 {
                Self::mark_urgent_at(&mut h[i], end - 1);
            }
            return Some(Ok(0));
        }
        if *done == data.len() {
            return Some(Ok(*done));
        }
        None
    }

    /// The byte at `ptr` is urgent (tcp_check_urg and tcp_urg).
    fn mark_urgent_at(h: &mut Half, ptr: u64) {
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

    fn recv(
        self: &Arc<Self>,
        buf: &mut [u8],
        flags: u32,
        nonblock: bool,
    ) -> Result<Received, Errno> {
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
            return Self::recv_urgent(&conn, i, buf, flags);
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
        let r = self.common.wait(&[], nonblock, timeout, || {
            let mut w = Wakes::default();
            let r = {
                let mut h = conn.lock();
                let writable_before = Conn::writable(&h, 1 - i);
                let n = Self::take(
                    &mut h[i],
                    &mut buf[copied..],
                    if peek { copied } else { 0 },
                    peek,
                    discard,
                    copied > 0,
                );
                copied += n;
                if n > 0 && !peek && !writable_before && Conn::writable(&h, 1 - i) {
                    w.0[1 - i] |= POLLOUT | POLLWRNORM;
                } else if n > 0 && !peek {
                    // A writer blocked on room may go on (epoll edge users wait for POLLOUT's
                    // transition only).
                    w.0[1 - i] |= 0;
                }
                let hi = &mut h[i];
                if copied >= target.max(1) || (copied > 0 && copied == buf.len()) {
                    Some(Ok(copied))
                } else if copied > 0
                    && (hi.err.is_some()
                        || hi.state == TCP_CLOSE
                        || hi.done
                        || hi.shut & RCV_SHUTDOWN != 0)
                {
                    Some(Ok(copied))
                } else if copied == 0 && buf.is_empty() {
                    Some(Ok(0))
                } else if copied == 0 && hi.done {
                    Some(Ok(0))
                } else if copied == 0 && hi.err.is_some() {
                    hi.err.take().map(Err)
                } else if copied == 0 && hi.shut & RCV_SHUTDOWN != 0 {
                    Some(Ok(0))
                } else if copied == 0 && hi.state == TCP_CLOSE {
                    Some(Err(Errno::ENOTCONN))
                } else {
                    None
                }
            };
            conn.wake(w);
            r
        });
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

    /// Copies (or with `discard` drops; with `peek` leaves) bytes from the front of a side's
    /// queue, `off` bytes in for a peek, stopping at the urgent mark as tcp_recvmsg does: a read
    /// that has copied something stops before it; one at it passes over the urgent byte
    /// unless SO_OOBINLINE.
    fn take(
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
            if pos_off >= h.rx.len() {
                break;
            }
            let mut avail = h.rx.len() - pos_off;
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
    fn recv_urgent(
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

    fn poll(&self) -> u32 {
        let st = self.lock();
        let err = if st.err.is_some() { POLLERR } else { 0 };
        match &st.phase {
            Phase::Listen(l) => {
                if l.queue.is_empty() {
                    0
                } else {
                    POLLIN | POLLRDNORM
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
                let h = c.lock();
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
                if me.rx.len() >= target || (me.done && !me.rx.is_empty()) {
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

    /// Copies new buffer sizes and reading options into the connection.
    fn sync_params(&self, st: &State) {
        if let Phase::Open(c, i) = &st.phase {
            let p = self.params(&st.tcp);
            let mut w = Wakes::default();
            {
                let mut h = c.lock();
                let was = Conn::writable(&h, *i);
                h[*i].p = p;
                if !was && Conn::writable(&h, *i) {
                    w.0[*i] |= POLLOUT;
                }
                w.0[*i] |= POLLIN;
            }
            c.wake(w);
        }
    }

    fn setsockopt(&self, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        match level {
            SOL_SOCKET => {
                self.common.setsockopt(name, val)?;
                match name {
                    SO_SNDBUF | SO_RCVBUF | SO_SNDBUFFORCE | SO_RCVBUFFORCE | SO_RCVLOWAT
                    | SO_OOBINLINE => self.sync_params(&st),
                    SO_REUSEADDR | SO_REUSEPORT | SO_BINDTODEVICE | SO_BINDTOIFINDEX => {
                        let f = self.flags();
                        if let Some(c) = &st.claim {
                            TABLE.set_flags(c, f);
                        }
                    }
                    _ => {}
                }
                Ok(())
            }
            SOL_TCP => self.set_tcp(&mut st, name, val),
            _ => {
                let c = self.ctx(&st);
                match st.ip.setsockopt(c, level, name, val) {
                    Some(r) => r,
                    None => Err(Errno::ENOPROTOOPT),
                }
            }
        }
    }

    fn set_tcp(&self, st: &mut State, name: i32, val: &[u8]) -> Result<(), Errno> {
        if name == TCP_CONGESTION {
            let s: Vec<u8> = val
                .iter()
                .copied()
                .take(TCP_CA_NAME_MAX - 1)
                .take_while(|b| *b != 0)
                .collect();
            let n = CONGESTION
                .iter()
                .find(|c| c.as_bytes() == s.as_slice())
                .ok_or(Errno::ENOENT)?;
            st.tcp.congestion = n;
            return Ok(());
        }
        if name == TCP_ULP {
            return Err(Errno::ENOENT);
        }
        if name == TCP_MD5SIG || name == TCP_MD5SIG_EXT {
            return Err(Errno::EINVAL);
        }
        if name == TCP_FASTOPEN_KEY {
            return if super::current_capable(CAP_NET_ADMIN) {
                Ok(())
            } else {
                Err(Errno::EPERM)
            };
        }
        if val.len() < 4 {
            return Err(Errno::EINVAL);
        }
        let v = int_opt(val)?;
        let state = Self::sk_state(st);
        let o = &mut st.tcp;
        match name {
            TCP_NODELAY => o.nodelay = v != 0,
            TCP_CORK => o.cork = v != 0,
            TCP_MAXSEG => {
                if v != 0 && !(TCP_MIN_MSS..=MAX_TCP_WINDOW).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.user_mss = v;
            }
            TCP_KEEPIDLE => {
                if !(1..=MAX_KEEPIDLE).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.keepidle = v;
            }
            TCP_KEEPINTVL => {
                if !(1..=MAX_KEEPINTVL).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.keepintvl = v;
            }
            TCP_KEEPCNT => {
                if !(1..=MAX_KEEPCNT).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.keepcnt = v;
            }
            TCP_SYNCNT => {
                if !(1..=MAX_SYNCNT).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.syncnt = v;
            }
            TCP_LINGER2 => {
                o.linger2 = if v < 0 { -1 } else { v.min(FIN_TIMEOUT_MAX) };
            }
            TCP_DEFER_ACCEPT => o.defer_accept = secs_to_retrans(v, 1, 120),
            TCP_WINDOW_CLAMP => {
                if v == 0 {
                    if state != TCP_CLOSE {
                        return Err(Errno::EINVAL);
                    }
                    o.window_clamp = 0;
                } else {
                    o.window_clamp = v.max((crate::net::SOCK_MIN_RCVBUF / 2) as i32);
                }
            }
            TCP_USER_TIMEOUT => {
                if v < 0 {
                    return Err(Errno::EINVAL);
                }
                o.user_timeout = v;
            }
            TCP_QUICKACK => o.quickack = v != 0,
            TCP_FASTOPEN => {
                if v < 0 || !matches!(state, TCP_CLOSE | TCP_LISTEN) {
                    return Err(Errno::EINVAL);
                }
                o.fastopen = v;
            }
            TCP_FASTOPEN_CONNECT => {
                if !(0..=1).contains(&v) || state != TCP_CLOSE {
                    return Err(Errno::EINVAL);
                }
                o.fastopen_connect = v != 0;
            }
            TCP_FASTOPEN_NO_COOKIE => {
                if !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.fastopen_no_cookie = v != 0;
            }
            TCP_NOTSENT_LOWAT => {
                o.notsent_lowat = v as u32;
                self.sync_params(st);
            }
            TCP_THIN_LINEAR_TIMEOUTS => {
                if !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.thin_linear = v != 0;
            }
            TCP_THIN_DUPACK => {
                if !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
            }
            TCP_INQ => {
                if !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.inq = v != 0;
            }
            TCP_TX_DELAY => o.tx_delay = v.max(0),
            TCP_SAVE_SYN => {
                if !(0..=2).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.save_syn = v;
            }
            TCP_REPAIR | TCP_REPAIR_QUEUE | TCP_QUEUE_SEQ | TCP_REPAIR_OPTIONS
            | TCP_REPAIR_WINDOW | TCP_TIMESTAMP => {
                // Repair mode needs CAP_NET_ADMIN and is not offered.
                return Err(Errno::EPERM);
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    fn getsockopt(&self, level: i32, name: i32, len: usize) -> Option<Result<Vec<u8>, Errno>> {
        let mut st = self.lock();
        match level {
            SOL_SOCKET => match name {
                SO_ERROR => {
                    let e = self.take_error(&mut st).map_or(0, |e| e.0);
                    Some(Ok(e.to_ne_bytes().to_vec()))
                }
                SO_PEERCRED => {
                    // An inet socket has no peer credentials: Linux reports the overflow ids.
                    let c = Ucred {
                        pid: 0,
                        uid: 65534,
                        gid: 65534,
                    };
                    Some(Ok(syscalls::bytes_of(&c).to_vec()))
                }
                _ => None,
            },
            SOL_TCP => Some(self.get_tcp(&st, name, len)),
            _ => {
                let c = self.ctx(&st);
                st.ip.getsockopt(c, level, name, len)
            }
        }
    }

    fn get_tcp(&self, st: &State, name: i32, len: usize) -> Result<Vec<u8>, Errno> {
        let o = &st.tcp;
        let state = Self::sk_state(st);
        let v = match name {
            TCP_NODELAY => i32::from(o.nodelay),
            TCP_CORK => i32::from(o.cork),
            TCP_MAXSEG => {
                if o.user_mss != 0 && matches!(state, TCP_CLOSE | TCP_LISTEN) {
                    o.user_mss
                } else if matches!(st.phase, Phase::Open(..)) {
                    if o.user_mss != 0 {
                        o.user_mss.min(LOOPBACK_MSS as i32)
                    } else {
                        LOOPBACK_MSS as i32
                    }
                } else {
                    MSS_DEFAULT as i32
                }
            }
            TCP_KEEPIDLE => o.keepidle,
            TCP_KEEPINTVL => o.keepintvl,
            TCP_KEEPCNT => o.keepcnt,
            TCP_SYNCNT => o.syncnt,
            TCP_LINGER2 => {
                if o.linger2 < 0 {
                    -1
                } else if o.linger2 == 0 {
                    60
                } else {
                    o.linger2
                }
            }
            TCP_DEFER_ACCEPT => retrans_to_secs(o.defer_accept, 1, 120),
            TCP_WINDOW_CLAMP => o.window_clamp,
            TCP_USER_TIMEOUT => o.user_timeout,
            TCP_QUICKACK => i32::from(o.quickack),
            TCP_FASTOPEN => o.fastopen,
            TCP_FASTOPEN_CONNECT => i32::from(o.fastopen_connect),
            TCP_FASTOPEN_NO_COOKIE => i32::from(o.fastopen_no_cookie),
            TCP_NOTSENT_LOWAT => o.notsent_lowat as i32,
            TCP_THIN_LINEAR_TIMEOUTS => i32::from(o.thin_linear),
            TCP_THIN_DUPACK => 0,
            TCP_INQ => i32::from(o.inq),
            TCP_TX_DELAY => o.tx_delay,
            TCP_SAVE_SYN => o.save_syn,
            TCP_SAVED_SYN => return Err(Errno::ENOENT),
            TCP_TIMESTAMP => 0,
            TCP_CONGESTION => {
                let mut b = vec![0u8; TCP_CA_NAME_MAX];
                b[..o.congestion.len()].copy_from_slice(o.congestion.as_bytes());
                b.truncate(len.min(TCP_CA_NAME_MAX));
                return Ok(b);
            }
            TCP_ULP => return Ok(Vec::new()),
            TCP_CC_INFO => return Ok(Vec::new()),
            TCP_INFO => {
                let info = self.info(st);
                let b = syscalls::bytes_of(&info);
                return Ok(b[..len.min(b.len())].to_vec());
            }
            TCP_REPAIR | TCP_REPAIR_WINDOW | TCP_QUEUE_SEQ | TCP_REPAIR_QUEUE => {
                return Err(Errno::EPERM)
            }
            _ => return Err(Errno::ENOPROTOOPT),
        };
        Ok(v.to_ne_bytes()[..len.min(4)].to_vec())
    }

    /// TCP_INFO: the state and the counters a queue-pair connection can know.
    fn info(&self, st: &State) -> TcpInfo {
        let mut t = TcpInfo {
            tcpi_state: Self::sk_state(st),
            tcpi_rto: 1_000_000,
            tcpi_ato: 0,
            tcpi_snd_mss: MSS_DEFAULT,
            tcpi_rcv_mss: MSS_DEFAULT,
            tcpi_snd_ssthresh: 0x7fff_ffff,
            tcpi_snd_cwnd: 10,
            tcpi_advmss: MSS_DEFAULT,
            tcpi_reordering: 3,
            tcpi_pmtu: 0,
            tcpi_max_pacing_rate: u64::MAX,
            tcpi_pacing_rate: u64::MAX,
            ..Default::default()
        };
        if let Phase::Listen(l) = &st.phase {
            // tcp_get_info: a listener reports its queue in unacked and its backlog in sacked.
            t.tcpi_unacked = l.queue.len() as u32;
            t.tcpi_sacked = l.backlog.max(0) as u32;
        }
        if let Phase::Open(c, i) = &st.phase {
            let h = c.lock();
            let me = &h[*i];
            let peer = &h[1 - *i];
            let now = Instant::now();
            let ms = |d: Instant| {
                now.saturating_duration_since(d)
                    .as_millis()
                    .min(u128::from(u32::MAX)) as u32
            };
            t.tcpi_options = TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE;
            t.tcpi_wscale = 0x77;
            t.tcpi_rto = 201_000;
            t.tcpi_ato = 40_000;
            t.tcpi_snd_mss = LOOPBACK_MSS;
            t.tcpi_rcv_mss = 536;
            t.tcpi_pmtu = super::path_mtu(me.remote.ip());
            t.tcpi_advmss = LOOPBACK_ADVMSS;
            t.tcpi_rtt = 10;
            t.tcpi_rttvar = 5;
            t.tcpi_min_rtt = 5;
            let unacked = peer.rx.len().saturating_sub(peer.p.window);
            t.tcpi_unacked = unacked.div_ceil(LOOPBACK_MSS as usize) as u32;
            t.tcpi_notsent_bytes = unacked as u32;
            t.tcpi_last_data_sent = ms(me.last_send);
            t.tcpi_last_data_recv = ms(me.last_recv);
            t.tcpi_last_ack_recv = ms(me.last_send.max(me.since));
            t.tcpi_rcv_ssthresh = me.p.window as u32;
            t.tcpi_rcv_space = me.p.window as u32;
            t.tcpi_bytes_sent = me.bytes_sent;
            // The SYN's sequence number counts as acknowledged.
            t.tcpi_bytes_acked = me.bytes_sent - unacked as u64 + 1;
            t.tcpi_bytes_received = me.bytes_received;
            t.tcpi_segs_out = me.segs_out + 2;
            t.tcpi_segs_in = me.segs_in + 2;
            t.tcpi_data_segs_out = me.segs_out;
            t.tcpi_data_segs_in = me.segs_in;
            t.tcpi_delivered = me.segs_out + 1;
            t.tcpi_snd_wnd = peer.p.window as u32;
            t.tcpi_rcv_wnd = me.p.window as u32;
        }
        t
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
            Phase::Open(c, i) => Ok(c.lock()[*i].inq()),
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

/// TCP_DEFER_ACCEPT's seconds as SYN-ACK retransmissions (secs_to_retrans).
fn secs_to_retrans(seconds: i32, timeout: i32, rto_max: i32) -> u8 {
    let mut res = 0u8;
    if seconds > 0 {
        let mut period = timeout;
        let mut timeout = timeout;
        res = 1;
        while seconds > period && res < 255 {
            res += 1;
            timeout <<= 1;
            if timeout > rto_max {
                timeout = rto_max;
            }
            period += timeout;
        }
    }
    res
}

/// And back (retrans_to_secs).
fn retrans_to_secs(retrans: u8, timeout: i32, rto_max: i32) -> i32 {
    let mut period = 0;
    if retrans > 0 {
        let mut timeout = timeout;
        period = timeout;
        for _ in 1..retrans {
            timeout <<= 1;
            if timeout > rto_max {
                timeout = rto_max;
            }
            period += timeout;
        }
    }
    period
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
