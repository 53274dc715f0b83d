// SPDX-License-Identifier: Apache-2.0
//! The gofer-backed file system: host files, reached only through the gofer process
//! (DESIGN.md "Files", invariant 2). The sentry holds fids, never host paths; opening a file
//! asks the gofer, which donates the host descriptor, and reads, writes and mappings then go
//! straight to it ([`HostFile`]).
//!
//! Requests travel over a small pool of channels (SOCK_SEQPACKET sockets, each served by its
//! own gofer thread) so that tasks do not queue behind each other. Stats of a read-only export
//! are those of the walk (the host tree under a read-only export is taken as unchanging, as
//! gVisor's overlay root does); a writable export asks each time. When the gofer dies, every
//! request fails with EIO and the death hook ends the sandbox.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use gofer::protocol::{self, Attrs, Fid, Reply, Request, MAX_MESSAGE};
use syscalls::abi::*;
use syscalls::Errno;

use super::host::HostFile;
use crate::kernel::lock;
use crate::vfs::{downcast, FileOps, Filesystem, Inode, Owner, SetAttr, TimeSpec};

/// Most channels open at once.
const MAX_CHANNELS: usize = 8;
/// Fids forgotten in one batch.
const CLUNK_BATCH: usize = 64;

struct Channel {
    sock: OwnedFd,
    buf: Vec<u8>,
    /// The CPU its gofer thread is kept on (`ANY_CPU` for the first channel).
    cpu: u32,
}

/// What to do when the gofer dies (the loader prints an error and ends the sandbox).
pub type DeathHook = Box<dyn Fn(&str) + Send + Sync>;

/// The sentry's connection to the gofer.
pub struct GoferClient {
    /// The first channel: new channels are asked for here.
    first: Mutex<Channel>,
    idle: Mutex<Vec<Channel>>,
    opened: AtomicUsize,
    freed: Condvar,
    clunks: Mutex<Vec<Fid>>,
    dead: AtomicBool,
    on_death: DeathHook,
}

fn new_channel(sock: OwnedFd, cpu: u32) -> Channel {
    Channel {
        sock,
        buf: vec![0u8; MAX_MESSAGE],
        cpu,
    }
}

fn roundtrip(ch: &mut Channel, req: &Request) -> Result<(Reply, Option<OwnedFd>), Errno> {
    protocol::send(ch.sock.as_fd(), &req.encode(), None).map_err(|_| Errno::EPIPE)?;
    match protocol::recv(ch.sock.as_fd(), &mut ch.buf) {
        Ok(Some((n, fd))) => match Reply::decode(&ch.buf[..n]) {
            Ok(r) => Ok((r, fd)),
            Err(_) => Err(Errno::EPROTO),
        },
        Ok(None) => Err(Errno::EPIPE),
        Err(_) => Err(Errno::EPIPE),
    }
}

impl GoferClient {
    /// A client of the gofer at the other end of `sock`. `on_death` runs (once) when the gofer
    /// is found dead, by a failed request or, once [`GoferClient::start_watch`] has started it,
    /// by a watcher thread.
    pub fn new(sock: OwnedFd, on_death: DeathHook) -> Result<Arc<GoferClient>, Errno> {
        Ok(Arc::new(GoferClient {
            first: Mutex::new(new_channel(sock, protocol::ANY_CPU)),
            idle: Mutex::new(Vec::new()),
            opened: AtomicUsize::new(1),
            freed: Condvar::new(),
            clunks: Mutex::new(Vec::new()),
            dead: AtomicBool::new(false),
            on_death,
        }))
    }

    /// Starts the thread that notices the gofer's death even when no request is under way
    /// (the loader starts it once the sentry is confined: it runs confined to its role).
    pub fn start_watch(self: &Arc<Self>) -> Result<(), Errno> {
        let watch = lock(&self.first)
            .sock
            .try_clone()
            .map_err(|_| Errno::EMFILE)?;
        let weak = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("gofer-watch".into())
            .spawn(move || {
                crate::confine::enter(crate::confine::policy::WATCH);
                // No events asked: poll returns only when the gofer's end is gone.
                let mut fds = [nix::poll::PollFd::new(
                    watch.as_fd(),
                    nix::poll::PollFlags::empty(),
                )];
                while let Err(nix::Error::EINTR) =
                    nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE)
                {}
                if let Some(c) = weak.upgrade() {
                    c.died();
                }
            })
            .map_err(|_| Errno::EAGAIN)?;
        Ok(())
    }

    fn died(&self) {
        if !self.dead.swap(true, Ordering::SeqCst) {
            (self.on_death)("the gofer (the process serving host files) died");
        }
    }

    /// A channel for the calling thread: one whose gofer thread is on this CPU (sentry threads
    /// stay on their CPU with their application thread; a round trip to a gofer thread on
    /// another CPU costs two cross-CPU wake-ups), a new one for this CPU, or any idle one.
    fn take(&self) -> Result<Channel, Errno> {
        let cpu = nix::sched::sched_getcpu()
            .map(|c| c as u32)
            .unwrap_or(protocol::ANY_CPU);
        let mut idle = lock(&self.idle);
        loop {
            if let Some(i) = idle.iter().rposition(|c| c.cpu == cpu) {
                return Ok(idle.swap_remove(i));
            }
            if self.opened.load(Ordering::Relaxed) < MAX_CHANNELS {
                self.opened.fetch_add(1, Ordering::Relaxed);
                drop(idle);
                let r = roundtrip(&mut lock(&self.first), &Request::Channel { cpu });
                return match r {
                    Ok((Reply::Opened, Some(fd))) => Ok(new_channel(fd, cpu)),
                    Ok((Reply::Error(e), _)) => {
                        self.opened.fetch_sub(1, Ordering::Relaxed);
                        Err(e)
                    }
                    Ok(_) => Err(Errno::EPROTO),
                    Err(e) => Err(e),
                };
            }
            if let Some(c) = idle.pop() {
                return Ok(c);
            }
            idle = self.freed.wait(idle).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// One request and its reply (an error reply is the `Err`).
    pub fn call(&self, req: &Request) -> Result<(Reply, Option<OwnedFd>), Errno> {
        if self.dead.load(Ordering::Relaxed) {
            return Err(Errno::EIO);
        }
        let mut ch = match self.take() {
            Ok(c) => c,
            Err(Errno::EPIPE) => {
                self.died();
                return Err(Errno::EIO);
            }
            Err(e) => return Err(e),
        };
        let batch = {
            let mut c = lock(&self.clunks);
            if c.len() >= CLUNK_BATCH {
                std::mem::take(&mut *c)
            } else {
                Vec::new()
            }
        };
        let mut r = Ok((Reply::Done, None));
        if !batch.is_empty() {
            r = roundtrip(&mut ch, &Request::Clunk { fids: batch });
        }
        if r.is_ok() {
            r = roundtrip(&mut ch, req);
        }
        match r {
            Err(Errno::EPIPE) | Err(Errno::EPROTO) => {
                self.died();
                Err(Errno::EIO)
            }
            Err(e) => Err(e),
            Ok((Reply::Error(e), _)) => {
                self.give(ch);
                Err(e)
            }
            Ok(x) => {
                self.give(ch);
                Ok(x)
            }
        }
    }

    fn give(&self, ch: Channel) {
        lock(&self.idle).push(ch);
        self.freed.notify_one();
    }

    fn clunk(&self, fid: Fid) {
        lock(&self.clunks).push(fid);
    }
}

/// One export of the gofer, as a file system.
pub struct GoferFs {
    shared: Arc<Shared>,
    root: Arc<GoferInode>,
}

struct Shared {
    client: Arc<GoferClient>,
    dev: u64,
    read_only: bool,
}

impl GoferFs {
    /// Export number `export` of the gofer, with device number `dev`.
    pub fn attach(
        client: Arc<GoferClient>,
        export: u32,
        dev: u64,
        read_only: bool,
    ) -> Result<Arc<GoferFs>, Errno> {
        let shared = Arc::new(Shared {
            client,
            dev,
            read_only,
        });
        let (fid, st) = match shared.client.call(&Request::Attach { export })? {
            (Reply::Node(f, s), _) => (f, s),
            _ => return Err(Errno::EPROTO),
        };
        if st.st_mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let root = GoferInode::new(&shared, fid, st);
        Ok(Arc::new(GoferFs { shared, root }))
    }
}

impl Filesystem for GoferFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    fn name(&self) -> &'static str {
        "9p"
    }

    fn read_only(&self) -> bool {
        self.shared.read_only
    }

    fn statfs(&self) -> Result<Statfs, Errno> {
        match self
            .shared
            .client
            .call(&Request::Statfs { fid: self.root.fid })?
        {
            (Reply::Statfs(mut s), _) => {
                if self.shared.read_only {
                    s.f_flags |= ST_RDONLY;
                }
                Ok(s)
            }
            _ => Err(Errno::EPROTO),
        }
    }
}

/// A host file the gofer has walked to.
pub struct GoferInode {
    shared: Arc<Shared>,
    fid: Fid,
    /// The stat of the walk (kept for read-only exports).
    stat: Stat,
    /// The descriptor (O_RDWR) of a regular file this inode just created, for the open that
    /// follows the creation (open(O_CREAT) is mknod then open: one round trip instead of two).
    /// The File's own access mode is what the sentry enforces, mmap included.
    created: Mutex<Option<OwnedFd>>,
}

impl GoferInode {
    fn new(shared: &Arc<Shared>, fid: Fid, mut stat: Stat) -> Arc<GoferInode> {
        stat.st_dev = shared.dev;
        crate::host::stat_from_host_ids(&mut stat);
        Arc::new(GoferInode {
            shared: shared.clone(),
            fid,
            stat,
            created: Mutex::new(None),
        })
    }

    fn client(&self) -> &GoferClient {
        &self.shared.client
    }

    fn node(&self, req: Request) -> Result<Arc<dyn Inode>, Errno> {
        match self.client().call(&req)? {
            (Reply::Node(f, s), _) => Ok(GoferInode::new(&self.shared, f, s)),
            _ => Err(Errno::EPROTO),
        }
    }

    fn done(&self, req: Request) -> Result<(), Errno> {
        self.client().call(&req).map(|_| ())
    }

    fn data(&self, req: Request) -> Result<Vec<u8>, Errno> {
        match self.client().call(&req)? {
            (Reply::Data(d), _) => Ok(d),
            _ => Err(Errno::EPROTO),
        }
    }

    fn writable(&self) -> Result<(), Errno> {
        if self.shared.read_only {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }

    fn sibling(&self, other: &Arc<dyn Inode>) -> Result<Arc<GoferInode>, Errno> {
        let o = downcast::<GoferInode>(other).ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&o.shared, &self.shared) {
            return Err(Errno::EXDEV);
        }
        Ok(o)
    }
}

impl Drop for GoferInode {
    fn drop(&mut self) {
        self.shared.client.clunk(self.fid);
    }
}

fn time(t: Option<TimeSpec>) -> (i64, i64) {
    match t {
        Some(TimeSpec::At(s, n)) => (s, n),
        _ => (0, UTIME_NOW),
    }
}

impl Inode for GoferInode {
    fn stat(&self) -> Result<Stat, Errno> {
        if self.shared.read_only {
            return Ok(self.stat);
        }
        match self.client().call(&Request::Stat { fid: self.fid })? {
            (Reply::Stats(v), _) => {
                let mut s = *v.first().ok_or(Errno::EPROTO)?;
                s.st_dev = self.shared.dev;
                crate::host::stat_from_host_ids(&mut s);
                Ok(s)
            }
            _ => Err(Errno::EPROTO),
        }
    }

    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let write = matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR);
        if write {
            self.writable()?;
        }
        if flags & (O_SYNC | O_DSYNC | O_DIRECT | O_DIRECTORY) == 0 {
            if let Some(fd) = lock(&self.created).take() {
                return Ok(Box::new(HostFile::new(fd)));
            }
        }
        match self.client().call(&Request::Open {
            fid: self.fid,
            flags,
        })? {
            (Reply::Opened, Some(fd)) => Ok(Box::new(HostFile::new(fd))),
            _ => Err(Errno::EPROTO),
        }
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        self.lookup_stat(name).map(|(i, _)| i)
    }

    fn lookup_stat(&self, name: &[u8]) -> Result<(Arc<dyn Inode>, Stat), Errno> {
        if self.stat.st_mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let req = Request::Walk {
            dir: self.fid,
            names: vec![name.to_vec()],
        };
        match self.client().call(&req)? {
            (Reply::Nodes(v), _) => {
                let (f, mut s) = v.first().copied().ok_or(Errno::ENOENT)?;
                s.st_dev = self.shared.dev;
                crate::host::stat_from_host_ids(&mut s);
                let child: Arc<dyn Inode> = GoferInode::new(&self.shared, f, s);
                Ok((child, s))
            }
            _ => Err(Errno::EPROTO),
        }
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        if self.stat.st_mode & S_IFMT != S_IFLNK {
            return Err(Errno::EINVAL);
        }
        self.data(Request::Readlink { fid: self.fid })
    }

    fn mknod(&self, name: &[u8], mode: u32, _rdev: u64, o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        self.writable()?;
        if !matches!(mode & S_IFMT, S_IFREG | S_IFIFO | S_IFSOCK) {
            // Device nodes are never made on the host.
            return Err(Errno::EPERM);
        }
        if mode & S_IFMT == S_IFREG {
            let req = Request::Create {
                dir: self.fid,
                name: name.to_vec(),
                flags: O_RDWR,
                mode: mode & 0o7777,
                uid: crate::host::ids_to_host(o.uid, o.gid).0,
                gid: crate::host::ids_to_host(o.uid, o.gid).1,
            };
            return match self.client().call(&req)? {
                (Reply::Node(f, s), fd) => {
                    let n = GoferInode::new(&self.shared, f, s);
                    *lock(&n.created) = fd;
                    Ok(n)
                }
                _ => Err(Errno::EPROTO),
            };
        }
        let n = self.node(Request::Mknod {
            dir: self.fid,
            name: name.to_vec(),
            mode,
            uid: crate::host::ids_to_host(o.uid, o.gid).0,
            gid: crate::host::ids_to_host(o.uid, o.gid).1,
        })?;
        // The host strips set-ID bits when the gofer makes a node (it is not in the group);
        // a FIFO's or socket's are set again as the sandbox asked (they grant nothing).
        if mode & (S_ISUID | S_ISGID) != 0 {
            n.setattr(&SetAttr {
                mode: Some(mode & 0o7777),
                ..Default::default()
            })?;
        }
        Ok(n)
    }

    fn mkdir(&self, name: &[u8], mode: u32, o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        self.writable()?;
        self.node(Request::Mkdir {
            dir: self.fid,
            name: name.to_vec(),
            mode,
            uid: crate::host::ids_to_host(o.uid, o.gid).0,
            gid: crate::host::ids_to_host(o.uid, o.gid).1,
        })
    }

    fn symlink(&self, name: &[u8], target: &[u8], o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        self.writable()?;
        self.node(Request::Symlink {
            dir: self.fid,
            name: name.to_vec(),
            target: target.to_vec(),
            uid: crate::host::ids_to_host(o.uid, o.gid).0,
            gid: crate::host::ids_to_host(o.uid, o.gid).1,
        })
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        self.writable()?;
        let t = self.sibling(target)?;
        self.node(Request::Link {
            dir: self.fid,
            name: name.to_vec(),
            target: t.fid,
        })
        .map(|_| ())
    }

    fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        self.writable()?;
        self.done(Request::Unlink {
            dir: self.fid,
            name: name.to_vec(),
            flags: 0,
        })
    }

    fn rmdir(&self, name: &[u8]) -> Result<(), Errno> {
        self.writable()?;
        self.done(Request::Unlink {
            dir: self.fid,
            name: name.to_vec(),
            flags: AT_REMOVEDIR,
        })
    }

    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        self.writable()?;
        let nd = self.sibling(new_dir)?;
        self.done(Request::Rename {
            old_dir: self.fid,
            old_name: old.to_vec(),
            new_dir: nd.fid,
            new_name: new.to_vec(),
            flags,
        })
    }

    fn setattr(&self, a: &SetAttr) -> Result<(), Errno> {
        self.writable()?;
        let mut attrs = Attrs::default();
        if let Some(m) = a.mode {
            attrs.mask |= protocol::SET_MODE;
            attrs.mode = m;
        }
        if let Some(u) = a.uid {
            attrs.mask |= protocol::SET_UID;
            attrs.uid = crate::host::ids_to_host(u, u32::MAX).0;
        }
        if let Some(g) = a.gid {
            attrs.mask |= protocol::SET_GID;
            attrs.gid = crate::host::ids_to_host(u32::MAX, g).1;
        }
        if let Some(s) = a.size {
            attrs.mask |= protocol::SET_SIZE;
            attrs.size = s;
        }
        if a.atime.is_some() {
            attrs.mask |= protocol::SET_ATIME;
            attrs.atime = time(a.atime);
        }
        if a.mtime.is_some() {
            attrs.mask |= protocol::SET_MTIME;
            attrs.mtime = time(a.mtime);
        }
        if attrs.mask == 0 {
            return Ok(());
        }
        self.done(Request::Setattr {
            fid: self.fid,
            attrs,
        })
    }

    fn getxattr(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        self.data(Request::GetXattr {
            fid: self.fid,
            name: name.to_vec(),
        })
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
        self.writable()?;
        self.done(Request::SetXattr {
            fid: self.fid,
            name: name.to_vec(),
            value: value.to_vec(),
            flags,
        })
    }

    fn listxattr(&self) -> Result<Vec<Vec<u8>>, Errno> {
        let d = self.data(Request::ListXattr { fid: self.fid })?;
        Ok(d.split(|b| *b == 0)
            .filter(|n| !n.is_empty())
            .map(<[u8]>::to_vec)
            .collect())
    }

    fn removexattr(&self, name: &[u8]) -> Result<(), Errno> {
        self.writable()?;
        self.done(Request::RemoveXattr {
            fid: self.fid,
            name: name.to_vec(),
        })
    }

    fn connect_host_socket(&self, stype: u32) -> Result<OwnedFd, Errno> {
        if self.stat.st_mode & S_IFMT != S_IFSOCK {
            return Err(Errno::ECONNREFUSED);
        }
        match self.client().call(&Request::Connect {
            fid: self.fid,
            stype,
        })? {
            (Reply::Opened, Some(fd)) => Ok(fd),
            _ => Err(Errno::EPROTO),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
