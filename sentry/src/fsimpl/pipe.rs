// SPDX-License-Identifier: Apache-2.0
//! Pipes, in the sentry: a bounded buffer with a read end and a write end.
//!
//! Writes of at most PIPE_BUF bytes are atomic; a write with no reader left fails with EPIPE
//! (SIGPIPE comes with the signals issue); a read with no writer left returns 0.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use syscalls::abi::*;
use syscalls::Errno;

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
    cond: Condvar,
    ino: u64,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.cond.wait(g).unwrap_or_else(|e| e.into_inner())
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
        cond: Condvar::new(),
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
        self.0.cond.notify_all();
    }
}

impl Drop for WriteEnd {
    fn drop(&mut self) {
        self.0.lock().writers -= 1;
        self.0.cond.notify_all();
    }
}

impl FileOps for ReadEnd {
    fn is_stream(&self) -> bool {
        true
    }

    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut g = self.0.lock();
        loop {
            if !g.buf.is_empty() {
                let n = buf.len().min(g.buf.len());
                for (i, b) in g.buf.drain(..n).enumerate() {
                    buf[i] = b;
                }
                self.0.cond.notify_all();
                return Ok(n);
            }
            if g.writers == 0 {
                return Ok(0);
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            g = self.0.wait(g);
        }
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.0.stat())
    }

    fn readable_bytes(&self) -> Result<usize, Errno> {
        Ok(self.0.lock().buf.len())
    }
}

impl FileOps for WriteEnd {
    fn is_stream(&self) -> bool {
        true
    }

    fn write_stream(&self, buf: &[u8], nonblock: bool) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut g = self.0.lock();
        let mut done = 0;
        loop {
            if g.readers == 0 {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EPIPE)
                };
            }
            let room = g.capacity - g.buf.len();
            let left = buf.len() - done;
            // Up to PIPE_BUF bytes go in at once or not at all.
            let fits = if left <= PIPE_BUF {
                room >= left
            } else {
                room > 0
            };
            if fits {
                let n = left.min(room);
                g.buf.extend(&buf[done..done + n]);
                done += n;
                self.0.cond.notify_all();
                if done == buf.len() {
                    return Ok(done);
                }
            } else if nonblock {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EAGAIN)
                };
            } else {
                g = self.0.wait(g);
            }
        }
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.0.stat())
    }

    fn readable_bytes(&self) -> Result<usize, Errno> {
        Ok(self.0.lock().buf.len())
    }
}
