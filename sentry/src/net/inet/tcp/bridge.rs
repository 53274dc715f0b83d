// SPDX-License-Identifier: Apache-2.0
//! TCP connections between the sandbox and the outside (`--network sandbox`): a [`Bridge`]
//! stands in for the far end of a sandbox connection ([`Conn`]) and carries its bytes, FIN and
//! RST to and from a host socket of the sentry's ([`OutsideTcp`]).
//!
//! The sandbox socket is an ordinary connected socket, so everything the sandbox sees (reads,
//! writes, poll and epoll readiness, shutdown, SO_ERROR, SIOCINQ, getpeername) is the same
//! code as between two sandbox sockets; only the far side differs. The bridge owns that side
//! and moves bytes whenever either end changes: the reactor wakes it when the host socket is
//! ready ([`Wake`]), and the connection wakes it when the sandbox side writes, reads or closes.
//! It never blocks: every host call is non-blocking, and what does not fit now waits for the
//! next wake-up.
//!
//! - Outgoing ([`connect_out`]): the sandbox socket's connect waits as a connect held by a
//!   full backlog does ([`Pending`]); the host connect's outcome decides it.
//! - Incoming ([`accept_published`]): a connection a publisher accepted on the host is
//!   queued on the sandbox's listener on the published port as if a client at the gateway
//!   address had connected.
//!
//! A bridge lives in [`LIVE`] until its connection is over (both FINs, or a RST): then the
//! host socket is closed (or reset) and the connection dropped.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::conn::{Conn, Half, Params, Wakes};
use super::listen::Pending;
use super::{Phase, TABLE};
use crate::net::hostio::Wake;
use crate::net::outside::OutsideTcp;
use crate::net::stack;

/// Bridges whose connections are not over yet.
static LIVE: LazyLock<Mutex<HashMap<u64, Arc<Bridge>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The most a bridge moves in one host call.
const CHUNK: usize = 65_536;
/// The most bridges at once: each holds a host socket of the sentry's, and one whose sandbox
/// socket is closed lingers until the host side closes too (as Linux bounds its orphans with
/// tcp_max_orphans). Past it a connect or a published connection is refused (ENOBUFS).
const MAX_BRIDGES: usize = 16_384;

thread_local! {
    /// The buffer a thread moves bytes through (one per thread, not one per bridge).
    static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with a CHUNK-sized buffer of this thread's.
fn with_buf<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    BUF.with(|b| match b.try_borrow_mut() {
        Ok(mut b) => f(&mut b),
        Err(_) => f(&mut Vec::new()),
    })
}

fn live() -> MutexGuard<'static, HashMap<u64, Arc<Bridge>>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The far side's buffers: the sandbox may have a window's worth queued to the bridge before
/// its further sends count as unacknowledged (they are bounded by its own send buffer), and
/// the bridge holds no more than its send buffer beyond the sandbox's window. Urgent bytes
/// pass inline: the host socket carries them as data.
fn bridge_params() -> Params {
    Params {
        window: 262_144,
        sndbuf: 262_144,
        lowat: 1,
        oobinline: true,
        notsent_lowat: u32::MAX,
        cork: false,
        mss: 65_483,
    }
}

#[derive(Default)]
struct Flow {
    /// The host connection.
    host: Option<OutsideTcp>,
    /// The sandbox connection and the bridge's side of it, once there is one.
    conn: Option<(Arc<Conn>, usize)>,
    /// The sandbox socket's connect, while the host's is in progress.
    pending: Option<Arc<Pending>>,
    /// The sandbox side's FIN has gone to the host (shutdown(SHUT_WR)).
    fin_sent: bool,
    /// Bytes read from the host that did not fit the sandbox side yet.
    carry: Vec<u8>,
}

/// The far end of one sandbox connection to or from the outside.
pub(super) struct Bridge {
    id: u64,
    me: Weak<Bridge>,
    flow: Mutex<Flow>,
    /// A wake-up came while the bridge was moving bytes: it looks again.
    again: AtomicBool,
    /// Held while the bridge moves bytes (one mover at a time).
    moving: Mutex<()>,
}

impl Wake for Bridge {
    fn wake(&self, _band: u32) {
        self.kick();
    }
}

impl Bridge {
    fn new() -> Result<Arc<Bridge>, Errno> {
        if live().len() >= MAX_BRIDGES {
            return Err(Errno::ENOBUFS);
        }
        let b = Arc::new_cyclic(|me| Bridge {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            me: me.clone(),
            flow: Mutex::new(Flow::default()),
            again: AtomicBool::new(false),
            moving: Mutex::new(()),
        });
        live().insert(b.id, b.clone());
        Ok(b)
    }

    fn target(self: &Arc<Self>) -> Weak<dyn Wake> {
        let t: Arc<dyn Wake> = self.clone();
        Arc::downgrade(&t)
    }

    fn flow(&self) -> MutexGuard<'_, Flow> {
        self.flow.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves what can be moved now; a wake-up during the move makes it look again, so none is
    /// lost while another thread is moving.
    pub(super) fn kick(&self) {
        self.again.store(true, Ordering::SeqCst);
        loop {
            let Ok(guard) = self.moving.try_lock() else {
                return;
            };
            while self.again.swap(false, Ordering::SeqCst) {
                self.step();
            }
            drop(guard);
            if !self.again.load(Ordering::SeqCst) {
                return;
            }
        }
    }

    /// The connection is over: the bridge goes (the host socket closes with it).
    fn finish(&self, f: &mut Flow, reset: bool) {
        if let Some(h) = f.host.take() {
            if reset {
                h.abort();
            }
        }
        f.conn = None;
        f.pending = None;
        f.carry = Vec::new();
        live().remove(&self.id);
    }

    fn step(&self) {
        let mut f = self.flow();
        if f.host.is_none() {
            return;
        }
        if let Some(p) = f.pending.clone() {
            if !self.connected(&mut f, &p) {
                return;
            }
        }
        let Some((conn, r)) = f.conn.clone() else {
            return;
        };
        with_buf(|buf| self.to_host(&mut f, &conn, r, buf));
        if f.host.is_none() {
            return;
        }
        with_buf(|buf| self.to_sandbox(&mut f, &conn, r, buf));
        if f.host.is_none() {
            return;
        }
        let (over, reset) = {
            let h = conn.lock();
            (
                h[r].state == TCP_CLOSE && (h[r].rx.is_empty() || h[r].err.is_some()),
                h[r].err.is_some(),
            )
        };
        if over {
            self.finish(&mut f, reset);
        }
    }

    /// An outgoing connect in progress: true once the sandbox connection exists.
    fn connected(&self, f: &mut Flow, p: &Arc<Pending>) -> bool {
        let Some(outcome) = f.host.as_ref().and_then(|h| h.connect_result()) else {
            return false;
        };
        f.pending = None;
        if let Err(e) = outcome {
            p.fail(e);
            self.finish(f, false);
            return false;
        }
        let client = p.client.upgrade();
        let mut params = p.params;
        if let Some(c) = &client {
            c.grow_sndbuf();
            params.sndbuf = c.common.opts().sndbuf;
        }
        let mut slot = p.lock();
        if slot.is_some() || client.is_none() {
            // The sandbox socket gave up (closed, shut down, disconnected).
            drop(slot);
            self.finish(f, true);
            return false;
        }
        let conn = Arc::new(Conn {
            st: Mutex::new([
                Half::new(p.src, p.dst, params),
                Half::new(p.dst, p.src, bridge_params()),
            ]),
            ends: [p.client.clone(), Weak::new()],
            listener: Mutex::new(Weak::new()),
            relay: OnceLock::new(),
        });
        let _ = conn.relay.set((1, self.me.clone()));
        *slot = Some(Ok((conn.clone(), 0)));
        drop(slot);
        f.conn = Some((conn, 1));
        if let Some(c) = client {
            c.common.wake(POLLOUT | POLLWRNORM);
        }
        true
    }

    /// The sandbox side's bytes, FIN and RST to the host.
    fn to_host(&self, f: &mut Flow, conn: &Arc<Conn>, r: usize, buf: &mut Vec<u8>) {
        let s = 1 - r;
        loop {
            let (reset, fin) = {
                let mut h = conn.lock();
                // What a sender holds back (MSG_MORE, TCP_CORK) goes: the host socket does its
                // own coalescing.
                h[r].held = 0;
                buf.clear();
                let n = h[r].rx.len().min(CHUNK);
                let (a, b) = h[r].rx.as_slices();
                let m = n.min(a.len());
                buf.extend_from_slice(&a[..m]);
                buf.extend_from_slice(&b[..n - m]);
                (
                    h[r].err.is_some() && h[r].state == TCP_CLOSE,
                    h[r].done && h[r].rx.is_empty(),
                )
            };
            if reset {
                // The sandbox side reset the connection (closed with unread data, SO_LINGER 0,
                // or a disconnect).
                self.finish(f, true);
                return;
            }
            if buf.is_empty() {
                if fin && !f.fin_sent {
                    f.fin_sent = true;
                    if let Some(h) = &f.host {
                        let _ = h.shutdown(SHUT_WR);
                    }
                }
                return;
            }
            let Some(host) = &f.host else { return };
            match host.send(buf, false) {
                Ok(n) => {
                    let mut w = Wakes::default();
                    {
                        let mut h = conn.lock();
                        let before = Conn::writable(&h, s);
                        let n = n.min(h[r].rx.len());
                        h[r].consume(n);
                        if !before && Conn::writable(&h, s) {
                            w.0[s] |= POLLOUT | POLLWRNORM;
                        }
                    }
                    conn.wake(w);
                    if n < buf.len() {
                        return;
                    }
                }
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => return,
                Err(e) => {
                    self.host_failed(f, conn, r, e);
                    return;
                }
            }
        }
    }

    /// The host's bytes, FIN and RST to the sandbox side.
    fn to_sandbox(&self, f: &mut Flow, conn: &Arc<Conn>, r: usize, buf: &mut Vec<u8>) {
        buf.resize(CHUNK, 0);
        loop {
            let room = {
                let h = conn.lock();
                if h[r].shut & super::SEND_SHUTDOWN != 0
                    || !matches!(h[r].state, TCP_ESTABLISHED | TCP_CLOSE_WAIT)
                {
                    return;
                }
                Conn::room(&h, r)
            };
            if !f.carry.is_empty() {
                let carry = std::mem::take(&mut f.carry);
                let n = self.push(conn, r, &carry);
                if n < carry.len() {
                    f.carry = carry[n..].to_vec();
                    return;
                }
                continue;
            }
            if room == 0 {
                return;
            }
            let want = room.min(CHUNK);
            let Some(host) = &f.host else { return };
            match host.recv(&mut buf[..want], false, false) {
                Ok(0) => {
                    let mut w = Wakes::default();
                    {
                        let mut h = conn.lock();
                        Conn::fin(&mut h, r, &mut w);
                    }
                    conn.wake(w);
                    return;
                }
                Ok(n) => {
                    let got = self.push(conn, r, &buf[..n]);
                    if got < n {
                        f.carry = buf[got..n].to_vec();
                        return;
                    }
                }
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => return,
                Err(e) => {
                    self.host_failed(f, conn, r, e);
                    return;
                }
            }
        }
    }

    /// Queues bytes to the sandbox side as the bridge's send; returns how many went (fewer
    /// when the sandbox-wide socket memory is spent).
    fn push(&self, conn: &Arc<Conn>, r: usize, data: &[u8]) -> usize {
        let mut w = Wakes::default();
        let mut done = 0;
        let mut pressured = false;
        {
            let mut h = conn.lock();
            let _ = Conn::send_locked(&mut h, r, data, &mut done, 0, &mut w, &mut pressured);
        }
        conn.wake(w);
        done
    }

    /// The host connection failed (reset, timed out): the sandbox side hears of it as a RST
    /// with the host's error.
    fn host_failed(&self, f: &mut Flow, conn: &Arc<Conn>, r: usize, e: Errno) {
        let s = 1 - r;
        let mut w = Wakes::default();
        {
            let mut h = conn.lock();
            Conn::rst(&mut h, r, &mut w);
            if e != Errno::ECONNRESET && h[s].err.is_some() {
                h[s].err = Some(e);
            }
        }
        conn.wake(w);
        self.finish(f, false);
    }
}

/// Connects the sandbox socket waiting in `p` to `host` outside: the host connect starts now,
/// and its outcome completes `p` (the connection, or the host's error).
pub(super) fn connect_out(p: Arc<Pending>, host: SocketAddr) -> Result<(), Errno> {
    let b = Bridge::new()?;
    let flow = match OutsideTcp::connect(host, b.target()) {
        Ok((flow, _)) => flow,
        Err(e) => {
            b.finish(&mut b.flow(), false);
            return Err(match e {
                // The sentry's own descriptors ran out: the sandbox sees a resource shortage.
                Errno::EMFILE | Errno::ENFILE => Errno::ENOBUFS,
                e => e,
            });
        }
    };
    {
        let mut f = b.flow();
        f.host = Some(flow);
        f.pending = Some(p);
    }
    b.kick();
    Ok(())
}

/// A connection a publisher accepted on the host for guest port `port`, from `peer` (as the
/// sandbox sees it): queued on the sandbox's listener on that port as a connection to the
/// sandbox's eth0 address. ECONNREFUSED when nothing listens there or its queue is full (the
/// host client sees its connection closed).
pub fn accept_published(
    port: u16,
    peer: SocketAddr,
    accept: &dyn Fn(Weak<dyn Wake>) -> Result<OutsideTcp, Errno>,
) -> Result<(), Errno> {
    let peer = match peer {
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), a.port()),
            None => SocketAddr::new(IpAddr::V4(stack::SANDBOX_GATEWAY_V4), a.port()),
        },
        a => a,
    };
    let dst = SocketAddr::new(IpAddr::V4(stack::SANDBOX_ADDR_V4), port);
    let listener = TABLE.listener(dst, peer).ok_or(Errno::ECONNREFUSED)?;
    let b = Bridge::new()?;
    let r = (|| {
        let mut lst = listener.st.lock().unwrap_or_else(|e| e.into_inner());
        let lstate = &mut *lst;
        let (lip, ltcp) = (lstate.ip.clone(), lstate.tcp.clone());
        let Phase::Listen(l) = &mut lstate.phase else {
            return Err(Errno::ECONNREFUSED);
        };
        if l.full() {
            return Err(Errno::ECONNREFUSED);
        }
        let host = accept(b.target())?;
        let (conn, side) =
            listener.establish(&lip, &ltcp, l, Weak::new(), peer, dst, bridge_params());
        let _ = conn.relay.set((side, Arc::downgrade(&b)));
        let mut f = b.flow();
        f.host = Some(host);
        f.conn = Some((conn, side));
        Ok(())
    })();
    if let Err(e) = r {
        b.finish(&mut b.flow(), false);
        return Err(e);
    }
    listener.common.wake(POLLIN | POLLRDNORM);
    b.kick();
    Ok(())
}
