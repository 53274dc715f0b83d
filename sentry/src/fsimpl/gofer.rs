// SPDX-License-Identifier: Apache-2.0
//! The gofer-backed file system: host files, reached only through the gofer process
//! (DESIGN.md "Files", invariant 2). The sentry holds fids, never host paths; opening a file
//! asks the gofer, which donates the host descriptor, and reads, writes and mappings then go
//! straight to it ([`HostFile`]).
//!
//! Requests travel over a small pool of channels (SOCK_SEQPACKET sockets, each served by its
//! own gofer thread) so that tasks do not queue behind each other. When the gofer dies, every
//! request fails with EIO and the death hook ends the sandbox.
//!
//! # What is kept (`--file-access exclusive`, the default)
//!
//! A round trip to the gofer costs two context switches, tens of microseconds on these VMs,
//! against a microsecond for the host's own stat; a tree walk, a compiler's header search or
//! an interpreter's imports make thousands. So the host trees a read-only export shows (the
//! root's lower layer, the working directory, `:ro` volumes) are taken as unchanging while the
//! sandbox runs, as gVisor's default exclusive file access takes them, and what the gofer said
//! of them is kept:
//!
//! - stats of the walk or listing that found a file;
//! - a directory's whole listing, read in one request per 128 KiB with every entry's stat and
//!   symlink target ([`Request::ReadDir`]) when the directory is opened, or once its look-ups
//!   would have cost as much (its size tells about how many entries it has): then every
//!   look-up in it, absent names included, stat and readlink cost no round trip, and its
//!   files get their fids only when something needs one (an xattr, a statfs); an open of such
//!   a file walks and opens in one request ([`Request::OpenAt`]), and a listing of such a
//!   directory names it by its path from the nearest directory with a fid (no walk first);
//! - in a tree walk (a directory opened just after its parent was), the listings the walk
//!   reaches next, read ahead in the same request: the directory's subtree, then those of the
//!   subdirectories after it in its parent, depth first as `find` and `tar` go. How much is
//!   read ahead ([`ReadAhead`]) grows while what was read ahead is used and shrinks while it
//!   is not (a walker that skips most directories). `find /usr/include` made one request per
//!   directory (832, and a walk before most), now ~30;
//! - absent names of directories not listed;
//! - extended attributes read (by inode number and name; an execve reads its program's
//!   `security.capability`);
//! - the descriptor of a read-only open of a regular file, shared by later read-only opens of
//!   the same file (an LRU of [`MAX_KEPT_FDS`] per export; every access is positional, so
//!   sharing it shares no offset).
//!
//! Listings are bounded per directory ([`MAX_LISTING`]) and over the sandbox ([`MAX_LISTED`]),
//! and go with their directory's inode (the overlay keeps a bounded number of clean ones).
//! `--file-access shared` keeps nothing: each look-up, stat and open asks the gofer, for
//! volumes the host edits while the sandbox runs. A writable export always asks.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};

use gofer::protocol::{self, Attrs, Fid, Reply, Request, MAX_MESSAGE};
use syscalls::abi::*;
use syscalls::Errno;

use super::host::HostFile;
use crate::kernel::lock;
use crate::vfs::{downcast, put_dirent, FileOps, Filesystem, Inode, Owner, SetAttr, TimeSpec};

/// Most channels open at once.
const MAX_CHANNELS: usize = 8;
/// Fids forgotten in one batch.
const CLUNK_BATCH: usize = 64;
/// The most fids one Clunk message carries (8 bytes each, well within [`MAX_MESSAGE`]).
const MAX_CLUNKS: usize = 4096;

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
        // A process ending with thousands of files open leaves as many fids (with those of
        // their directories) to forget: sent in messages that fit.
        for fids in batch.chunks(MAX_CLUNKS) {
            r = roundtrip(
                &mut ch,
                &Request::Clunk {
                    fids: fids.to_vec(),
                },
            );
            if r.is_err() {
                break;
            }
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
    /// What the gofer said of this export is kept: stats, listings, absent names, symlink
    /// targets (a read-only export under exclusive file access, see the module docs).
    cached: bool,
    /// Read-only descriptors of the export's regular files, by inode number, shared by every
    /// read-only open of the file (cached exports only).
    fds: Mutex<FdCache>,
    /// Extended attributes read so far, by inode number and name, with the answer (the value,
    /// or ENODATA): cached exports only. Every execve asks for its program's
    /// `security.capability`, which cost two round trips (a walk for the file's fid, then the
    /// getxattr) each time a program ran.
    xattrs: Mutex<HashMap<XattrKey, Result<Vec<u8>, Errno>>>,
    /// How much a tree walk's listings read ahead.
    ahead: ReadAhead,
}

/// The size of the read-ahead of a tree walk, grown while what was read ahead is used (a
/// `find` or `tar` over the tree) and shrunk while it is not (a walker that skips most
/// directories, as `git status` skips ignored ones).
struct ReadAhead {
    room: AtomicUsize,
    /// Listings read ahead and listings taken by their directories, since `room` was set.
    got: AtomicUsize,
    used: AtomicUsize,
}

/// The least and the most read ahead in one request, in bytes of the reply.
const AHEAD_MIN: usize = 8 * 1024;
const AHEAD_MAX: usize = protocol::MAX_DATA;

impl ReadAhead {
    fn new() -> ReadAhead {
        ReadAhead {
            room: AtomicUsize::new(4 * AHEAD_MIN),
            got: AtomicUsize::new(0),
            used: AtomicUsize::new(0),
        }
    }

    /// The room of the next read-ahead, adjusted once enough listings were read ahead.
    fn room(&self) -> u32 {
        let got = self.got.load(Ordering::Relaxed);
        let used = self.used.load(Ordering::Relaxed);
        let mut room = self.room.load(Ordering::Relaxed);
        if got >= 8 {
            if used * 4 >= got * 3 {
                room = (room * 2).min(AHEAD_MAX);
            } else if used * 4 < got {
                room = (room / 2).max(AHEAD_MIN);
            }
            self.room.store(room, Ordering::Relaxed);
            self.got.store(0, Ordering::Relaxed);
            self.used.store(0, Ordering::Relaxed);
        }
        room as u32
    }
}

/// An inode number and an extended attribute's name.
type XattrKey = (u64, Vec<u8>);

/// Most extended attribute answers one export keeps (the set starts again when full).
const MAX_KEPT_XATTRS: usize = 4096;

/// Most read-only descriptors one export keeps open.
const MAX_KEPT_FDS: usize = 256;

/// Descriptors kept for reuse, the least recently used dropped first.
#[derive(Default)]
struct FdCache {
    fds: HashMap<u64, (Arc<OwnedFd>, u64)>,
    tick: u64,
}

impl FdCache {
    fn get(&mut self, ino: u64) -> Option<Arc<OwnedFd>> {
        self.tick += 1;
        let tick = self.tick;
        self.fds.get_mut(&ino).map(|(fd, t)| {
            *t = tick;
            fd.clone()
        })
    }

    fn put(&mut self, ino: u64, fd: Arc<OwnedFd>) {
        if self.fds.len() >= MAX_KEPT_FDS {
            if let Some(old) = self
                .fds
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| *k)
            {
                self.fds.remove(&old);
            }
        }
        self.tick += 1;
        self.fds.insert(ino, (fd, self.tick));
    }
}

impl GoferFs {
    /// Export number `export` of the gofer, with device number `dev`. `cached`: the export is
    /// read-only and the host tree under it is taken as unchanging while the sandbox runs
    /// (`--file-access exclusive`), so what the gofer said of it is kept.
    pub fn attach(
        client: Arc<GoferClient>,
        export: u32,
        dev: u64,
        read_only: bool,
        cached: bool,
    ) -> Result<Arc<GoferFs>, Errno> {
        let shared = Arc::new(Shared {
            client,
            dev,
            read_only,
            cached: cached && read_only,
            fds: Mutex::new(FdCache::default()),
            xattrs: Mutex::new(HashMap::new()),
            ahead: ReadAhead::new(),
        });
        let (fid, st) = match shared.client.call(&Request::Attach { export })? {
            (Reply::Node(f, s), _) => (f, s),
            _ => return Err(Errno::EPROTO),
        };
        if st.st_mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let root = GoferInode::new(&shared, Some(fid), None, st, None);
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
        match self.shared.client.call(&Request::Statfs {
            fid: self.root.fid()?,
        })? {
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

/// Most entries of one directory kept as a listing; a larger directory is looked up name by
/// name.
const MAX_LISTING: usize = 65536;
/// Most listed entries kept over all directories (each ~250 bytes): past it, directories are
/// looked up name by name until listings are dropped with their directories.
const MAX_LISTED: usize = 262_144;
/// Most subdirectories named in one read-ahead request.
const MAX_AHEAD: usize = 256;
/// Most absent names remembered per directory (the set starts again when full).
const MAX_MISSING: usize = 1024;

/// Listed entries kept now, over all directories.
static LISTED: AtomicUsize = AtomicUsize::new(0);

/// A directory's entries in the host's order: (name, stat as the sandbox shows it, symlink
/// target), and where each name is.
struct Listing {
    entries: Vec<(Vec<u8>, Stat, Vec<u8>)>,
    index: HashMap<Vec<u8>, usize>,
}

impl Listing {
    fn get(&self, name: &[u8]) -> Option<&(Vec<u8>, Stat, Vec<u8>)> {
        self.index.get(name).and_then(|i| self.entries.get(*i))
    }
}

/// An open directory of a cached export: its listing, in the host's order, with no host
/// descriptor. Position 0 is `.`, 1 is `..`, then the entries.
struct ListingDir {
    stat: Stat,
    parent_ino: u64,
    listing: Arc<Listing>,
}

impl FileOps for ListingDir {
    fn read_at(&self, _buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.stat)
    }

    fn getdents(&self, buf: &mut [u8], pos: &mut u64) -> Result<usize, Errno> {
        let mut used = 0;
        loop {
            let (ino, dtype, name): (u64, u8, &[u8]) = match *pos {
                0 => (self.stat.st_ino, DT_DIR, b"."),
                1 => (self.parent_ino, DT_DIR, b".."),
                p => match self.listing.entries.get(p as usize - 2) {
                    Some((name, st, _)) => (st.st_ino, ((st.st_mode & S_IFMT) >> 12) as u8, name),
                    None => return Ok(used),
                },
            };
            if !put_dirent(buf, &mut used, ino, *pos as i64 + 1, dtype, name) {
                return if used == 0 {
                    Err(Errno::EINVAL)
                } else {
                    Ok(used)
                };
            }
            *pos += 1;
        }
    }
}

impl Drop for Listing {
    fn drop(&mut self) {
        LISTED.fetch_sub(self.entries.len(), Ordering::Relaxed);
    }
}

/// What a directory of a cached export knows of its entries.
#[derive(Default)]
struct DirCache {
    /// Every entry, once listed.
    listing: Option<Arc<Listing>>,
    /// Names looked up one by one so far (a listing is read once they would have paid for it).
    lookups: u32,
    /// Names found absent.
    missing: HashSet<Vec<u8>>,
    /// Whether the listing was read for an open (a program reading the directory).
    opened: bool,
    /// Listings of subdirectories (and of theirs) that came with this one's, for their
    /// inodes to take.
    prefetched: HashMap<Vec<u8>, Prefetched>,
    /// Subdirectories looked up, while something holds them: the same name gives the same
    /// inode, with what it keeps (a look-up walks its path from the mount's root each time).
    children: HashMap<Vec<u8>, Weak<GoferInode>>,
    /// The size of `children` at which the ones gone are dropped.
    prune_at: usize,
}

/// Most entries of [`DirCache::children`] before the ones gone are dropped.
const CHILDREN_PRUNE: usize = 64;

/// A directory's listing read ahead, with those of the directories below it that came too.
struct Prefetched {
    listing: Arc<Listing>,
    below: HashMap<Vec<u8>, Prefetched>,
}

/// A host file the gofer has walked to, or that a listing of its directory showed.
pub struct GoferInode {
    this: Weak<GoferInode>,
    shared: Arc<Shared>,
    /// Its fid: made by the walk that found it, or (a file known from its directory's listing)
    /// walked to when first needed.
    fid: Mutex<Option<Fid>>,
    /// The directory it was found in and its name there: where a late walk starts, and the
    /// directory an open of a file with no fid yet asks for the name in.
    origin: Option<(Arc<GoferInode>, Vec<u8>)>,
    /// The stat of the walk or listing (kept for read-only exports).
    stat: Stat,
    /// A symlink's target, when its directory's listing gave it.
    target: Option<Vec<u8>>,
    /// The descriptor (O_RDWR) of a regular file this inode just created, for the open that
    /// follows the creation (open(O_CREAT) is mknod then open: one round trip instead of two).
    /// The File's own access mode is what the sentry enforces, mmap included.
    created: Mutex<Option<OwnedFd>>,
    /// A directory of a cached export: its listing and absent names.
    dir: Mutex<DirCache>,
}

impl GoferInode {
    fn new(
        shared: &Arc<Shared>,
        fid: Option<Fid>,
        origin: Option<(Arc<GoferInode>, Vec<u8>)>,
        mut stat: Stat,
        target: Option<Vec<u8>>,
    ) -> Arc<GoferInode> {
        stat.st_dev = shared.dev;
        crate::host::stat_from_host_ids(&mut stat);
        Self::made(shared, fid, origin, stat, target)
    }

    /// Like [`Self::new`], with a stat already as the sandbox shows it.
    fn made(
        shared: &Arc<Shared>,
        fid: Option<Fid>,
        origin: Option<(Arc<GoferInode>, Vec<u8>)>,
        stat: Stat,
        target: Option<Vec<u8>>,
    ) -> Arc<GoferInode> {
        Arc::new_cyclic(|this| GoferInode {
            this: this.clone(),
            shared: shared.clone(),
            fid: Mutex::new(fid),
            origin,
            stat,
            target,
            created: Mutex::new(None),
            dir: Mutex::new(DirCache::default()),
        })
    }

    fn client(&self) -> &GoferClient {
        &self.shared.client
    }

    /// The inode's fid, walked to now if its directory's listing made it without one.
    fn fid(&self) -> Result<Fid, Errno> {
        let mut fid = lock(&self.fid);
        if let Some(f) = *fid {
            return Ok(f);
        }
        let (dir, name) = self.origin.as_ref().ok_or(Errno::ESTALE)?;
        let req = Request::Walk {
            dir: dir.fid()?,
            names: vec![name.clone()],
        };
        match self.client().call(&req)? {
            (Reply::Nodes(v), _) => {
                let (f, s) = v.first().copied().ok_or(Errno::ENOENT)?;
                if s.st_ino != self.stat.st_ino {
                    // Replaced on the host since it was listed.
                    self.client().clunk(f);
                    return Err(Errno::ESTALE);
                }
                *fid = Some(f);
                Ok(f)
            }
            _ => Err(Errno::EPROTO),
        }
    }

    fn node(&self, req: Request) -> Result<Arc<dyn Inode>, Errno> {
        match self.client().call(&req)? {
            (Reply::Node(f, s), _) => Ok(GoferInode::new(&self.shared, Some(f), None, s, None)),
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

    fn is_dir(&self) -> bool {
        self.stat.st_mode & S_IFMT == S_IFDIR
    }

    fn me(&self) -> Result<Arc<GoferInode>, Errno> {
        self.this.upgrade().ok_or(Errno::ESTALE)
    }

    /// This directory's listing: kept, or read now (None when it is too large to keep).
    fn listing(&self) -> Result<Option<Arc<Listing>>, Errno> {
        self.listing_for(false)
    }

    /// [`Self::listing`]; `walking`: the directory is opened for reading just after its parent
    /// was (a tree walk), so the listings of its subdirectories come with its own.
    fn listing_for(&self, walking: bool) -> Result<Option<Arc<Listing>>, Errno> {
        if let Some(l) = &lock(&self.dir).listing {
            return Ok(Some(l.clone()));
        }
        if LISTED.load(Ordering::Relaxed) >= MAX_LISTED {
            return Ok(None);
        }
        if let Some(l) = self.adopt() {
            return Ok(Some(l));
        }
        if walking {
            if let Some(l) = self.listing_ahead() {
                return Ok(Some(l));
            }
        }
        let (fid, path) = self.fid_path()?;
        let mut entries = Vec::new();
        let mut offset = 0;
        let mut subs = Vec::new();
        loop {
            let req = Request::ReadDir {
                fid,
                path: path.clone(),
                offset,
                subdirs: walking && offset == 0,
                ahead: Vec::new(),
                room: if walking { self.shared.ahead.room() } else { 0 },
            };
            match self.client().call(&req)? {
                (Reply::Entries(v, next, s), _) => {
                    entries.extend(v);
                    subs.extend(s);
                    if entries.len() > MAX_LISTING {
                        return Ok(None);
                    }
                    match next {
                        Some(n) if n != offset => offset = n,
                        Some(_) => return Err(Errno::EIO),
                        None => break,
                    }
                }
                _ => return Err(Errno::EPROTO),
            }
        }
        let l = self.make_listing(entries);
        let mut d = lock(&self.dir);
        // Another thread may have listed it meanwhile: keep the first.
        let l = d.listing.get_or_insert(l).clone();
        d.missing.clear();
        self.keep_ahead(&mut d, subs);
        Ok(Some(l))
    }

    /// This directory's listing if its parent read it ahead, with those read ahead below it.
    fn adopt(&self) -> Option<Arc<Listing>> {
        let (parent, name) = self.origin.as_ref()?;
        let p = lock(&parent.dir).prefetched.remove(name)?;
        Some(self.take_ahead(p))
    }

    /// Takes a listing read ahead for this directory (and those below it): the listing kept.
    fn take_ahead(&self, p: Prefetched) -> Arc<Listing> {
        self.shared.ahead.used.fetch_add(1, Ordering::Relaxed);
        let mut d = lock(&self.dir);
        let l = d.listing.get_or_insert(p.listing).clone();
        d.missing.clear();
        d.prefetched = p.below;
        l
    }

    /// In a tree walk, the listing of this directory read with those the walk reaches next:
    /// its own subtree, then those of the subdirectories after it in its parent (one request
    /// for what would otherwise be one per directory, each subtree being small). None when
    /// its parent has no listing or this directory's did not fit.
    fn listing_ahead(&self) -> Option<Arc<Listing>> {
        let (parent, name) = self.origin.as_ref()?;
        let pl = lock(&parent.dir).listing.clone()?;
        let at = *pl.index.get(name)?;
        let mut ahead = vec![name.clone()];
        {
            let pd = lock(&parent.dir);
            for (n, st, _) in &pl.entries[at + 1..] {
                if ahead.len() >= MAX_AHEAD {
                    break;
                }
                if st.st_mode & S_IFMT == S_IFDIR && !pd.prefetched.contains_key(n) {
                    ahead.push(n.clone());
                }
            }
        }
        let (fid, path) = parent.fid_path().ok()?;
        let req = Request::ReadDir {
            fid,
            path,
            offset: 0,
            subdirs: true,
            ahead,
            room: self.shared.ahead.room(),
        };
        let subs = match self.client().call(&req).ok()? {
            (Reply::Entries(_, _, subs), _) => subs,
            _ => return None,
        };
        let mine = {
            let mut pd = lock(&parent.dir);
            parent.keep_ahead(&mut pd, subs);
            pd.prefetched.remove(name)?
        };
        Some(self.take_ahead(mine))
    }

    /// Keeps listings read ahead (by path from this directory, each after its parent) for
    /// the inodes of the directories to take.
    fn keep_ahead(&self, d: &mut DirCache, subs: Vec<(Vec<u8>, Vec<gofer::protocol::Entry>)>) {
        // Each directory comes after its parent: one whose parent was not kept is dropped.
        for (path, v) in subs {
            if v.len() > MAX_LISTING || LISTED.load(Ordering::Relaxed) >= MAX_LISTED {
                continue;
            }
            let mut names = path.split(|b| *b == b'/');
            let Some(last) = names.next_back() else {
                continue;
            };
            let mut at = Some(&mut d.prefetched);
            for n in names {
                at = at.and_then(|m| m.get_mut(n)).map(|p| &mut p.below);
            }
            if let Some(m) = at {
                self.shared.ahead.got.fetch_add(1, Ordering::Relaxed);
                m.insert(
                    last.to_vec(),
                    Prefetched {
                        listing: self.make_listing(v),
                        below: HashMap::new(),
                    },
                );
            }
        }
    }

    /// A fid to reach this inode from and the names to walk from it: its own fid, or (a
    /// directory known from a listing) the nearest such ancestor's and the path down, so a
    /// listing of it costs no walk first.
    fn fid_path(&self) -> Result<(Fid, Vec<Vec<u8>>), Errno> {
        if let Some(f) = *lock(&self.fid) {
            return Ok((f, Vec::new()));
        }
        let (dir, name) = self.origin.as_ref().ok_or(Errno::ESTALE)?;
        let (f, mut path) = dir.fid_path()?;
        path.push(name.clone());
        if path.iter().map(|n| n.len() + 1).sum::<usize>() > 2048 {
            return Ok((self.fid()?, Vec::new()));
        }
        Ok((f, path))
    }

    /// A listing of entries as the gofer sent them.
    fn make_listing(&self, v: Vec<gofer::protocol::Entry>) -> Arc<Listing> {
        let mut entries = Vec::with_capacity(v.len());
        let mut index = HashMap::with_capacity(v.len());
        for e in v {
            let mut st = e.stat;
            st.st_dev = self.shared.dev;
            crate::host::stat_from_host_ids(&mut st);
            if index.insert(e.name.clone(), entries.len()).is_none() {
                entries.push((e.name, st, e.target));
            }
        }
        LISTED.fetch_add(entries.len(), Ordering::Relaxed);
        Arc::new(Listing { entries, index })
    }

    /// The child `name` as the listing shows it (no round trip), or ENOENT.
    fn listed_child(&self, l: &Listing, name: &[u8]) -> Result<(Arc<dyn Inode>, Stat), Errno> {
        let (_, st, target) = l.get(name).ok_or(Errno::ENOENT)?;
        let dir = st.st_mode & S_IFMT == S_IFDIR;
        if let Some(c) = dir.then(|| self.held_child(name)).flatten() {
            return Ok((c, *st));
        }
        let target = (st.st_mode & S_IFMT == S_IFLNK).then(|| target.clone());
        let child = GoferInode::made(
            &self.shared,
            None,
            Some((self.me()?, name.to_vec())),
            *st,
            target,
        );
        // A directory's listing read ahead stays with this directory until the child lists
        // or looks up (a stat of it makes an inode that may be gone at once).
        if dir {
            self.hold_child(name, &child);
        }
        let st = *st;
        Ok((child, st))
    }

    /// The live inode of subdirectory `name`, if one is held.
    fn held_child(&self, name: &[u8]) -> Option<Arc<dyn Inode>> {
        let c = lock(&self.dir).children.get(name)?.upgrade()?;
        Some(c)
    }

    /// Remembers the inode of subdirectory `name` while it lives.
    fn hold_child(&self, name: &[u8], child: &Arc<GoferInode>) {
        let mut d = lock(&self.dir);
        if d.children.len() >= d.prune_at.max(CHILDREN_PRUNE) {
            d.children.retain(|_, c| c.strong_count() > 0);
            d.prune_at = d.children.len() * 2;
        }
        d.children.insert(name.to_vec(), Arc::downgrade(child));
    }

    /// A look-up in a directory of a cached export: from the listing when there is one, from
    /// the absent names, else a walk (and, once enough names were walked to pay for it, the
    /// whole listing instead).
    fn cached_lookup(&self, name: &[u8]) -> Result<(Arc<dyn Inode>, Stat), Errno> {
        if lock(&self.dir).listing.is_none() {
            self.adopt();
        }
        let want_listing = {
            let mut d = lock(&self.dir);
            if let Some(l) = d.listing.clone() {
                drop(d);
                return self.listed_child(&l, name);
            }
            if d.missing.contains(name) {
                return Err(Errno::ENOENT);
            }
            if let Some(c) = d.children.get(name).and_then(Weak::upgrade) {
                drop(d);
                let st = c.stat;
                return Ok((c, st));
            }
            d.lookups += 1;
            // A listing costs about a look-up's round trip plus a host stat per entry (a
            // fortieth of a round trip each); directories hold about one entry per 32 bytes of
            // their size.
            let entries = (self.stat.st_size.max(0) as u64 / 32) as u32;
            d.lookups > entries / 40
        };
        if want_listing {
            if let Some(l) = self.listing()? {
                return self.listed_child(&l, name);
            }
        }
        match self.walk(name) {
            Err(Errno::ENOENT) => {
                let mut d = lock(&self.dir);
                if d.missing.len() >= MAX_MISSING {
                    d.missing.clear();
                }
                d.missing.insert(name.to_vec());
                Err(Errno::ENOENT)
            }
            r => r,
        }
    }

    /// Walks to `name`: a new inode with its own fid.
    fn walk(&self, name: &[u8]) -> Result<(Arc<dyn Inode>, Stat), Errno> {
        let req = Request::Walk {
            dir: self.fid()?,
            names: vec![name.to_vec()],
        };
        match self.client().call(&req)? {
            (Reply::Nodes(v), _) => {
                let (f, s) = v.first().copied().ok_or(Errno::ENOENT)?;
                let origin = match self.shared.cached {
                    true => Some((self.me()?, name.to_vec())),
                    false => None,
                };
                let child = GoferInode::new(&self.shared, Some(f), origin, s, None);
                let st = child.stat;
                if self.shared.cached && child.is_dir() {
                    self.hold_child(name, &child);
                }
                Ok((child, st))
            }
            _ => Err(Errno::EPROTO),
        }
    }

    /// The open directory of a cached export: its listing, with no host descriptor.
    fn open_listed(&self, l: &Arc<Listing>) -> Box<dyn FileOps> {
        Box::new(ListingDir {
            stat: self.stat,
            parent_ino: self
                .origin
                .as_ref()
                .map_or(self.stat.st_ino, |(p, _)| p.stat.st_ino),
            listing: l.clone(),
        })
    }
}

impl Drop for GoferInode {
    fn drop(&mut self) {
        if let Some(f) = *lock(&self.fid) {
            self.shared.client.clunk(f);
        }
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
        if self.shared.cached {
            return Ok(self.stat);
        }
        match self.client().call(&Request::Stat { fid: self.fid()? })? {
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
        if self.shared.cached && self.is_dir() && flags & O_PATH == 0 {
            let walking = self
                .origin
                .as_ref()
                .is_some_and(|(p, _)| lock(&p.dir).opened);
            if let Some(l) = self.listing_for(walking)? {
                lock(&self.dir).opened = true;
                return Ok(self.open_listed(&l));
            }
        }
        // A read-only open of an unchanging regular file shares the descriptor of the last.
        let shareable = self.shared.cached
            && self.stat.st_mode & S_IFMT == S_IFREG
            && flags & O_ACCMODE == O_RDONLY
            && flags & (O_SYNC | O_DSYNC | O_DIRECT | O_PATH) == 0;
        if shareable {
            if let Some(fd) = lock(&self.shared.fds).get(self.stat.st_ino) {
                return Ok(Box::new(HostFile::shared(fd)));
            }
        }
        let known = *lock(&self.fid);
        let req = match (known, &self.origin) {
            (None, Some((dir, name))) => Request::OpenAt {
                dir: dir.fid()?,
                name: name.clone(),
                flags,
            },
            _ => Request::Open {
                fid: self.fid()?,
                flags,
            },
        };
        match self.client().call(&req)? {
            (Reply::Opened, Some(fd)) if shareable => {
                let fd = Arc::new(fd);
                lock(&self.shared.fds).put(self.stat.st_ino, fd.clone());
                Ok(Box::new(HostFile::shared(fd)))
            }
            (Reply::Opened, Some(fd)) => Ok(Box::new(HostFile::new(fd))),
            _ => Err(Errno::EPROTO),
        }
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        self.lookup_stat(name).map(|(i, _)| i)
    }

    fn lookup_stat(&self, name: &[u8]) -> Result<(Arc<dyn Inode>, Stat), Errno> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if self.shared.cached {
            return self.cached_lookup(name);
        }
        self.walk(name)
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        if self.stat.st_mode & S_IFMT != S_IFLNK {
            return Err(Errno::EINVAL);
        }
        if let Some(t) = &self.target {
            return Ok(t.clone());
        }
        self.data(Request::Readlink { fid: self.fid()? })
    }

    fn mknod(&self, name: &[u8], mode: u32, _rdev: u64, o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        self.writable()?;
        if !matches!(mode & S_IFMT, S_IFREG | S_IFIFO | S_IFSOCK) {
            // Device nodes are never made on the host.
            return Err(Errno::EPERM);
        }
        if mode & S_IFMT == S_IFREG {
            let req = Request::Create {
                dir: self.fid()?,
                name: name.to_vec(),
                flags: O_RDWR,
                mode: mode & 0o7777,
                uid: crate::host::ids_to_host(o.uid, o.gid).0,
                gid: crate::host::ids_to_host(o.uid, o.gid).1,
            };
            return match self.client().call(&req)? {
                (Reply::Node(f, s), fd) => {
                    let n = GoferInode::new(&self.shared, Some(f), None, s, None);
                    *lock(&n.created) = fd;
                    Ok(n)
                }
                _ => Err(Errno::EPROTO),
            };
        }
        let n = self.node(Request::Mknod {
            dir: self.fid()?,
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
            dir: self.fid()?,
            name: name.to_vec(),
            mode,
            uid: crate::host::ids_to_host(o.uid, o.gid).0,
            gid: crate::host::ids_to_host(o.uid, o.gid).1,
        })
    }

    fn symlink(&self, name: &[u8], target: &[u8], o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        self.writable()?;
        self.node(Request::Symlink {
            dir: self.fid()?,
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
            dir: self.fid()?,
            name: name.to_vec(),
            target: t.fid()?,
        })
        .map(|_| ())
    }

    fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        self.writable()?;
        self.done(Request::Unlink {
            dir: self.fid()?,
            name: name.to_vec(),
            flags: 0,
        })
    }

    fn rmdir(&self, name: &[u8]) -> Result<(), Errno> {
        self.writable()?;
        self.done(Request::Unlink {
            dir: self.fid()?,
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
            old_dir: self.fid()?,
            old_name: old.to_vec(),
            new_dir: nd.fid()?,
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
            fid: self.fid()?,
            attrs,
        })
    }

    fn getxattr(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        let key = (self.stat.st_ino, name.to_vec());
        if self.shared.cached {
            if let Some(r) = lock(&self.shared.xattrs).get(&key) {
                return r.clone();
            }
        }
        let r = self.data(Request::GetXattr {
            fid: self.fid()?,
            name: name.to_vec(),
        });
        // The file's answer, not a failure of the way to it (a lost gofer, a stale fid).
        if self.shared.cached && matches!(r, Ok(_) | Err(Errno::ENODATA)) {
            let mut kept = lock(&self.shared.xattrs);
            if kept.len() >= MAX_KEPT_XATTRS {
                kept.clear();
            }
            kept.insert(key, r.clone());
        }
        r
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
        self.writable()?;
        self.done(Request::SetXattr {
            fid: self.fid()?,
            name: name.to_vec(),
            value: value.to_vec(),
            flags,
        })
    }

    fn listxattr(&self) -> Result<Vec<Vec<u8>>, Errno> {
        let d = self.data(Request::ListXattr { fid: self.fid()? })?;
        Ok(d.split(|b| *b == 0)
            .filter(|n| !n.is_empty())
            .map(<[u8]>::to_vec)
            .collect())
    }

    fn removexattr(&self, name: &[u8]) -> Result<(), Errno> {
        self.writable()?;
        self.done(Request::RemoveXattr {
            fid: self.fid()?,
            name: name.to_vec(),
        })
    }

    fn connect_host_socket(&self, stype: u32) -> Result<OwnedFd, Errno> {
        if self.stat.st_mode & S_IFMT != S_IFSOCK {
            return Err(Errno::ECONNREFUSED);
        }
        match self.client().call(&Request::Connect {
            fid: self.fid()?,
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
