// SPDX-License-Identifier: Apache-2.0
//! ICMP echoes to the outside (`--network sandbox`). TCP and UDP flows to the outside are
//! carried by host sockets of the sentry's (`tcp::bridge`, `udp`'s `UdpOutside`); an echo is
//! carried by one host ICMP channel per address family, opened at start-up
//! ([`open_channels`]), before the sentry gives up its capabilities:
//!
//! - a host *ping socket* (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6) when the host's
//!   `net.ipv4.ping_group_range` admits the sentry's group (systemd hosts admit everyone):
//!   the host kernel picks the identifier and hands the socket only the replies that carry it;
//! - otherwise, when the sentry starts as root, a *raw* ICMP socket, filtered (ICMP_FILTER,
//!   ICMP6_FILTER) to echo replies before the sentry confines itself; the sentry writes its own
//!   identifier (random per run) and keeps only the replies that carry it. The sentry's seccomp
//!   filter refuses IP_HDRINCL, IPV6_HDRINCL and changes of those filters afterwards, so a
//!   compromised sentry can send only ICMP with the host's own IP header, and read only echo
//!   replies (docs/security.md);
//! - neither (an unprivileged user on a host that admits no group): echoes beyond the sandbox's
//!   own addresses and its gateway and resolver (which answer themselves) are unreachable
//!   (ENETUNREACH), as on a host without a route. passt and slirp4netns have the same limit.
//!
//! Many sandbox sockets share one channel: each request leaves with a sequence number of the
//! channel's own, remembered with the request's identifier, sequence, destination and source
//! ([`Flight`]); a reply is matched to its flight by that number and its source, and goes back
//! to the sandbox with the identifier and sequence the program wrote (to the ping socket that
//! owns the identifier and to the raw ICMP sockets, as a reply from the sandbox's own stack
//! would). Only echo requests leave (a raw sandbox socket's other ICMP messages are dropped, as
//! a filtering router would), at most [`MAX_FLIGHTS`] unanswered at once per family (ENOBUFS
//! beyond, as a full socket buffer), each forgotten after [`FLIGHT_TTL`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

use crate::net::host_unsafe;
use crate::net::hostio::{Wake, Watched};

/// Unanswered requests kept per family.
const MAX_FLIGHTS: usize = 4096;
/// How long a request waits for its reply before it is forgotten.
const FLIGHT_TTL: Duration = Duration::from_secs(60);

const ICMP_ECHOREPLY: u8 = 0;
const ICMP_ECHO: u8 = 8;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;
const IP_RECVTTL: i32 = 12;
const IP_TTL: i32 = 2;
const IPV6_RECVHOPLIMIT: i32 = 51;
const IPV6_HOPLIMIT: i32 = 52;

/// One request on its way out.
struct Flight {
    /// The identifier and sequence number the program wrote.
    ident: u16,
    seq: u16,
    /// Where it went (a host address) and where it came from (a sandbox address).
    dst: IpAddr,
    src: IpAddr,
    sent: Instant,
}

struct Flights {
    next: u16,
    out: HashMap<u16, Flight>,
}

/// A host ICMP socket carrying the sandbox's echoes of one family.
struct Channel {
    v6: bool,
    /// Raw (the sentry writes `ident` and filters replies) or a ping socket.
    raw: bool,
    ident: u16,
    fd: OnceLock<Watched>,
    /// Kept until the first echo starts the reactor's watch (it then lives in `fd`).
    unwatched: Mutex<Option<OwnedFd>>,
    flights: Mutex<Flights>,
    this: Weak<Channel>,
}

static CHANNELS: OnceLock<[Option<Arc<Channel>>; 2]> = OnceLock::new();

/// Opens the host ICMP channels (`--network sandbox`, at start-up, while the sentry still holds
/// the capabilities it started with). Returns a line for each family that has none.
pub fn open_channels() -> Vec<String> {
    let mut notes = Vec::new();
    let mut open = |v6: bool| match Channel::open(v6) {
        Ok(c) => Some(c),
        Err(e) => {
            notes.push(format!(
                "{}: no host ICMP socket ({}): pings to the outside are unreachable",
                if v6 { "IPv6" } else { "IPv4" },
                e.description()
            ));
            None
        }
    };
    let v4 = open(false);
    let v6 = open(true);
    let _ = CHANNELS.set([v4, v6]);
    notes
}

impl Channel {
    fn open(v6: bool) -> Result<Arc<Channel>, Errno> {
        let (domain, proto) = if v6 {
            (AF_INET6, IPPROTO_ICMPV6)
        } else {
            (AF_INET, IPPROTO_ICMP)
        };
        let ty = (SOCK_CLOEXEC | SOCK_NONBLOCK) as i32;
        let (fd, raw) =
            match host_unsafe::socket(i32::from(domain), SOCK_DGRAM as i32 | ty, proto as i32) {
                Ok(fd) => (fd, false),
                Err(_) => (
                    host_unsafe::socket(i32::from(domain), SOCK_RAW as i32 | ty, proto as i32)?,
                    true,
                ),
            };
        let (level, recv_ttl) = if v6 {
            (SOL_IPV6, IPV6_RECVHOPLIMIT)
        } else {
            (SOL_IP, IP_RECVTTL)
        };
        let _ = host_unsafe::setsockopt(fd.as_fd(), level, recv_ttl, &1i32.to_ne_bytes());
        if raw {
            // Echo replies only: a raw socket would see every ICMP message the host gets.
            if v6 {
                let mut blocked = [u32::MAX; 8];
                blocked[usize::from(ICMPV6_ECHO_REPLY) / 32] &=
                    !(1 << (u32::from(ICMPV6_ECHO_REPLY) % 32));
                let bytes: Vec<u8> = blocked.iter().flat_map(|w| w.to_ne_bytes()).collect();
                host_unsafe::setsockopt(fd.as_fd(), SOL_ICMPV6, ICMPV6_FILTER, &bytes)?;
            } else {
                let dropped: u32 = !(1 << ICMP_ECHOREPLY);
                host_unsafe::setsockopt(fd.as_fd(), SOL_RAW, ICMP_FILTER, &dropped.to_ne_bytes())?;
            }
        }
        let mut id = [0u8; 2];
        crate::fsimpl::dev::fill_random(&mut id)?;
        Ok(Arc::new_cyclic(|this| Channel {
            v6,
            raw,
            ident: u16::from_ne_bytes(id),
            fd: OnceLock::new(),
            unwatched: Mutex::new(Some(fd)),
            flights: Mutex::new(Flights {
                next: 1,
                out: HashMap::new(),
            }),
            this: this.clone(),
        }))
    }

    /// The host socket, watched by the reactor from the first use on.
    fn sock(&self) -> Result<&Watched, Errno> {
        if let Some(w) = self.fd.get() {
            return Ok(w);
        }
        let mut u = self.unwatched.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = self.fd.get() {
            return Ok(w);
        }
        let fd = u.take().ok_or(Errno::ENETUNREACH)?;
        let target: Weak<dyn Wake> = self.this.clone();
        let w = Watched::with_target(fd, target)?;
        let _ = self.fd.set(w);
        self.fd.get().ok_or(Errno::ENETUNREACH)
    }

    fn send(&self, dst: IpAddr, src: IpAddr, msg: &[u8]) -> Result<usize, Errno> {
        let echo = if self.v6 {
            ICMPV6_ECHO_REQUEST
        } else {
            ICMP_ECHO
        };
        if msg.len() < 8 || msg[0] != echo || msg[1] != 0 {
            // Only echo requests leave the sandbox.
            return Ok(msg.len());
        }
        let sock = self.sock()?;
        let seq = {
            let mut f = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            f.out.retain(|_, v| now.duration_since(v.sent) < FLIGHT_TTL);
            if f.out.len() >= MAX_FLIGHTS {
                return Err(Errno::ENOBUFS);
            }
            let mut seq = f.next;
            while f.out.contains_key(&seq) {
                seq = seq.wrapping_add(1);
            }
            f.next = seq.wrapping_add(1);
            f.out.insert(
                seq,
                Flight {
                    ident: u16::from_be_bytes([msg[4], msg[5]]),
                    seq: u16::from_be_bytes([msg[6], msg[7]]),
                    dst,
                    src,
                    sent: now,
                },
            );
            seq
        };
        let mut out = msg.to_vec();
        out[4..6].copy_from_slice(&self.ident.to_be_bytes());
        out[6..8].copy_from_slice(&seq.to_be_bytes());
        // IPv4's checksum is the sender's (a ping socket's kernel redoes it); ICMPv6's is the
        // kernel's on both kinds of socket.
        super::icmp::set_checksum(&mut out, None);
        let to = super::super::addr::encode(
            SocketAddr::new(dst, 0),
            if self.v6 { AF_INET6 } else { AF_INET },
        );
        match host_unsafe::sendmsg(sock.fd(), &out, Some(&to), &[], MSG_DONTWAIT as i32) {
            Ok(_) => Ok(msg.len()),
            Err(e) => {
                let mut f = self.flights.lock().unwrap_or_else(|e| e.into_inner());
                f.out.remove(&seq);
                Err(e)
            }
        }
    }

    /// Takes every reply waiting on the host socket to the sandbox.
    fn drain(&self) {
        let Some(sock) = self.fd.get() else { return };
        let mut buf = vec![0u8; 65536];
        loop {
            let r = match host_unsafe::recvmsg(sock.fd(), &mut buf, 0, 64) {
                Ok(r) => r,
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            };
            let n = r.n.min(buf.len());
            let Some(from) = decode(&r.addr) else {
                continue;
            };
            let mut ttl = ttl_of(&r.control, self.v6).unwrap_or(64);
            let mut msg = &buf[..n];
            if self.raw && !self.v6 {
                // An IPv4 raw socket reads the IP header too.
                let ihl = usize::from(msg.first().map_or(0, |b| b & 0x0f)) * 4;
                if ihl < 20 || msg.len() < ihl {
                    continue;
                }
                ttl = i32::from(msg[8]);
                msg = &msg[ihl..];
            }
            let reply = if self.v6 {
                ICMPV6_ECHO_REPLY
            } else {
                ICMP_ECHOREPLY
            };
            if msg.len() < 8 || msg[0] != reply || msg[1] != 0 {
                continue;
            }
            if self.raw && u16::from_be_bytes([msg[4], msg[5]]) != self.ident {
                continue;
            }
            let seq = u16::from_be_bytes([msg[6], msg[7]]);
            let flight = {
                let mut f = self.flights.lock().unwrap_or_else(|e| e.into_inner());
                match f.out.get(&seq) {
                    Some(fl) if fl.dst == from => f.out.remove(&seq),
                    _ => None,
                }
            };
            let Some(fl) = flight else { continue };
            let mut rep = msg.to_vec();
            rep[4..6].copy_from_slice(&fl.ident.to_be_bytes());
            rep[6..8].copy_from_slice(&fl.seq.to_be_bytes());
            super::icmp::deliver_outside_reply(self.v6, rep, fl.dst, fl.src, ttl);
        }
    }
}

impl Wake for Channel {
    fn wake(&self, band: u32) {
        if band & POLLIN != 0 {
            self.drain();
        }
    }
}

fn decode(raw: &[u8]) -> Option<IpAddr> {
    match super::super::addr::family(raw) {
        AF_INET if raw.len() >= 16 => Some(IpAddr::V4(*super::super::addr::decode_v4(raw).ip())),
        AF_INET6 if raw.len() >= 24 => {
            let a = *super::super::addr::decode_v6(raw).ip();
            Some(a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4))
        }
        _ => None,
    }
}

/// The TTL (IP_TTL) or hop limit (IPV6_HOPLIMIT) control message of a received reply.
fn ttl_of(control: &[u8], v6: bool) -> Option<i32> {
    let (level, ty) = if v6 {
        (SOL_IPV6, IPV6_HOPLIMIT)
    } else {
        (SOL_IP, IP_TTL)
    };
    let hdr = std::mem::size_of::<libc::cmsghdr>();
    let mut at = 0;
    while at + hdr <= control.len() {
        let len = usize::from_ne_bytes(control[at..at + 8].try_into().ok()?);
        let lvl = i32::from_ne_bytes(control[at + 8..at + 12].try_into().ok()?);
        let typ = i32::from_ne_bytes(control[at + 12..at + 16].try_into().ok()?);
        if len < hdr || at + len > control.len() {
            return None;
        }
        if lvl == level && typ == ty && len >= hdr + 4 {
            return Some(i32::from_ne_bytes(
                control[at + hdr..at + hdr + 4].try_into().ok()?,
            ));
        }
        at += (len + 7) & !7;
    }
    None
}

/// One ICMP echo request from the sandbox address `src` to `host_addr` outside; ENETUNREACH
/// when the host gave the sentry no ICMP socket of that family.
pub fn send_echo(host_addr: IpAddr, src: IpAddr, packet: &[u8]) -> Result<usize, Errno> {
    let v6 = host_addr.is_ipv6();
    match CHANNELS.get().and_then(|c| c[usize::from(v6)].as_ref()) {
        Some(c) => c.send(host_addr, src, packet),
        None => Err(Errno::ENETUNREACH),
    }
}
