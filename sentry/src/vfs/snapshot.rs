// SPDX-License-Identifier: Apache-2.0
//! Private mappings of files that have no host descriptor (ext2/3/4 and vfat images the sentry
//! serves itself): the platform maps only host descriptors, so such a file is copied into a
//! host memfd at its first private mapping through an open file, and the mapping is the
//! memfd's, copy-on-write as any MAP_PRIVATE mapping. That is what running a program stored on
//! a disk image needs (the loader maps its segments privately).
//!
//! The copy is taken once per open file description: a later change of the file is not seen by
//! pages of a new private mapping through the same descriptor (Linux leaves this unspecified
//! for pages already copied, and shows later writes in pages not yet touched). Shared mappings
//! are refused (ENODEV): they would need the file's pages to live in the memfd, coherent with
//! read(2) and write(2) and written back. The copy counts against the sandbox's memory budget
//! while the open file lives.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use syscalls::Errno;

/// The bytes copied per read of the source file.
const CHUNK: usize = 1 << 20;

/// A private-mapping copy of one open file, made at its first mapping.
#[derive(Default)]
pub struct Snapshot {
    copy: OnceLock<(OwnedFd, u64)>,
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let Some((_, charged)) = self.copy.get() {
            crate::limits::memory().release(*charged);
        }
    }
}

/// `FileOps::check_mmap` of a file mapped through a snapshot: private mappings only (a shared
/// one would need the file's pages kept coherent in a host memfd).
pub fn check_mmap(shared: bool) -> Result<(), Errno> {
    if shared {
        return Err(Errno::ENODEV);
    }
    Ok(())
}

impl Snapshot {
    /// `FileOps::host_fd` of `file`, a regular file with no host descriptor: its copy.
    pub fn host_fd(&self, file: &dyn crate::vfs::FileOps) -> Option<BorrowedFd<'_>> {
        let st = file.stat().ok()?;
        if st.st_mode & syscalls::abi::S_IFMT != syscalls::abi::S_IFREG {
            return None;
        }
        let size = u64::try_from(st.st_size).ok()?;
        self.fd(size, |b, o| file.read_at(b, o))
            .map_err(|e| tracing::debug!("a private mapping's copy: {e}"))
            .ok()
    }

    /// The memfd holding the file's `size` bytes as `read_at` gives them (made at the first
    /// call; ENOMEM past the memory budget).
    pub fn fd(
        &self,
        size: u64,
        read_at: impl Fn(&mut [u8], u64) -> Result<usize, Errno>,
    ) -> Result<BorrowedFd<'_>, Errno> {
        if let Some((fd, _)) = self.copy.get() {
            return Ok(fd.as_fd());
        }
        crate::limits::memory().charge(size, Errno::ENOMEM)?;
        let made = (|| {
            let fd = memfd_create(c"mapped-copy", MemFdCreateFlag::MFD_CLOEXEC)
                .map_err(|e| Errno(e as i32))?;
            nix::unistd::ftruncate(&fd, size as i64).map_err(|e| Errno(e as i32))?;
            let mut buf = vec![0u8; CHUNK.min(size as usize).max(1)];
            let mut at = 0u64;
            while at < size {
                let want = buf.len().min((size - at) as usize);
                let got = read_at(&mut buf[..want], at)?;
                if got == 0 {
                    break;
                }
                let mut done = 0;
                while done < got {
                    done += nix::sys::uio::pwrite(&fd, &buf[done..got], (at + done as u64) as i64)
                        .map_err(|e| Errno(e as i32))?;
                }
                at += got as u64;
            }
            Ok(fd)
        })();
        match made {
            Ok(fd) => {
                if let Err((fd, _)) = self.copy.set((fd, size)) {
                    // Another thread made it first: keep theirs.
                    drop(fd);
                    crate::limits::memory().release(size);
                }
                self.copy
                    .get()
                    .map(|(fd, _)| fd.as_fd())
                    .ok_or(Errno::ENOMEM)
            }
            Err(e) => {
                crate::limits::memory().release(size);
                Err(e)
            }
        }
    }
}
