// SPDX-License-Identifier: Apache-2.0
//! Reopening an open file that has no inode of its own (a pipe, a socket, the host's stdio)
//! through its /proc/[pid]/fd link: the new description shares the original's object, as a
//! reopened pipe shares its pipe on Linux.

use std::any::Any;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use syscalls::abi::Stat;
use syscalls::Errno;

use super::{File, FileOps, Inode};

/// An open file standing in as the inode a magic link leads to.
pub struct FileInode(pub Arc<File>);

impl Inode for FileInode {
    fn stat(&self) -> Result<Stat, Errno> {
        self.0.stat()
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        Ok(Box::new(Shared(self.0.clone())))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A new description of the same object: every operation goes to the original's.
struct Shared(Arc<File>);

impl FileOps for Shared {
    fn is_stream(&self) -> bool {
        self.0.ops.is_stream()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        self.0.ops.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        self.0.ops.write_at(buf, offset)
    }
    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        self.0.ops.read_stream(buf, nonblock)
    }
    fn write_stream(&self, buf: &[u8], nonblock: bool) -> Result<usize, Errno> {
        self.0.ops.write_stream(buf, nonblock)
    }
    fn host_seek(&self, offset: i64, whence: u32) -> Option<Result<u64, Errno>> {
        self.0.ops.host_seek(offset, whence)
    }
    fn seek_hole(&self, offset: u64, whence: u32) -> Option<Result<u64, Errno>> {
        self.0.ops.seek_hole(offset, whence)
    }
    fn fiemap(
        &self,
        start: u64,
        len: u64,
        xattr: bool,
    ) -> Option<Result<Vec<crate::vfs::Fiemap>, Errno>> {
        self.0.ops.fiemap(start, len, xattr)
    }
    fn stat(&self) -> Result<Stat, Errno> {
        self.0.stat()
    }
    fn getdents(&self, buf: &mut [u8], pos: &mut u64) -> Result<usize, Errno> {
        self.0.ops.getdents(buf, pos)
    }
    fn ioctl(&self, req: u32, data: &mut [u8]) -> Result<u64, Errno> {
        self.0.ops.ioctl(req, data)
    }
    fn readable_bytes(&self) -> Result<usize, Errno> {
        self.0.ops.readable_bytes()
    }
    fn maps_as_anonymous(&self) -> bool {
        self.0.ops.maps_as_anonymous()
    }
    fn poll_events(&self) -> u32 {
        self.0.ops.poll_events()
    }
    fn poll_queue(&self) -> Option<&crate::kernel::block::WaitQueue> {
        self.0.ops.poll_queue()
    }
    fn pipe_size(&self, set: Option<usize>) -> Result<usize, Errno> {
        self.0.ops.pipe_size(set)
    }
    fn polls_host(&self) -> bool {
        self.0.ops.polls_host()
    }
    fn direct_fd(&self, write: bool) -> Option<BorrowedFd<'_>> {
        self.0.ops.direct_fd(write)
    }
    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        self.0.ops.host_fd()
    }
    fn sync(&self) -> Result<(), Errno> {
        self.0.ops.sync()
    }
    fn as_pipe(&self) -> Option<&crate::fsimpl::pipe::PipeFile> {
        self.0.ops.as_pipe()
    }
    fn as_tty(&self) -> Option<&crate::fsimpl::tty::TtyFile> {
        self.0.ops.as_tty()
    }
    fn signalfd_mask(&self) -> Option<&std::sync::Mutex<u64>> {
        self.0.ops.signalfd_mask()
    }
    fn set_async(&self, file: &Arc<File>, fd: i32, on: bool) {
        self.0.ops.set_async(file, fd, on)
    }
    fn seals(&self) -> Result<u32, Errno> {
        self.0.ops.seals()
    }
    fn add_seals(&self, seals: u32) -> Result<(), Errno> {
        self.0.ops.add_seals(seals)
    }
    fn check_mmap(&self, shared: bool, prot: u32) -> Result<(), Errno> {
        self.0.ops.check_mmap(shared, prot)
    }
    fn allocate(&self, mode: u32, offset: u64, len: u64) -> Result<(), Errno> {
        self.0.ops.allocate(mode, offset, len)
    }
}

/// Where the /proc/[pid]/fd link of `file` leads: the file's own inode and mount when it has
/// them, else the open file itself.
pub fn fd_target(file: &Arc<File>) -> super::inode::MagicTarget {
    match (&file.inode, &file.mount) {
        (Some(i), Some(m)) => super::inode::MagicTarget {
            inode: i.clone(),
            mount: Some(m.clone()),
            path: file.path.clone(),
        },
        _ => super::inode::MagicTarget {
            inode: Arc::new(FileInode(file.clone())),
            mount: None,
            path: file.path.clone(),
        },
    }
}
