// SPDX-License-Identifier: Apache-2.0
//! Readiness of the sentry's own host sockets (`--network host`, and the flows to the outside
//! under `--network sandbox`): one reactor thread waits in epoll_wait on all of them,
//! edge-triggered, and wakes the sandbox sockets whose host socket became readable or
//! writable. A sandbox socket then retries its non-blocking host call; host sockets are never
//! read or written by the reactor itself (gVisor's fdnotifier does the same).

use std::collections::HashMap;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use syscalls::abi::*;
use syscalls::Errno;

use super::SockCommon;

/// What the reactor wakes when a host socket becomes ready: the sandbox socket's waiters.
pub trait Wake: Send + Sync {
    /// Readiness came in the directions of `band` (POLLIN, POLLOUT, POLLERR|POLLHUP).
    fn wake(&self, band: u32);
}

impl Wake for SockCommon {
    fn wake(&self, band: u32) {
        SockCommon::wake(self, band);
    }
}

type Target = Weak<dyn Wake>;

/// A weak wake target for a socket's common part.
pub fn target_of(c: &Arc<SockCommon>) -> Weak<dyn Wake> {
    let t: Arc<dyn Wake> = c.clone();
    Arc::downgrade(&t)
}

struct Reactor {
    epoll: Epoll,
    watches: Mutex<HashMap<u64, Target>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn watches(r: &Reactor) -> MutexGuard<'_, HashMap<u64, Target>> {
    r.watches.lock().unwrap_or_else(|e| e.into_inner())
}

fn reactor() -> Result<&'static Reactor, Errno> {
    static R: OnceLock<Result<Reactor, Errno>> = OnceLock::new();
    R.get_or_init(|| {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| Errno(e as i32))?;
        Ok(Reactor {
            epoll,
            watches: Mutex::new(HashMap::new()),
        })
    })
    .as_ref()
    .map_err(|e| *e)
    .inspect(|_| start_thread())
}

fn start_thread() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let _ = std::thread::Builder::new()
            .name("net-reactor".into())
            .spawn(run);
    });
}

fn run() {
    let Ok(r) = reactor() else { return };
    let mut events = vec![EpollEvent::empty(); 64];
    loop {
        let n = match r.epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(n) => n,
            Err(nix::Error::EINTR) => continue,
            Err(e) => {
                tracing::error!("net reactor: epoll_wait: {e}");
                return;
            }
        };
        for ev in &events[..n] {
            let target = watches(r).get(&ev.data()).and_then(Weak::upgrade);
            if let Some(c) = target {
                let bits = ev.events().bits() as u32;
                let mut band = 0;
                if bits & (POLLIN | POLLPRI | POLLRDHUP) != 0 {
                    band |= POLLIN;
                }
                if bits & POLLOUT != 0 {
                    band |= POLLOUT;
                }
                if bits & (POLLERR | POLLHUP) != 0 {
                    band |= POLLERR | POLLHUP;
                }
                c.wake(band);
            }
        }
    }
}

/// A host socket watched for the sandbox socket whose common part it wakes; unwatched when
/// dropped (the descriptor then closes and leaves the epoll set).
pub struct Watched {
    id: u64,
    /// The host socket.
    pub fd: OwnedFd,
}

impl Watched {
    /// Starts watching `fd` for the sandbox socket whose common part is `common`.
    pub fn new(fd: OwnedFd, common: &Arc<SockCommon>) -> Result<Watched, Errno> {
        Self::with_target(fd, target_of(common))
    }

    /// Starts watching `fd`, waking `target` while it lives.
    pub fn with_target(fd: OwnedFd, target: Weak<dyn Wake>) -> Result<Watched, Errno> {
        let r = reactor()?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        watches(r).insert(id, target);
        let flags = EpollFlags::EPOLLIN
            | EpollFlags::EPOLLOUT
            | EpollFlags::EPOLLRDHUP
            | EpollFlags::EPOLLPRI
            | EpollFlags::EPOLLET;
        if let Err(e) = r.epoll.add(&fd, EpollEvent::new(flags, id)) {
            watches(r).remove(&id);
            return Err(Errno(e as i32));
        }
        Ok(Watched { id, fd })
    }

    /// The host socket.
    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Ok(r) = reactor() {
            watches(r).remove(&self.id);
            let _ = r.epoll.delete(&self.fd);
        }
    }
}
