// SPDX-License-Identifier: Apache-2.0
//! Unix socket addresses: validation, binding (a path, an abstract name, or an automatic
//! one), and finding the socket an address names.
//!
//! - A *path* name is a socket inode made in the sandbox's VFS through the directory's mknod
//!   (mode 0777 less the umask, EADDRINUSE when the name exists); the socket is found again by
//!   the inode's (st_dev, st_ino), so renames and hard links lead to it and an unlink removes
//!   only the name. connect and sendto need write permission on the inode (EACCES).
//! - An *abstract* name (a leading NUL) lives in a table of the sandbox's own, one per socket
//!   type as Linux's hash makes it; nothing outside the sandbox sees it.
//! - *Autobind* (bind with the family alone, or an implicit one when SO_PASSCRED is set)
//!   picks an unused abstract name of five hex digits.
//! - A path to a socket file no sandbox socket is bound to is refused (ECONNREFUSED), unless
//!   it is a host's socket file reached through a gofer-backed mount and `--host-uds open` was
//!   given: [`lookup`] then names it ([`Peer::Host`]) for [`super::host`] to connect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::Sock;
use crate::kernel::{lock, Task};
use crate::vfs::notify;
use crate::vfs::path::Resolved;

/// offsetof(struct sockaddr_un, sun_path).
const PATH_OFFSET: usize = 2;

/// Where a bound name is registered.
#[derive(Clone)]
pub(super) enum Key {
    /// A path: the socket inode's (st_dev, st_ino).
    Path(u64, u64),
    /// An abstract name (the bytes after sun_family).
    Abstract(Box<[u8]>),
    /// Inherited from a listener by an accepted connection: registered nowhere.
    Copied,
}

/// A socket's name.
pub(super) struct Name {
    /// The address as getsockname returns it (a path's includes its NUL: Linux's length).
    pub addr: Box<[u8]>,
    pub key: Key,
}

impl Name {
    /// A copy for a connection accepted from a listener with this name.
    pub fn copied(&self) -> Name {
        Name {
            addr: self.addr.clone(),
            key: Key::Copied,
        }
    }

    /// The name as /proc/net/unix shows it: a path without its NUL, an abstract name with '@'
    /// for every NUL.
    pub fn proc_path(&self) -> String {
        let path = &self.addr[PATH_OFFSET.min(self.addr.len())..];
        let bytes: Vec<u8> = match path.first() {
            Some(0) => path
                .iter()
                .map(|b| if *b == 0 { b'@' } else { *b })
                .collect(),
            Some(_) => path[..path.len() - 1]
                .iter()
                .map(|b| if *b == 0 { b'@' } else { *b })
                .collect(),
            None => Vec::new(),
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

type PathTable = HashMap<(u64, u64), Weak<Sock>>;
type AbstractTable = HashMap<(u32, Box<[u8]>), Weak<Sock>>;

fn paths() -> MutexGuard<'static, PathTable> {
    static T: std::sync::OnceLock<Mutex<PathTable>> = std::sync::OnceLock::new();
    lock(T.get_or_init(Default::default))
}

fn abstracts() -> MutexGuard<'static, AbstractTable> {
    static T: std::sync::OnceLock<Mutex<AbstractTable>> = std::sync::OnceLock::new();
    lock(T.get_or_init(Default::default))
}

/// Checks an address (`unix_validate_addr`): longer than the family, no longer than
/// `sockaddr_un`, and AF_UNIX; EINVAL otherwise.
pub(super) fn validate(raw: &[u8]) -> Result<(), Errno> {
    if raw.len() <= PATH_OFFSET || raw.len() > SOCKADDR_UN_SIZE {
        return Err(Errno::EINVAL);
    }
    if crate::net::addr::family(raw) != AF_UNIX {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// A path address's path: sun_path up to its first NUL (`unix_mkname_bsd`; a full 108-byte
/// sun_path has none and is taken whole).
fn path_of(raw: &[u8]) -> &[u8] {
    let p = &raw[PATH_OFFSET..];
    let end = p.iter().position(|b| *b == 0).unwrap_or(p.len());
    &p[..end]
}

/// Whether a live socket holds a table entry.
fn live(w: &Weak<Sock>) -> Option<Arc<Sock>> {
    w.upgrade().filter(|s| !s.lock().dead)
}

/// bind(2) (`unix_bind`).
pub(super) fn bind(sk: &Arc<Sock>, t: &Task, raw: &[u8]) -> Result<(), Errno> {
    if raw.len() == PATH_OFFSET && crate::net::addr::family(raw) == AF_UNIX {
        return autobind(sk);
    }
    validate(raw)?;
    if raw[PATH_OFFSET] != 0 {
        bind_path(sk, t, raw)
    } else {
        bind_abstract(sk, raw)
    }
}

fn bind_path(sk: &Arc<Sock>, t: &Task, raw: &[u8]) -> Result<(), Errno> {
    use crate::syscalls::sys_file::{may_change_dir, new_owner, walk_at};
    let path = path_of(raw);
    let mut addr = raw[..PATH_OFFSET].to_vec();
    addr.extend_from_slice(path);
    addr.push(0);
    let in_use = |e: Errno| {
        if e == Errno::EEXIST {
            Errno::EADDRINUSE
        } else {
            e
        }
    };
    let r = walk_at(t, AT_FDCWD, path, false)?;
    if r.inode.is_some() || r.name.is_empty() || r.name == b"." || r.name == b".." {
        return Err(Errno::EADDRINUSE);
    }
    if r.trailing_slash {
        return Err(Errno::ENOENT);
    }
    crate::kernel::landlock::check_in_dir(t, &r, LANDLOCK_ACCESS_FS_MAKE_SOCK)?;
    let dir = may_change_dir(t, &r)?;
    let umask = lock(&t.fs).umask;
    let node = r
        .parent
        .mknod(&r.name, S_IFSOCK | (0o777 & !umask), 0, new_owner(t, &dir))
        .map_err(in_use)?;
    notify::created(r.parent.as_ref(), &r.name, false);
    let _g = lock(&sk.bindlock);
    let st = match node.stat() {
        Ok(st) if sk.name.get().is_none() => st,
        other => {
            // Bound already (EINVAL), or the new inode cannot be looked at: the name goes.
            let _ = r.parent.unlink(&r.name);
            return Err(other.err().unwrap_or(Errno::EINVAL));
        }
    };
    let key = (st.st_dev, st.st_ino);
    paths().insert(key, Arc::downgrade(sk));
    let _ = sk.name.set(super::Name {
        addr: addr.into_boxed_slice(),
        key: Key::Path(key.0, key.1),
    });
    Ok(())
}

fn bind_abstract(sk: &Arc<Sock>, raw: &[u8]) -> Result<(), Errno> {
    let _g = lock(&sk.bindlock);
    if sk.name.get().is_some() {
        return Err(Errno::EINVAL);
    }
    let name: Box<[u8]> = raw[PATH_OFFSET..].into();
    let mut t = abstracts();
    let k = (sk.stype, name.clone());
    if t.get(&k).and_then(live).is_some() {
        return Err(Errno::EADDRINUSE);
    }
    t.insert(k, Arc::downgrade(sk));
    let _ = sk.name.set(Name {
        addr: raw.into(),
        key: Key::Abstract(name),
    });
    Ok(())
}

/// Binds an unused abstract name of five hex digits (`unix_autobind`); nothing to do when
/// bound already. ENOSPC when all 2^20 are taken.
pub(super) fn autobind(sk: &Arc<Sock>) -> Result<(), Errno> {
    let _g = lock(&sk.bindlock);
    if sk.name.get().is_some() {
        return Ok(());
    }
    let mut t = abstracts();
    let start = (sk.common.ino.wrapping_mul(0x9E37_79B9) ^ (crate::vfs::now().1 as u64)) as u32;
    let last = start & 0xF_FFFF;
    let mut n = last;
    loop {
        n = (n + 1) & 0xF_FFFF;
        let mut name = vec![0u8];
        name.extend_from_slice(format!("{n:05x}").as_bytes());
        let k = (sk.stype, name.clone().into_boxed_slice());
        if t.get(&k).and_then(live).is_none() {
            t.insert(k, Arc::downgrade(sk));
            let mut addr = AF_UNIX.to_ne_bytes().to_vec();
            addr.extend_from_slice(&name);
            let _ = sk.name.set(Name {
                addr: addr.into_boxed_slice(),
                key: Key::Abstract(name.into_boxed_slice()),
            });
            return Ok(());
        }
        if n == last {
            return Err(Errno::ENOSPC);
        }
    }
}

/// Removes a released socket's names from the tables.
pub(super) fn unhash(sk: &Sock) {
    let Some(n) = sk.name.get() else {
        return;
    };
    match &n.key {
        Key::Path(dev, ino) => {
            let mut t = paths();
            if t.get(&(*dev, *ino))
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), sk))
            {
                t.remove(&(*dev, *ino));
            }
        }
        Key::Abstract(name) => {
            let mut t = abstracts();
            let k = (sk.stype, name.clone());
            if t.get(&k).is_some_and(|w| std::ptr::eq(w.as_ptr(), sk)) {
                t.remove(&k);
            }
        }
        Key::Copied => {}
    }
}

/// What an address names.
pub(super) enum Peer {
    /// A socket of the sandbox's.
    Sandbox(Arc<Sock>),
    /// A host socket file reached through a gofer-backed mount (`--host-uds open`).
    Host(HostPath),
}

/// A host socket file to connect to.
pub(crate) struct HostPath {
    /// The file (its file system connects it: [`crate::vfs::Inode::connect_host_socket`]).
    pub inode: Arc<dyn crate::vfs::Inode>,
    /// Its (st_dev, st_ino) in the sandbox.
    pub key: (u64, u64),
}

/// The socket `raw` (validated) names, for a socket of type `stype` (`unix_find_other`).
pub(super) fn lookup(t: &Task, raw: &[u8], stype: u32) -> Result<Peer, Errno> {
    if raw[PATH_OFFSET] != 0 {
        find_path(t, raw, stype)
    } else {
        let k = (stype, Box::<[u8]>::from(&raw[PATH_OFFSET..]));
        let sk = abstracts()
            .get(&k)
            .and_then(Weak::upgrade)
            .ok_or(Errno::ECONNREFUSED)?;
        crate::kernel::landlock::check_abstract_unix(t, sk.landlock.as_deref())?;
        Ok(Peer::Sandbox(sk))
    }
}

/// The address of a path `raw` names, as getpeername shows a peer bound to it: the family,
/// the path, a NUL.
pub(super) fn peer_addr(raw: &[u8]) -> Box<[u8]> {
    let mut addr = raw[..PATH_OFFSET.min(raw.len())].to_vec();
    addr.extend_from_slice(path_of(raw));
    addr.push(0);
    addr.into_boxed_slice()
}

fn find_path(t: &Task, raw: &[u8], stype: u32) -> Result<Peer, Errno> {
    let r = crate::syscalls::sys_file::walk_at(t, AT_FDCWD, path_of(raw), true)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    let writable = r
        .inode
        .as_ref()
        .is_some_and(|i| t.creds.may_file(i.as_ref(), &st, W_OK));
    if !writable {
        return Err(Errno::EACCES);
    }
    if st.st_mode & S_IFMT != S_IFSOCK {
        return Err(Errno::ECONNREFUSED);
    }
    let found = paths().get(&(st.st_dev, st.st_ino)).and_then(Weak::upgrade);
    let sk = match found {
        Some(sk) => sk,
        None => return host_socket(r, (st.st_dev, st.st_ino)),
    };
    if sk.stype != stype {
        return Err(Errno::EPROTOTYPE);
    }
    Ok(Peer::Sandbox(sk))
}

/// A socket file no sandbox socket is bound to: one left behind by a socket since closed, or a
/// host socket reached through a volume. Both refuse the connection (Linux: no listener, and
/// runsc without --host-uds), unless `--host-uds open` was given: then the file is the peer,
/// for its file system to connect (the gofer connects a host socket to it and donates it; any
/// other file system, and a file no host socket is bound to, still refuse). The caller's
/// write permission on the file was checked, as the sandbox's credentials see it.
fn host_socket(r: Resolved, key: (u64, u64)) -> Result<Peer, Errno> {
    if !crate::net::stack::config().host_uds {
        return Err(Errno::ECONNREFUSED);
    }
    let inode = r.inode.ok_or(Errno::ECONNREFUSED)?;
    Ok(Peer::Host(HostPath { inode, key }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert_eq!(validate(&[1, 0]), Err(Errno::EINVAL));
        assert_eq!(validate(&[1, 0, b'a']), Ok(()));
        assert_eq!(validate(&[2, 0, b'a']), Err(Errno::EINVAL));
        assert_eq!(validate(&[1u8; 111]), Err(Errno::EINVAL));
    }

    #[test]
    fn paths_stop_at_nul() {
        assert_eq!(path_of(&[1, 0, b'a', b'b', 0, b'c']), b"ab");
        let full = [b'x'; 110];
        assert_eq!(path_of(&full).len(), 108);
    }

    #[test]
    fn proc_paths() {
        let n = Name {
            addr: [1u8, 0, b'/', b't', 0].into(),
            key: Key::Copied,
        };
        assert_eq!(n.proc_path(), "/t");
        let a = Name {
            addr: [1u8, 0, 0, b'a', 0, b'b'].into(),
            key: Key::Copied,
        };
        assert_eq!(a.proc_path(), "@a@b");
    }
}
