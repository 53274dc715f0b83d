// SPDX-License-Identifier: Apache-2.0
//! tmpfs regular files: the bytes live in a host memfd, so a mapping of the file is the
//! memfd's, shared between every process that maps it.
//!
//! Seals (fcntl F_ADD_SEALS, as Linux's `mm/memfd.c`): every tmpfs file has a seal set, F_SEAL_SEAL
//! alone (nothing can be added) but for memfds made with MFD_ALLOW_SEALING or MFD_NOEXEC_SEAL.
//! The sentry checks them on write, truncate, fallocate, chmod and mmap with Linux's errnos, and
//! puts the write, grow and shrink seals on the host memfd too, so the host kernel enforces them
//! on the mappings in the application's stub process (a write seal over a writable shared mapping
//! is EBUSY there, and a read-only shared mapping made after a write seal cannot be made
//! writable: EACCES).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use syscalls::abi::*;
use syscalls::Errno;

use super::dir::DirFile;
use super::{Kind, Shared, TmpInode};
use crate::kernel::lock;
use crate::vfs::{FileOps, Inode};

fn errno(e: nix::Error) -> Errno {
    Errno(e as i32)
}

/// Largest file size (Linux's MAX_LFS_FILESIZE).
const MAX_FILE_SIZE: u64 = i64::MAX as u64;

/// A regular file's contents.
pub(crate) struct Data {
    pub(crate) fd: OwnedFd,
    /// Serialises size changes (so the storage charge matches the memfd's size), writes and
    /// changes of the seals.
    size_lock: Mutex<()>,
    /// The seals (F_SEAL_*).
    seals: AtomicU32,
}

/// Seals that forbid writing.
const WRITE_SEALS: u32 = F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;

impl Data {
    pub(crate) fn new() -> Result<Data, Errno> {
        let flags = MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING;
        let fd = memfd_create(c"tmpfs", flags).map_err(errno)?;
        Ok(Data {
            fd,
            size_lock: Mutex::new(()),
            seals: AtomicU32::new(F_SEAL_SEAL),
        })
    }

    /// The seals.
    pub(crate) fn seals(&self) -> u32 {
        self.seals.load(Ordering::Relaxed)
    }

    /// Sets the seals of a new memfd (memfd_create's MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL).
    pub(crate) fn init_seals(&self, seals: u32) {
        self.seals.store(seals, Ordering::Relaxed);
    }

    /// F_ADD_SEALS (the caller checked the file is open for writing and `add` has known bits
    /// only). `exec_mode`: whether the file has any execute bit (F_SEAL_EXEC then implies the
    /// write seals, as Linux's W^X rule).
    pub(crate) fn add_seals(&self, mut add: u32, exec_mode: bool) -> Result<(), Errno> {
        let _g = lock(&self.size_lock);
        let cur = self.seals();
        if cur & F_SEAL_SEAL != 0 {
            return Err(Errno::EPERM);
        }
        if add & F_SEAL_EXEC != 0 && exec_mode {
            add |= F_SEAL_SHRINK | F_SEAL_GROW | WRITE_SEALS;
        }
        // The host kernel refuses a write seal while a writable shared mapping of the memfd
        // exists (EBUSY), which is Linux's rule: the stub's mappings are the application's.
        let host = add & !cur & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE);
        if host != 0 {
            nix::fcntl::fcntl(
                self.fd.as_raw_fd(),
                nix::fcntl::FcntlArg::F_ADD_SEALS(nix::fcntl::SealFlag::from_bits_truncate(
                    host as i32,
                )),
            )
            .map_err(errno)?;
        }
        self.seals.store(cur | add, Ordering::Relaxed);
        Ok(())
    }

    fn size(&self) -> Result<u64, Errno> {
        nix::sys::stat::fstat(self.fd.as_raw_fd())
            .map(|s| s.st_size as u64)
            .map_err(errno)
    }

    pub(crate) fn size_blocks(&self) -> Result<(i64, i64), Errno> {
        let s = nix::sys::stat::fstat(self.fd.as_raw_fd()).map_err(errno)?;
        Ok((s.st_size, s.st_blocks))
    }

    pub(crate) fn truncate(&self, fs: &Shared, size: u64) -> Result<(), Errno> {
        if size > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let _g = lock(&self.size_lock);
        let old = self.size()?;
        let seals = self.seals();
        if (size < old && seals & F_SEAL_SHRINK != 0) || (size > old && seals & F_SEAL_GROW != 0) {
            return Err(Errno::EPERM);
        }
        fs.charge(old, size)?;
        if let Err(e) = nix::unistd::ftruncate(&self.fd, size as i64) {
            let _ = fs.charge(size, old);
            return Err(errno(e));
        }
        Ok(())
    }

    fn write(&self, fs: &Shared, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let end = offset.checked_add(buf.len() as u64).ok_or(Errno::EFBIG)?;
        if end > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let _g = lock(&self.size_lock);
        let old = self.size()?;
        let seals = self.seals();
        if seals & WRITE_SEALS != 0 || (seals & F_SEAL_GROW != 0 && end > old) {
            return Err(Errno::EPERM);
        }
        if end > old {
            fs.charge(old, end)?;
        }
        match nix::sys::uio::pwrite(&self.fd, buf, offset as i64) {
            Ok(n) => {
                let now = offset + n as u64;
                if end > old && now < end {
                    let _ = fs.charge(end, now.max(old));
                }
                Ok(n)
            }
            Err(e) => {
                if end > old {
                    let _ = fs.charge(end, old);
                }
                Err(errno(e))
            }
        }
    }
}

impl Drop for TmpInode {
    fn drop(&mut self) {
        if let (Kind::File(d), Some(fs)) = (&self.kind, self.fs.upgrade()) {
            if let Ok(size) = d.size() {
                let _ = fs.charge(size, 0);
            }
        }
    }
}

/// An open tmpfs regular file.
struct RegFile {
    node: Arc<TmpInode>,
}

impl RegFile {
    fn data(&self) -> &Data {
        match &self.node.kind {
            Kind::File(d) => d,
            // `open_file` makes a RegFile only of a regular file.
            _ => unreachable!("a RegFile is always of a regular file"),
        }
    }
}

impl FileOps for RegFile {
    fn seek_hole(&self, offset: u64, whence: u32) -> Option<Result<u64, Errno>> {
        let fd = self.data().fd.as_fd();
        Some(crate::fsimpl::host::host_seek_hole(fd, offset, whence))
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        if offset > MAX_FILE_SIZE {
            return Ok(0);
        }
        nix::sys::uio::pread(&self.data().fd, buf, offset as i64).map_err(errno)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let fs = self.node.shared()?;
        let n = self.data().write(&fs, buf, offset)?;
        self.node.touch(true, true);
        Ok(n)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        self.node.stat()
    }

    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.data().fd.as_fd())
    }

    fn direct_fd(&self, write: bool) -> Option<BorrowedFd<'_>> {
        // Reads only: writes keep the size accounting (size=, ENOSPC) and seals in the sentry.
        (!write).then(|| self.data().fd.as_fd())
    }

    fn seals(&self) -> Result<u32, Errno> {
        Ok(self.data().seals())
    }

    fn add_seals(&self, seals: u32) -> Result<(), Errno> {
        let exec_mode = lock(&self.node.meta).mode & 0o111 != 0;
        self.data().add_seals(seals, exec_mode)
    }

    fn check_mmap(&self, shared: bool, prot: u32) -> Result<(), Errno> {
        if shared && prot & PROT_WRITE != 0 && self.data().seals() & WRITE_SEALS != 0 {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    fn allocate(&self, mode: u32, offset: u64, len: u64) -> Result<(), Errno> {
        use nix::fcntl::FallocateFlags;
        let fs = self.node.shared()?;
        let d = self.data();
        let _g = lock(&d.size_lock);
        let old = d.size()?;
        let end = offset.checked_add(len).ok_or(Errno::EFBIG)?;
        let seals = d.seals();
        if mode & FALLOC_FL_PUNCH_HOLE != 0 {
            if seals & WRITE_SEALS != 0 {
                return Err(Errno::EPERM);
            }
        } else if seals & F_SEAL_GROW != 0 && end > old {
            return Err(Errno::EPERM);
        }
        let grows = mode & FALLOC_FL_KEEP_SIZE == 0 && end > old;
        if grows {
            fs.charge(old, end)?;
        }
        let flags = FallocateFlags::from_bits(mode as i32).ok_or(Errno::EOPNOTSUPP)?;
        let r = nix::fcntl::fallocate(d.fd.as_raw_fd(), flags, offset as i64, len as i64);
        if let Err(e) = r {
            if grows {
                let _ = fs.charge(end, old);
            }
            return Err(errno(e));
        }
        self.node.touch(true, true);
        Ok(())
    }
}

impl TmpInode {
    pub(crate) fn open_file(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let node = self.this.upgrade().ok_or(Errno::ESTALE)?;
        match &self.kind {
            Kind::File(_) => Ok(Box::new(RegFile { node })),
            Kind::Dir(_) => Ok(Box::new(DirFile { node })),
            Kind::Symlink(_) => Err(Errno::ELOOP),
            Kind::Special => {
                let m = lock(&self.meta);
                match m.mode & S_IFMT {
                    S_IFCHR => crate::fsimpl::dev::open_device(m.rdev, flags),
                    S_IFBLK => crate::fsimpl::loopdev::open_block(m.rdev, flags),
                    // FIFOs are opened by the VFS as pipes (`pipe::open_fifo`), never here.
                    // Linux: ENXIO opening a socket file.
                    _ => Err(Errno::ENXIO),
                }
            }
        }
    }
}
