// SPDX-License-Identifier: Apache-2.0
//! The namespace files /proc/[pid]/ns/* lead to (Linux's nsfs): opening one gives a
//! descriptor that names the namespace, for setns(2) (and fstat, whose inode number is the
//! namespace's id, as `readlink` shows it). The sandbox is one set of namespaces, so every
//! process's files of one kind name the same one.

use std::any::Any;
use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use crate::vfs::inode::Inode;
use crate::vfs::mount::MountNs;
use crate::vfs::FileOps;

/// nsfs's device number (Linux's is an anonymous one, 0:4 on most machines).
const NSFS_DEV: u64 = 4;

/// One namespace: its CLONE_NEW* kind and its id (and, for a mount namespace, the namespace:
/// processes that unshared theirs have one of their own).
pub struct NsInode {
    pub kind: u64,
    pub id: u64,
    pub mnt: Option<Arc<MountNs>>,
}

impl NsInode {
    pub fn inode(kind: u64, id: u64, mnt: Option<Arc<MountNs>>) -> Arc<dyn Inode> {
        Arc::new(NsInode { kind, id, mnt })
    }

    fn stat_of(id: u64) -> Stat {
        Stat {
            st_dev: NSFS_DEV,
            st_ino: id,
            st_mode: S_IFREG | 0o444,
            st_nlink: 1,
            st_blksize: 4096,
            ..Default::default()
        }
    }
}

impl Inode for NsInode {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Self::stat_of(self.id))
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        Ok(Box::new(NsFile {
            kind: self.kind,
            id: self.id,
            mnt: self.mnt.clone(),
        }))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open namespace file.
pub struct NsFile {
    /// CLONE_NEWUTS, CLONE_NEWNS, ...
    pub kind: u64,
    pub id: u64,
    pub mnt: Option<Arc<MountNs>>,
}

impl FileOps for NsFile {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(NsInode::stat_of(self.id))
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}
