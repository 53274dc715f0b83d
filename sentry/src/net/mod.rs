// SPDX-License-Identifier: Apache-2.0
//! The socket layer (gVisor `pkg/sentry/socket`): every socket is a sentry file whose
//! [`FileOps`] is a [`SocketFile`] around a family's [`Socket`].
//!
//! - [`unix`]: AF_UNIX stream, datagram and seqpacket sockets, path names in the sandbox's VFS,
//!   a private abstract namespace, SCM_RIGHTS and SCM_CREDENTIALS.
//! - [`inet`]: AF_INET and AF_INET6 TCP, UDP and ping sockets on the sandbox's own network
//!   stack ([`stack`]): loopback inside the sentry, and the outside reached through host
//!   sockets the sentry holds (`--network sandbox|host`).
//! - [`netlink`]: NETLINK_ROUTE dumps of the sandbox's interfaces, addresses and routes.
//!
//! The syscall handlers (`syscalls/sys_socket.rs`) decode the ABI (addresses, iovecs, control
//! messages) and call the family through [`Socket`]; what every family shares (the SOL_SOCKET
//! options, blocking with SO_RCVTIMEO/SO_SNDTIMEO, the file's stat and ioctls) lives here.

pub mod addr;
mod host_unsafe;
pub mod hostinet;
pub mod hostio;
pub mod inet;
pub mod netlink;
pub mod outside;
pub mod procfs;
pub mod stack;
pub mod unix;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::Task;
use crate::vfs::fasync::AsyncList;
use crate::vfs::{File, FileOps};

/// Device number of sockfs (st_dev of every socket).
pub const SOCKFS_DEV: u64 = 0x8;

/// Linux's net.core.wmem_default and rmem_default (bytes).
pub const WMEM_DEFAULT: usize = 212_992;
/// net.core.wmem_max and rmem_max: the most SO_SNDBUF/SO_RCVBUF may ask for (before doubling).
pub const MEM_MAX: usize = 212_992;
/// SOCK_MIN_SNDBUF: the least a send buffer is set to.
pub const SOCK_MIN_SNDBUF: usize = 4608;
/// SOCK_MIN_RCVBUF.
pub const SOCK_MIN_RCVBUF: usize = 2304;

/// A control message to send (from sendmsg's msg_control).
pub enum CmsgIn {
    /// SCM_RIGHTS: files to pass.
    Rights(Vec<Arc<File>>),
    /// SCM_CREDENTIALS: credentials the sender claims (checked by the syscall layer).
    Creds(Ucred),
    /// Anything else, for the family to interpret: (level, type, data).
    Other(i32, i32, Vec<u8>),
}

/// A control message received (for recvmsg's msg_control).
pub enum CmsgOut {
    /// SCM_RIGHTS: files to install in the receiver's table.
    Rights(Vec<Arc<File>>),
    /// Anything else, already encoded: (level, type, data).
    Data(i32, i32, Vec<u8>),
}

/// One message to send.
pub struct SendMsg<'a> {
    /// The bytes.
    pub data: &'a [u8],
    /// msg_name / sendto's address, raw.
    pub addr: Option<&'a [u8]>,
    /// Control messages.
    pub control: Vec<CmsgIn>,
    /// MSG_* flags.
    pub flags: u32,
    /// O_NONBLOCK on the file, or MSG_DONTWAIT.
    pub nonblock: bool,
    /// The sender's credentials (the sandbox's virtual pid, uid, gid).
    pub cred: Ucred,
}

pub use crate::vfs::{Fill, Sink, SliceSink, UserSink};

/// What one receive gave.
#[derive(Default)]
pub struct Received {
    /// Bytes copied into the buffer.
    pub copied: usize,
    /// The message's whole length (datagrams: more than `copied` when truncated; streams with
    /// MSG_TRUNC: the bytes discarded).
    pub len: usize,
    /// The sender's address, raw, for msg_name (None: leave msg_namelen 0).
    pub addr: Option<Vec<u8>>,
    /// Control messages.
    pub control: Vec<CmsgOut>,
    /// MSG_TRUNC, MSG_EOR, MSG_OOB, ... for msg_flags.
    pub flags: u32,
}

/// Two sockets connected to each other (socketpair(2)).
pub type SocketPair = (Box<dyn Socket>, Box<dyn Socket>);

/// A connection accepted from a listening socket.
pub struct Accepted {
    /// The new socket.
    pub sock: Box<dyn Socket>,
    /// The peer's address, raw.
    pub peer: Vec<u8>,
}

/// A socket of some family. Each default is the errno Linux gives for a family or type that
/// lacks the operation.
pub trait Socket: Send + Sync {
    /// What every socket has: options, wait queue, identity.
    fn common(&self) -> &SockCommon;
    /// bind(2) with the raw address.
    fn bind(&self, _t: &Task, _addr: &[u8]) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// listen(2).
    fn listen(&self, _backlog: i32) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// accept(2), waiting unless `nonblock`.
    fn accept(&self, _t: &Task, _nonblock: bool) -> Result<Accepted, Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// connect(2) with the raw address, waiting for the connection unless `nonblock`.
    fn connect(&self, _t: &Task, _addr: &[u8], _nonblock: bool) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// shutdown(2) (`how` already checked to be SHUT_RD, SHUT_WR or SHUT_RDWR).
    fn shutdown(&self, _how: u32) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// getsockname(2): the bound address, raw and whole.
    fn sockname(&self) -> Result<Vec<u8>, Errno>;
    /// getpeername(2). Linux: ENOTCONN when not connected.
    fn peername(&self) -> Result<Vec<u8>, Errno> {
        Err(Errno::ENOTCONN)
    }
    /// setsockopt(2) for options the family knows; `None` leaves it to the common SOL_SOCKET
    /// handling ([`SockCommon::setsockopt`]).
    fn setsockopt(
        &self,
        _t: &Task,
        _level: i32,
        _name: i32,
        _val: &[u8],
    ) -> Option<Result<(), Errno>> {
        None
    }
    /// getsockopt(2) for options the family knows (the value, at most `len` bytes long where
    /// the option allows a short read); `None` leaves it to the common handling.
    fn getsockopt(
        &self,
        _t: &Task,
        _level: i32,
        _name: i32,
        _len: usize,
    ) -> Option<Result<Vec<u8>, Errno>> {
        None
    }
    /// Sends one message; returns the bytes taken. Streams may take part of it.
    fn send(&self, t: Option<&Task>, msg: SendMsg<'_>) -> Result<usize, Errno>;
    /// Receives into `buf` with the MSG_* `flags`, waiting unless `nonblock`.
    fn recv(
        &self,
        t: Option<&Task>,
        buf: &mut [u8],
        flags: u32,
        nonblock: bool,
    ) -> Result<Received, Errno>;
    /// A plain byte-stream send (write, or send without flags or control) of `len` bytes that
    /// `fill` reads from the sender's memory as they are queued, with no copy staged between;
    /// `None` when this socket takes only [`Socket::send`].
    fn send_stream_from(
        &self,
        _t: &Task,
        _len: usize,
        _fill: Fill<'_>,
        _nonblock: bool,
    ) -> Option<Result<usize, Errno>> {
        None
    }
    /// A plain byte-stream receive (read, or recv without flags) straight into `sink`, the
    /// receiver's memory; `None` when this socket takes only [`Socket::recv`].
    fn recv_stream_into(
        &self,
        _sink: &mut dyn Sink,
        _nonblock: bool,
    ) -> Option<Result<usize, Errno>> {
        None
    }
    /// The most one datagram may carry (EMSGSIZE above it); `None` for byte streams.
    fn max_message(&self) -> Option<usize> {
        None
    }
    /// Readiness: POLLIN, POLLOUT, POLLHUP, ... that hold now.
    fn poll(&self) -> u32;
    /// FIONREAD/SIOCINQ: bytes ready to read.
    fn inq(&self) -> Result<usize, Errno> {
        Ok(0)
    }
    /// SIOCOUTQ: bytes sent and not yet taken by the peer.
    fn outq(&self) -> Result<usize, Errno> {
        Ok(0)
    }
    /// Other ioctls (already copied in; copied out after). Linux: ENOIOCTLCMD -> ENOTTY.
    fn ioctl(&self, _t: &Task, _req: u32, _arg: u64) -> Option<Result<u64, Errno>> {
        None
    }
    /// The listening socket's state for SO_ACCEPTCONN.
    fn listening(&self) -> bool {
        false
    }
    /// Signal-driven I/O turned on or off for a description of this socket.
    fn set_async(&self, file: &Arc<File>, fd: i32, on: bool) {
        self.common().fasync.set(file, fd, on);
    }
    /// Whether an EPIPE from a send raises SIGPIPE (unless MSG_NOSIGNAL). Linux's stream
    /// protocols raise it; unix datagram and seqpacket sockets do not.
    fn sigpipe_on_epipe(&self) -> bool {
        true
    }
    /// The socket as `Any`, for a family to find its own sockets (SCM_RIGHTS garbage).
    fn as_any(&self) -> &dyn std::any::Any;
}

static NEXT_SOCK_INO: AtomicU64 = AtomicU64::new(1 << 20);

/// SOL_SOCKET options every family keeps the same way.
#[derive(Clone, Debug)]
pub struct SockOpts {
    /// SO_RCVTIMEO (None: wait forever).
    pub rcvtimeo: Option<Duration>,
    /// SO_SNDTIMEO.
    pub sndtimeo: Option<Duration>,
    /// SO_SNDBUF as Linux stores it (doubled).
    pub sndbuf: usize,
    /// SO_RCVBUF as Linux stores it (doubled).
    pub rcvbuf: usize,
    /// Whether the program set SO_SNDBUF / SO_RCVBUF (TCP then stops auto-tuning).
    pub sndbuf_locked: bool,
    /// Whether the program set SO_RCVBUF.
    pub rcvbuf_locked: bool,
    /// SO_REUSEADDR.
    pub reuseaddr: bool,
    /// SO_REUSEPORT.
    pub reuseport: bool,
    /// SO_KEEPALIVE.
    pub keepalive: bool,
    /// SO_OOBINLINE.
    pub oobinline: bool,
    /// SO_BROADCAST.
    pub broadcast: bool,
    /// SO_DONTROUTE.
    pub dontroute: bool,
    /// SO_PASSCRED.
    pub passcred: bool,
    /// SO_PASSSEC.
    pub passsec: bool,
    /// SO_DEBUG.
    pub debug: bool,
    /// SO_TIMESTAMP (1), SO_TIMESTAMPNS (2), or off (0).
    pub timestamp: u8,
    /// SO_TIMESTAMPING flags.
    pub timestamping: u32,
    /// SO_PRIORITY.
    pub priority: i32,
    /// SO_MARK.
    pub mark: u32,
    /// SO_RCVLOWAT.
    pub rcvlowat: i32,
    /// SO_LINGER.
    pub linger: Linger,
    /// SO_BINDTODEVICE (interface index, 0 for none).
    pub bound_dev: i32,
    /// SO_PEEK_OFF (-1: off).
    pub peek_off: i32,
    /// SO_BUSY_POLL.
    pub busy_poll: i32,
    /// SO_ZEROCOPY.
    pub zerocopy: bool,
    /// SO_RXQ_OVFL.
    pub rxq_ovfl: bool,
    /// SO_SELECT_ERR_QUEUE.
    pub select_err_queue: bool,
    /// SO_TXREHASH.
    pub txrehash: i32,
    /// SO_INCOMING_CPU.
    pub incoming_cpu: i32,
}

impl SockOpts {
    fn new(sndbuf: usize, rcvbuf: usize) -> SockOpts {
        SockOpts {
            rcvtimeo: None,
            sndtimeo: None,
            sndbuf,
            rcvbuf,
            sndbuf_locked: false,
            rcvbuf_locked: false,
            reuseaddr: false,
            reuseport: false,
            keepalive: false,
            oobinline: false,
            broadcast: false,
            dontroute: false,
            passcred: false,
            passsec: false,
            debug: false,
            timestamp: 0,
            timestamping: 0,
            priority: 0,
            mark: 0,
            rcvlowat: 1,
            linger: Linger::default(),
            bound_dev: 0,
            peek_off: -1,
            busy_poll: 0,
            zerocopy: false,
            rxq_ovfl: false,
            select_err_queue: false,
            txrehash: 255,
            incoming_cpu: -1,
        }
    }
}

/// What every socket has.
pub struct SockCommon {
    /// Inode number (st_ino, `socket:[ino]`).
    pub ino: u64,
    /// AF_*.
    pub domain: u16,
    /// SOCK_STREAM, SOCK_DGRAM, ...
    pub stype: u32,
    /// The protocol (IPPROTO_TCP, ...; 0 for unix sockets).
    pub protocol: u32,
    /// The creator's (fs)uid and gid: the socket inode's owner.
    pub uid: u32,
    /// The creator's gid.
    pub gid: u32,
    /// Woken when readiness may have changed.
    pub queue: WaitQueue,
    /// O_ASYNC descriptions of the socket, signalled on input and output.
    pub fasync: AsyncList,
    opts: Mutex<SockOpts>,
    /// When the socket was made (its inode's times).
    created: (i64, i64),
}

impl SockCommon {
    /// A new socket's common part with the family's default buffer sizes.
    pub fn new(domain: u16, stype: u32, protocol: u32, sndbuf: usize, rcvbuf: usize) -> Self {
        let (uid, gid) = current_fsids();
        SockCommon {
            ino: NEXT_SOCK_INO.fetch_add(1, Ordering::Relaxed),
            domain,
            stype,
            protocol,
            uid,
            gid,
            queue: WaitQueue::default(),
            fasync: AsyncList::default(),
            opts: Mutex::new(SockOpts::new(sndbuf, rcvbuf)),
            created: crate::vfs::now(),
        }
    }

    /// The options.
    pub fn opts(&self) -> MutexGuard<'_, SockOpts> {
        self.opts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes waiters and signals O_ASYNC owners: `band` says which readiness came (POLLIN for
    /// input, POLLOUT for room, both when unsure).
    pub fn wake(&self, band: u32) {
        self.wake_waiters(band);
        if band & (POLLIN | POLLRDNORM) != 0 {
            self.fasync.notify(POLL_IN, POLLIN | POLLRDNORM);
        }
        if band & (POLLOUT | POLLWRNORM) != 0 {
            self.fasync
                .notify(POLL_OUT, POLLOUT | POLLWRNORM | POLLWRBAND);
        }
    }

    /// Wakes waiters and pollers only (no O_ASYNC signal): for families that decide about
    /// SIGIO themselves, as Linux's `sk_wake_async` conditions do.
    pub fn wake_waiters(&self, band: u32) {
        self.queue.notify_band(band);
    }

    /// Waits for `ready` on this socket's queue (and `more`), as a send or receive does:
    /// EAGAIN at once when `nonblock`, EAGAIN when `timeout` passes, and on a signal
    /// ERESTARTSYS (no timeout: the call restarts under SA_RESTART) or EINTR (with one), as
    /// Linux's sock_intr_errno.
    pub fn wait<T>(
        &self,
        more: &[&WaitQueue],
        nonblock: bool,
        timeout: Option<Duration>,
        mut ready: impl FnMut() -> Option<Result<T, Errno>>,
    ) -> Result<T, Errno> {
        if nonblock {
            return ready().unwrap_or(Err(Errno::EAGAIN));
        }
        let mut queues = vec![&self.queue];
        queues.extend_from_slice(more);
        let deadline = timeout.map(|d| Instant::now() + d);
        match block_on(&queues, deadline, ready) {
            Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
            Err(Errno::ERESTARTSYS) if timeout.is_some() => Err(Errno::EINTR),
            r => r,
        }
    }

    /// setsockopt(2) at SOL_SOCKET for what every family keeps the same way.
    pub fn setsockopt(&self, name: i32, val: &[u8]) -> Result<(), Errno> {
        let int = || int_opt(val);
        let mut o = self.opts();
        match name {
            SO_RCVTIMEO_OLD | SO_SNDTIMEO_OLD | SO_RCVTIMEO_NEW | SO_SNDTIMEO_NEW => {
                let d = timeval_opt(val, matches!(name, SO_RCVTIMEO_NEW | SO_SNDTIMEO_NEW))?;
                if matches!(name, SO_RCVTIMEO_OLD | SO_RCVTIMEO_NEW) {
                    o.rcvtimeo = d;
                } else {
                    o.sndtimeo = d;
                }
            }
            SO_SNDBUF | SO_SNDBUFFORCE => {
                let v = int()?;
                let v = if name == SO_SNDBUF {
                    (v.max(0) as usize).min(MEM_MAX)
                } else {
                    v.max(0) as usize
                };
                o.sndbuf = (v * 2).max(SOCK_MIN_SNDBUF);
                o.sndbuf_locked = true;
            }
            SO_RCVBUF | SO_RCVBUFFORCE => {
                let v = int()?;
                let v = if name == SO_RCVBUF {
                    (v.max(0) as usize).min(MEM_MAX)
                } else {
                    v.max(0) as usize
                };
                o.rcvbuf = (v * 2).max(SOCK_MIN_RCVBUF);
                o.rcvbuf_locked = true;
            }
            SO_REUSEADDR => o.reuseaddr = int()? != 0,
            SO_REUSEPORT => o.reuseport = int()? != 0,
            SO_KEEPALIVE => o.keepalive = int()? != 0,
            SO_OOBINLINE => o.oobinline = int()? != 0,
            SO_BROADCAST => o.broadcast = int()? != 0,
            SO_DONTROUTE => o.dontroute = int()? != 0,
            SO_PASSCRED => o.passcred = int()? != 0,
            SO_PASSSEC => o.passsec = int()? != 0,
            SO_DEBUG => o.debug = int()? != 0,
            SO_ZEROCOPY => o.zerocopy = int()? != 0,
            SO_RXQ_OVFL => o.rxq_ovfl = int()? != 0,
            SO_SELECT_ERR_QUEUE => o.select_err_queue = int()? != 0,
            SO_TIMESTAMP_OLD | SO_TIMESTAMP_NEW => o.timestamp = u8::from(int()? != 0),
            SO_TIMESTAMPNS_OLD | SO_TIMESTAMPNS_NEW => {
                o.timestamp = if int()? != 0 { 2 } else { 0 };
            }
            SO_TIMESTAMPING_OLD | SO_TIMESTAMPING_NEW => o.timestamping = int()? as u32,
            SO_PRIORITY => {
                let v = int()?;
                // Priorities above 6 need CAP_NET_ADMIN; the sandbox's root has it.
                o.priority = v;
            }
            SO_MARK => o.mark = int()? as u32,
            SO_RCVLOWAT => o.rcvlowat = int()?.max(1),
            SO_LINGER => {
                if val.len() < std::mem::size_of::<Linger>() {
                    return Err(Errno::EINVAL);
                }
                o.linger = bytemuck_read(val);
            }
            SO_BINDTODEVICE => {
                let name: Vec<u8> = val.iter().copied().take_while(|b| *b != 0).collect();
                if name.len() >= IFNAMSIZ {
                    return Err(Errno::EINVAL);
                }
                o.bound_dev = if name.is_empty() {
                    0
                } else {
                    stack::index_of(&name).ok_or(Errno::ENODEV)?
                };
            }
            SO_BINDTOIFINDEX => {
                let i = int()?;
                if i != 0 && !stack::has_index(i) {
                    return Err(Errno::ENODEV);
                }
                o.bound_dev = i;
            }
            SO_PEEK_OFF => o.peek_off = int()?,
            SO_BUSY_POLL => o.busy_poll = int()?.max(0),
            SO_TXREHASH => {
                let v = int()?;
                if !(-1..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.txrehash = if v == -1 { 255 } else { v };
            }
            SO_INCOMING_CPU => o.incoming_cpu = int()?,
            SO_ATTACH_FILTER
            | SO_ATTACH_BPF
            | SO_ATTACH_REUSEPORT_CBPF
            | SO_ATTACH_REUSEPORT_EBPF => return Err(Errno::EINVAL),
            SO_DETACH_FILTER | SO_DETACH_REUSEPORT_BPF => return Err(Errno::ENOENT),
            SO_LOCK_FILTER | SO_NOFCS | SO_WIFI_STATUS | SO_MAX_PACING_RATE
            | SO_PREFER_BUSY_POLL | SO_BUSY_POLL_BUDGET | SO_BUF_LOCK | SO_RESERVE_MEM
            | SO_RCVMARK | SO_PASSPIDFD | SO_TXTIME | SO_CNX_ADVICE => {
                int()?;
            }
            SO_TYPE | SO_PROTOCOL | SO_DOMAIN | SO_ERROR | SO_ACCEPTCONN | SO_PEERCRED
            | SO_PEERNAME | SO_PEERSEC | SO_PEERGROUPS | SO_COOKIE | SO_MEMINFO
            | SO_INCOMING_NAPI_ID | SO_BPF_EXTENSIONS | SO_NETNS_COOKIE | SO_PEERPIDFD => {
                return Err(Errno::ENOPROTOOPT)
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    /// getsockopt(2) at SOL_SOCKET for what every family keeps the same way.
    pub fn getsockopt(&self, sock: &dyn Socket, name: i32) -> Result<Vec<u8>, Errno> {
        let o = self.opts();
        let int = |v: i32| Ok(v.to_ne_bytes().to_vec());
        match name {
            SO_TYPE => int(self.stype as i32),
            SO_PROTOCOL => int(self.protocol as i32),
            SO_DOMAIN => int(i32::from(self.domain)),
            SO_ACCEPTCONN => int(i32::from(sock.listening())),
            SO_ERROR => int(0),
            SO_RCVTIMEO_OLD | SO_SNDTIMEO_OLD | SO_RCVTIMEO_NEW | SO_SNDTIMEO_NEW => {
                let d = if matches!(name, SO_RCVTIMEO_OLD | SO_RCVTIMEO_NEW) {
                    o.rcvtimeo
                } else {
                    o.sndtimeo
                };
                let d = d.unwrap_or_default();
                let tv = Timeval {
                    tv_sec: d.as_secs() as i64,
                    tv_usec: i64::from(d.subsec_micros()),
                };
                Ok(syscalls::bytes_of(&tv).to_vec())
            }
            SO_SNDBUF => int(o.sndbuf as i32),
            SO_RCVBUF => int(o.rcvbuf as i32),
            SO_REUSEADDR => int(i32::from(o.reuseaddr)),
            SO_REUSEPORT => int(i32::from(o.reuseport)),
            SO_KEEPALIVE => int(i32::from(o.keepalive)),
            SO_OOBINLINE => int(i32::from(o.oobinline)),
            SO_BROADCAST => int(i32::from(o.broadcast)),
            SO_DONTROUTE => int(i32::from(o.dontroute)),
            SO_PASSCRED => int(i32::from(o.passcred)),
            SO_PASSSEC => int(i32::from(o.passsec)),
            SO_DEBUG => int(i32::from(o.debug)),
            SO_ZEROCOPY => int(i32::from(o.zerocopy)),
            SO_RXQ_OVFL => int(i32::from(o.rxq_ovfl)),
            SO_SELECT_ERR_QUEUE => int(i32::from(o.select_err_queue)),
            SO_TIMESTAMP_OLD | SO_TIMESTAMP_NEW => int(i32::from(o.timestamp == 1)),
            SO_TIMESTAMPNS_OLD | SO_TIMESTAMPNS_NEW => int(i32::from(o.timestamp == 2)),
            SO_TIMESTAMPING_OLD | SO_TIMESTAMPING_NEW => int(o.timestamping as i32),
            SO_PRIORITY => int(o.priority),
            SO_MARK => int(o.mark as i32),
            SO_RCVLOWAT => int(o.rcvlowat),
            SO_SNDLOWAT => int(1),
            SO_LINGER => Ok(syscalls::bytes_of(&o.linger).to_vec()),
            SO_BINDTOIFINDEX => int(o.bound_dev),
            SO_BINDTODEVICE => Ok(stack::name_of(o.bound_dev).unwrap_or_default()),
            SO_PEEK_OFF => int(o.peek_off),
            SO_BUSY_POLL => int(o.busy_poll),
            SO_TXREHASH => int(if o.txrehash == 255 { -1 } else { o.txrehash }),
            SO_INCOMING_CPU => int(o.incoming_cpu),
            SO_COOKIE => Ok(self.ino.to_ne_bytes().to_vec()),
            SO_BPF_EXTENSIONS => int(0),
            SO_NETNS_COOKIE => Ok(1u64.to_ne_bytes().to_vec()),
            SO_MEMINFO => Ok(vec![0u8; 4 * 9]),
            SO_PEERCRED => Err(Errno::ENOTCONN),
            SO_PEERNAME => sock.peername(),
            SO_PEERSEC => Err(Errno::ENOPROTOOPT),
            SO_PEERGROUPS => Err(Errno::ENODATA),
            SO_INCOMING_NAPI_ID => int(0),
            SO_BUF_LOCK => int(i32::from(o.sndbuf_locked) | (i32::from(o.rcvbuf_locked) << 1)),
            SO_RESERVE_MEM | SO_RCVMARK | SO_PASSPIDFD | SO_PREFER_BUSY_POLL => int(0),
            SO_BUSY_POLL_BUDGET => int(0),
            SO_MAX_PACING_RATE => Ok(u64::MAX.to_ne_bytes().to_vec()),
            SO_WIFI_STATUS | SO_NOFCS | SO_LOCK_FILTER => int(0),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }
}

/// An `int` option value: at least 4 bytes (Linux reads the first 4; EINVAL when shorter).
pub fn int_opt(val: &[u8]) -> Result<i32, Errno> {
    match val.get(..4) {
        Some(b) => Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(Errno::EINVAL),
    }
}

/// An option some families take as an int or as one byte (IP_TOS, IP_TTL, IP_MULTICAST_*).
pub fn int_or_byte_opt(val: &[u8]) -> Result<i32, Errno> {
    if val.len() >= 4 {
        int_opt(val)
    } else if let Some(b) = val.first() {
        Ok(i32::from(*b))
    } else {
        Err(Errno::EINVAL)
    }
}

/// A `struct timeval` (or `__kernel_sock_timeval` for the _NEW options) as a timeout: zero is
/// "forever" (None); EDOM for microseconds out of range, as sock_set_timeout.
fn timeval_opt(val: &[u8], new: bool) -> Result<Option<Duration>, Errno> {
    let _ = new; // Both layouts are two 64-bit fields on x86_64.
    if val.len() < 16 {
        return Err(Errno::EINVAL);
    }
    let tv: Timeval = bytemuck_read(val);
    if tv.tv_usec < 0 || tv.tv_usec >= 1_000_000 {
        return Err(Errno::EDOM);
    }
    if tv.tv_sec < 0 {
        // Linux: a negative time is "do not wait" (timeout 0 would be forever): one jiffy.
        return Ok(Some(Duration::from_millis(1)));
    }
    if tv.tv_sec == 0 && tv.tv_usec == 0 {
        return Ok(None);
    }
    Ok(Some(
        Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64),
    ))
}

/// Reads a plain-data struct from the front of `val` (which the caller checked is long enough).
pub fn bytemuck_read<T: syscalls::Pod>(val: &[u8]) -> T {
    let mut v = T::zeroed();
    let n = std::mem::size_of::<T>().min(val.len());
    syscalls::bytes_of_mut(&mut v)[..n].copy_from_slice(&val[..n]);
    v
}

/// The current task's fsuid and fsgid (a socket's owner), root outside a task (tests).
fn current_fsids() -> (u32, u32) {
    crate::kernel::block::current()
        .and_then(|t| {
            crate::kernel::lock(&t.info)
                .as_ref()
                .map(|i| (i.creds.fsuid, i.creds.fsgid))
        })
        .unwrap_or((0, 0))
}

/// The credentials a task sends (SCM_CREDENTIALS, SO_PEERCRED): its process id in the sandbox
/// and its effective uid and gid.
pub fn task_cred(t: &Task) -> Ucred {
    Ucred {
        pid: t.tgid(),
        uid: t.creds.uid.1,
        gid: t.creds.gid.1,
    }
}

/// The credentials of the task this sentry thread serves (for sends through write(2)).
pub fn current_cred() -> Ucred {
    crate::kernel::block::current()
        .and_then(|t| {
            let pid = t.tg.tgid;
            crate::kernel::lock(&t.info).as_ref().map(|i| Ucred {
                pid,
                uid: i.creds.uid.1,
                gid: i.creds.gid.1,
            })
        })
        .unwrap_or(Ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        })
}

/// The file operations of a socket: read and write are receive and send without an address or
/// flags; fstat shows S_IFSOCK.
pub struct SocketFile {
    /// The socket.
    pub sock: Box<dyn Socket>,
}

impl SocketFile {
    /// A new socket file description: O_RDWR plus O_NONBLOCK when asked.
    pub fn new_file(sock: Box<dyn Socket>, nonblock: bool) -> Arc<File> {
        let ino = sock.common().ino;
        let flags = O_RDWR | if nonblock { O_NONBLOCK } else { 0 };
        File::new(
            Box::new(SocketFile { sock }),
            flags,
            format!("socket:[{ino}]"),
        )
    }
}

impl FileOps for SocketFile {
    fn is_stream(&self) -> bool {
        true
    }

    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        self.sock.recv(None, buf, 0, nonblock).map(|r| r.copied)
    }

    fn write_stream(&self, buf: &[u8], nonblock: bool) -> Result<usize, Errno> {
        self.sock.send(
            None,
            SendMsg {
                data: buf,
                addr: None,
                control: Vec::new(),
                flags: 0,
                nonblock,
                cred: current_cred(),
            },
        )
    }

    fn read_stream_into(
        &self,
        _t: &Task,
        sink: &mut dyn Sink,
        nonblock: bool,
    ) -> Option<Result<usize, Errno>> {
        self.sock.recv_stream_into(sink, nonblock)
    }

    fn write_stream_from(
        &self,
        t: &Task,
        len: usize,
        fill: Fill<'_>,
        nonblock: bool,
    ) -> Option<Result<usize, Errno>> {
        self.sock.send_stream_from(t, len, fill, nonblock)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        let c = self.sock.common();
        Ok(Stat {
            st_dev: SOCKFS_DEV,
            st_ino: c.ino,
            st_nlink: 1,
            st_mode: S_IFSOCK | 0o777,
            st_uid: c.uid,
            st_gid: c.gid,
            st_blksize: 4096,
            st_atime: c.created.0,
            st_atime_nsec: c.created.1,
            st_mtime: c.created.0,
            st_mtime_nsec: c.created.1,
            st_ctime: c.created.0,
            st_ctime_nsec: c.created.1,
            ..Default::default()
        })
    }

    fn readable_bytes(&self) -> Result<usize, Errno> {
        self.sock.inq()
    }

    fn sync(&self) -> Result<(), Errno> {
        // Sockets have no fsync (Linux: EINVAL).
        Err(Errno::EINVAL)
    }

    fn poll_events(&self) -> u32 {
        self.sock.poll()
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.sock.common().queue)
    }

    fn set_async(&self, file: &Arc<File>, fd: i32, on: bool) {
        self.sock.set_async(file, fd, on);
    }

    fn as_socket(&self) -> Option<&dyn Socket> {
        Some(self.sock.as_ref())
    }
}
