// SPDX-License-Identifier: Apache-2.0
//! `--network host`: every inet socket of the sandbox is a host socket of the sentry's, as
//! runsc's hostinet. The program never holds the host descriptor: the sentry makes each call
//! on it (non-blocking; the sandbox's blocking, timeouts and signals are the sentry's, woken by
//! [`super::hostio`]) and passes through only what is harmless whatever the arguments:
//!
//! - socket options from an allow-list (the ones programs use; anything needing a capability
//!   on the host, such as SO_MARK, IP_TRANSPARENT, TCP_REPAIR, SO_*BUFFORCE, is refused with
//!   ENOPROTOOPT or EPERM rather than granted by the sentry's own privileges);
//! - control messages at SOL_IP, SOL_IPV6 and SOL_UDP (packet info, TOS, TTL, segment size);
//!   descriptors and credentials are refused (EINVAL), as on any inet socket;
//! - raw and packet sockets only with `--net-raw` and CAP_NET_RAW in the sandbox.
//!
//! Addresses are the kernel's own `sockaddr_in`/`sockaddr_in6` on both sides and pass
//! unchanged; the host checks their length and family with its own errnos.

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::host_unsafe;
use super::hostio::Watched;
use super::{Accepted, CmsgIn, CmsgOut, Received, SendMsg, SockCommon, Socket};
use crate::kernel::Task;

/// A host-backed inet socket.
pub struct HostInet {
    common: Arc<SockCommon>,
    sock: Watched,
}

/// socket(AF_INET or AF_INET6, ...) in host mode.
pub fn new_socket(
    t: &Task,
    domain: u16,
    stype: u32,
    protocol: u32,
) -> Result<Box<dyn Socket>, Errno> {
    const CAP_NET_RAW: u32 = 13;
    if stype == SOCK_RAW && protocol == IPPROTO_IP {
        return Err(Errno::EPROTONOSUPPORT);
    }
    if stype == SOCK_RAW
        && !(super::stack::config().net_raw && t.creds.caps & (1 << CAP_NET_RAW) != 0)
    {
        return Err(Errno::EPERM);
    }
    if !matches!(stype, SOCK_STREAM | SOCK_DGRAM | SOCK_RAW) {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    let fd = host_unsafe::socket(i32::from(domain), stype as i32, protocol as i32)?;
    wrap(fd, domain, stype, protocol).map(|s| Box::new(s) as Box<dyn Socket>)
}

fn wrap(
    fd: std::os::fd::OwnedFd,
    domain: u16,
    stype: u32,
    protocol: u32,
) -> Result<HostInet, Errno> {
    // The protocol as the host resolved it (0 means the type's default).
    let protocol =
        host_unsafe::getsockopt(std::os::fd::AsFd::as_fd(&fd), SOL_SOCKET, SO_PROTOCOL, 4)
            .ok()
            .and_then(|v| {
                v.get(..4)
                    .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            })
            .unwrap_or(protocol);
    let common = Arc::new(SockCommon::new(domain, stype, protocol, 0, 0));
    let sock = Watched::new(fd, &common)?;
    Ok(HostInet { common, sock })
}

/// Whether a socket option may be passed to the host socket.
fn allowed(level: i32, name: i32) -> bool {
    match level {
        SOL_SOCKET => matches!(
            name,
            SO_REUSEADDR
                | SO_REUSEPORT
                | SO_KEEPALIVE
                | SO_LINGER
                | SO_BROADCAST
                | SO_SNDBUF
                | SO_RCVBUF
                | SO_OOBINLINE
                | SO_RCVLOWAT
                | SO_DONTROUTE
                | SO_TIMESTAMP_OLD
                | SO_TIMESTAMPNS_OLD
                | SO_TIMESTAMP_NEW
                | SO_TIMESTAMPNS_NEW
                | SO_ERROR
                | SO_TYPE
                | SO_DOMAIN
                | SO_PROTOCOL
                | SO_ACCEPTCONN
                | SO_PRIORITY
                | SO_INCOMING_CPU
                | SO_BUSY_POLL
                | SO_ZEROCOPY
        ),
        SOL_TCP => matches!(
            name,
            TCP_NODELAY
                | TCP_MAXSEG
                | TCP_CORK
                | TCP_KEEPIDLE
                | TCP_KEEPINTVL
                | TCP_KEEPCNT
                | TCP_SYNCNT
                | TCP_LINGER2
                | TCP_DEFER_ACCEPT
                | TCP_WINDOW_CLAMP
                | TCP_INFO
                | TCP_QUICKACK
                | TCP_CONGESTION
                | TCP_USER_TIMEOUT
                | TCP_FASTOPEN
                | TCP_FASTOPEN_CONNECT
                | TCP_NOTSENT_LOWAT
                | TCP_INQ
                | TCP_TIMESTAMP
                | TCP_THIN_LINEAR_TIMEOUTS
        ),
        SOL_IP => matches!(
            name,
            IP_TOS
                | IP_TTL
                | IP_RECVERR
                | IP_PKTINFO
                | IP_RECVTOS
                | IP_RECVTTL
                | IP_MTU_DISCOVER
                | IP_MTU
                | IP_MULTICAST_IF
                | IP_MULTICAST_TTL
                | IP_MULTICAST_LOOP
                | IP_ADD_MEMBERSHIP
                | IP_DROP_MEMBERSHIP
                | IP_BIND_ADDRESS_NO_PORT
                | IP_RECVORIGDSTADDR
                | IP_MULTICAST_ALL
                | IP_FREEBIND
                | IP_HDRINCL
                | IP_LOCAL_PORT_RANGE
        ),
        SOL_IPV6 => matches!(
            name,
            IPV6_V6ONLY
                | IPV6_UNICAST_HOPS
                | IPV6_MULTICAST_IF
                | IPV6_MULTICAST_HOPS
                | IPV6_MULTICAST_LOOP
                | IPV6_ADD_MEMBERSHIP
                | IPV6_DROP_MEMBERSHIP
                | IPV6_RECVPKTINFO
                | IPV6_RECVHOPLIMIT
                | IPV6_TCLASS
                | IPV6_RECVTCLASS
                | IPV6_MTU_DISCOVER
                | IPV6_MTU
                | IPV6_RECVERR
                | IPV6_ADDR_PREFERENCES
                | IPV6_AUTOFLOWLABEL
                | IPV6_FREEBIND
        ),
        SOL_UDP => matches!(name, UDP_CORK | UDP_SEGMENT | UDP_GRO),
        _ => false,
    }
}

/// Encodes the control messages a program may send on an inet socket.
fn control_bytes(control: &[CmsgIn]) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    for c in control {
        match c {
            CmsgIn::Rights(_) | CmsgIn::Creds(_) => return Err(Errno::EINVAL),
            CmsgIn::Other(level, ty, data) => {
                if !matches!(*level, SOL_IP | SOL_IPV6 | SOL_UDP) {
                    return Err(Errno::EINVAL);
                }
                let h = Cmsghdr {
                    cmsg_len: cmsg_len(data.len()) as u64,
                    cmsg_level: *level,
                    cmsg_type: *ty,
                };
                out.extend_from_slice(syscalls::bytes_of(&h));
                out.extend_from_slice(data);
                out.resize(out.len() + cmsg_space(data.len()) - cmsg_len(data.len()), 0);
            }
        }
    }
    Ok(out)
}

/// Splits received control data into messages (all of inet levels: passed on as they are).
fn control_out(raw: &[u8]) -> Vec<CmsgOut> {
    let hdr = std::mem::size_of::<Cmsghdr>();
    let mut out = Vec::new();
    let mut at = 0;
    while at + hdr <= raw.len() {
        let h: Cmsghdr = super::bytemuck_read(&raw[at..]);
        let len = h.cmsg_len as usize;
        if len < hdr || at + len > raw.len() {
            break;
        }
        if !(h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
            out.push(CmsgOut::Data(
                h.cmsg_level,
                h.cmsg_type,
                raw[at + hdr..at + len].to_vec(),
            ));
        }
        at += cmsg_align(len);
    }
    out
}

impl HostInet {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.sock.fd()
    }

    /// Runs a non-blocking host call until it stops saying EAGAIN, waiting on the reactor
    /// unless `nonblock`.
    fn retry<T>(
        &self,
        nonblock: bool,
        timeout: Option<std::time::Duration>,
        mut op: impl FnMut() -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        self.common.wait(&[], nonblock, timeout, || match op() {
            Err(Errno::EAGAIN) => None,
            r => Some(r),
        })
    }
}

impl Socket for HostInet {
    fn common(&self) -> &SockCommon {
        &self.common
    }

    fn bind(&self, t: &Task, addr: &[u8]) -> Result<(), Errno> {
        // The sandbox's own rule for privileged ports (its ip_unprivileged_port_start and the
        // caller's virtual CAP_NET_BIND_SERVICE), whatever the host's allows the sentry.
        if addr.len() >= 4 {
            let port = u16::from_be_bytes([addr[2], addr[3]]);
            if port != 0
                && u32::from(port) < crate::net::inet::ports::unprivileged_port_start()
                && !crate::net::inet::capable(t, CAP_NET_BIND_SERVICE)
            {
                return Err(Errno::EACCES);
            }
        }
        host_unsafe::bind(self.fd(), addr)
    }

    fn listen(&self, backlog: i32) -> Result<(), Errno> {
        host_unsafe::listen(self.fd(), backlog)
    }

    fn accept(&self, _t: &Task, nonblock: bool) -> Result<Accepted, Errno> {
        let timeout = self.common.opts().rcvtimeo;
        let (fd, peer) = self.retry(nonblock, timeout, || host_unsafe::accept(self.fd()))?;
        let s = wrap(
            fd,
            self.common.domain,
            self.common.stype,
            self.common.protocol,
        )?;
        Ok(Accepted {
            sock: Box::new(s),
            peer,
        })
    }

    fn connect(&self, _t: &Task, addr: &[u8], nonblock: bool) -> Result<(), Errno> {
        match host_unsafe::connect(self.fd(), addr) {
            Err(Errno::EINPROGRESS) if !nonblock => {}
            r => return r,
        }
        let timeout = self.common.opts().sndtimeo;
        let r = self.common.wait(&[], false, timeout, || {
            let ev = host_unsafe::poll_now(self.fd(), (POLLOUT) as i16);
            (ev & (POLLOUT | POLLERR | POLLHUP) != 0).then_some(Ok(()))
        });
        match r {
            // Linux: a connect that times out is still in progress.
            Err(Errno::EAGAIN) => Err(Errno::EINPROGRESS),
            Err(e) => Err(e),
            Ok(()) => match host_unsafe::take_error(self.fd())? {
                0 => Ok(()),
                e => Err(Errno(e)),
            },
        }
    }

    fn shutdown(&self, how: u32) -> Result<(), Errno> {
        host_unsafe::shutdown(self.fd(), how as i32)
    }

    fn sockname(&self) -> Result<Vec<u8>, Errno> {
        host_unsafe::sockname(self.fd())
    }

    fn peername(&self) -> Result<Vec<u8>, Errno> {
        host_unsafe::peername(self.fd())
    }

    fn setsockopt(
        &self,
        _t: &Task,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Option<Result<(), Errno>> {
        if level == SOL_SOCKET
            && matches!(
                name,
                SO_RCVTIMEO_OLD | SO_SNDTIMEO_OLD | SO_RCVTIMEO_NEW | SO_SNDTIMEO_NEW
            )
        {
            return None;
        }
        if level == SOL_SOCKET && name == SO_PRIORITY {
            // Above 6 needs CAP_NET_ADMIN on the host.
            if super::int_opt(val).is_ok_and(|p| !(0..=6).contains(&p)) {
                return Some(Err(Errno::EPERM));
            }
        }
        if level == SOL_IP && name == IP_HDRINCL && self.common.stype != SOCK_RAW {
            return Some(Err(Errno::ENOPROTOOPT));
        }
        if !allowed(level, name) {
            // SOL_SOCKET options are kept by the sentry as on other sockets (no host effect);
            // others are not passed on.
            return (level != SOL_SOCKET).then_some(Err(Errno::ENOPROTOOPT));
        }
        Some(host_unsafe::setsockopt(self.fd(), level, name, val))
    }

    fn getsockopt(
        &self,
        _t: &Task,
        level: i32,
        name: i32,
        len: usize,
    ) -> Option<Result<Vec<u8>, Errno>> {
        if level == SOL_SOCKET
            && matches!(
                name,
                SO_RCVTIMEO_OLD | SO_SNDTIMEO_OLD | SO_RCVTIMEO_NEW | SO_SNDTIMEO_NEW
            )
        {
            return None;
        }
        if !allowed(level, name) {
            return if level == SOL_SOCKET {
                None
            } else {
                Some(Err(Errno::ENOPROTOOPT))
            };
        }
        Some(host_unsafe::getsockopt(self.fd(), level, name, len.max(4)))
    }

    fn send(&self, _t: Option<&Task>, msg: SendMsg<'_>) -> Result<usize, Errno> {
        let control = control_bytes(&msg.control)?;
        let flags =
            (msg.flags & (MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_MORE | MSG_CONFIRM)) as i32;
        let timeout = self.common.opts().sndtimeo;
        let stream = self.common.stype == SOCK_STREAM;
        let mut done = 0usize;
        loop {
            let r = self.retry(msg.nonblock, timeout, || {
                host_unsafe::sendmsg(
                    self.fd(),
                    &msg.data[done..],
                    msg.addr,
                    if done == 0 { &control } else { &[] },
                    flags,
                )
            });
            match r {
                Ok(n) => {
                    done += n;
                    // A blocking stream send waits until everything is queued.
                    if !stream || msg.nonblock || done >= msg.data.len() {
                        return Ok(done);
                    }
                }
                Err(_) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            }
        }
    }

    fn recv(
        &self,
        _t: Option<&Task>,
        buf: &mut [u8],
        flags: u32,
        nonblock: bool,
    ) -> Result<Received, Errno> {
        let timeout = self.common.opts().rcvtimeo;
        let hflags = (flags & (MSG_OOB | MSG_PEEK | MSG_TRUNC | MSG_WAITALL | MSG_ERRQUEUE)) as i32;
        let r = self.retry(nonblock, timeout, || {
            host_unsafe::recvmsg(self.fd(), buf, hflags & !(MSG_WAITALL as i32), 1024)
        })?;
        let stream = self.common.stype == SOCK_STREAM;
        Ok(Received {
            copied: r.n.min(buf.len()),
            len: r.n,
            addr: if stream || r.addr.is_empty() {
                None
            } else {
                Some(r.addr)
            },
            control: control_out(&r.control),
            flags: r.flags as u32 & (MSG_TRUNC | MSG_CTRUNC | MSG_EOR | MSG_OOB),
        })
    }

    fn max_message(&self) -> Option<usize> {
        (self.common.stype != SOCK_STREAM).then_some(65_535)
    }

    fn poll(&self) -> u32 {
        host_unsafe::poll_now(self.fd(), (POLLIN | POLLOUT | POLLPRI | POLLRDHUP) as i16)
    }

    fn inq(&self) -> Result<usize, Errno> {
        host_unsafe::ioctl_int(self.fd(), SIOCINQ).map(|n| n.max(0) as usize)
    }

    fn outq(&self) -> Result<usize, Errno> {
        host_unsafe::ioctl_int(self.fd(), SIOCOUTQ).map(|n| n.max(0) as usize)
    }

    fn ioctl(&self, t: &Task, req: u32, arg: u64) -> Option<Result<u64, Errno>> {
        (req == SIOCATMARK).then(|| {
            host_unsafe::ioctl_int(self.fd(), SIOCATMARK)
                .and_then(|v| t.write_val(arg, &v).map(|_| 0))
        })
    }

    fn listening(&self) -> bool {
        host_unsafe::getsockopt(self.fd(), SOL_SOCKET, SO_ACCEPTCONN, 4)
            .ok()
            .and_then(|v| v.first().copied())
            .is_some_and(|b| b != 0)
    }

    fn sigpipe_on_epipe(&self) -> bool {
        self.common.stype == SOCK_STREAM
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
