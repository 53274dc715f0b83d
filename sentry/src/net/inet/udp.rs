// SPDX-License-Identifier: Apache-2.0
//! UDP (and UDP-Lite, which the sandbox treats as UDP with full checksum coverage) over
//! AF_INET and AF_INET6: datagram queues keyed by port, with Linux's delivery rules.
//!
//! - A unicast datagram goes to the best-matching socket on its port (`compute_score`: a
//!   socket connected to the sender before one bound to the address before one on the
//!   wildcard; IPv4 sockets before dual-stack ones; among equals the last bound, or one of a
//!   SO_REUSEPORT group chosen by the sender's address). None: the sender, if connected (or
//!   with IP_RECVERR), gets ECONNREFUSED on its next call, as Linux's ICMP port unreachable
//!   gives it (loopback is not rate-limited).
//! - Broadcast (SO_BROADCAST; EACCES without) and multicast datagrams go to every matching
//!   socket: for multicast, sockets that joined the group, or any on the port while some
//!   socket has joined it and IP_MULTICAST_ALL is on; the sender's own host sees it only with
//!   IP_MULTICAST_LOOP. Multicast stays inside the sandbox (its loopback).
//! - A receive queue holds datagrams while their memory (Linux's skb truesize for a loopback
//!   datagram) fits SO_RCVBUF, one always; the rest are dropped (SO_RXQ_OVFL counts them).
//!
//! Lock order: a socket's state, released before delivery; a receiver's queue lock alone.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::opts::{Ctx, InetOpts, Memberships, RecvMeta};
use super::ports::{Claim, Cover, Flags, Pick, Request, Rules, Table, Use};
use crate::kernel::Task;
use crate::net::hostio::Wake;
use crate::net::outside::OutsideUdp;
use crate::net::stack::{self, Destination};
use crate::net::{int_opt, CmsgIn, CmsgOut, Received, SendMsg, SockCommon, Socket};

static UDP: LazyLock<Arc<Table<Udp>>> = LazyLock::new(|| Arc::new(Table::new(Rules::Udp)));
static UDPLITE: LazyLock<Arc<Table<Udp>>> = LazyLock::new(|| Arc::new(Table::new(Rules::Udp)));

/// The largest UDP payload over IPv4 (65,535 less the IP and UDP headers) and over IPv6.
const MAX_PAYLOAD_V4: usize = 65_507;
const MAX_PAYLOAD_V6: usize = 65_527;
/// UDP_MAX_SEGMENTS: most segments one UDP_SEGMENT send may make.
const MAX_SEGMENTS: usize = 128;
/// sk_shutdown bits.
const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;

/// socket(2)'s UDP socket.
pub fn new_socket(domain: u16, protocol: u32) -> Box<dyn Socket> {
    Box::new(UdpSocket(Arc::new(Udp {
        common: SockCommon::new(
            domain,
            SOCK_DGRAM,
            protocol,
            crate::net::WMEM_DEFAULT,
            crate::net::WMEM_DEFAULT,
        ),
        id: super::ports::new_id(),
        family: domain,
        st: Mutex::new(State::default()),
        rx: Mutex::new(Queue::default()),
        outside: Mutex::new(None),
    })))
}

/// A datagram a host peer sent to a published UDP port (`--publish H:G/udp`): delivered to the
/// sandbox's socket on guest port `port` at its eth0 address, from `peer` as the sandbox sees
/// it (the gateway address for the host's loopback).
pub fn deliver_published(port: u16, peer: SocketAddr, data: &[u8]) {
    let dst = SocketAddr::new(IpAddr::V4(stack::SANDBOX_ADDR_V4), port);
    let receivers = UDP.receivers(dst, peer);
    let Some(top) = receivers.iter().map(|(_, s, _)| *s).max() else {
        return;
    };
    let Some((r, _, _)) = receivers.iter().rev().find(|(_, s, _)| *s == top) else {
        return;
    };
    let meta = RecvMeta {
        dst: dst.ip(),
        spec_dst: stack::SANDBOX_ADDR_V4,
        ifindex: stack::index_of(b"eth0").unwrap_or(2),
        ttl: 64,
        tos: 0,
    };
    r.enqueue(data, peer, meta);
}

/// A UDP socket's host socket for datagrams to and from the outside (`--network sandbox`):
/// made at its first datagram out, closed with the socket. What the host socket receives is
/// queued to the sandbox socket from the sender's address as the sandbox sees it (the
/// resolver's replies from 10.0.2.3:53, the host's loopback from the gateway).
struct UdpOutside {
    owner: Weak<Udp>,
    sock: OnceLock<OutsideUdp>,
    v6: bool,
}

impl Wake for UdpOutside {
    fn wake(&self, band: u32) {
        if band & (POLLIN | POLLERR) == 0 {
            return;
        }
        let (Some(owner), Some(sock)) = (self.owner.upgrade(), self.sock.get()) else {
            return;
        };
        // Edge-triggered: everything waiting is taken now (what does not fit the receive
        // buffer is dropped, as a full socket drops on Linux).
        let mut buf = vec![0u8; MAX_PAYLOAD_V6];
        while let Ok((n, src)) = sock.recv_from(&mut buf, false) {
            let remote = owner.lock().remote.map(super::unmap_sa);
            if remote.is_some_and(|r| r != super::unmap_sa(src)) {
                continue;
            }
            let local = match src.ip() {
                IpAddr::V4(_) => stack::SANDBOX_ADDR_V4,
                IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
            };
            let meta = RecvMeta {
                dst: match src.ip() {
                    IpAddr::V4(_) => IpAddr::V4(stack::SANDBOX_ADDR_V4),
                    IpAddr::V6(_) => IpAddr::V6(stack::SANDBOX_ADDR_V6),
                },
                spec_dst: local,
                ifindex: stack::index_of(b"eth0").unwrap_or(2),
                ttl: 64,
                tos: 0,
            };
            owner.enqueue(&buf[..n.min(buf.len())], src, meta);
        }
    }
}

/// What a datagram costs its receiver (the truesize of a loopback skb holding it: the data
/// buffer with headroom and shared info, from the small-head cache or a power-of-two
/// allocation, plus the sk_buff), measured against SO_RCVBUF as Linux does.
pub fn truesize(len: usize) -> usize {
    let data = len + 384;
    let alloc = if data <= 576 {
        576
    } else {
        data.next_power_of_two()
    };
    alloc + 256
}

/// One queued datagram.
struct Dgram {
    data: Vec<u8>,
    src: SocketAddr,
    meta: RecvMeta,
    stamp: (i64, i64),
    cost: usize,
}

/// A socket's receive side: what other sockets deliver to, under its own lock.
#[derive(Default)]
struct Queue {
    q: VecDeque<Dgram>,
    /// Memory charged (truesizes).
    used: usize,
    /// sk_err: ECONNREFUSED from a datagram nobody took.
    err: Option<Errno>,
    /// sk_shutdown.
    shut: u8,
    /// Datagrams dropped for want of room (SO_RXQ_OVFL).
    drops: u32,
    /// Multicast groups joined.
    groups: Memberships,
    /// IP_MULTICAST_ALL / IPV6_MULTICAST_ALL.
    mc_all: bool,
    /// IP_RECVERR or IPV6_RECVERR (an unconnected socket hears of refusals then).
    recverr: bool,
}

impl Drop for Queue {
    fn drop(&mut self) {
        super::mem_uncharge(self.used);
    }
}

#[derive(Default)]
struct State {
    ip: InetOpts,
    claim: Option<Claim<Udp>>,
    /// The port was asked for (kept by a disconnect).
    explicit_port: bool,
    /// The address was asked for (kept by a disconnect).
    explicit_addr: bool,
    /// The local address (unmapped; the wildcard until bound or connected).
    local: Option<SocketAddr>,
    /// The connected peer.
    remote: Option<SocketAddr>,
    /// UDP_CORK.
    cork: bool,
    /// A corked datagram being built (UDP_CORK or MSG_MORE): its destination and bytes.
    pending: Option<(SocketAddr, Vec<u8>)>,
    /// UDP_SEGMENT.
    segment: u16,
    /// UDP_GRO, UDP_NO_CHECK6_TX, UDP_NO_CHECK6_RX, UDP_ENCAP; UDPLITE coverages.
    gro: bool,
    no_check6_tx: bool,
    no_check6_rx: bool,
    encap: i32,
    cscov: (i32, i32),
}

/// One UDP socket.
pub struct Udp {
    common: SockCommon,
    id: u64,
    family: u16,
    st: Mutex<State>,
    rx: Mutex<Queue>,
    /// The host socket for the outside, once a datagram went there.
    outside: Mutex<Option<Arc<UdpOutside>>>,
}

/// The socket as the file sees it.
pub struct UdpSocket(Arc<Udp>);

impl Drop for UdpSocket {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.claim = None;
        st.pending = None;
        let mut q = self.0.queue();
        q.groups = Memberships::default();
    }
}

/// How a datagram leaves its sender.
struct Out {
    src: SocketAddr,
    dst: SocketAddr,
    ttl: i32,
    tos: u8,
    /// Multicast: whether the sandbox's own sockets hear it (it leaves by the loopback, or
    /// IP_MULTICAST_LOOP).
    mc_loop: bool,
}

impl Udp {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn table(&self) -> &'static Arc<Table<Udp>> {
        if self.common.protocol == IPPROTO_UDPLITE {
            &UDPLITE
        } else {
            &UDP
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

    fn claim(self: &Arc<Self>, st: &State, local: SocketAddr) -> Result<Claim<Udp>, Errno> {
        let req = Request {
            id: self.id,
            family: self.family,
            cover: Cover::new(self.family, local.ip(), st.ip.v6only),
            flags: self.flags(),
            local,
            explicit: local.port() != 0,
        };
        self.table()
            .claim(req, local.port(), Pick::Bind, Arc::downgrade(self))
    }

    fn ctx(&self, st: &State) -> Ctx {
        Ctx {
            family: self.family,
            stype: SOCK_DGRAM,
            bound: st.claim.is_some(),
            connected: st.remote.is_some(),
            mtu: st.remote.map_or(0, |r| super::path_mtu(r.ip())),
        }
    }

    /// Binds to a port (0: one picked) if not bound yet (inet_autobind).
    fn autobind(self: &Arc<Self>, st: &mut State) -> Result<(), Errno> {
        if st.claim.is_some() {
            return Ok(());
        }
        let local = st.local.unwrap_or_else(|| super::unspecified(self.family));
        let local = SocketAddr::new(local.ip(), 0);
        let c = self.claim(st, local).map_err(|_| Errno::EAGAIN)?;
        st.local = Some(SocketAddr::new(local.ip(), c.port()));
        st.claim = Some(c);
        Ok(())
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
        if st.claim.is_some() {
            return Err(Errno::EINVAL);
        }
        if dev != 0 {
            self.common.opts().bound_dev = dev;
        }
        let c = self.claim(&st, a)?;
        st.local = Some(SocketAddr::new(a.ip(), c.port()));
        st.explicit_port = a.port() != 0;
        st.explicit_addr = !a.ip().is_unspecified();
        st.claim = Some(c);
        Ok(())
    }

    fn connect(self: &Arc<Self>, raw: &[u8]) -> Result<(), Errno> {
        if raw.len() < 2 {
            return Err(Errno::EINVAL);
        }
        if super::addr::family(raw) == AF_UNSPEC {
            return self.disconnect();
        }
        let mut st = self.lock();
        self.autobind(&mut st)?;
        let dst = super::dest_addr(self.family, raw, st.ip.v6only, false)?;
        let dst = super::wildcard_to_loopback(dst);
        if let IpAddr::V4(a) = dst.ip() {
            if super::is_broadcast(a) && !self.common.opts().broadcast {
                return Err(Errno::EACCES);
            }
        }
        if let Destination::Unreachable(e) = stack::destination(dst) {
            if e != Errno::ECONNREFUSED {
                return Err(e);
            }
        }
        let bound_ip = st.local.map(|l| l.ip());
        if self.family == AF_INET6 {
            match bound_ip {
                Some(IpAddr::V6(b)) if !b.is_unspecified() && dst.is_ipv4() => {
                    return Err(Errno::EAFNOSUPPORT)
                }
                Some(IpAddr::V4(_)) if dst.is_ipv6() => return Err(Errno::EAFNOSUPPORT),
                _ => {}
            }
        }
        let src_ip = match bound_ip {
            Some(ip) if !ip.is_unspecified() => ip,
            _ => {
                if dst.ip().is_multicast() {
                    match dst.ip() {
                        IpAddr::V4(_) if !st.ip.mc_if.0.is_unspecified() => {
                            IpAddr::V4(st.ip.mc_if.0)
                        }
                        ip => super::source_for(ip),
                    }
                } else {
                    super::source_for(dst.ip())
                }
            }
        };
        let port = st.claim.as_ref().map_or(0, |c| c.port());
        let local = SocketAddr::new(src_ip, port);
        st.local = Some(local);
        st.remote = Some(dst);
        if let Some(c) = &st.claim {
            self.table().set_connected(c, local, Some(dst));
        }
        Ok(())
    }

    fn disconnect(self: &Arc<Self>) -> Result<(), Errno> {
        // udp_disconnect: the peer goes; the address goes unless it was asked for
        // (SOCK_BINDADDR_LOCK), the port unless it was asked for (SOCK_BINDPORT_LOCK).
        let mut st = self.lock();
        st.remote = None;
        self.common.opts().bound_dev = 0;
        let l = st.local.unwrap_or_else(|| super::unspecified(self.family));
        let ip = if st.explicit_addr {
            l.ip()
        } else {
            super::unspecified(self.family).ip()
        };
        if st.explicit_port {
            let l = SocketAddr::new(ip, l.port());
            st.local = Some(l);
            if let Some(c) = &st.claim {
                self.table().set_connected(c, l, None);
            }
        } else {
            st.claim = None;
            st.local = Some(SocketAddr::new(ip, 0)).filter(|_| st.explicit_addr);
        }
        Ok(())
    }

    fn shutdown(&self, how: u32) -> Result<(), Errno> {
        let bits = (how + 1) as u8;
        let connected = self.lock().remote.is_some();
        self.queue().shut |= bits;
        self.common.wake(POLLIN | POLLOUT);
        // inet_shutdown: an unconnected socket (TCP_CLOSE) says ENOTCONN, but its flags are
        // set all the same (to wake pollers).
        if connected {
            Ok(())
        } else {
            Err(Errno::ENOTCONN)
        }
    }

    fn send(self: &Arc<Self>, msg: SendMsg<'_>) -> Result<usize, Errno> {
        if msg.flags & MSG_OOB != 0 {
            // udp_sendmsg: "Mirror BSD error message compatibility".
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = self.lock();
        {
            let mut q = self.queue();
            if let Some(e) = q.err.take() {
                return Err(e);
            }
            if q.shut & SEND_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
        }
        let mut ttl = None;
        let mut tos = None;
        let mut src_override = None;
        for c in &msg.control {
            match c {
                CmsgIn::Rights(_) | CmsgIn::Creds(_) => return Err(Errno::EINVAL),
                CmsgIn::Other(SOL_SOCKET, ty, _) => {
                    if !matches!(*ty, SO_MARK | SO_TIMESTAMPING_OLD | SO_PRIORITY | SO_TXTIME) {
                        return Err(Errno::EINVAL);
                    }
                }
                CmsgIn::Other(SOL_IP, ty, d) => match *ty {
                    IP_TTL => {
                        if d.len() != 4 {
                            return Err(Errno::EINVAL);
                        }
                        let v = int_opt(d)?;
                        if !(1..=255).contains(&v) {
                            return Err(Errno::EINVAL);
                        }
                        ttl = Some(v);
                    }
                    IP_TOS => {
                        let v = match d.len() {
                            4 => int_opt(d)?,
                            1 => i32::from(d[0]),
                            _ => return Err(Errno::EINVAL),
                        };
                        if !(0..=255).contains(&v) {
                            return Err(Errno::EINVAL);
                        }
                        tos = Some(v as u8);
                    }
                    IP_PKTINFO => {
                        if d.len() != std::mem::size_of::<InPktinfo>() {
                            return Err(Errno::EINVAL);
                        }
                        let p: InPktinfo = crate::net::bytemuck_read(d);
                        let a = Ipv4Addr::from(p.ipi_spec_dst);
                        if !a.is_unspecified() {
                            src_override = Some(IpAddr::V4(a));
                        }
                    }
                    IP_RETOPTS | IP_OPTIONS => {}
                    _ => return Err(Errno::EINVAL),
                },
                CmsgIn::Other(SOL_IPV6, ty, d) if self.family == AF_INET6 => match *ty {
                    IPV6_HOPLIMIT => {
                        if d.len() != 4 {
                            return Err(Errno::EINVAL);
                        }
                        let v = int_opt(d)?;
                        if !(-1..=255).contains(&v) {
                            return Err(Errno::EINVAL);
                        }
                        if v >= 0 {
                            ttl = Some(v);
                        }
                    }
                    IPV6_TCLASS => {
                        if d.len() != 4 {
                            return Err(Errno::EINVAL);
                        }
                        let v = int_opt(d)?;
                        if !(-1..=255).contains(&v) {
                            return Err(Errno::EINVAL);
                        }
                        if v >= 0 {
                            tos = Some(v as u8);
                        }
                    }
                    IPV6_PKTINFO | IPV6_2292PKTINFO => {
                        if d.len() < std::mem::size_of::<In6Pktinfo>() {
                            return Err(Errno::EINVAL);
                        }
                        let p: In6Pktinfo = crate::net::bytemuck_read(d);
                        let a = Ipv6Addr::from(p.ipi6_addr);
                        if !a.is_unspecified() {
                            let ip = super::unmapped(IpAddr::V6(a));
                            if !stack::is_local(ip) {
                                return Err(Errno::EINVAL);
                            }
                            src_override = Some(ip);
                        }
                    }
                    IPV6_DSTOPTS_CMSG | IPV6_RTHDR_CMSG | IPV6_HOPOPTS_CMSG
                    | IPV6_DONTFRAG_CMSG => {}
                    _ => return Err(Errno::EINVAL),
                },
                CmsgIn::Other(..) => {}
            }
        }
        let more = st.cork || msg.flags & MSG_MORE != 0;
        // Where it goes.
        let dst = match msg.addr {
            Some(raw) => {
                let d = super::dest_addr(self.family, raw, st.ip.v6only, self.family == AF_INET)?;
                if d.port() == 0 {
                    return Err(Errno::EINVAL);
                }
                super::wildcard_to_loopback(d)
            }
            None => match (&st.pending, st.remote) {
                (Some((d, _)), _) => *d,
                (None, Some(r)) => r,
                (None, None) => return Err(Errno::EDESTADDRREQ),
            },
        };
        let max = if dst.is_ipv4() {
            MAX_PAYLOAD_V4
        } else {
            MAX_PAYLOAD_V6
        };
        let so_broadcast = self.common.opts().broadcast;
        if let IpAddr::V4(a) = dst.ip() {
            if super::is_broadcast(a) && !so_broadcast {
                return Err(Errno::EACCES);
            }
        }
        if self.family == AF_INET6 && dst.is_ipv4() {
            if let Some(IpAddr::V6(b)) = st.local.map(|l| l.ip()) {
                if !b.is_unspecified() {
                    return Err(Errno::ENETUNREACH);
                }
            }
        }
        self.autobind(&mut st)?;
        if more || st.pending.is_some() {
            let (_, buf) = st.pending.get_or_insert_with(|| (dst, Vec::new()));
            if buf.len() + msg.data.len() > max {
                st.pending = None;
                return Err(Errno::EMSGSIZE);
            }
            buf.extend_from_slice(msg.data);
            if more {
                return Ok(msg.data.len());
            }
        }
        let (dst, data) = match st.pending.take() {
            Some((d, b)) => (d, std::borrow::Cow::Owned(b)),
            None => (dst, std::borrow::Cow::Borrowed(msg.data)),
        };
        let src_ip = match src_override {
            Some(ip) => ip,
            None => match st.local.map(|l| l.ip()) {
                Some(ip) if !ip.is_unspecified() && !ip.is_multicast() => ip,
                _ => {
                    if dst.ip().is_multicast() {
                        match dst.ip() {
                            IpAddr::V4(_) if !st.ip.mc_if.0.is_unspecified() => {
                                IpAddr::V4(st.ip.mc_if.0)
                            }
                            ip => super::source_for(ip),
                        }
                    } else {
                        super::source_for(dst.ip())
                    }
                }
            },
        };
        let src = SocketAddr::new(
            super::unmapped(src_ip),
            st.claim.as_ref().map_or(0, |c| c.port()),
        );
        let multicast = dst.ip().is_multicast();
        let out = Out {
            src,
            dst: super::unmap_sa(dst),
            ttl: ttl.unwrap_or(match (dst.is_ipv4(), multicast) {
                (true, true) => st.ip.mc_ttl,
                (true, false) => st.ip.ttl(),
                (false, true) => {
                    if st.ip.mc_hops < 0 {
                        1
                    } else {
                        st.ip.mc_hops
                    }
                }
                (false, false) => st.ip.hop_limit(),
            }),
            tos: tos.unwrap_or(if dst.is_ipv4() {
                st.ip.tos as u8
            } else {
                st.ip.tclass as u8
            }),
            mc_loop: (if dst.is_ipv4() {
                st.ip.mc_loop
            } else {
                st.ip.mc6_loop
            }) || mc_out_index(&st.ip, dst.is_ipv4()) == super::opts::loopback_index(),
        };
        let segment = usize::from(st.segment);
        drop(st);
        if segment > 0 && data.len() > segment {
            if data.len() > segment * MAX_SEGMENTS {
                return Err(Errno::EINVAL);
            }
            for chunk in data.chunks(segment) {
                self.deliver(&out, chunk)?;
            }
        } else {
            self.deliver(&out, &data)?;
        }
        Ok(msg.data.len())
    }

    /// Hands one datagram to its receivers.
    fn deliver(self: &Arc<Self>, out: &Out, data: &[u8]) -> Result<(), Errno> {
        if stack::config().mode == stack::Mode::Sandbox
            && crate::net::outside::published_reply(out.src.port(), out.dst, data)
        {
            return Ok(());
        }
        match stack::destination(out.dst) {
            Destination::Local => {}
            Destination::Outside(h) => return self.send_outside(h, data),
            Destination::Unreachable(Errno::ECONNREFUSED) => {
                self.refused(out.dst);
                return Ok(());
            }
            Destination::Unreachable(e) => {
                // Multicast and broadcast stay inside the sandbox.
                if !out.dst.ip().is_multicast()
                    && !matches!(out.dst.ip(), IpAddr::V4(a) if super::is_broadcast(a))
                {
                    return Err(e);
                }
            }
        }
        let table = self.table();
        let receivers = table.receivers(out.dst, out.src);
        let group = out.dst.ip();
        let meta = || RecvMeta {
            dst: group,
            spec_dst: match out.dst.ip() {
                IpAddr::V4(a) if !a.is_multicast() && !super::is_broadcast(a) => a,
                _ => match out.src.ip() {
                    IpAddr::V4(s) => s,
                    IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
                },
            },
            ifindex: super::opts::loopback_index(),
            ttl: out.ttl,
            tos: out.tos,
        };
        let broadcast = matches!(group, IpAddr::V4(a) if super::is_broadcast(a));
        if group.is_multicast() || broadcast {
            if group.is_multicast() && !out.mc_loop {
                return Ok(());
            }
            let joined_anywhere = group.is_multicast() && joined_by_any(table, group);
            for (r, _, _) in receivers {
                if group.is_multicast() {
                    let q = r.queue();
                    let member = q.groups.has(group);
                    let ok = member || (q.mc_all && joined_anywhere);
                    drop(q);
                    if !ok {
                        continue;
                    }
                }
                r.enqueue(data, out.src, meta());
            }
            return Ok(());
        }
        // Unicast: the best match (Linux's compute_score), the last bound among equals, or
        // one of a reuseport group by the sender's address.
        let Some(top) = receivers.iter().map(|(_, s, _)| *s).max() else {
            self.refused(out.dst);
            return Ok(());
        };
        let best: Vec<&(Arc<Udp>, u8, Flags)> =
            receivers.iter().filter(|(_, s, _)| *s == top).collect();
        let pick = if best.len() > 1 && best.iter().all(|(_, _, f)| f.reuseport) {
            let h = out.src.port() as usize
                + match out.src.ip() {
                    IpAddr::V4(a) => u32::from(a) as usize,
                    IpAddr::V6(a) => (u128::from(a) as usize) ^ ((u128::from(a) >> 64) as usize),
                };
            best[h % best.len()]
        } else {
            best[best.len() - 1]
        };
        pick.0.enqueue(data, out.src, meta());
        Ok(())
    }

    /// One datagram to `host` outside, through the socket's host socket (made now if this is
    /// its first). A full host socket drops it, as a full device queue does.
    fn send_outside(self: &Arc<Self>, host: SocketAddr, data: &[u8]) -> Result<(), Errno> {
        let out = {
            let mut o = self.outside.lock().unwrap_or_else(|e| e.into_inner());
            match &*o {
                Some(x) => x.clone(),
                None => {
                    // One socket for both families where the host has IPv6.
                    let mut made = None;
                    for v6 in [true, false] {
                        let x = Arc::new(UdpOutside {
                            owner: Arc::downgrade(self),
                            sock: OnceLock::new(),
                            v6,
                        });
                        let t: Arc<dyn Wake> = x.clone();
                        match OutsideUdp::new(v6, Arc::downgrade(&t)) {
                            Ok(s) => {
                                let _ = x.sock.set(s);
                                made = Some(x);
                                break;
                            }
                            Err(Errno::EAFNOSUPPORT) if v6 => continue,
                            Err(Errno::EMFILE | Errno::ENFILE) => return Err(Errno::ENOBUFS),
                            Err(e) => return Err(e),
                        }
                    }
                    let x = made.ok_or(Errno::ENETUNREACH)?;
                    *o = Some(x.clone());
                    x
                }
            }
        };
        if host.is_ipv6() && !out.v6 {
            return Err(Errno::ENETUNREACH);
        }
        let host = match host {
            SocketAddr::V4(a) if out.v6 => {
                SocketAddr::new(IpAddr::V6(a.ip().to_ipv6_mapped()), a.port())
            }
            a => a,
        };
        let Some(sock) = out.sock.get() else {
            return Err(Errno::ENETUNREACH);
        };
        match sock.send_to(data, host) {
            Ok(_) | Err(Errno::EAGAIN) | Err(Errno::ENOBUFS) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Nobody took a datagram this socket sent: the ICMP port unreachable makes ECONNREFUSED
    /// its pending error if it is connected or asked for errors (IP_RECVERR).
    fn refused(&self, dst: SocketAddr) {
        let connected = self
            .lock()
            .remote
            .is_some_and(|r| super::unmap_sa(r) == dst);
        let mut q = self.queue();
        if connected || q.recverr {
            q.err = Some(Errno::ECONNREFUSED);
            drop(q);
            self.common.wake(POLLERR);
        }
    }

    /// Queues a datagram if its memory fits the receive buffer.
    fn enqueue(&self, data: &[u8], src: SocketAddr, meta: RecvMeta) {
        let rcvbuf = self.common.opts().rcvbuf;
        let cost = truesize(data.len());
        {
            let mut q = self.queue();
            if (!q.q.is_empty() && q.used + cost > rcvbuf) || super::mem_charge(cost) < cost {
                q.drops = q.drops.wrapping_add(1);
                return;
            }
            q.used += cost;
            q.q.push_back(Dgram {
                data: data.to_vec(),
                src,
                meta,
                stamp: crate::vfs::now(),
                cost,
            });
        }
        self.common.wake(POLLIN | POLLRDNORM);
    }

    fn recv(
        self: &Arc<Self>,
        buf: &mut [u8],
        flags: u32,
        nonblock: bool,
    ) -> Result<Received, Errno> {
        if flags & MSG_ERRQUEUE != 0 {
            // ip_recv_error: nothing the sandbox does queues errors.
            return Err(Errno::EAGAIN);
        }
        let timeout = self.common.opts().rcvtimeo;
        let peek = flags & MSG_PEEK != 0;
        let d = self.common.wait(&[], nonblock, timeout, || {
            let mut q = self.queue();
            if let Some(e) = q.err.take() {
                return Some(Err(e));
            }
            if peek {
                if let Some(d) = q.q.front() {
                    return Some(Ok((d.data.clone(), d.src, d.meta, d.stamp, q.drops)));
                }
            } else if let Some(d) = q.q.pop_front() {
                q.used -= d.cost;
                super::mem_uncharge(d.cost);
                let drops = q.drops;
                return Some(Ok((d.data.clone(), d.src, d.meta, d.stamp, drops)));
            }
            if q.shut & RCV_SHUTDOWN != 0 {
                return Some(Err(Errno::ENODATA));
            }
            None
        });
        let (data, src, meta, stamp, drops) = match d {
            Err(Errno::ENODATA) => return Ok(Received::default()),
            r => r?,
        };
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        let mut control = Vec::new();
        {
            let o = self.common.opts();
            match o.timestamp {
                1 => {
                    let tv = Timeval {
                        tv_sec: stamp.0,
                        tv_usec: stamp.1 / 1000,
                    };
                    control.push(CmsgOut::Data(
                        SOL_SOCKET,
                        SCM_TIMESTAMP,
                        syscalls::bytes_of(&tv).to_vec(),
                    ));
                }
                2 => {
                    let ts = Timespec {
                        tv_sec: stamp.0,
                        tv_nsec: stamp.1,
                    };
                    control.push(CmsgOut::Data(
                        SOL_SOCKET,
                        SCM_TIMESTAMPNS,
                        syscalls::bytes_of(&ts).to_vec(),
                    ));
                }
                _ => {}
            }
            if o.rxq_ovfl && drops > 0 {
                control.push(CmsgOut::Data(
                    SOL_SOCKET,
                    SO_RXQ_OVFL,
                    drops.to_ne_bytes().to_vec(),
                ));
            }
        }
        {
            let st = self.lock();
            for (l, t, d) in st.ip.recv_cmsgs(self.family, &meta) {
                control.push(CmsgOut::Data(l, t, d));
            }
        }
        Ok(Received {
            copied: n,
            len: data.len(),
            addr: Some(super::encode(src, self.family)),
            control,
            flags: if data.len() > buf.len() { MSG_TRUNC } else { 0 },
        })
    }

    fn poll(&self) -> u32 {
        let q = self.queue();
        let mut m = POLLOUT | POLLWRNORM | POLLWRBAND;
        if q.err.is_some() {
            m |= POLLERR;
        }
        if q.shut & RCV_SHUTDOWN != 0 {
            m |= POLLRDHUP | POLLIN | POLLRDNORM;
        }
        if q.shut == RCV_SHUTDOWN | SEND_SHUTDOWN {
            m |= POLLHUP;
        }
        if !q.q.is_empty() {
            m |= POLLIN | POLLRDNORM;
        }
        m
    }

    fn setsockopt(self: &Arc<Self>, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        match level {
            SOL_SOCKET => {
                self.common.setsockopt(name, val)?;
                if matches!(
                    name,
                    SO_REUSEADDR | SO_REUSEPORT | SO_BINDTODEVICE | SO_BINDTOIFINDEX
                ) {
                    if let Some(c) = &st.claim {
                        self.table().set_flags(c, self.flags());
                    }
                }
                Ok(())
            }
            SOL_UDP => {
                self.set_udp(&mut st, name, val)?;
                if name == UDP_CORK && !st.cork && st.pending.is_some() {
                    // Uncorking sends what was built (udp_push_pending_frames).
                    drop(st);
                    self.send(SendMsg {
                        data: &[],
                        addr: None,
                        control: Vec::new(),
                        flags: 0,
                        nonblock: true,
                        cred: crate::net::current_cred(),
                    })?;
                }
                Ok(())
            }
            _ => {
                let c = self.ctx(&st);
                if let Some(r) = self.queue().groups.setsockopt(c, level, name, val) {
                    return r;
                }
                let r = match st.ip.setsockopt(c, level, name, val) {
                    Some(r) => r,
                    None => Err(Errno::ENOPROTOOPT),
                };
                if r.is_ok() {
                    let mut q = self.queue();
                    q.mc_all = st.ip.mc_all;
                    q.recverr = st.ip.flag4(IP_RECVERR) || st.ip.flag6(IPV6_RECVERR);
                    if !q.recverr && matches!(name, IP_RECVERR | IPV6_RECVERR) {
                        q.err = None;
                    }
                }
                r
            }
        }
    }

    fn set_udp(&self, st: &mut State, name: i32, val: &[u8]) -> Result<(), Errno> {
        if val.len() < 4 {
            return Err(Errno::EINVAL);
        }
        let v = int_opt(val)?;
        let lite = self.common.protocol == IPPROTO_UDPLITE;
        match name {
            UDP_CORK => st.cork = v != 0,
            UDP_SEGMENT => {
                if !(0..=65535).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                st.segment = v as u16;
            }
            UDP_GRO => st.gro = v != 0,
            UDP_NO_CHECK6_TX => st.no_check6_tx = v != 0,
            UDP_NO_CHECK6_RX => st.no_check6_rx = v != 0,
            UDP_ENCAP => st.encap = v,
            UDPLITE_SEND_CSCOV if lite => st.cscov.0 = v,
            UDPLITE_RECV_CSCOV if lite => st.cscov.1 = v,
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    fn getsockopt(&self, level: i32, name: i32, len: usize) -> Option<Result<Vec<u8>, Errno>> {
        let st = self.lock();
        match level {
            SOL_SOCKET => match name {
                SO_ERROR => {
                    let e = self.queue().err.take().map_or(0, |e| e.0);
                    Some(Ok(e.to_ne_bytes().to_vec()))
                }
                SO_PEERCRED => {
                    let c = Ucred {
                        pid: 0,
                        uid: 65534,
                        gid: 65534,
                    };
                    Some(Ok(syscalls::bytes_of(&c).to_vec()))
                }
                _ => None,
            },
            SOL_UDP => {
                let lite = self.common.protocol == IPPROTO_UDPLITE;
                let v = match name {
                    UDP_CORK => i32::from(st.cork),
                    UDP_SEGMENT => i32::from(st.segment),
                    UDP_GRO => i32::from(st.gro),
                    UDP_NO_CHECK6_TX => i32::from(st.no_check6_tx),
                    UDP_NO_CHECK6_RX => i32::from(st.no_check6_rx),
                    UDP_ENCAP => st.encap,
                    UDPLITE_SEND_CSCOV if lite => st.cscov.0,
                    UDPLITE_RECV_CSCOV if lite => st.cscov.1,
                    _ => return Some(Err(Errno::ENOPROTOOPT)),
                };
                Some(Ok(v.to_ne_bytes()[..len.min(4)].to_vec()))
            }
            _ => {
                let c = self.ctx(&st);
                st.ip.getsockopt(c, level, name, len)
            }
        }
    }

    fn sockname(&self) -> Vec<u8> {
        let st = self.lock();
        super::encode(
            st.local.unwrap_or_else(|| super::unspecified(self.family)),
            self.family,
        )
    }

    fn peername(&self) -> Result<Vec<u8>, Errno> {
        let st = self.lock();
        st.remote
            .map(|r| super::encode(r, self.family))
            .ok_or(Errno::ENOTCONN)
    }
}

/// Whether some socket of the sandbox has joined `group` (an interface then receives it).
fn joined_by_any(table: &Table<Udp>, group: IpAddr) -> bool {
    table.all().iter().any(|s| s.queue().groups.has(group))
}

/// The interface a socket's multicast leaves by: IP_MULTICAST_IF's (IPV6_MULTICAST_IF's), or
/// the default route's.
fn mc_out_index(ip: &InetOpts, v4: bool) -> i32 {
    if v4 {
        if ip.mc_if.1 != 0 {
            return ip.mc_if.1;
        }
        if !ip.mc_if.0.is_unspecified() {
            if let Some(i) = super::opts::interface_of(IpAddr::V4(ip.mc_if.0)) {
                return i;
            }
        }
    } else if ip.mc6_if != 0 {
        return ip.mc6_if;
    }
    super::opts::default_mc_index()
}

// Control message types of IPv6 that sendmsg accepts and the sandbox ignores.
const IPV6_HOPOPTS_CMSG: i32 = 54;
const IPV6_RTHDR_CMSG: i32 = 57;
const IPV6_DSTOPTS_CMSG: i32 = 59;
const IPV6_DONTFRAG_CMSG: i32 = 62;

impl Socket for UdpSocket {
    fn common(&self) -> &SockCommon {
        &self.0.common
    }

    fn bind(&self, t: &Task, addr: &[u8]) -> Result<(), Errno> {
        self.0.bind(t, addr)
    }

    fn connect(&self, _t: &Task, addr: &[u8], _nonblock: bool) -> Result<(), Errno> {
        self.0.connect(addr)
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

    fn max_message(&self) -> Option<usize> {
        Some(if self.0.family == AF_INET6 {
            MAX_PAYLOAD_V6
        } else {
            MAX_PAYLOAD_V4
        })
    }

    fn poll(&self) -> u32 {
        self.0.poll()
    }

    fn inq(&self) -> Result<usize, Errno> {
        // udp_ioctl's SIOCINQ: the first datagram's length.
        Ok(self.0.queue().q.front().map_or(0, |d| d.data.len()))
    }

    fn outq(&self) -> Result<usize, Errno> {
        Ok(0)
    }

    fn sigpipe_on_epipe(&self) -> bool {
        false
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Table<Udp> {
    /// Every live socket of the table.
    fn all(&self) -> Vec<Arc<Udp>> {
        self.entries().into_iter().filter_map(|e| e.sock).collect()
    }
}

/// /proc/net/udp or udp6, as Linux's `udp4_seq_show`/`udp6_seq_show` (IPv4 lines padded to
/// 127 characters).
pub fn proc_net(v6: bool) -> String {
    let mut out = String::new();
    let header = if v6 {
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops".to_string()
    } else {
        format!("{:<127}", "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops")
    };
    out.push_str(&header);
    out.push('\n');
    for (n, e) in UDP
        .entries()
        .into_iter()
        .filter(|e| super::proc_is_v6(e.family) == v6)
        .enumerate()
    {
        let (Some(s), Use::Bound) = (&e.sock, e.usage) else {
            continue;
        };
        let (local, remote) = {
            let st = s.lock();
            (
                st.local.unwrap_or(e.local),
                st.remote.unwrap_or_else(|| super::unspecified(e.family)),
            )
        };
        let (rx, drops) = {
            let q = s.queue();
            (q.used, q.drops)
        };
        let state = if remote.port() != 0 {
            TCP_ESTABLISHED
        } else {
            TCP_CLOSE
        };
        let line = format!(
            "{:5}: {} {} {:02X} {:08X}:{:08X} {:02X}:{:08X} {:08X} {:5} {:8} {} {} {:016X} {}",
            n,
            super::proc_addr(local, v6),
            super::proc_addr(remote, v6),
            state,
            0,
            rx,
            0,
            0,
            0,
            e.uid,
            0,
            s.common.ino,
            2,
            0,
            drops
        );
        if v6 {
            out.push_str(&line);
            out.push('\n');
        } else {
            out.push_str(&format!("{line:<127}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_lists_sockets_as_linux() {
        let s = new_socket(AF_INET, IPPROTO_UDP);
        let u = s.as_any().downcast_ref::<UdpSocket>().unwrap();
        let mut st = u.0.lock();
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let c = u.0.claim(&st, local).unwrap();
        let port = c.port();
        st.local = Some(SocketAddr::new(local.ip(), port));
        st.claim = Some(c);
        drop(st);
        let text = proc_net(false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("   sl  local_address rem_address   st tx_queue"));
        assert!(lines.iter().all(|l| l.len() == 127), "{text}");
        let want =
            format!("0100007F:{port:04X} 00000000:0000 07 00000000:00000000 00:00000000 00000000");
        assert!(lines.iter().any(|l| l.contains(&want)), "{text}");
        drop(s);
        assert!(!proc_net(false).contains(&want));
    }

    /// How many datagrams fit the default 212,992-byte buffer on Linux 6.18.
    #[test]
    fn truesizes_fit_as_measured() {
        let fit = |len: usize, rcvbuf: usize| {
            let (mut used, mut n) = (0, 0);
            while n == 0 || used + truesize(len) <= rcvbuf {
                used += truesize(len);
                n += 1;
            }
            n
        };
        assert_eq!(fit(1, 212_992), 256);
        assert_eq!(fit(1000, 212_992), 92);
        assert_eq!(fit(4000, 212_992), 25);
        assert_eq!(fit(65000, 212_992), 3);
        assert_eq!(fit(1, 8192), 9);
        assert_eq!(fit(4000, 8192), 1);
    }
}
