// SPDX-License-Identifier: Apache-2.0
//! Overlay nodes: a lower file, an upper file, or both; copy-up.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::UPPER_INO;
use crate::kernel::lock;
use crate::vfs::{downcast, FileOps, Inode, Owner, SetAttr, TimeSpec};

/// An overlay file.
pub struct OvNode {
    pub(super) this: Weak<OvNode>,
    pub(super) dev: u64,
    /// The directory holding this node (None for the root) and its name there.
    pub(super) parent: Mutex<Option<(Arc<OvNode>, Vec<u8>)>>,
    pub(super) lower: Option<Arc<dyn Inode>>,
    pub(super) upper: Mutex<Option<Arc<dyn Inode>>>,
    /// Directories: cached child directories, removed lower names, and whether the lower
    /// directory is hidden altogether.
    pub(super) children: Mutex<HashMap<Vec<u8>, Arc<OvNode>>>,
    pub(super) whiteouts: Mutex<HashSet<Vec<u8>>>,
    pub(super) opaque: AtomicBool,
    /// Serialises copy-ups into this directory.
    copy_lock: Mutex<()>,
}

fn is_dir(st: &Stat) -> bool {
    st.st_mode & S_IFMT == S_IFDIR
}

impl OvNode {
    /// The root: the upper root takes the lower root's attributes, as a copy-up would.
    pub(super) fn root(dev: u64, lower: Arc<dyn Inode>, upper: Arc<dyn Inode>) -> Arc<OvNode> {
        if let Ok(st) = lower.stat() {
            let _ = upper.setattr(&copied_attrs(&st));
        }
        Self::make(dev, None, Some(lower), Some(upper))
    }

    pub(super) fn make(
        dev: u64,
        parent: Option<(Arc<OvNode>, Vec<u8>)>,
        lower: Option<Arc<dyn Inode>>,
        upper: Option<Arc<dyn Inode>>,
    ) -> Arc<OvNode> {
        Arc::new_cyclic(|this| OvNode {
            this: this.clone(),
            dev,
            parent: Mutex::new(parent),
            lower,
            upper: Mutex::new(upper),
            children: Mutex::new(HashMap::new()),
            whiteouts: Mutex::new(HashSet::new()),
            opaque: AtomicBool::new(false),
            copy_lock: Mutex::new(()),
        })
    }

    pub(super) fn me(&self) -> Result<Arc<OvNode>, Errno> {
        self.this.upgrade().ok_or(Errno::ESTALE)
    }

    pub(super) fn upper(&self) -> Option<Arc<dyn Inode>> {
        lock(&self.upper).clone()
    }

    /// The file that answers reads: the upper one when there is one.
    pub(super) fn top(&self) -> Result<Arc<dyn Inode>, Errno> {
        self.upper()
            .or_else(|| self.lower.clone())
            .ok_or(Errno::ESTALE)
    }

    pub(super) fn is_dir(&self) -> Result<bool, Errno> {
        Ok(is_dir(&self.top()?.stat()?))
    }

    /// Copies the file up (its ancestors first) and returns its upper file.
    pub(super) fn copy_up(&self) -> Result<Arc<dyn Inode>, Errno> {
        if let Some(u) = self.upper() {
            return Ok(u);
        }
        let (parent, name) = lock(&self.parent).clone().ok_or(Errno::EROFS)?;
        let pu = parent.copy_up()?;
        let _g = lock(&parent.copy_lock);
        if let Some(u) = self.upper() {
            return Ok(u);
        }
        let lower = self.lower.clone().ok_or(Errno::ESTALE)?;
        let st = lower.stat()?;
        let owner = Owner {
            uid: st.st_uid,
            gid: st.st_gid,
        };
        let perm = st.st_mode & 0o7777;
        let up = match st.st_mode & S_IFMT {
            S_IFDIR => pu.mkdir(&name, perm, owner)?,
            S_IFLNK => pu.symlink(&name, &lower.readlink()?, owner)?,
            S_IFREG => {
                let n = pu.mknod(&name, S_IFREG | perm, 0, owner)?;
                if let Err(e) = copy_data(&lower, &n) {
                    let _ = pu.unlink(&name);
                    return Err(e);
                }
                n
            }
            fmt => pu.mknod(&name, fmt | perm, st.st_rdev, owner)?,
        };
        let _ = up.setattr(&copied_attrs(&st));
        *lock(&self.upper) = Some(up.clone());
        Ok(up)
    }
}

/// The attributes a copy-up carries over.
fn copied_attrs(st: &Stat) -> SetAttr {
    SetAttr {
        mode: Some(st.st_mode & 0o7777),
        uid: Some(st.st_uid),
        gid: Some(st.st_gid),
        atime: Some(TimeSpec::At(st.st_atime, st.st_atime_nsec)),
        mtime: Some(TimeSpec::At(st.st_mtime, st.st_mtime_nsec)),
        ..Default::default()
    }
}

fn copy_data(from: &Arc<dyn Inode>, to: &Arc<dyn Inode>) -> Result<(), Errno> {
    let src = from.open(O_RDONLY)?;
    let dst = to.open(O_WRONLY)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    loop {
        let n = src.read_at(&mut buf, off)?;
        if n == 0 {
            return Ok(());
        }
        let mut done = 0;
        while done < n {
            done += dst.write_at(&buf[done..n], off + done as u64)?;
        }
        off += n as u64;
    }
}

impl Inode for OvNode {
    /// The real file's (the upper copy's once copied up, as overlayfs reports it).
    fn btime(&self) -> Option<(i64, i64)> {
        self.top().ok()?.btime()
    }

    fn stat(&self) -> Result<Stat, Errno> {
        let top = self.top()?.stat()?;
        let mut st = top;
        if let Some(l) = &self.lower {
            let ls = l.stat()?;
            st.st_ino = ls.st_ino;
            if is_dir(&ls) && is_dir(&top) {
                // A merged directory: its link count and size are the lower one's (the upper
                // copy holds only what changed); its attributes are the upper copy's.
                st.st_nlink = ls.st_nlink;
                st.st_size = ls.st_size;
                st.st_blocks = ls.st_blocks;
                st.st_blksize = ls.st_blksize;
            }
        } else {
            st.st_ino += UPPER_INO;
        }
        st.st_dev = self.dev;
        Ok(st)
    }

    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        if self.is_dir()? {
            return self.open_dir();
        }
        let write = matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR) || flags & O_TRUNC != 0;
        if write && flags & O_PATH == 0 {
            return self.copy_up()?.open(flags);
        }
        self.top()?.open(flags)
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        self.child(name).map(|n| n as Arc<dyn Inode>)
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        self.top()?.readlink()
    }

    fn connect_host_socket(&self, stype: u32) -> Result<std::os::fd::OwnedFd, Errno> {
        // A lower socket file is the host's; one copied up (chmod, chown) is a new inode of
        // the upper layer, which nothing listens on (as on Linux's overlayfs).
        self.top()?.connect_host_socket(stype)
    }

    fn mknod(&self, name: &[u8], mode: u32, rdev: u64, o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        let u = self.copy_up()?.mknod(name, mode, rdev, o)?;
        self.created(name, u, false)
    }

    fn mkdir(&self, name: &[u8], mode: u32, o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        let u = self.copy_up()?.mkdir(name, mode, o)?;
        self.created(name, u, true)
    }

    fn symlink(&self, name: &[u8], target: &[u8], o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        let u = self.copy_up()?.symlink(name, target, o)?;
        self.created(name, u, false)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        let t = downcast::<OvNode>(target).ok_or(Errno::EXDEV)?;
        let tu = t.copy_up()?;
        self.copy_up()?.link(name, &tu)?;
        lock(&self.whiteouts).remove(name);
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        self.remove(name, false)
    }

    fn rmdir(&self, name: &[u8]) -> Result<(), Errno> {
        self.remove(name, true)
    }

    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let nd = downcast::<OvNode>(new_dir).ok_or(Errno::EXDEV)?;
        self.rename_to(old, &nd, new, flags)
    }

    fn setattr(&self, a: &SetAttr) -> Result<(), Errno> {
        self.copy_up()?.setattr(a)
    }

    fn getxattr(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        // The sandbox's ACLs live in the upper tree: a lower file has none (and a permission
        // check never asks the host for one).
        if crate::vfs::acl::is_acl_name(name) && self.upper().is_none() {
            return Err(Errno::ENODATA);
        }
        match self.top()?.getxattr(name) {
            Err(Errno::EOPNOTSUPP) => Err(Errno::ENODATA),
            r => r,
        }
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
        self.copy_up()?.setxattr(name, value, flags)
    }

    fn listxattr(&self) -> Result<Vec<Vec<u8>>, Errno> {
        self.top()?.listxattr()
    }

    fn removexattr(&self, name: &[u8]) -> Result<(), Errno> {
        self.copy_up()?.removexattr(name)
    }

    fn attr_flags(&self) -> Result<u32, Errno> {
        match self.top()?.attr_flags() {
            // A lower file whose file system shows none (a host file): none set.
            Err(Errno::ENOTTY) if self.upper().is_none() => Ok(0),
            r => r,
        }
    }

    fn keeps_acls(&self) -> bool {
        // In the upper tree (a tmpfs), where setting one copies the file up; a lower file
        // has none of the sandbox's (see getxattr).
        true
    }

    fn set_attr_flags(&self, flags: u32) -> Result<(), Errno> {
        // ovl_fileattr_set: on the upper file, copied up first.
        self.copy_up()?.set_attr_flags(flags)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
