// SPDX-License-Identifier: Apache-2.0
//! Pipes, in the sentry: a bounded buffer with a read end and a write end.
//!
//! Writes of at most PIPE_BUF bytes are atomic; a write with no reader left fails with EPIPE
//! (the syscall layer adds SIGPIPE); a read with no writer left returns 0.
//!
//! Named pipes (FIFOs, made by mknod(2) or mkfifo(3) on any file system) are the same pipes:
//! [`open_fifo`] finds the one pipe of a FIFO inode (keyed by its device and inode numbers),
//! making it on the first open, and every opener shares it until the last one closes (then the
//! pipe and any bytes left in it go, as in Linux's `fifo_open`/`pipe_release`). Opening for
//! reading waits for a writer and opening for writing waits for a reader, unless O_NONBLOCK
//! (reading: at once; writing: ENXIO) or O_RDWR (never waits).

use std::collections::{HashMap, VecDeque};

use crate::vfs::{Fill, Sink};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use crate::kernel::block::{block_on, WaitQueue};
use crate::vfs::FileOps;

/// Atomic write size.
pub const PIPE_BUF: usize = 4096;
/// Default capacity.
pub const PIPE_SIZE: usize = 65536;

struct State {
    buf: VecDeque<u8>,
    readers: usize,
    writers: usize,
    /// How many times a reader (writer) end was ever opened: an opener waiting for a partner
    /// waits for this to change, so a partner that came and went already still wakes it.
    r_counter: u64,
    w_counter: u64,
    capacity: usize,
}

/// The shared part of a pipe.
pub struct Pipe {
    state: Mutex<State>,
    /// Readers and writers waiting for a change.
    queue: WaitQueue,
    dev: u64,
    ino: u64,
    /// Whether this is a FIFO's pipe (registered in [`fifos`] under `(dev, ino)`).
    named: bool,
    /// Read ends with O_ASYNC (signalled when data comes) and write ends (when room comes).
    async_readers: crate::vfs::fasync::AsyncList,
    async_writers: crate::vfs::fasync::AsyncList,
}

impl Pipe {
    /// A pipe, its buffer's capacity counted against the sandbox's memory budget (`err` past
    /// it: ten thousand full pipes end at the limit).
    fn new(dev: u64, ino: u64, named: bool, err: Errno) -> Result<Arc<Pipe>, Errno> {
        crate::limits::memory().charge(PIPE_SIZE as u64, err)?;
        Ok(Arc::new(Pipe {
            state: Mutex::new(State {
                buf: VecDeque::new(),
                readers: 0,
                writers: 0,
                r_counter: 0,
                w_counter: 0,
                capacity: PIPE_SIZE,
            }),
            queue: WaitQueue::default(),
            dev,
            ino,
            named,
            async_readers: Default::default(),
            async_writers: Default::default(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stat(&self) -> Stat {
        Stat {
            st_dev: self.dev,
            st_ino: self.ino,
            st_nlink: 1,
            st_mode: S_IFIFO | 0o600,
            st_blksize: 4096,
            ..Default::default()
        }
    }

    /// Opens one end (or both) on the pipe: counts it and wakes openers waiting for it.
    fn attach(self: &Arc<Self>, read: bool, write: bool) -> PipeFile {
        let (end, _, _) = self.attach_counted(read, write);
        end
    }

    /// [`Pipe::attach`], and whether a partner was there: for a reader, whether a writer was
    /// open or had come since; for a writer, a reader. Taken under the same lock as the
    /// attaching (checked later, a partner that came and went in between would be missed and
    /// a blocking FIFO open would wait forever). Also the other side's open counter then.
    fn attach_counted(self: &Arc<Self>, read: bool, write: bool) -> (PipeFile, bool, u64) {
        let g = self.lock();
        self.attach_locked(g, read, write)
    }

    /// A write end for a non-blocking FIFO open, only if a reader is there (checked under the
    /// lock that attaches it: a reader leaving in between must not leave a writer with none).
    fn attach_writer_if_read(self: &Arc<Self>) -> Option<PipeFile> {
        let g = self.lock();
        if g.readers == 0 {
            return None;
        }
        let (end, _, _) = self.attach_locked(g, false, true);
        Some(end)
    }

    fn attach_locked(
        self: &Arc<Self>,
        mut g: MutexGuard<'_, State>,
        read: bool,
        write: bool,
    ) -> (PipeFile, bool, u64) {
        if read {
            g.readers += 1;
            g.r_counter += 1;
        }
        if write {
            g.writers += 1;
            g.w_counter += 1;
        }
        let w_seen = g.w_counter;
        let (partner, counter) = if read {
            (g.writers > 0, g.w_counter)
        } else {
            (g.readers > 0, g.r_counter)
        };
        drop(g);
        self.queue.notify_all();
        let end = PipeFile {
            pipe: self.clone(),
            read,
            write,
            w_seen,
        };
        (end, partner, counter)
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        crate::limits::memory().release(self.lock().capacity as u64);
        if self.named {
            let mut m = fifos();
            // Another opener may have registered a new pipe under the key already.
            if m.get(&(self.dev, self.ino))
                .is_some_and(|w| w.upgrade().is_none())
            {
                m.remove(&(self.dev, self.ino));
            }
        }
    }
}

/// Open FIFOs' pipes by (device, inode).
type FifoMap = HashMap<(u64, u64), Weak<Pipe>>;

/// The pipes of the FIFOs that are open, by (device, inode).
fn fifos() -> MutexGuard<'static, FifoMap> {
    static FIFOS: OnceLock<Mutex<FifoMap>> = OnceLock::new();
    FIFOS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// A pipe's read and write ends.
pub type PipeEnds = (Box<dyn FileOps>, Box<dyn FileOps>);

/// Makes a pipe: (read end, write end). ENFILE past the sandbox's memory budget (Linux's
/// answer at its pipe memory limit).
pub fn new_pipe(ino: u64) -> Result<PipeEnds, Errno> {
    let pipe = Pipe::new(crate::kernel::PIPEFS_DEV, ino, false, Errno::ENFILE)?;
    let r = pipe.attach(true, false);
    let w = pipe.attach(false, true);
    Ok((Box::new(r), Box::new(w)))
}

/// Opens the FIFO with device `dev` and inode `ino` (from its stat) with open(2)'s `flags`,
/// as Linux's `fifo_open`: O_RDONLY waits for a writer unless O_NONBLOCK, O_WRONLY waits for a
/// reader (O_NONBLOCK: ENXIO without one), O_RDWR never waits. Waiting ends with ERESTARTSYS
/// on a signal.
pub fn open_fifo(dev: u64, ino: u64, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
    let nonblock = flags & O_NONBLOCK != 0;
    let (read, write) = match flags & O_ACCMODE {
        O_RDONLY => (true, false),
        O_WRONLY => (false, true),
        O_RDWR => (true, true),
        _ => return Err(Errno::EINVAL),
    };
    let pipe = {
        let mut m = fifos();
        match m.get(&(dev, ino)).and_then(Weak::upgrade) {
            Some(p) => p,
            None => {
                let p = Pipe::new(dev, ino, true, Errno::ENOMEM)?;
                m.insert((dev, ino), Arc::downgrade(&p));
                p
            }
        }
    };
    if write && !read && nonblock {
        return match pipe.attach_writer_if_read() {
            Some(end) => Ok(Box::new(end)),
            None => Err(Errno::ENXIO),
        };
    }
    let (end, partner, seen) = pipe.attach_counted(read, write);
    if read && write {
        return Ok(Box::new(end));
    }
    if read && nonblock {
        return Ok(Box::new(end));
    }
    // Wait for a partner: one open when this end was attached, or a change of the other
    // side's open counter since (a partner may have come and gone already).
    if partner {
        return Ok(Box::new(end));
    }
    block_on(&[&pipe.queue], None, || {
        let g = pipe.lock();
        let counter = if read { g.w_counter } else { g.r_counter };
        (counter != seen).then_some(Ok(()))
    })?;
    // `end` (dropped on error) uncounted itself and woke the others.
    Ok(Box::new(end))
}

/// One open end of a pipe: the read end, the write end, or both (a FIFO opened O_RDWR).
pub struct PipeFile {
    pipe: Arc<Pipe>,
    read: bool,
    write: bool,
    /// The writers' open counter when this end was opened: a reader sees POLLHUP only once a
    /// writer has come (and gone) since (Linux: `f_pipe`).
    w_seen: u64,
}

impl Drop for PipeFile {
    fn drop(&mut self) {
        let mut g = self.pipe.lock();
        if self.read {
            g.readers -= 1;
        }
        if self.write {
            g.writers -= 1;
        }
        drop(g);
        self.pipe.queue.notify_all();
    }
}

/// Most a pipe may hold (/proc/sys/fs/pipe-max-size; root may not exceed it here either).
pub const PIPE_MAX_SIZE: usize = 1 << 20;

impl Pipe {
    /// F_GETPIPE_SZ / F_SETPIPE_SZ: sizes round up to a power of two of pages.
    fn size(&self, set: Option<usize>) -> Result<usize, Errno> {
        let mut g = self.lock();
        if let Some(n) = set {
            if n > PIPE_MAX_SIZE {
                return Err(Errno::EPERM);
            }
            let n = n.max(4096).next_power_of_two();
            if n < g.buf.len() {
                return Err(Errno::EBUSY);
            }
            // A bigger buffer counts against the memory budget (EPERM past it, as past
            // Linux's pipe-user-pages limits).
            if n > g.capacity {
                crate::limits::memory().charge((n - g.capacity) as u64, Errno::EPERM)?;
            } else {
                crate::limits::memory().release((g.capacity - n) as u64);
            }
            g.capacity = n;
            self.queue.notify_band(POLLOUT);
        }
        Ok(g.capacity)
    }

    /// Takes up to `max` bytes out (or, with `peek`, copies them without consuming) through
    /// `sink`, waiting for some unless `nonblock`. 0 at EOF (no writer left). `sink` gets the
    /// bytes in at most two slices and returns how many it took (it may fail: then nothing is
    /// consumed).
    pub fn drain_with(
        &self,
        max: usize,
        nonblock: bool,
        peek: bool,
        sink: &mut dyn FnMut(&[u8]) -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        if max == 0 {
            return Ok(0);
        }
        block_on(&[&self.queue], None, || {
            let mut g = self.lock();
            if !g.buf.is_empty() {
                let n = max.min(g.buf.len());
                let (a, b) = g.buf.as_slices();
                let a = &a[..n.min(a.len())];
                let b = &b[..n - a.len()];
                let mut took = match sink(a) {
                    Ok(k) => k,
                    Err(e) => return Some(Err(e)),
                };
                if took == a.len() && !b.is_empty() {
                    match sink(b) {
                        Ok(k) => took += k,
                        Err(e) if took == 0 => return Some(Err(e)),
                        Err(_) => {}
                    }
                }
                if !peek {
                    // pipe_read: writers' pollers hear of room only when the pipe was full.
                    let was_full = g.capacity.saturating_sub(g.buf.len()) < PIPE_BUF;
                    g.buf.drain(..took);
                    if was_full {
                        self.queue.notify_band(POLLOUT);
                    } else {
                        self.queue.wake();
                    }
                }
                return Some(Ok(took));
            }
            if g.writers == 0 {
                return Some(Ok(0));
            }
            if nonblock {
                return Some(Err(Errno::EAGAIN));
            }
            None
        })
    }

    /// Puts bytes in, as write(2) does (atomically up to PIPE_BUF), waiting for room unless
    /// `nonblock`. EPIPE with no reader left.
    pub fn fill(&self, buf: &[u8], nonblock: bool) -> Result<usize, Errno> {
        let mut from_buf = |at: usize, dst: &mut [u8]| -> Result<(), Errno> {
            dst.copy_from_slice(&buf[at..at + dst.len()]);
            Ok(())
        };
        self.fill_from(buf.len(), &mut from_buf, nonblock)
    }

    /// [`Pipe::fill`] of `len` bytes that `src` reads from the writer's memory straight into
    /// the pipe's buffer (EFAULT when none could be read; a fault after some ends the write
    /// with what went in, as Linux's pipe_write).
    pub fn fill_from(&self, len: usize, src: Fill<'_>, nonblock: bool) -> Result<usize, Errno> {
        if len == 0 {
            return Ok(0);
        }
        let mut done = 0;
        let r = block_on(&[&self.queue], None, || {
            let mut g = self.lock();
            loop {
                if g.readers == 0 {
                    return Some(if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EPIPE)
                    });
                }
                let room = g.capacity.saturating_sub(g.buf.len());
                let left = len - done;
                // Up to PIPE_BUF bytes go in at once or not at all.
                let fits = if left <= PIPE_BUF {
                    room >= left
                } else {
                    room > 0
                };
                if !fits {
                    if nonblock {
                        return Some(if done > 0 {
                            Ok(done)
                        } else {
                            Err(Errno::EAGAIN)
                        });
                    }
                    return None;
                }
                let n = left.min(room);
                let old = g.buf.len();
                g.buf.resize(old + n, 0);
                // The new bytes' place: the tail of the ring, in at most two slices.
                let filled = {
                    let (a, b) = g.buf.as_mut_slices();
                    let (head, tail): (&mut [u8], &mut [u8]) = if old >= a.len() {
                        let k = old - a.len();
                        (&mut b[k..k + n], &mut [])
                    } else {
                        let first = a.len() - old;
                        (&mut a[old..], &mut b[..n - first])
                    };
                    src(done, head).and_then(|()| {
                        if tail.is_empty() {
                            Ok(())
                        } else {
                            src(done + head.len(), tail)
                        }
                    })
                };
                if let Err(e) = filled {
                    g.buf.truncate(old);
                    return Some(if done > 0 { Ok(done) } else { Err(e) });
                }
                done += n;
                self.queue.notify_band(POLLIN);
                if done == len {
                    return Some(Ok(done));
                }
            }
        });
        match r {
            Err(Errno::ERESTARTSYS) if done > 0 => Ok(done),
            r => r,
        }
    }

    /// Room left for writing now, and whether any reader is left (for splice and tee, which
    /// check before taking bytes from their source).
    pub fn room(&self) -> (usize, bool) {
        let g = self.lock();
        (g.capacity.saturating_sub(g.buf.len()), g.readers > 0)
    }

    /// Waits until the pipe has room for a write, or no reader is left (EPIPE), unless
    /// `nonblock` (EAGAIN). Returns the room.
    pub fn wait_room(&self, nonblock: bool) -> Result<usize, Errno> {
        block_on(&[&self.queue], None, || {
            let g = self.lock();
            if g.readers == 0 {
                return Some(Err(Errno::EPIPE));
            }
            let room = g.capacity.saturating_sub(g.buf.len());
            if room > 0 {
                return Some(Ok(room));
            }
            if nonblock {
                return Some(Err(Errno::EAGAIN));
            }
            None
        })
    }

    /// Waits until the pipe has bytes (true) or no writer is left (false, EOF), unless
    /// `nonblock` (EAGAIN).
    pub fn wait_data(&self, nonblock: bool) -> Result<bool, Errno> {
        block_on(&[&self.queue], None, || {
            let g = self.lock();
            if !g.buf.is_empty() {
                return Some(Ok(true));
            }
            if g.writers == 0 {
                return Some(Ok(false));
            }
            if nonblock {
                return Some(Err(Errno::EAGAIN));
            }
            None
        })
    }

    /// Appends as much of `bytes` as there is room for, at once (splice and vmsplice, which
    /// waited for room with [`Pipe::wait_room`]; no PIPE_BUF atomicity). Returns the count.
    pub fn push(&self, bytes: &[u8]) -> usize {
        let mut g = self.lock();
        let n = bytes.len().min(g.capacity.saturating_sub(g.buf.len()));
        g.buf.extend(&bytes[..n]);
        drop(g);
        if n > 0 {
            self.queue.notify_band(POLLIN);
        }
        n
    }

    /// Whether `other` is this very pipe.
    pub fn same(&self, other: &Pipe) -> bool {
        std::ptr::eq(self, other)
    }
}

impl PipeFile {
    /// The pipe, for splice, tee and vmsplice.
    pub fn pipe(&self) -> &Arc<Pipe> {
        &self.pipe
    }
}

impl FileOps for PipeFile {
    fn pipe_size(&self, set: Option<usize>) -> Result<usize, Errno> {
        self.pipe.size(set)
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        let mut at = 0;
        let n = self.pipe.drain_with(buf.len(), nonblock, false, &mut |s| {
            buf[at..at + s.len()].copy_from_slice(s);
            at += s.len();
            Ok(s.len())
        })?;
        if n > 0 {
            // Room for the writers (pipe_read: kill_fasync(POLL_OUT)).
            self.pipe
                .async_writers
                .notify(POLL_OUT, POLLOUT | POLLWRNORM | POLLWRBAND);
        }
        Ok(n)
    }

    fn read_stream_into(
        &self,
        _t: &crate::kernel::Task,
        sink: &mut dyn Sink,
        nonblock: bool,
    ) -> Option<Result<usize, Errno>> {
        let mut at = 0;
        let r = self
            .pipe
            .drain_with(sink.capacity(), nonblock, false, &mut |s| {
                sink.put(at, s)?;
                at += s.len();
                Ok(s.len())
            });
        if matches!(r, Ok(n) if n > 0) {
            // Room for the writers (pipe_read: kill_fasync(POLL_OUT)).
            self.pipe
                .async_writers
                .notify(POLL_OUT, POLLOUT | POLLWRNORM | POLLWRBAND);
        }
        Some(r)
    }

    fn write_stream_from(
        &self,
        _t: &crate::kernel::Task,
        len: usize,
        fill: Fill<'_>,
        nonblock: bool,
    ) -> Option<Result<usize, Errno>> {
        let r = self.pipe.fill_from(len, fill, nonblock);
        if matches!(r, Ok(n) if n > 0) {
            // Data for the readers (pipe_write: kill_fasync(POLL_IN)).
            self.pipe.async_readers.notify(POLL_IN, POLLIN | POLLRDNORM);
        }
        Some(r)
    }

    fn write_stream(&self, buf: &[u8], nonblock: bool) -> Result<usize, Errno> {
        let n = self.pipe.fill(buf, nonblock)?;
        if n > 0 {
            // Data for the readers (pipe_write: kill_fasync(POLL_IN)).
            self.pipe.async_readers.notify(POLL_IN, POLLIN | POLLRDNORM);
        }
        Ok(n)
    }

    fn set_async(&self, file: &Arc<crate::vfs::File>, fd: i32, on: bool) {
        if self.read {
            self.pipe.async_readers.set(file, fd, on);
        }
        if self.write {
            self.pipe.async_writers.set(file, fd, on);
        }
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.pipe.stat())
    }

    fn readable_bytes(&self) -> Result<usize, Errno> {
        Ok(self.pipe.lock().buf.len())
    }

    fn poll_events(&self) -> u32 {
        let g = self.pipe.lock();
        let mut ev = 0;
        if self.read {
            if !g.buf.is_empty() {
                ev |= POLLIN | POLLRDNORM;
            }
            if g.writers == 0 && g.w_counter != self.w_seen {
                ev |= POLLHUP;
            }
        }
        if self.write {
            if g.capacity.saturating_sub(g.buf.len()) >= PIPE_BUF {
                ev |= POLLOUT | POLLWRNORM;
            }
            if g.readers == 0 {
                ev |= POLLERR;
            }
        }
        ev
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pipe.queue)
    }

    fn as_pipe(&self) -> Option<&PipeFile> {
        Some(self)
    }

    fn sync(&self) -> Result<(), Errno> {
        // Pipes and FIFOs have no fsync.
        Err(Errno::EINVAL)
    }
}
