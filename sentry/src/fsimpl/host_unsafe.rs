// SPDX-License-Identifier: Apache-2.0
//! Host calls on donated descriptors and the host's stdio that nix does not wrap.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};

use syscalls::Errno;

fn errno() -> Errno {
    Errno(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// getdents64(2) on a host directory.
pub fn getdents64(dir: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is valid for writes of its length for the duration of the call.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            dir.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(errno());
    }
    Ok(n as usize)
}

/// An ioctl on a host terminal whose argument is `data` (TCGETS, TIOCGWINSZ, ...).
pub fn ioctl(fd: BorrowedFd<'_>, req: u32, data: &mut [u8]) -> Result<u64, Errno> {
    // SAFETY: the callers pass only requests whose argument is a buffer of `data`'s size.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as libc::c_ulong, data.as_mut_ptr()) };
    if r < 0 {
        return Err(errno());
    }
    Ok(r as u64)
}

/// getrandom(2) from the host.
pub fn getrandom(buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(errno());
    }
    Ok(n as usize)
}
