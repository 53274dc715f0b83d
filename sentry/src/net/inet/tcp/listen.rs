// SPDX-License-Identifier: Apache-2.0
//! Listening TCP sockets: the accept queue, connects waiting for room in it, and making the
//! server's side of a new connection.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

use super::super::opts::{InetOpts, Memberships};
use super::super::ports::{Cover, Request};
use super::conn::{Conn, Half, Params};
use super::sockopt::TcpOpts;
use super::{
    Phase, Ss, State, Tcp, TcpSocket, SNDBUF_EXPANDED, TABLE, TCP_RMEM_DEFAULT, TCP_WMEM_DEFAULT,
};
use crate::net::{Accepted, SockCommon};

/// How long TCP_DEFER_ACCEPT holds a connection back from accept(2).
pub(super) fn defer_of(tcp: &TcpOpts) -> Duration {
    Duration::from_secs(super::sockopt::retrans_to_secs(tcp.defer_accept, 1, 120).max(0) as u64)
}

/// A listening socket's queues.
pub(super) struct Listener {
    /// listen(2)'s backlog: the accept queue holds one more than this.
    pub(super) backlog: i32,
    /// Established connections not yet accepted (the server's sides).
    pub(super) queue: VecDeque<Queued>,
    /// Connects waiting for room in the queue (their SYNs, which Linux would retransmit).
    pub(super) waiting: VecDeque<Arc<Pending>>,
}

/// A connection in the accept queue.
pub(super) struct Queued {
    /// The server's side.
    pub(super) sock: Arc<Tcp>,
    conn: Arc<Conn>,
    since: Instant,
}

impl Queued {
    /// Whether accept(2) may take it: at once, or under TCP_DEFER_ACCEPT once the client has
    /// sent something (data or its FIN) or the deferral (`defer`) is over, as Linux completes
    /// the handshake then.
    fn ready(&self, defer: Duration, now: Instant) -> bool {
        if defer.is_zero() || now >= self.since + defer {
            return true;
        }
        let h = self.conn.lock();
        !h[1].rx.is_empty() || h[1].done
    }
}

impl Listener {
    pub(super) fn full(&self) -> bool {
        self.queue.len() as i64 > i64::from(self.backlog)
    }

    /// Whether a connection is ready to accept.
    pub(super) fn has_ready(&self, defer: Duration) -> bool {
        let now = Instant::now();
        self.queue.iter().any(|q| q.ready(defer, now))
    }

    /// Takes the first connection ready to accept; else when the next deferred one will be.
    fn take_ready(&mut self, defer: Duration) -> Result<Arc<Tcp>, Option<Instant>> {
        let now = Instant::now();
        match self.queue.iter().position(|q| q.ready(defer, now)) {
            Some(i) => match self.queue.remove(i) {
                Some(q) => {
                    *q.conn.listener_lock() = Weak::new();
                    Ok(q.sock)
                }
                None => Err(None),
            },
            None => Err(self.queue.iter().map(|q| q.since + defer).min()),
        }
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
                mc: Memberships::default(),
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
            listener: Mutex::new(Weak::new()),
            relay: std::sync::OnceLock::new(),
        });
        child.st.lock().unwrap_or_else(|e| e.into_inner()).phase = Phase::Open(conn.clone(), 1);
        if !defer_of(tcp).is_zero() {
            // Data for a deferred connection wakes the listener.
            *conn.listener_lock() = Arc::downgrade(self);
        }
        l.queue.push_back(Queued {
            sock: child,
            conn: conn.clone(),
            since: Instant::now(),
        });
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
            let mut params = p.params;
            let client = p.client.upgrade();
            if let Some(c) = &client {
                c.grow_sndbuf();
                params.sndbuf = c.common.opts().sndbuf;
            }
            let (conn, side) = self.establish(ip, tcp, l, p.client.clone(), p.src, p.dst, params);
            *p.lock() = Some(Ok((conn, side)));
            if let Some(c) = client {
                c.common.wake(POLLOUT | POLLWRNORM);
            }
            self.common.wake(POLLIN | POLLRDNORM);
        }
    }

    pub(super) fn stop_listening(l: Listener) {
        for q in l.queue {
            q.sock.abort();
        }
        for p in l.waiting {
            p.fail(Errno::ECONNREFUSED);
        }
    }

    /// accept(2): the first ready connection, waiting for one unless `nonblock` (SO_RCVTIMEO:
    /// EAGAIN when it passes; a signal: ERESTARTSYS, or EINTR with a timeout).
    pub(super) fn accept(self: &Arc<Self>, nonblock: bool) -> Result<Accepted, Errno> {
        let timeout = self.common.opts().rcvtimeo;
        let next = std::cell::Cell::new(None);
        let child = super::wait_ticking(
            &self.common,
            nonblock,
            timeout,
            || next.get(),
            || {
                let mut st = self.lock();
                let (ip, tcp) = (st.ip.clone(), st.tcp.clone());
                let defer = defer_of(&tcp);
                match &mut st.phase {
                    Phase::Listen(l) => match l.take_ready(defer) {
                        Ok(c) => {
                            self.promote(&ip, &tcp, l);
                            Some(Ok(c))
                        }
                        Err(n) => {
                            // Wake when the next deferred connection's time comes.
                            next.set(n);
                            None
                        }
                    },
                    _ => Some(Err(Errno::EINVAL)),
                }
            },
        )?;
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
