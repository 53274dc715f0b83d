// SPDX-License-Identifier: Apache-2.0
//! Overlay directories: look-up through both trees, whiteouts, merged listings, rename.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::node::OvNode;
use super::UPPER_INO;
use crate::fsimpl::synthetic::ListDir;
use crate::kernel::lock;
use crate::vfs::{FileOps, Inode};

fn lookup_opt(dir: &Option<Arc<dyn Inode>>, name: &[u8]) -> Result<Option<Arc<dyn Inode>>, Errno> {
    match dir {
        None => Ok(None),
        Some(d) => match d.lookup(name) {
            Ok(i) => Ok(Some(i)),
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => Ok(None),
            Err(e) => Err(e),
        },
    }
}

/// Most unchanged lower directories kept cached: 4,096, or a quarter of the descriptors the
/// gofer may have (it inherits the sandbox's hard RLIMIT_NOFILE and raises its soft limit to
/// it). Each holds a handle in the gofer (an open descriptor there), so the cache must stay
/// bounded: a walk of a whole tree (`find /`) would otherwise run the gofer out of descriptors.
fn clean_cached() -> usize {
    static CAP: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CAP.get_or_init(|| {
        let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(_, h)| h)
            .unwrap_or(1024);
        usize::try_from(hard / 4).unwrap_or(4096).clamp(64, 4096)
    })
}

/// Cached unchanged lower directories, oldest first.
static CLEAN: Mutex<VecDeque<Weak<OvNode>>> = Mutex::new(VecDeque::new());

/// Records a newly cached clean directory, and drops the oldest ones beyond [`clean_cached`]
/// that nothing else uses (no open file, no cached child, no change since).
fn remember_clean(node: &Arc<OvNode>) {
    let mut q = lock(&CLEAN);
    q.push_back(Arc::downgrade(node));
    // A few attempts per insertion: busy entries go to the back of the queue.
    let mut tries = 8;
    while q.len() > clean_cached() && tries > 0 {
        tries -= 1;
        let Some(w) = q.pop_front() else { break };
        let Some(n) = w.upgrade() else { continue };
        let parent = lock(&n.parent).clone();
        let Some((p, name)) = parent else { continue };
        if !n.is_clean() {
            // Changed since: it stays cached for good (its state lives in the cache).
            if n.upper().is_some() {
                continue;
            }
            q.push_back(w);
            continue;
        }
        let mut children = lock(&p.children);
        // Held by the parent's map and by `n` here, and nothing else.
        let only_cache =
            children.get(&name).is_some_and(|c| Arc::ptr_eq(c, &n)) && Arc::strong_count(&n) == 2;
        if only_cache {
            children.remove(&name);
        } else {
            drop(children);
            q.push_back(w);
        }
    }
}

/// Reads a whole directory: name -> (ino, type).
fn list(dir: &Arc<dyn Inode>) -> Result<BTreeMap<Vec<u8>, (u64, u8)>, Errno> {
    let f = dir.open(O_RDONLY | O_DIRECTORY)?;
    let mut out = BTreeMap::new();
    thread_local! {
        // Kept for the thread's next listing: a zeroed 64 KiB allocation per directory opened
        // showed in profiles of a tree walk.
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|cell| {
        let mut guard = cell.try_borrow_mut();
        let mut fresh;
        let buf: &mut Vec<u8> = match guard.as_deref_mut() {
            Ok(v) => v,
            Err(_) => {
                fresh = Vec::new();
                &mut fresh
            }
        };
        if buf.len() < 65536 {
            buf.resize(65536, 0);
        }
        fill_listing(&*f, buf, &mut out)
    })?;
    Ok(out)
}

/// Reads every entry of the open directory `f` into `out`, through `buf`.
fn fill_listing(
    f: &dyn FileOps,
    buf: &mut [u8],
    out: &mut BTreeMap<Vec<u8>, (u64, u8)>,
) -> Result<(), Errno> {
    let mut pos = 0u64;
    loop {
        let n = f.getdents(buf, &mut pos)?;
        if n == 0 {
            return Ok(());
        }
        let mut at = 0;
        while at + DIRENT64_NAME_OFFSET <= n {
            let ino = u64::from_le_bytes(buf[at..at + 8].try_into().unwrap_or_default());
            let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
            if reclen == 0 || at + reclen > n {
                return Err(Errno::EIO);
            }
            let dtype = buf[at + 18];
            let name = &buf[at + DIRENT64_NAME_OFFSET..at + reclen];
            let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
            if name != b"." && name != b".." {
                out.insert(name.to_vec(), (ino, dtype));
            }
            at += reclen;
        }
    }
}

impl OvNode {
    /// The child `name`, from the cache of directories or both trees.
    pub(super) fn child(&self, name: &[u8]) -> Result<Arc<OvNode>, Errno> {
        if let Some(c) = lock(&self.children).get(name) {
            return Ok(c.clone());
        }
        if lock(&self.whiteouts).contains(name) {
            return Err(Errno::ENOENT);
        }
        let upper = lookup_opt(&self.upper(), name)?;
        // The lower file, even when an upper one hides it: its presence decides whether a
        // removal leaves a whiteout, and its inode number is the node's.
        let lower = if self.opaque.load(Ordering::Relaxed) {
            None
        } else {
            lookup_opt(&self.lower, name)?
        };
        if upper.is_none() && lower.is_none() {
            return Err(Errno::ENOENT);
        }
        let node = OvNode::make(self.dev, Some((self.me()?, name.to_vec())), lower, upper);
        if node.is_dir()? {
            lock(&self.children).insert(name.to_vec(), node.clone());
            if node.is_clean() {
                remember_clean(&node);
            }
        }
        Ok(node)
    }

    /// Whether the node is a lower directory the sandbox never changed, with nothing cached
    /// below it: dropping it from its parent's cache loses nothing but a look-up.
    fn is_clean(&self) -> bool {
        self.upper().is_none()
            && self.lower.is_some()
            && !self.opaque.load(Ordering::Relaxed)
            && lock(&self.whiteouts).is_empty()
            && lock(&self.children).is_empty()
    }

    /// Wraps a file just made in the upper directory.
    pub(super) fn created(
        &self,
        name: &[u8],
        u: Arc<dyn Inode>,
        dir: bool,
    ) -> Result<Arc<dyn Inode>, Errno> {
        let was_whiteout = lock(&self.whiteouts).remove(name);
        let node = OvNode::make(self.dev, Some((self.me()?, name.to_vec())), None, Some(u));
        if dir {
            // A new directory where a lower one was removed must not show its contents.
            node.opaque
                .store(was_whiteout || self.lower.is_some(), Ordering::Relaxed);
            lock(&self.children).insert(name.to_vec(), node.clone());
        }
        Ok(node)
    }

    fn lower_is_dir(&self) -> bool {
        self.lower
            .as_ref()
            .is_some_and(|l| l.stat().is_ok_and(|s| s.st_mode & S_IFMT == S_IFDIR))
    }

    /// The merged listing: upper entries, then lower ones not hidden.
    fn merged(&self) -> Result<BTreeMap<Vec<u8>, (u64, u8)>, Errno> {
        let lower_dir = match &self.lower {
            Some(l) if !self.opaque.load(Ordering::Relaxed) && self.lower_is_dir() => Some(l),
            _ => None,
        };
        let mut lower = match lower_dir {
            Some(l) => list(l)?,
            None => BTreeMap::new(),
        };
        for w in lock(&self.whiteouts).iter() {
            lower.remove(w);
        }
        if let Some(u) = self.upper() {
            for (name, (ino, t)) in list(&u)? {
                match lower.get(&name) {
                    Some((lino, _)) => {
                        let lino = *lino;
                        lower.insert(name, (lino, t));
                    }
                    None => {
                        lower.insert(name, (ino + UPPER_INO, t));
                    }
                }
            }
        }
        Ok(lower)
    }

    pub(super) fn open_dir(&self) -> Result<Box<dyn FileOps>, Errno> {
        // A lower directory the sandbox never changed lists as the lower one does (its order,
        // its inode numbers, which are the overlay's too): no merge to build per open.
        if self.upper().is_none()
            && !self.opaque.load(Ordering::Relaxed)
            && lock(&self.whiteouts).is_empty()
            && self.lower_is_dir()
        {
            if let Some(l) = &self.lower {
                return l.open(O_RDONLY | O_DIRECTORY);
            }
        }
        let stat = self.stat()?;
        let mut entries = vec![
            (stat.st_ino, DT_DIR, b".".to_vec()),
            (stat.st_ino, DT_DIR, b"..".to_vec()),
        ];
        for (name, (ino, t)) in self.merged()? {
            entries.push((ino, t, name));
        }
        Ok(Box::new(ListDir {
            stat,
            list: entries,
        }))
    }

    pub(super) fn remove(&self, name: &[u8], dir: bool) -> Result<(), Errno> {
        let child = self.child(name)?;
        let cdir = child.is_dir()?;
        if dir && !cdir {
            return Err(Errno::ENOTDIR);
        }
        if !dir && cdir {
            return Err(Errno::EISDIR);
        }
        if dir && !child.merged()?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        let up = self.copy_up()?;
        if child.upper().is_some() {
            if dir {
                up.rmdir(name)?;
            } else {
                up.unlink(name)?;
            }
        }
        if child.lower.is_some() {
            lock(&self.whiteouts).insert(name.to_vec());
        }
        lock(&self.children).remove(name);
        Ok(())
    }

    pub(super) fn rename_to(
        &self,
        old: &[u8],
        nd: &Arc<OvNode>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let src = self.child(old)?;
        let sdir = src.is_dir()?;
        // Moving a lower directory would need redirects; Linux's overlay says EXDEV too, and
        // mv then copies.
        if sdir && src.lower_is_dir() {
            return Err(Errno::EXDEV);
        }
        let dst = match nd.child(new) {
            Ok(d) => Some(d),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        if flags & RENAME_EXCHANGE != 0
            && dst
                .as_ref()
                .is_some_and(|d| d.lower.is_some() || src.lower.is_some())
        {
            return Err(Errno::EXDEV);
        }
        let mut dst_lower_dir = false;
        if let Some(d) = &dst {
            if d.is_dir()? && flags & RENAME_EXCHANGE == 0 {
                if !d.merged()?.is_empty() {
                    return Err(Errno::ENOTEMPTY);
                }
                dst_lower_dir = d.lower_is_dir();
                if d.upper().is_none() {
                    // Only a lower (empty) directory: hide it, then move into the free name.
                    nd.copy_up()?;
                    lock(&nd.whiteouts).insert(new.to_vec());
                }
            }
        }
        src.copy_up()?;
        let su = self.copy_up()?;
        let du = nd.copy_up()?;
        // A lower-only file at the destination needs nothing: the new upper name hides it.
        su.rename(old, &du, new, flags & !RENAME_NOREPLACE)?;
        if src.lower.is_some() && flags & RENAME_EXCHANGE == 0 {
            lock(&self.whiteouts).insert(old.to_vec());
        }
        lock(&nd.whiteouts).remove(new);
        let moved = lock(&self.children).remove(old);
        let replaced = lock(&nd.children).remove(new);
        if let Some(m) = moved {
            if dst_lower_dir {
                m.opaque.store(true, Ordering::Relaxed);
            }
            *lock(&m.parent) = Some((nd.clone(), new.to_vec()));
            lock(&nd.children).insert(new.to_vec(), m);
        }
        if flags & RENAME_EXCHANGE != 0 {
            if let Some(r) = replaced {
                *lock(&r.parent) = Some((self.me()?, old.to_vec()));
                lock(&self.children).insert(old.to_vec(), r);
            }
        }
        Ok(())
    }
}
