// SPDX-License-Identifier: Apache-2.0
//! Pipes, in the sentry: a bounded buffer with a read end and a write end.
//!
//! Writes of at most PIPE_BUF bytes are atomic; a write with no reader left fails with EPIPE
//! (SIGPIPE comes with the signals issue); a read with no writer left returns 0.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

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
    capacity: usize,
}

/// The shared part of a pipe.
pub struct Pipe {
    state: Mutex<State>,
    /// Readers and writers waiting for a change.
    queue: WaitQueue,
    ino: u64,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stat(&self) -> Stat {
        Stat {
            st_dev: crate::kernel::PIPEFS_DEV,
            st_ino: self.ino,
            st_nlink: 1,
            st_mode: S_IFIFO | 0o600,
            st_blksize: 4096,
            ..Default::default()
        }
    }
}

/// Makes a pipe: (read end, write end).
pub fn new_pipe(ino: u64) -> (Box<dyn FileOps>, Box<dyn FileOps>) {
    let pipe = Arc::new(Pipe {
        state: Mutex::new(State {
            buf: VecDeque::new(),
            readers: 1,
            writers: 1,
            capacity: PIPE_SIZE,
        }),
        queue: WaitQueue::default(),
        ino,
    });
    (Box::new(ReadEnd(pipe.clone())), Box::new(WriteEnd(pipe)))
}

/// The read end.
pub struct ReadEnd(Arc<Pipe>);
/// The write end.
pub struct WriteEnd(Arc<Pipe>);

impl Drop for ReadEnd {
    fn drop(&mut self) {
        self.0.lock().readers -= 1;
        self.0.queue.notify_all();
    }
}

impl Drop for WriteEnd {
    fn drop(&mut self) {
        self.0.lock().writers -= 1;
        self.0.queue.notify_all();
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
            g.capacity = n;
            self.queue.notify_all();
        }
        Ok(g.capacity)
    }
}

impl FileOps for ReadEnd {
    fn pipe_size(&self, set: Option<usize>) -> Result<usize, Errno> {
        self.0.size(set)
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let pipe = &self.0;
        block_on(&[&pipe.queue], None, || {
            let mut g = pipe.lock();
            if !g.buf.is_empty() {
                let n = buf.len().min(g.buf.len());
                for (i, b) in g.buf.drain(..n).enumerate() {
                    buf[i] = b;
                }
                pipe.queue.notify_all();
                return Some(Ok(n));
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

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.0.stat())
    }

    fn readable_bytes(&self) -> Result<usize, Errno> {
        Ok(self.0.lock().buf.len())
    }

    fn poll_events(&self) -> u32 {
        let g = self.0.lock();
        let mut ev = 0;
        if !g.buf.is_empty() {
            ev |= POLLIN | POLLRDNORM;
        }
        if g.writers == 0 {
            ev |= POLLHUP;
        }
        ev
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.0.queue)
    }
}

impl FileOps for WriteEnd {
    fn pipe_size(&self, set: Option<usize>) -> Result<usize, Errno> {
        self.0.size(set)
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn write_stream(&self, buf: &[u8], nonblock: bool) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let pipe = &self.0;
        let mut done = 0;
        let r = block_on(&[&pipe.queue], None, || {
            let mut g = pipe.lock();
            loop {
                if g.readers == 0 {
                    return Some(if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EPIPE)
                    });
                }
                let room = g.capacity - g.buf.len();
                let left = buf.len() - done;
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
                g.buf.extend(&buf[done..done + n]);
                done += n;
                pipe.queue.notify_all();
                if done == buf.len() {
                    return Some(Ok(done));
                }
            }
        });
        match r {
            Err(Errno::ERESTARTSYS) if done > 0 => Ok(done),
            r => r,
        }
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.0.stat())
    }

    fn readable_bytes(&self) -> Result<usize, Errno> {
        Ok(self.0.lock().buf.len())
    }

    fn poll_events(&self) -> u32 {
        let g = self.0.lock();
        if g.readers == 0 {
            return POLLERR;
        }
        if g.capacity - g.buf.len() >= PIPE_BUF {
            POLLOUT | POLLWRNORM
        } else {
            0
        }
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.0.queue)
    }
}
