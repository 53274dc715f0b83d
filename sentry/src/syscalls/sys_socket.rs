// SPDX-License-Identifier: Apache-2.0
//! The socket system calls (Linux `net/socket.c`): decoding addresses, iovecs and control
//! messages, then calling the family through [`Socket`].

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::sys_file::{access_ok, read_iovecs, with_buffer, CHUNK, MAX_RW_COUNT};
use super::{fd_arg, SysResult};
use crate::kernel::Task;
use crate::net::{self, CmsgIn, CmsgOut, Received, SendMsg, Socket, SocketFile};
use crate::vfs::File;

/// Most iovecs in one message (UIO_MAXIOV).
const UIO_MAXIOV: u64 = 1024;
/// net.core.optmem_max: the most control data one message may carry.
const OPTMEM_MAX: u64 = 131_072;
/// net.core.somaxconn: listen backlogs are cut to it.
pub const SOMAXCONN: i32 = 4096;

/// The socket behind `fd`: EBADF for no file, ENOTSOCK for a file that is not a socket.
fn socket_file(t: &Task, fd: i32) -> Result<Arc<File>, Errno> {
    let f = t.file(fd)?;
    // An O_PATH descriptor is no file to the socket calls (sockfd_lookup: EBADF).
    if f.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    if f.ops.as_socket().is_none() {
        return Err(Errno::ENOTSOCK);
    }
    Ok(f)
}

fn sock(f: &File) -> Result<&dyn Socket, Errno> {
    f.ops.as_socket().ok_or(Errno::ENOTSOCK)
}

fn install_socket(t: &Task, s: Box<dyn Socket>, flags: u32) -> SysResult {
    let file = SocketFile::new_file(s, flags & SOCK_NONBLOCK != 0);
    super::sys_file::install(t, file, flags & SOCK_CLOEXEC != 0)
}

/// Creates a socket of `domain`, `stype` (flags removed) and `protocol`.
fn new_socket(t: &Task, domain: u64, stype: u32, protocol: u32) -> Result<Box<dyn Socket>, Errno> {
    if !(1..=SOCK_PACKET).contains(&stype) {
        return Err(Errno::EINVAL);
    }
    let domain = u16::try_from(domain).map_err(|_| Errno::EAFNOSUPPORT)?;
    match domain {
        AF_UNIX => net::unix::new_socket(stype, protocol),
        AF_INET | AF_INET6 if net::stack::config().mode == net::stack::Mode::Host => {
            net::hostinet::new_socket(t, domain, stype, protocol)
        }
        AF_INET | AF_INET6 => net::inet::new_socket(t, domain, stype, protocol),
        AF_NETLINK => net::netlink::new_socket(stype, protocol),
        // Packet sockets need CAP_NET_RAW on the host's network; the sandbox has none.
        AF_PACKET => Err(Errno::EPERM),
        d if d >= AF_MAX => Err(Errno::EAFNOSUPPORT),
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

fn split_type(ty: u64) -> Result<(u32, u32), Errno> {
    let ty = ty as u32;
    let flags = ty & !SOCK_TYPE_MASK;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok((ty & SOCK_TYPE_MASK, flags))
}

/// Implements socket(2).
pub fn sys_socket(t: &mut Task) -> SysResult {
    let (stype, flags) = split_type(t.arg(1))?;
    let s = new_socket(t, t.arg(0), stype, t.arg(2) as u32)?;
    install_socket(t, s, flags)
}

/// Implements socketpair(2).
pub fn sys_socketpair(t: &mut Task) -> SysResult {
    let (stype, flags) = split_type(t.arg(1))?;
    if !(1..=SOCK_PACKET).contains(&stype) {
        return Err(Errno::EINVAL);
    }
    let (a, b) = match u16::try_from(t.arg(0)) {
        Ok(AF_UNIX) => net::unix::pair(stype, t.arg(2) as u32)?,
        Ok(AF_INET | AF_INET6) => {
            // The family exists but has no pairs (inet_create then sock_no_socketpair).
            new_socket(t, t.arg(0), stype, t.arg(2) as u32)?;
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(AF_NETLINK) => {
            net::netlink::new_socket(stype, t.arg(2) as u32)?;
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(AF_PACKET) => return Err(Errno::EPERM),
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    let addr = t.arg(3);
    access_ok(addr, 8)?;
    let fa = install_socket(t, a, flags)? as i32;
    let fb = match install_socket(t, b, flags) {
        Ok(fd) => fd as i32,
        Err(e) => {
            let _ = t.fds().remove(fa);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&fa.to_ne_bytes());
    out[4..].copy_from_slice(&fb.to_ne_bytes());
    if let Err(e) = t.copy_out(addr, &out) {
        let _ = t.fds().remove(fa);
        let _ = t.fds().remove(fb);
        return Err(e);
    }
    Ok(0)
}

/// Copies in a socket address of `len` bytes (EINVAL above sockaddr_storage).
fn read_addr(t: &Task, addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
    if len as i32 as i64 != len as i64 || (len as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    if len as usize > SOCKADDR_STORAGE_SIZE {
        return Err(Errno::EINVAL);
    }
    let mut buf = vec![0u8; len as usize];
    if len > 0 {
        t.copy_in(addr, &mut buf)?;
    }
    Ok(buf)
}

/// Writes an address out as Linux's move_addr_to_user: at most `*lenp` bytes of it, and its
/// whole length into `*lenp`. A null `addr` writes nothing.
fn write_addr(t: &Task, addr: u64, lenp: u64, value: &[u8]) -> Result<(), Errno> {
    if addr == 0 {
        return Ok(());
    }
    let len: i32 = t.read_val(lenp)?;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let n = (len as usize).min(value.len());
    if n > 0 {
        t.copy_out(addr, &value[..n])?;
    }
    t.write_val(lenp, &(value.len() as i32))
}

/// Implements bind(2).
pub fn sys_bind(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let addr = read_addr(t, t.arg(1), t.arg(2))?;
    let s = sock(&f)?;
    landlock_check(t, s, &addr, false)?;
    s.bind(t, &addr).map(|_| 0)
}

/// Implements listen(2).
pub fn sys_listen(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let backlog = t.arg(1) as i32;
    let backlog = if (backlog as u32) > SOMAXCONN as u32 {
        SOMAXCONN
    } else {
        backlog
    };
    sock(&f)?.listen(backlog).map(|_| 0)
}

/// Implements connect(2).
pub fn sys_connect(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let addr = read_addr(t, t.arg(1), t.arg(2))?;
    let nonblock = f.flags() & O_NONBLOCK != 0;
    let s = sock(&f)?;
    landlock_check(t, s, &addr, true)?;
    s.connect(t, &addr, nonblock).map(|_| 0)
}

/// Landlock's TCP port rights on a bind or connect ([`crate::kernel::landlock::check_socket`]).
fn landlock_check(
    t: &Task,
    s: &dyn crate::net::Socket,
    addr: &[u8],
    connect: bool,
) -> Result<(), Errno> {
    let c = s.common();
    crate::kernel::landlock::check_socket(t, c.domain, c.stype, c.protocol, addr, connect)
}

fn do_accept(t: &Task, flags: u32) -> SysResult {
    if flags & !(SOCK_CLOEXEC | SOCK_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = socket_file(t, fd_arg(t, 0))?;
    let (addr, lenp) = (t.arg(1), t.arg(2));
    if addr != 0 {
        let len: i32 = t.read_val(lenp)?;
        if len < 0 {
            return Err(Errno::EINVAL);
        }
    }
    // Linux takes the descriptor before the connection: EMFILE leaves it queued.
    let limit = super::sys_file::nofile(t);
    if !t.fds().has_free(limit) {
        return Err(Errno::EMFILE);
    }
    let nonblock = f.flags() & O_NONBLOCK != 0;
    let acc = sock(&f)?.accept(t, nonblock)?;
    write_addr(t, addr, lenp, &acc.peer)?;
    install_socket(t, acc.sock, flags)
}

/// Implements accept(2).
pub fn sys_accept(t: &mut Task) -> SysResult {
    do_accept(t, 0)
}

/// Implements accept4(2).
pub fn sys_accept4(t: &mut Task) -> SysResult {
    do_accept(t, t.arg(3) as u32)
}

/// Implements shutdown(2).
pub fn sys_shutdown(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let how = t.arg(1) as u32;
    if how > SHUT_RDWR {
        return Err(Errno::EINVAL);
    }
    sock(&f)?.shutdown(how).map(|_| 0)
}

/// Implements getsockname(2).
pub fn sys_getsockname(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let len: i32 = t.read_val(t.arg(2))?;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let a = sock(&f)?.sockname()?;
    write_name(t, t.arg(1), t.arg(2), len, &a).map(|_| 0)
}

/// getsockname/getpeername's move_addr_to_user: unlike accept and recvfrom, a null buffer is
/// not skipped (EFAULT when anything is to be copied).
fn write_name(t: &Task, addr: u64, lenp: u64, len: i32, value: &[u8]) -> Result<(), Errno> {
    let n = (len as usize).min(value.len());
    if n > 0 {
        t.copy_out(addr, &value[..n])?;
    }
    t.write_val(lenp, &(value.len() as i32))
}

/// Implements getpeername(2).
pub fn sys_getpeername(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let len: i32 = t.read_val(t.arg(2))?;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let a = sock(&f)?.peername()?;
    write_name(t, t.arg(1), t.arg(2), len, &a).map(|_| 0)
}

/// Implements setsockopt(2).
pub fn sys_setsockopt(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let (level, name, addr, len) = (t.arg(1) as i32, t.arg(2) as i32, t.arg(3), t.arg(4) as i32);
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    // No option is longer than a page (filters, which are, are refused below).
    let mut val = vec![0u8; (len as usize).min(4096)];
    if !val.is_empty() {
        t.copy_in(addr, &mut val)?;
    }
    let s = sock(&f)?;
    match s.setsockopt(t, level, name, &val) {
        Some(r) => r.map(|_| 0),
        None if level == SOL_SOCKET => s.common().setsockopt(name, &val).map(|_| 0),
        None => Err(Errno::ENOPROTOOPT),
    }
}

/// Implements getsockopt(2).
pub fn sys_getsockopt(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let (level, name, addr, lenp) = (t.arg(1) as i32, t.arg(2) as i32, t.arg(3), t.arg(4));
    let len: i32 = t.read_val(lenp)?;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let s = sock(&f)?;
    let v = match s.getsockopt(t, level, name, len as usize) {
        Some(r) => r?,
        None if level == SOL_SOCKET => s.common().getsockopt(s, name)?,
        None => return Err(Errno::ENOPROTOOPT),
    };
    let n = (len as usize).min(v.len());
    if n > 0 {
        t.copy_out(addr, &v[..n])?;
    }
    t.write_val(lenp, &(n as i32)).map(|_| 0)
}

// ---- sending and receiving ----

/// A message's buffers in application memory.
struct Iovs(Vec<Iovec>);

impl Iovs {
    fn total(&self) -> u64 {
        self.0
            .iter()
            .map(|v| v.len)
            .fold(0u64, u64::saturating_add)
            .min(MAX_RW_COUNT)
    }

    /// Copies up to `out.len()` bytes starting `skip` bytes into the buffers into `out`. Stops
    /// early at a fault (returns what it copied; EFAULT when nothing was).
    fn gather_into(&self, t: &Task, skip: u64, out: &mut [u8]) -> Result<usize, Errno> {
        let mut done = 0usize;
        let mut skip = skip;
        for v in &self.0 {
            if done >= out.len() {
                break;
            }
            if skip >= v.len {
                skip -= v.len;
                continue;
            }
            let k = ((v.len - skip) as usize).min(out.len() - done);
            if let Err(e) = t.copy_in(v.base + skip, &mut out[done..done + k]) {
                if done == 0 {
                    return Err(e);
                }
                return Ok(done);
            }
            done += k;
            skip = 0;
        }
        Ok(done)
    }

    /// Copies `data` into the buffers starting `skip` bytes in; EFAULT when nothing could be
    /// copied, else the count.
    fn scatter(&self, t: &Task, skip: u64, data: &[u8]) -> Result<usize, Errno> {
        let mut done = 0usize;
        let mut skip = skip;
        for v in &self.0 {
            if done >= data.len() {
                break;
            }
            if skip >= v.len {
                skip -= v.len;
                continue;
            }
            let k = ((v.len - skip) as usize).min(data.len() - done);
            if let Err(e) = t.copy_out(v.base + skip, &data[done..done + k]) {
                if done == 0 {
                    return Err(e);
                }
                return Ok(done);
            }
            done += k;
            skip = 0;
        }
        Ok(done)
    }
}

/// Decodes sendmsg's control messages (Linux `__scm_send` and the families' cmsg parsers).
fn read_control(t: &Task, addr: u64, len: u64) -> Result<Vec<CmsgIn>, Errno> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if len > OPTMEM_MAX {
        return Err(Errno::ENOBUFS);
    }
    let mut buf = vec![0u8; len as usize];
    t.copy_in(addr, &mut buf)?;
    let hdr = std::mem::size_of::<Cmsghdr>();
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + hdr <= buf.len() {
        let h: Cmsghdr = net::bytemuck_read(&buf[at..]);
        let clen = h.cmsg_len as usize;
        if clen < hdr || clen > buf.len() - at {
            return Err(Errno::EINVAL);
        }
        let data = &buf[at + hdr..at + clen];
        match (h.cmsg_level, h.cmsg_type) {
            (SOL_SOCKET, SCM_RIGHTS) => {
                let n = data.len() / 4;
                if n == 0 {
                    // Linux: an empty SCM_RIGHTS is ignored.
                } else {
                    if n > SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    let mut files = Vec::with_capacity(n);
                    for c in data.chunks_exact(4) {
                        let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                        let f = t.file(fd)?;
                        if f.flags() & O_PATH != 0 {
                            return Err(Errno::EBADF);
                        }
                        files.push(f);
                    }
                    out.push(CmsgIn::Rights(files));
                }
            }
            (SOL_SOCKET, SCM_CREDENTIALS) => {
                if data.len() < std::mem::size_of::<Ucred>() {
                    return Err(Errno::EINVAL);
                }
                let c: Ucred = net::bytemuck_read(data);
                check_creds(t, &c)?;
                out.push(CmsgIn::Creds(c));
            }
            (level, ty) => out.push(CmsgIn::Other(level, ty, data.to_vec())),
        }
        at += cmsg_align(clen);
    }
    Ok(out)
}

/// scm_check_creds: a process may claim its own pid (any with CAP_SYS_ADMIN) and its real,
/// effective or saved ids (any with CAP_SETUID / CAP_SETGID).
fn check_creds(t: &Task, c: &Ucred) -> Result<(), Errno> {
    const CAP_SETGID: u32 = 6;
    const CAP_SETUID: u32 = 7;
    const CAP_SYS_ADMIN: u32 = 21;
    let cap = |n: u32| t.creds.caps & (1 << n) != 0;
    let (ru, eu, su) = t.creds.uid;
    let (rg, eg, sg) = t.creds.gid;
    if c.pid != t.tgid() && !cap(CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    if ![ru, eu, su].contains(&c.uid) && !cap(CAP_SETUID) {
        return Err(Errno::EPERM);
    }
    if ![rg, eg, sg].contains(&c.gid) && !cap(CAP_SETGID) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// Raises SIGPIPE for an EPIPE from a send without MSG_NOSIGNAL, where the socket's protocol
/// raises it.
fn sigpipe(t: &Task, f: &File, r: &SysResult, flags: u32) {
    if *r == Err(Errno::EPIPE)
        && flags & MSG_NOSIGNAL == 0
        && f.ops.as_socket().is_some_and(|s| s.sigpipe_on_epipe())
    {
        let info = crate::kernel::signal::user_info(SIGPIPE, 0x80, 0, 0);
        crate::kernel::send_thread_signal(&t.k, &t.shared.clone(), info);
    }
}

/// Sends one message (sendto, sendmsg, one of sendmmsg's).
fn send_one(
    t: &Task,
    f: &File,
    iovs: &Iovs,
    addr: Option<Vec<u8>>,
    control: Vec<CmsgIn>,
    flags: u32,
) -> SysResult {
    let s = sock(f)?;
    let nonblock = flags & MSG_DONTWAIT != 0 || f.flags() & O_NONBLOCK != 0;
    let total = iovs.total();
    let cred = net::task_cred(t);
    if let Some(max) = s.max_message() {
        if total > max as u64 {
            return Err(Errno::EMSGSIZE);
        }
        let send = |buf: &mut [u8]| -> SysResult {
            let n = iovs.gather_into(t, 0, buf)?;
            if (n as u64) < total {
                return Err(Errno::EFAULT);
            }
            s.send(
                Some(t),
                SendMsg {
                    data: &buf[..n],
                    addr: addr.as_deref(),
                    control,
                    flags,
                    nonblock,
                    cred,
                },
            )
            .map(|n| n as u64)
        };
        // Up to a chunk in this thread's reusable buffer (no allocation per message).
        return if total as usize <= CHUNK {
            with_buffer(total as usize, send)
        } else {
            send(&mut vec![0u8; total as usize])
        };
    }
    // A byte stream: sent a chunk at a time; a short send or an error after some bytes ends
    // the call with what was sent.
    let mut done: u64 = 0;
    let mut control = Some(control);
    with_buffer((total as usize).min(CHUNK), |buf| loop {
        let want = ((total - done) as usize).min(CHUNK);
        let got = match iovs.gather_into(t, done, &mut buf[..want]) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break Ok(()),
        };
        let faulted = got < want;
        let more = done + (got as u64) < total;
        let r = s.send(
            Some(t),
            SendMsg {
                data: &buf[..got],
                addr: addr.as_deref(),
                control: control.take().unwrap_or_default(),
                flags: flags | if more { MSG_MORE } else { 0 },
                nonblock,
                cred,
            },
        );
        match r {
            Ok(n) => {
                done += n as u64;
                if n < got || faulted || done >= total {
                    break Ok(());
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break Ok(()),
        }
    })?;
    if done == 0 && total > 0 {
        return Err(Errno::EFAULT);
    }
    Ok(done)
}

/// Implements sendto(2).
pub fn sys_sendto(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let (buf, len, flags, addr, alen) = (
        t.arg(1),
        t.arg(2).min(MAX_RW_COUNT),
        t.arg(3) as u32,
        t.arg(4),
        t.arg(5),
    );
    access_ok(buf, len)?;
    let addr = if addr != 0 {
        Some(read_addr(t, addr, alen)?)
    } else {
        None
    };
    if addr.is_none() && flags & !(MSG_DONTWAIT | MSG_NOSIGNAL) == 0 {
        // A plain stream send queues straight from the program's memory.
        let nonblock = flags & MSG_DONTWAIT != 0 || f.flags() & O_NONBLOCK != 0;
        let mut fill = |at: usize, dst: &mut [u8]| t.copy_in(buf + at as u64, dst);
        if let Some(r) = sock(&f)?.send_stream_from(t, len as usize, &mut fill, nonblock) {
            let r = r.map(|n| n as u64);
            sigpipe(t, &f, &r, flags);
            return r;
        }
    }
    let iovs = Iovs(vec![Iovec { base: buf, len }]);
    let r = send_one(t, &f, &iovs, addr, Vec::new(), flags);
    sigpipe(t, &f, &r, flags);
    r
}

/// Reads a `msghdr` and its iovecs (EMSGSIZE above UIO_MAXIOV).
fn read_msghdr(t: &Task, addr: u64) -> Result<(Msghdr, Iovs), Errno> {
    let m: Msghdr = t.read_val(addr)?;
    if m.msg_iovlen > UIO_MAXIOV {
        return Err(Errno::EMSGSIZE);
    }
    let iovs = read_iovecs(t, m.msg_iov, m.msg_iovlen)?;
    for v in &iovs {
        access_ok(v.base, v.len)?;
    }
    Ok((m, Iovs(iovs)))
}

fn sendmsg_one(t: &Task, f: &File, addr: u64, flags: u32) -> SysResult {
    let (m, iovs) = read_msghdr(t, addr)?;
    let name = if m.msg_name != 0 && m.msg_namelen != 0 {
        Some(read_addr(t, m.msg_name, u64::from(m.msg_namelen))?)
    } else {
        if m.msg_namelen as i32 > SOCKADDR_STORAGE_SIZE as i32 || (m.msg_namelen as i32) < 0 {
            return Err(Errno::EINVAL);
        }
        None
    };
    let control = read_control(t, m.msg_control, m.msg_controllen)?;
    let r = send_one(t, f, &iovs, name, control, flags);
    sigpipe(t, f, &r, flags);
    r
}

/// Implements sendmsg(2).
pub fn sys_sendmsg(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    sendmsg_one(t, &f, t.arg(1), t.arg(2) as u32)
}

/// Implements sendmmsg(2): the messages sent before an error count; the error is reported only
/// when none was.
pub fn sys_sendmmsg(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let (vec, vlen, flags) = (
        t.arg(1),
        (t.arg(2) as u32).min(UIO_MAXIOV as u32),
        t.arg(3) as u32,
    );
    let size = std::mem::size_of::<Mmsghdr>() as u64;
    let mut sent = 0u32;
    while sent < vlen {
        let at = vec + u64::from(sent) * size;
        let flags_i = if sent + 1 < vlen {
            flags | MSG_BATCH
        } else {
            flags
        };
        match sendmsg_one(t, &f, at, flags_i & !MSG_BATCH) {
            Ok(n) => {
                if let Err(e) = t.write_val(at + 56, &(n as u32)) {
                    if sent == 0 {
                        return Err(e);
                    }
                    break;
                }
                sent += 1;
            }
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(u64::from(sent))
}

/// Receives one message into `iovs`: the byte count and what came with it.
fn recv_one(
    t: &Task,
    f: &File,
    iovs: &Iovs,
    flags: u32,
    nonblock: bool,
) -> Result<(usize, Received), Errno> {
    let s = sock(f)?;
    let nonblock = nonblock || flags & MSG_DONTWAIT != 0 || f.flags() & O_NONBLOCK != 0;
    let total = iovs.total() as usize;
    match s.max_message() {
        Some(max) => {
            let recv = |buf: &mut [u8]| -> Result<(usize, Received), Errno> {
                let r = s.recv(Some(t), buf, flags, nonblock)?;
                let n = if r.copied > 0 {
                    iovs.scatter(t, 0, &buf[..r.copied])?
                } else {
                    0
                };
                Ok((n, r))
            };
            let len = total.min(max.max(CHUNK));
            // Up to a chunk in this thread's reusable buffer (no allocation per message).
            if len <= CHUNK {
                with_buffer(len, recv)
            } else {
                recv(&mut vec![0u8; len])
            }
        }
        None => with_buffer(total.min(CHUNK), |buf| {
            let mut done = 0usize;
            let mut first: Option<Received> = None;
            loop {
                let want = (total - done).min(CHUNK);
                let buf = &mut buf[..want];
                // Later rounds of MSG_WAITALL wait as the first did.
                let r = match s.recv(Some(t), buf, flags, nonblock) {
                    Ok(r) => r,
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                };
                let n = if flags & MSG_TRUNC != 0 && r.copied == 0 {
                    r.len
                } else if r.copied > 0 {
                    match iovs.scatter(t, done as u64, &buf[..r.copied]) {
                        Ok(n) => n,
                        Err(e) if done == 0 => return Err(e),
                        Err(_) => break,
                    }
                } else {
                    0
                };
                done += n;
                let short = n < want;
                match &mut first {
                    None => first = Some(r),
                    Some(f0) => f0.control.extend(r.control),
                }
                if short || done >= total || flags & MSG_WAITALL == 0 || n == 0 {
                    break;
                }
            }
            Ok((done, first.unwrap_or_default()))
        }),
    }
}

/// Implements recvfrom(2).
pub fn sys_recvfrom(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let (buf, len, flags, addr, lenp) = (
        t.arg(1),
        t.arg(2).min(MAX_RW_COUNT),
        t.arg(3) as u32,
        t.arg(4),
        t.arg(5),
    );
    access_ok(buf, len)?;
    if addr == 0 && flags & !MSG_DONTWAIT == 0 {
        // A plain stream receive goes straight into the program's memory.
        let nonblock = flags & MSG_DONTWAIT != 0 || f.flags() & O_NONBLOCK != 0;
        let mut sink = net::UserSink {
            t,
            addr: buf,
            len: len as usize,
        };
        if let Some(r) = sock(&f)?.recv_stream_into(&mut sink, nonblock) {
            return r.map(|n| n as u64);
        }
    }
    let iovs = Iovs(vec![Iovec { base: buf, len }]);
    let (n, r) = recv_one(t, &f, &iovs, flags, false)?;
    if addr != 0 {
        // A negative length is EINVAL even when there is no address (the data is gone).
        write_addr(t, addr, lenp, r.addr.as_deref().unwrap_or(&[]))?;
    }
    Ok(if flags & MSG_TRUNC != 0 {
        r.len.max(n)
    } else {
        n
    } as u64)
}

/// Writes received control messages into msg_control as Linux's put_cmsg and scm_detach_fds:
/// what does not fit is cut (MSG_CTRUNC), and descriptors that do not fit are closed. Returns
/// the bytes used and the flags to add.
fn write_control(
    t: &Task,
    addr: u64,
    space: u64,
    control: Vec<CmsgOut>,
    flags: u32,
) -> Result<(u64, u32), Errno> {
    let hdr = std::mem::size_of::<Cmsghdr>();
    let mut out: Vec<u8> = Vec::new();
    let mut mflags = 0u32;
    let space = space.min(OPTMEM_MAX * 8) as usize;
    for c in control {
        let (level, ty, data) = match c {
            CmsgOut::Data(l, ty, d) => (l, ty, d),
            CmsgOut::Rights(files) => {
                let room = space.saturating_sub(out.len());
                if addr == 0 || room < cmsg_len(4) {
                    mflags |= MSG_CTRUNC;
                    continue;
                }
                let fit = (room - hdr) / 4;
                if fit < files.len() {
                    mflags |= MSG_CTRUNC;
                }
                let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
                let mut fds = Vec::new();
                for file in files.into_iter().take(fit) {
                    match super::sys_file::install(t, file, cloexec) {
                        Ok(fd) => fds.push(fd as i32),
                        Err(_) => {
                            mflags |= MSG_CTRUNC;
                            break;
                        }
                    }
                }
                if fds.is_empty() {
                    continue;
                }
                let d: Vec<u8> = fds.iter().flat_map(|fd| fd.to_ne_bytes()).collect();
                (SOL_SOCKET, SCM_RIGHTS, d)
            }
        };
        let room = space.saturating_sub(out.len());
        if addr == 0 || room < hdr {
            mflags |= MSG_CTRUNC;
            continue;
        }
        let full = cmsg_len(data.len());
        let len = full.min(room);
        if len < full {
            mflags |= MSG_CTRUNC;
        }
        let h = Cmsghdr {
            cmsg_len: len as u64,
            cmsg_level: level,
            cmsg_type: ty,
        };
        out.extend_from_slice(syscalls::bytes_of(&h));
        out.extend_from_slice(&data[..len - hdr]);
        let pad = cmsg_align(len).min(room) - len;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    if !out.is_empty() {
        t.copy_out(addr, &out)?;
    }
    Ok((out.len() as u64, mflags))
}

fn recvmsg_one(t: &Task, f: &File, addr: u64, flags: u32, nonblock: bool) -> SysResult {
    let (m, iovs) = read_msghdr(t, addr)?;
    if (m.msg_namelen as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MSG_ERRQUEUE != 0 {
        // Nothing the sandbox's sockets do queues errors (IP_RECVERR is accepted): the error
        // queue is always empty.
        return Err(Errno::EAGAIN);
    }
    let (n, r) = recv_one(t, f, &iovs, flags, nonblock)?;
    let mut namelen = 0u32;
    if m.msg_name != 0 {
        if let Some(a) = &r.addr {
            let k = (m.msg_namelen as usize).min(a.len());
            if k > 0 {
                t.copy_out(m.msg_name, &a[..k])?;
            }
            namelen = a.len() as u32;
        }
    }
    let (clen, cflags) = write_control(t, m.msg_control, m.msg_controllen, r.control, flags)?;
    // ___sys_recvmsg starts msg_flags with the caller's MSG_CMSG_CLOEXEC.
    let mflags = r.flags | cflags | (flags & MSG_CMSG_CLOEXEC);
    t.write_val(addr + 8, &namelen)?;
    t.write_val(addr + 40, &clen)?;
    t.write_val(addr + 48, &mflags)?;
    Ok(if flags & MSG_TRUNC != 0 {
        r.len.max(n)
    } else {
        n
    } as u64)
}

/// Implements recvmsg(2).
pub fn sys_recvmsg(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    recvmsg_one(t, &f, t.arg(1), t.arg(2) as u32, false)
}

/// Implements recvmmsg(2): MSG_WAITFORONE makes every message after the first non-blocking;
/// the timeout is checked after each message, as Linux does.
pub fn sys_recvmmsg(t: &mut Task) -> SysResult {
    let f = socket_file(t, fd_arg(t, 0))?;
    let (vec, vlen, flags, tsp) = (
        t.arg(1),
        (t.arg(2) as u32).min(UIO_MAXIOV as u32),
        t.arg(3) as u32,
        t.arg(4),
    );
    let deadline = if tsp != 0 {
        let ts: Timespec = t.read_val(tsp)?;
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        Some(
            std::time::Instant::now()
                + std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32),
        )
    } else {
        None
    };
    let size = std::mem::size_of::<Mmsghdr>() as u64;
    let mut got = 0u32;
    while got < vlen {
        let at = vec + u64::from(got) * size;
        let nonblock = got > 0 && flags & MSG_WAITFORONE != 0;
        match recvmsg_one(t, &f, at, flags & !MSG_WAITFORONE, nonblock) {
            Ok(n) => {
                if let Err(e) = t.write_val(at + 56, &(n as u32)) {
                    if got == 0 {
                        return Err(e);
                    }
                    break;
                }
                got += 1;
            }
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            break;
        }
    }
    if let (Some(d), true) = (deadline, tsp != 0) {
        let left = d.saturating_duration_since(std::time::Instant::now());
        let ts = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let _ = t.write_val(tsp, &ts);
    }
    Ok(u64::from(got))
}

/// Whether an EPIPE from writing to fd `fd` raises SIGPIPE: always for pipes and other files,
/// for a socket only where its protocol raises it (write(2) on a unix datagram socket does
/// not).
pub fn epipe_raises_sigpipe(t: &Task, fd: i32) -> bool {
    t.file(fd)
        .ok()
        .and_then(|f| f.ops.as_socket().map(|s| s.sigpipe_on_epipe()))
        .unwrap_or(true)
}

/// The socket ioctls every family shares (SIOCINQ, SIOCOUTQ, the interface queries); `None`
/// for requests that are not socket ioctls.
pub fn socket_ioctl(t: &Task, file: &File, req: u32, arg: u64) -> Option<SysResult> {
    let s = file.ops.as_socket()?;
    if let Some(r) = s.ioctl(t, req, arg) {
        return Some(r);
    }
    Some(match req {
        SIOCINQ => s
            .inq()
            .and_then(|n| t.write_val(arg, &(n as i32)).map(|_| 0)),
        SIOCOUTQ => s
            .outq()
            .and_then(|n| t.write_val(arg, &(n as i32)).map(|_| 0)),
        SIOCGIFCONF | SIOCGIFFLAGS | SIOCGIFADDR | SIOCGIFINDEX | SIOCGIFMTU | SIOCGIFHWADDR
        | SIOCGIFNAME | SIOCGIFNETMASK | SIOCGIFBRDADDR | SIOCGIFDSTADDR | SIOCGIFMETRIC
        | SIOCGIFTXQLEN | SIOCGIFMAP | SIOCGIFPFLAGS | SIOCGIFCOUNT | SIOCSIFFLAGS
        | SIOCSIFADDR | SIOCSIFMTU | SIOCSIFNAME | SIOCSIFNETMASK | SIOCSIFBRDADDR
        | SIOCSIFHWADDR | SIOCADDRT | SIOCDELRT | SIOCSIFMETRIC | SIOCSIFTXQLEN => {
            net::stack::ioctl(t, req, arg)
        }
        FIOSETOWN | SIOCSPGRP => t.read_val::<i32>(arg).and_then(|who| {
            if who == i32::MIN {
                return Err(Errno::EINVAL);
            }
            if who < 0 {
                super::sys_file::set_owner(t, file, F_OWNER_PGRP, -who)
            } else {
                super::sys_file::set_owner(t, file, F_OWNER_PID, who)
            }
        }),
        FIOGETOWN | SIOCGPGRP => {
            let o = *crate::kernel::lock(&file.fown);
            let v = if o.kind == F_OWNER_PGRP { -o.id } else { o.id };
            t.write_val(arg, &v).map(|_| 0)
        }
        SIOCGSTAMP | SIOCGSTAMPNS => Err(Errno::ENOENT),
        _ => return None,
    })
}
