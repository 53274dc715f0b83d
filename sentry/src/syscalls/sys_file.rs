// SPDX-License-Identifier: Apache-2.0
//! File system calls: open and close here; the rest by area in the files beside this one
//! (read/write, stat, descriptors, directories, attributes, xattrs), re-exported for the table.
//!
//! Permission checks (mode bits, umask, sticky directories, read-only mounts) are made here,
//! against the task's virtual credentials, before a file system is asked to act.

#[path = "sys_attr.rs"]
mod attr;
#[path = "sys_dir.rs"]
mod dir;
#[path = "sys_fd.rs"]
mod fd;
#[path = "sys_fileattr.rs"]
mod fileattr;
#[path = "sys_rw.rs"]
mod rw;
#[path = "sys_splice.rs"]
mod splice;
#[path = "sys_stat.rs"]
mod stat;
#[path = "sys_xattr.rs"]
mod xattr;

use std::sync::Arc;

pub use attr::*;
pub use dir::*;
pub use fd::*;
pub use fileattr::{sys_file_getattr, sys_file_setattr};
pub use rw::*;
pub use splice::*;
pub use stat::*;
use syscalls::abi::*;
use syscalls::Errno;
pub use xattr::*;

use super::{fd_arg, SysResult};
use crate::kernel::{landlock, lock, Task};
use crate::vfs::path::{walk, Anchor, Resolved, WalkOpts};
use crate::vfs::{notify, File, FileOps, Inode, Owner};

pub(crate) fn nofile(t: &Task) -> u64 {
    t.rlimit(RLIMIT_NOFILE)
}

pub(crate) fn install(t: &Task, file: Arc<File>, cloexec: bool) -> SysResult {
    let limit = nofile(t);
    t.fds().alloc(file, cloexec, 0, limit).map(|fd| fd as u64)
}

/// The directory a relative path starts from: the cwd, or the directory `dirfd` refers to.
/// With openat2's RESOLVE_IN_ROOT or RESOLVE_BENEATH even an absolute path is scoped to
/// `dirfd` (the walk then treats `/` as that directory, or refuses it).
fn start_dir(
    t: &Task,
    dirfd: i32,
    path: &[u8],
    resolve: u64,
) -> Result<(String, Option<Anchor>), Errno> {
    if path.first() == Some(&b'/') && resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH) == 0 {
        // The walk starts absolute paths at the task's root itself.
        return Ok(("/".into(), None));
    }
    if dirfd == AT_FDCWD {
        let fs = lock(&t.fs);
        return Ok((fs.cwd.clone(), fs.cwd_anchor.clone()));
    }
    let f = t.file(dirfd)?;
    if f.ops.stat()?.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    Ok((f.path.clone(), f.anchor()))
}

/// Resolves `path` relative to `dirfd` with search-permission checks, and `resolve` flags of
/// openat2.
pub(crate) fn walk_at_with(
    t: &Task,
    dirfd: i32,
    path: &[u8],
    follow: bool,
    resolve: u64,
) -> Result<Resolved, Errno> {
    let (start, anchor) = start_dir(t, dirfd, path, resolve)?;
    let (root, mnt) = {
        let fs = lock(&t.fs);
        (fs.root.clone(), fs.mnt.clone())
    };
    let opts = WalkOpts {
        follow,
        creds: Some(&t.creds),
        root: Some(&root),
        resolve,
        anchor: anchor.as_ref(),
    };
    let mounts = mnt.read();
    walk(&mounts, &start, path, opts)
}

/// Resolves `path` relative to `dirfd` with search-permission checks made with `creds`
/// (access(2) checks with the real ids).
pub(crate) fn walk_at_creds(
    t: &Task,
    dirfd: i32,
    path: &[u8],
    follow: bool,
    creds: &crate::kernel::Credentials,
) -> Result<Resolved, Errno> {
    let (start, anchor) = start_dir(t, dirfd, path, 0)?;
    let (root, mnt) = {
        let fs = lock(&t.fs);
        (fs.root.clone(), fs.mnt.clone())
    };
    let opts = WalkOpts {
        follow,
        creds: Some(creds),
        root: Some(&root),
        resolve: 0,
        anchor: anchor.as_ref(),
    };
    let mounts = mnt.read();
    walk(&mounts, &start, path, opts)
}

/// Resolves `path` relative to `dirfd`, as the *at calls do.
pub(crate) fn walk_at(t: &Task, dirfd: i32, path: &[u8], follow: bool) -> Result<Resolved, Errno> {
    walk_at_with(t, dirfd, path, follow, 0)
}

/// The owner of a new file in a directory with stat `dir`: the task's fs ids, or the
/// directory's group when it is setgid.
pub(crate) fn new_owner(t: &Task, dir: &Stat) -> Owner {
    let gid = if dir.st_mode & S_ISGID != 0 {
        dir.st_gid
    } else {
        t.creds.gid.1
    };
    Owner {
        uid: t.creds.uid.1,
        gid,
    }
}

/// The mode of a new non-directory in a directory with stat `dir`, as Linux's
/// `mode_strip_sgid`: in a set-group-ID directory, a group-executable set-group-ID file made by
/// a task neither in the directory's group nor privileged (CAP_FSETID) loses S_ISGID.
pub(crate) fn strip_sgid(t: &Task, dir: &Stat, mode: u32) -> u32 {
    let sgid_exec = S_ISGID | 0o010;
    if mode & sgid_exec != sgid_exec || dir.st_mode & S_ISGID == 0 || t.creds.uid.1 == 0 {
        return mode;
    }
    if t.creds.gid.1 == dir.st_gid || t.creds.groups.contains(&dir.st_gid) {
        return mode;
    }
    mode & !S_ISGID
}

/// Checks the task may add or remove entries of the directory holding `r`'s last component.
pub(crate) fn may_change_dir(t: &Task, r: &Resolved) -> Result<Stat, Errno> {
    let dir = r.parent.stat()?;
    if dir.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    // A read-only mount before the permission (Linux's filename_create and do_unlinkat take
    // the mount's write access before may_create and may_delete look at the directory).
    if r.mount.read_only() {
        return Err(Errno::EROFS);
    }
    // inode_permission(MAY_WRITE) of an immutable directory: EPERM, before the mode bits.
    crate::vfs::attr_flags::check_writable(r.parent.as_ref())?;
    if !t.creds.may_file(r.parent.as_ref(), &dir, W_OK | X_OK) {
        return Err(Errno::EACCES);
    }
    Ok(dir)
}

/// The sticky-directory rule: in a sticky directory only the file's owner, the directory's
/// owner or root may remove or rename a file.
pub(crate) fn sticky_allows(t: &Task, dir: &Stat, file: &Stat) -> bool {
    let euid = t.creds.uid.1;
    dir.st_mode & S_ISVTX == 0 || euid == 0 || euid == file.st_uid || euid == dir.st_uid
}

/// The file an O_PATH descriptor refers to: it can be stat'ed, used as a dirfd, and nothing
/// else.
struct PathOnly(Arc<dyn Inode>);

impl FileOps for PathOnly {
    fn stat(&self) -> Result<Stat, Errno> {
        self.0.stat()
    }
}

const OPEN_FLAGS: u32 = O_ACCMODE
    | O_CREAT
    | O_EXCL
    | O_NOCTTY
    | O_TRUNC
    | O_APPEND
    | O_NONBLOCK
    | O_DSYNC
    | O_ASYNC
    | O_DIRECT
    | O_LARGEFILE
    | O_DIRECTORY
    | O_NOFOLLOW
    | O_NOATIME
    | O_CLOEXEC
    | O_SYNC
    | O_PATH
    | O_TMPFILE;

fn do_open(t: &Task, dirfd: i32, path_addr: u64, flags: u32, mode: u32, resolve: u64) -> SysResult {
    let path = t.read_path(path_addr)?;
    let flags = flags | O_LARGEFILE;
    let flags = if flags & O_PATH != 0 {
        // Linux ignores every flag but these with O_PATH.
        flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_LARGEFILE)
    } else {
        flags
    };
    if flags & O_TMPFILE == O_TMPFILE {
        return open_tmpfile(t, dirfd, &path, flags, mode);
    }
    let creat = flags & O_CREAT != 0;
    let excl = creat && flags & O_EXCL != 0;
    let follow = flags & O_NOFOLLOW == 0 && !excl;
    let r = walk_at_with(t, dirfd, &path, follow, resolve)?;
    let acc = flags & O_ACCMODE;
    let want_write =
        flags & O_PATH == 0 && (matches!(acc, O_WRONLY | O_RDWR) || flags & O_TRUNC != 0);
    let mut truncated = false;
    let mut ll_denied = 0;
    let created = r.inode.is_none();
    let mut wa = None;
    let (inode, ops) = match r.inode.clone() {
        None => {
            if !creat {
                return Err(Errno::ENOENT);
            }
            if r.trailing_slash {
                return Err(Errno::EISDIR);
            }
            landlock::check_in_dir(t, &r, LANDLOCK_ACCESS_FS_MAKE_REG)?;
            let dir = may_change_dir(t, &r)?;
            let umask = lock(&t.fs).umask;
            // The directory's default ACL, if any, in place of the umask.
            let (mode, access, default) =
                crate::vfs::acl::create_mode(r.parent.as_ref(), S_IFREG | (mode & 0o7777), umask);
            let mode = strip_sgid(t, &dir, mode);
            let node = r.parent.mknod(&r.name, mode, 0, new_owner(t, &dir))?;
            crate::vfs::acl::inherit(node.as_ref(), access, default);
            notify::created(r.parent.as_ref(), &r.name, false);
            let read = flags & O_ACCMODE != O_WRONLY;
            let write = flags & O_ACCMODE != O_RDONLY;
            ll_denied = landlock::check_open(t, &r.path, S_IFREG, None, read, write)?;
            if write {
                let st = node.stat()?;
                wa = Some(crate::vfs::writecount::get_write_access((
                    st.st_dev, st.st_ino,
                ))?);
            }
            let ops = node.open(flags)?;
            (node, ops)
        }
        Some(inode) => {
            let st = r.stat.ok_or(Errno::ENOENT)?;
            let fmt = st.st_mode & S_IFMT;
            if excl {
                return Err(Errno::EEXIST);
            }
            if fmt == S_IFLNK && flags & O_PATH == 0 {
                return Err(Errno::ELOOP);
            }
            if flags & O_DIRECTORY != 0 && fmt != S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            if fmt == S_IFDIR && (want_write || creat) {
                return Err(Errno::EISDIR);
            }
            if flags & O_PATH != 0 {
                let ops: Box<dyn FileOps> = Box::new(PathOnly(inode.clone()));
                (inode, ops)
            } else {
                let mut need = 0;
                if matches!(acc, O_RDONLY | O_RDWR) {
                    need |= R_OK;
                }
                if want_write {
                    need |= W_OK;
                    // inode_permission: an immutable file is never written (EPERM first).
                    crate::vfs::attr_flags::check_writable(inode.as_ref())?;
                }
                if !t.creds.may_file(inode.as_ref(), &st, need) {
                    return Err(Errno::EACCES);
                }
                crate::vfs::attr_flags::check_open_append(inode.as_ref(), flags)?;
                if matches!(fmt, S_IFCHR | S_IFBLK) && r.mount.no_dev() {
                    return Err(Errno::EACCES);
                }
                if want_write && r.mount.read_only() && matches!(fmt, S_IFREG | S_IFDIR) {
                    return Err(Errno::EROFS);
                }
                // A running program cannot be opened for writing (get_write_access).
                if want_write && fmt == S_IFREG {
                    wa = Some(crate::vfs::writecount::get_write_access((
                        st.st_dev, st.st_ino,
                    ))?);
                }
                if flags & O_NOATIME != 0 && t.creds.uid.1 != 0 && t.creds.uid.1 != st.st_uid {
                    return Err(Errno::EPERM);
                }
                let read = matches!(acc, O_RDONLY | O_RDWR);
                let write = matches!(acc, O_WRONLY | O_RDWR);
                ll_denied = landlock::check_open(
                    t,
                    &r.path,
                    st.st_mode,
                    Some((st.st_dev, st.st_ino)),
                    read,
                    write,
                )?;
                if flags & O_TRUNC != 0 && fmt == S_IFREG {
                    // Linux truncates after the open, asking the description's rights.
                    if ll_denied & LANDLOCK_ACCESS_FS_TRUNCATE != 0 {
                        return Err(Errno::EACCES);
                    }
                }
                // A conflicting open breaks the leases on the file first (do_dentry_open).
                fd::break_lease(t, &st, flags)?;
                if flags & O_TRUNC != 0 && fmt == S_IFREG {
                    attr::remove_privs_of(t, &inode, st)?;
                    if st.st_size != 0 {
                        inode.setattr(&crate::vfs::SetAttr {
                            size: Some(0),
                            ..Default::default()
                        })?;
                    }
                    truncated = true;
                }
                // A pipe reopened through its /proc/[pid]/fd link is that pipe itself.
                let reopened = inode
                    .as_any()
                    .downcast_ref::<crate::vfs::reopen::FileInode>()
                    .is_some();
                let ops = if fmt == S_IFIFO && !reopened {
                    // Every file system's FIFOs are the sentry's pipes, one per inode.
                    crate::fsimpl::pipe::open_fifo(st.st_dev, st.st_ino, flags)?
                } else if fmt == S_IFCHR
                    && st.st_rdev == makedev(5, 2)
                    && !reopened
                    && !crate::fsimpl::tty::devpts::is_ptmx(inode.as_ref())
                {
                    open_ptmx_node(t, &r.path)?
                } else {
                    inode.open(flags)?
                };
                (inode, ops)
            }
        }
    };
    let file = File::open_inode(ops, flags, r.path.clone(), inode, r.mount.clone());
    file.set_landlock_denied(ll_denied);
    if created {
        file.set_created();
    }
    if let Some(w) = wa {
        file.set_write_access(w);
    }
    if !r.is_mount_root {
        file.set_parent(r.parent.clone(), &r.name);
    }
    if let Err(e) = crate::vfs::fanotify::permission(&file, FAN_OPEN_PERM) {
        // Refused: the file was never opened, so its close reports nothing.
        file.set_nonotify();
        return Err(e);
    }
    file.notify(IN_OPEN);
    if truncated {
        // Linux truncates (and reports IN_MODIFY) after the open, even an empty file.
        file.notify(IN_MODIFY);
    }
    install(t, file, flags & O_CLOEXEC != 0)
}

/// Opens a ptmx device node outside devpts (`/dev/ptmx`): a new pair in the devpts instance
/// mounted at `pts` beside it (Linux's devpts_acquire and path_pts): ENOENT without one,
/// ENODEV when that is not a devpts.
fn open_ptmx_node(t: &Task, path: &str) -> Result<Box<dyn FileOps>, Errno> {
    // `path` is the node's absolute path in the mount namespace (not the caller's root's):
    // `pts` is walked from its directory, within the caller's root.
    let dir = match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    };
    let (root, mnt) = {
        let fs = lock(&t.fs);
        (fs.root.clone(), fs.mnt.clone())
    };
    let opts = WalkOpts {
        follow: true,
        creds: Some(&t.creds),
        root: Some(&root),
        resolve: 0,
        anchor: None,
    };
    let r = walk(&mnt.read(), dir, b"pts", opts)?;
    let dir = r.inode.ok_or(Errno::ENOENT)?;
    crate::fsimpl::tty::devpts::instance_of(dir.as_ref())
        .ok_or(Errno::ENODEV)?
        .open_master()
}

/// O_TMPFILE: an unnamed regular file in a directory (made as a named one, then unlinked).
fn open_tmpfile(t: &Task, dirfd: i32, path: &[u8], flags: u32, mode: u32) -> SysResult {
    if !matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR) {
        return Err(Errno::EINVAL);
    }
    let r = walk_at(t, dirfd, path, true)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    let dir = r.inode.clone().ok_or(Errno::ENOENT)?;
    if st.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    if !t.creds.may_file(dir.as_ref(), &st, W_OK | X_OK) {
        return Err(Errno::EACCES);
    }
    if r.mount.read_only() {
        return Err(Errno::EROFS);
    }
    if !r.mount.fs.has_tmpfile() {
        return Err(Errno::EOPNOTSUPP);
    }
    // The unnamed file's rights are its directory's.
    let ll_denied =
        landlock::check_open(t, &r.path, S_IFREG, None, flags & O_ACCMODE == O_RDWR, true)?;
    let umask = lock(&t.fs).umask;
    let name = format!(".#tmpfile.{}", t.k.new_ino());
    let (mode, access, default) =
        crate::vfs::acl::create_mode(dir.as_ref(), S_IFREG | (mode & 0o7777), umask);
    let node = dir
        .mknod(name.as_bytes(), mode, 0, new_owner(t, &st))
        .map_err(|e| {
            if e == Errno::EPERM {
                Errno::EOPNOTSUPP
            } else {
                e
            }
        })?;
    dir.unlink(name.as_bytes())?;
    crate::vfs::acl::inherit(node.as_ref(), access, default);
    let ops = node.open(flags)?;
    let path = format!(
        "{}/#{} (deleted)",
        r.path.trim_end_matches('/'),
        node.stat()?.st_ino
    );
    let file = File::open_inode(
        ops,
        flags & !O_TMPFILE | O_RDWR & flags,
        path,
        node,
        r.mount,
    );
    file.set_landlock_denied(ll_denied);
    install(t, file, flags & O_CLOEXEC != 0)
}

fn check_open_flags(flags: u64) -> Result<u32, Errno> {
    // open(2) ignores unknown bits; only the access mode 3 is invalid.
    let flags = flags as u32;
    if flags & O_ACCMODE == O_ACCMODE && flags & O_PATH == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & O_TMPFILE == O_TMPFILE && flags & O_CREAT != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(flags & OPEN_FLAGS)
}

/// Implements open(2).
pub fn sys_open(t: &mut Task) -> SysResult {
    let flags = check_open_flags(t.arg(1))?;
    do_open(t, AT_FDCWD, t.arg(0), flags, t.arg(2) as u32, 0)
}

/// Implements creat(2).
pub fn sys_creat(t: &mut Task) -> SysResult {
    do_open(
        t,
        AT_FDCWD,
        t.arg(0),
        O_CREAT | O_WRONLY | O_TRUNC,
        t.arg(1) as u32,
        0,
    )
}

/// Implements openat(2).
pub fn sys_openat(t: &mut Task) -> SysResult {
    let flags = check_open_flags(t.arg(2))?;
    do_open(t, fd_arg(t, 0), t.arg(1), flags, t.arg(3) as u32, 0)
}

/// Implements openat2(2): unknown flags and resolve bits, and a mode without O_CREAT, are
/// EINVAL; RESOLVE_CACHED is EAGAIN (nothing is cached for the asking).
pub fn sys_openat2(t: &mut Task) -> SysResult {
    let (dirfd, path, how_addr, size) = (fd_arg(t, 0), t.arg(1), t.arg(2), t.arg(3));
    if size < 24 {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let how: OpenHow = t.read_val(how_addr)?;
    if size > 24 {
        let mut rest = vec![0u8; size as usize - 24];
        t.copy_in(how_addr + 24, &mut rest)?;
        if rest.iter().any(|b| *b != 0) {
            return Err(Errno::E2BIG);
        }
    }
    let all = RESOLVE_NO_XDEV
        | RESOLVE_NO_MAGICLINKS
        | RESOLVE_NO_SYMLINKS
        | RESOLVE_BENEATH
        | RESOLVE_IN_ROOT
        | RESOLVE_CACHED;
    if how.flags & !u64::from(OPEN_FLAGS) != 0 || how.resolve & !all != 0 {
        return Err(Errno::EINVAL);
    }
    let flags = how.flags as u32;
    if how.mode & !0o7777 != 0
        || (how.mode != 0 && flags & O_CREAT == 0 && flags & O_TMPFILE != O_TMPFILE)
    {
        return Err(Errno::EINVAL);
    }
    if how.resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) == RESOLVE_BENEATH | RESOLVE_IN_ROOT {
        return Err(Errno::EINVAL);
    }
    if how.resolve & RESOLVE_CACHED != 0 {
        return Err(Errno::EAGAIN);
    }
    let flags = check_open_flags(how.flags)?;
    do_open(t, dirfd, path, flags, how.mode as u32, how.resolve)
}

/// Implements close(2).
pub fn sys_close(t: &mut Task) -> SysResult {
    let entry = t.fds().remove(fd_arg(t, 0))?;
    crate::vfs::lock::on_close(t.tgid(), &entry.file);
    drop(entry);
    Ok(0)
}

/// Implements close_range(2).
pub fn sys_close_range(t: &mut Task) -> SysResult {
    let (first, last, flags) = (t.arg(0) as u32, t.arg(1) as u32, t.arg(2));
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    // CLOSE_RANGE_UNSHARE: a table shared with other processes (CLONE_FILES) is copied
    // first, and the range closes in the copy only.
    if flags & CLOSE_RANGE_UNSHARE != 0 && std::sync::Arc::strong_count(&t.fds) > 1 {
        let copy = t.fds().duplicate()?;
        t.fds = std::sync::Arc::new(std::sync::Mutex::new(copy));
        t.publish();
    }
    let mut fds = t.fds();
    let open: Vec<i32> = fds
        .iter()
        .map(|(fd, _)| fd)
        .filter(|fd| (*fd as u32) >= first && (*fd as u32) <= last)
        .collect();
    let mut closed = Vec::new();
    for fd in open {
        if flags & CLOSE_RANGE_CLOEXEC != 0 {
            let _ = fds.set_cloexec(fd, true);
        } else if let Ok(e) = fds.remove(fd) {
            closed.push(e);
        }
    }
    drop(fds);
    for e in &closed {
        crate::vfs::lock::on_close(t.tgid(), &e.file);
    }
    drop(closed);
    Ok(0)
}

/// Implements memfd_create(2): an unlinked tmpfs file of the sandbox's own.
pub fn sys_memfd_create(t: &mut Task) -> SysResult {
    let flags = t.arg(1) as u32;
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MFD_HUGETLB != 0
        || flags & (MFD_EXEC | MFD_NOEXEC_SEAL) == MFD_EXEC | MFD_NOEXEC_SEAL
    {
        return Err(Errno::EINVAL);
    }
    let name = t.mm().read_cstr(t.arg(0), 249).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::EINVAL
        } else {
            e
        }
    })?;
    let mount = crate::fsimpl::tmpfs::memfd_mount();
    let owner = Owner {
        uid: t.creds.uid.1,
        gid: t.creds.gid.1,
    };
    let root = mount.root.clone();
    let tmp = format!("memfd.{}", t.k.new_ino());
    let node = root.mknod(tmp.as_bytes(), S_IFREG | 0o777, 0, owner)?;
    root.unlink(tmp.as_bytes())?;
    if let Some(n) = crate::vfs::downcast::<crate::fsimpl::tmpfs::TmpInode>(&node) {
        n.init_memfd(flags);
    }
    let ops = node.open(O_RDWR)?;
    let path = format!("/memfd:{} (deleted)", String::from_utf8_lossy(&name));
    let file = File::open_inode(ops, O_RDWR, path, node, mount);
    install(t, file, flags & MFD_CLOEXEC != 0)
}
