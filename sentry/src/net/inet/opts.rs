// SPDX-License-Identifier: Apache-2.0
//! The IP-level options every inet socket has (SOL_IP and, on AF_INET6 sockets, SOL_IPV6), as
//! Linux's `ip_sockglue.c` and `ipv6_sockglue.c` keep and check them, and the control messages
//! they ask for on received datagrams.
//!
//! Multicast memberships ([`Memberships`]) are kept by each protocol (UDP delivers by them);
//! stream sockets refuse IP_ADD_MEMBERSHIP with EPROTO but take MCAST_JOIN_GROUP, as Linux
//! does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use syscalls::abi::*;
use syscalls::Errno;

use crate::net::{int_opt, stack};

/// net.ipv4.ip_default_ttl (and the IPv6 hop limit of the sandbox's interfaces).
pub const DEFAULT_TTL: i32 = 64;
/// The ECN bits of the TOS byte, which a TCP socket keeps to itself.
const INET_ECN_MASK: i32 = 3;
/// The most IPv4 options one socket may set (40 bytes of header).
const MAX_IP_OPTIONS: usize = 40;

/// IP-level options of one socket.
#[derive(Clone, Debug)]
pub struct InetOpts {
    /// IP_TOS.
    pub tos: i32,
    /// IP_TTL (-1: the default).
    pub ttl: i32,
    /// IP_MTU_DISCOVER.
    pub pmtudisc: i32,
    /// IP_MINTTL.
    pub minttl: i32,
    /// IP_UNICAST_IF.
    pub unicast_if: i32,
    /// IP_OPTIONS, raw.
    pub options: Vec<u8>,
    /// IP_LOCAL_PORT_RANGE (high << 16 | low, 0: the system's).
    pub port_range: u32,
    /// IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IP_RECVOPTS, IP_RETOPTS, IP_RECVERR,
    /// IP_RECVERR_RFC4884, IP_FREEBIND, IP_TRANSPARENT, IP_BIND_ADDRESS_NO_PORT,
    /// IP_ORIGDSTADDR, IP_PASSSEC, IP_NODEFRAG, IP_CHECKSUM, IP_RECVFRAGSIZE,
    /// IP_HDRINCL: booleans by option number.
    flags4: u64,
    /// IP_MULTICAST_TTL.
    pub mc_ttl: i32,
    /// IP_MULTICAST_LOOP.
    pub mc_loop: bool,
    /// IP_MULTICAST_ALL.
    pub mc_all: bool,
    /// IP_MULTICAST_IF: the interface's address and index (0: the default).
    pub mc_if: (Ipv4Addr, i32),
    /// IPV6_V6ONLY.
    pub v6only: bool,
    /// IPV6_UNICAST_HOPS (-1: the default).
    pub hops: i32,
    /// IPV6_MULTICAST_HOPS (-1: the default, 1).
    pub mc_hops: i32,
    /// IPV6_MULTICAST_LOOP.
    pub mc6_loop: bool,
    /// IPV6_MULTICAST_IF.
    pub mc6_if: i32,
    /// IPV6_TCLASS (-1 stores as 0).
    pub tclass: i32,
    /// IPV6_MTU_DISCOVER.
    pub pmtudisc6: i32,
    /// IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS, IPV6_RECVERR,
    /// IPV6_RECVORIGDSTADDR, IPV6_FREEBIND, IPV6_TRANSPARENT, IPV6_AUTOFLOWLABEL,
    /// IPV6_MULTICAST_ALL, IPV6_RECVFRAGSIZE, IPV6_2292PKTINFO, IPV6_ROUTER_ALERT...:
    /// booleans by option number.
    flags6: u128,
    /// IPV6_UNICAST_IF.
    pub unicast_if6: i32,
    /// IPV6_ADDR_PREFERENCES.
    pub addr_prefs: i32,
    /// IPV6_MINHOPCOUNT.
    pub minhops: i32,
}

impl Default for InetOpts {
    fn default() -> Self {
        InetOpts {
            tos: 0,
            ttl: -1,
            pmtudisc: IP_PMTUDISC_WANT,
            minttl: 0,
            unicast_if: 0,
            options: Vec::new(),
            port_range: 0,
            flags4: 0,
            mc_ttl: 1,
            mc_loop: true,
            mc_all: true,
            mc_if: (Ipv4Addr::UNSPECIFIED, 0),
            v6only: false,
            hops: -1,
            mc_hops: -1,
            mc6_loop: true,
            mc6_if: 0,
            tclass: 0,
            pmtudisc6: IP_PMTUDISC_WANT,
            flags6: 1 << IPV6_AUTOFLOWLABEL,
            unicast_if6: 0,
            addr_prefs: 0,
            minhops: 0,
        }
    }
}

/// What the option code needs to know of the socket.
#[derive(Clone, Copy)]
pub struct Ctx {
    /// AF_INET or AF_INET6.
    pub family: u16,
    /// SOCK_STREAM, SOCK_DGRAM, SOCK_RAW.
    pub stype: u32,
    /// Whether the socket has a local port (IPV6_V6ONLY is fixed from then on).
    pub bound: bool,
    /// Whether it is connected (IP_MTU answers then).
    pub connected: bool,
    /// The path MTU when connected.
    pub mtu: u32,
}

/// The IPv4 boolean options kept in `flags4`.
const BOOL4: &[i32] = &[
    IP_PKTINFO,
    IP_RECVTTL,
    IP_RECVTOS,
    IP_RECVOPTS,
    IP_RETOPTS,
    IP_RECVERR,
    IP_RECVERR_RFC4884,
    IP_FREEBIND,
    IP_TRANSPARENT,
    IP_BIND_ADDRESS_NO_PORT,
    IP_ORIGDSTADDR,
    IP_PASSSEC,
    IP_NODEFRAG,
    IP_CHECKSUM,
    IP_RECVFRAGSIZE,
    IP_HDRINCL,
];

/// The IPv6 boolean options kept in `flags6`.
const BOOL6: &[i32] = &[
    IPV6_RECVPKTINFO,
    IPV6_RECVHOPLIMIT,
    IPV6_RECVTCLASS,
    IPV6_RECVERR,
    IPV6_RECVORIGDSTADDR,
    IPV6_FREEBIND,
    IPV6_TRANSPARENT,
    IPV6_AUTOFLOWLABEL,
    IPV6_MULTICAST_ALL,
    IPV6_RECVFRAGSIZE,
    IPV6_2292PKTINFO,
    IPV6_ROUTER_ALERT,
];

/// An IPv4 int option's value as `do_ip_setsockopt` reads it: an int when 4 bytes or more
/// were given, else one byte, else 0.
fn ip_int(val: &[u8]) -> i32 {
    if val.len() >= 4 {
        int_opt(val).unwrap_or(0)
    } else {
        val.first().map_or(0, |b| i32::from(*b))
    }
}

impl InetOpts {
    /// A boolean IPv4 option.
    pub fn flag4(&self, name: i32) -> bool {
        (0..64).contains(&name) && self.flags4 & (1 << name) != 0
    }

    /// A boolean IPv6 option.
    pub fn flag6(&self, name: i32) -> bool {
        (0..128).contains(&name) && self.flags6 & (1 << name) != 0
    }

    fn set4(&mut self, name: i32, on: bool) {
        if on {
            self.flags4 |= 1 << name;
        } else {
            self.flags4 &= !(1 << name);
        }
    }

    fn set6(&mut self, name: i32, on: bool) {
        if on {
            self.flags6 |= 1 << name;
        } else {
            self.flags6 &= !(1 << name);
        }
    }

    /// The TTL a packet leaves with.
    pub fn ttl(&self) -> i32 {
        if self.ttl < 0 {
            DEFAULT_TTL
        } else {
            self.ttl
        }
    }

    /// The hop limit an IPv6 packet leaves with.
    pub fn hop_limit(&self) -> i32 {
        if self.hops < 0 {
            DEFAULT_TTL
        } else {
            self.hops
        }
    }

    /// setsockopt(2) at SOL_IP or SOL_IPV6 (None: not an IP level; multicast membership is
    /// left to the caller, which gets None for it too).
    pub fn setsockopt(
        &mut self,
        c: Ctx,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Option<Result<(), Errno>> {
        match level {
            SOL_IP => Some(self.set_ip(c, name, val)),
            SOL_IPV6 if c.family == AF_INET6 => Some(self.set_ipv6(c, name, val)),
            SOL_IPV6 => Some(Err(Errno::ENOPROTOOPT)),
            _ => None,
        }
    }

    fn set_ip(&mut self, c: Ctx, name: i32, val: &[u8]) -> Result<(), Errno> {
        let v = ip_int(val);
        let stream = c.stype == SOCK_STREAM;
        match name {
            IP_TOS => {
                let mut v = v & 0xff;
                if stream {
                    v &= !INET_ECN_MASK;
                    v |= self.tos & INET_ECN_MASK;
                }
                self.tos = v;
            }
            IP_TTL => {
                if val.is_empty() || (v != -1 && !(1..=255).contains(&v)) {
                    return Err(Errno::EINVAL);
                }
                self.ttl = v;
            }
            IP_MTU_DISCOVER => {
                if !(IP_PMTUDISC_DONT..=IP_PMTUDISC_OMIT).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.pmtudisc = v;
            }
            IP_MINTTL => {
                if val.is_empty() || !(0..=255).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.minttl = v;
            }
            IP_MULTICAST_TTL => {
                if stream || val.is_empty() {
                    return Err(Errno::EINVAL);
                }
                let v = if v == -1 { 1 } else { v };
                if !(0..=255).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.mc_ttl = v;
            }
            IP_MULTICAST_LOOP => {
                if val.is_empty() {
                    return Err(Errno::EINVAL);
                }
                self.mc_loop = v != 0;
            }
            IP_MULTICAST_ALL => {
                if val.is_empty() || !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.mc_all = v != 0;
            }
            IP_MULTICAST_IF => {
                if stream {
                    return Err(Errno::EINVAL);
                }
                self.mc_if = multicast_if(val)?;
            }
            IP_UNICAST_IF => {
                if val.len() != 4 {
                    return Err(Errno::EINVAL);
                }
                let i = u32::from_be_bytes([val[0], val[1], val[2], val[3]]) as i32;
                if i != 0 && !stack::has_index(i) {
                    return Err(Errno::EADDRNOTAVAIL);
                }
                self.unicast_if = i;
            }
            IP_OPTIONS => {
                if val.len() > MAX_IP_OPTIONS {
                    return Err(Errno::EINVAL);
                }
                self.options = val.to_vec();
            }
            IP_LOCAL_PORT_RANGE => {
                if val.len() < 4 {
                    return Err(Errno::EINVAL);
                }
                let r = v as u32;
                let (lo, hi) = (r & 0xffff, r >> 16);
                if lo != 0 && hi != 0 && lo > hi {
                    return Err(Errno::EINVAL);
                }
                self.port_range = r;
            }
            IP_HDRINCL if c.stype != SOCK_RAW => return Err(Errno::ENOPROTOOPT),
            IP_RECVERR_RFC4884 => {
                if !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.set4(name, v != 0);
            }
            n if BOOL4.contains(&n) => self.set4(n, v != 0),
            IP_ROUTER_ALERT => {
                if c.stype != SOCK_RAW {
                    return Err(Errno::ENOPROTOOPT);
                }
            }
            // Multicast membership is the protocol's (UDP) or refused by it (TCP).
            IP_ADD_MEMBERSHIP
            | IP_DROP_MEMBERSHIP
            | IP_ADD_SOURCE_MEMBERSHIP
            | IP_DROP_SOURCE_MEMBERSHIP
            | IP_BLOCK_SOURCE
            | IP_UNBLOCK_SOURCE
            | IP_MSFILTER => return Err(Errno::EPROTO),
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    fn set_ipv6(&mut self, c: Ctx, name: i32, val: &[u8]) -> Result<(), Errno> {
        let stream = c.stype == SOCK_STREAM;
        let int = || {
            if val.len() < 4 {
                Err(Errno::EINVAL)
            } else {
                int_opt(val)
            }
        };
        match name {
            IPV6_V6ONLY => {
                let v = int()?;
                if c.bound {
                    return Err(Errno::EINVAL);
                }
                self.v6only = v != 0;
            }
            IPV6_UNICAST_HOPS => {
                let v = int()?;
                if !(-1..=255).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.hops = v;
            }
            IPV6_MULTICAST_HOPS => {
                if stream {
                    return Err(Errno::ENOPROTOOPT);
                }
                let v = int()?;
                if !(-1..=255).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.mc_hops = v;
            }
            IPV6_MULTICAST_LOOP => {
                let v = int()?;
                if !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.mc6_loop = v != 0;
            }
            IPV6_MULTICAST_IF => {
                if stream {
                    return Err(Errno::ENOPROTOOPT);
                }
                let v = int()?;
                if v != 0 && !stack::has_index(v) {
                    return Err(Errno::ENODEV);
                }
                self.mc6_if = v;
            }
            IPV6_UNICAST_IF => {
                let v = int()?;
                if v != 0 && !stack::has_index(v) {
                    return Err(Errno::EADDRNOTAVAIL);
                }
                self.unicast_if6 = v;
            }
            IPV6_TCLASS => {
                let v = int()?;
                if !(-1..=255).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.tclass = v.max(0);
            }
            IPV6_MTU_DISCOVER => {
                let v = int()?;
                if !(IP_PMTUDISC_DONT..=IP_PMTUDISC_OMIT).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.pmtudisc6 = v;
            }
            IPV6_MTU => {
                let v = int()?;
                if v != 0 && v < 1280 {
                    return Err(Errno::EINVAL);
                }
            }
            IPV6_ADDR_PREFERENCES => self.addr_prefs = int()?,
            IPV6_MINHOPCOUNT => {
                let v = int()?;
                if !(0..=255).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                self.minhops = v;
            }
            IPV6_MULTICAST_ALL | IPV6_AUTOFLOWLABEL | IPV6_RECVERR => {
                let v = int()?;
                self.set6(name, v != 0);
            }
            n if BOOL6.contains(&n) => {
                let v = int()?;
                self.set6(n, v != 0);
            }
            IPV6_ADD_MEMBERSHIP | IPV6_DROP_MEMBERSHIP | IPV6_JOIN_ANYCAST | IPV6_LEAVE_ANYCAST => {
                if val.len() < std::mem::size_of::<Ipv6Mreq>() {
                    return Err(Errno::EINVAL);
                }
                return Err(Errno::EPROTO);
            }
            IPV6_ADDRFORM => return Err(Errno::EINVAL),
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    /// getsockopt(2) at SOL_IP or SOL_IPV6 (None: not an IP level).
    pub fn getsockopt(
        &self,
        c: Ctx,
        level: i32,
        name: i32,
        len: usize,
    ) -> Option<Result<Vec<u8>, Errno>> {
        match level {
            SOL_IP => Some(self.get_ip(c, name, len)),
            SOL_IPV6 if c.family == AF_INET6 => Some(self.get_ipv6(c, name, len)),
            // An AF_INET socket sends other levels to ip_getsockopt: EOPNOTSUPP.
            _ if c.family == AF_INET => Some(Err(Errno::EOPNOTSUPP)),
            _ => Some(Err(Errno::ENOPROTOOPT)),
        }
    }

    fn get_ip(&self, c: Ctx, name: i32, len: usize) -> Result<Vec<u8>, Errno> {
        let v = match name {
            IP_TOS => self.tos,
            IP_TTL => self.ttl(),
            IP_MTU_DISCOVER => self.pmtudisc,
            IP_MTU => {
                if !c.connected {
                    return Err(Errno::ENOTCONN);
                }
                c.mtu as i32
            }
            IP_MINTTL => self.minttl,
            IP_MULTICAST_TTL => self.mc_ttl,
            IP_MULTICAST_LOOP => i32::from(self.mc_loop),
            IP_MULTICAST_ALL => i32::from(self.mc_all),
            IP_UNICAST_IF => i32::from_ne_bytes((self.unicast_if as u32).to_be_bytes()),
            IP_LOCAL_PORT_RANGE => self.port_range as i32,
            IP_MULTICAST_IF => {
                let a = self.mc_if.0.octets();
                return Ok(a[..len.min(4)].to_vec());
            }
            IP_OPTIONS => {
                return Ok(self.options[..len.min(self.options.len())].to_vec());
            }
            IP_PKTOPTIONS => {
                if c.stype != SOCK_STREAM {
                    return Err(Errno::ENOPROTOOPT);
                }
                // No options were received with the stream's last segment.
                return Ok(Vec::new());
            }
            n if BOOL4.contains(&n) => i32::from(self.flag4(n)),
            IP_ROUTER_ALERT => 0,
            _ => return Err(Errno::ENOPROTOOPT),
        };
        Ok(ip_int_out(v, len))
    }

    fn get_ipv6(&self, c: Ctx, name: i32, len: usize) -> Result<Vec<u8>, Errno> {
        let v = match name {
            IPV6_V6ONLY => i32::from(self.v6only),
            IPV6_UNICAST_HOPS => self.hop_limit(),
            IPV6_MULTICAST_HOPS => {
                if self.mc_hops < 0 {
                    1
                } else {
                    self.mc_hops
                }
            }
            IPV6_MULTICAST_LOOP => i32::from(self.mc6_loop),
            IPV6_MULTICAST_IF => self.mc6_if,
            IPV6_UNICAST_IF => self.unicast_if6,
            IPV6_TCLASS => self.tclass,
            IPV6_MTU_DISCOVER => self.pmtudisc6,
            IPV6_MTU => {
                if !c.connected {
                    return Err(Errno::ENOTCONN);
                }
                c.mtu as i32
            }
            IPV6_ADDR_PREFERENCES => self.addr_prefs,
            IPV6_MINHOPCOUNT => self.minhops,
            n if BOOL6.contains(&n) => i32::from(self.flag6(n)),
            _ => return Err(Errno::ENOPROTOOPT),
        };
        if len < 4 {
            // do_ipv6_getsockopt copies what fits of the int.
            return Ok(v.to_ne_bytes()[..len].to_vec());
        }
        Ok(v.to_ne_bytes().to_vec())
    }

    /// The control messages a received datagram carries for this socket (IP_PKTINFO,
    /// IP_TTL, IP_TOS; IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS), for an AF_INET6 socket
    /// receiving IPv4 the IPv4 ones.
    pub fn recv_cmsgs(&self, family: u16, m: &RecvMeta) -> Vec<(i32, i32, Vec<u8>)> {
        let mut out = Vec::new();
        match m.dst {
            IpAddr::V4(dst) => {
                if self.flag4(IP_PKTINFO) {
                    let p = InPktinfo {
                        ipi_ifindex: m.ifindex,
                        ipi_spec_dst: m.spec_dst.octets(),
                        ipi_addr: dst.octets(),
                    };
                    out.push((SOL_IP, IP_PKTINFO, syscalls::bytes_of(&p).to_vec()));
                }
                if self.flag4(IP_RECVTTL) {
                    out.push((SOL_IP, IP_TTL, m.ttl.to_ne_bytes().to_vec()));
                }
                if self.flag4(IP_RECVTOS) {
                    out.push((SOL_IP, IP_TOS, vec![m.tos]));
                }
                if family == AF_INET6 && self.flag6(IPV6_RECVPKTINFO) {
                    let p = In6Pktinfo {
                        ipi6_addr: dst.to_ipv6_mapped().octets(),
                        ipi6_ifindex: m.ifindex,
                    };
                    out.push((SOL_IPV6, IPV6_PKTINFO, syscalls::bytes_of(&p).to_vec()));
                }
            }
            IpAddr::V6(dst) => {
                if self.flag6(IPV6_RECVPKTINFO) {
                    let p = In6Pktinfo {
                        ipi6_addr: dst.octets(),
                        ipi6_ifindex: m.ifindex,
                    };
                    out.push((SOL_IPV6, IPV6_PKTINFO, syscalls::bytes_of(&p).to_vec()));
                }
                if self.flag6(IPV6_RECVHOPLIMIT) {
                    out.push((SOL_IPV6, IPV6_HOPLIMIT, m.ttl.to_ne_bytes().to_vec()));
                }
                if self.flag6(IPV6_RECVTCLASS) {
                    out.push((
                        SOL_IPV6,
                        IPV6_TCLASS,
                        i32::from(m.tos).to_ne_bytes().to_vec(),
                    ));
                }
            }
        }
        out
    }
}

/// What arrived with a datagram, for its control messages.
#[derive(Clone, Copy, Debug)]
pub struct RecvMeta {
    /// The address it was sent to (unmapped).
    pub dst: IpAddr,
    /// The local address a reply would come from (IP_PKTINFO's ipi_spec_dst).
    pub spec_dst: Ipv4Addr,
    /// The interface it came in on.
    pub ifindex: i32,
    /// Its TTL or hop limit.
    pub ttl: i32,
    /// Its TOS or traffic class.
    pub tos: u8,
}

/// An int option's value out, as `do_ip_getsockopt`: a buffer shorter than an int gets one
/// byte when the value fits in one.
fn ip_int_out(v: i32, len: usize) -> Vec<u8> {
    if len < 4 && len > 0 && (0..=255).contains(&v) {
        vec![v as u8]
    } else {
        v.to_ne_bytes().to_vec()
    }
}

/// IP_MULTICAST_IF's value: an `ip_mreqn`, an `ip_mreq` or an `in_addr`; the address must be
/// one of the sandbox's (EADDRNOTAVAIL), the index an interface's (ENODEV).
pub fn multicast_if(val: &[u8]) -> Result<(Ipv4Addr, i32), Errno> {
    let (addr, index) = if val.len() >= std::mem::size_of::<IpMreqn>() {
        let m: IpMreqn = crate::net::bytemuck_read(val);
        (Ipv4Addr::from(m.imr_address), m.imr_ifindex)
    } else if val.len() >= 4 {
        // An ip_mreq's second address, or a bare in_addr.
        let at = if val.len() >= 8 { 4 } else { 0 };
        (
            Ipv4Addr::new(val[at], val[at + 1], val[at + 2], val[at + 3]),
            0,
        )
    } else {
        return Err(Errno::EINVAL);
    };
    if index == 0 && addr.is_unspecified() {
        return Ok((addr, 0));
    }
    if index != 0 {
        let i = stack::config()
            .interfaces
            .iter()
            .find(|i| i.index == index)
            .ok_or(Errno::EADDRNOTAVAIL)?;
        if !addr.is_unspecified() && !i.v4.iter().any(|(a, _)| *a == addr) {
            return Err(Errno::EINVAL);
        }
        return Ok((addr, index));
    }
    let i = interface_of(IpAddr::V4(addr)).ok_or(Errno::EADDRNOTAVAIL)?;
    Ok((addr, i))
}

/// The interface holding a local address (127/8 is lo's).
pub fn interface_of(a: IpAddr) -> Option<i32> {
    let c = stack::config();
    match a {
        IpAddr::V4(a) if a.is_loopback() => c
            .interfaces
            .iter()
            .find(|i| i.flags & IFF_LOOPBACK != 0)
            .map(|i| i.index),
        IpAddr::V4(a) => c
            .interfaces
            .iter()
            .find(|i| i.v4.iter().any(|(x, _)| *x == a))
            .map(|i| i.index),
        IpAddr::V6(a) => c
            .interfaces
            .iter()
            .find(|i| i.v6.iter().any(|(x, _)| *x == a))
            .map(|i| i.index),
    }
}

/// The loopback interface's index.
pub fn loopback_index() -> i32 {
    interface_of(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap_or(1)
}

/// IPv6's loopback address.
pub const LOOPBACK6: Ipv6Addr = Ipv6Addr::LOCALHOST;

/// net.ipv4.igmp_max_memberships: the most IPv4 groups one socket may join.
const MAX_MEMBERSHIPS: usize = 20;
/// The most IPv6 groups one socket may join (Linux bounds them by net.core.optmem_max).
const MAX_MEMBERSHIPS6: usize = 1024;

/// The multicast groups a socket has joined, with the interface of each.
#[derive(Clone, Debug, Default)]
pub struct Memberships {
    /// IPv4 groups.
    pub v4: Vec<(Ipv4Addr, i32)>,
    /// IPv6 groups.
    pub v6: Vec<(Ipv6Addr, i32)>,
}

impl Memberships {
    /// Whether the socket has joined `group`.
    pub fn has(&self, group: IpAddr) -> bool {
        match group {
            IpAddr::V4(g) => self.v4.iter().any(|(x, _)| *x == g),
            IpAddr::V6(g) => self.v6.iter().any(|(x, _)| *x == g),
        }
    }

    /// The membership options (IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP, IPV6_ADD_MEMBERSHIP,
    /// IPV6_DROP_MEMBERSHIP, MCAST_JOIN_GROUP, MCAST_LEAVE_GROUP) as `ip_mc_join_group` and
    /// `ipv6_sock_mc_join` check them; `None` for other options. Stream sockets refuse the
    /// IP_* and IPV6_* forms (EPROTO) but take the MCAST_* ones, as Linux does.
    pub fn setsockopt(
        &mut self,
        c: Ctx,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Option<Result<(), Errno>> {
        let stream = c.stype == SOCK_STREAM;
        match (level, name) {
            (SOL_IP, IP_ADD_MEMBERSHIP | IP_DROP_MEMBERSHIP) => Some((|| {
                if val.len() < 8 {
                    return Err(Errno::EINVAL);
                }
                if stream {
                    return Err(Errno::EPROTO);
                }
                let (group, addr, index) = if val.len() >= std::mem::size_of::<IpMreqn>() {
                    let m: IpMreqn = crate::net::bytemuck_read(val);
                    (
                        Ipv4Addr::from(m.imr_multiaddr),
                        Ipv4Addr::from(m.imr_address),
                        m.imr_ifindex,
                    )
                } else {
                    (
                        Ipv4Addr::new(val[0], val[1], val[2], val[3]),
                        Ipv4Addr::new(val[4], val[5], val[6], val[7]),
                        0,
                    )
                };
                self.change4(name == IP_ADD_MEMBERSHIP, group, addr, index)
            })()),
            (SOL_IPV6, IPV6_ADD_MEMBERSHIP | IPV6_DROP_MEMBERSHIP) if c.family == AF_INET6 => {
                Some((|| {
                    if val.len() < std::mem::size_of::<Ipv6Mreq>() {
                        return Err(Errno::EINVAL);
                    }
                    if stream {
                        return Err(Errno::EPROTO);
                    }
                    let m: Ipv6Mreq = crate::net::bytemuck_read(val);
                    let group = Ipv6Addr::from(m.ipv6mr_multiaddr);
                    self.change6(name == IPV6_ADD_MEMBERSHIP, group, m.ipv6mr_interface)
                })())
            }
            (SOL_IP | SOL_IPV6, MCAST_JOIN_GROUP | MCAST_LEAVE_GROUP)
                if level == SOL_IP || c.family == AF_INET6 =>
            {
                Some((|| {
                    if val.len() < std::mem::size_of::<GroupReq>() {
                        return Err(Errno::EINVAL);
                    }
                    let g: GroupReq = crate::net::bytemuck_read(val);
                    let add = name == MCAST_JOIN_GROUP;
                    let index = g.gr_interface as i32;
                    match (crate::net::addr::family(&g.gr_group), level) {
                        (AF_INET, _) => {
                            let a = crate::net::addr::decode_v4(&g.gr_group);
                            self.change4(add, *a.ip(), Ipv4Addr::UNSPECIFIED, index)
                        }
                        (AF_INET6, SOL_IPV6) => {
                            let a = crate::net::addr::decode_v6(&g.gr_group);
                            self.change6(add, *a.ip(), index)
                        }
                        _ => Err(Errno::EINVAL),
                    }
                })())
            }
            (
                SOL_IP | SOL_IPV6,
                MCAST_BLOCK_SOURCE
                | MCAST_UNBLOCK_SOURCE
                | MCAST_JOIN_SOURCE_GROUP
                | MCAST_LEAVE_SOURCE_GROUP
                | MCAST_MSFILTER,
            )
            | (
                SOL_IP,
                IP_ADD_SOURCE_MEMBERSHIP
                | IP_DROP_SOURCE_MEMBERSHIP
                | IP_BLOCK_SOURCE
                | IP_UNBLOCK_SOURCE
                | IP_MSFILTER,
            ) => {
                // Source-specific multicast: the sandbox keeps no source filters.
                Some(Err(Errno::ENOPROTOOPT))
            }
            _ => None,
        }
    }

    fn change4(
        &mut self,
        add: bool,
        group: Ipv4Addr,
        addr: Ipv4Addr,
        index: i32,
    ) -> Result<(), Errno> {
        if !group.is_multicast() {
            return Err(Errno::EINVAL);
        }
        let ifindex = if index != 0 {
            if !stack::has_index(index) {
                return Err(Errno::ENODEV);
            }
            index
        } else if !addr.is_unspecified() {
            interface_of(IpAddr::V4(addr)).ok_or(Errno::ENODEV)?
        } else {
            default_mc_index()
        };
        let any = !add && index == 0 && addr.is_unspecified();
        let at = self
            .v4
            .iter()
            .position(|(g, i)| *g == group && (*i == ifindex || any));
        match (add, at) {
            (true, Some(_)) => Err(Errno::EADDRINUSE),
            (true, None) if self.v4.len() >= MAX_MEMBERSHIPS => Err(Errno::ENOBUFS),
            (true, None) => {
                self.v4.push((group, ifindex));
                Ok(())
            }
            (false, Some(i)) => {
                self.v4.remove(i);
                Ok(())
            }
            (false, None) => Err(Errno::EADDRNOTAVAIL),
        }
    }

    fn change6(&mut self, add: bool, group: Ipv6Addr, index: i32) -> Result<(), Errno> {
        if !group.is_multicast() {
            return Err(Errno::EINVAL);
        }
        let ifindex = if index != 0 {
            if !stack::has_index(index) {
                return Err(Errno::ENODEV);
            }
            index
        } else {
            default_mc_index()
        };
        let at = self
            .v6
            .iter()
            .position(|(g, i)| *g == group && (*i == ifindex || (!add && index == 0)));
        match (add, at) {
            (true, Some(_)) => Err(Errno::EADDRINUSE),
            // Linux charges each membership to net.core.optmem_max; about this many fit.
            (true, None) if self.v6.len() >= MAX_MEMBERSHIPS6 => Err(Errno::ENOBUFS),
            (true, None) => {
                self.v6.push((group, ifindex));
                Ok(())
            }
            (false, Some(i)) => {
                self.v6.remove(i);
                Ok(())
            }
            (false, None) => Err(Errno::EADDRNOTAVAIL),
        }
    }
}

/// The interface a multicast group is joined on when the caller names none: the default
/// route's (the sandbox's first interface that is not the loopback), else the loopback.
pub fn default_mc_index() -> i32 {
    stack::config()
        .interfaces
        .iter()
        .find(|i| i.flags & IFF_LOOPBACK == 0)
        .map_or_else(loopback_index, |i| i.index)
}
