// SPDX-License-Identifier: Apache-2.0
//! The gofer protocol, shared by the server (this crate) and the sentry's client.
//!
//! One request is one SOCK_SEQPACKET message; its reply is the next message on the same socket,
//! carrying at most one host descriptor (SCM_RIGHTS) for `Open`, `Create`, `Channel` and
//! `Connect`. Files are named by *fids*: handles the gofer hands out for files it has walked
//! to beneath an export's root, never by paths (gVisor's LISAFS works the same way). A name
//! in a request is one path component: never empty, `.`, `..`, or containing `/` or NUL (the
//! server checks).
//!
//! The encoding is ours: a one-byte opcode, then the fields in order, integers little-endian,
//! byte strings as a u32 length and the bytes, lists as a u32 count and the items.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use syscalls::abi::{Stat, Statfs};
use syscalls::Errno;

use crate::host_unsafe;

/// A handle on a file the gofer has walked to.
pub type Fid = u64;

/// Largest message either side sends.
pub const MAX_MESSAGE: usize = 160 * 1024;
/// Largest byte payload of one reply (getdents, readlink, xattrs).
pub const MAX_DATA: usize = 128 * 1024;
/// Most components one `Walk` or `WalkStat` takes.
pub const MAX_WALK: usize = 255;

/// `Setattr` field bits.
pub const SET_MODE: u32 = 1;
/// Set the owner.
pub const SET_UID: u32 = 2;
/// Set the group.
pub const SET_GID: u32 = 4;
/// Truncate or extend.
pub const SET_SIZE: u32 = 8;
/// Set the access time.
pub const SET_ATIME: u32 = 16;
/// Set the modification time.
pub const SET_MTIME: u32 = 32;

/// Attribute changes; times as (seconds, nanoseconds) with nanoseconds UTIME_NOW meaning now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs {
    /// Which fields to set (`SET_*`).
    pub mask: u32,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size.
    pub size: u64,
    /// Access time.
    pub atime: (i64, i64),
    /// Modification time.
    pub mtime: (i64, i64),
}

/// A request from the sentry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The root of export number `export`. Reply: `Node`.
    Attach { export: u32 },
    /// Walks `names` from `dir`, one component at a time, never following a symlink. Reply:
    /// `Nodes`, one per component walked; it stops early (without error) at a missing name
    /// after the first, or after a non-directory. An error on the first component is the
    /// reply's error.
    Walk { dir: Fid, names: Vec<Vec<u8>> },
    /// Like `Walk`, but only the stats, with no fids made. Reply: `Stats`.
    WalkStat { dir: Fid, names: Vec<Vec<u8>> },
    /// stat of a fid. Reply: `Stats` (one).
    Stat { fid: Fid },
    /// Opens a regular file or directory for I/O with open(2) `flags` (access mode, O_DIRECTORY,
    /// O_SYNC, O_DSYNC, O_DIRECT, O_NOATIME; others are ignored). Reply: `Opened` + descriptor.
    Open { fid: Fid, flags: u32 },
    /// Creates and opens a regular file. Reply: `Node` + descriptor.
    Create {
        dir: Fid,
        name: Vec<u8>,
        flags: u32,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// mkdirat. Reply: `Node`.
    Mkdir {
        dir: Fid,
        name: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// mknodat of a regular file, FIFO or socket (never a device). Reply: `Node`.
    Mknod {
        dir: Fid,
        name: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// symlinkat. Reply: `Node`.
    Symlink {
        dir: Fid,
        name: Vec<u8>,
        target: Vec<u8>,
        uid: u32,
        gid: u32,
    },
    /// linkat: `name` in `dir` becomes a link to `target` (same export). Reply: `Node`.
    Link {
        dir: Fid,
        name: Vec<u8>,
        target: Fid,
    },
    /// unlinkat with `flags` 0 or AT_REMOVEDIR. Reply: `Done`.
    Unlink { dir: Fid, name: Vec<u8>, flags: u32 },
    /// renameat2 (same export). Reply: `Done`.
    Rename {
        old_dir: Fid,
        old_name: Vec<u8>,
        new_dir: Fid,
        new_name: Vec<u8>,
        flags: u32,
    },
    /// readlink. Reply: `Data`.
    Readlink { fid: Fid },
    /// getdents64 from directory position `offset`, at most `count` bytes. Reply: `Dents`.
    Getdents { fid: Fid, offset: u64, count: u32 },
    /// Attribute changes. Reply: `Done`.
    Setattr { fid: Fid, attrs: Attrs },
    /// statfs. Reply: `Statfs`.
    Statfs { fid: Fid },
    /// getxattr. Reply: `Data`.
    GetXattr { fid: Fid, name: Vec<u8> },
    /// setxattr with XATTR_CREATE/XATTR_REPLACE (only `user.*` names). Reply: `Done`.
    SetXattr {
        fid: Fid,
        name: Vec<u8>,
        value: Vec<u8>,
        flags: u32,
    },
    /// listxattr. Reply: `Data` (NUL-separated names).
    ListXattr { fid: Fid },
    /// removexattr (only `user.*` names). Reply: `Done`.
    RemoveXattr { fid: Fid, name: Vec<u8> },
    /// fsync. Reply: `Done`.
    Fsync { fid: Fid },
    /// Forgets fids. Reply: `Done`.
    Clunk { fids: Vec<Fid> },
    /// A new channel (another socket served by its own gofer thread, same fids), its thread
    /// kept on CPU `cpu` (the CPU of the sentry threads that will use it: a round trip
    /// between CPUs costs two cross-CPU wake-ups) unless `cpu` is [`ANY_CPU`]. Reply:
    /// `Opened` + the socket.
    Channel { cpu: u32 },
    /// A new host unix socket of type `stype` (SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET,
    /// non-blocking) connected to the socket file `fid` (`--host-uds open`; refused with
    /// ECONNREFUSED otherwise). Reply: `Opened` + the connected socket. The host's errno of
    /// the connect is the reply's error (ECONNREFUSED, EAGAIN for a full backlog, EPROTOTYPE).
    Connect { fid: Fid, stype: u32 },
    /// The entries of a directory with their stats (lstat: no symlink followed) and, for
    /// symlinks, their targets, from directory position `offset` (0: the start), as many as
    /// fit in [`MAX_DATA`]; `.` and `..` are left out. The directory is `fid`, or the one
    /// `path` (names walked from `fid` as `Walk` walks them, no symlink followed) leads to,
    /// for a directory the sandbox knows from a listing and has no fid for. With `subdirs`,
    /// once the listing is complete, whole listings of the directories below it too, in the
    /// order a tree walk visits them (depth first, each directory's subdirectories in its
    /// own order), as many as fit (the sandbox is walking the tree). With `ahead`, names of
    /// subdirectories of that directory, its own listing is left out and only theirs and
    /// those below them come, in that order, depth first (the sandbox walks into the first
    /// and the others are next). What is read ahead (with `subdirs`, or after the first of
    /// `ahead`) takes at most `room` bytes of the reply (the sandbox sizes its read-ahead by
    /// how much of the last it used).
    /// Reply: `Entries`.
    ReadDir {
        fid: Fid,
        path: Vec<Vec<u8>>,
        offset: u64,
        subdirs: bool,
        ahead: Vec<Vec<u8>>,
        room: u32,
    },
    /// Walks one name from `dir` (as `Walk` does) and opens it (as `Open` does), without
    /// making a fid. Reply: `Opened` + descriptor.
    OpenAt { dir: Fid, name: Vec<u8>, flags: u32 },
}

/// One entry of a [`Reply::Entries`].
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its name in the directory.
    pub name: Vec<u8>,
    /// Its stat (of the entry itself, a symlink included).
    pub stat: Stat,
    /// A symlink's target (empty for anything else).
    pub target: Vec<u8>,
}

impl Entry {
    /// What the entry takes in a reply.
    pub fn wire_size(&self) -> usize {
        8 + self.name.len() + std::mem::size_of::<Stat>() + self.target.len()
    }
}

/// [`Request::Channel`] without a CPU.
pub const ANY_CPU: u32 = u32::MAX;

/// A reply from the gofer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The request failed with this errno.
    Error(Errno),
    /// Done, nothing to report.
    Done,
    /// A new fid and its stat.
    Node(Fid, Stat),
    /// The fids walked and their stats.
    Nodes(Vec<(Fid, Stat)>),
    /// Stats.
    Stats(Vec<Stat>),
    /// Bytes.
    Data(Vec<u8>),
    /// getdents64 records and the position after the last one.
    Dents(Vec<u8>, u64),
    /// statfs.
    Statfs(Statfs),
    /// A descriptor comes with the reply.
    Opened,
    /// Directory entries, the position to go on from (None: the listing is complete), and
    /// the complete listings of directories below it asked for with `subdirs` or `ahead`,
    /// each by its path from the listed directory (names joined by `/`), a directory after
    /// its parent.
    Entries(Vec<Entry>, Option<u64>, Vec<(Vec<u8>, Vec<Entry>)>),
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadMessage;

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v);
        self
    }
    fn names(&mut self, v: &[Vec<u8>]) -> &mut Self {
        self.u32(v.len() as u32);
        for n in v {
            self.bytes(n);
        }
        self
    }
    fn stat(&mut self, s: &Stat) -> &mut Self {
        self.0.extend_from_slice(bytemuck::bytes_of(s));
        self
    }
    fn entries(&mut self, v: &[Entry]) -> &mut Self {
        self.u32(v.len() as u32);
        for e in v {
            self.bytes(&e.name).stat(&e.stat).bytes(&e.target);
        }
        self
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], BadMessage> {
        if self.0.len() < n {
            return Err(BadMessage);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, BadMessage> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, BadMessage> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, BadMessage> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn i64(&mut self) -> Result<i64, BadMessage> {
        Ok(self.u64()? as i64)
    }
    fn bytes(&mut self) -> Result<Vec<u8>, BadMessage> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn names(&mut self) -> Result<Vec<Vec<u8>>, BadMessage> {
        let n = self.u32()? as usize;
        if n > MAX_WALK {
            return Err(BadMessage);
        }
        (0..n).map(|_| self.bytes()).collect()
    }
    fn stat(&mut self) -> Result<Stat, BadMessage> {
        Ok(bytemuck::pod_read_unaligned(
            self.take(std::mem::size_of::<Stat>())?,
        ))
    }
    fn entries(&mut self) -> Result<Vec<Entry>, BadMessage> {
        let n = self.u32()? as usize;
        if n > MAX_MESSAGE / std::mem::size_of::<Stat>() {
            return Err(BadMessage);
        }
        (0..n)
            .map(|_| {
                Ok(Entry {
                    name: self.bytes()?,
                    stat: self.stat()?,
                    target: self.bytes()?,
                })
            })
            .collect()
    }
    fn end(&self) -> Result<(), BadMessage> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(BadMessage)
        }
    }
}

impl Request {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(64));
        match self {
            Request::Attach { export } => w.u8(1).u32(*export),
            Request::Walk { dir, names } => w.u8(2).u64(*dir).names(names),
            Request::WalkStat { dir, names } => w.u8(3).u64(*dir).names(names),
            Request::Stat { fid } => w.u8(4).u64(*fid),
            Request::Open { fid, flags } => w.u8(5).u64(*fid).u32(*flags),
            Request::Create {
                dir,
                name,
                flags,
                mode,
                uid,
                gid,
            } => w
                .u8(6)
                .u64(*dir)
                .bytes(name)
                .u32(*flags)
                .u32(*mode)
                .u32(*uid)
                .u32(*gid),
            Request::Mkdir {
                dir,
                name,
                mode,
                uid,
                gid,
            } => w.u8(7).u64(*dir).bytes(name).u32(*mode).u32(*uid).u32(*gid),
            Request::Mknod {
                dir,
                name,
                mode,
                uid,
                gid,
            } => w.u8(8).u64(*dir).bytes(name).u32(*mode).u32(*uid).u32(*gid),
            Request::Symlink {
                dir,
                name,
                target,
                uid,
                gid,
            } => w
                .u8(9)
                .u64(*dir)
                .bytes(name)
                .bytes(target)
                .u32(*uid)
                .u32(*gid),
            Request::Link { dir, name, target } => w.u8(10).u64(*dir).bytes(name).u64(*target),
            Request::Unlink { dir, name, flags } => w.u8(11).u64(*dir).bytes(name).u32(*flags),
            Request::Rename {
                old_dir,
                old_name,
                new_dir,
                new_name,
                flags,
            } => w
                .u8(12)
                .u64(*old_dir)
                .bytes(old_name)
                .u64(*new_dir)
                .bytes(new_name)
                .u32(*flags),
            Request::Readlink { fid } => w.u8(13).u64(*fid),
            Request::Getdents { fid, offset, count } => w.u8(14).u64(*fid).u64(*offset).u32(*count),
            Request::Setattr { fid, attrs: a } => w
                .u8(15)
                .u64(*fid)
                .u32(a.mask)
                .u32(a.mode)
                .u32(a.uid)
                .u32(a.gid)
                .u64(a.size)
                .i64(a.atime.0)
                .i64(a.atime.1)
                .i64(a.mtime.0)
                .i64(a.mtime.1),
            Request::Statfs { fid } => w.u8(16).u64(*fid),
            Request::GetXattr { fid, name } => w.u8(17).u64(*fid).bytes(name),
            Request::SetXattr {
                fid,
                name,
                value,
                flags,
            } => w.u8(18).u64(*fid).bytes(name).bytes(value).u32(*flags),
            Request::ListXattr { fid } => w.u8(19).u64(*fid),
            Request::RemoveXattr { fid, name } => w.u8(20).u64(*fid).bytes(name),
            Request::Fsync { fid } => w.u8(21).u64(*fid),
            Request::Clunk { fids } => {
                w.u8(22).u32(fids.len() as u32);
                for f in fids {
                    w.u64(*f);
                }
                &mut w
            }
            Request::Channel { cpu } => w.u8(23).u32(*cpu),
            Request::Connect { fid, stype } => w.u8(24).u64(*fid).u32(*stype),
            Request::ReadDir {
                fid,
                path,
                offset,
                subdirs,
                ahead,
                room,
            } => w
                .u8(25)
                .u64(*fid)
                .names(path)
                .u64(*offset)
                .u8(u8::from(*subdirs))
                .names(ahead)
                .u32(*room),
            Request::OpenAt { dir, name, flags } => w.u8(26).u64(*dir).bytes(name).u32(*flags),
        };
        w.0
    }

    /// Parses the wire form.
    pub fn decode(buf: &[u8]) -> Result<Request, BadMessage> {
        let mut r = Reader(buf);
        let req = match r.u8()? {
            1 => Request::Attach { export: r.u32()? },
            2 => Request::Walk {
                dir: r.u64()?,
                names: r.names()?,
            },
            3 => Request::WalkStat {
                dir: r.u64()?,
                names: r.names()?,
            },
            4 => Request::Stat { fid: r.u64()? },
            5 => Request::Open {
                fid: r.u64()?,
                flags: r.u32()?,
            },
            6 => Request::Create {
                dir: r.u64()?,
                name: r.bytes()?,
                flags: r.u32()?,
                mode: r.u32()?,
                uid: r.u32()?,
                gid: r.u32()?,
            },
            7 => Request::Mkdir {
                dir: r.u64()?,
                name: r.bytes()?,
                mode: r.u32()?,
                uid: r.u32()?,
                gid: r.u32()?,
            },
            8 => Request::Mknod {
                dir: r.u64()?,
                name: r.bytes()?,
                mode: r.u32()?,
                uid: r.u32()?,
                gid: r.u32()?,
            },
            9 => Request::Symlink {
                dir: r.u64()?,
                name: r.bytes()?,
                target: r.bytes()?,
                uid: r.u32()?,
                gid: r.u32()?,
            },
            10 => Request::Link {
                dir: r.u64()?,
                name: r.bytes()?,
                target: r.u64()?,
            },
            11 => Request::Unlink {
                dir: r.u64()?,
                name: r.bytes()?,
                flags: r.u32()?,
            },
            12 => Request::Rename {
                old_dir: r.u64()?,
                old_name: r.bytes()?,
                new_dir: r.u64()?,
                new_name: r.bytes()?,
                flags: r.u32()?,
            },
            13 => Request::Readlink { fid: r.u64()? },
            14 => Request::Getdents {
                fid: r.u64()?,
                offset: r.u64()?,
                count: r.u32()?,
            },
            15 => Request::Setattr {
                fid: r.u64()?,
                attrs: Attrs {
                    mask: r.u32()?,
                    mode: r.u32()?,
                    uid: r.u32()?,
                    gid: r.u32()?,
                    size: r.u64()?,
                    atime: (r.i64()?, r.i64()?),
                    mtime: (r.i64()?, r.i64()?),
                },
            },
            16 => Request::Statfs { fid: r.u64()? },
            17 => Request::GetXattr {
                fid: r.u64()?,
                name: r.bytes()?,
            },
            18 => Request::SetXattr {
                fid: r.u64()?,
                name: r.bytes()?,
                value: r.bytes()?,
                flags: r.u32()?,
            },
            19 => Request::ListXattr { fid: r.u64()? },
            20 => Request::RemoveXattr {
                fid: r.u64()?,
                name: r.bytes()?,
            },
            21 => Request::Fsync { fid: r.u64()? },
            22 => {
                let n = r.u32()? as usize;
                if n > MAX_MESSAGE / 8 {
                    return Err(BadMessage);
                }
                Request::Clunk {
                    fids: (0..n).map(|_| r.u64()).collect::<Result<_, _>>()?,
                }
            }
            23 => Request::Channel { cpu: r.u32()? },
            24 => Request::Connect {
                fid: r.u64()?,
                stype: r.u32()?,
            },
            25 => Request::ReadDir {
                fid: r.u64()?,
                path: r.names()?,
                offset: r.u64()?,
                subdirs: match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(BadMessage),
                },
                ahead: r.names()?,
                room: r.u32()?,
            },
            26 => Request::OpenAt {
                dir: r.u64()?,
                name: r.bytes()?,
                flags: r.u32()?,
            },
            _ => return Err(BadMessage),
        };
        r.end()?;
        Ok(req)
    }
}

impl Reply {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(160));
        match self {
            Reply::Error(e) => w.u8(0).u32(e.0 as u32),
            Reply::Done => w.u8(1),
            Reply::Node(f, s) => w.u8(2).u64(*f).stat(s),
            Reply::Nodes(v) => {
                w.u8(3).u32(v.len() as u32);
                for (f, s) in v {
                    w.u64(*f).stat(s);
                }
                &mut w
            }
            Reply::Stats(v) => {
                w.u8(4).u32(v.len() as u32);
                for s in v {
                    w.stat(s);
                }
                &mut w
            }
            Reply::Data(d) => w.u8(5).bytes(d),
            Reply::Dents(d, next) => w.u8(6).bytes(d).u64(*next),
            Reply::Statfs(s) => {
                w.u8(7);
                w.0.extend_from_slice(bytemuck::bytes_of(s));
                &mut w
            }
            Reply::Opened => w.u8(8),
            Reply::Entries(v, next, subs) => {
                w.u8(9);
                w.entries(v);
                match next {
                    Some(n) => w.u8(1).u64(*n),
                    None => w.u8(0),
                };
                w.u32(subs.len() as u32);
                for (name, v) in subs {
                    w.bytes(name);
                    w.entries(v);
                }
                &mut w
            }
        };
        w.0
    }

    /// Parses the wire form.
    pub fn decode(buf: &[u8]) -> Result<Reply, BadMessage> {
        let mut r = Reader(buf);
        let reply = match r.u8()? {
            0 => Reply::Error(Errno(r.u32()? as i32)),
            1 => Reply::Done,
            2 => Reply::Node(r.u64()?, r.stat()?),
            3 => {
                let n = r.u32()? as usize;
                if n > MAX_WALK {
                    return Err(BadMessage);
                }
                Reply::Nodes(
                    (0..n)
                        .map(|_| Ok((r.u64()?, r.stat()?)))
                        .collect::<Result<_, _>>()?,
                )
            }
            4 => {
                let n = r.u32()? as usize;
                if n > MAX_WALK {
                    return Err(BadMessage);
                }
                Reply::Stats((0..n).map(|_| r.stat()).collect::<Result<_, _>>()?)
            }
            5 => Reply::Data(r.bytes()?),
            6 => Reply::Dents(r.bytes()?, r.u64()?),
            7 => Reply::Statfs(bytemuck::pod_read_unaligned(
                r.take(std::mem::size_of::<Statfs>())?,
            )),
            8 => Reply::Opened,
            9 => {
                let v = r.entries()?;
                let next = match r.u8()? {
                    0 => None,
                    1 => Some(r.u64()?),
                    _ => return Err(BadMessage),
                };
                let n = r.u32()? as usize;
                if n > MAX_MESSAGE / 8 {
                    return Err(BadMessage);
                }
                let subs = (0..n)
                    .map(|_| Ok((r.bytes()?, r.entries()?)))
                    .collect::<Result<_, _>>()?;
                Reply::Entries(v, next, subs)
            }
            _ => return Err(BadMessage),
        };
        r.end()?;
        Ok(reply)
    }
}

/// Sends one message, with `fd` attached when given.
pub fn send(sock: BorrowedFd<'_>, msg: &[u8], fd: Option<BorrowedFd<'_>>) -> Result<(), Errno> {
    let iov = [IoSlice::new(msg)];
    let fds;
    let cmsgs: &[ControlMessage<'_>] = match fd {
        Some(f) => {
            fds = [f.as_raw_fd()];
            &[ControlMessage::ScmRights(&fds)]
        }
        None => &[],
    };
    loop {
        match socket::sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Errno(e as i32)),
        }
    }
}

/// Receives one message into `buf`, with the descriptor it carries. `Ok(None)` at end of file
/// (the peer closed). A truncated message is EMSGSIZE.
pub fn recv(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<Option<(usize, Option<OwnedFd>)>, Errno> {
    loop {
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = match socket::recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Errno(e as i32)),
        };
        let mut fd = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(raw) = c {
                    for r in raw {
                        // Only one is ever sent; any extra is closed by dropping it.
                        let owned = host_unsafe::own_fd(r);
                        if fd.is_none() {
                            fd = Some(owned);
                        }
                    }
                }
            }
        }
        let n = msg.bytes;
        let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
        if n == 0 && fd.is_none() {
            return Ok(None);
        }
        if truncated {
            return Err(Errno::EMSGSIZE);
        }
        return Ok(Some((n, fd)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let reqs = [
            Request::Attach { export: 3 },
            Request::Walk {
                dir: 7,
                names: vec![b"a".to_vec(), b"bc".to_vec()],
            },
            Request::Rename {
                old_dir: 1,
                old_name: b"x".to_vec(),
                new_dir: 2,
                new_name: b"y".to_vec(),
                flags: 1,
            },
            Request::Setattr {
                fid: 9,
                attrs: Attrs {
                    mask: SET_MODE | SET_MTIME,
                    mode: 0o644,
                    mtime: (5, 6),
                    ..Default::default()
                },
            },
            Request::Clunk {
                fids: vec![1, 2, 3],
            },
            Request::Channel { cpu: 1 },
            Request::Channel { cpu: ANY_CPU },
            Request::Connect { fid: 4, stype: 5 },
            Request::ReadDir {
                fid: 4,
                path: vec![b"a".to_vec(), b"b".to_vec()],
                offset: 77,
                subdirs: true,
                ahead: vec![b"c".to_vec()],
                room: 4096,
            },
            Request::OpenAt {
                dir: 4,
                name: b"f".to_vec(),
                flags: 2,
            },
        ];
        for r in reqs {
            assert_eq!(Request::decode(&r.encode()), Ok(r.clone()));
        }
    }

    #[test]
    fn replies_round_trip() {
        let st = Stat {
            st_ino: 42,
            st_mode: 0o100644,
            ..Default::default()
        };
        let replies = [
            Reply::Error(Errno::ENOENT),
            Reply::Node(5, st),
            Reply::Nodes(vec![(1, st), (2, st)]),
            Reply::Dents(vec![1, 2, 3], 99),
            Reply::Opened,
            Reply::Entries(
                vec![Entry {
                    name: b"l".to_vec(),
                    stat: st,
                    target: b"../t".to_vec(),
                }],
                Some(12),
                Vec::new(),
            ),
            Reply::Entries(
                Vec::new(),
                None,
                vec![(
                    b"d".to_vec(),
                    vec![Entry {
                        name: b"e".to_vec(),
                        stat: st,
                        target: Vec::new(),
                    }],
                )],
            ),
        ];
        for r in replies {
            let back = Reply::decode(&r.encode()).expect("decodes");
            assert_eq!(back.encode(), r.encode());
        }
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(Request::decode(&[]), Err(BadMessage));
        assert_eq!(Request::decode(&[99]), Err(BadMessage));
        assert_eq!(Request::decode(&[2, 1, 0]), Err(BadMessage));
        // Trailing bytes.
        let mut m = Request::Channel { cpu: 0 }.encode();
        m.push(0);
        assert_eq!(Request::decode(&m), Err(BadMessage));
        // A count larger than the message.
        assert_eq!(
            Request::decode(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0]),
            Err(BadMessage)
        );
    }
}
