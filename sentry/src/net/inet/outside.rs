// SPDX-License-Identifier: Apache-2.0
//! The seam to the outside: flows whose destination [`stack::destination`] places outside the
//! sandbox (`Destination::Outside(host_addr)`, `--network sandbox`) leave through host sockets
//! of the sentry's, a transport-level NAT in the manner of passt. This module is the one place
//! the inet sockets call for them; the host side is written separately and fills it in. Until
//! then the outside is unreachable (ENETUNREACH), as on a host without a route.
//!
//! [`stack::destination`]: crate::net::stack::destination

use std::net::SocketAddr;

use syscalls::Errno;

/// A TCP connection from the sandbox's `src` to `host_addr` outside. On success the host side
/// gives back the connection's two byte streams (not yet: ENETUNREACH).
pub fn connect_tcp(
    src: SocketAddr,
    host_addr: SocketAddr,
) -> Result<std::convert::Infallible, Errno> {
    let _ = (src, host_addr);
    Err(Errno::ENETUNREACH)
}

/// One UDP datagram from the sandbox's `src` to `host_addr` outside (not yet: ENETUNREACH).
pub fn send_udp(src: SocketAddr, host_addr: SocketAddr, data: &[u8]) -> Result<usize, Errno> {
    let _ = (src, host_addr, data);
    Err(Errno::ENETUNREACH)
}

/// One ICMP echo request from the sandbox to `host_addr` outside (not yet: ENETUNREACH).
pub fn send_echo(host_addr: std::net::IpAddr, packet: &[u8]) -> Result<usize, Errno> {
    let _ = (host_addr, packet);
    Err(Errno::ENETUNREACH)
}
