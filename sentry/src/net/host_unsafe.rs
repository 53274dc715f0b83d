// SPDX-License-Identifier: Apache-2.0
//! The host socket calls the sentry makes for `--network host` and for the sandbox's flows to
//! the outside, on raw addresses in the kernel's own layout (the sandbox's `sockaddr_in` and
//! `sockaddr_in6` are the host's). nix's socket API wants typed addresses; these wrappers pass
//! the bytes the program gave (already checked by the caller) straight through.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use syscalls::Errno;

fn errno() -> Errno {
    Errno(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

fn check(r: libc::c_int) -> Result<libc::c_int, Errno> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// socket(2), always non-blocking and close-on-exec.
pub fn socket(domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: plain integers.
    let fd = check(unsafe {
        libc::socket(
            domain,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            protocol,
        )
    })?;
    // SAFETY: socket(2) returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// bind(2) with a raw address.
pub fn bind(fd: BorrowedFd<'_>, addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: `addr` is valid for reads of its length.
    check(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len() as u32) })
        .map(|_| ())
}

/// connect(2) with a raw address.
pub fn connect(fd: BorrowedFd<'_>, addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: `addr` is valid for reads of its length.
    check(unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len() as u32) })
        .map(|_| ())
}

/// listen(2).
pub fn listen(fd: BorrowedFd<'_>, backlog: i32) -> Result<(), Errno> {
    // SAFETY: plain integers.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(|_| ())
}

/// accept4(2), non-blocking and close-on-exec: the new descriptor and the peer's address.
pub fn accept(fd: BorrowedFd<'_>) -> Result<(OwnedFd, Vec<u8>), Errno> {
    let mut addr = [0u8; 128];
    let mut len = addr.len() as libc::socklen_t;
    // SAFETY: `addr` and `len` are valid for writes; the kernel writes at most `len` bytes.
    let nfd = check(unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            addr.as_mut_ptr().cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(nfd) };
    Ok((owned, addr[..(len as usize).min(addr.len())].to_vec()))
}

fn name(fd: BorrowedFd<'_>, peer: bool) -> Result<Vec<u8>, Errno> {
    let mut addr = [0u8; 128];
    let mut len = addr.len() as libc::socklen_t;
    // SAFETY: `addr` and `len` are valid for writes; the kernel writes at most `len` bytes.
    check(unsafe {
        if peer {
            libc::getpeername(fd.as_raw_fd(), addr.as_mut_ptr().cast(), &mut len)
        } else {
            libc::getsockname(fd.as_raw_fd(), addr.as_mut_ptr().cast(), &mut len)
        }
    })?;
    Ok(addr[..(len as usize).min(addr.len())].to_vec())
}

/// getsockname(2).
pub fn sockname(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    name(fd, false)
}

/// getpeername(2).
pub fn peername(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    name(fd, true)
}

/// setsockopt(2) with a raw value.
pub fn setsockopt(fd: BorrowedFd<'_>, level: i32, opt: i32, val: &[u8]) -> Result<(), Errno> {
    // SAFETY: `val` is valid for reads of its length.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            val.as_ptr().cast(),
            val.len() as u32,
        )
    })
    .map(|_| ())
}

/// getsockopt(2) into a buffer of `len` bytes (at most a page).
pub fn getsockopt(fd: BorrowedFd<'_>, level: i32, opt: i32, len: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; len.min(4096)];
    let mut l = buf.len() as libc::socklen_t;
    // SAFETY: `buf` and `l` are valid for writes; the kernel writes at most `l` bytes.
    check(unsafe {
        libc::getsockopt(fd.as_raw_fd(), level, opt, buf.as_mut_ptr().cast(), &mut l)
    })?;
    buf.truncate(l as usize);
    Ok(buf)
}

/// The `int` value of SO_ERROR (and clears it).
pub fn take_error(fd: BorrowedFd<'_>) -> Result<i32, Errno> {
    let v = getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, 4)?;
    Ok(v.get(..4)
        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0))
}

/// shutdown(2).
pub fn shutdown(fd: BorrowedFd<'_>, how: i32) -> Result<(), Errno> {
    // SAFETY: plain integers.
    check(unsafe { libc::shutdown(fd.as_raw_fd(), how) }).map(|_| ())
}

/// sendmsg(2) of one buffer with an optional raw address and raw control data; always
/// MSG_DONTWAIT and MSG_NOSIGNAL (the sentry blocks and raises SIGPIPE itself).
pub fn sendmsg(
    fd: BorrowedFd<'_>,
    data: &[u8],
    addr: Option<&[u8]>,
    control: &[u8],
    flags: i32,
) -> Result<usize, Errno> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is valid.
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = &mut iov;
    m.msg_iovlen = 1;
    if let Some(a) = addr {
        m.msg_name = a.as_ptr() as *mut libc::c_void;
        m.msg_namelen = a.len() as u32;
    }
    if !control.is_empty() {
        m.msg_control = control.as_ptr() as *mut libc::c_void;
        m.msg_controllen = control.len();
    }
    // SAFETY: every pointer in `m` is valid for the lengths it gives, for the call; the kernel
    // only reads through them.
    let n = unsafe {
        libc::sendmsg(
            fd.as_raw_fd(),
            &m,
            flags | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        return Err(errno());
    }
    Ok(n as usize)
}

/// What one host recvmsg gave.
pub struct HostReceived {
    /// Bytes copied.
    pub n: usize,
    /// The sender's address, raw.
    pub addr: Vec<u8>,
    /// Control data, raw.
    pub control: Vec<u8>,
    /// msg_flags.
    pub flags: i32,
}

/// recvmsg(2) into `buf`, always MSG_DONTWAIT, with room for `control_space` bytes of control
/// data.
pub fn recvmsg(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    flags: i32,
    control_space: usize,
) -> Result<HostReceived, Errno> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut addr = [0u8; 128];
    let mut control = vec![0u8; control_space.min(4096)];
    // SAFETY: an all-zero msghdr is valid.
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = &mut iov;
    m.msg_iovlen = 1;
    m.msg_name = addr.as_mut_ptr().cast();
    m.msg_namelen = addr.len() as u32;
    if !control.is_empty() {
        m.msg_control = control.as_mut_ptr().cast();
        m.msg_controllen = control.len();
    }
    // SAFETY: every pointer in `m` is valid for writes of the lengths it gives, for the call.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut m, flags | libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(errno());
    }
    control.truncate(m.msg_controllen.min(control.len()));
    Ok(HostReceived {
        n: n as usize,
        addr: addr[..(m.msg_namelen as usize).min(addr.len())].to_vec(),
        control,
        flags: m.msg_flags,
    })
}

/// An ioctl whose argument is an `int` out (FIONREAD, SIOCOUTQ, SIOCATMARK).
pub fn ioctl_int(fd: BorrowedFd<'_>, req: u32) -> Result<i32, Errno> {
    let mut v: libc::c_int = 0;
    // SAFETY: the callers pass only requests that write one int.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req as libc::c_ulong, &mut v) })?;
    Ok(v)
}

/// poll(2) of one descriptor without waiting: the events that hold now.
pub fn poll_now(fd: BorrowedFd<'_>, events: i16) -> u32 {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: `p` is valid for the call.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    if r <= 0 {
        0
    } else {
        p.revents as u16 as u32
    }
}
