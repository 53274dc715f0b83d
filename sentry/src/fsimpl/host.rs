// SPDX-License-Identifier: Apache-2.0
//! Host descriptors as files: [`HostFile`] (a descriptor the gofer donated: reads, writes and
//! mappings go straight to it) and [`HostStream`] (the host's stdio). Nothing here opens a host
//! path: host files are reached only through the gofer ([`super::gofer`]).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use nix::sys::stat::FileStat;
use syscalls::abi::*;
use syscalls::Errno;

use super::host_unsafe;
use crate::vfs::FileOps;

fn errno(e: nix::Error) -> Errno {
    Errno(e as i32)
}

/// Converts a host stat (its owner as the sandbox shows it: [`crate::host::ids_from_host`]).
pub fn stat_from_host(s: &FileStat) -> Stat {
    let (uid, gid) = crate::host::ids_from_host(s.st_uid, s.st_gid);
    Stat {
        st_dev: s.st_dev,
        st_ino: s.st_ino,
        st_nlink: s.st_nlink,
        st_mode: s.st_mode,
        st_uid: uid,
        st_gid: gid,
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

/// An open host file (regular file or directory), on a descriptor the gofer donated. Every
/// access is positional (the description's offset is the sentry's), so read-only opens of one
/// unchanging file may share a descriptor ([`HostFile::shared`]).
pub struct HostFile {
    fd: Arc<OwnedFd>,
}

impl HostFile {
    /// Wraps a donated descriptor.
    pub fn new(fd: OwnedFd) -> HostFile {
        HostFile { fd: Arc::new(fd) }
    }

    /// Wraps a donated descriptor other files may use too.
    pub fn shared(fd: Arc<OwnedFd>) -> HostFile {
        HostFile { fd }
    }
}

impl FileOps for HostFile {
    fn seek_hole(&self, offset: u64, whence: u32) -> Option<Result<u64, Errno>> {
        Some(host_seek_hole(self.fd.as_fd(), offset, whence))
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
        loop {
            match nix::sys::uio::pread(&self.fd, buf, off) {
                Err(nix::Error::EINTR) => continue,
                r => return r.map_err(errno),
            }
        }
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let off = i64::try_from(offset).map_err(|_| Errno::EFBIG)?;
        loop {
            match nix::sys::uio::pwrite(&self.fd, buf, off) {
                Err(nix::Error::EINTR) => continue,
                r => return r.map_err(errno),
            }
        }
    }

    fn sync(&self) -> Result<(), Errno> {
        nix::unistd::fsync(self.fd.as_raw_fd()).map_err(errno)
    }

    fn allocate(&self, mode: u32, offset: u64, len: u64) -> Result<(), Errno> {
        let flags = nix::fcntl::FallocateFlags::from_bits(mode as i32).ok_or(Errno::EOPNOTSUPP)?;
        nix::fcntl::fallocate(self.fd.as_raw_fd(), flags, offset as i64, len as i64).map_err(errno)
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

    fn direct_fd(&self, _write: bool) -> Option<BorrowedFd<'_>> {
        Some(self.fd.as_fd())
    }
}

/// The window size of the host terminal `fd` (for the loader's terminal bridge).
pub fn host_winsize(fd: BorrowedFd<'_>) -> Option<Winsize> {
    let mut ws = [0u8; std::mem::size_of::<Winsize>()];
    host_unsafe::ioctl(fd, TIOCGWINSZ, &mut ws).ok()?;
    Some(bytemuck::pod_read_unaligned(&ws))
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

    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        // Wait for input in slices, so that a signal to the reading task ends the wait
        // (ERESTARTSYS) as it ends every other blocking wait in the sentry.
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        loop {
            if !nonblock {
                let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, PollTimeout::from(50u16)) {
                    Ok(0) | Err(nix::Error::EINTR) => {
                        if crate::kernel::block::current().is_some_and(|t| t.signal_pending()) {
                            return Err(Errno::ERESTARTSYS);
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            match nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&self.fd), buf) {
                Err(nix::Error::EINTR) => continue,
                // The host descriptor may be non-blocking while the application's is not.
                Err(nix::Error::EAGAIN) if !nonblock => continue,
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

    /// A host terminal passed as stdio (`--no-tty`) shows as what it is, the host's
    /// /dev/pts/N, which is not the sandbox's (as a host pty inherited by a runc container:
    /// `tty` finds no name there). Its device number must then never be a sandbox devpts's,
    /// or glibc's ttyname would take the sandbox's /dev/pts/N for it.
    fn stat(&self) -> Result<Stat, Errno> {
        let mut st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&self.fd))
            .map(|s| stat_from_host(&s))
            .map_err(errno)?;
        if st.st_mode & S_IFMT == S_IFCHR && super::tty::devpts::is_instance_dev(st.st_dev) {
            st.st_dev |= 1 << 40;
        }
        Ok(st)
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

/// SEEK_DATA or SEEK_HOLE on a host descriptor the sentry reads positionally (its own offset
/// is unused): the host's answer for its holes.
pub(crate) fn host_seek_hole(fd: BorrowedFd<'_>, offset: u64, whence: u32) -> Result<u64, Errno> {
    let w = match whence {
        SEEK_DATA => nix::unistd::Whence::SeekData,
        _ => nix::unistd::Whence::SeekHole,
    };
    let off = i64::try_from(offset).map_err(|_| Errno::ENXIO)?;
    nix::unistd::lseek(fd.as_raw_fd(), off, w)
        .map(|n| n as u64)
        .map_err(|e| Errno(e as i32))
}
