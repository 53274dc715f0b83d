// SPDX-License-Identifier: Apache-2.0
//! The mount table of a mount namespace: file systems (or bind-mounted subtrees of them) by
//! absolute mount point.

use std::collections::HashMap;
use std::sync::Arc;

use syscalls::Errno;

use super::{Filesystem, Inode};

/// One mount.
pub struct Mount {
    /// Mount id (/proc/self/mountinfo).
    pub id: u32,
    /// The file system.
    pub fs: Arc<dyn Filesystem>,
    /// The directory mounted: the file system's root, or a subtree for a bind mount.
    pub root: Arc<dyn Inode>,
    /// The absolute mount point.
    pub point: String,
    /// What /proc/mounts shows as the source.
    pub source: String,
    /// Mounted read-only (MS_RDONLY), on top of whether the file system itself is.
    pub ro: bool,
}

impl Mount {
    /// Whether writes through this mount fail with EROFS.
    pub fn read_only(&self) -> bool {
        self.ro || self.fs.read_only()
    }
}

/// The mount table.
pub struct Mounts {
    by_point: HashMap<String, Arc<Mount>>,
    next_id: u32,
}

impl Mounts {
    /// A mount table with `root` at `/`.
    pub fn new(root: Arc<dyn Filesystem>) -> Mounts {
        let mut m = Mounts {
            by_point: HashMap::new(),
            next_id: 1,
        };
        m.mount("/", root);
        m
    }

    /// Mounts the root of `fs` at the absolute path `at`, read-write.
    pub fn mount(&mut self, at: &str, fs: Arc<dyn Filesystem>) {
        let root = fs.root();
        let source = fs.name().to_string();
        self.mount_tree(at, fs, root, source, false);
    }

    /// Mounts the subtree `root` of `fs` at `at` (a bind mount when `root` is not the file
    /// system's root), hiding whatever was mounted there.
    pub fn mount_tree(
        &mut self,
        at: &str,
        fs: Arc<dyn Filesystem>,
        root: Arc<dyn Inode>,
        source: String,
        ro: bool,
    ) -> Arc<Mount> {
        let m = Arc::new(Mount {
            id: self.next_id,
            fs,
            root,
            point: at.to_string(),
            source,
            ro,
        });
        self.next_id += 1;
        self.by_point.insert(at.to_string(), m.clone());
        m
    }

    /// Unmounts what is mounted at `at`. Linux: EINVAL when nothing is, EBUSY for the root or
    /// a mount with mounts below it.
    pub fn unmount(&mut self, at: &str) -> Result<(), Errno> {
        if at == "/" {
            return Err(Errno::EBUSY);
        }
        if !self.by_point.contains_key(at) {
            return Err(Errno::EINVAL);
        }
        let prefix = format!("{at}/");
        if self.by_point.keys().any(|p| p.starts_with(&prefix)) {
            return Err(Errno::EBUSY);
        }
        self.by_point.remove(at);
        Ok(())
    }

    /// The mount at exactly `path`, if any.
    pub fn at(&self, path: &str) -> Option<Arc<Mount>> {
        self.by_point.get(path).cloned()
    }

    /// The root mount.
    pub fn root(&self) -> Arc<Mount> {
        // `new` mounts the root and `unmount` refuses to remove it.
        self.by_point
            .get("/")
            .cloned()
            .expect("the root is always mounted")
    }

    /// Every mount, in mount order.
    pub fn list(&self) -> Vec<Arc<Mount>> {
        let mut v: Vec<_> = self.by_point.values().cloned().collect();
        v.sort_by_key(|m| m.id);
        v
    }
}
