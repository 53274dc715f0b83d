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
