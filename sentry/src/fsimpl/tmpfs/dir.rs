// SPDX-License-Identifier: Apache-2.0
//! tmpfs directories: entries in creation order, so that a getdents position (a creation
//! sequence number) stays valid while entries come and go, as `rm -r` needs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use syscalls::abi::*;
use syscalls::Errno;

use super::{Kind, TmpInode};
use crate::kernel::lock;
use crate::vfs::{downcast, dtype_of, now, put_dirent, FileOps, Inode};

#[derive(Default)]
struct Entries {
    by_seq: BTreeMap<u64, (Vec<u8>, Arc<TmpInode>)>,
    names: HashMap<Vec<u8>, u64>,
    next: u64,
}

/// A directory's entries.
#[derive(Default)]
pub(crate) struct Dir {
    inner: Mutex<Entries>,
}

impl Dir {
    pub(crate) fn get(&self, name: &[u8]) -> Option<Arc<TmpInode>> {
        let e = lock(&self.inner);
        e.names
            .get(name)
            .and_then(|s| e.by_seq.get(s))
            .map(|(_, n)| n.clone())
    }

    fn insert(&self, name: &[u8], n: Arc<TmpInode>) {
        let mut e = lock(&self.inner);
        let seq = e.next;
        e.next += 1;
        e.names.insert(name.to_vec(), seq);
        e.by_seq.insert(seq, (name.to_vec(), n));
    }

    fn take(&self, name: &[u8]) -> Option<Arc<TmpInode>> {
        let mut e = lock(&self.inner);
        let seq = e.names.remove(name)?;
        e.by_seq.remove(&seq).map(|(_, n)| n)
    }

    fn is_empty(&self) -> bool {
        lock(&self.inner).names.is_empty()
    }

    fn entries_from(&self, seq: u64, max: usize) -> Vec<(u64, Vec<u8>, Arc<TmpInode>)> {
        lock(&self.inner)
            .by_seq
            .range(seq..)
            .take(max)
            .map(|(s, (name, n))| (*s, name.clone(), n.clone()))
            .collect()
    }
}

fn is_dir(n: &TmpInode) -> bool {
    matches!(n.kind, Kind::Dir(_))
}

impl TmpInode {
    pub(crate) fn dir(&self) -> Result<&Dir, Errno> {
        match &self.kind {
            Kind::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn add_links(&self, delta: i64) {
        let mut m = lock(&self.meta);
        m.nlink = m.nlink.saturating_add_signed(delta);
        m.ctime = now();
    }

    /// Links a new file in as `name`.
    pub(crate) fn insert_new(&self, name: &[u8], n: Arc<TmpInode>) -> Result<(), Errno> {
        let fs = self.shared()?;
        let _tree = lock(&fs.tree);
        let dir = self.dir()?;
        if lock(&self.meta).nlink == 0 {
            return Err(Errno::ENOENT);
        }
        if dir.get(name).is_some() {
            return Err(Errno::EEXIST);
        }
        if is_dir(&n) {
            self.add_links(1);
        }
        dir.insert(name, n);
        self.touch(true, true);
        Ok(())
    }

    pub(crate) fn link_existing(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        let t = downcast::<TmpInode>(target).ok_or(Errno::EXDEV)?;
        let fs = self.shared()?;
        let _tree = lock(&fs.tree);
        let dir = self.dir()?;
        if is_dir(&t) {
            return Err(Errno::EPERM);
        }
        if lock(&t.meta).nlink == 0 {
            return Err(Errno::ENOENT);
        }
        if dir.get(name).is_some() {
            return Err(Errno::EEXIST);
        }
        t.add_links(1);
        dir.insert(name, t);
        self.touch(true, true);
        Ok(())
    }

    pub(crate) fn remove(&self, name: &[u8], want_dir: bool) -> Result<(), Errno> {
        let fs = self.shared()?;
        let _tree = lock(&fs.tree);
        let dir = self.dir()?;
        let child = dir.get(name).ok_or(Errno::ENOENT)?;
        match (want_dir, is_dir(&child)) {
            (true, false) => return Err(Errno::ENOTDIR),
            (false, true) => return Err(Errno::EISDIR),
            (true, true) if !child.dir()?.is_empty() => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        dir.take(name);
        if want_dir {
            self.add_links(-1);
            lock(&child.meta).nlink = 0;
        } else {
            child.add_links(-1);
        }
        self.touch(true, true);
        Ok(())
    }

    pub(crate) fn rename_to(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let nd = downcast::<TmpInode>(new_dir).ok_or(Errno::EXDEV)?;
        let fs = self.shared()?;
        let _tree = lock(&fs.tree);
        let (sd, dd) = (self.dir()?, nd.dir()?);
        let src = sd.get(old).ok_or(Errno::ENOENT)?;
        let dst = dd.get(new);
        if flags & RENAME_EXCHANGE != 0 {
            let dst = dst.ok_or(Errno::ENOENT)?;
            sd.take(old);
            dd.take(new);
            sd.insert(old, dst.clone());
            dd.insert(new, src.clone());
            if is_dir(&src) != is_dir(&dst) && self.ino != nd.ino {
                let d = if is_dir(&src) { 1 } else { -1 };
                nd.add_links(d);
                self.add_links(-d);
            }
        } else {
            if let Some(dst) = &dst {
                if flags & RENAME_NOREPLACE != 0 {
                    return Err(Errno::EEXIST);
                }
                if Arc::ptr_eq(dst, &src) {
                    return Ok(());
                }
                match (is_dir(&src), is_dir(dst)) {
                    (true, false) => return Err(Errno::ENOTDIR),
                    (false, true) => return Err(Errno::EISDIR),
                    (true, true) if !dst.dir()?.is_empty() => return Err(Errno::ENOTEMPTY),
                    _ => {}
                }
                dd.take(new);
                if is_dir(dst) {
                    nd.add_links(-1);
                    lock(&dst.meta).nlink = 0;
                } else {
                    dst.add_links(-1);
                }
            }
            sd.take(old);
            dd.insert(new, src.clone());
            if is_dir(&src) && self.ino != nd.ino {
                self.add_links(-1);
                nd.add_links(1);
            }
        }
        self.touch(true, true);
        nd.touch(true, true);
        src.touch(false, true);
        Ok(())
    }
}

/// An open tmpfs directory.
pub(crate) struct DirFile {
    pub(crate) node: Arc<TmpInode>,
}

impl FileOps for DirFile {
    fn read_at(&self, _buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        self.node.stat()
    }

    /// Positions: 0 is `.`, 1 is `..`, then 2 + the creation sequence number of an entry.
    fn getdents(&self, buf: &mut [u8], pos: &mut u64) -> Result<usize, Errno> {
        let dir = self.node.dir()?;
        // A removed directory lists nothing, not even `.` (iterate_dir's IS_DEADDIR).
        if lock(&self.node.meta).nlink == 0 {
            return Err(Errno::ENOENT);
        }
        let mut used = 0;
        while *pos < 2 {
            let name: &[u8] = if *pos == 0 { b"." } else { b".." };
            if !put_dirent(buf, &mut used, self.node.ino, *pos as i64 + 1, DT_DIR, name) {
                return if used == 0 {
                    Err(Errno::EINVAL)
                } else {
                    Ok(used)
                };
            }
            *pos += 1;
        }
        loop {
            let batch = dir.entries_from(*pos - 2, 64);
            if batch.is_empty() {
                return Ok(used);
            }
            for (seq, name, n) in batch {
                let mode = lock(&n.meta).mode;
                let next = seq + 3;
                if !put_dirent(buf, &mut used, n.ino, next as i64, dtype_of(mode), &name) {
                    return if used == 0 {
                        Err(Errno::EINVAL)
                    } else {
                        Ok(used)
                    };
                }
                *pos = next;
            }
        }
    }
}
