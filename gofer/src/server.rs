// SPDX-License-Identifier: Apache-2.0
//! The server: fids over host descriptors, one thread per channel.
//!
//! A fid is an O_PATH descriptor opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)` of one checked name beneath the descriptor of its parent, starting
//! at an export's root; so every fid names a file beneath an export, and symlinks are never
//! followed by the host (the sentry reads them and walks again). A file is opened for I/O by
//! reopening its own descriptor through /proc/self/fd (held from before the gofer gave up its
//! view of the host), so no path is walked twice; the descriptor is donated to the sentry.
//! Writes into a read-only export are refused here (EROFS) and again by the kernel (the export
//! is mounted read-only in the gofer's namespace).
//!
//! With `--host-uds open` the gofer also connects host unix sockets for the sentry
//! ([`Request::Connect`]): a new non-blocking socket of the asked type, connected to the socket
//! file a fid holds through that fid's own descriptor, by the name `N` (its number) relative
//! to the gofer's working directory, which is /proc/self/fd (see [`crate::main`]). The kernel
//! follows that magic link to the inode the walk found, so no path is resolved beyond the
//! walk's (a symlink put in the socket's place afterwards is not followed). Connecting needs
//! no write to the export: a read-only export allows it, as a read-only mount does on Linux.
//!
//! Fids of one host file share one descriptor ([`Server::held`]): the sentry walks a path anew
//! for each resolution of an uncached export, and every file it opens keeps its directory's
//! inode (for the events reported to that directory's watches), so without sharing each open
//! file in a subdirectory held two host descriptors here and a program met EMFILE at half the
//! files its limit allows.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use crate::host_unsafe;
use crate::protocol::{self, Attrs, Fid, Reply, Request, MAX_DATA, MAX_MESSAGE};

/// How every walk resolves: beneath the directory, no symlink, no magic link.
const RESOLVE: u64 = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

/// One exported directory tree.
pub struct Export {
    /// Its root, O_PATH.
    pub root: OwnedFd,
    /// Writes refused.
    pub read_only: bool,
}

struct Node {
    fd: Arc<OwnedFd>,
    /// The directory holding this file and its name there (None for an export's root).
    parent: Option<(Arc<Node>, Vec<u8>)>,
    export: u32,
    read_only: bool,
    mode: u32,
}

/// The server's state, shared by its channel threads.
pub struct Server {
    exports: Vec<Export>,
    /// /proc/self/fd of the gofer, to reopen held descriptors; None without procfs.
    proc_fds: Option<OwnedFd>,
    fids: Mutex<HashMap<Fid, Arc<Node>>>,
    /// The descriptor each host file (device, inode) is held by while any fid holds it.
    held: Mutex<Held>,
    next: AtomicU64,
    uid: u32,
    gid: u32,
    /// Host unix sockets may be connected (`--host-uds open`), and the working directory is
    /// /proc/self/fd.
    host_uds: bool,
}

/// [`Server::held`]: the map, and its size at which the entries of files no fid holds any
/// more are next dropped (twice the live ones, so each costs O(1) over time).
#[derive(Default)]
struct Held {
    fds: HashMap<(u64, u64), Weak<OwnedFd>>,
    prune_at: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A name the sentry may send: one component.
fn check_name(name: &[u8]) -> Result<(), Errno> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        return Err(Errno::EINVAL);
    }
    if name.len() > 255 {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

/// Most directories listed ahead in one [`Request::ReadDir`] reply.
const MAX_SUBDIRS: usize = 1024;

fn fmt(mode: u32) -> u32 {
    mode & S_IFMT
}

impl Server {
    /// A server for these exports. `host_uds`: connect host unix sockets (the caller has made
    /// `proc_fds` the working directory).
    pub fn new(exports: Vec<Export>, proc_fds: Option<OwnedFd>, host_uds: bool) -> Arc<Server> {
        Arc::new(Server {
            host_uds: host_uds && proc_fds.is_some(),
            exports,
            proc_fds,
            fids: Mutex::new(HashMap::new()),
            held: Mutex::new(Held::default()),
            next: AtomicU64::new(1),
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        })
    }

    /// Serves requests on `sock` until the peer closes it.
    pub fn serve(self: &Arc<Self>, sock: OwnedFd) {
        let mut buf = vec![0u8; MAX_MESSAGE];
        loop {
            let n = match protocol::recv(sock.as_fd(), &mut buf) {
                Ok(Some((n, _))) => n,
                Ok(None) | Err(_) => return,
            };
            let (reply, fd) = match Request::decode(&buf[..n]) {
                Ok(req) => match self.handle(req) {
                    Ok(r) => r,
                    Err(e) => (Reply::Error(e), None),
                },
                Err(_) => (Reply::Error(Errno::EPROTO), None),
            };
            if protocol::send(
                sock.as_fd(),
                &reply.encode(),
                fd.as_ref().map(|f| f.as_fd()),
            )
            .is_err()
            {
                return;
            }
        }
    }

    fn node(&self, fid: Fid) -> Result<Arc<Node>, Errno> {
        lock(&self.fids).get(&fid).cloned().ok_or(Errno::EBADF)
    }

    fn add(&self, n: Node) -> Fid {
        let fid = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.fids).insert(fid, Arc::new(n));
        fid
    }

    /// The descriptor to hold `st`'s file by: one a fid already holds it by, else `fd`.
    fn share(&self, fd: OwnedFd, st: &Stat) -> Arc<OwnedFd> {
        let mut h = lock(&self.held);
        let key = (st.st_dev, st.st_ino);
        if let Some(held) = h.fds.get(&key).and_then(Weak::upgrade) {
            return held;
        }
        let fd = Arc::new(fd);
        h.fds.insert(key, Arc::downgrade(&fd));
        if h.fds.len() >= h.prune_at {
            h.fds.retain(|_, w| w.strong_count() > 0);
            h.prune_at = (h.fds.len() * 2).max(1024);
        }
        fd
    }

    /// Walks one checked name from `dir`: the child's node and stat.
    fn walk_one(&self, dir: &Arc<Node>, name: &[u8]) -> Result<(Node, Stat), Errno> {
        check_name(name)?;
        if fmt(dir.mode) != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let fd = host_unsafe::openat2(
            dir.fd.as_fd(),
            name,
            libc::O_PATH | libc::O_NOFOLLOW,
            0,
            RESOLVE,
        )?;
        let st = host_unsafe::fstat(fd.as_fd())?;
        Ok((
            Node {
                fd: self.share(fd, &st),
                parent: Some((dir.clone(), name.to_vec())),
                export: dir.export,
                read_only: dir.read_only,
                mode: st.st_mode,
            },
            st,
        ))
    }

    /// Reopens a regular file or directory for I/O.
    fn reopen(&self, n: &Node, flags: i32) -> Result<OwnedFd, Errno> {
        match fmt(n.mode) {
            S_IFREG | S_IFDIR => {}
            S_IFLNK => return Err(Errno::ELOOP),
            // The gofer never opens host devices, FIFOs or sockets.
            _ => return Err(Errno::ENXIO),
        }
        let writes = matches!(flags & libc::O_ACCMODE, libc::O_WRONLY | libc::O_RDWR);
        if writes && n.read_only {
            return Err(Errno::EROFS);
        }
        let fd = match &self.proc_fds {
            Some(p) => {
                let name = format!("{}", std::os::fd::AsRawFd::as_raw_fd(&n.fd));
                host_unsafe::openat(p.as_fd(), name.as_bytes(), flags)?
            }
            None => match &n.parent {
                Some((d, name)) => {
                    host_unsafe::openat2(d.fd.as_fd(), name, flags | libc::O_NOFOLLOW, 0, RESOLVE)?
                }
                None => host_unsafe::openat2(n.fd.as_fd(), b".", flags, 0, RESOLVE)?,
            },
        };
        let (a, b) = (
            host_unsafe::fstat(fd.as_fd())?,
            host_unsafe::fstat(n.fd.as_fd())?,
        );
        if a.st_dev != b.st_dev || a.st_ino != b.st_ino {
            return Err(Errno::ESTALE);
        }
        Ok(fd)
    }

    fn writable_dir(&self, fid: Fid) -> Result<Arc<Node>, Errno> {
        let d = self.node(fid)?;
        if fmt(d.mode) != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        if d.read_only {
            return Err(Errno::EROFS);
        }
        Ok(d)
    }

    /// Gives a file just made its owner, as far as the gofer may.
    fn own(&self, fd: BorrowedFd<'_>, uid: u32, gid: u32) {
        if uid != self.uid || gid != self.gid {
            let _ = host_unsafe::fchownat(
                fd,
                b"",
                uid,
                gid,
                libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            );
        }
    }

    /// The node of a name just made in `dir`.
    fn made(&self, dir: &Arc<Node>, name: &[u8], uid: u32, gid: u32) -> Result<(Fid, Stat), Errno> {
        let (n, _) = self.walk_one(dir, name)?;
        self.own(n.fd.as_fd(), uid, gid);
        let st = host_unsafe::fstat(n.fd.as_fd())?;
        Ok((self.add(n), st))
    }

    fn handle(self: &Arc<Self>, req: Request) -> Result<(Reply, Option<OwnedFd>), Errno> {
        let done = |r: Reply| Ok((r, None));
        match req {
            Request::Attach { export } => {
                let e = self.exports.get(export as usize).ok_or(Errno::ENOENT)?;
                let fd = e.root.try_clone().map_err(|_| Errno::EMFILE)?;
                let st = host_unsafe::fstat(fd.as_fd())?;
                let fid = self.add(Node {
                    fd: Arc::new(fd),
                    parent: None,
                    export,
                    read_only: e.read_only,
                    mode: st.st_mode,
                });
                done(Reply::Node(fid, st))
            }
            Request::Walk { dir, names } | Request::WalkStat { dir, names } if names.is_empty() => {
                let _ = self.node(dir)?;
                done(Reply::Nodes(Vec::new()))
            }
            Request::Walk { dir, names } => {
                let mut cur = self.node(dir)?;
                let mut out = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    let (n, st) = match self.walk_one(&cur, name) {
                        Ok(x) => x,
                        Err(e) if i == 0 => return Err(e),
                        Err(_) => break,
                    };
                    let n = Arc::new(n);
                    let fid = self.next.fetch_add(1, Ordering::Relaxed);
                    lock(&self.fids).insert(fid, n.clone());
                    out.push((fid, st));
                    if fmt(st.st_mode) != S_IFDIR {
                        break;
                    }
                    cur = n;
                }
                done(Reply::Nodes(out))
            }
            Request::WalkStat { dir, names } => {
                let mut cur = self.node(dir)?;
                let mut out = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    let (n, st) = match self.walk_one(&cur, name) {
                        Ok(x) => x,
                        Err(e) if i == 0 => return Err(e),
                        Err(_) => break,
                    };
                    out.push(st);
                    if fmt(st.st_mode) != S_IFDIR {
                        break;
                    }
                    cur = Arc::new(n);
                }
                done(Reply::Stats(out))
            }
            Request::Stat { fid } => done(Reply::Stats(vec![host_unsafe::fstat(
                self.node(fid)?.fd.as_fd(),
            )?])),
            Request::Open { fid, flags } => {
                let n = self.node(fid)?;
                let keep =
                    (O_ACCMODE | O_DIRECTORY | O_SYNC | O_DSYNC | O_DIRECT | O_NOATIME) as i32;
                let fd = self.reopen(&n, (flags as i32 & keep) | libc::O_LARGEFILE)?;
                Ok((Reply::Opened, Some(fd)))
            }
            Request::Create {
                dir,
                name,
                flags,
                mode,
                uid,
                gid,
            } => {
                let d = self.writable_dir(dir)?;
                check_name(&name)?;
                let acc = flags as i32 & libc::O_ACCMODE;
                let fd = host_unsafe::openat2(
                    d.fd.as_fd(),
                    &name,
                    acc | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_LARGEFILE,
                    mode & 0o1777,
                    RESOLVE,
                )?;
                let (fid, st) = self.made(&d, &name, uid, gid)?;
                Ok((Reply::Node(fid, st), Some(fd)))
            }
            Request::Mkdir {
                dir,
                name,
                mode,
                uid,
                gid,
            } => {
                let d = self.writable_dir(dir)?;
                check_name(&name)?;
                host_unsafe::mkdirat(d.fd.as_fd(), &name, mode & 0o3777)?;
                let (fid, st) = self.made(&d, &name, uid, gid)?;
                done(Reply::Node(fid, st))
            }
            Request::Mknod {
                dir,
                name,
                mode,
                uid,
                gid,
            } => {
                let d = self.writable_dir(dir)?;
                check_name(&name)?;
                if !matches!(fmt(mode), S_IFREG | S_IFIFO | S_IFSOCK) {
                    return Err(Errno::EPERM);
                }
                // Never a set-user-ID or set-group-ID file on the host.
                host_unsafe::mknodat(d.fd.as_fd(), &name, fmt(mode) | (mode & 0o1777))?;
                let (fid, st) = self.made(&d, &name, uid, gid)?;
                done(Reply::Node(fid, st))
            }
            Request::Symlink {
                dir,
                name,
                target,
                uid,
                gid,
            } => {
                let d = self.writable_dir(dir)?;
                check_name(&name)?;
                if target.is_empty() || target.len() >= 4096 {
                    return Err(if target.is_empty() {
                        Errno::ENOENT
                    } else {
                        Errno::ENAMETOOLONG
                    });
                }
                host_unsafe::symlinkat(&target, d.fd.as_fd(), &name)?;
                let (fid, st) = self.made(&d, &name, uid, gid)?;
                done(Reply::Node(fid, st))
            }
            Request::Link { dir, name, target } => {
                let d = self.writable_dir(dir)?;
                check_name(&name)?;
                let t = self.node(target)?;
                if t.export != d.export {
                    return Err(Errno::EXDEV);
                }
                if fmt(t.mode) == S_IFDIR {
                    return Err(Errno::EPERM);
                }
                match host_unsafe::linkat(
                    t.fd.as_fd(),
                    b"",
                    d.fd.as_fd(),
                    &name,
                    libc::AT_EMPTY_PATH,
                ) {
                    Ok(()) => {}
                    Err(Errno::ENOENT) | Err(Errno::EPERM) if self.proc_fds.is_some() => {
                        let p = self.proc_fds.as_ref().ok_or(Errno::EPERM)?;
                        let num = format!("{}", std::os::fd::AsRawFd::as_raw_fd(&t.fd));
                        host_unsafe::linkat(
                            p.as_fd(),
                            num.as_bytes(),
                            d.fd.as_fd(),
                            &name,
                            libc::AT_SYMLINK_FOLLOW,
                        )?;
                    }
                    Err(e) => return Err(e),
                }
                let (n, st) = self.walk_one(&d, &name)?;
                done(Reply::Node(self.add(n), st))
            }
            Request::Unlink { dir, name, flags } => {
                let d = self.writable_dir(dir)?;
                check_name(&name)?;
                host_unsafe::unlinkat(d.fd.as_fd(), &name, (flags & AT_REMOVEDIR) as i32)?;
                done(Reply::Done)
            }
            Request::Rename {
                old_dir,
                old_name,
                new_dir,
                new_name,
                flags,
            } => {
                let (o, n) = (self.writable_dir(old_dir)?, self.writable_dir(new_dir)?);
                check_name(&old_name)?;
                check_name(&new_name)?;
                if o.export != n.export {
                    return Err(Errno::EXDEV);
                }
                if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0 {
                    return Err(Errno::EINVAL);
                }
                host_unsafe::renameat2(o.fd.as_fd(), &old_name, n.fd.as_fd(), &new_name, flags)?;
                done(Reply::Done)
            }
            Request::Readlink { fid } => {
                let n = self.node(fid)?;
                if fmt(n.mode) != S_IFLNK {
                    return Err(Errno::EINVAL);
                }
                done(Reply::Data(host_unsafe::readlink_fd(n.fd.as_fd())?))
            }
            Request::Getdents { fid, offset, count } => {
                let n = self.node(fid)?;
                if fmt(n.mode) != S_IFDIR {
                    return Err(Errno::ENOTDIR);
                }
                let fd = self.reopen(&n, libc::O_RDONLY | libc::O_DIRECTORY)?;
                host_unsafe::lseek(fd.as_fd(), offset as i64, libc::SEEK_SET)?;
                let mut buf = vec![0u8; (count as usize).min(MAX_DATA)];
                let got = host_unsafe::getdents64(fd.as_fd(), &mut buf)?;
                buf.truncate(got);
                let next = host_unsafe::lseek(fd.as_fd(), 0, libc::SEEK_CUR)?;
                done(Reply::Dents(buf, next))
            }
            Request::Setattr { fid, attrs } => {
                let n = self.node(fid)?;
                self.setattr(&n, &attrs)?;
                done(Reply::Done)
            }
            Request::Statfs { fid } => {
                let mut s = host_unsafe::fstatfs(self.node(fid)?.fd.as_fd())?;
                if self.node(fid)?.read_only {
                    s.f_flags |= ST_RDONLY;
                }
                done(Reply::Statfs(s))
            }
            Request::GetXattr { fid, name } => {
                let n = self.node(fid)?;
                if fmt(n.mode) == S_IFLNK {
                    return Err(Errno::ENODATA);
                }
                let fd = self.reopen(&n, libc::O_RDONLY)?;
                done(Reply::Data(host_unsafe::fgetxattr(fd.as_fd(), &name)?))
            }
            Request::ListXattr { fid } => {
                let n = self.node(fid)?;
                if fmt(n.mode) == S_IFLNK {
                    return done(Reply::Data(Vec::new()));
                }
                let fd = self.reopen(&n, libc::O_RDONLY)?;
                done(Reply::Data(host_unsafe::flistxattr(fd.as_fd())?))
            }
            Request::SetXattr {
                fid,
                name,
                value,
                flags,
            } => {
                let n = self.xattr_target(fid, &name)?;
                let fd = self.reopen(&n, libc::O_RDONLY)?;
                host_unsafe::fsetxattr(
                    fd.as_fd(),
                    &name,
                    &value,
                    flags & (XATTR_CREATE | XATTR_REPLACE),
                )?;
                done(Reply::Done)
            }
            Request::RemoveXattr { fid, name } => {
                let n = self.xattr_target(fid, &name)?;
                let fd = self.reopen(&n, libc::O_RDONLY)?;
                host_unsafe::fremovexattr(fd.as_fd(), &name)?;
                done(Reply::Done)
            }
            Request::Fsync { fid } => {
                let n = self.node(fid)?;
                let fd = self.reopen(&n, libc::O_RDONLY)?;
                host_unsafe::fsync(fd.as_fd())?;
                done(Reply::Done)
            }
            Request::Clunk { fids } => {
                let mut map = lock(&self.fids);
                for f in fids {
                    map.remove(&f);
                }
                done(Reply::Done)
            }
            Request::Connect { fid, stype } => {
                let n = self.node(fid)?;
                Ok((Reply::Opened, Some(self.connect(&n, stype)?)))
            }
            Request::ReadDir {
                fid,
                path,
                offset,
                subdirs,
                ahead,
                room,
            } => {
                let n = self.node(fid)?;
                done(self.read_dir(&n, &path, offset, subdirs, &ahead, room as usize)?)
            }
            Request::OpenAt { dir, name, flags } => {
                let d = self.node(dir)?;
                let (n, _) = self.walk_one(&d, &name)?;
                let keep =
                    (O_ACCMODE | O_DIRECTORY | O_SYNC | O_DSYNC | O_DIRECT | O_NOATIME) as i32;
                let fd = self.reopen(&n, (flags as i32 & keep) | libc::O_LARGEFILE)?;
                Ok((Reply::Opened, Some(fd)))
            }
            Request::Channel { cpu } => {
                let (mine, theirs) = nix::sys::socket::socketpair(
                    nix::sys::socket::AddressFamily::Unix,
                    nix::sys::socket::SockType::SeqPacket,
                    None,
                    nix::sys::socket::SockFlag::SOCK_CLOEXEC,
                )
                .map_err(|e| Errno(e as i32))?;
                let me = self.clone();
                std::thread::Builder::new()
                    .spawn(move || {
                        if cpu != protocol::ANY_CPU {
                            pin_to_cpu(cpu);
                        }
                        me.serve(mine)
                    })
                    .map_err(|_| Errno::EAGAIN)?;
                Ok((Reply::Opened, Some(theirs)))
            }
        }
    }

    /// The entries of directory `n` (or of the directory `path` leads to from it) from
    /// position `offset`, with their stats and symlink targets, as many as fit in one reply,
    /// and the position to go on from (None at the end); with `subdirs`, after a complete
    /// listing, the complete listings of the directories below it that fit too (in `room`
    /// bytes), depth first; with `ahead`, only those of the subdirectories it names and below
    /// them. Each name is
    /// one component read from a directory or sent by the sandbox and checked, stat'ed, read
    /// and opened beneath `n` without following any symlink, so nothing outside the export
    /// is reached.
    fn read_dir(
        &self,
        n: &Node,
        path: &[Vec<u8>],
        offset: u64,
        subdirs: bool,
        ahead: &[Vec<u8>],
        room: usize,
    ) -> Result<Reply, Errno> {
        if fmt(n.mode) != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        for name in path.iter().chain(ahead) {
            check_name(name)?;
        }
        if ahead.len() > MAX_SUBDIRS {
            return Err(Errno::EINVAL);
        }
        let fd = if path.is_empty() {
            self.reopen(n, libc::O_RDONLY | libc::O_DIRECTORY)?
        } else {
            host_unsafe::openat2(
                n.fd.as_fd(),
                &path.join(&b'/'),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
                RESOLVE,
            )?
        };
        let mut entries = Vec::new();
        let mut budget = MAX_DATA;
        let (next, roots) = if ahead.is_empty() {
            let next = list_dir(fd.as_fd(), offset, &mut budget, &mut entries)?;
            let roots = entries
                .iter()
                .filter(|e| subdirs && next.is_none() && fmt(e.stat.st_mode) == S_IFDIR)
                .map(|e| e.name.clone())
                .collect();
            (next, roots)
        } else {
            (None, ahead.to_vec())
        };
        // The first of `ahead` is the directory the sandbox is opening: its listing may take
        // the whole reply; what is read ahead takes at most `room`.
        let mut budget = match ahead.is_empty() {
            true => budget.min(room),
            false => budget,
        };
        // Depth first, as a tree walk goes: a stack of paths, the next to list on top.
        let mut stack: Vec<Vec<u8>> = roots;
        stack.reverse();
        let mut subs: Vec<(Vec<u8>, Vec<protocol::Entry>)> = Vec::new();
        while let Some(rel) = stack.pop() {
            if subs.len() == 1 && !ahead.is_empty() {
                budget = budget.min(room);
            }
            if budget < 1024 || subs.len() >= MAX_SUBDIRS {
                break;
            }
            let Ok(sub) = host_unsafe::openat2(
                fd.as_fd(),
                &rel,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
                RESOLVE,
            ) else {
                continue;
            };
            let mut left = budget.saturating_sub(8 + rel.len());
            let mut v = Vec::new();
            match list_dir(sub.as_fd(), 0, &mut left, &mut v) {
                // Only whole listings: the rest is asked for when the sandbox gets there.
                Ok(None) => {
                    budget = left;
                    let below = v.iter().filter(|e| fmt(e.stat.st_mode) == S_IFDIR);
                    let at = stack.len();
                    for e in below {
                        let mut p = Vec::with_capacity(rel.len() + 1 + e.name.len());
                        p.extend_from_slice(&rel);
                        p.push(b'/');
                        p.extend_from_slice(&e.name);
                        stack.push(p);
                    }
                    stack[at..].reverse();
                    subs.push((rel, v));
                }
                _ => break,
            }
        }
        Ok(Reply::Entries(entries, next, subs))
    }

    /// A new host unix socket of type `stype` connected to the socket file `n`.
    fn connect(&self, n: &Node, stype: u32) -> Result<OwnedFd, Errno> {
        use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType, UnixAddr};
        if !self.host_uds {
            // Linux's answer where nothing listens: the sandbox's sockets are its own.
            return Err(Errno::ECONNREFUSED);
        }
        if fmt(n.mode) != S_IFSOCK {
            return Err(Errno::ECONNREFUSED);
        }
        let ty = match stype {
            SOCK_STREAM => SockType::Stream,
            SOCK_DGRAM => SockType::Datagram,
            SOCK_SEQPACKET => SockType::SeqPacket,
            _ => return Err(Errno::ESOCKTNOSUPPORT),
        };
        let err = |e: nix::Error| Errno(e as i32);
        // Non-blocking: a full backlog is EAGAIN for the sentry to wait on, never a gofer
        // thread held in connect.
        let sock = socket(
            AddressFamily::Unix,
            ty,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(err)?;
        // The fid's own descriptor through /proc/self/fd (the working directory): the inode
        // the walk found, whatever its path holds now.
        let name = format!("{}", std::os::fd::AsRawFd::as_raw_fd(&n.fd));
        let addr = UnixAddr::new(name.as_str()).map_err(err)?;
        nix::sys::socket::connect(std::os::fd::AsRawFd::as_raw_fd(&sock), &addr).map_err(err)?;
        Ok(sock)
    }

    /// The node whose `user.*` xattr `name` may be changed.
    fn xattr_target(&self, fid: Fid, name: &[u8]) -> Result<Arc<Node>, Errno> {
        let n = self.node(fid)?;
        if n.read_only {
            return Err(Errno::EROFS);
        }
        // trusted.* and security.* on a host file would act on the host's own policy.
        if !name.starts_with(b"user.") {
            return Err(Errno::EPERM);
        }
        if !matches!(fmt(n.mode), S_IFREG | S_IFDIR) {
            return Err(Errno::EPERM);
        }
        Ok(n)
    }

    fn setattr(&self, n: &Node, a: &Attrs) -> Result<(), Errno> {
        if n.read_only {
            return Err(Errno::EROFS);
        }
        let kind = fmt(n.mode);
        if a.mask & (protocol::SET_UID | protocol::SET_GID) != 0 {
            let uid = if a.mask & protocol::SET_UID != 0 {
                a.uid
            } else {
                u32::MAX
            };
            let gid = if a.mask & protocol::SET_GID != 0 {
                a.gid
            } else {
                u32::MAX
            };
            host_unsafe::fchownat(
                n.fd.as_fd(),
                b"",
                uid,
                gid,
                libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            )?;
        }
        let times = a.mask & (protocol::SET_ATIME | protocol::SET_MTIME) != 0;
        let io = a.mask & (protocol::SET_MODE | protocol::SET_SIZE) != 0 || times;
        if !io {
            return Ok(());
        }
        let ts = [
            if a.mask & protocol::SET_ATIME != 0 {
                a.atime
            } else {
                (0, UTIME_OMIT)
            },
            if a.mask & protocol::SET_MTIME != 0 {
                a.mtime
            } else {
                (0, UTIME_OMIT)
            },
        ];
        // Never a set-user-ID or set-group-ID file on the host (a FIFO or socket cannot be
        // executed: its set-ID bits grant nothing, and the sandbox's mknod may set them).
        let mode = a.mode
            & match kind {
                S_IFDIR => 0o3777,
                S_IFIFO | S_IFSOCK => 0o7777,
                _ => 0o1777,
            };
        match kind {
            S_IFREG | S_IFDIR => {
                let acc = if a.mask & protocol::SET_SIZE != 0 {
                    libc::O_WRONLY
                } else {
                    libc::O_RDONLY
                };
                let fd = self.reopen(n, acc | libc::O_NONBLOCK)?;
                if a.mask & protocol::SET_SIZE != 0 {
                    host_unsafe::ftruncate(fd.as_fd(), a.size)?;
                }
                if a.mask & protocol::SET_MODE != 0 {
                    host_unsafe::fchmod(fd.as_fd(), mode)?;
                }
                if times {
                    host_unsafe::utimensat(fd.as_fd(), b"", ts, libc::AT_EMPTY_PATH)?;
                }
                Ok(())
            }
            _ => {
                let (d, name) = n.parent.as_ref().ok_or(Errno::EPERM)?;
                if a.mask & protocol::SET_SIZE != 0 {
                    return Err(Errno::EINVAL);
                }
                if a.mask & protocol::SET_MODE != 0 {
                    if kind == S_IFLNK {
                        return Err(Errno::EOPNOTSUPP);
                    }
                    host_unsafe::fchmodat(d.fd.as_fd(), name, mode)?;
                }
                if times {
                    host_unsafe::utimensat(d.fd.as_fd(), name, ts, libc::AT_SYMLINK_NOFOLLOW)?;
                }
                Ok(())
            }
        }
    }
}

/// Appends the entries of the open directory `fd` from position `offset` to `out` (stats and
/// symlink targets, `.` and `..` left out) while they fit in `budget` bytes of a reply, which
/// shrinks by what they take; returns the position to go on from, None at the end.
fn list_dir(
    fd: BorrowedFd<'_>,
    offset: u64,
    budget: &mut usize,
    out: &mut Vec<protocol::Entry>,
) -> Result<Option<u64>, Errno> {
    if offset != 0 {
        host_unsafe::lseek(fd, offset as i64, libc::SEEK_SET)?;
    }
    let mut next = offset;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let got = host_unsafe::getdents64(fd, &mut buf)?;
        if got == 0 {
            return Ok(None);
        }
        let mut at = 0;
        while at + DIRENT64_NAME_OFFSET <= got {
            let d_off = u64::from_le_bytes(buf[at + 8..at + 16].try_into().unwrap_or_default());
            let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
            if reclen == 0 || at + reclen > got {
                return Err(Errno::EIO);
            }
            let raw = &buf[at + DIRENT64_NAME_OFFSET..at + reclen];
            let name = &raw[..raw.iter().position(|b| *b == 0).unwrap_or(raw.len())];
            at += reclen;
            if name == b"." || name == b".." || check_name(name).is_err() {
                next = d_off;
                continue;
            }
            let stat = match host_unsafe::fstatat_nofollow(fd, name) {
                Ok(s) => s,
                // Removed since the listing was read.
                Err(Errno::ENOENT) => {
                    next = d_off;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let target = if fmt(stat.st_mode) == S_IFLNK {
                host_unsafe::readlinkat(fd, name).unwrap_or_default()
            } else {
                Vec::new()
            };
            let e = protocol::Entry {
                name: name.to_vec(),
                stat,
                target,
            };
            if e.wire_size() > *budget {
                return Ok(Some(next));
            }
            *budget -= e.wire_size();
            out.push(e);
            next = d_off;
        }
    }
}

/// Keeps the calling thread on `cpu` (best effort: with a CPU that is not there it stays free).
fn pin_to_cpu(cpu: u32) {
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu as usize).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}
