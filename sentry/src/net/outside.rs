// SPDX-License-Identifier: Apache-2.0
//! `--network sandbox`: the sandbox's flows to the outside, carried by host sockets of the
//! sentry's (a user-mode NAT at the transport layer, as passt does it, without the packets: the
//! sentry owns the sandbox's socket API, so it needs no tap device and no L2/L3 translation).
//!
//! A sandbox TCP socket that connects to an outside address gets an [`OutsideTcp`]: a host
//! socket connected to the destination the address stands for ([`super::stack::destination`]:
//! the gateway 10.0.2.2 is the host's loopback with `--allow-host-loopback`, the resolver
//! 10.0.2.3 the host's resolver). The sandbox socket keeps its sandbox addresses
//! (10.0.2.100:port, the address it dialled); what crosses is bytes, FIN (shutdown) and the
//! connection's errors. A sandbox UDP socket sending outside gets one [`OutsideUdp`]: a host
//! UDP socket of its own, whose replies come back with the sender's address shown as the
//! sandbox sees it ([`guest_view`]). Published ports (`--publish`) are host listeners on the
//! host's loopback whose connections are handed to the sandbox's listener on the guest port,
//! and host UDP sockets whose datagrams go to the sandbox socket on the guest port and whose
//! peers get its replies from the published port ([`start_publishers`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::host_unsafe;
use super::hostio::{Wake, Watched};
use super::stack;

fn raw(a: SocketAddr) -> Vec<u8> {
    super::addr::encode(a, if a.is_ipv4() { AF_INET } else { AF_INET6 })
}

fn decode(raw: &[u8]) -> Option<SocketAddr> {
    match super::addr::family(raw) {
        AF_INET if raw.len() >= 16 => Some(SocketAddr::V4(super::addr::decode_v4(raw))),
        AF_INET6 if raw.len() >= 24 => Some(SocketAddr::V6(super::addr::decode_v6(raw))),
        _ => None,
    }
}

/// What the sandbox sees as the source of a datagram or connection from `host_src`: the host's
/// loopback is the gateway, the host's resolver is the sandbox's resolver, the rest is itself.
pub fn guest_view(host_src: SocketAddr) -> SocketAddr {
    let c = stack::config();
    let ip = match host_src.ip() {
        IpAddr::V6(a) => a.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(a)),
        a => a,
    };
    if c.resolvers
        .iter()
        .any(|r| r.ip() == ip && r.port() == host_src.port())
    {
        return SocketAddr::new(
            if ip.is_ipv4() {
                IpAddr::V4(stack::SANDBOX_DNS_V4)
            } else {
                IpAddr::V6(stack::SANDBOX_DNS_V6)
            },
            53,
        );
    }
    match ip {
        IpAddr::V4(a) if a.is_loopback() => {
            SocketAddr::new(IpAddr::V4(stack::SANDBOX_GATEWAY_V4), host_src.port())
        }
        IpAddr::V6(a) if a.is_loopback() => {
            SocketAddr::new(IpAddr::V6(stack::SANDBOX_GATEWAY_V6), host_src.port())
        }
        a => SocketAddr::new(a, host_src.port()),
    }
}

/// A TCP connection to the outside.
pub struct OutsideTcp {
    sock: Watched,
}

impl OutsideTcp {
    /// Starts connecting to `dst` (a host address), waking `target` as the connection makes
    /// progress. Returns the flow and whether the connection is still in progress.
    pub fn connect(dst: SocketAddr, target: Weak<dyn Wake>) -> Result<(OutsideTcp, bool), Errno> {
        let domain = if dst.is_ipv4() { AF_INET } else { AF_INET6 };
        let fd = host_unsafe::socket(i32::from(domain), SOCK_STREAM as i32, 0)?;
        let sock = Watched::with_target(fd, target)?;
        let pending = match host_unsafe::connect(sock.fd(), &raw(dst)) {
            Ok(()) => false,
            Err(Errno::EINPROGRESS) => true,
            Err(e) => return Err(e),
        };
        Ok((OutsideTcp { sock }, pending))
    }

    /// Wraps a connection a publisher accepted on the host.
    fn accepted(fd: OwnedFd, target: Weak<dyn Wake>) -> Result<OutsideTcp, Errno> {
        Ok(OutsideTcp {
            sock: Watched::with_target(fd, target)?,
        })
    }

    /// Whether the connection attempt ended: `Some(Ok)` connected, `Some(Err)` refused (the
    /// error), `None` still in progress.
    pub fn connect_result(&self) -> Option<Result<(), Errno>> {
        let ev = host_unsafe::poll_now(self.sock.fd(), POLLOUT as i16);
        if ev & (POLLOUT | POLLERR | POLLHUP) == 0 {
            return None;
        }
        Some(match host_unsafe::take_error(self.sock.fd()) {
            Ok(0) => Ok(()),
            Ok(e) => Err(Errno(e)),
            Err(e) => Err(e),
        })
    }

    /// Sends without waiting (EAGAIN when the host socket is full).
    pub fn send(&self, data: &[u8], oob: bool) -> Result<usize, Errno> {
        let flags = if oob { MSG_OOB as i32 } else { 0 };
        host_unsafe::sendmsg(self.sock.fd(), data, None, &[], flags)
    }

    /// Receives without waiting (EAGAIN when nothing is there; 0 at the peer's FIN).
    pub fn recv(&self, buf: &mut [u8], peek: bool, oob: bool) -> Result<usize, Errno> {
        let mut flags = 0;
        if peek {
            flags |= MSG_PEEK as i32;
        }
        if oob {
            flags |= MSG_OOB as i32;
        }
        host_unsafe::recvmsg(self.sock.fd(), buf, flags, 0).map(|r| r.n)
    }

    /// shutdown(2) on the host side.
    pub fn shutdown(&self, how: u32) -> Result<(), Errno> {
        host_unsafe::shutdown(self.sock.fd(), how as i32)
    }

    /// Aborts the connection (RST), as close with SO_LINGER 0 does.
    pub fn abort(&self) {
        let l = Linger {
            l_onoff: 1,
            l_linger: 0,
        };
        let _ = host_unsafe::setsockopt(
            self.sock.fd(),
            SOL_SOCKET,
            SO_LINGER,
            syscalls::bytes_of(&l),
        );
    }

    /// The host socket's readiness (POLLIN, POLLOUT, POLLRDHUP, POLLHUP, POLLERR).
    pub fn poll(&self) -> u32 {
        host_unsafe::poll_now(
            self.sock.fd(),
            (POLLIN | POLLOUT | POLLRDHUP | POLLPRI) as i16,
        )
    }

    /// A pending error (SO_ERROR), cleared.
    pub fn take_error(&self) -> Option<Errno> {
        match host_unsafe::take_error(self.sock.fd()) {
            Ok(0) | Err(_) => None,
            Ok(e) => Some(Errno(e)),
        }
    }

    /// Bytes waiting to be read.
    pub fn inq(&self) -> usize {
        host_unsafe::ioctl_int(self.sock.fd(), SIOCINQ).map_or(0, |n| n.max(0) as usize)
    }

    /// Bytes sent and not yet acknowledged.
    pub fn outq(&self) -> usize {
        host_unsafe::ioctl_int(self.sock.fd(), SIOCOUTQ).map_or(0, |n| n.max(0) as usize)
    }

    /// Passes a TCP or socket option that changes how the flow behaves on the wire
    /// (TCP_NODELAY, TCP_CORK, keepalives, buffer sizes, linger).
    pub fn set_option(&self, level: i32, name: i32, val: &[u8]) {
        let ok = match level {
            SOL_TCP => matches!(
                name,
                TCP_NODELAY
                    | TCP_CORK
                    | TCP_KEEPIDLE
                    | TCP_KEEPINTVL
                    | TCP_KEEPCNT
                    | TCP_USER_TIMEOUT
                    | TCP_QUICKACK
                    | TCP_NOTSENT_LOWAT
            ),
            SOL_SOCKET => matches!(name, SO_KEEPALIVE | SO_SNDBUF | SO_RCVBUF | SO_LINGER),
            _ => false,
        };
        if ok {
            let _ = host_unsafe::setsockopt(self.sock.fd(), level, name, val);
        }
    }
}

/// A sandbox UDP socket's host socket for datagrams to and from the outside.
pub struct OutsideUdp {
    sock: Watched,
}

impl OutsideUdp {
    /// A host UDP socket of `domain`'s family, bound to an ephemeral port, waking `target`.
    pub fn new(v6: bool, target: Weak<dyn Wake>) -> Result<OutsideUdp, Errno> {
        let domain = if v6 { AF_INET6 } else { AF_INET };
        let fd = host_unsafe::socket(i32::from(domain), SOCK_DGRAM as i32, 0)?;
        if v6 {
            // Both families, so one socket serves IPv4-mapped destinations too.
            let _ = host_unsafe::setsockopt(
                std::os::fd::AsFd::as_fd(&fd),
                SOL_IPV6,
                IPV6_V6ONLY,
                &0i32.to_ne_bytes(),
            );
        }
        Ok(OutsideUdp {
            sock: Watched::with_target(fd, target)?,
        })
    }

    /// Sends one datagram to `dst` (a host address) without waiting.
    pub fn send_to(&self, data: &[u8], dst: SocketAddr) -> Result<usize, Errno> {
        host_unsafe::sendmsg(self.sock.fd(), data, Some(&raw(dst)), &[], 0)
    }

    /// Receives one datagram without waiting: its full length and its source as the sandbox
    /// sees it.
    pub fn recv_from(&self, buf: &mut [u8], peek: bool) -> Result<(usize, SocketAddr), Errno> {
        let flags = (MSG_TRUNC | if peek { MSG_PEEK } else { 0 }) as i32;
        let r = host_unsafe::recvmsg(self.sock.fd(), buf, flags, 0)?;
        let src = decode(&r.addr)
            .map(guest_view)
            .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
        Ok((r.n, src))
    }

    /// Whether a datagram is waiting.
    pub fn readable(&self) -> bool {
        host_unsafe::poll_now(self.sock.fd(), POLLIN as i16) & POLLIN != 0
    }

    /// The length of the next datagram, if one is waiting.
    pub fn next_len(&self) -> usize {
        host_unsafe::ioctl_int(self.sock.fd(), SIOCINQ).map_or(0, |n| n.max(0) as usize)
    }
}

/// Where the sandbox's listener hands a published connection: called with the guest port, the
/// peer as the sandbox sees it, and the flow; an error refuses it (the host client sees the
/// connection reset).
pub type Inject = fn(
    port: u16,
    peer: SocketAddr,
    accept: &dyn Fn(Weak<dyn Wake>) -> Result<OutsideTcp, Errno>,
) -> Result<(), Errno>;

/// Where a datagram for a published UDP port goes: the guest port, the sender as the sandbox
/// sees it, and the bytes.
pub type InjectUdp = fn(port: u16, peer: SocketAddr, data: &[u8]);

/// Starts a host listener on the host's loopback for every published TCP port, whose
/// connections are handed to `inject`, and a host UDP socket for every published UDP port,
/// whose datagrams are handed to `inject_udp` (the sandbox's replies leave by the same socket,
/// [`published_reply`]). Errors (a host port in use) are one line each.
pub fn start_publishers(
    publish: &[stack::Publish],
    inject: Inject,
    inject_udp: InjectUdp,
) -> Result<(), String> {
    for p in publish {
        let what = format!(
            "--publish {}:{}{}",
            p.host_port,
            p.guest_port,
            if p.udp { "/udp" } else { "" }
        );
        if p.udp {
            let sock = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, p.host_port))
                .map_err(|e| format!("{what}: {e}"))?;
            sock.set_nonblocking(true)
                .map_err(|e| format!("{what}: {e}"))?;
            let publisher = Arc::new(UdpPublisher {
                guest_port: p.guest_port,
                sock: OnceLock::new(),
                peers: Mutex::new(HashMap::new()),
                inject: inject_udp,
            });
            let t: Arc<dyn Wake> = publisher.clone();
            let watched = Watched::with_target(OwnedFd::from(sock), Arc::downgrade(&t))
                .map_err(|e| format!("{what}: {}", e.description()))?;
            let _ = publisher.sock.set(watched);
            udp_publishers().insert(p.guest_port, publisher);
            continue;
        }
        let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, p.host_port))
            .map_err(|e| format!("{what}: {e}"))?;
        // IPv6 loopback too, where the host has it.
        let l6 = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, p.host_port)).ok();
        let guest = p.guest_port;
        for l in std::iter::once(l).chain(l6) {
            std::thread::Builder::new()
                .name("net-publish".into())
                .spawn(move || serve(l, guest, inject))
                .map_err(|e| format!("{what}: {e}"))?;
        }
    }
    Ok(())
}

/// The most host peers a published UDP port remembers for replies (the oldest half is
/// forgotten past it).
const UDP_PEERS_MAX: usize = 4096;

/// A published UDP port: its host socket and the host peers that sent to it, by the address
/// the sandbox sees them at.
struct UdpPublisher {
    guest_port: u16,
    sock: OnceLock<Watched>,
    peers: Mutex<HashMap<SocketAddr, (SocketAddr, u64)>>,
    inject: InjectUdp,
}

static UDP_PUBLISHERS: OnceLock<Mutex<HashMap<u16, Arc<UdpPublisher>>>> = OnceLock::new();

fn udp_publishers() -> std::sync::MutexGuard<'static, HashMap<u16, Arc<UdpPublisher>>> {
    UDP_PUBLISHERS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

impl Wake for UdpPublisher {
    fn wake(&self, band: u32) {
        if band & (POLLIN | POLLERR) == 0 {
            return;
        }
        let Some(sock) = self.sock.get() else { return };
        let mut buf = vec![0u8; 65_536];
        // Edge-triggered: everything waiting is taken now.
        while let Ok(r) = host_unsafe::recvmsg(sock.fd(), &mut buf, MSG_TRUNC as i32, 0) {
            let Some(host_peer) = decode(&r.addr) else {
                continue;
            };
            let seen = guest_view(host_peer);
            {
                let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
                static CLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let now = CLOCK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if peers.len() >= UDP_PEERS_MAX && !peers.contains_key(&seen) {
                    let mut ages: Vec<u64> = peers.values().map(|v| v.1).collect();
                    ages.sort_unstable();
                    let cut = ages[ages.len() / 2];
                    peers.retain(|_, v| v.1 > cut);
                }
                peers.insert(seen, (host_peer, now));
            }
            (self.inject)(self.guest_port, seen, &buf[..r.n.min(buf.len())]);
        }
    }
}

/// A datagram the sandbox sends from `src_port` to `dst`: if `src_port` is a published UDP
/// port and `dst` a host peer that sent to it, it goes back by the published socket (the host
/// peer sees the reply come from the published port) and this returns true.
pub fn published_reply(src_port: u16, dst: SocketAddr, data: &[u8]) -> bool {
    let Some(p) = udp_publishers().get(&src_port).cloned() else {
        return false;
    };
    let host = p
        .peers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&dst)
        .map(|v| v.0);
    let (Some(host), Some(sock)) = (host, p.sock.get()) else {
        return false;
    };
    let _ = host_unsafe::sendmsg(sock.fd(), data, Some(&raw(host)), &[], 0);
    true
}

fn serve(l: std::net::TcpListener, guest: u16, inject: Inject) {
    use std::os::fd::AsFd;
    loop {
        // accept4 makes the connection non-blocking and close-on-exec in one call (the
        // confined sentry has no ioctl(FIONBIO) to do it after).
        let (fd, peer) = match host_unsafe::accept(l.as_fd()) {
            Ok(c) => c,
            // A connection that went before it was taken: the next one.
            Err(Errno::EINTR | Errno::ECONNABORTED | Errno::EAGAIN) => continue,
            // Out of descriptors or memory (or a broken listener): a pause, not a spin.
            Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
        };
        let Some(peer) = decode(&peer) else { continue };
        let fd = std::sync::Mutex::new(Some(fd));
        let accept = move |target: Weak<dyn Wake>| {
            let fd = fd
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .ok_or(Errno::EINVAL)?;
            OutsideTcp::accepted(fd, target)
        };
        // Refused: the host client sees its connection closed.
        let _ = inject(guest, guest_view(peer), &accept);
    }
}
