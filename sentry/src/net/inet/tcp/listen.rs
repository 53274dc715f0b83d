// SPDX-License-Identifier: Apache-2.0
//! Listening TCP sockets: the accept queue, connects waiting for room in it, and making the
//! server's side of a new connection.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::super::opts::InetOpts;
use super::super::ports::{Cover, Request};
use super::conn::{Conn, Half, Params};
use super::sockopt::TcpOpts;
use super::{
    Phase, Ss, State, Tcp, TcpSocket, SNDBUF_EXPANDED, TABLE, TCP_RMEM_DEFAULT, TCP_WMEM_DEFAULT,
};
use crate::net::{Accepted, SockCommon};

/// A listening socket's queues.
pub(super) struct Listener {
    /// listen(2)'s backlog: the accept queue holds one more than this.
    pub(super) backlog: i32,
    /// Established connections not yet accepted (the server's sides).
    pub(super) queue: VecDeque<Arc<Tcp>>,
    /// Connects waiting for room in the queue (their SYNs, which Linux would retransmit).
    pub(super) waiting: VecDeque<Arc<Pending>>,
}
impl Listener {
    pub(super) fn full(&self) -> bool {
        self.queue.len() as i64 > i64::from(self.backlog)
    }
}
/// How a waiting connect ends: its connection and side, or the errno.
pub(super) type Outcome = Option<Result<(Arc<Conn>, usize), Errno>>;
/// What a connect waiting for room in a listener's queue needs to be established later.
pub(super) struct Pending {
    pub(super) client: Weak<Tcp>,
    pub(super) src: SocketAddr,
    pub(super) dst: SocketAddr,
    pub(super) params: Params,
    /// Set once: the connection, or why there is none.
    pub(super) slot: Mutex<Outcome>,
}
impl Pending {
    pub(super) fn lock(&self) -> MutexGuard<'_, Outcome> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails the connect unless it was decided already; wakes the client.
    pub(super) fn fail(&self, e: Errno) {
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

impl Tcp {
    /// Establishes a connection from a client to this listener (whose IP and TCP options are
    /// `ip` and `tcp`): the server's side is made, inheriting the listener's options as
    /// sk_clone does, and queued. Returns the connection and the client's side.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn establish(
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
            id: super::super::ports::new_id(),
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
    pub(super) fn promote(self: &Arc<Self>, ip: &InetOpts, tcp: &TcpOpts, l: &mut Listener) {
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

    pub(super) fn stop_listening(l: Listener) {
        for c in l.queue {
            c.abort();
        }
        for p in l.waiting {
            p.fail(Errno::ECONNREFUSED);
        }
    }

    pub(super) fn accept(self: &Arc<Self>, nonblock: bool) -> Result<Accepted, Errno> {
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
                _ => super::super::unspecified(self.family),
            }
        };
        Ok(Accepted {
            peer: super::super::encode(peer, self.family),
            sock: Box::new(TcpSocket(child)),
        })
    }
}
