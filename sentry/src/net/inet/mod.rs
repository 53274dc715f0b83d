// SPDX-License-Identifier: Apache-2.0
//! AF_INET and AF_INET6 sockets on the sandbox's own network: TCP ([`tcp`]), UDP ([`udp`]),
//! ping and raw ICMP ([`icmp`]), their port tables ([`ports`]) and IP-level options
//! ([`opts`]).
//!
//! # Transport-level, not a packet stack
//!
//! The sandbox's inet sockets are implemented at the transport layer inside the sentry, not on
//! a packet stack (smoltcp or a netstack of our own). A TCP connection between two sandbox
//! sockets is a pair of bounded byte queues with TCP's observable behaviour: its states and
//! handshake outcomes (ECONNREFUSED, EINPROGRESS and SO_ERROR, listen backlogs), FIN and
//! half-close, RST on a close with unread data or SO_LINGER 0 (ECONNRESET, EPIPE), TIME_WAIT
//! holding the port against a bind without SO_REUSEADDR, ephemeral ports from
//! ip_local_port_range, send and receive buffer sizes and where writes block, urgent data. UDP
//! is datagram queues keyed by port with Linux's delivery rules (SO_REUSEADDR, SO_REUSEPORT,
//! broadcast, multicast groups with IP_MULTICAST_LOOP, connected sockets' filtering, and the
//! ECONNREFUSED a connected sender gets when nothing listens, as the ICMP port unreachable
//! would give it).
//!
//! Why:
//! - The issue (9) allows a direct path between sandbox sockets as long as everything the
//!   program can observe is TCP's; everything above is what a program can observe on loopback.
//! - A packet stack would add segmentation, checksums and a copy per segment on loopback,
//!   where the aim is 0.8x native throughput; here a byte is copied once into the peer's queue
//!   and once out of it.
//! - Flows to the outside leave through host sockets of the sentry's (a transport-level NAT,
//!   as passt does), so there is no L2/L3 device to feed a packet stack anyway: the seam is
//!   [`outside`] (`stack::destination` says `Outside`), which the host side fills in.
//!
//! What this does not model: segments, windows and retransmission timers (a connection's bytes
//! are delivered at once, ACKs are instant), so TCP states that last only until an ACK (SYN_RECV,
//! FIN_WAIT1, LAST_ACK, CLOSING) are passed through at once, and a listener whose backlog is
//! full holds a connect until accept(2) makes room instead of retransmitting its SYN.
//!
//! Known divergences, each rare in real programs:
//! - No SIGURG when urgent data arrives (the socket does not know its file's owner); MSG_OOB,
//!   SIOCATMARK, POLLPRI and SO_OOBINLINE are Linux's.
//! - IP_RECVERR and IPV6_RECVERR are accepted (and make an unconnected UDP socket hear of a
//!   refused datagram through SO_ERROR), but nothing is queued for MSG_ERRQUEUE.
//! - Timed events nobody causes are seen when someone looks (a receive, poll, accept): a
//!   segment held back by MSG_MORE/TCP_CORK for 200 ms, a TCP_DEFER_ACCEPT deferral ending.
//!   A blocked receive or accept wakes for them; an epoll or poll that is already waiting
//!   does not.
//! - SO_BINDTODEVICE takes part in bind conflicts but does not filter what a socket receives.
//! - Reported sizes follow Linux 6.x on loopback where a program could read them (TCP_MAXSEG,
//!   the grown SO_SNDBUF, UDP's per-datagram memory); SO_SNDBUF/SO_RCVBUF are capped by
//!   net.core's defaults (212,992), not the host's own sysctls.
//!
//! In host mode (`--network host`) every inet socket is the host's, carried out by the sentry;
//! that dispatch goes at the top of [`new_socket`].

pub mod icmp;
pub mod opts;
pub mod outside;
pub mod ports;
pub mod tcp;
pub mod udp;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::{AtomicUsize, Ordering};

use syscalls::abi::*;
use syscalls::Errno;

use super::addr;
use super::stack;
use crate::kernel::Task;
use crate::net::Socket;

/// socket(AF_INET or AF_INET6, ...): the protocol is looked up for the type as Linux's
/// `inet_create` does (0 picks the type's own; a protocol the type lacks: EPROTONOSUPPORT; a
/// type the family lacks: ESOCKTNOSUPPORT).
pub fn new_socket(
    t: &Task,
    domain: u16,
    stype: u32,
    protocol: u32,
) -> Result<Box<dyn Socket>, Errno> {
    if protocol >= IPPROTO_MAX {
        return Err(Errno::EINVAL);
    }
    match stype {
        SOCK_STREAM => match protocol {
            IPPROTO_IP | IPPROTO_TCP => Ok(tcp::new_socket(domain, IPPROTO_TCP)),
            // MPTCP falls back to plain TCP with a peer that does not offer it, and no sandbox
            // socket does: a TCP socket that reports its protocol.
            IPPROTO_MPTCP => Ok(tcp::new_socket(domain, IPPROTO_MPTCP)),
            _ => Err(Errno::EPROTONOSUPPORT),
        },
        SOCK_DGRAM => match protocol {
            IPPROTO_IP | IPPROTO_UDP => Ok(udp::new_socket(domain, IPPROTO_UDP)),
            IPPROTO_UDPLITE => Ok(udp::new_socket(domain, IPPROTO_UDPLITE)),
            IPPROTO_ICMP if domain == AF_INET => icmp::new_ping(t, domain),
            IPPROTO_ICMPV6 if domain == AF_INET6 => icmp::new_ping(t, domain),
            _ => Err(Errno::EPROTONOSUPPORT),
        },
        SOCK_RAW => icmp::new_raw(t, domain, protocol),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

/// The IPv4 address an IPv4-mapped IPv6 address stands for, or the address itself.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        a => a,
    }
}

/// A socket address with its IP unmapped.
pub fn unmap_sa(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(unmapped(a.ip()), a.port())
}

/// A socket's address as getsockname/getpeername/recvfrom report it for `domain`.
pub fn encode(a: SocketAddr, domain: u16) -> Vec<u8> {
    addr::encode(a, domain)
}

/// The unbound address of a socket of `domain` (`0.0.0.0:0` or `[::]:0`).
pub fn unspecified(domain: u16) -> SocketAddr {
    if domain == AF_INET6 {
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0))
    } else {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
    }
}

/// Whether `a` is an IPv4 broadcast address of the sandbox: 255.255.255.255, or the directed
/// broadcast of one of its networks (127.255.255.255 for the loopback's, as Linux's local
/// table has it, whatever the interface's IFF_BROADCAST).
pub fn is_broadcast(a: Ipv4Addr) -> bool {
    if a.is_broadcast() {
        return true;
    }
    stack::config().interfaces.iter().any(|i| {
        i.v4.iter().any(|(x, p)| {
            let m = stack::prefix_mask(*p);
            *p < 31 && u32::from(a) == (u32::from(*x) & m) | !m
        })
    })
}

/// Whether the caller holds a capability (the sandbox's virtual one).
pub fn capable(t: &Task, cap: u32) -> bool {
    t.creds.caps & (1u64 << cap) != 0
}

/// The caller's capabilities, from the task this sentry thread serves (for paths without a
/// task argument); all for kernel-internal calls.
pub fn current_capable(cap: u32) -> bool {
    crate::kernel::block::current()
        .and_then(|t| {
            crate::kernel::lock(&t.info)
                .as_ref()
                .map(|i| i.creds.caps & (1u64 << cap) != 0)
        })
        .unwrap_or(true)
}

/// A bind(2) address for a socket of `family`, checked as Linux's `inet_bind` and
/// `inet6_bind` do: EINVAL when too short, EAFNOSUPPORT for another family (AF_INET also takes
/// AF_UNSPEC with INADDR_ANY), EINVAL for an IPv4-mapped address on an IPV6_V6ONLY socket or
/// a link-local one without a scope, EADDRNOTAVAIL for an address that is not the sandbox's
/// (unless `nonlocal`: IP_FREEBIND, IP_TRANSPARENT), EACCES for a port below
/// ip_unprivileged_port_start without CAP_NET_BIND_SERVICE. Returns the address (IPv4-mapped
/// ones unmapped) and the device it binds to (a link-local scope).
pub fn bind_addr(
    family: u16,
    raw: &[u8],
    v6only: bool,
    nonlocal: bool,
    can_bind_service: bool,
) -> Result<(SocketAddr, i32), Errno> {
    let mut dev = 0;
    let a = if family == AF_INET {
        if raw.len() < std::mem::size_of::<SockaddrIn>() {
            return Err(Errno::EINVAL);
        }
        let a = addr::decode_v4(raw);
        match addr::family(raw) {
            AF_INET => {}
            AF_UNSPEC if a.ip().is_unspecified() => {}
            _ => return Err(Errno::EAFNOSUPPORT),
        }
        let ip = *a.ip();
        if !(ip.is_unspecified()
            || ip.is_multicast()
            || is_broadcast(ip)
            || stack::is_local(IpAddr::V4(ip))
            || nonlocal)
        {
            return Err(Errno::EADDRNOTAVAIL);
        }
        SocketAddr::V4(a)
    } else {
        if raw.len() < SIN6_LEN_RFC2133 {
            return Err(Errno::EINVAL);
        }
        if addr::family(raw) != AF_INET6 {
            return Err(Errno::EAFNOSUPPORT);
        }
        let a = addr::decode_v6(raw);
        let ip = *a.ip();
        if let Some(v4) = ip.to_ipv4_mapped() {
            if v6only {
                return Err(Errno::EINVAL);
            }
            if !(v4.is_unspecified()
                || v4.is_multicast()
                || is_broadcast(v4)
                || stack::is_local(IpAddr::V4(v4))
                || nonlocal)
            {
                return Err(Errno::EADDRNOTAVAIL);
            }
            SocketAddr::V4(SocketAddrV4::new(v4, a.port()))
        } else {
            if !ip.is_unspecified() {
                if needs_scope(ip) {
                    if a.scope_id() == 0 {
                        return Err(Errno::EINVAL);
                    }
                    if !stack::has_index(a.scope_id() as i32) {
                        return Err(Errno::ENODEV);
                    }
                    dev = a.scope_id() as i32;
                }
                if !ip.is_multicast() && !stack::is_local(IpAddr::V6(ip)) && !nonlocal {
                    return Err(Errno::EADDRNOTAVAIL);
                }
            }
            SocketAddr::V6(SocketAddrV6::new(ip, a.port(), 0, 0))
        }
    };
    if a.port() != 0 && u32::from(a.port()) < ports::unprivileged_port_start() && !can_bind_service
    {
        return Err(Errno::EACCES);
    }
    Ok((a, dev))
}

/// The shortest sockaddr_in6 Linux takes (RFC 2133's, without the scope id).
pub const SIN6_LEN_RFC2133: usize = 24;

/// Whether an IPv6 address needs a scope id (link-local unicast or multicast).
pub fn needs_scope(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    (s[0] & 0xffc0) == 0xfe80 || (ip.is_multicast() && (s[0] & 0x000f) <= 2)
}

/// A connect(2) or sendto(2) destination for a socket of `family`: EINVAL when too short,
/// EAFNOSUPPORT for another family; for AF_INET6 sockets ENETUNREACH for an IPv4-mapped
/// address when IPV6_V6ONLY. The wildcard address means the local host (127.0.0.1 or ::1, as
/// Linux routes it). Returns the address unmapped.
pub fn dest_addr(
    family: u16,
    raw: &[u8],
    v6only: bool,
    unspec_ok: bool,
) -> Result<SocketAddr, Errno> {
    if family == AF_INET {
        if raw.len() < std::mem::size_of::<SockaddrIn>() {
            return Err(Errno::EINVAL);
        }
        match addr::family(raw) {
            AF_INET => {}
            AF_UNSPEC if unspec_ok => {}
            _ => return Err(Errno::EAFNOSUPPORT),
        }
        let a = addr::decode_v4(raw);
        Ok(SocketAddr::V4(a))
    } else {
        if raw.len() < SIN6_LEN_RFC2133 {
            return Err(Errno::EINVAL);
        }
        if addr::family(raw) != AF_INET6 {
            return Err(Errno::EAFNOSUPPORT);
        }
        let a = addr::decode_v6(raw);
        if let Some(v4) = a.ip().to_ipv4_mapped() {
            if v6only {
                return Err(Errno::ENETUNREACH);
            }
            return Ok(SocketAddr::V4(SocketAddrV4::new(v4, a.port())));
        }
        Ok(SocketAddr::V6(a))
    }
}

/// The local address a flow from an unbound socket to `dst` leaves from: the destination
/// itself when it is one of the sandbox's addresses (127.0.0.1 for the rest of 127/8, as
/// Linux's route for 127.0.0.0/8 names it), else the address of the interface it leaves by.
pub fn source_for(dst: IpAddr) -> IpAddr {
    match dst {
        IpAddr::V4(a) if a.is_loopback() || a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_loopback() || a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        a if stack::is_local(a) => a,
        IpAddr::V4(_) => stack::config()
            .interfaces
            .iter()
            .filter(|i| i.flags & IFF_LOOPBACK == 0)
            .find_map(|i| i.v4.first().map(|(a, _)| IpAddr::V4(*a)))
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        IpAddr::V6(_) => stack::config()
            .interfaces
            .iter()
            .filter(|i| i.flags & IFF_LOOPBACK == 0)
            .find_map(|i| i.v6.first().map(|(a, _)| IpAddr::V6(*a)))
            .unwrap_or(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    }
}

/// Where the local host is for a destination given as the wildcard: 127.0.0.1 or ::1.
pub fn wildcard_to_loopback(dst: SocketAddr) -> SocketAddr {
    match dst.ip() {
        IpAddr::V4(a) if a.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), dst.port())
        }
        IpAddr::V6(a) if a.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), dst.port())
        }
        _ => dst,
    }
}

/// The path MTU to a destination: the loopback's for local ones, else the interface's.
pub fn path_mtu(dst: IpAddr) -> u32 {
    let c = stack::config();
    let local = stack::is_local(dst) || dst.is_loopback();
    c.interfaces
        .iter()
        .find(|i| (i.flags & IFF_LOOPBACK != 0) == local)
        .map_or(65536, |i| i.mtu)
}

/// Bytes queued in every inet socket of the sandbox (TCP streams and UDP datagrams), against
/// [`NET_MEM_MAX`]: Linux's tcp_mem/udp_mem in one.
static NET_MEM: AtomicUsize = AtomicUsize::new(0);
/// The most the sandbox's sockets may hold queued at once: past it sends wait (TCP) or
/// datagrams are dropped (UDP), as under Linux's memory pressure.
pub const NET_MEM_MAX: usize = 512 << 20;

/// Takes up to `want` bytes of the sandbox-wide socket memory; returns what it got.
pub fn mem_charge(want: usize) -> usize {
    let mut cur = NET_MEM.load(Ordering::Relaxed);
    loop {
        let got = want.min(NET_MEM_MAX.saturating_sub(cur));
        if got == 0 {
            return 0;
        }
        match NET_MEM.compare_exchange_weak(cur, cur + got, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return got,
            Err(c) => cur = c,
        }
    }
}

/// Gives back socket memory.
pub fn mem_uncharge(n: usize) {
    NET_MEM.fetch_sub(n, Ordering::Relaxed);
}

/// /proc/net/tcp (`v6`: tcp6) in Linux's format.
pub fn proc_net_tcp(v6: bool) -> String {
    tcp::proc_net(v6)
}

/// /proc/net/udp (`v6`: udp6) in Linux's format.
pub fn proc_net_udp(v6: bool) -> String {
    udp::proc_net(v6)
}

/// One /proc/net/{tcp,udp}[6] address: hex of the address as stored (network order read as
/// host words) and the port.
pub fn proc_addr(a: SocketAddr, v6: bool) -> String {
    match (a.ip(), v6) {
        (IpAddr::V4(ip), false) => {
            format!("{:08X}:{:04X}", u32::from_ne_bytes(ip.octets()), a.port())
        }
        (ip, _) => {
            let o = match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                IpAddr::V6(v6) => v6.octets(),
            };
            let mut s = String::with_capacity(38);
            for w in o.chunks_exact(4) {
                s.push_str(&format!(
                    "{:08X}",
                    u32::from_ne_bytes([w[0], w[1], w[2], w[3]])
                ));
            }
            format!("{s}:{:04X}", a.port())
        }
    }
}

/// Whether an address belongs in /proc/net/*6 (an AF_INET6 socket's) or the IPv4 file.
pub fn proc_is_v6(family: u16) -> bool {
    family == AF_INET6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_addresses_read_as_linux_prints_them() {
        let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(proc_addr(a, false), "0100007F:1F90");
        let b: SocketAddr = "[::1]:22".parse().unwrap();
        assert_eq!(proc_addr(b, true), "00000000000000000000000001000000:0016");
        assert_eq!(proc_addr(a, true), "0000000000000000FFFF00000100007F:1F90");
    }

    #[test]
    fn bind_addresses_are_checked_as_linux() {
        let v4 =
            |ip: &str, port: u16| addr::encode(SocketAddr::new(ip.parse().unwrap(), port), AF_INET);
        assert_eq!(
            bind_addr(AF_INET, &v4("127.0.0.1", 0)[..15], false, false, true),
            Err(Errno::EINVAL)
        );
        assert!(bind_addr(AF_INET, &v4("127.0.0.9", 0), false, false, true).is_ok());
        assert_eq!(
            bind_addr(AF_INET, &v4("10.1.2.3", 0), false, false, true),
            Err(Errno::EADDRNOTAVAIL)
        );
        assert_eq!(
            bind_addr(AF_INET, &v4("127.0.0.1", 80), false, false, false),
            Err(Errno::EACCES)
        );
        let mapped = addr::encode("127.0.0.1:0".parse().unwrap(), AF_INET6);
        assert_eq!(
            bind_addr(AF_INET6, &mapped, true, false, true),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            bind_addr(AF_INET6, &mapped, false, false, true).map(|x| x.0),
            Ok("127.0.0.1:0".parse().unwrap())
        );
        assert_eq!(
            bind_addr(AF_INET6, &v4("127.0.0.1", 0), false, false, true),
            Err(Errno::EINVAL)
        );
    }
}
