// SPDX-License-Identifier: Apache-2.0
//! overlay: a read-only lower tree (the host's root, through the host file system) under a
//! writable tmpfs upper tree, as Linux's overlayfs and gVisor's `fsimpl/overlay` do it.
//!
//! A file is looked up in the upper tree, then in the lower one; the first change to a lower
//! file copies it up (its parent directories first). Removing a lower name leaves a whiteout,
//! kept in the directory's node (the upper tree is private to the sentry, so whiteouts need no
//! on-disk form); a directory made where a lower one was removed is opaque. Directory nodes
//! are cached for the life of their parent so that whiteouts and copy-up state persist; other
//! nodes are made on each look-up (their state is in the upper tree). Inode numbers are the
//! lower file's, stable across copy-up; upper-only files get theirs offset by [`UPPER_INO`].

mod dir;
mod node;

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

pub use self::node::OvNode;
use crate::kernel::lock;
use crate::vfs::{Filesystem, Inode};

/// Offset of the inode numbers of files that exist only in the upper tree.
pub const UPPER_INO: u64 = 1 << 40;

/// An overlay instance.
pub struct OverlayFs {
    root: Arc<OvNode>,
    upper: Arc<dyn Filesystem>,
}

impl OverlayFs {
    /// `lower` (read-only) under `upper` (a tmpfs), with device number `dev`.
    pub fn new(dev: u64, lower: Arc<dyn Filesystem>, upper: Arc<dyn Filesystem>) -> Arc<OverlayFs> {
        let root = OvNode::root(dev, lower.root(), upper.root());
        Arc::new(OverlayFs { root, upper })
    }

    /// The node at `path` (absolute, no `.` or `..`), following no symlink.
    fn walk(&self, path: &str) -> Result<Arc<OvNode>, Errno> {
        let mut node = self.root.clone();
        for c in path.split('/').filter(|c| !c.is_empty()) {
            node = node.child(c.as_bytes())?;
        }
        Ok(node)
    }

    /// Hides `path` as if the sandbox had removed it (a whiteout): it gives ENOENT and is not
    /// listed. Nothing happens when it does not exist. For building the default view.
    pub fn hide(&self, path: &str) -> Result<(), Errno> {
        let Some((dir, name)) = path.rsplit_once('/') else {
            return Err(Errno::EINVAL);
        };
        let parent = self.walk(dir)?;
        match parent.child(name.as_bytes()) {
            Ok(_) => {}
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        }
        parent.copy_up()?;
        lock(&parent.children).remove(name.as_bytes());
        lock(&parent.whiteouts).insert(name.as_bytes().to_vec());
        Ok(())
    }

    /// Shows the directory `path` empty, as the sandbox's own (an opaque upper directory with
    /// the lower one's attributes). Nothing happens when it is not a directory.
    pub fn empty(&self, path: &str) -> Result<(), Errno> {
        let node = match self.walk(path) {
            Ok(n) => n,
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !node.is_dir()? {
            return Ok(());
        }
        node.copy_up()?;
        node.opaque
            .store(true, std::sync::atomic::Ordering::Relaxed);
        lock(&node.children).clear();
        lock(&node.whiteouts).clear();
        Ok(())
    }
}

impl Filesystem for OverlayFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    fn name(&self) -> &'static str {
        "overlay"
    }

    fn statfs(&self) -> Result<Statfs, Errno> {
        let mut s = self.upper.statfs()?;
        s.f_type = OVERLAYFS_SUPER_MAGIC;
        Ok(s)
    }
}
