// SPDX-License-Identifier: Apache-2.0
//! AF_UNIX sockets (Linux `net/unix/af_unix.c`; gVisor `pkg/sentry/socket/unix`): stream,
//! datagram and seqpacket sockets inside the sentry.
//!
//! - [`name`]: addresses. Path names are socket inodes made in the sandbox's VFS and found
//!   again by their (st_dev, st_ino), as FIFOs are; abstract names (leading NUL) live in a
//!   table of the sandbox's own; autobind; the one place a host socket met through a volume
//!   is told apart (refused, or with `--host-uds open` connected by [`host`]).
//! - [`stream`]: SOCK_STREAM sends and receives, and connect/listen/accept for stream and
//!   seqpacket sockets.
//! - [`dgram`]: SOCK_DGRAM and SOCK_SEQPACKET sends and receives, datagram connect, and the
//!   wake-up relay a datagram sender waiting for a full receiver needs.
//! - [`msg`]: queued messages and the sender's charge for them (Linux's skb truesize, so the
//!   EAGAIN points and SIOCOUTQ are Linux's).
//! - [`gc`]: descriptors in flight (ETOOMANYREFS) and the collection of sockets only their
//!   own queues keep alive.
//! - [`host`]: `--host-uds open`: a socket connected to a host socket reached through a
//!   volume carries its traffic on a host socket the gofer connected.
//!
//! A socket is a [`Sock`] behind an `Arc`; the file holds a [`UnixSocket`], whose drop is the
//! socket's release. Connected sockets hold each other (`peer`), as Linux's `unix_peer`; a
//! release breaks the pair. Locks: a socket's state lock; two at once in address order; the
//! options lock (in `SockCommon`) and the name, relay and in-flight tables' locks inside
//! them; the in-flight table before any socket's. Nothing that can drop a file (a message, a
//! socket's last reference) is dropped while a socket's lock is held: a file's drop may
//! release another socket, which takes locks.

mod dgram;
mod gc;
mod host;
mod msg;
mod name;
mod stream;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use self::msg::Msg;
use self::name::Name;
use super::{
    Accepted, Fill, Received, SendMsg, Sink, SliceSink, SockCommon, Socket, SocketPair,
    WMEM_DEFAULT,
};
use crate::kernel::block::WaitQueue;
use crate::kernel::Task;

/// net.unix.max_dgram_qlen: the datagrams a receiver not connected to the sender queues.
const MAX_DGRAM_QLEN: usize = 10;

/// sk_shutdown bits.
const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;
const SHUTDOWN_MASK: u8 = 3;

/// sk_state, as Linux's TCP_* values name them for unix sockets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// TCP_CLOSE: unconnected.
    Close,
    /// TCP_LISTEN.
    Listen,
    /// TCP_ESTABLISHED: connected (or, datagram, connected to or by someone).
    Established,
}

/// What a socket's state lock guards.
struct St {
    state: State,
    shutdown: u8,
    /// sk_err, taken by the next operation that reports it.
    err: Option<Errno>,
    /// Released (SOCK_DEAD).
    dead: bool,
    /// unix_peer.
    peer: Option<Arc<Sock>>,
    /// The receive queue.
    queue: VecDeque<Msg>,
    /// A listener's connections not yet accepted (Linux keeps them on the receive queue).
    backlog: VecDeque<Arc<Sock>>,
    /// sk_max_ack_backlog: the listen backlog, or max_dgram_qlen.
    max_ack_backlog: usize,
    /// sk_peer_pid and sk_peer_cred as SO_PEERCRED shows them.
    peer_cred: Option<Ucred>,
    /// Stream: a queued message is the out-of-band byte.
    oob: bool,
}

/// A unix socket.
pub(crate) struct Sock {
    common: SockCommon,
    /// SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET.
    stype: u32,
    st: Mutex<St>,
    /// The bound (or, accepted, inherited) address.
    name: OnceLock<Name>,
    /// Serialises binds (Linux's bindlock).
    bindlock: Mutex<()>,
    /// Serialises stream readers (Linux's iolock): a reader copies out with the state lock
    /// let go.
    iolock: Mutex<()>,
    /// What queued messages charge this sender (sk_wmem_alloc less its initial 1).
    wmem: AtomicUsize,
    /// Linux's peer_wait: connectors waiting for backlog room, datagram senders for queue room.
    peer_wait: WaitQueue,
    /// Has a file (an accepted or created socket); false for a connection not yet accepted.
    has_socket: AtomicBool,
    /// SOCKWQ_ASYNC_NOSPACE: a sender found no room, so room coming signals O_ASYNC owners.
    nospace: AtomicBool,
    /// Readers blocked in a stream receive (SOCKWQ_ASYNC_WAITDATA: no SIGIO for data then).
    waitdata: AtomicUsize,
    /// Registered in the relay as a datagram sender waiting for this socket's room.
    relay_waiters: AtomicUsize,
    /// Key in the table of all sockets (/proc/net/unix).
    seq: u64,
    /// Connected to a host socket (`--host-uds open`): every send and receive goes to it.
    /// Set under the state lock; nothing is locked while it is held.
    host: Mutex<Option<Arc<host::HostConn>>>,
    /// Whether `host` is set (checked first, without the lock, by every operation).
    hosted: AtomicBool,
    /// Datagram: the host socket of the last send to a host socket by address.
    host_to: Mutex<Option<Arc<host::HostConn>>>,
    /// The Landlock domain of the task that made it (abstract-socket scoping).
    landlock: Option<Arc<crate::kernel::landlock::Domain>>,
}

/// Every unix socket, by creation order (for /proc/net/unix).
fn all() -> MutexGuard<'static, BTreeMap<u64, Weak<Sock>>> {
    static ALL: Mutex<BTreeMap<u64, Weak<Sock>>> = Mutex::new(BTreeMap::new());
    ALL.lock().unwrap_or_else(|e| e.into_inner())
}

static NEXT_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Sock {
    fn new(stype: u32, has_socket: bool) -> Arc<Sock> {
        Sock::with_common(
            stype,
            has_socket,
            SockCommon::new(AF_UNIX, stype, 0, WMEM_DEFAULT, WMEM_DEFAULT),
        )
    }

    /// The server's end of a connection to `listener`: its inode belongs to the listener's
    /// owner (Linux makes it at accept, as the accepting task, which is the listener's owner
    /// but for sockets passed to another user).
    fn embryo(listener: &Sock) -> Arc<Sock> {
        let mut common = SockCommon::new(AF_UNIX, listener.stype, 0, WMEM_DEFAULT, WMEM_DEFAULT);
        common.uid = listener.common.uid;
        common.gid = listener.common.gid;
        Sock::with_common(listener.stype, false, common)
    }

    fn with_common(stype: u32, has_socket: bool, common: SockCommon) -> Arc<Sock> {
        let seq = NEXT_SEQ.fetch_add(1, Ordering::Relaxed);
        let sk = Arc::new(Sock {
            common,
            stype,
            st: Mutex::new(St {
                state: State::Close,
                shutdown: 0,
                err: None,
                dead: false,
                peer: None,
                queue: VecDeque::new(),
                backlog: VecDeque::new(),
                max_ack_backlog: MAX_DGRAM_QLEN,
                peer_cred: None,
                oob: false,
            }),
            name: OnceLock::new(),
            bindlock: Mutex::new(()),
            iolock: Mutex::new(()),
            wmem: AtomicUsize::new(0),
            peer_wait: WaitQueue::default(),
            has_socket: AtomicBool::new(has_socket),
            nospace: AtomicBool::new(false),
            waitdata: AtomicUsize::new(0),
            relay_waiters: AtomicUsize::new(0),
            seq,
            host: Mutex::new(None),
            hosted: AtomicBool::new(false),
            host_to: Mutex::new(None),
            landlock: crate::kernel::landlock::current_domain(),
        });
        all().insert(seq, Arc::downgrade(&sk));
        sk
    }

    fn lock(&self) -> MutexGuard<'_, St> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The host socket this socket is connected to, if any.
    fn host(&self) -> Option<Arc<host::HostConn>> {
        if !self.hosted.load(Ordering::Acquire) {
            return None;
        }
        crate::kernel::lock(&self.host).clone()
    }

    /// Connects this socket to a host socket, or (None) no longer; returns the previous one
    /// (to be dropped with no lock held).
    fn set_host(&self, h: Option<Arc<host::HostConn>>) -> Option<Arc<host::HostConn>> {
        let mut g = crate::kernel::lock(&self.host);
        self.hosted.store(h.is_some(), Ordering::Release);
        std::mem::replace(&mut *g, h)
    }

    fn host_to(&self) -> Option<Arc<host::HostConn>> {
        crate::kernel::lock(&self.host_to).clone()
    }

    fn set_host_to(&self, h: Option<Arc<host::HostConn>>) {
        let old = std::mem::replace(&mut *crate::kernel::lock(&self.host_to), h);
        drop(old);
    }

    fn is(&self, other: &Sock) -> bool {
        std::ptr::eq(self, other)
    }

    fn sndbuf(&self) -> usize {
        self.common.opts().sndbuf
    }

    fn passcred(&self) -> bool {
        self.common.opts().passcred
    }

    /// The address as getsockname shows it: the bound name, or just the family.
    fn addr(&self) -> Vec<u8> {
        match self.name.get() {
            Some(n) => n.addr.to_vec(),
            None => AF_UNIX.to_ne_bytes().to_vec(),
        }
    }

    /// The bound name's bytes, if bound (a message's source address).
    fn bound_addr(&self) -> Option<Vec<u8>> {
        self.name.get().map(|n| n.addr.to_vec())
    }

    /// Charges a queued message's truesize.
    fn charge(&self, n: usize) {
        self.wmem.fetch_add(n, Ordering::Relaxed);
    }

    /// A queued message went (`sock_wfree` and `unix_write_space`): writers and pollers hear
    /// of room once the socket is writable.
    fn uncharge(&self, n: usize) {
        let left = self.wmem.fetch_sub(n, Ordering::AcqRel).saturating_sub(n);
        let sndbuf = self.sndbuf();
        if writable_at(left, sndbuf) {
            self.write_space();
        } else if left < sndbuf && self.nospace.load(Ordering::Acquire) {
            // A sender that waits for room may go on now (its wait ends below the send
            // buffer): woken now, not at a quarter, it takes the room while it spins instead
            // of sleeping through the reader's next buffers and paying a cross-vCPU wake-up.
            // Pollers are woken too but find the socket not yet writable, and edge-triggered
            // epoll counts no wake-up: what they observe is Linux's.
            self.common.queue.wake();
        }
    }

    fn write_space(&self) {
        self.common.wake_waiters(POLLOUT | POLLWRNORM | POLLWRBAND);
        if self.nospace.swap(false, Ordering::AcqRel) {
            self.common
                .fasync
                .notify(POLL_OUT, POLLOUT | POLLWRNORM | POLLWRBAND);
        }
    }

    /// Data or a connection came (`sock_def_readable`).
    fn data_ready(&self) {
        self.common.wake_waiters(POLLIN | POLLRDNORM);
        self.data_ready_async();
    }

    /// The O_ASYNC half of [`Sock::data_ready`]: SIGIO unless a reader sleeps waiting.
    fn data_ready_async(&self) {
        if self.waitdata.load(Ordering::Acquire) == 0 {
            self.common.fasync.notify(POLL_IN, POLLIN | POLLRDNORM);
        }
    }

    /// The state changed (`sock_def_wakeup`): every waiter rechecks.
    fn state_change(&self) {
        self.common
            .wake_waiters(POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM | POLLHUP | POLLRDHUP);
    }

    /// `sk_wake_async(SOCK_WAKE_WAITD, band)` for a shutdown or a peer's close.
    fn async_waitd(&self, code: i32, band: u32) {
        if self.waitdata.load(Ordering::Acquire) == 0 {
            self.common.fasync.notify(code, band);
        }
    }

    /// An error was set (`sock_def_error_report`).
    fn error_report(&self) {
        self.common.wake_waiters(POLLERR);
        self.common.fasync.notify(POLL_ERR, POLLERR);
    }

    /// Wakes what waits on peer_wait, and relays the wake-up to datagram senders that polled
    /// this socket full.
    fn wake_peer_wait(&self) {
        self.peer_wait.notify_all();
        dgram::relay(self);
    }

    fn peer(&self) -> Option<Arc<Sock>> {
        self.lock().peer.clone()
    }

    fn state(&self) -> State {
        self.lock().state
    }

    /// Takes the receive queue and the pending connections (the collector's purge).
    fn purge_queues(&self) -> (VecDeque<Msg>, VecDeque<Arc<Sock>>) {
        let mut s = self.lock();
        s.oob = false;
        (std::mem::take(&mut s.queue), std::mem::take(&mut s.backlog))
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        all().remove(&self.seq);
        let st = self.st.get_mut().unwrap_or_else(|e| e.into_inner());
        let q = std::mem::take(&mut st.queue);
        let b = std::mem::take(&mut st.backlog);
        drop(q);
        drop(b);
    }
}

/// unix_writable: not listening, and the charge at most a quarter of the send buffer
/// (Linux counts the charge's initial 1).
fn writable_at(wmem: usize, sndbuf: usize) -> bool {
    (wmem + 1) * 4 <= sndbuf
}

/// Locks two sockets in address order (one lock when they are the same socket).
fn lock_two<'a>(a: &'a Sock, b: &'a Sock) -> (MutexGuard<'a, St>, Option<MutexGuard<'a, St>>) {
    if a.is(b) {
        return (a.lock(), None);
    }
    if (a as *const Sock) < (b as *const Sock) {
        let ga = a.lock();
        let gb = b.lock();
        (ga, Some(gb))
    } else {
        let gb = b.lock();
        let ga = a.lock();
        (ga, Some(gb))
    }
}

/// Releases a socket (`unix_release_sock`): its names go, its peer sees the connection end
/// (ECONNRESET if this side left data unread, or never accepted it), its queue is freed and
/// pending connections are released as unaccepted.
fn release(sk: &Arc<Sock>, embryo: bool) {
    name::unhash(sk);
    // A host connection closes now (its peer sees the end), not when the last reference to
    // the socket goes.
    let hosts = (sk.set_host(None), crate::kernel::lock(&sk.host_to).take());
    drop(hosts);
    let (peer, queue, backlog) = {
        let mut s = sk.lock();
        s.dead = true;
        s.shutdown = SHUTDOWN_MASK;
        s.state = State::Close;
        s.oob = false;
        (
            s.peer.take(),
            std::mem::take(&mut s.queue),
            std::mem::take(&mut s.backlog),
        )
    };
    sk.wake_peer_wait();
    if let Some(p) = peer {
        if sk.stype != SOCK_DGRAM {
            {
                let mut ps = p.lock();
                ps.shutdown = SHUTDOWN_MASK;
                if !queue.is_empty() || embryo {
                    ps.err = Some(Errno::ECONNRESET);
                }
            }
            p.state_change();
            p.async_waitd(POLL_HUP, POLLHUP | POLLERR);
        }
        dgram::relay_disconnect(sk, &p);
        drop(p);
    }
    for e in &backlog {
        release(e, true);
    }
    drop(backlog);
    drop(queue);
    gc::released();
}

/// The socket a file holds: dropping it releases the socket.
pub struct UnixSocket {
    sock: Arc<Sock>,
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        release(&self.sock, false);
    }
}

/// The type a unix socket of `stype` and `protocol` gets (`unix_create`).
fn socket_type(stype: u32, protocol: u32) -> Result<u32, Errno> {
    if protocol != 0 && protocol != u32::from(AF_UNIX) {
        return Err(Errno::EPROTONOSUPPORT);
    }
    match stype {
        SOCK_STREAM | SOCK_DGRAM | SOCK_SEQPACKET => Ok(stype),
        // "Believe it or not BSD has AF_UNIX, SOCK_RAW though nothing uses it."
        SOCK_RAW => Ok(SOCK_DGRAM),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

/// socket(AF_UNIX, ...).
pub fn new_socket(stype: u32, protocol: u32) -> Result<Box<dyn Socket>, Errno> {
    let stype = socket_type(stype, protocol)?;
    Ok(Box::new(UnixSocket {
        sock: Sock::new(stype, true),
    }))
}

/// socketpair(AF_UNIX, ...): two sockets connected to each other, each with its creator as
/// its peer's credentials.
pub fn pair(stype: u32, protocol: u32) -> Result<SocketPair, Errno> {
    let stype = socket_type(stype, protocol)?;
    let a = Sock::new(stype, true);
    let b = Sock::new(stype, true);
    let cred = super::current_cred();
    {
        let (mut sa, sb) = lock_two(&a, &b);
        let mut sb = sb.ok_or(Errno::EINVAL)?;
        sa.peer = Some(b.clone());
        sb.peer = Some(a.clone());
        sa.peer_cred = Some(cred);
        sb.peer_cred = Some(cred);
        sa.state = State::Established;
        sb.state = State::Established;
    }
    Ok((
        Box::new(UnixSocket { sock: a }),
        Box::new(UnixSocket { sock: b }),
    ))
}

impl Socket for UnixSocket {
    fn common(&self) -> &SockCommon {
        &self.sock.common
    }

    fn bind(&self, t: &Task, addr: &[u8]) -> Result<(), Errno> {
        name::bind(&self.sock, t, addr)
    }

    fn listen(&self, backlog: i32) -> Result<(), Errno> {
        stream::listen(&self.sock, backlog)
    }

    fn accept(&self, _t: &Task, nonblock: bool) -> Result<Accepted, Errno> {
        stream::accept(&self.sock, nonblock)
    }

    fn connect(&self, t: &Task, addr: &[u8], nonblock: bool) -> Result<(), Errno> {
        if self.sock.stype == SOCK_DGRAM {
            dgram::connect(&self.sock, t, addr)
        } else {
            stream::connect(&self.sock, t, addr, nonblock)
        }
    }

    fn shutdown(&self, how: u32) -> Result<(), Errno> {
        if let Some(h) = self.sock.host() {
            return host::shutdown(&self.sock, &h, how);
        }
        shutdown(&self.sock, how);
        Ok(())
    }

    fn sockname(&self) -> Result<Vec<u8>, Errno> {
        Ok(self.sock.addr())
    }

    fn peername(&self) -> Result<Vec<u8>, Errno> {
        if let Some(h) = self.sock.host() {
            return Ok(host::peername(&h));
        }
        self.sock.peer().map(|p| p.addr()).ok_or(Errno::ENOTCONN)
    }

    fn setsockopt(
        &self,
        _t: &Task,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Option<Result<(), Errno>> {
        if level != SOL_SOCKET {
            return None;
        }
        match name {
            // A bigger send buffer may let a blocked sender go (sock_setsockopt calls
            // sk_write_space).
            SO_SNDBUF | SO_SNDBUFFORCE => Some(self.sock.common.setsockopt(name, val).map(|_| {
                if writable_at(self.sock.wmem.load(Ordering::Acquire), self.sock.sndbuf()) {
                    self.sock.write_space();
                }
            })),
            _ => None,
        }
    }

    fn getsockopt(
        &self,
        t: &Task,
        level: i32,
        name: i32,
        _len: usize,
    ) -> Option<Result<Vec<u8>, Errno>> {
        if level != SOL_SOCKET {
            return None;
        }
        match name {
            SO_ERROR => {
                let e = self.sock.lock().err.take().map_or(0, |e| e.0);
                Some(Ok(e.to_ne_bytes().to_vec()))
            }
            SO_PEERCRED if self.sock.hosted.load(Ordering::Acquire) => {
                // A host peer's pid and ids mean nothing inside: the caller's own, as runsc
                // answers for every unix socket.
                Some(Ok(syscalls::bytes_of(&crate::net::task_cred(t)).to_vec()))
            }
            SO_PEERCRED => {
                // No peer yet: pid 0 and uid/gid -1 (cred_to_ucred of nothing).
                let c = self.sock.lock().peer_cred.unwrap_or(Ucred {
                    pid: 0,
                    uid: u32::MAX,
                    gid: u32::MAX,
                });
                Some(Ok(syscalls::bytes_of(&c).to_vec()))
            }
            _ => None,
        }
    }

    fn send(&self, t: Option<&Task>, msg: SendMsg<'_>) -> Result<usize, Errno> {
        if let Some(h) = self.sock.host() {
            // A datagram with an address goes there (it may be another host socket, or one
            // of the sandbox's); everything else to the host socket.
            if self.sock.stype != SOCK_DGRAM || msg.addr.is_none_or(<[u8]>::is_empty) {
                return host::send(&self.sock, &h, msg);
            }
        }
        match self.sock.stype {
            SOCK_STREAM => stream::send(&self.sock, t, msg),
            _ => dgram::send(&self.sock, t, msg),
        }
    }

    fn recv(
        &self,
        t: Option<&Task>,
        buf: &mut [u8],
        flags: u32,
        nonblock: bool,
    ) -> Result<Received, Errno> {
        let _ = t;
        if let Some(h) = self.sock.host() {
            return host::recv(&self.sock, &h, buf, flags, nonblock);
        }
        match self.sock.stype {
            SOCK_STREAM => stream::recv(&self.sock, &mut SliceSink(buf), flags, nonblock),
            _ => dgram::recv(&self.sock, buf, flags, nonblock),
        }
    }

    fn send_stream_from(
        &self,
        t: &Task,
        len: usize,
        fill: Fill<'_>,
        nonblock: bool,
    ) -> Option<Result<usize, Errno>> {
        if self.sock.stype != SOCK_STREAM || self.sock.host().is_some() {
            return None;
        }
        let m = SendMsg {
            data: &[],
            addr: None,
            control: Vec::new(),
            flags: 0,
            nonblock,
            cred: crate::net::task_cred(t),
        };
        Some(stream::send_src(
            &self.sock,
            Some(t),
            stream::Src::Fill(len, fill),
            m,
        ))
    }

    fn recv_stream_into(
        &self,
        sink: &mut dyn Sink,
        nonblock: bool,
    ) -> Option<Result<usize, Errno>> {
        if self.sock.stype != SOCK_STREAM || self.sock.host().is_some() {
            return None;
        }
        Some(stream::recv(&self.sock, sink, 0, nonblock).map(|r| r.copied))
    }

    fn max_message(&self) -> Option<usize> {
        match self.sock.stype {
            SOCK_STREAM => None,
            // Linux: EMSGSIZE above the send buffer less 32 bytes.
            _ => Some(self.sock.sndbuf().saturating_sub(32).min(msg::DGRAM_MAX)),
        }
    }

    fn sigpipe_on_epipe(&self) -> bool {
        // Only stream sends raise SIGPIPE (unix_stream_sendmsg); datagram and seqpacket
        // sends fail with EPIPE alone.
        self.sock.stype == SOCK_STREAM
    }

    fn poll(&self) -> u32 {
        if let Some(h) = self.sock.host() {
            return host::poll(&h);
        }
        if self.sock.stype == SOCK_STREAM {
            stream::poll(&self.sock)
        } else {
            dgram::poll(&self.sock)
        }
    }

    fn inq(&self) -> Result<usize, Errno> {
        if let Some(h) = self.sock.host() {
            return host::inq(&h);
        }
        let s = self.sock.lock();
        if s.state == State::Listen {
            return Err(Errno::EINVAL);
        }
        Ok(if self.sock.stype == SOCK_DGRAM {
            s.queue.front().map_or(0, Msg::len)
        } else {
            s.queue.iter().map(Msg::len).sum()
        })
    }

    fn ioctl(&self, t: &Task, req: u32, arg: u64) -> Option<Result<u64, Errno>> {
        (req == SIOCATMARK).then(|| {
            let at = i32::from(stream::at_mark(&self.sock));
            t.write_val(arg, &at).map(|_| 0)
        })
    }

    fn outq(&self) -> Result<usize, Errno> {
        Ok(self.sock.wmem.load(Ordering::Acquire))
    }

    fn listening(&self) -> bool {
        self.sock.state() == State::Listen
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// shutdown(2) (`unix_shutdown`): this side's directions close; a connected stream or
/// seqpacket peer loses the opposite ones. Linux gives 0 even when not connected.
fn shutdown(sk: &Arc<Sock>, how: u32) {
    let mode = (how + 1) as u8 & SHUTDOWN_MASK;
    let other = {
        let mut s = sk.lock();
        s.shutdown |= mode;
        s.peer.clone()
    };
    sk.state_change();
    if let Some(other) = other {
        if sk.stype != SOCK_DGRAM {
            let mut peer_mode = 0;
            if mode & RCV_SHUTDOWN != 0 {
                peer_mode |= SEND_SHUTDOWN;
            }
            if mode & SEND_SHUTDOWN != 0 {
                peer_mode |= RCV_SHUTDOWN;
            }
            other.lock().shutdown |= peer_mode;
            other.state_change();
            if peer_mode == SHUTDOWN_MASK {
                other.async_waitd(POLL_HUP, POLLHUP | POLLERR);
            } else if peer_mode & RCV_SHUTDOWN != 0 {
                other.async_waitd(POLL_IN, POLLIN | POLLRDNORM);
            }
        }
    }
}

/// Waits as [`SockCommon::wait`], trying once first without registering as a waiter (the
/// common case of a send or receive that need not wait).
fn wait_for<T>(
    sk: &Sock,
    more: &[&WaitQueue],
    nonblock: bool,
    timeout: Option<std::time::Duration>,
    mut ready: impl FnMut() -> Option<Result<T, Errno>>,
) -> Result<T, Errno> {
    if let Some(r) = ready() {
        return r;
    }
    if nonblock || timeout.is_some_and(|d| d.is_zero()) {
        return Err(Errno::EAGAIN);
    }
    sk.common.wait(more, false, timeout, ready)
}

/// What is left of a timeout that started at `start` (None: none).
fn remaining(
    timeout: Option<std::time::Duration>,
    start: std::time::Instant,
) -> Option<std::time::Duration> {
    timeout.map(|d| d.saturating_sub(start.elapsed()))
}

/// /proc/net/unix, in Linux's format (`unix_seq_show`): every socket not yet released, the
/// connections waiting to be accepted among them; the kernel address is a hash of the
/// socket's identity, as Linux's %pK shows hashed pointers.
pub fn proc_net_unix() -> String {
    let socks: Vec<Arc<Sock>> = all().values().filter_map(Weak::upgrade).collect();
    // RefCount: Linux's sk_refcnt is 2 for a socket with a file (1 for a connection not yet
    // accepted, which the listener's queue holds too) plus one per socket whose peer it is.
    let mut held: HashMap<*const Sock, u32> = HashMap::new();
    let mut rows = Vec::with_capacity(socks.len());
    for sk in &socks {
        let s = sk.lock();
        if s.dead {
            continue;
        }
        if let Some(p) = &s.peer {
            *held.entry(Arc::as_ptr(p)).or_insert(0) += 1;
        }
        rows.push((sk.clone(), s.state));
    }
    let mut out = String::from("Num       RefCount Protocol Flags    Type St Inode Path\n");
    for (sk, state) in rows {
        let has_socket = sk.has_socket.load(Ordering::Acquire);
        let refs = 2 + held.get(&Arc::as_ptr(&sk)).copied().unwrap_or(0);
        let flags = if state == State::Listen {
            SO_ACCEPTCON
        } else {
            0
        };
        let ss = match (has_socket, state == State::Established) {
            (true, true) => SS_CONNECTED,
            (true, false) => SS_UNCONNECTED,
            (false, true) => SS_CONNECTING,
            (false, false) => SS_DISCONNECTING,
        };
        let ino = if has_socket { sk.common.ino } else { 0 };
        let hash = (sk.common.ino.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32;
        let _ = write!(
            out,
            "{:016x}: {:08X} {:08X} {:08X} {:04X} {:02X} {:5}",
            u64::from(hash),
            refs,
            0,
            flags,
            sk.stype,
            ss,
            ino
        );
        if let Some(n) = sk.name.get() {
            out.push(' ');
            out.push_str(&n.proc_path());
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        assert_eq!(socket_type(SOCK_RAW, 0), Ok(SOCK_DGRAM));
        assert_eq!(socket_type(SOCK_STREAM, 1), Ok(SOCK_STREAM));
        assert_eq!(socket_type(SOCK_STREAM, 2), Err(Errno::EPROTONOSUPPORT));
        assert_eq!(socket_type(SOCK_RDM, 0), Err(Errno::ESOCKTNOSUPPORT));
    }

    #[test]
    fn proc_net_unix_lines() {
        let (a, b) = pair(SOCK_STREAM, 0).unwrap();
        let d = Sock::new(SOCK_DGRAM, true);
        name::autobind(&d).unwrap();
        let text = proc_net_unix();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("Num       RefCount Protocol Flags    Type St Inode Path")
        );
        let line_of = |ino: u64| {
            proc_net_unix()
                .lines()
                .find(|l| l.split_whitespace().nth(6) == Some(&ino.to_string()))
                .unwrap()
                .to_string()
        };
        let la = line_of(a.common().ino);
        assert!(
            la.starts_with("00000000")
                && la[16..].starts_with(": 00000003 00000000 00000000 0001 03 "),
            "{la}"
        );
        let ld = line_of(d.common.ino);
        let fields: Vec<&str> = ld.split_whitespace().collect();
        assert_eq!(
            &fields[1..6],
            ["00000002", "00000000", "00000000", "0002", "01"]
        );
        assert!(fields[7].starts_with('@') && fields[7].len() == 6, "{ld}");
        drop(b);
        let la = line_of(a.common().ino);
        assert!(la.contains(": 00000002 "), "{la}");
        release(&d, false);
        assert!(!proc_net_unix().contains(&format!(" {} ", d.common.ino)));
    }

    #[test]
    fn writability_is_a_quarter_of_sndbuf() {
        assert!(writable_at(0, 4608));
        assert!(writable_at(1151, 4608));
        assert!(!writable_at(1152, 4608));
    }
}
