// SPDX-License-Identifier: Apache-2.0
//! Mounts and path resolution as Linux does it: component by component, symlinks followed in
//! the sentry (ELOOP after 40), `..` clamped at the root, trailing slashes demanding a
//! directory, ENAMETOOLONG for long components.

use std::collections::VecDeque;
use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::Filesystem;

/// Longest path the kernel accepts, NUL included.
pub const PATH_MAX: usize = 4096;
/// Longest file name.
pub const NAME_MAX: usize = 255;
/// Most symlinks followed in one resolution.
pub const MAX_SYMLINKS: u32 = 40;

/// The mount table: file systems by absolute mount point.
pub struct Mounts {
    /// Sorted longest mount point first, so the first prefix match is the right one.
    mounts: Vec<(String, Arc<dyn Filesystem>)>,
}

impl Mounts {
    /// A mount table with `root` at `/`.
    pub fn new(root: Arc<dyn Filesystem>) -> Mounts {
        Mounts {
            mounts: vec![("/".to_string(), root)],
        }
    }

    /// Mounts `fs` at the absolute path `at`.
    pub fn mount(&mut self, at: &str, fs: Arc<dyn Filesystem>) {
        self.mounts.retain(|(p, _)| p != at);
        self.mounts.push((at.to_string(), fs));
        self.mounts.sort_by(|a, b| b.0.len().cmp(&a.0.len()));
    }

    /// The file system serving an absolute, normalised path, and the path relative to it.
    pub fn lookup<'a>(&self, abs: &'a str) -> (Arc<dyn Filesystem>, &'a str) {
        for (at, fs) in &self.mounts {
            if at == "/" {
                return (fs.clone(), abs.trim_start_matches('/'));
            }
            if let Some(rest) = abs.strip_prefix(at.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return (fs.clone(), rest.trim_start_matches('/'));
                }
            }
        }
        // The root is always mounted; fall back to it.
        (
            self.mounts[self.mounts.len() - 1].1.clone(),
            abs.trim_start_matches('/'),
        )
    }
}

/// The result of resolving a path.
pub struct Resolved {
    /// The absolute, normalised path, without symlinks (but the last component, when not
    /// followed).
    pub path: String,
    /// The file system serving it.
    pub fs: Arc<dyn Filesystem>,
    /// The path relative to that file system.
    pub rel: String,
    /// Its lstat, or `None` when the last component does not exist (its parent does).
    pub stat: Option<Stat>,
    /// Whether the path ended with a slash.
    pub trailing_slash: bool,
}

fn join(stack: &[String]) -> String {
    if stack.is_empty() {
        return "/".to_string();
    }
    let mut s = String::new();
    for c in stack {
        s.push('/');
        s.push_str(c);
    }
    s
}

fn components(path: &[u8]) -> Result<VecDeque<String>, Errno> {
    let mut out = VecDeque::new();
    for c in path.split(|b| *b == b'/') {
        if c.is_empty() {
            continue;
        }
        if c.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        // Names are bytes on Linux; keep non-UTF-8 ones losslessly enough for the host view.
        out.push_back(String::from_utf8(c.to_vec()).map_err(|_| Errno::EILSEQ)?);
    }
    Ok(out)
}

/// Resolves `path` from the directory `start` (an absolute, resolved path), following the last
/// component if it is a symlink and `follow` is set.
pub fn resolve(mounts: &Mounts, start: &str, path: &[u8], follow: bool) -> Result<Resolved, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let trailing_slash = path.ends_with(b"/");
    let mut stack: Vec<String> = if path[0] == b'/' {
        Vec::new()
    } else {
        start
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut pending = components(path)?;
    let mut links = 0;
    let mut last_stat: Option<Stat> = None;
    // The root (or start) directory itself.
    if pending.is_empty() {
        let abs = join(&stack);
        let (fs, rel) = mounts.lookup(&abs);
        let st = fs.lstat(rel)?;
        return Ok(Resolved {
            rel: rel.to_string(),
            path: abs,
            fs,
            stat: Some(st),
            trailing_slash,
        });
    }
    while let Some(c) = pending.pop_front() {
        let is_last = pending.is_empty();
        if c == "." || c == ".." {
            if c == ".." {
                stack.pop();
            }
            if is_last {
                let abs = join(&stack);
                let (fs, rel) = mounts.lookup(&abs);
                last_stat = Some(fs.lstat(rel)?);
            }
            continue;
        }
        stack.push(c);
        let abs = join(&stack);
        let (fs, rel) = mounts.lookup(&abs);
        match fs.lstat(rel) {
            Err(Errno::ENOENT) if is_last => {
                return Ok(Resolved {
                    rel: rel.to_string(),
                    path: abs,
                    fs,
                    stat: None,
                    trailing_slash,
                });
            }
            Err(e) => return Err(e),
            Ok(st) if st.st_mode & S_IFMT == S_IFLNK && (!is_last || follow || trailing_slash) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = fs.readlink(rel)?;
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                stack.pop();
                if target[0] == b'/' {
                    stack.clear();
                }
                let mut more = components(&target)?;
                if more.is_empty() && is_last {
                    // A link to "/": the root itself.
                    let abs = join(&stack);
                    let (fs, rel) = mounts.lookup(&abs);
                    last_stat = Some(fs.lstat(rel)?);
                }
                while let Some(m) = more.pop_back() {
                    pending.push_front(m);
                }
            }
            Ok(st) if !is_last && st.st_mode & S_IFMT != S_IFDIR => return Err(Errno::ENOTDIR),
            Ok(st) => {
                if is_last {
                    last_stat = Some(st);
                }
            }
        }
    }
    let abs = join(&stack);
    let (fs, rel) = mounts.lookup(&abs);
    let stat = match last_stat {
        Some(s) => s,
        None => fs.lstat(rel)?,
    };
    if trailing_slash && stat.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    Ok(Resolved {
        rel: rel.to_string(),
        path: abs,
        fs,
        stat: Some(stat),
        trailing_slash,
    })
}
