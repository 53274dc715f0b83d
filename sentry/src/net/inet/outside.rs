// SPDX-License-Identifier: Apache-2.0
//! ICMP echoes to the outside (`--network sandbox`). TCP and UDP flows to the outside are
//! carried by host sockets of the sentry's (`tcp::bridge`, `udp`'s `UdpOutside`); an echo
//! would need a host ping socket, which the host's `net.ipv4.ping_group_range` usually
//! forbids and the capability-less sentry cannot get around, so echoes beyond the sandbox's
//! own addresses and its gateway and resolver (which answer themselves) are unreachable, as on
//! a host without a route. gVisor's netstack with a host network has the same limit.

use syscalls::Errno;

/// One ICMP echo request from the sandbox to `host_addr` outside: ENETUNREACH.
pub fn send_echo(host_addr: std::net::IpAddr, packet: &[u8]) -> Result<usize, Errno> {
    let _ = (host_addr, packet);
    Err(Errno::ENETUNREACH)
}
