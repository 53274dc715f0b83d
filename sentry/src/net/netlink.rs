// SPDX-License-Identifier: Apache-2.0
//! AF_NETLINK sockets: NETLINK_ROUTE answered from the sandbox's own network configuration
//! ([`super::stack`]), as gVisor's `pkg/sentry/socket/netlink/route` does.
//!
//! Dump requests for links, addresses and routes (what getifaddrs(3), `ip addr`, `ip link`,
//! `ip route` and `hostname -I` ask) get the sandbox's interfaces; a route lookup
//! (`ip route get`) is answered from the routes; neighbours, rules, qdiscs and netconf dump
//! empty. Changes (RTM_NEW*, RTM_DEL*, RTM_SET*) are refused with EPERM, what Linux tells a
//! caller without CAP_NET_ADMIN over the network namespace: the sandbox's network is fixed at
//! start. Other netlink protocols give EPROTONOSUPPORT, as Linux does for a protocol it does
//! not have. Nothing changes, so the multicast groups a socket joins never hear anything.

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, OnceLock};

use syscalls::abi::*;
use syscalls::Errno;

use super::stack::{self, Interface, Route};
use super::{int_opt, Received, SendMsg, SockCommon, Socket, WMEM_DEFAULT};
use crate::kernel::Task;

/// CAP_NET_ADMIN's bit.
const CAP_NET_ADMIN: u32 = 12;

/// Size of `struct sockaddr_nl`.
const SOCKADDR_NL_SIZE: usize = std::mem::size_of::<SockaddrNl>();
/// Most bytes of replies one socket keeps unread before further replies are dropped (with
/// ENOBUFS reported), whatever SO_RCVBUF says: a program that never reads cannot grow the
/// sentry.
const QUEUE_MAX: usize = 4 << 20;

struct State {
    /// The socket's port id (0 until bound).
    portid: u32,
    /// Joined multicast groups (bit n-1 for group n, the first 32).
    groups: u32,
    /// connect(2)'s destination (port id, groups).
    dst: (u32, u32),
    /// Replies waiting to be read, one datagram each.
    queue: VecDeque<Vec<u8>>,
    queued: usize,
    /// An error to report once (ENOBUFS after an overrun).
    err: Option<Errno>,
    /// NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, NETLINK_PKTINFO,
    /// NETLINK_NO_ENOBUFS, NETLINK_BROADCAST_ERROR, NETLINK_LISTEN_ALL_NSID.
    cap_ack: bool,
    ext_ack: bool,
    strict: bool,
    pktinfo: bool,
    no_enobufs: bool,
    broadcast_error: bool,
    listen_all_nsid: bool,
}

/// A NETLINK_ROUTE socket.
pub struct NetlinkSocket {
    common: SockCommon,
    state: Mutex<State>,
}

/// The port ids in use, for bind's EADDRINUSE and autobind.
fn ports() -> MutexGuard<'static, HashSet<u32>> {
    static PORTS: OnceLock<Mutex<HashSet<u32>>> = OnceLock::new();
    PORTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// socket(AF_NETLINK, ...).
pub fn new_socket(stype: u32, protocol: u32) -> Result<Box<dyn Socket>, Errno> {
    if !matches!(stype, SOCK_RAW | SOCK_DGRAM) {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    if protocol != NETLINK_ROUTE {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok(Box::new(NetlinkSocket {
        common: SockCommon::new(AF_NETLINK, stype, protocol, WMEM_DEFAULT, WMEM_DEFAULT),
        state: Mutex::new(State {
            portid: 0,
            groups: 0,
            dst: (0, 0),
            queue: VecDeque::new(),
            queued: 0,
            err: None,
            cap_ack: false,
            ext_ack: false,
            strict: false,
            pktinfo: false,
            no_enobufs: false,
            broadcast_error: false,
            listen_all_nsid: false,
        }),
    }))
}

impl Drop for NetlinkSocket {
    fn drop(&mut self) {
        let id = self.lock().portid;
        if id != 0 {
            ports().remove(&id);
        }
    }
}

impl NetlinkSocket {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a port id: `want`, or (0) the caller's process id if free, else a negative one
    /// (netlink_autobind).
    fn bind_port(&self, st: &mut State, want: u32, tgid: i32) -> Result<(), Errno> {
        if st.portid != 0 {
            return if want == 0 || want == st.portid {
                Ok(())
            } else {
                Err(Errno::EINVAL)
            };
        }
        let mut p = ports();
        let id = if want != 0 {
            if p.contains(&want) {
                return Err(Errno::EADDRINUSE);
            }
            want
        } else if tgid > 0 && !p.contains(&(tgid as u32)) {
            tgid as u32
        } else {
            let mut id = -4096i32;
            while p.contains(&(id as u32)) {
                id -= 1;
            }
            id as u32
        };
        p.insert(id);
        st.portid = id;
        Ok(())
    }

    fn address(portid: u32, groups: u32) -> Vec<u8> {
        let a = SockaddrNl {
            nl_family: AF_NETLINK,
            nl_pad: 0,
            nl_pid: portid,
            nl_groups: groups,
        };
        syscalls::bytes_of(&a).to_vec()
    }

    /// Queues a message from the kernel that no request asked for (mq_notify's SIGEV_THREAD
    /// cookie) and wakes readers.
    pub fn deliver_kernel(&self, msg: Vec<u8>) {
        let mut st = self.lock();
        self.deliver(&mut st, vec![msg]);
        drop(st);
        self.common.wake(POLLIN);
    }

    /// Queues replies; past the queue's room they are dropped and ENOBUFS is reported (what
    /// netlink_overrun does).
    fn deliver(&self, st: &mut State, msgs: Vec<Vec<u8>>) {
        let room = {
            let o = self.common.opts();
            o.rcvbuf.clamp(QUEUE_MAX / 2, QUEUE_MAX)
        };
        for m in msgs {
            if st.queued + m.len() > room {
                if !st.no_enobufs {
                    st.err = Some(Errno::ENOBUFS);
                }
                break;
            }
            st.queued += m.len();
            st.queue.push_back(m);
        }
    }
}

impl Socket for NetlinkSocket {
    fn common(&self) -> &SockCommon {
        &self.common
    }

    fn bind(&self, t: &Task, addr: &[u8]) -> Result<(), Errno> {
        if addr.len() < SOCKADDR_NL_SIZE {
            return Err(Errno::EINVAL);
        }
        let a: SockaddrNl = super::bytemuck_read(addr);
        if a.nl_family != AF_NETLINK {
            return Err(Errno::EINVAL);
        }
        let mut st = self.lock();
        self.bind_port(&mut st, a.nl_pid, t.tgid())?;
        st.groups = a.nl_groups;
        Ok(())
    }

    fn connect(&self, t: &Task, addr: &[u8], _nonblock: bool) -> Result<(), Errno> {
        if addr.len() < 2 {
            return Err(Errno::EINVAL);
        }
        if super::addr::family(addr) == AF_UNSPEC {
            self.lock().dst = (0, 0);
            return Ok(());
        }
        if addr.len() < SOCKADDR_NL_SIZE {
            return Err(Errno::EINVAL);
        }
        let a: SockaddrNl = super::bytemuck_read(addr);
        if a.nl_family != AF_NETLINK {
            return Err(Errno::EINVAL);
        }
        let mut st = self.lock();
        self.bind_port(&mut st, 0, t.tgid())?;
        st.dst = (a.nl_pid, a.nl_groups);
        Ok(())
    }

    fn sockname(&self) -> Result<Vec<u8>, Errno> {
        let st = self.lock();
        Ok(Self::address(st.portid, st.groups))
    }

    fn peername(&self) -> Result<Vec<u8>, Errno> {
        let st = self.lock();
        Ok(Self::address(st.dst.0, st.dst.1))
    }

    fn setsockopt(
        &self,
        _t: &Task,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Option<Result<(), Errno>> {
        if level != SOL_NETLINK {
            return None;
        }
        let r = (|| {
            let v = int_opt(val)?;
            let mut st = self.lock();
            match name {
                NETLINK_ADD_MEMBERSHIP | NETLINK_DROP_MEMBERSHIP => {
                    if v <= 0 || v as u32 > 64 {
                        return Err(Errno::EINVAL);
                    }
                    if v <= 32 {
                        let bit = 1u32 << (v - 1);
                        if name == NETLINK_ADD_MEMBERSHIP {
                            st.groups |= bit;
                        } else {
                            st.groups &= !bit;
                        }
                    }
                }
                NETLINK_CAP_ACK => st.cap_ack = v != 0,
                NETLINK_EXT_ACK => st.ext_ack = v != 0,
                NETLINK_GET_STRICT_CHK => st.strict = v != 0,
                NETLINK_PKTINFO => st.pktinfo = v != 0,
                NETLINK_NO_ENOBUFS => st.no_enobufs = v != 0,
                NETLINK_BROADCAST_ERROR => st.broadcast_error = v != 0,
                NETLINK_LISTEN_ALL_NSID => st.listen_all_nsid = v != 0,
                _ => return Err(Errno::ENOPROTOOPT),
            }
            Ok(())
        })();
        Some(r)
    }

    fn getsockopt(
        &self,
        _t: &Task,
        level: i32,
        name: i32,
        len: usize,
    ) -> Option<Result<Vec<u8>, Errno>> {
        if level != SOL_NETLINK {
            return None;
        }
        let st = self.lock();
        let flag = |b: bool| Ok(i32::from(b).to_ne_bytes().to_vec());
        let r = if len < 4 {
            Err(Errno::EINVAL)
        } else {
            match name {
                NETLINK_CAP_ACK => flag(st.cap_ack),
                NETLINK_EXT_ACK => flag(st.ext_ack),
                NETLINK_GET_STRICT_CHK => flag(st.strict),
                NETLINK_PKTINFO => flag(st.pktinfo),
                NETLINK_NO_ENOBUFS => flag(st.no_enobufs),
                NETLINK_BROADCAST_ERROR => flag(st.broadcast_error),
                NETLINK_LISTEN_ALL_NSID => flag(st.listen_all_nsid),
                NETLINK_LIST_MEMBERSHIPS => Ok(st.groups.to_ne_bytes().to_vec()),
                _ => Err(Errno::ENOPROTOOPT),
            }
        };
        Some(r)
    }

    fn send(&self, t: Option<&Task>, msg: SendMsg<'_>) -> Result<usize, Errno> {
        if let Some(a) = msg.addr {
            if a.len() < SOCKADDR_NL_SIZE {
                return Err(Errno::EINVAL);
            }
            let to: SockaddrNl = super::bytemuck_read(a);
            if to.nl_family != AF_NETLINK {
                return Err(Errno::EINVAL);
            }
            // Only the kernel (port 0) answers; multicast sends need CAP_NET_ADMIN... and
            // nobody in the sandbox listens: other ports are unreachable.
            if to.nl_groups != 0 {
                return Err(Errno::EPERM);
            }
            if to.nl_pid != 0 {
                return Err(Errno::ECONNREFUSED);
            }
        }
        let tgid = t.map(|t| t.tgid()).unwrap_or(msg.cred.pid);
        let mut st = self.lock();
        self.bind_port(&mut st, 0, tgid)?;
        let admin = t.is_some_and(|t| t.creds.caps & (1 << CAP_NET_ADMIN) != 0);
        let replies = handle_requests(msg.data, st.portid, st.cap_ack, admin);
        self.deliver(&mut st, replies);
        drop(st);
        self.common.wake(POLLIN);
        Ok(msg.data.len())
    }

    fn recv(
        &self,
        _t: Option<&Task>,
        buf: &mut [u8],
        flags: u32,
        nonblock: bool,
    ) -> Result<Received, Errno> {
        let timeout = self.common.opts().rcvtimeo;
        self.common.wait(&[], nonblock, timeout, || {
            let mut st = self.lock();
            if let Some(e) = st.err.take() {
                return Some(Err(e));
            }
            let m = st.queue.front()?;
            let n = m.len().min(buf.len());
            buf[..n].copy_from_slice(&m[..n]);
            let len = m.len();
            if flags & MSG_PEEK == 0 {
                st.queued -= len;
                st.queue.pop_front();
            }
            Some(Ok(Received {
                copied: n,
                len,
                addr: Some(Self::address(0, 0)),
                control: Vec::new(),
                flags: if n < len { MSG_TRUNC } else { 0 },
            }))
        })
    }

    fn max_message(&self) -> Option<usize> {
        Some(self.common.opts().sndbuf.max(1 << 16))
    }

    fn poll(&self) -> u32 {
        let st = self.lock();
        let mut ev = POLLOUT | POLLWRNORM;
        if !st.queue.is_empty() {
            ev |= POLLIN | POLLRDNORM;
        }
        if st.err.is_some() {
            ev |= POLLERR;
        }
        ev
    }

    fn inq(&self) -> Result<usize, Errno> {
        Ok(self.lock().queue.front().map_or(0, Vec::len))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

// ---- rtnetlink ----

/// Builds one netlink message: header, fixed body, attributes.
struct MsgBuilder {
    buf: Vec<u8>,
}

impl MsgBuilder {
    fn new(ty: u16, flags: u16, seq: u32, pid: u32, body: &[u8]) -> MsgBuilder {
        let h = Nlmsghdr {
            nlmsg_len: 0,
            nlmsg_type: ty,
            nlmsg_flags: flags,
            nlmsg_seq: seq,
            nlmsg_pid: pid,
        };
        let mut buf = syscalls::bytes_of(&h).to_vec();
        buf.extend_from_slice(body);
        pad(&mut buf);
        MsgBuilder { buf }
    }

    fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        let a = Rtattr {
            rta_len: (4 + data.len()) as u16,
            rta_type: ty,
        };
        self.buf.extend_from_slice(syscalls::bytes_of(&a));
        self.buf.extend_from_slice(data);
        pad(&mut self.buf);
        self
    }

    fn u32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.attr(ty, &v.to_ne_bytes())
    }

    fn u8(&mut self, ty: u16, v: u8) -> &mut Self {
        self.attr(ty, &[v])
    }

    fn string(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(ty, &v)
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

fn pad(buf: &mut Vec<u8>) {
    buf.resize(nlmsg_align(buf.len()), 0);
}

/// The NLMSG_ERROR message for `req` (error 0 is an ACK): the request's header follows, and its
/// payload too unless NETLINK_CAP_ACK (or for an ACK, which carries only the header).
fn error_msg(req: &[u8], h: &Nlmsghdr, portid: u32, err: i32, cap_ack: bool) -> Vec<u8> {
    let mut body = err.to_ne_bytes().to_vec();
    if err == 0 || cap_ack {
        body.extend_from_slice(&req[..16]);
    } else {
        body.extend_from_slice(&req[..(h.nlmsg_len as usize).min(req.len())]);
    }
    let flags = if cap_ack && err != 0 { NLM_F_CAPPED } else { 0 };
    MsgBuilder::new(NLMSG_ERROR, flags, h.nlmsg_seq, portid, &body).finish()
}

fn done_msg(h: &Nlmsghdr, portid: u32) -> Vec<u8> {
    MsgBuilder::new(
        NLMSG_DONE,
        NLM_F_MULTI,
        h.nlmsg_seq,
        portid,
        &0i32.to_ne_bytes(),
    )
    .finish()
}

/// Answers every request in one sendmsg's buffer; returns the reply datagrams.
fn handle_requests(data: &[u8], portid: u32, cap_ack: bool, admin: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 16 <= data.len() {
        let h: Nlmsghdr = super::bytemuck_read(&data[at..]);
        let len = h.nlmsg_len as usize;
        if len < 16 || len > data.len() - at {
            break;
        }
        let req = &data[at..at + len];
        at += nlmsg_align(len);
        // Control messages (NOOP, DONE, ...) are not requests (netlink_rcv_skb).
        if h.nlmsg_flags & NLM_F_REQUEST == 0 || h.nlmsg_type < NLMSG_MIN_TYPE {
            continue;
        }
        match route_request(req, &h, portid, admin) {
            Ok(replies) => {
                let dumped = !replies.is_empty() && h.nlmsg_flags & NLM_F_DUMP == NLM_F_DUMP;
                out.extend(replies);
                if h.nlmsg_flags & NLM_F_ACK != 0 && !dumped {
                    out.push(error_msg(req, &h, portid, 0, cap_ack));
                }
            }
            Err(e) => out.push(error_msg(req, &h, portid, -(e.0), cap_ack)),
        }
    }
    out
}

/// One rtnetlink request (rtnetlink_rcv_msg): dumps of links, addresses and routes, single
/// gets, and the refusal of every change.
fn route_request(
    req: &[u8],
    h: &Nlmsghdr,
    portid: u32,
    admin: bool,
) -> Result<Vec<Vec<u8>>, Errno> {
    let body = &req[16..];
    let family = body.first().copied().unwrap_or(0);
    let ty = h.nlmsg_type;
    // Setting a link's flags to what they are (`ip link set lo up`) changes nothing: allowed
    // to a caller with CAP_NET_ADMIN, as Linux allows it.
    if matches!(ty, RTM_NEWLINK | RTM_SETLINK) && admin && link_change_is_noop(body) {
        return Ok(Vec::new());
    }
    // RTM_NEW*, RTM_DEL*, RTM_SET*: kinds 0, 1 and 3 of each group of four.
    if (RTM_NEWLINK..=RTM_GETNSID + 2).contains(&ty) && ty % 4 != 2 {
        return Err(Errno::EPERM);
    }
    let dump = h.nlmsg_flags & NLM_F_DUMP == NLM_F_DUMP;
    let c = stack::config();
    let multi = |m: &mut Vec<Vec<u8>>| {
        m.push(done_msg(h, portid));
    };
    match ty {
        RTM_GETLINK => {
            if dump {
                let mut out: Vec<Vec<u8>> = c
                    .interfaces
                    .iter()
                    .map(|i| link_msg(i, h.nlmsg_seq, portid, NLM_F_MULTI))
                    .collect();
                multi(&mut out);
                return Ok(out);
            }
            let m: Ifinfomsg = super::bytemuck_read(body);
            let name = find_attr(body, std::mem::size_of::<Ifinfomsg>(), IFLA_IFNAME).map(|v| {
                v.iter()
                    .copied()
                    .take_while(|b| *b != 0)
                    .collect::<Vec<u8>>()
            });
            let i = c
                .interfaces
                .iter()
                .find(|i| {
                    (m.ifi_index > 0 && i.index == m.ifi_index)
                        || name.as_deref().is_some_and(|n| i.name.as_bytes() == n)
                })
                .ok_or(Errno::ENODEV)?;
            Ok(vec![link_msg(i, h.nlmsg_seq, portid, 0)])
        }
        RTM_GETADDR => {
            let mut out = Vec::new();
            for i in &c.interfaces {
                if family == 0 || u16::from(family) == AF_INET {
                    for (a, p) in &i.v4 {
                        out.push(addr_msg(i, IpAddr::V4(*a), *p, h.nlmsg_seq, portid));
                    }
                }
            }
            for i in &c.interfaces {
                if family == 0 || u16::from(family) == AF_INET6 {
                    for (a, p) in &i.v6 {
                        out.push(addr_msg(i, IpAddr::V6(*a), *p, h.nlmsg_seq, portid));
                    }
                }
            }
            multi(&mut out);
            Ok(out)
        }
        RTM_GETROUTE => {
            if !dump {
                return route_get(body, h, portid);
            }
            let mut out: Vec<Vec<u8>> = c
                .routes()
                .iter()
                .filter(|r| match r.dst {
                    IpAddr::V4(_) => family == 0 || u16::from(family) == AF_INET,
                    IpAddr::V6(_) => family == 0 || u16::from(family) == AF_INET6,
                })
                .map(|r| route_msg(r, None, h.nlmsg_seq, portid, NLM_F_MULTI))
                .collect();
            multi(&mut out);
            Ok(out)
        }
        RTM_GETNEIGH | RTM_GETRULE | RTM_GETQDISC | RTM_GETNETCONF if dump => {
            let mut out = Vec::new();
            multi(&mut out);
            Ok(out)
        }
        _ => Err(Errno::EOPNOTSUPP),
    }
}

/// Whether an RTM_NEWLINK/RTM_SETLINK names an existing interface and asks only for flags it
/// already has (rtnl_dev_combine_flags), with no other attribute than its name.
fn link_change_is_noop(body: &[u8]) -> bool {
    let size = std::mem::size_of::<Ifinfomsg>();
    if body.len() < size {
        return false;
    }
    let m: Ifinfomsg = super::bytemuck_read(body);
    let name = find_attr(body, size, IFLA_IFNAME).map(|v| {
        v.iter()
            .copied()
            .take_while(|b| *b != 0)
            .collect::<Vec<u8>>()
    });
    let Some(i) = stack::config().interfaces.iter().find(|i| {
        (m.ifi_index > 0 && i.index == m.ifi_index)
            || (m.ifi_index == 0 && name.as_deref().is_some_and(|n| i.name.as_bytes() == n))
    }) else {
        return false;
    };
    // Any attribute but the name would change something.
    let mut at = nlmsg_align(size);
    while at + 4 <= body.len() {
        let a: Rtattr = super::bytemuck_read(&body[at..]);
        let len = a.rta_len as usize;
        if len < 4 || at + len > body.len() {
            return false;
        }
        if a.rta_type & 0x3fff != IFLA_IFNAME {
            return false;
        }
        at += nlmsg_align(len);
    }
    let change = if m.ifi_change == 0 {
        u32::MAX
    } else {
        m.ifi_change
    };
    // Only the flags a program may set (dev_change_flags): UP, DEBUG, NOARP, DYNAMIC,
    // MULTICAST, PORTSEL, AUTOMEDIA, PROMISC, ALLMULTI.
    let settable =
        change & (IFF_UP | IFF_DEBUG | IFF_NOARP | IFF_MULTICAST | IFF_PROMISC | IFF_ALLMULTI);
    (i.flags & settable) == (m.ifi_flags & settable)
}

/// The payload of attribute `ty` in the attributes that follow `skip` bytes of `body`.
fn find_attr(body: &[u8], skip: usize, ty: u16) -> Option<&[u8]> {
    let mut at = nlmsg_align(skip);
    while at + 4 <= body.len() {
        let a: Rtattr = super::bytemuck_read(&body[at..]);
        let len = a.rta_len as usize;
        if len < 4 || at + len > body.len() {
            return None;
        }
        if a.rta_type & 0x3fff == ty {
            return Some(&body[at + 4..at + len]);
        }
        at += nlmsg_align(len);
    }
    None
}

fn link_msg(i: &Interface, seq: u32, portid: u32, flags: u16) -> Vec<u8> {
    let info = Ifinfomsg {
        ifi_family: AF_UNSPEC as u8,
        _pad: 0,
        ifi_type: i.kind,
        ifi_index: i.index,
        ifi_flags: i.flags,
        ifi_change: 0,
    };
    let loopback = i.flags & IFF_LOOPBACK != 0;
    let mut m = MsgBuilder::new(RTM_NEWLINK, flags, seq, portid, syscalls::bytes_of(&info));
    m.string(IFLA_IFNAME, &i.name)
        .u32(IFLA_TXQLEN, 1000)
        .u8(
            IFLA_OPERSTATE,
            if loopback {
                IF_OPER_UNKNOWN
            } else if i.flags & IFF_RUNNING != 0 {
                IF_OPER_UP
            } else {
                IF_OPER_DOWN
            },
        )
        .u8(IFLA_LINKMODE, 0)
        .u32(IFLA_MTU, i.mtu)
        .u32(IFLA_MIN_MTU, if loopback { 0 } else { 68 })
        .u32(IFLA_MAX_MTU, if loopback { 0 } else { 65535 })
        .u32(IFLA_GROUP, 0)
        .u32(IFLA_PROMISCUITY, 0)
        .u32(IFLA_NUM_TX_QUEUES, 1)
        .u32(IFLA_NUM_RX_QUEUES, 1)
        .u8(IFLA_CARRIER, 1)
        .string(
            IFLA_QDISC,
            if loopback {
                "noqueue"
            } else if i.flags & IFF_UP == 0 {
                "noop"
            } else {
                "fq_codel"
            },
        )
        .attr(IFLA_ADDRESS, &i.hwaddr)
        .attr(IFLA_BROADCAST, &if loopback { [0u8; 6] } else { [0xff; 6] })
        .attr(IFLA_STATS64, &[0u8; 8 * 24])
        .attr(IFLA_STATS, &[0u8; 4 * 24]);
    m.finish()
}

fn addr_msg(i: &Interface, a: IpAddr, prefix: u8, seq: u32, portid: u32) -> Vec<u8> {
    let scope = match a {
        IpAddr::V4(v) if v.is_loopback() => RT_SCOPE_HOST,
        IpAddr::V6(v) if v.is_loopback() => RT_SCOPE_HOST,
        IpAddr::V6(v) if (v.segments()[0] & 0xffc0) == 0xfe80 => RT_SCOPE_LINK,
        _ => RT_SCOPE_UNIVERSE,
    };
    let (family, bytes): (u16, Vec<u8>) = match a {
        IpAddr::V4(v) => (AF_INET, v.octets().to_vec()),
        IpAddr::V6(v) => (AF_INET6, v.octets().to_vec()),
    };
    let flags = IFA_F_PERMANENT;
    let ifa = Ifaddrmsg {
        ifa_family: family as u8,
        ifa_prefixlen: prefix,
        ifa_flags: flags as u8,
        ifa_scope: scope,
        ifa_index: i.index as u32,
    };
    let mut m = MsgBuilder::new(
        RTM_NEWADDR,
        NLM_F_MULTI,
        seq,
        portid,
        syscalls::bytes_of(&ifa),
    );
    m.attr(IFA_ADDRESS, &bytes);
    if let IpAddr::V4(v) = a {
        m.attr(IFA_LOCAL, &bytes);
        if i.flags & IFF_BROADCAST != 0 {
            let b = u32::from(v) | !stack::prefix_mask(prefix);
            m.attr(IFA_BROADCAST, &b.to_be_bytes());
        }
        m.string(IFA_LABEL, &i.name);
    }
    m.u32(IFA_FLAGS, flags);
    // struct ifa_cacheinfo: preferred and valid lifetimes forever, creation and update stamps.
    let mut ci = Vec::new();
    ci.extend_from_slice(&u32::MAX.to_ne_bytes());
    ci.extend_from_slice(&u32::MAX.to_ne_bytes());
    ci.extend_from_slice(&0u32.to_ne_bytes());
    ci.extend_from_slice(&0u32.to_ne_bytes());
    m.attr(IFA_CACHEINFO, &ci);
    m.finish()
}

fn ip_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

/// RTM_NEWROUTE for `r`; `lookup` makes it the answer to `ip route get` for that address.
fn route_msg(r: &Route, lookup: Option<IpAddr>, seq: u32, portid: u32, flags: u16) -> Vec<u8> {
    let v6 = matches!(r.dst, IpAddr::V6(_));
    let rt = Rtmsg {
        rtm_family: if v6 { AF_INET6 as u8 } else { AF_INET as u8 },
        rtm_dst_len: if lookup.is_some() {
            if v6 {
                128
            } else {
                32
            }
        } else {
            r.prefix
        },
        rtm_src_len: 0,
        rtm_tos: 0,
        // A lookup answers from the main table's point of view (iproute2 prints no table).
        rtm_table: if lookup.is_some() {
            RT_TABLE_MAIN
        } else {
            r.table
        },
        rtm_protocol: r.protocol,
        rtm_scope: r.scope,
        rtm_type: r.rtype,
        // A lookup's answer is RTM_F_CLONED, and RTCF_LOCAL for a local destination.
        rtm_flags: match lookup {
            Some(_) if r.rtype == RTN_LOCAL => 0x200 | 0x8000_0000,
            Some(_) => 0x200,
            None => 0,
        },
    };
    let mut m = MsgBuilder::new(RTM_NEWROUTE, flags, seq, portid, syscalls::bytes_of(&rt));
    m.u32(RTA_TABLE, u32::from(rt.rtm_table));
    match lookup {
        Some(a) => {
            m.attr(RTA_DST, &ip_bytes(a));
        }
        None if r.prefix > 0 || r.rtype == RTN_LOCAL => {
            m.attr(RTA_DST, &ip_bytes(r.dst));
        }
        None => {}
    }
    if v6 {
        m.u32(RTA_PRIORITY, if r.gateway.is_some() { 1024 } else { 256 });
    }
    if let Some(s) = r.prefsrc {
        m.attr(RTA_PREFSRC, &ip_bytes(s));
    }
    if let Some(g) = r.gateway {
        m.attr(RTA_GATEWAY, &ip_bytes(g));
    }
    m.u32(RTA_OIF, r.ifindex as u32);
    if v6 {
        m.u8(RTA_PREF, 0);
    }
    if lookup.is_some() {
        m.u32(RTA_UID, 0);
    }
    m.finish()
}

/// `ip route get ADDR`: the longest matching route.
fn route_get(body: &[u8], h: &Nlmsghdr, portid: u32) -> Result<Vec<Vec<u8>>, Errno> {
    let rt: Rtmsg = super::bytemuck_read(body);
    let raw = find_attr(body, std::mem::size_of::<Rtmsg>(), RTA_DST).ok_or(Errno::EINVAL)?;
    let dst = match (u16::from(rt.rtm_family), raw.len()) {
        (AF_INET, 4) => IpAddr::V4(std::net::Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3])),
        (AF_INET6, 16) => {
            let mut b = [0u8; 16];
            b.copy_from_slice(raw);
            IpAddr::V6(std::net::Ipv6Addr::from(b))
        }
        _ => return Err(Errno::EINVAL),
    };
    let routes = stack::config().routes();
    let best = routes
        .iter()
        .filter(|r| prefix_match(r.dst, r.prefix, dst))
        .max_by_key(|r| (r.prefix, r.table == RT_TABLE_LOCAL))
        .ok_or(Errno::ENETUNREACH)?;
    let mut r = best.clone();
    if r.prefsrc.is_none() {
        // The interface's first address of the family.
        let i = stack::config()
            .interfaces
            .iter()
            .find(|i| i.index == r.ifindex);
        r.prefsrc = i.and_then(|i| match dst {
            IpAddr::V4(_) => i.v4.first().map(|(a, _)| IpAddr::V4(*a)),
            IpAddr::V6(_) => i.v6.first().map(|(a, _)| IpAddr::V6(*a)),
        });
    }
    Ok(vec![route_msg(&r, Some(dst), h.nlmsg_seq, portid, 0)])
}

fn prefix_match(net: IpAddr, prefix: u8, a: IpAddr) -> bool {
    match (net, a) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let m = stack::prefix_mask(prefix);
            u32::from(n) & m == u32::from(a) & m
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let m = stack::prefix_mask6(prefix);
            u128::from(n) & m == u128::from(a) & m
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ty: u16, flags: u16, body: &[u8]) -> Vec<u8> {
        MsgBuilder::new(ty, flags, 7, 0, body).finish()
    }

    #[test]
    fn link_dump_ends_with_done() {
        let req = request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &[0u8; 16]);
        let out = handle_requests(&req, 42, false, false);
        assert_eq!(out.len(), 2); // lo, then DONE
        let h: Nlmsghdr = crate::net::bytemuck_read(&out[0]);
        assert_eq!(h.nlmsg_type, RTM_NEWLINK);
        assert_eq!(h.nlmsg_seq, 7);
        assert_eq!(h.nlmsg_pid, 42);
        assert_eq!(h.nlmsg_len as usize, out[0].len());
        let d: Nlmsghdr = crate::net::bytemuck_read(&out[1]);
        assert_eq!(d.nlmsg_type, NLMSG_DONE);
    }

    #[test]
    fn changes_are_refused() {
        let req = request(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK, &[0u8; 8]);
        let out = handle_requests(&req, 1, false, false);
        assert_eq!(out.len(), 1);
        let e: Nlmsgerr = crate::net::bytemuck_read(&out[0][16..]);
        assert_eq!(e.error, -(Errno::EPERM.0));
    }

    #[test]
    fn truncated_messages_are_ignored() {
        let mut req = request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &[0u8; 16]);
        req.truncate(20);
        assert!(handle_requests(&req, 1, false, false).is_empty());
        assert!(handle_requests(&[0u8; 3], 1, false, false).is_empty());
    }
}
