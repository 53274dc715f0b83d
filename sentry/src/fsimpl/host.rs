// SPDX-License-Identifier: Apache-2.0
//! A read-only view of a host directory tree.
//!
//! This is the foundation's stand-in for the gofer: it opens host files itself, but only behind
//! the [`Filesystem`] trait, so the gofer client replaces it without touching any caller. Every
//! open is `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` beneath the
//! view's root (symlinks are followed by the sentry's own path walk, never by the host).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use nix::sys::stat::FileStat;
use syscalls::abi::*;
use syscalls::Errno;

use super::host_unsafe;
use crate::vfs::{FileOps, Filesystem, Inode};

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
    root: Arc<HostInode>,
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
            root: Arc::new(HostInode {
                fd: host_unsafe::own_fd(fd),
                parent: None,
                name: Vec::new(),
            }),
        })
    }
}

impl Filesystem for HostFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    fn name(&self) -> &'static str {
        "hostfs"
    }

    fn read_only(&self) -> bool {
        true
    }

    fn statfs(&self) -> Result<Statfs, Errno> {
        let s = nix::sys::statfs::fstatfs(&self.root.fd).map_err(errno)?;
        Ok(Statfs {
            f_type: s.filesystem_type().0,
            f_bsize: s.block_size(),
            f_blocks: s.blocks(),
            f_bfree: s.blocks_free(),
            f_bavail: s.blocks_available(),
            f_files: s.files(),
            f_ffree: s.files_free(),
            f_namelen: s.maximum_name_length(),
            f_frsize: s.block_size(),
            f_flags: ST_RDONLY,
            ..Default::default()
        })
    }
}

/// A host file, held by an O_PATH descriptor opened without following symlinks; opened for
/// I/O again from its parent by name, beneath it, checked to be the same file.
pub struct HostInode {
    fd: OwnedFd,
    parent: Option<Arc<HostInode>>,
    name: Vec<u8>,
}

fn same_file(a: &Stat, b: &Stat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

impl Inode for HostInode {
    fn stat(&self) -> Result<Stat, Errno> {
        nix::sys::stat::fstat(self.fd.as_raw_fd())
            .map(|s| stat_from_host(&s))
            .map_err(errno)
    }

    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let write = matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR) || flags & O_TRUNC != 0;
        if write && flags & O_PATH == 0 {
            return Err(Errno::EROFS);
        }
        let mut host = libc::O_NOFOLLOW | libc::O_NONBLOCK;
        if flags & O_DIRECTORY != 0 {
            host |= libc::O_DIRECTORY;
        }
        let fd = match &self.parent {
            Some(p) => host_unsafe::open_beneath(p.fd.as_fd(), &self.name, host)?,
            None => host_unsafe::open_beneath(self.fd.as_fd(), b".", host)?,
        };
        let file = HostFile { fd };
        if !same_file(&file.stat()?, &self.stat()?) {
            return Err(Errno::ESTALE);
        }
        Ok(Box::new(file))
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        let fd = host_unsafe::open_beneath(self.fd.as_fd(), name, libc::O_PATH | libc::O_NOFOLLOW)?;
        Ok(Arc::new(HostInode {
            fd,
            parent: self.parent_of_child(),
            name: name.to_vec(),
        }))
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        host_unsafe::readlink_fd(self.fd.as_fd())
    }

    fn getxattr(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        if self.stat()?.st_mode & S_IFMT == S_IFLNK {
            return Err(Errno::ENODATA);
        }
        let f = self.open(O_RDONLY)?;
        let fd = f.host_fd().ok_or(Errno::ENODATA)?;
        host_unsafe::fgetxattr(fd, name)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl HostInode {
    /// The parent to record in a child: this directory itself. The `Arc` is rebuilt from the
    /// descriptor (children only need it to reopen themselves by name).
    fn parent_of_child(&self) -> Option<Arc<HostInode>> {
        let fd = self.fd.try_clone().ok()?;
        Some(Arc::new(HostInode {
            fd,
            parent: None,
            name: Vec::new(),
        }))
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

    fn poll_events(&self) -> u32 {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(
            self.fd.as_fd(),
            PollFlags::POLLIN | PollFlags::POLLOUT,
        )];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(_) => fds[0].revents().map(|r| r.bits() as u32).unwrap_or(0),
            Err(_) => POLLERR,
        }
    }

    fn polls_host(&self) -> bool {
        true
    }
}
