// SPDX-License-Identifier: Apache-2.0
//! Socket addresses between their ABI forms (`sockaddr_in`, `sockaddr_in6`) and `std::net`.
//! The families check lengths and families themselves, each with the errnos Linux gives.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use syscalls::abi::*;

/// The family field of a raw address (AF_UNSPEC when too short to have one).
pub fn family(raw: &[u8]) -> u16 {
    match raw {
        [a, b, ..] => u16::from_ne_bytes([*a, *b]),
        _ => AF_UNSPEC,
    }
}

/// A `sockaddr_in` (the caller checked it is at least 16 bytes, or takes zeros for the rest).
pub fn decode_v4(raw: &[u8]) -> SocketAddrV4 {
    let s: SockaddrIn = super::bytemuck_read(raw);
    SocketAddrV4::new(Ipv4Addr::from(s.sin_addr), u16::from_be_bytes(s.sin_port))
}

/// A `sockaddr_in6` (at least 24 bytes; a missing scope id reads as 0).
pub fn decode_v6(raw: &[u8]) -> SocketAddrV6 {
    let s: SockaddrIn6 = super::bytemuck_read(raw);
    SocketAddrV6::new(
        Ipv6Addr::from(s.sin6_addr),
        u16::from_be_bytes(s.sin6_port),
        u32::from_be_bytes(s.sin6_flowinfo),
        s.sin6_scope_id,
    )
}

/// An address in the form a socket of `domain` reports it: AF_INET6 sockets show IPv4 peers
/// as IPv4-mapped IPv6 addresses.
pub fn encode(a: SocketAddr, domain: u16) -> Vec<u8> {
    match (a, domain) {
        (SocketAddr::V4(v4), AF_INET) => encode_v4(v4),
        (SocketAddr::V4(v4), _) => {
            encode_v6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        (SocketAddr::V6(v6), AF_INET) => match v6.ip().to_ipv4_mapped() {
            Some(ip) => encode_v4(SocketAddrV4::new(ip, v6.port())),
            None => encode_v6(v6),
        },
        (SocketAddr::V6(v6), _) => encode_v6(v6),
    }
}

/// A `sockaddr_in`, as bytes.
pub fn encode_v4(a: SocketAddrV4) -> Vec<u8> {
    let s = SockaddrIn {
        sin_family: AF_INET,
        sin_port: a.port().to_be_bytes(),
        sin_addr: a.ip().octets(),
        sin_zero: [0; 8],
    };
    syscalls::bytes_of(&s).to_vec()
}

/// A `sockaddr_in6`, as bytes.
pub fn encode_v6(a: SocketAddrV6) -> Vec<u8> {
    let s = SockaddrIn6 {
        sin6_family: AF_INET6,
        sin6_port: a.port().to_be_bytes(),
        sin6_flowinfo: a.flowinfo().to_be_bytes(),
        sin6_addr: a.ip().octets(),
        sin6_scope_id: a.scope_id(),
    };
    syscalls::bytes_of(&s).to_vec()
}

/// The IPv4 address an IPv6 one stands for (IPv4-mapped), or the address itself.
pub fn unmap(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(ip) => SocketAddr::V4(SocketAddrV4::new(ip, v6.port())),
            None => a,
        },
        a => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let raw = encode(a, AF_INET);
        assert_eq!(raw.len(), 16);
        assert_eq!(family(&raw), AF_INET);
        assert_eq!(SocketAddr::V4(decode_v4(&raw)), a);
        let raw6 = encode(a, AF_INET6);
        assert_eq!(raw6.len(), 28);
        let back = decode_v6(&raw6);
        assert_eq!(back.ip().to_ipv4_mapped(), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(unmap(SocketAddr::V6(back)), a);
    }
}
