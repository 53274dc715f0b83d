// SPDX-License-Identifier: Apache-2.0
//! The virtual file system: open file descriptions ([`File`]), their operations ([`FileOps`]),
//! fd tables ([`FdTable`]), file systems ([`Filesystem`]) and path resolution ([`path`]).
//!
//! Ownership: an fd table holds `Arc<File>`s; a `File` (one open file description, shared by
//! dup and fork) owns its `FileOps` object, which owns whatever host resource backs it. Memory
//! mappings hold the `Arc<File>` they map.

pub mod acl;
pub mod attr_flags;
pub mod fanotify;
pub mod fasync;
pub mod inode;
pub mod lock;
pub mod mount;
pub mod notify;
pub mod path;
pub mod reopen;
pub mod snapshot;
pub mod writecount;

use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use syscalls::abi::*;
use syscalls::Errno;

pub use self::inode::{downcast, dtype_of, now, Filesystem, Inode, Owner, SetAttr, TimeSpec};
pub use self::mount::Mount;

/// Reads bytes `at..at + dst.len()` of what a send carries into `dst` (EFAULT when the
/// sender's memory there cannot be read).
pub type Fill<'a> = &'a mut dyn FnMut(usize, &mut [u8]) -> Result<(), Errno>;

/// Where a receive puts the bytes it takes: a sentry buffer, or the receiver's memory.
pub trait Sink {
    /// How many bytes it holds.
    fn capacity(&self) -> usize;
    /// Puts `data` at offset `at` (EFAULT when the receiver's memory there cannot be written).
    fn put(&mut self, at: usize, data: &[u8]) -> Result<(), Errno>;
}

/// A sentry buffer as a [`Sink`].
pub struct SliceSink<'a>(pub &'a mut [u8]);

impl Sink for SliceSink<'_> {
    fn capacity(&self) -> usize {
        self.0.len()
    }
    fn put(&mut self, at: usize, data: &[u8]) -> Result<(), Errno> {
        self.0
            .get_mut(at..at + data.len())
            .ok_or(Errno::EFAULT)?
            .copy_from_slice(data);
        Ok(())
    }
}

/// A range of the calling task's memory as a [`Sink`].
pub struct UserSink<'a> {
    /// The receiving task.
    pub t: &'a crate::kernel::Task,
    /// Where its buffer starts, and its length.
    pub addr: u64,
    /// Its length.
    pub len: usize,
}

impl Sink for UserSink<'_> {
    fn capacity(&self) -> usize {
        self.len
    }
    fn put(&mut self, at: usize, data: &[u8]) -> Result<(), Errno> {
        if at + data.len() > self.len {
            return Err(Errno::EFAULT);
        }
        self.t.copy_out(self.addr + at as u64, data)
    }
}

/// Operations of an open file. Each default is the errno Linux gives for a file that does not
/// support the operation.
pub trait FileOps: Send + Sync {
    /// Whether the file is a stream (pipe, terminal, socket): it has no position; pread and
    /// pwrite give ESPIPE.
    fn is_stream(&self) -> bool {
        false
    }
    /// Reads at `offset` (positional files). Linux: EINVAL for files that cannot be read.
    fn read_at(&self, _buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    /// Writes at `offset` (positional files).
    fn write_at(&self, _buf: &[u8], _offset: u64) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    /// Reads from a stream.
    fn read_stream(&self, _buf: &mut [u8], _nonblock: bool) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    /// Writes to a stream.
    fn write_stream(&self, _buf: &[u8], _nonblock: bool) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    /// A plain stream read (read(2)) straight into the reader's memory, for a stream that keeps
    /// its bytes in the sentry (no copy staged between); `None`: the caller stages them and
    /// calls [`FileOps::read_stream`].
    fn read_stream_into(
        &self,
        _t: &crate::kernel::Task,
        _sink: &mut dyn Sink,
        _nonblock: bool,
    ) -> Option<Result<usize, Errno>> {
        None
    }
    /// A plain stream write (write(2)) of `len` bytes that `fill` reads from the writer's
    /// memory as the stream takes them; `None`: the caller stages them and calls
    /// [`FileOps::write_stream`].
    fn write_stream_from(
        &self,
        _t: &crate::kernel::Task,
        _len: usize,
        _fill: Fill<'_>,
        _nonblock: bool,
    ) -> Option<Result<usize, Errno>> {
        None
    }
    /// For files whose position lives on the host (the host's stdio): seeks there.
    fn host_seek(&self, _offset: i64, _whence: u32) -> Option<Result<u64, Errno>> {
        None
    }
    /// lseek(2)'s SEEK_DATA or SEEK_HOLE from `offset` (within the file), answered by the
    /// file's storage where it knows its holes; None: the whole file is data (Linux's
    /// generic answer).
    fn seek_hole(&self, _offset: u64, _whence: u32) -> Option<Result<u64, Errno>> {
        None
    }
    /// FS_IOC_FIEMAP: the file's mapped extents (or, with `xattr`, its extended attributes')
    /// overlapping `start..start + len`, in file order; None where the file system has no
    /// fiemap (EOPNOTSUPP, as tmpfs).
    fn fiemap(&self, _start: u64, _len: u64, _xattr: bool) -> Option<Result<Vec<Fiemap>, Errno>> {
        None
    }
    /// fstat(2).
    fn stat(&self) -> Result<Stat, Errno>;
    /// getdents64(2) into `buf` from directory position `*pos`; returns the bytes written.
    /// Linux: ENOTDIR for a file that is not a directory.
    fn getdents(&self, _buf: &mut [u8], _pos: &mut u64) -> Result<usize, Errno> {
        Err(Errno::ENOTDIR)
    }
    /// An ioctl whose argument (already copied in, and copied out after) is `data`.
    fn ioctl(&self, _req: u32, _data: &mut [u8]) -> Result<u64, Errno> {
        Err(Errno::ENOTTY)
    }
    /// Bytes ready to read (FIONREAD); ENOTTY where the file has no such notion.
    fn readable_bytes(&self) -> Result<usize, Errno> {
        Err(Errno::ENOTTY)
    }
    /// Whether mapping the file gives anonymous memory (/dev/zero).
    fn maps_as_anonymous(&self) -> bool {
        false
    }
    /// Readiness for poll(2): the POLLIN/POLLOUT/POLLERR/POLLHUP/... bits that hold now.
    /// Regular files and directories are always ready.
    fn poll_events(&self) -> u32 {
        syscalls::abi::POLLIN
            | syscalls::abi::POLLOUT
            | syscalls::abi::POLLRDNORM
            | syscalls::abi::POLLWRNORM
    }
    /// The queue notified when [`FileOps::poll_events`] may have changed; `None` for files
    /// that never change readiness, or whose readiness lives on the host (then pollers recheck
    /// periodically, see [`FileOps::polls_host`]).
    fn poll_queue(&self) -> Option<&crate::kernel::block::WaitQueue> {
        None
    }
    /// F_GETPIPE_SZ (`None`) and F_SETPIPE_SZ (`Some(bytes)`): the pipe's capacity. Linux:
    /// EBADF on anything but a pipe.
    fn pipe_size(&self, _set: Option<usize>) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }
    /// Whether readiness comes from a host descriptor that no queue reports (stdio).
    fn polls_host(&self) -> bool {
        false
    }
    /// The host descriptor whose bytes are exactly this file's, for reads (or, with `write`,
    /// writes) the platform may run in the application's own process, straight between the
    /// host file and application memory. `None` when the sentry must see the data (size
    /// limits, seals, synthetic contents).
    fn direct_fd(&self, _write: bool) -> Option<BorrowedFd<'_>> {
        None
    }
    /// The host descriptor to map, for files that can be mapped. Linux: ENODEV otherwise.
    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
    /// fsync(2) and fdatasync(2). Linux: EINVAL for files that cannot be synced (pipes do
    /// nothing, and neither do synthetic files).
    fn sync(&self) -> Result<(), Errno> {
        Ok(())
    }
    /// O_ASYNC turned on or off for `file` (this file's description) through fd `fd`: files
    /// that can signal readiness register it. The default signals nothing.
    fn set_async(&self, _file: &Arc<File>, _fd: i32, _on: bool) {}
    /// The socket this file is.
    fn as_socket(&self) -> Option<&dyn crate::net::Socket> {
        None
    }
    /// A signalfd's signal mask (signalfd4 on an existing signalfd changes it).
    fn signalfd_mask(&self) -> Option<&Mutex<u64>> {
        None
    }
    /// The terminal end this file is (a pty master or replica), for the terminal ioctls.
    fn as_tty(&self) -> Option<&crate::fsimpl::tty::TtyFile> {
        None
    }
    /// The pipe end this file is (pipes and FIFOs), for splice, tee and vmsplice.
    fn as_pipe(&self) -> Option<&crate::fsimpl::pipe::PipeFile> {
        None
    }
    /// F_GET_SEALS: the file's seals. Linux: EINVAL for files that cannot be sealed (all but
    /// tmpfs files and memfds).
    fn seals(&self) -> Result<u32, Errno> {
        Err(Errno::EINVAL)
    }
    /// F_ADD_SEALS (the caller checked the file is open for writing and the bits are known).
    fn add_seals(&self, _seals: u32) -> Result<(), Errno> {
        Err(Errno::EINVAL)
    }
    /// Whether the file may be mapped with `prot`, shared or private (seals: EPERM).
    fn check_mmap(&self, _shared: bool, _prot: u32) -> Result<(), Errno> {
        Ok(())
    }
    /// fallocate(2) (the VFS has checked the mode and range). Linux: EOPNOTSUPP where the file
    /// system lacks it.
    fn allocate(&self, _mode: u32, _offset: u64, _len: u64) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// The file as `Any`, for the calls that act on one kind of file only (timerfd_settime,
    /// mq_timedsend) and recognise it by downcasting.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// A descriptor of the file is being closed by process `tgid` (Linux's `f_op->flush`,
    /// run at every close: a message queue drops that process's notification).
    fn flush(&self, _tgid: i32) {}
    /// The lines /proc/[pid]/fdinfo/N shows after the common ones (Linux's `show_fdinfo`).
    fn fdinfo(&self) -> String {
        String::new()
    }
}

static NEXT_FILE_ID: AtomicU64 = AtomicU64::new(1);

/// An open file description: shared by dup(2) and fork(2), with one position and one set of
/// status flags.
pub struct File {
    /// Unique over the sentry's life (keys the platform's cache of donated fds).
    pub id: u64,
    /// What the file does.
    pub ops: Box<dyn FileOps>,
    /// Access mode and status flags (O_RDONLY..., O_APPEND, O_NONBLOCK, ...).
    flags: AtomicU32,
    /// The file position.
    pub pos: Mutex<u64>,
    /// The path it was opened by (absolute in the sandbox), for /proc and --strace.
    pub path: String,
    /// The file it was opened from (None for pipes, sockets and the host's stdio).
    pub inode: Option<Arc<dyn Inode>>,
    /// The mount it was opened through.
    pub mount: Option<Arc<Mount>>,
    /// The file's identity for locks, (st_dev, st_ino), once a lock call needed it.
    pub lock_key: OnceLock<lock::LockKey>,
    /// Whether the description has owned a flock, OFD lock or lease (released at its drop).
    lock_owner: AtomicBool,
    /// F_SETOWN/F_SETOWN_EX: who gets SIGIO (a lease break).
    pub fown: Mutex<FileOwner>,
    /// F_SETSIG: the signal sent instead of SIGIO (0: SIGIO).
    pub fsig: AtomicI32,
    /// The directory it was opened in and its name there, for the events reported to that
    /// directory's watches ([`notify`]); unset for files not opened by a path.
    parent: OnceLock<(Arc<dyn Inode>, Vec<u8>)>,
    /// The Landlock rights (TRUNCATE, IOCTL_DEV) the opener's domain denied it at open
    /// ([`crate::kernel::landlock::check_open`]); none for files not opened by a path.
    landlock_denied: AtomicU64,
    /// Opened for a fanotify listener: its use reports nothing (Linux FMODE_NONOTIFY).
    nonotify: AtomicBool,
    /// The open that made it created the file (Linux FMODE_CREATED, F_CREATED_QUERY).
    created: AtomicBool,
    /// A regular file opened for writing counts as a writer while this lives (ETXTBSY for an
    /// execve of it meanwhile).
    write_access: OnceLock<writecount::WriteAccess>,
    /// The privilege generation at which a write found nothing to strip from the file
    /// (set-id bits, file capabilities; Linux's S_NOSEC), 0 before any check.
    pub nosec: AtomicU64,
}

/// The owner of a description's signals (F_SETOWN_EX's `struct f_owner_ex`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileOwner {
    /// F_OWNER_TID (0), F_OWNER_PID (1) or F_OWNER_PGRP (2).
    pub kind: i32,
    /// The thread, process or process group (sandbox ids); 0 for none.
    pub id: i32,
}

impl Drop for File {
    /// The last reference to the description is gone: its locks are released, its dnotify
    /// registrations go, and watches hear IN_CLOSE_WRITE or IN_CLOSE_NOWRITE.
    fn drop(&mut self) {
        if self.lock_owner.load(Ordering::Relaxed) {
            lock::file_released(self);
        }
        if !notify::active() {
            return;
        }
        notify::forget_file(self.id);
        let mask = if self.writable() {
            IN_CLOSE_WRITE
        } else {
            IN_CLOSE_NOWRITE
        };
        self.notify(mask);
    }
}

impl File {
    /// A new open file description.
    pub fn new(ops: Box<dyn FileOps>, flags: u32, path: impl Into<String>) -> Arc<File> {
        Arc::new(File {
            id: NEXT_FILE_ID.fetch_add(1, Ordering::Relaxed),
            ops,
            flags: AtomicU32::new(flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)),
            pos: Mutex::new(0),
            path: path.into(),
            inode: None,
            mount: None,
            lock_key: OnceLock::new(),
            lock_owner: AtomicBool::new(false),
            fown: Mutex::new(FileOwner::default()),
            fsig: AtomicI32::new(0),
            parent: OnceLock::new(),
            landlock_denied: AtomicU64::new(0),
            nonotify: AtomicBool::new(false),
            created: AtomicBool::new(false),
            write_access: OnceLock::new(),
            nosec: AtomicU64::new(0),
        })
    }

    /// A new open file description of a file reached through `mount`.
    pub fn open_inode(
        ops: Box<dyn FileOps>,
        flags: u32,
        path: impl Into<String>,
        inode: Arc<dyn Inode>,
        mount: Arc<Mount>,
    ) -> Arc<File> {
        Arc::new(File {
            id: NEXT_FILE_ID.fetch_add(1, Ordering::Relaxed),
            ops,
            flags: AtomicU32::new(flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)),
            pos: Mutex::new(0),
            path: path.into(),
            inode: Some(inode),
            mount: Some(mount),
            lock_key: OnceLock::new(),
            lock_owner: AtomicBool::new(false),
            fown: Mutex::new(FileOwner::default()),
            fsig: AtomicI32::new(0),
            parent: OnceLock::new(),
            landlock_denied: AtomicU64::new(0),
            nonotify: AtomicBool::new(false),
            created: AtomicBool::new(false),
            write_access: OnceLock::new(),
            nosec: AtomicU64::new(0),
        })
    }

    /// The Landlock rights denied to this description (see [`File::set_landlock_denied`]).
    pub fn landlock_denied(&self) -> u64 {
        self.landlock_denied.load(Ordering::Relaxed)
    }

    /// Records the Landlock rights the opener's domain denies this description.
    pub fn set_landlock_denied(&self, denied: u64) {
        self.landlock_denied.store(denied, Ordering::Relaxed);
    }

    /// Records the directory the file was opened in and its name there (see [`notify`]).
    pub fn set_parent(&self, dir: Arc<dyn Inode>, name: &[u8]) {
        let _ = self.parent.set((dir, name.to_vec()));
    }

    /// The directory the file was opened in and its name there, if known.
    pub fn parent(&self) -> Option<&(Arc<dyn Inode>, Vec<u8>)> {
        self.parent.get()
    }

    /// Marks the description as opened for a fanotify listener: its use reports nothing.
    /// Makes the description a writer of its file until it goes.
    pub fn set_write_access(&self, w: writecount::WriteAccess) {
        let _ = self.write_access.set(w);
    }

    /// Records that the open that made the description created the file.
    pub fn set_created(&self) {
        self.created.store(true, Ordering::Relaxed);
    }

    /// Whether the open that made the description created the file (F_CREATED_QUERY).
    pub fn created(&self) -> bool {
        self.created.load(Ordering::Relaxed)
    }

    pub fn set_nonotify(&self) {
        self.nonotify.store(true, Ordering::Relaxed);
    }

    /// Whether the description reports no events (see [`File::set_nonotify`]).
    pub fn nonotify(&self) -> bool {
        self.nonotify.load(Ordering::Relaxed)
    }

    /// Reports a file event (IN_ACCESS, IN_MODIFY, ...) on the file to the watches of the file
    /// and of its directory; nothing for files without an inode or opened O_PATH.
    pub fn notify(&self, mask: u32) {
        if !notify::active() || self.is_path() || self.nonotify() {
            return;
        }
        let Some(inode) = &self.inode else {
            return;
        };
        notify::file_event(
            &notify::Subject {
                inode: inode.as_ref(),
                stat: None,
                parent: self.parent.get().map(|(d, n)| (d.as_ref(), n.as_slice())),
                file: Some(self),
            },
            mask,
        );
    }

    /// The directory this file is, as a start for relative walks (*at calls with its fd).
    pub fn anchor(&self) -> Option<path::Anchor> {
        match (&self.inode, &self.mount) {
            (Some(inode), Some(mount)) => Some(path::Anchor {
                inode: inode.clone(),
                mount: mount.clone(),
            }),
            _ => None,
        }
    }

    /// fstat(2): the file's own stat (for an overlay, the overlay's view of it), else what the
    /// open file reports.
    pub fn stat(&self) -> Result<Stat, Errno> {
        match &self.inode {
            Some(i) => i.stat(),
            None => self.ops.stat(),
        }
    }

    /// The status flags (F_GETFL).
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Changes the flags F_SETFL may change (O_APPEND, O_NONBLOCK, O_ASYNC, O_DIRECT, O_NOATIME).
    pub fn set_flags(&self, flags: u32) {
        let settable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
        let old = self.flags();
        self.flags
            .store((old & !settable) | (flags & settable), Ordering::Relaxed);
    }

    /// Records that the description owns locks, so its drop releases them.
    pub fn mark_lock_owner(&self) {
        self.lock_owner.store(true, Ordering::Relaxed);
    }

    fn is_path(&self) -> bool {
        self.flags() & O_PATH != 0
    }

    /// Whether the description was opened for reading.
    pub fn readable(&self) -> bool {
        !self.is_path() && matches!(self.flags() & O_ACCMODE, O_RDONLY | O_RDWR)
    }

    /// Whether the description was opened for writing.
    pub fn writable(&self) -> bool {
        !self.is_path() && matches!(self.flags() & O_ACCMODE, O_WRONLY | O_RDWR)
    }

    fn position(&self) -> std::sync::MutexGuard<'_, u64> {
        self.pos.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// read(2).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        let n = if self.ops.is_stream() {
            self.ops.read_stream(buf, self.flags() & O_NONBLOCK != 0)?
        } else {
            let mut pos = self.position();
            let n = self.ops.read_at(buf, *pos)?;
            *pos += n as u64;
            drop(pos);
            self.accessed();
            n
        };
        if n > 0 {
            self.notify(IN_ACCESS);
        }
        Ok(n)
    }

    /// Linux's touch_atime after a read: never on a noatime or read-only mount, a directory
    /// on a nodiratime one, or with O_NOATIME; then the file system decides
    /// ([`Inode::touch_atime`]: strictatime always, relatime by default).
    pub(crate) fn accessed(&self) {
        let Some(inode) = &self.inode else { return };
        if self.flags() & O_NOATIME != 0 {
            return;
        }
        let mflags = self.mount.as_ref().map_or(0, |m| m.flags());
        if mflags & (MS_NOATIME | MS_RDONLY) != 0 {
            return;
        }
        if mflags & MS_NODIRATIME != 0 && inode.stat().is_ok_and(|s| s.st_mode & S_IFMT == S_IFDIR)
        {
            return;
        }
        inode.touch_atime(mflags & MS_STRICTATIME == 0);
    }

    /// write(2).
    pub fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        let n = if self.ops.is_stream() {
            self.ops.write_stream(buf, self.flags() & O_NONBLOCK != 0)?
        } else {
            let mut pos = self.position();
            if self.flags() & O_APPEND != 0 {
                *pos = self.ops.stat()?.st_size as u64;
            }
            let n = self.ops.write_at(buf, *pos)?;
            *pos += n as u64;
            n
        };
        if n > 0 {
            self.notify(IN_MODIFY);
        }
        Ok(n)
    }

    /// pread64(2).
    pub fn pread(&self, buf: &mut [u8], offset: i64) -> Result<usize, Errno> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        if self.ops.is_stream() {
            return Err(Errno::ESPIPE);
        }
        if offset < 0 {
            return Err(Errno::EINVAL);
        }
        let n = self.ops.read_at(buf, offset as u64)?;
        self.accessed();
        if n > 0 {
            self.notify(IN_ACCESS);
        }
        Ok(n)
    }

    /// pwrite64(2).
    pub fn pwrite(&self, buf: &[u8], offset: i64) -> Result<usize, Errno> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        if self.ops.is_stream() {
            return Err(Errno::ESPIPE);
        }
        if offset < 0 {
            return Err(Errno::EINVAL);
        }
        // Linux's pwrite on an O_APPEND file appends, whatever the offset (pwrite(2), BUGS).
        if self.flags() & O_APPEND != 0 {
            let end = self.ops.stat()?.st_size;
            return self.pwrite_exact(buf, end);
        }
        self.pwrite_exact(buf, offset)
    }

    /// pwrite at `offset` even on an O_APPEND file (pwritev2's RWF_NOAPPEND).
    pub fn pwrite_exact(&self, buf: &[u8], offset: i64) -> Result<usize, Errno> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        if self.ops.is_stream() {
            return Err(Errno::ESPIPE);
        }
        if offset < 0 {
            return Err(Errno::EINVAL);
        }
        let n = self.ops.write_at(buf, offset as u64)?;
        if n > 0 {
            self.notify(IN_MODIFY);
        }
        Ok(n)
    }

    /// lseek(2).
    pub fn seek(&self, offset: i64, whence: u32) -> Result<u64, Errno> {
        if let Some(r) = self.ops.host_seek(offset, whence) {
            return r;
        }
        if self.ops.is_stream() {
            return Err(Errno::ESPIPE);
        }
        let mut pos = self.position();
        let base: i64 = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *pos as i64,
            SEEK_END => self.ops.stat()?.st_size,
            SEEK_DATA | SEEK_HOLE => {
                let size = self.ops.stat()?.st_size;
                if offset < 0 || offset >= size {
                    return Err(Errno::ENXIO);
                }
                let new = match self.ops.seek_hole(offset as u64, whence) {
                    Some(r) => r?,
                    None if whence == SEEK_DATA => offset as u64,
                    None => size as u64,
                };
                *pos = new;
                return Ok(new);
            }
            _ => return Err(Errno::EINVAL),
        };
        let new = base.checked_add(offset).ok_or(Errno::EOVERFLOW)?;
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        *pos = new as u64;
        Ok(new as u64)
    }

    /// getdents64(2).
    pub fn getdents(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if self.is_path() {
            return Err(Errno::EBADF);
        }
        let mut pos = self.position();
        let n = self.ops.getdents(buf, &mut pos)?;
        drop(pos);
        // Linux: reading a directory is an access, even at its end (iterate_dir).
        self.accessed();
        self.notify(IN_ACCESS);
        Ok(n)
    }
}

/// One extent of FS_IOC_FIEMAP (bytes; `flags` the FIEMAP_EXTENT_* bits but LAST).
#[derive(Clone, Copy, Debug)]
pub struct Fiemap {
    pub logical: u64,
    pub physical: u64,
    pub length: u64,
    pub flags: u32,
}

/// Appends one `linux_dirent64` record to `buf` at `*used`; false if it does not fit.
pub fn put_dirent(
    buf: &mut [u8],
    used: &mut usize,
    ino: u64,
    next_off: i64,
    dtype: u8,
    name: &[u8],
) -> bool {
    let reclen = (DIRENT64_NAME_OFFSET + name.len() + 1 + 7) & !7;
    if *used + reclen > buf.len() {
        return false;
    }
    let rec = &mut buf[*used..*used + reclen];
    rec.fill(0);
    rec[0..8].copy_from_slice(&ino.to_le_bytes());
    rec[8..16].copy_from_slice(&next_off.to_le_bytes());
    rec[16..18].copy_from_slice(&(reclen as u16).to_le_bytes());
    rec[18] = dtype;
    rec[DIRENT64_NAME_OFFSET..DIRENT64_NAME_OFFSET + name.len()].copy_from_slice(name);
    *used += reclen;
    true
}

/// Serves getdents64 from a fixed list of entries; the position is the index.
pub fn getdents_from_list(
    entries: &[(u64, u8, &[u8])],
    buf: &mut [u8],
    pos: &mut u64,
) -> Result<usize, Errno> {
    let mut used = 0;
    while let Some((ino, dtype, name)) = entries.get(*pos as usize) {
        if !put_dirent(buf, &mut used, *ino, *pos as i64 + 1, *dtype, name) {
            if used == 0 {
                return Err(Errno::EINVAL);
            }
            break;
        }
        *pos += 1;
    }
    Ok(used)
}

/// One fd table entry.
#[derive(Clone)]
pub struct FdEntry {
    /// The open file description.
    pub file: Arc<File>,
    /// FD_CLOEXEC.
    pub cloexec: bool,
}

/// A table of file descriptors.
#[derive(Clone, Default)]
pub struct FdTable {
    fds: Vec<Option<FdEntry>>,
}

impl FdTable {
    /// A copy for a new process or an unshare (Linux's dup_fd): EMFILE when the copy would
    /// need a table past fs.nr_open (the highest open descriptor at or above it).
    pub fn duplicate(&self) -> Result<FdTable, Errno> {
        let highest = self.fds.iter().rposition(|e| e.is_some());
        if highest.is_some_and(|h| h as u64 >= crate::fsimpl::proc::nr_open()) {
            return Err(Errno::EMFILE);
        }
        Ok(self.clone())
    }

    /// Looks up an fd.
    pub fn get(&self, fd: i32) -> Result<&FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i))
            .and_then(|e| e.as_ref())
            .ok_or(Errno::EBADF)
    }

    /// Looks up an fd's file.
    pub fn file(&self, fd: i32) -> Result<Arc<File>, Errno> {
        self.get(fd).map(|e| e.file.clone())
    }

    /// Sets FD_CLOEXEC.
    pub fn set_cloexec(&mut self, fd: i32, cloexec: bool) -> Result<(), Errno> {
        let e = usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get_mut(i))
            .and_then(|e| e.as_mut());
        e.ok_or(Errno::EBADF)?.cloexec = cloexec;
        Ok(())
    }

    /// Installs `file` at the lowest free fd >= `min`, below `limit` (EMFILE otherwise).
    pub fn alloc(
        &mut self,
        file: Arc<File>,
        cloexec: bool,
        min: i32,
        limit: u64,
    ) -> Result<i32, Errno> {
        let min = usize::try_from(min).map_err(|_| Errno::EINVAL)?;
        let limit = usize::try_from(limit.min(1 << 20)).unwrap_or(1 << 20);
        if min >= limit {
            return Err(Errno::EMFILE);
        }
        let slot = (min..limit)
            .find(|i| self.fds.get(*i).is_none_or(|e| e.is_none()))
            .ok_or(Errno::EMFILE)?;
        if slot >= self.fds.len() {
            self.fds.resize(slot + 1, None);
        }
        self.fds[slot] = Some(FdEntry { file, cloexec });
        Ok(slot as i32)
    }

    /// Whether an fd below `limit` is free.
    pub fn has_free(&self, limit: u64) -> bool {
        let limit = usize::try_from(limit.min(1 << 20)).unwrap_or(1 << 20);
        (0..limit).any(|i| self.fds.get(i).is_none_or(|e| e.is_none()))
    }

    /// Installs `file` at exactly `fd`, returning what was there.
    pub fn install(
        &mut self,
        fd: i32,
        file: Arc<File>,
        cloexec: bool,
        limit: u64,
    ) -> Result<Option<FdEntry>, Errno> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        if i as u64 >= limit.min(1 << 20) {
            return Err(Errno::EBADF);
        }
        if i >= self.fds.len() {
            self.fds.resize(i + 1, None);
        }
        Ok(self.fds[i].replace(FdEntry { file, cloexec }))
    }

    /// Removes an fd.
    pub fn remove(&mut self, fd: i32) -> Result<FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get_mut(i))
            .and_then(|e| e.take())
            .ok_or(Errno::EBADF)
    }

    /// The open fds, in order.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &FdEntry)> {
        self.fds
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as i32, e)))
    }
}
