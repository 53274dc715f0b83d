// SPDX-License-Identifier: Apache-2.0
//! A read-only view of a host directory tree.
//!
//! This is the foundation's stand-in for the gofer: it opens host files itself, but only behind
//! the [`Filesystem`] trait, so the gofer client replaces it without touching any caller. Every
//! open is `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` beneath the
//! view's root (symlinks are followed by the sentry's own path walk, never by the host).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::AtFlags;
use nix::sys::stat::FileStat;
use syscalls::abi::*;
use syscalls::Errno;

use super::host_unsafe;
use crate::vfs::{FileOps, Filesystem};

fn errno(e: nix::Error) -> Errno {
    Errno(e as i32)
}

/// Converts a host stat.
pub fn stat_from_host(s: &FileStat) -> Stat {
    Stat {
        st_dev: s.st_dev,
        st_ino: s.st_ino,
        st_nlink: s.st_nlink,
        st_mode: s.st_mode,
        st_uid: s.st_uid,
        st_gid: s.st_gid,
        __pad0: 0,
        st_rdev: s.st_rdev,
        st_size: s.st_size,
        st_blksize: s.st_blksize,
        st_blocks: s.st_blocks,
        st_atime: s.st_atime,
        st_atime_nsec: s.st_atime_nsec,
        st_mtime: s.st_mtime,
        st_mtime_nsec: s.st_mtime_nsec,
        st_ctime: s.st_ctime,
        st_ctime_nsec: s.st_ctime_nsec,
        __unused: [0; 3],
    }
}

/// The host tree under `root`, read-only.
pub struct HostFs {
    root: OwnedFd,
}

impl HostFs {
    /// A read-only view of the host directory `root`.
    pub fn new(root: &str) -> Result<HostFs, Errno> {
        let fd = nix::fcntl::open(
            root,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(errno)?;
        Ok(HostFs {
            root: host_unsafe::own_fd(fd),
        })
    }

    fn rel<'a>(rel: &'a str) -> &'a str {
        if rel.is_empty() {
            "."
        } else {
            rel
        }
    }
}

impl Filesystem for HostFs {
    fn lstat(&self, rel: &str) -> Result<Stat, Errno> {
        let st = nix::sys::stat::fstatat(
            Some(std::os::fd::AsRawFd::as_raw_fd(&self.root)),
            Self::rel(rel),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(errno)?;
        Ok(stat_from_host(&st))
    }

    fn readlink(&self, rel: &str) -> Result<Vec<u8>, Errno> {
        let target = nix::fcntl::readlinkat(
            Some(std::os::fd::AsRawFd::as_raw_fd(&self.root)),
            Self::rel(rel),
        )
        .map_err(errno)?;
        Ok(std::os::unix::ffi::OsStringExt::into_vec(target))
    }

    fn open(&self, rel: &str, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let write = matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR) || flags & O_TRUNC != 0;
        if write && flags & O_PATH == 0 {
            return Err(Errno::EROFS);
        }
        let mut host = libc::O_NOFOLLOW | libc::O_NONBLOCK;
        if flags & O_PATH != 0 {
            host |= libc::O_PATH;
        }
        if flags & O_DIRECTORY != 0 {
            host |= libc::O_DIRECTORY;
        }
        let fd = host_unsafe::open_beneath(self.root.as_fd(), rel, host)?;
        Ok(Box::new(HostFile { fd }))
    }

    fn read_only(&self) -> bool {
        true
    }

    fn getxattr(&self, rel: &str, name: &[u8], _follow: bool) -> Result<Vec<u8>, Errno> {
        let fd =
            host_unsafe::open_beneath(self.root.as_fd(), rel, libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .map_err(|e| if e == Errno::ELOOP { Errno::ENODATA } else { e })?;
        host_unsafe::fgetxattr(fd.as_fd(), name)
    }
}

/// An open host file (regular file or directory).
pub struct HostFile {
    fd: OwnedFd,
}

impl FileOps for HostFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        nix::sys::uio::pread(&self.fd, buf, offset as i64).map_err(errno)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&self.fd))
            .map(|s| stat_from_host(&s))
            .map_err(errno)
    }

    fn getdents(&self, buf: &mut [u8], pos: &mut u64) -> Result<usize, Errno> {
        use nix::unistd::{lseek, Whence};
        let raw = std::os::fd::AsRawFd::as_raw_fd(&self.fd);
        lseek(raw, *pos as i64, Whence::SeekSet).map_err(errno)?;
        let n = host_unsafe::getdents64(self.fd.as_fd(), buf)?;
        *pos = lseek(raw, 0, Whence::SeekCur).map_err(errno)? as u64;
        Ok(n)
    }

    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.fd.as_fd())
    }
}

/// A host descriptor passed through as a stream (the sandbox's stdin, stdout and stderr): reads,
/// writes, seeks and terminal ioctls go to the host descriptor itself.
pub struct HostStream {
    fd: OwnedFd,
}

impl HostStream {
    /// Wraps a host descriptor.
    pub fn new(fd: OwnedFd) -> HostStream {
        HostStream { fd }
    }
}

impl FileOps for HostStream {
    fn is_stream(&self) -> bool {
        true
    }

    fn read_stream(&self, buf: &mut [u8], _nonblock: bool) -> Result<usize, Errno> {
        loop {
            match nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&self.fd), buf) {
                Err(nix::Error::EINTR) => continue,
                r => return r.map_err(errno),
            }
        }
    }

    fn write_stream(&self, buf: &[u8], _nonblock: bool) -> Result<usize, Errno> {
        loop {
            match nix::unistd::write(&self.fd, buf) {
                Err(nix::Error::EINTR) => continue,
                r => return r.map_err(errno),
            }
        }
    }

    fn host_seek(&self, offset: i64, whence: u32) -> Option<Result<u64, Errno>> {
        let whence = match whence {
            SEEK_SET => nix::unistd::Whence::SeekSet,
            SEEK_CUR => nix::unistd::Whence::SeekCur,
            SEEK_END => nix::unistd::Whence::SeekEnd,
            _ => return Some(Err(Errno::EINVAL)),
        };
        Some(
            nix::unistd::lseek(std::os::fd::AsRawFd::as_raw_fd(&self.fd), offset, whence)
                .map(|o| o as u64)
                .map_err(errno),
        )
    }

    fn stat(&self) -> Result<Stat, Errno> {
        nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&self.fd))
            .map(|s| stat_from_host(&s))
            .map_err(errno)
    }

    fn ioctl(&self, req: u32, data: &mut [u8]) -> Result<u64, Errno> {
        match req {
            TCGETS | TIOCGWINSZ | TCSETS | TCSETSW | TCSETSF | TIOCSWINSZ | FIONREAD => {
                host_unsafe::ioctl(self.fd.as_fd(), req, data)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn readable_bytes(&self) -> Result<usize, Errno> {
        let mut n = [0u8; 4];
        host_unsafe::ioctl(self.fd.as_fd(), FIONREAD, &mut n)?;
        Ok(i32::from_le_bytes(n).max(0) as usize)
    }
}
