// SPDX-License-Identifier: Apache-2.0
//! ICMP echo: ping sockets (SOCK_DGRAM with IPPROTO_ICMP or IPPROTO_ICMPV6, Linux's `ping.c`)
//! and raw ICMP sockets (SOCK_RAW, for a sandbox root holding CAP_NET_RAW when the user passed
//! `--net-raw`).
//!
//! An echo request to one of the sandbox's addresses is answered by the sandbox itself, as
//! the host's stack answers one to its own: the reply (same identifier, sequence and payload)
//! goes to the ping socket whose identifier it carries, and to every raw ICMP socket (which
//! also sees the request go by, as on loopback). Requests to the outside go through
//! [`super::outside`].
//!
//! Ping sockets are allowed to the groups in /proc/sys/net/ipv4/ping_group_range (Linux's
//! default "1 0" allows nobody: EACCES), as `ping_init_sock` checks. Raw sockets of other
//! protocols than ICMP are refused (EPROTONOSUPPORT): the sandbox has no packets to show them.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::opts::{Ctx, InetOpts, RecvMeta};
use crate::kernel::Task;
use crate::net::stack::{self, Destination};
use crate::net::{int_opt, CmsgIn, CmsgOut, Received, SendMsg, SockCommon, Socket};

/// The ICMP header length.
const ICMP_HDR: usize = 8;
/// Most one ping may carry (ping_common_sendmsg).
const MAX_PING: usize = 0xffff;
/// sk_shutdown bits.
const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;

/// socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and its IPv6 form.
pub fn new_ping(t: &Task, domain: u16) -> Result<Box<dyn Socket>, Errno> {
    let (low, high) = stack::ping_group_range();
    let (_, egid, _) = t.creds.gid;
    let allowed = |g: u32| low <= g && g <= high;
    if !allowed(egid) && !t.creds.groups.iter().any(|g| allowed(*g)) {
        return Err(Errno::EACCES);
    }
    Ok(Box::new(IcmpSocket(Icmp::new(domain, false))))
}

/// socket(AF_INET or AF_INET6, SOCK_RAW, protocol): EPERM unless the caller holds CAP_NET_RAW
/// in the sandbox and the user allowed raw sockets.
pub fn new_raw(t: &Task, domain: u16, protocol: u32) -> Result<Box<dyn Socket>, Errno> {
    // inet_create: protocol 0 matches no raw protocol (EPROTONOSUPPORT) before the
    // capability is checked.
    if protocol == IPPROTO_IP {
        return Err(Errno::EPROTONOSUPPORT);
    }
    if !super::capable(t, CAP_NET_RAW) || !stack::config().net_raw {
        return Err(Errno::EPERM);
    }
    let icmp = if domain == AF_INET6 {
        IPPROTO_ICMPV6
    } else {
        IPPROTO_ICMP
    };
    if protocol != icmp {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok(Box::new(IcmpSocket(Icmp::new(domain, true))))
}

/// The ping identifiers in use, by family, and the raw ICMP sockets.
struct Registry {
    idents: Vec<(u16, u16, Weak<Icmp>, bool)>,
    rover: u16,
    raw: Vec<Weak<Icmp>>,
}

static REG: LazyLock<Mutex<Registry>> = LazyLock::new(|| {
    Mutex::new(Registry {
        idents: Vec::new(),
        rover: 0,
        raw: Vec::new(),
    })
});

fn reg() -> MutexGuard<'static, Registry> {
    REG.lock().unwrap_or_else(|e| e.into_inner())
}

struct Packet {
    data: Vec<u8>,
    src: IpAddr,
    meta: RecvMeta,
    stamp: (i64, i64),
}

#[derive(Default)]
struct State {
    ip: InetOpts,
    /// The identifier (ping) once bound.
    ident: Option<u16>,
    local: Option<IpAddr>,
    remote: Option<IpAddr>,
    /// ICMP_FILTER (raw IPv4): types not to receive.
    filter: u32,
    /// ICMPV6_FILTER (raw IPv6): types not to receive, a 256-bit set.
    filter6: [u32; 8],
    /// IPV6_CHECKSUM at SOL_RAW (raw IPv6): the checksum's offset, or -1; ICMPv6's is always
    /// computed, at 2, whatever this says (`rawv6_init_sk`).
    checksum_off: Option<i32>,
}

#[derive(Default)]
struct Queue {
    q: VecDeque<Packet>,
    used: usize,
    err: Option<Errno>,
    shut: u8,
}

impl Drop for Queue {
    fn drop(&mut self) {
        super::mem_uncharge(self.used);
    }
}

/// A ping or raw ICMP socket.
pub struct Icmp {
    common: SockCommon,
    family: u16,
    raw: bool,
    st: Mutex<State>,
    rx: Mutex<Queue>,
}

/// The socket as the file sees it.
pub struct IcmpSocket(Arc<Icmp>);

impl Drop for IcmpSocket {
    fn drop(&mut self) {
        let me = Arc::as_ptr(&self.0);
        let mut r = reg();
        r.idents
            .retain(|(_, _, w, _)| w.as_ptr() != me && w.strong_count() > 0);
        r.raw.retain(|w| w.as_ptr() != me && w.strong_count() > 0);
    }
}

/// The Internet checksum of `data` with an initial sum.
fn checksum(mut sum: u32, data: &[u8]) -> u16 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// ICMPv6's pseudo-header sum.
fn pseudo6(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> u32 {
    let mut sum = 0u32;
    for w in src.segments().iter().chain(dst.segments().iter()) {
        sum += u32::from(*w);
    }
    sum + (len as u32 >> 16) + (len as u32 & 0xffff) + IPPROTO_ICMPV6
}

/// Sets an ICMP message's checksum.
pub(super) fn set_checksum(msg: &mut [u8], v6: Option<(Ipv6Addr, Ipv6Addr)>) {
    if msg.len() < 4 {
        return;
    }
    msg[2] = 0;
    msg[3] = 0;
    let init = v6.map_or(0, |(s, d)| pseudo6(s, d, msg.len()));
    let c = checksum(init, msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
}

/// An IPv4 header for a raw socket's copy of a packet.
fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, tos: u8, payload: usize) -> [u8; 20] {
    let total = (20 + payload).min(0xffff) as u16;
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[1] = tos;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[6] = 0x40;
    h[8] = ttl;
    h[9] = IPPROTO_ICMP as u8;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let c = checksum(0, &h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

impl Icmp {
    fn new(family: u16, raw: bool) -> Arc<Icmp> {
        let protocol = if family == AF_INET6 {
            IPPROTO_ICMPV6
        } else {
            IPPROTO_ICMP
        };
        let stype = if raw { SOCK_RAW } else { SOCK_DGRAM };
        let s = Arc::new(Icmp {
            common: SockCommon::new(
                family,
                stype,
                protocol,
                crate::net::WMEM_DEFAULT,
                crate::net::WMEM_DEFAULT,
            ),
            family,
            raw,
            st: Mutex::new(State::default()),
            rx: Mutex::new(Queue::default()),
        });
        if raw {
            reg().raw.push(Arc::downgrade(&s));
        }
        s
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ctx(&self, st: &State) -> Ctx {
        Ctx {
            family: self.family,
            stype: if self.raw { SOCK_RAW } else { SOCK_DGRAM },
            bound: st.ident.is_some(),
            connected: st.remote.is_some(),
            mtu: st.remote.map_or(0, super::path_mtu),
        }
    }

    /// Takes an identifier (ping_get_port): the one asked for unless another socket of the
    /// family has it (and not both SO_REUSEADDR), or the next free one from a rover.
    fn get_ident(self: &Arc<Self>, want: u16) -> Result<u16, Errno> {
        let reuse = self.common.opts().reuseaddr;
        let mut r = reg();
        r.idents.retain(|(_, _, w, _)| w.strong_count() > 0);
        let fam = self.family;
        let taken = |r: &Registry, id: u16| {
            r.idents
                .iter()
                .any(|(f, i, _, re)| *f == fam && *i == id && !(reuse && *re))
        };
        let id = if want != 0 {
            if taken(&r, want) {
                return Err(Errno::EADDRINUSE);
            }
            want
        } else {
            let mut found = None;
            for _ in 0..=u16::MAX as u32 {
                r.rover = r.rover.wrapping_add(1);
                if r.rover == 0 {
                    continue;
                }
                if !taken(&r, r.rover) {
                    found = Some(r.rover);
                    break;
                }
            }
            found.ok_or(Errno::EAGAIN)?
        };
        r.idents.push((fam, id, Arc::downgrade(self), reuse));
        Ok(id)
    }

    fn bind(self: &Arc<Self>, t: &Task, raw: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        let (a, _) = super::bind_addr(
            self.family,
            raw,
            st.ip.v6only,
            st.ip.flag4(IP_FREEBIND) || st.ip.flag4(IP_TRANSPARENT),
            true,
        )?;
        let _ = t;
        if self.family == AF_INET6 && a.is_ipv4() {
            // Ping sockets of IPv6 take no IPv4-mapped addresses (ping_check_bind_addr).
            return Err(Errno::EINVAL);
        }
        if st.ident.is_some() || (self.raw && st.local.is_some()) {
            return Err(Errno::EINVAL);
        }
        if !self.raw {
            st.ident = Some(self.get_ident(a.port())?);
        }
        st.local = Some(a.ip());
        Ok(())
    }

    fn connect(self: &Arc<Self>, raw: &[u8]) -> Result<(), Errno> {
        if raw.len() < 2 {
            return Err(Errno::EINVAL);
        }
        let mut st = self.lock();
        if super::addr::family(raw) == AF_UNSPEC {
            st.remote = None;
            return Ok(());
        }
        if !self.raw && st.ident.is_none() {
            st.ident = Some(self.get_ident(0).map_err(|_| Errno::EAGAIN)?);
        }
        let d = super::dest_addr(self.family, raw, true, false)?;
        let d = super::wildcard_to_loopback(d);
        if let IpAddr::V4(a) = d.ip() {
            if super::is_broadcast(a) && !self.common.opts().broadcast {
                return Err(Errno::EACCES);
            }
        }
        if let Destination::Unreachable(e) = stack::destination(d) {
            if e != Errno::ECONNREFUSED {
                return Err(e);
            }
        }
        st.remote = Some(d.ip());
        if st.local.is_none_or(|l| l.is_unspecified()) {
            st.local = Some(super::source_for(d.ip()));
        }
        Ok(())
    }

    fn send(self: &Arc<Self>, msg: SendMsg<'_>) -> Result<usize, Errno> {
        if msg.flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        for c in &msg.control {
            if matches!(c, CmsgIn::Rights(_) | CmsgIn::Creds(_)) {
                return Err(Errno::EINVAL);
            }
        }
        if msg.data.len() > MAX_PING {
            return Err(Errno::EMSGSIZE);
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
        let dst = match msg.addr {
            Some(raw) => {
                let d = super::dest_addr(self.family, raw, true, self.family == AF_INET)?;
                d.ip()
            }
            None => st.remote.ok_or(Errno::EDESTADDRREQ)?,
        };
        let dst = super::wildcard_to_loopback(SocketAddr::new(dst, 0)).ip();
        if let IpAddr::V4(a) = dst {
            if super::is_broadcast(a) && !self.common.opts().broadcast {
                return Err(Errno::EACCES);
            }
        }
        if msg.data.len() < ICMP_HDR {
            return Err(Errno::EINVAL);
        }
        let v6 = self.family == AF_INET6;
        let (echo, reply_type) = if v6 {
            (ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY)
        } else {
            (ICMP_ECHO, ICMP_ECHOREPLY)
        };
        if !self.raw && (msg.data[0] != echo || msg.data[1] != 0) {
            return Err(Errno::EINVAL);
        }
        let ident = if self.raw {
            u16::from_be_bytes([msg.data[4], msg.data[5]])
        } else {
            match st.ident {
                Some(i) => i,
                None => {
                    let i = self.get_ident(0).map_err(|_| Errno::EAGAIN)?;
                    st.ident = Some(i);
                    i
                }
            }
        };
        let src = match st.local {
            Some(l) if !l.is_unspecified() => l,
            _ => super::source_for(dst),
        };
        let ttl = if v6 { st.ip.hop_limit() } else { st.ip.ttl() };
        let tos = if v6 {
            st.ip.tclass as u8
        } else {
            st.ip.tos as u8
        };
        drop(st);
        let mut req = msg.data.to_vec();
        if !self.raw {
            req[4..6].copy_from_slice(&ident.to_be_bytes());
        }
        let pair6 = |s: IpAddr, d: IpAddr| match (s, d) {
            (IpAddr::V6(s), IpAddr::V6(d)) => Some((s, d)),
            _ => None,
        };
        if !self.raw || v6 {
            set_checksum(&mut req, pair6(src, dst));
        }
        // The sandbox network's gateway and resolver answer echoes themselves, as slirp's
        // virtual router does (whether or not they lead anywhere).
        let router = stack::config().mode == stack::Mode::Sandbox
            && [
                IpAddr::V4(stack::SANDBOX_GATEWAY_V4),
                IpAddr::V4(stack::SANDBOX_DNS_V4),
                IpAddr::V6(stack::SANDBOX_GATEWAY_V6),
                IpAddr::V6(stack::SANDBOX_DNS_V6),
            ]
            .contains(&dst);
        match stack::destination(SocketAddr::new(dst, 0)) {
            _ if router => {}
            Destination::Local => {}
            Destination::Outside(h) => return super::outside::send_echo(h.ip(), src, &req),
            Destination::Unreachable(e) => {
                if !matches!(dst, IpAddr::V4(a) if super::is_broadcast(a)) {
                    return Err(if e == Errno::ECONNREFUSED {
                        Errno::EHOSTUNREACH
                    } else {
                        e
                    });
                }
            }
        }
        // The request passes the raw sockets on its way in.
        deliver_raw(self.family, &req, src, dst, ttl, tos);
        let is_echo = req[0] == echo && req[1] == 0;
        let broadcast =
            matches!(dst, IpAddr::V4(a) if super::is_broadcast(a)) || dst.is_multicast();
        if is_echo && !broadcast {
            // The sandbox answers (icmp_echo / icmpv6_echo_reply).
            let mut rep = req.clone();
            rep[0] = reply_type;
            set_checksum(&mut rep, pair6(dst, src));
            let id = u16::from_be_bytes([rep[4], rep[5]]);
            deliver_raw(self.family, &rep, dst, src, 64, tos);
            deliver_ping(self.family, id, &rep, dst, src, 64, tos);
        }
        Ok(msg.data.len())
    }

    fn enqueue(&self, data: Vec<u8>, src: IpAddr, meta: RecvMeta) {
        let rcvbuf = self.common.opts().rcvbuf;
        let cost = super::udp::truesize(data.len());
        {
            let mut q = self.queue();
            if (!q.q.is_empty() && q.used + cost > rcvbuf) || super::mem_charge(cost) < cost {
                return;
            }
            q.used += cost;
            q.q.push_back(Packet {
                data,
                src,
                meta,
                stamp: crate::vfs::now(),
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
        if flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if flags & MSG_ERRQUEUE != 0 {
            return Err(Errno::EAGAIN);
        }
        let timeout = self.common.opts().rcvtimeo;
        let peek = flags & MSG_PEEK != 0;
        let p = self.common.wait(&[], nonblock, timeout, || {
            let mut q = self.queue();
            if let Some(e) = q.err.take() {
                return Some(Err(e));
            }
            if peek {
                if let Some(p) = q.q.front() {
                    return Some(Ok(Some((p.data.clone(), p.src, p.meta, p.stamp))));
                }
            } else if let Some(p) = q.q.pop_front() {
                let cost = super::udp::truesize(p.data.len());
                q.used -= cost;
                super::mem_uncharge(cost);
                return Some(Ok(Some((p.data, p.src, p.meta, p.stamp))));
            }
            if q.shut & RCV_SHUTDOWN != 0 {
                return Some(Ok(None));
            }
            None
        })?;
        let Some((data, src, meta, stamp)) = p else {
            return Ok(Received::default());
        };
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        let mut control = Vec::new();
        match self.common.opts().timestamp {
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
        for (l, t, d) in self.lock().ip.recv_cmsgs(self.family, &meta) {
            control.push(CmsgOut::Data(l, t, d));
        }
        let addr = match src {
            IpAddr::V4(a) => SocketAddr::V4(SocketAddrV4::new(a, 0)),
            IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, 0, 0, 0)),
        };
        Ok(Received {
            copied: n,
            len: data.len(),
            addr: Some(super::encode(addr, self.family)),
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
}

/// Gives a raw ICMP socket of `family` its copy of a packet from `src` to `dst` (IPv4 raw
/// sockets read the IP header too).
fn deliver_raw(family: u16, msg: &[u8], src: IpAddr, dst: IpAddr, ttl: i32, tos: u8) {
    let socks: Vec<Arc<Icmp>> = {
        let mut r = reg();
        r.raw.retain(|w| w.strong_count() > 0);
        r.raw.iter().filter_map(Weak::upgrade).collect()
    };
    for s in socks.into_iter().filter(|s| s.family == family) {
        let (bound, filter) = {
            let st = s.lock();
            (st.local, st.filter)
        };
        if bound.is_some_and(|b| !b.is_unspecified() && b != dst) {
            continue;
        }
        if family == AF_INET
            && msg
                .first()
                .is_some_and(|t| *t < 32 && filter & (1 << t) != 0)
        {
            continue;
        }
        if family == AF_INET6
            && msg
                .first()
                .is_some_and(|t| s.lock().filter6[usize::from(*t >> 5)] & (1 << (t & 31)) != 0)
        {
            continue;
        }
        let data = match (src, dst) {
            (IpAddr::V4(s4), IpAddr::V4(d4)) => {
                let mut v = ipv4_header(s4, d4, ttl as u8, tos, msg.len()).to_vec();
                v.extend_from_slice(msg);
                v
            }
            _ => msg.to_vec(),
        };
        s.enqueue(data, src, meta(dst, src, ttl, tos));
    }
}

/// An echo reply from `from` outside to the sandbox address `to` (carried by
/// [`super::outside`]), with the identifier and sequence number its request had: to the ping
/// socket with that identifier and to the raw ICMP sockets, as a reply from the sandbox's own
/// stack goes.
pub(super) fn deliver_outside_reply(
    v6: bool,
    mut rep: Vec<u8>,
    from: IpAddr,
    to: IpAddr,
    ttl: i32,
) {
    let pair = match (from, to) {
        (IpAddr::V6(s), IpAddr::V6(d)) => Some((s, d)),
        _ => None,
    };
    set_checksum(&mut rep, pair);
    let family = if v6 { AF_INET6 } else { AF_INET };
    let id = u16::from_be_bytes([rep[4], rep[5]]);
    deliver_raw(family, &rep, from, to, ttl, 0);
    deliver_ping(family, id, &rep, from, to, ttl, 0);
}

/// Gives an echo reply to the ping socket with identifier `id`.
fn deliver_ping(family: u16, id: u16, msg: &[u8], src: IpAddr, dst: IpAddr, ttl: i32, tos: u8) {
    // The candidates are taken under the registry's lock, their states looked at after it
    // (a bind holds its state while it takes the registry's).
    let candidates: Vec<Arc<Icmp>> = {
        let mut r = reg();
        r.idents.retain(|(_, _, w, _)| w.strong_count() > 0);
        r.idents
            .iter()
            .rev()
            .filter(|(f, i, _, _)| *f == family && *i == id)
            .filter_map(|(_, _, w, _)| w.upgrade())
            .collect()
    };
    let target = candidates.into_iter().find(|s| {
        let st = s.lock();
        st.local.is_none_or(|b| b.is_unspecified() || b == dst)
            && st.remote.is_none_or(|r| r == src)
    });
    if let Some(s) = target {
        s.enqueue(msg.to_vec(), src, meta(dst, src, ttl, tos));
    }
}

fn meta(dst: IpAddr, src: IpAddr, ttl: i32, tos: u8) -> RecvMeta {
    RecvMeta {
        dst,
        spec_dst: match dst {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => match src {
                IpAddr::V4(s) => s,
                IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
            },
        },
        ifindex: super::opts::loopback_index(),
        ttl,
        tos,
    }
}

impl Socket for IcmpSocket {
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
        let connected = self.0.lock().remote.is_some();
        self.0.queue().shut |= (how + 1) as u8;
        self.0.common.wake(POLLIN | POLLOUT);
        if connected {
            Ok(())
        } else {
            Err(Errno::ENOTCONN)
        }
    }

    fn sockname(&self) -> Result<Vec<u8>, Errno> {
        let st = self.0.lock();
        let ip = st
            .local
            .unwrap_or_else(|| super::unspecified(self.0.family).ip());
        let port = if self.0.raw { 0 } else { st.ident.unwrap_or(0) };
        Ok(super::encode(SocketAddr::new(ip, port), self.0.family))
    }

    fn peername(&self) -> Result<Vec<u8>, Errno> {
        let st = self.0.lock();
        st.remote
            .map(|r| super::encode(SocketAddr::new(r, 0), self.0.family))
            .ok_or(Errno::ENOTCONN)
    }

    fn setsockopt(
        &self,
        _t: &Task,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Option<Result<(), Errno>> {
        let mut st = self.0.lock();
        if level == SOL_SOCKET {
            return None;
        }
        let raw6 = self.0.raw && self.0.family == AF_INET6;
        if raw6 && level == SOL_RAW {
            // do_rawv6_setsockopt: IPV6_CHECKSUM (an even offset, or negative: off).
            if name != IPV6_CHECKSUM {
                return Some(Err(Errno::ENOPROTOOPT));
            }
            let Some(Ok(v)) = (val.len() >= 4).then(|| int_opt(val)) else {
                return Some(Err(Errno::EINVAL));
            };
            if v > 0 && v & 1 != 0 {
                return Some(Err(Errno::EINVAL));
            }
            st.checksum_off = Some(v.max(-1));
            return Some(Ok(()));
        }
        if level == SOL_ICMPV6 && self.0.family == AF_INET6 && self.0.raw {
            // rawv6_seticmpfilter: ICMPV6_FILTER, at most its 32 bytes taken.
            if name != ICMPV6_FILTER {
                return Some(Err(Errno::ENOPROTOOPT));
            }
            for (i, c) in val.chunks(4).take(8).enumerate() {
                let mut w = st.filter6[i].to_ne_bytes();
                w[..c.len()].copy_from_slice(c);
                st.filter6[i] = u32::from_ne_bytes(w);
            }
            return Some(Ok(()));
        }
        if level == SOL_RAW && name == ICMP_FILTER {
            if !self.0.raw || self.0.family != AF_INET {
                return Some(Err(Errno::EOPNOTSUPP));
            }
            let v = if val.len() >= 4 {
                int_opt(val).unwrap_or(0) as u32
            } else {
                0
            };
            st.filter = v;
            return Some(Ok(()));
        }
        let c = self.0.ctx(&st);
        Some(
            st.ip
                .setsockopt(c, level, name, val)
                .unwrap_or(Err(Errno::ENOPROTOOPT)),
        )
    }

    fn getsockopt(
        &self,
        _t: &Task,
        level: i32,
        name: i32,
        len: usize,
    ) -> Option<Result<Vec<u8>, Errno>> {
        let st = self.0.lock();
        match level {
            SOL_SOCKET => match name {
                SO_ERROR => {
                    let e = self.0.queue().err.take().map_or(0, |e| e.0);
                    Some(Ok(e.to_ne_bytes().to_vec()))
                }
                _ => None,
            },
            SOL_RAW if name == ICMP_FILTER && self.0.raw && self.0.family == AF_INET => {
                Some(Ok(st.filter.to_ne_bytes()[..len.min(4)].to_vec()))
            }
            SOL_RAW if self.0.raw && self.0.family == AF_INET6 => {
                if name != IPV6_CHECKSUM {
                    return Some(Err(Errno::ENOPROTOOPT));
                }
                let v = st.checksum_off.unwrap_or(2);
                Some(Ok(v.to_ne_bytes()[..len.min(4)].to_vec()))
            }
            SOL_ICMPV6 if self.0.raw && self.0.family == AF_INET6 => {
                if name != ICMPV6_FILTER {
                    return Some(Err(Errno::ENOPROTOOPT));
                }
                let bytes: Vec<u8> = st.filter6.iter().flat_map(|w| w.to_ne_bytes()).collect();
                Some(Ok(bytes[..len.min(32)].to_vec()))
            }
            _ => {
                let c = self.0.ctx(&st);
                st.ip.getsockopt(c, level, name, len)
            }
        }
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
        Some(MAX_PING)
    }

    fn poll(&self) -> u32 {
        self.0.poll()
    }

    fn inq(&self) -> Result<usize, Errno> {
        Ok(self.0.queue().q.front().map_or(0, |p| p.data.len()))
    }

    fn sigpipe_on_epipe(&self) -> bool {
        false
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_the_internet_checksum() {
        // An echo request with id 1, seq 1 and no payload.
        let mut m = [8u8, 0, 0, 0, 0, 1, 0, 1];
        set_checksum(&mut m, None);
        assert_eq!(u16::from_be_bytes([m[2], m[3]]), 0xf7fd);
        assert_eq!(checksum(0, &m), 0);
        let h = ipv4_header(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 64, 0, 8);
        assert_eq!(checksum(0, &h), 0);
    }

    fn echo(s: &Arc<Icmp>, to: &str, seq: u16, payload: &[u8]) -> Result<usize, Errno> {
        let mut req = vec![ICMP_ECHO, 0, 0, 0, 0x12, 0x34];
        req.extend_from_slice(&seq.to_be_bytes());
        req.extend_from_slice(payload);
        let addr = super::super::encode(format!("{to}:0").parse().unwrap(), AF_INET);
        s.send(SendMsg {
            data: &req,
            addr: Some(&addr),
            control: Vec::new(),
            flags: 0,
            nonblock: true,
            cred: Ucred::default(),
        })
    }

    /// A ping socket's echo request to a sandbox address is answered: same sequence and
    /// payload, the socket's identifier, a valid checksum, from the address pinged.
    #[test]
    fn ping_sockets_get_their_echo_replies() {
        let s = Icmp::new(AF_INET, false);
        assert_eq!(echo(&s, "127.0.0.3", 7, b"hello"), Ok(13));
        let mut buf = [0u8; 64];
        let r = s.recv(&mut buf, 0, true).unwrap();
        assert_eq!(r.copied, 13);
        let ident = s.lock().ident.unwrap();
        assert_eq!(buf[0], ICMP_ECHOREPLY);
        assert_eq!(u16::from_be_bytes([buf[4], buf[5]]), ident);
        assert_eq!(u16::from_be_bytes([buf[6], buf[7]]), 7);
        assert_eq!(&buf[8..13], b"hello");
        assert_eq!(checksum(0, &buf[..13]), 0);
        assert_eq!(
            r.addr,
            Some(super::super::encode(
                "127.0.0.3:0".parse().unwrap(),
                AF_INET
            ))
        );
        assert_eq!(s.recv(&mut buf, 0, true).err(), Some(Errno::EAGAIN));
        // An echo with no payload is fine; less than a header is not.
        assert_eq!(echo(&s, "127.0.0.1", 1, b""), Ok(8));
        let short = super::super::encode("127.0.0.1:0".parse().unwrap(), AF_INET);
        let bad = s.send(SendMsg {
            data: &[ICMP_ECHO, 0, 0],
            addr: Some(&short),
            control: Vec::new(),
            flags: 0,
            nonblock: true,
            cred: Ucred::default(),
        });
        assert_eq!(bad, Err(Errno::EINVAL));
    }

    /// A raw ICMP socket sees the request go by and the reply come, each with its IPv4
    /// header; ICMP_FILTER can leave out echo requests.
    #[test]
    fn raw_sockets_see_requests_and_replies() {
        let s = Icmp::new(AF_INET, true);
        // Bound to an address of its own, it sees only its own traffic (tests run together).
        s.lock().local = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7)));
        s.lock().filter = 1 << ICMP_ECHO;
        assert_eq!(echo(&s, "127.0.0.7", 3, b"raw"), Ok(11));
        let mut buf = [0u8; 64];
        let r = s.recv(&mut buf, 0, true).unwrap();
        assert_eq!(r.copied, 20 + 11);
        assert_eq!(buf[0], 0x45);
        assert_eq!(buf[9], IPPROTO_ICMP as u8);
        assert_eq!(buf[20], ICMP_ECHOREPLY);
        assert_eq!(u16::from_be_bytes([buf[24], buf[25]]), 0x1234);
        assert_eq!(s.recv(&mut buf, 0, true).err(), Some(Errno::EAGAIN));
    }
}
