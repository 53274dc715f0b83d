// SPDX-License-Identifier: Apache-2.0
//! Host calls of the host file system that nix does not wrap.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use syscalls::Errno;

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn errno() -> Errno {
    Errno(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// openat2(2) beneath `dir`, following no symlink at all and no magic link.
pub fn open_beneath(dir: BorrowedFd<'_>, rel: &[u8], flags: i32) -> Result<OwnedFd, Errno> {
    let rel: &[u8] = if rel.is_empty() { b"." } else { rel };
    let path = std::ffi::CString::new(rel).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `path` is a valid NUL-terminated string and `how` a valid open_how of the size
    // passed; both outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: the kernel just returned this new descriptor, owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// readlinkat(2) of an O_PATH descriptor of a symlink itself (empty path).
pub fn readlink_fd(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: the path is a NUL-terminated empty string and `buf` is valid for writes of its
    // length.
    let n = unsafe {
        libc::readlinkat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(errno());
    }
    buf.truncate(n as usize);
    Ok(buf)
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

/// fgetxattr(2) on a host descriptor opened for reading.
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &[u8]) -> Result<Vec<u8>, Errno> {
    let name = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    let mut buf = vec![0u8; 65536];
    // SAFETY: `name` is NUL-terminated and `buf` is valid for writes of its length.
    let n = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(errno());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// Takes ownership of a descriptor a nix call returned as a raw number.
pub fn own_fd(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: the callers pass a descriptor the host just returned to them and nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
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
