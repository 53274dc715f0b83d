// SPDX-License-Identifier: Apache-2.0
//! Path resolution as Linux does it: component by component over inodes, mount points crossed
//! by absolute path, symlinks followed in the sentry (ELOOP after 40), `..` clamped at the root
//! and leaving a mount through its mount point, trailing slashes demanding a directory,
//! ENAMETOOLONG for long components, search permission on every directory walked, and
//! openat2's RESOLVE_* restrictions.

use std::collections::VecDeque;
use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

pub use super::mount::{Mount, Mounts};
use super::Inode;
use crate::kernel::Credentials;

/// Longest path the kernel accepts, NUL included.
pub const PATH_MAX: usize = 4096;
/// Longest file name.
pub const NAME_MAX: usize = 255;
/// Most symlinks followed in one resolution.
pub const MAX_SYMLINKS: u32 = 40;

/// The result of resolving a path.
pub struct Resolved {
    /// The absolute path, without symlinks (but the last component, when not followed).
    pub path: String,
    /// The mount the last component lives on.
    pub mount: Arc<Mount>,
    /// The file, or `None` when the last component does not exist (its parent does).
    pub inode: Option<Arc<dyn Inode>>,
    /// The directory holding the last component (the file itself for `/`).
    pub parent: Arc<dyn Inode>,
    /// The last component: a name, `.`, `..`, or empty for the root.
    pub name: Vec<u8>,
    /// Its stat, when it exists.
    pub stat: Option<Stat>,
    /// Whether the path ended with a slash.
    pub trailing_slash: bool,
    /// Whether the file is the root of its mount (it cannot be removed or renamed: EBUSY).
    pub is_mount_root: bool,
}

/// The directory a relative walk starts from, as held by a cwd or a directory descriptor: its
/// path, and the directory itself for when the path no longer leads there (it was renamed or
/// removed; Linux holds the dentry, so such a walk still starts in that directory).
#[derive(Clone)]
pub struct Anchor {
    /// The directory.
    pub inode: Arc<dyn Inode>,
    /// The mount it is on.
    pub mount: Arc<Mount>,
}

/// How to resolve.
#[derive(Clone, Copy, Default)]
pub struct WalkOpts<'a> {
    /// Follow a symlink in the last component.
    pub follow: bool,
    /// Check search permission on each directory with these credentials.
    pub creds: Option<&'a Credentials>,
    /// The task's root directory (chroot), `/` when `None`.
    pub root: Option<&'a str>,
    /// openat2 RESOLVE_* flags.
    pub resolve: u64,
    /// The start directory itself, for when its path no longer leads to it.
    pub anchor: Option<&'a Anchor>,
}

#[derive(Clone)]
struct Node {
    path: String,
    inode: Arc<dyn Inode>,
    mount: Arc<Mount>,
    /// Its attributes as this walk found them (a walk stats each file once).
    stat: Option<Stat>,
}

impl Node {
    fn stat(&self) -> Result<Stat, Errno> {
        match self.stat {
            Some(s) => Ok(s),
            None => self.inode.stat(),
        }
    }
}

fn child_path(parent: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

fn components(path: &[u8]) -> Result<VecDeque<Vec<u8>>, Errno> {
    let mut out = VecDeque::new();
    for c in path.split(|b| *b == b'/') {
        if c.is_empty() {
            continue;
        }
        if c.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        out.push_back(c.to_vec());
    }
    Ok(out)
}

struct Walker<'a> {
    mounts: &'a Mounts,
    opts: WalkOpts<'a>,
    stack: Vec<Node>,
    /// `..` never pops below this depth (the root, or the start for RESOLVE_IN_ROOT).
    floor: usize,
    /// Where absolute paths and symlinks restart.
    root: Vec<Node>,
}

impl Walker<'_> {
    fn top(&self) -> &Node {
        // The stack always holds at least the root.
        &self.stack[self.stack.len() - 1]
    }

    /// Looks `name` up in the top directory, crossing into a mount mounted there.
    fn lookup(&self, name: &[u8]) -> Result<Node, Errno> {
        let top = self.top();
        let st = top.stat()?;
        if st.st_mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        if let Some(c) = self.opts.creds {
            if !c.may_file(top.inode.as_ref(), &st, X_OK) {
                return Err(Errno::EACCES);
            }
        }
        let path = child_path(&top.path, name);
        // A mount point is crossed without looking at what it hides.
        if let Some(m) = self.mounts.at(&path) {
            if self.opts.resolve & RESOLVE_NO_XDEV != 0 {
                return Err(Errno::EXDEV);
            }
            m.touched();
            return Ok(Node {
                path,
                inode: m.root.clone(),
                mount: m,
                stat: None,
            });
        }
        let (inode, st) = top.inode.lookup_stat(name)?;
        Ok(Node {
            path,
            inode,
            mount: top.mount.clone(),
            stat: Some(st),
        })
    }

    fn dotdot(&mut self) -> Result<(), Errno> {
        // `..` stops at the root (a chroot's root too), or at the start of a scoped walk. A
        // directory outside a chroot (a cwd left there) goes on up to the real root, as on
        // Linux.
        let scoped = self.opts.resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) != 0;
        let may_pop = if scoped {
            self.stack.len() > self.floor
        } else {
            self.stack.len() > 1 && self.root.last().is_none_or(|r| r.path != self.top().path)
        };
        if may_pop {
            if self.opts.resolve & RESOLVE_NO_XDEV != 0 {
                let n = self.stack.len();
                if !Arc::ptr_eq(&self.stack[n - 1].mount, &self.stack[n - 2].mount) {
                    return Err(Errno::EXDEV);
                }
            }
            self.stack.pop();
        } else if self.opts.resolve & RESOLVE_BENEATH != 0 {
            return Err(Errno::EXDEV);
        }
        Ok(())
    }
}

/// The files from `/` down to `path` (an absolute resolved path, as [`Resolved::path`]), each
/// with the mount it is reached through and its stat when the walk took one: the ancestry Landlock looks for rules in (hidden mount
/// points are not in it, as Landlock skips them).
#[allow(clippy::type_complexity)]
pub fn ancestry(
    mounts: &Mounts,
    path: &str,
) -> Result<Vec<(Arc<Mount>, Arc<dyn Inode>, Option<Stat>)>, Errno> {
    Ok(descend(mounts, path)?
        .into_iter()
        .map(|n| (n.mount, n.inode, n.stat))
        .collect())
}

/// Walks an already resolved absolute path (no symlinks in it) from `/`.
fn descend(mounts: &Mounts, path: &str) -> Result<Vec<Node>, Errno> {
    let root = mounts.root();
    let mut w = Walker {
        mounts,
        opts: WalkOpts::default(),
        stack: vec![Node {
            path: "/".into(),
            inode: root.root.clone(),
            mount: root,
            stat: None,
        }],
        floor: 1,
        root: Vec::new(),
    };
    for c in components(path.as_bytes())? {
        if c == b"." {
            continue;
        }
        if c == b".." {
            w.dotdot()?;
            continue;
        }
        let n = w.lookup(&c)?;
        w.stack.push(n);
    }
    Ok(w.stack)
}

/// Resolves `path` from the directory `start` (an absolute, resolved path), following the last
/// component if it is a symlink and `follow` is set. No permission checks: for the kernel's
/// own look-ups (exec, start-up).
pub fn resolve(mounts: &Mounts, start: &str, path: &[u8], follow: bool) -> Result<Resolved, Errno> {
    walk(
        mounts,
        start,
        path,
        WalkOpts {
            follow,
            ..Default::default()
        },
    )
}

/// Resolves `path` from `start` with the given options.
pub fn walk(
    mounts: &Mounts,
    start: &str,
    path: &[u8],
    opts: WalkOpts<'_>,
) -> Result<Resolved, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let scoped = opts.resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) != 0;
    let root = if opts.resolve & RESOLVE_IN_ROOT != 0 {
        descend(mounts, start)?
    } else {
        descend(mounts, opts.root.unwrap_or("/"))?
    };
    let start_stack = if path[0] == b'/' && opts.resolve & RESOLVE_BENEATH == 0 {
        root.clone()
    } else if path[0] == b'/' {
        return Err(Errno::EXDEV);
    } else {
        match (descend(mounts, start), opts.anchor) {
            (Ok(s), _) => s,
            // The start directory moved or went: start in it all the same, below the root
            // (`..` from it then leads to the root).
            (Err(_), Some(a)) => {
                let mut s = descend(mounts, "/")?;
                s.push(Node {
                    path: start.to_string(),
                    inode: a.inode.clone(),
                    mount: a.mount.clone(),
                    stat: None,
                });
                s
            }
            (Err(e), None) => return Err(e),
        }
    };
    let floor = if scoped {
        start_stack.len()
    } else {
        root.len()
    };
    let mut w = Walker {
        mounts,
        opts,
        stack: start_stack,
        floor,
        root,
    };
    let trailing_slash = path.ends_with(b"/");
    let mut pending = components(path)?;
    let mut links = 0;
    let mut last_name: Vec<u8> = Vec::new();
    while let Some(c) = pending.pop_front() {
        let is_last = pending.is_empty();
        if c == b"." || c == b".." {
            if c == b".." {
                w.dotdot()?;
            } else if w.top().stat()?.st_mode & S_IFMT != S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            if is_last {
                last_name = c;
            }
            continue;
        }
        let mut node = match w.lookup(&c) {
            Ok(n) => n,
            Err(Errno::ENOENT) if is_last => {
                let top = w.top().clone();
                return Ok(Resolved {
                    path: child_path(&top.path, &c),
                    mount: top.mount,
                    inode: None,
                    parent: top.inode,
                    name: c,
                    stat: None,
                    trailing_slash,
                    is_mount_root: false,
                });
            }
            Err(e) => return Err(e),
        };
        let st = node.stat()?;
        node.stat = Some(st);
        if st.st_mode & S_IFMT == S_IFLNK && (!is_last || opts.follow || trailing_slash) {
            if opts.resolve & RESOLVE_NO_SYMLINKS != 0 {
                return Err(Errno::ELOOP);
            }
            // A symlink on a mount with MS_NOSYMFOLLOW is never followed (pick_link).
            if node.mount.flags() & MS_NOSYMFOLLOW != 0 {
                return Err(Errno::ELOOP);
            }
            if node.inode.is_magic_link() {
                if opts.resolve & RESOLVE_NO_MAGICLINKS != 0 {
                    return Err(Errno::ELOOP);
                }
                if scoped {
                    return Err(Errno::EXDEV);
                }
            }
            if let Some(m) = node.inode.magic_target() {
                // A magic link: jump to the file itself (fs/namei.c nd_jump_link).
                if opts.resolve & RESOLVE_NO_MAGICLINKS != 0 {
                    return Err(Errno::ELOOP);
                }
                if scoped {
                    return Err(Errno::EXDEV);
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let m = m?;
                let mount = m.mount.unwrap_or_else(|| node.mount.clone());
                if opts.resolve & RESOLVE_NO_XDEV != 0 && !Arc::ptr_eq(&mount, &node.mount) {
                    return Err(Errno::EXDEV);
                }
                w.stack.push(Node {
                    path: m.path,
                    inode: m.inode,
                    mount,
                    stat: None,
                });
                if is_last {
                    last_name = c;
                }
                continue;
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Errno::ELOOP);
            }
            let target = node.inode.readlink()?;
            if target.is_empty() {
                return Err(Errno::ENOENT);
            }
            if target[0] == b'/' {
                if opts.resolve & RESOLVE_BENEATH != 0 {
                    return Err(Errno::EXDEV);
                }
                w.stack = w.root.clone();
            }
            let mut more = components(&target)?;
            if more.is_empty() && is_last {
                last_name = Vec::new();
            }
            while let Some(m) = more.pop_back() {
                pending.push_front(m);
            }
            continue;
        }
        if !is_last && st.st_mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        w.stack.push(node);
        if is_last {
            last_name = c;
        }
    }
    let n = w.stack.len();
    let node = w.stack[n - 1].clone();
    let parent = if n >= 2 {
        w.stack[n - 2].inode.clone()
    } else {
        node.inode.clone()
    };
    let is_mount_root = n == 1 || Arc::ptr_eq(&node.inode, &node.mount.root);
    let stat = node.stat()?;
    if trailing_slash && stat.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    if n == 1 {
        last_name = Vec::new();
    }
    Ok(Resolved {
        path: node.path,
        mount: node.mount,
        inode: Some(node.inode),
        parent,
        name: last_name,
        stat: Some(stat),
        trailing_slash,
        is_mount_root,
    })
}
