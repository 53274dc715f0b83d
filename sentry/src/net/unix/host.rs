// SPDX-License-Identifier: Apache-2.0
//! Host unix sockets reached through a gofer-backed mount, with `--host-uds open` (runsc's
//! `--host-uds=open`): a connect (or a datagram send) to a path that leads to a host socket
//! file asks the gofer for a new host socket of the same type connected to that file
//! (`gofer::protocol::Request::Connect`); the gofer donates it and the sandbox socket then
//! carries its traffic on it. The sentry never makes or connects a host socket itself, and
//! the program never holds the host descriptor: every call on it is the sentry's, made
//! non-blocking, with the sandbox's blocking, timeouts and signals (woken by the reactor of
//! [`crate::net::hostio`], as `--network host` sockets are).
//!
//! What crosses the host boundary, and what does not (as runsc):
//! - bytes and message boundaries, shutdowns, end of file and resets, MSG_PEEK, MSG_TRUNC,
//!   MSG_OOB where the host allows it;
//! - no descriptors out: a send with SCM_RIGHTS is refused with EINVAL (a sandbox file has no
//!   host descriptor to give, and the sentry's own must not leave it);
//! - no descriptors in: the sentry receives with no room for control data, so the host
//!   kernel discards descriptors a host peer sends and the program sees MSG_CTRUNC;
//! - no credentials: SCM_CREDENTIALS a program sends are dropped (the host peer sees the
//!   sentry's host credentials, as the kernel attaches them to any message), none are
//!   received, and SO_PEERCRED shows the caller's own (runsc does the same for every unix
//!   socket): the host peer's pid and ids mean nothing inside.
//!
//! Names: getpeername and a receive's source address show the path the program connected to
//! (Linux shows the server's bound path; the host's path is not the sandbox's), getsockname
//! the sandbox socket's own name. A host peer sees an unbound socket. A datagram socket
//! connected to a host socket reads only from it (what sandbox sockets send to its own name
//! waits unread until it connects elsewhere). An unconnected datagram socket sending to a
//! host socket does so from a connected host socket of its own, kept for the next datagram to
//! the same file.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

use super::name::HostPath;
use super::{remaining, Sock, State};
use crate::kernel::block::block_on;
use crate::net::host_unsafe;
use crate::net::hostio::{Wake, Watched};
use crate::net::{CmsgIn, Received, SendMsg};

/// How often a blocking connect asks again while the host listener's backlog is full (the
/// host gives no wake-up for room in another's backlog).
const BACKLOG_RETRY: Duration = Duration::from_millis(10);

/// A host socket a sandbox unix socket carries its traffic on.
pub(crate) struct HostConn {
    sock: Watched,
    /// The address getpeername shows: the path the program connected to.
    peer: Box<[u8]>,
    /// The file it is connected to ((st_dev, st_ino) in the sandbox).
    key: (u64, u64),
}

impl Wake for Sock {
    fn wake(&self, band: u32) {
        self.common.wake(band);
    }
}

fn target(sk: &Arc<Sock>) -> Weak<dyn Wake> {
    let t: Arc<dyn Wake> = sk.clone();
    Arc::downgrade(&t)
}

/// A host socket of `sk`'s type connected to `to`, watched for `sk`. A full backlog is EAGAIN
/// once `timeout` (from `start`) has passed; until then the connect is asked again, the wait
/// interruptible as any (ERESTARTSYS, or EINTR with a timeout).
fn open(
    sk: &Arc<Sock>,
    to: &HostPath,
    addr: Box<[u8]>,
    timeout: Option<Duration>,
    start: Instant,
) -> Result<HostConn, Errno> {
    let fd: OwnedFd = loop {
        match to.inode.connect_host_socket(sk.stype) {
            Err(Errno::EAGAIN) => {}
            Err(e) => return Err(e),
            Ok(fd) => break fd,
        }
        let left = remaining(timeout, start);
        if left.is_some_and(|d| d.is_zero()) {
            return Err(Errno::EAGAIN);
        }
        let wait = left.map_or(BACKLOG_RETRY, |d| d.min(BACKLOG_RETRY));
        match block_on::<()>(&[&sk.common.queue], Some(Instant::now() + wait), || None) {
            Err(Errno::ETIMEDOUT) => {}
            Err(Errno::ERESTARTSYS) if timeout.is_some() => return Err(Errno::EINTR),
            Err(e) => return Err(e),
            Ok(()) => {}
        }
    };
    Ok(HostConn {
        sock: Watched::with_target(fd, target(sk))?,
        peer: addr,
        key: to.key,
    })
}

/// connect(2) of a stream or seqpacket socket to a host socket.
pub(super) fn connect(
    sk: &Arc<Sock>,
    to: &HostPath,
    addr: Box<[u8]>,
    timeout: Option<Duration>,
    start: Instant,
) -> Result<(), Errno> {
    let busy = |state: State| match state {
        State::Close => Ok(()),
        State::Listen => Err(Errno::EINVAL),
        State::Established => Err(Errno::EISCONN),
    };
    busy(sk.state())?;
    let conn = Arc::new(open(sk, to, addr, timeout, start)?);
    {
        let mut s = sk.lock();
        // Another thread's connect or listen won meanwhile.
        busy(s.state)?;
        s.state = State::Established;
        sk.set_host(Some(conn));
    }
    sk.state_change();
    Ok(())
}

/// connect(2) of a datagram socket to a host socket: the connection the socket will carry.
pub(super) fn connect_dgram(
    sk: &Arc<Sock>,
    to: &HostPath,
    addr: Box<[u8]>,
) -> Result<Arc<HostConn>, Errno> {
    open(sk, to, addr, Some(Duration::ZERO), Instant::now()).map(Arc::new)
}

/// Runs a non-blocking host call until it stops saying EAGAIN, waiting on the reactor's
/// wake-ups unless `nonblock`.
fn retry<T>(
    sk: &Sock,
    nonblock: bool,
    timeout: Option<Duration>,
    mut op: impl FnMut() -> Result<T, Errno>,
) -> Result<T, Errno> {
    sk.common.wait(&[], nonblock, timeout, || match op() {
        Err(Errno::EAGAIN) => None,
        r => Some(r),
    })
}

/// Checks what a send carries across: no descriptors (EINVAL, as runsc), no other SOL_SOCKET
/// message (EINVAL, as any unix socket); credentials are dropped.
fn check_control(m: &SendMsg<'_>) -> Result<(), Errno> {
    for c in &m.control {
        match c {
            CmsgIn::Rights(f) if !f.is_empty() => return Err(Errno::EINVAL),
            CmsgIn::Other(level, _, _) if *level == SOL_SOCKET => return Err(Errno::EINVAL),
            _ => {}
        }
    }
    Ok(())
}

/// The MSG_* flags passed to the host's sendmsg (it adds MSG_DONTWAIT and MSG_NOSIGNAL: the
/// sentry waits and raises SIGPIPE itself).
fn send_flags(flags: u32) -> i32 {
    (flags & MSG_OOB) as i32
}

/// A send on a connected host socket: a stream's blocking send waits until everything is
/// taken (a short count if a wait ends after some was); a datagram goes whole or not at all.
fn send_on(
    sk: &Sock,
    h: &HostConn,
    data: &[u8],
    flags: u32,
    nonblock: bool,
) -> Result<usize, Errno> {
    let timeout = sk.common.opts().sndtimeo;
    let stream = sk.stype == SOCK_STREAM;
    let hflags = send_flags(flags);
    let mut done = 0usize;
    loop {
        let r = retry(sk, nonblock, timeout, || {
            host_unsafe::sendmsg(h.sock.fd(), &data[done..], None, &[], hflags)
        });
        match r {
            Ok(n) => {
                done += n;
                if !stream || nonblock || done >= data.len() {
                    return Ok(done);
                }
            }
            Err(_) if done > 0 => return Ok(done),
            Err(e) => return Err(e),
        }
    }
}

/// send(2) and friends on a socket connected to a host socket.
pub(super) fn send(sk: &Sock, h: &HostConn, m: SendMsg<'_>) -> Result<usize, Errno> {
    check_control(&m)?;
    if sk.stype == SOCK_STREAM && m.addr.is_some_and(|a| !a.is_empty()) {
        return Err(Errno::EISCONN);
    }
    send_on(sk, h, m.data, m.flags, m.nonblock)
}

/// A datagram sent to a host socket by address (sendto on a socket not connected to it),
/// from a host socket kept for that file. Descriptors are refused (EINVAL) before anything
/// is sent.
pub(super) fn send_to(
    sk: &Arc<Sock>,
    to: &HostPath,
    addr: &[u8],
    data: &[u8],
    rights: bool,
    flags: u32,
    nonblock: bool,
) -> Result<usize, Errno> {
    if rights {
        return Err(Errno::EINVAL);
    }
    let mut fresh = false;
    loop {
        let cached = sk.host_to().filter(|c| c.key == to.key && !fresh).map(Ok);
        let conn = match cached {
            Some(c) => c,
            None => {
                fresh = true;
                let c = connect_dgram(sk, to, super::name::peer_addr(addr))?;
                sk.set_host_to(Some(c.clone()));
                Ok(c)
            }
        }?;
        match send_on(sk, &conn, data, flags, nonblock) {
            // The host socket it was connected to is gone: once more with a new one.
            Err(Errno::ECONNREFUSED) | Err(Errno::ENOTCONN) if !fresh => {
                sk.set_host_to(None);
                fresh = true;
            }
            r => return r,
        }
    }
}

/// recv(2) and friends on a socket connected to a host socket. Descriptors a host peer sends
/// are discarded by the host kernel (no room is given for them): MSG_CTRUNC says so.
pub(super) fn recv(
    sk: &Sock,
    h: &HostConn,
    buf: &mut [u8],
    flags: u32,
    nonblock: bool,
) -> Result<Received, Errno> {
    let timeout = sk.common.opts().rcvtimeo;
    let hflags = (flags & (MSG_OOB | MSG_PEEK | MSG_TRUNC)) as i32;
    let waitall = sk.stype == SOCK_STREAM && flags & (MSG_WAITALL | MSG_PEEK) == MSG_WAITALL;
    let start = Instant::now();
    let mut copied = 0usize;
    let mut len = 0usize;
    let mut out_flags = 0u32;
    loop {
        let r = retry(sk, nonblock, remaining(timeout, start), || {
            host_unsafe::recvmsg(h.sock.fd(), &mut buf[copied..], hflags, 0)
        });
        match r {
            Ok(r) => {
                let got = r.n.min(buf.len() - copied);
                copied += got;
                len += r.n;
                out_flags |= r.flags as u32 & (MSG_TRUNC | MSG_CTRUNC | MSG_EOR | MSG_OOB);
                // MSG_WAITALL: a stream read goes on until the buffer is full, end of file,
                // or a wait ends.
                if !waitall || r.n == 0 || copied >= buf.len() || nonblock {
                    break;
                }
            }
            Err(_) if copied > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(Received {
        copied,
        len,
        addr: Some(h.peer.to_vec()),
        control: Vec::new(),
        flags: out_flags,
    })
}

/// shutdown(2) on a socket connected to a host socket.
pub(super) fn shutdown(sk: &Sock, h: &HostConn, how: u32) -> Result<(), Errno> {
    host_unsafe::shutdown(h.sock.fd(), how as i32)?;
    sk.state_change();
    Ok(())
}

/// Readiness of a socket connected to a host socket: the host socket's.
pub(super) fn poll(h: &HostConn) -> u32 {
    host_unsafe::poll_now(
        h.sock.fd(),
        (POLLIN | POLLRDNORM | POLLPRI | POLLOUT | POLLWRNORM | POLLWRBAND | POLLRDHUP) as i16,
    )
}

/// FIONREAD/SIOCINQ: the bytes (a datagram socket: the next datagram's) the host socket holds.
pub(super) fn inq(h: &HostConn) -> Result<usize, Errno> {
    host_unsafe::ioctl_int(h.sock.fd(), SIOCINQ).map(|n| n.max(0) as usize)
}

/// getpeername(2): the path the program connected to.
pub(super) fn peername(h: &HostConn) -> Vec<u8> {
    h.peer.to_vec()
}
