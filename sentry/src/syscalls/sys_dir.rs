// SPDX-License-Identifier: Apache-2.0
//! Directories and names: getdents, cwd, mkdir, mknod, unlink, rmdir, rename, link, symlink.

use syscalls::abi::*;
use syscalls::Errno;

use super::{may_change_dir, new_owner, sticky_allows, strip_sgid, walk_at};
use crate::kernel::{landlock, lock, Task};
use crate::syscalls::{fd_arg, SysResult};
use crate::vfs::notify;
use crate::vfs::path::Resolved;

use super::rw::{access_ok, CHUNK};

/// Implements getdents64(2).
pub fn sys_getdents64(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    let (addr, count) = (t.arg(1), t.arg(2) as u32 as usize);
    access_ok(addr, count as u64)?;
    let mut buf = vec![0u8; count.min(CHUNK)];
    let saved = *file.pos.lock().unwrap_or_else(|e| e.into_inner());
    let n = file.getdents(&mut buf)?;
    if let Err(e) = t.copy_out(addr, &buf[..n]) {
        // Nothing was consumed: the next call sees the same entries.
        *file.pos.lock().unwrap_or_else(|e| e.into_inner()) = saved;
        return Err(e);
    }
    Ok(n as u64)
}

/// Implements getcwd(2).
pub fn sys_getcwd(t: &mut Task) -> SysResult {
    // Relative to the task's root; a cwd outside it (left there by chroot) is shown as
    // Linux shows it.
    let mut cwd = {
        let fs = lock(&t.fs);
        fs.visible(&fs.cwd)
            .unwrap_or_else(|| format!("(unreachable){}", fs.cwd))
            .into_bytes()
    };
    cwd.push(0);
    if (t.arg(1) as usize) < cwd.len() {
        return Err(Errno::ERANGE);
    }
    t.copy_out(t.arg(0), &cwd)?;
    Ok(cwd.len() as u64)
}

fn set_cwd(
    t: &Task,
    st: &Stat,
    path: String,
    anchor: Option<crate::vfs::path::Anchor>,
) -> SysResult {
    if st.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    let searchable = match &anchor {
        Some(a) => t.creds.may_file(a.inode.as_ref(), st, X_OK),
        None => t.creds.may(st.st_mode, st.st_uid, st.st_gid, X_OK),
    };
    if !searchable {
        return Err(Errno::EACCES);
    }
    let mut fs = lock(&t.fs);
    fs.cwd = path;
    fs.cwd_anchor = anchor;
    Ok(0)
}

/// Implements chdir(2).
pub fn sys_chdir(t: &mut Task) -> SysResult {
    let path = t.read_path(t.arg(0))?;
    let r = walk_at(t, AT_FDCWD, &path, true)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    let anchor = r.inode.clone().map(|inode| crate::vfs::path::Anchor {
        inode,
        mount: r.mount.clone(),
    });
    set_cwd(t, &st, r.path, anchor)
}

/// Implements fchdir(2).
pub fn sys_fchdir(t: &mut Task) -> SysResult {
    let file = t.file(fd_arg(t, 0))?;
    let st = file.stat()?;
    set_cwd(t, &st, file.path.clone(), file.anchor())
}

/// A new name must not exist, and must be a plain name (not `.`, `..` or the root).
fn new_name(r: &Resolved) -> Result<(), Errno> {
    if r.inode.is_some() || r.name.is_empty() || r.name == b"." || r.name == b".." {
        return Err(Errno::EEXIST);
    }
    Ok(())
}

fn do_mkdir(t: &Task, dirfd: i32, path_addr: u64, mode: u32) -> SysResult {
    let path = t.read_path(path_addr)?;
    let r = walk_at(t, dirfd, &path, false)?;
    new_name(&r)?;
    landlock::check_in_dir(t, &r, LANDLOCK_ACCESS_FS_MAKE_DIR)?;
    let dir = may_change_dir(t, &r)?;
    let umask = lock(&t.fs).umask;
    // The directory's default ACL, if any, in place of the umask (and inherited as the new
    // directory's own default).
    let (mode, access, default) =
        crate::vfs::acl::create_mode(r.parent.as_ref(), S_IFDIR | (mode & 0o1777), umask);
    let mut mode = mode & 0o1777;
    if dir.st_mode & S_ISGID != 0 {
        mode |= S_ISGID;
    }
    let made = r.parent.mkdir(&r.name, mode, new_owner(t, &dir))?;
    crate::vfs::acl::inherit(made.as_ref(), access, default);
    notify::created(r.parent.as_ref(), &r.name, true);
    Ok(0)
}

/// Implements mkdir(2).
pub fn sys_mkdir(t: &mut Task) -> SysResult {
    do_mkdir(t, AT_FDCWD, t.arg(0), t.arg(1) as u32)
}

/// Implements mkdirat(2).
pub fn sys_mkdirat(t: &mut Task) -> SysResult {
    do_mkdir(t, fd_arg(t, 0), t.arg(1), t.arg(2) as u32)
}

fn do_mknod(t: &Task, dirfd: i32, path_addr: u64, mode: u32, dev: u64) -> SysResult {
    let fmt = mode & S_IFMT;
    let fmt = if fmt == 0 { S_IFREG } else { fmt };
    match fmt {
        S_IFREG | S_IFIFO | S_IFSOCK => {}
        S_IFCHR | S_IFBLK => {
            if t.creds.uid.1 != 0 {
                return Err(Errno::EPERM);
            }
        }
        S_IFDIR => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    }
    let path = t.read_path(path_addr)?;
    let r = walk_at(t, dirfd, &path, false)?;
    new_name(&r)?;
    if r.trailing_slash {
        return Err(Errno::ENOENT);
    }
    landlock::check_in_dir(t, &r, landlock::make_access(fmt))?;
    let dir = may_change_dir(t, &r)?;
    let umask = lock(&t.fs).umask;
    let rdev = if matches!(fmt, S_IFCHR | S_IFBLK) {
        dev
    } else {
        0
    };
    let (mode, access, default) =
        crate::vfs::acl::create_mode(r.parent.as_ref(), fmt | (mode & 0o7777), umask);
    let made = r
        .parent
        .mknod(&r.name, strip_sgid(t, &dir, mode), rdev, new_owner(t, &dir))?;
    crate::vfs::acl::inherit(made.as_ref(), access, default);
    notify::created(r.parent.as_ref(), &r.name, false);
    Ok(0)
}

/// Implements mknod(2).
pub fn sys_mknod(t: &mut Task) -> SysResult {
    do_mknod(
        t,
        AT_FDCWD,
        t.arg(0),
        t.arg(1) as u32,
        t.arg(2) as u32 as u64,
    )
}

/// Implements mknodat(2).
pub fn sys_mknodat(t: &mut Task) -> SysResult {
    do_mknod(
        t,
        fd_arg(t, 0),
        t.arg(1),
        t.arg(2) as u32,
        t.arg(3) as u32 as u64,
    )
}

/// Checks that `r`'s last component may be removed or renamed away by the task.
fn may_remove(t: &Task, r: &Resolved) -> Result<Stat, Errno> {
    let dir = may_change_dir(t, r)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    if !sticky_allows(t, &dir, &st) {
        return Err(Errno::EPERM);
    }
    crate::vfs::attr_flags::check_delete(r.parent.as_ref(), r.inode.as_deref())?;
    if r.is_mount_root {
        return Err(Errno::EBUSY);
    }
    Ok(st)
}

fn do_unlink(t: &Task, dirfd: i32, path_addr: u64) -> SysResult {
    let path = t.read_path(path_addr)?;
    let r = walk_at(t, dirfd, &path, false)?;
    r.inode.as_ref().ok_or(Errno::ENOENT)?;
    if r.name.is_empty() || r.name == b"." || r.name == b".." {
        return Err(Errno::EISDIR);
    }
    let st = r.stat.ok_or(Errno::ENOENT)?;
    if st.st_mode & S_IFMT == S_IFDIR {
        return Err(Errno::EISDIR);
    }
    if r.trailing_slash {
        return Err(Errno::ENOTDIR);
    }
    landlock::check_in_dir(t, &r, LANDLOCK_ACCESS_FS_REMOVE_FILE)?;
    may_remove(t, &r)?;
    r.parent.unlink(&r.name)?;
    notify::unlinked(&r);
    Ok(0)
}

fn do_rmdir(t: &Task, dirfd: i32, path_addr: u64) -> SysResult {
    let path = t.read_path(path_addr)?;
    let r = walk_at(t, dirfd, &path, false)?;
    r.inode.as_ref().ok_or(Errno::ENOENT)?;
    match r.name.as_slice() {
        b"." => return Err(Errno::EINVAL),
        b".." => return Err(Errno::ENOTEMPTY),
        b"" => return Err(Errno::EBUSY),
        _ => {}
    }
    let st = r.stat.ok_or(Errno::ENOENT)?;
    if st.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    landlock::check_in_dir(t, &r, LANDLOCK_ACCESS_FS_REMOVE_DIR)?;
    // A mount point is busy whatever its own mount says (vfs_rmdir's is_local_mountpoint;
    // whether it is read-only is the parent's mount's business, not the mounted one's).
    if r.is_mount_root {
        return Err(Errno::EBUSY);
    }
    may_remove(t, &r)?;
    r.parent.rmdir(&r.name)?;
    notify::unlinked(&r);
    Ok(0)
}

/// Implements unlink(2).
pub fn sys_unlink(t: &mut Task) -> SysResult {
    do_unlink(t, AT_FDCWD, t.arg(0))
}

/// Implements rmdir(2).
pub fn sys_rmdir(t: &mut Task) -> SysResult {
    do_rmdir(t, AT_FDCWD, t.arg(0))
}

/// Implements unlinkat(2).
pub fn sys_unlinkat(t: &mut Task) -> SysResult {
    let flags = t.arg(2) as u32;
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & AT_REMOVEDIR != 0 {
        do_rmdir(t, fd_arg(t, 0), t.arg(1))
    } else {
        do_unlink(t, fd_arg(t, 0), t.arg(1))
    }
}

fn do_rename(
    t: &Task,
    olddir: i32,
    old_addr: u64,
    newdir: i32,
    new_addr: u64,
    flags: u32,
) -> SysResult {
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0
        || (flags & RENAME_EXCHANGE != 0 && flags & (RENAME_NOREPLACE | RENAME_WHITEOUT) != 0)
    {
        return Err(Errno::EINVAL);
    }
    let (old, new) = (t.read_path(old_addr)?, t.read_path(new_addr)?);
    let ro = walk_at(t, olddir, &old, false)?;
    let rn = walk_at(t, newdir, &new, false)?;
    for r in [&ro, &rn] {
        if r.name.is_empty() || r.name == b"." || r.name == b".." {
            return Err(Errno::EBUSY);
        }
    }
    let src = ro.stat.ok_or(Errno::ENOENT)?;
    if flags & RENAME_WHITEOUT != 0 {
        // Whiteouts are the overlay's own business: refused as for an unprivileged caller.
        return Err(Errno::EPERM);
    }
    if !std::sync::Arc::ptr_eq(&ro.mount, &rn.mount) {
        return Err(Errno::EXDEV);
    }
    if flags & RENAME_EXCHANGE != 0 && rn.stat.is_none() {
        return Err(Errno::ENOENT);
    }
    landlock::check_refer(
        t,
        &ro.path,
        src.st_mode,
        &rn,
        true,
        flags & RENAME_EXCHANGE != 0,
    )?;
    may_remove(t, &ro)?;
    let dst_dir = may_change_dir(t, &rn)?;
    if let Some(dst) = rn.stat {
        if flags & RENAME_NOREPLACE != 0 {
            return Err(Errno::EEXIST);
        }
        if !sticky_allows(t, &dst_dir, &dst) {
            return Err(Errno::EPERM);
        }
        crate::vfs::attr_flags::check_delete(rn.parent.as_ref(), rn.inode.as_deref())?;
        if rn.is_mount_root {
            return Err(Errno::EBUSY);
        }
        let (sd, dd) = (
            src.st_mode & S_IFMT == S_IFDIR,
            dst.st_mode & S_IFMT == S_IFDIR,
        );
        if flags & RENAME_EXCHANGE == 0 {
            if sd && !dd {
                return Err(Errno::ENOTDIR);
            }
            if !sd && dd {
                return Err(Errno::EISDIR);
            }
        }
    } else if flags & RENAME_EXCHANGE != 0 {
        return Err(Errno::ENOENT);
    }
    if src.st_mode & S_IFMT != S_IFDIR && (ro.trailing_slash || rn.trailing_slash) {
        return Err(Errno::ENOTDIR);
    }
    // A directory cannot move below itself.
    let below =
        |a: &str, b: &str| b.len() > a.len() && b.starts_with(a) && b.as_bytes()[a.len()] == b'/';
    if below(&ro.path, &rn.path) {
        return Err(Errno::EINVAL);
    }
    if flags & RENAME_EXCHANGE != 0 && below(&rn.path, &ro.path) {
        return Err(Errno::EINVAL);
    }
    if rn.stat.is_some() && below(&rn.path, &ro.path) {
        return Err(Errno::ENOTEMPTY);
    }
    ro.parent.rename(&ro.name, &rn.parent, &rn.name, flags)?;
    notify::renamed(
        &ro,
        &rn,
        &src,
        rn.stat.as_ref(),
        flags & RENAME_EXCHANGE != 0,
    );
    Ok(0)
}

/// Implements rename(2).
pub fn sys_rename(t: &mut Task) -> SysResult {
    do_rename(t, AT_FDCWD, t.arg(0), AT_FDCWD, t.arg(1), 0)
}

/// Implements renameat(2).
pub fn sys_renameat(t: &mut Task) -> SysResult {
    do_rename(t, fd_arg(t, 0), t.arg(1), fd_arg(t, 2), t.arg(3), 0)
}

/// Implements renameat2(2).
pub fn sys_renameat2(t: &mut Task) -> SysResult {
    do_rename(
        t,
        fd_arg(t, 0),
        t.arg(1),
        fd_arg(t, 2),
        t.arg(3),
        t.arg(4) as u32,
    )
}

fn do_link(
    t: &Task,
    olddir: i32,
    old_addr: u64,
    newdir: i32,
    new_addr: u64,
    flags: u32,
) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let old = t.read_path(old_addr)?;
    let (target, tmount, tst, tpath) = if old.is_empty() && flags & AT_EMPTY_PATH != 0 {
        let f = t.file(olddir)?;
        let inode = f.inode.clone().ok_or(Errno::ENOENT)?;
        let st = inode.stat()?;
        (
            inode,
            f.mount.clone().ok_or(Errno::ENOENT)?,
            st,
            f.path.clone(),
        )
    } else {
        let r = walk_at(t, olddir, &old, flags & AT_SYMLINK_FOLLOW != 0)?;
        let st = r.stat.ok_or(Errno::ENOENT)?;
        (r.inode.ok_or(Errno::ENOENT)?, r.mount, st, r.path)
    };
    let new = t.read_path(new_addr)?;
    let rn = walk_at(t, newdir, &new, false)?;
    new_name(&rn)?;
    if rn.trailing_slash {
        return Err(Errno::ENOENT);
    }
    if !std::sync::Arc::ptr_eq(&tmount, &rn.mount) {
        return Err(Errno::EXDEV);
    }
    landlock::check_refer(t, &tpath, tst.st_mode, &rn, false, false)?;
    may_change_dir(t, &rn)?;
    // vfs_link's refusal of a directory comes after the new name's checks (EEXIST, EROFS,
    // EXDEV, EACCES), as in Linux's do_linkat.
    if tst.st_mode & S_IFMT == S_IFDIR {
        return Err(Errno::EPERM);
    }
    crate::vfs::attr_flags::check_fixed(target.as_ref())?;
    rn.parent.link(&rn.name, &target)?;
    notify::linked(rn.parent.as_ref(), &rn.name, &tst);
    Ok(0)
}

/// Implements link(2).
pub fn sys_link(t: &mut Task) -> SysResult {
    do_link(t, AT_FDCWD, t.arg(0), AT_FDCWD, t.arg(1), 0)
}

/// Implements linkat(2).
pub fn sys_linkat(t: &mut Task) -> SysResult {
    do_link(
        t,
        fd_arg(t, 0),
        t.arg(1),
        fd_arg(t, 2),
        t.arg(3),
        t.arg(4) as u32,
    )
}

fn do_symlink(t: &Task, target_addr: u64, dirfd: i32, path_addr: u64) -> SysResult {
    let target = t.read_path(target_addr)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let path = t.read_path(path_addr)?;
    let r = walk_at(t, dirfd, &path, false)?;
    new_name(&r)?;
    if r.trailing_slash {
        return Err(Errno::ENOENT);
    }
    landlock::check_in_dir(t, &r, LANDLOCK_ACCESS_FS_MAKE_SYM)?;
    let dir = may_change_dir(t, &r)?;
    r.parent.symlink(&r.name, &target, new_owner(t, &dir))?;
    notify::created(r.parent.as_ref(), &r.name, false);
    Ok(0)
}

/// Implements symlink(2).
pub fn sys_symlink(t: &mut Task) -> SysResult {
    do_symlink(t, t.arg(0), AT_FDCWD, t.arg(1))
}

/// Implements symlinkat(2).
pub fn sys_symlinkat(t: &mut Task) -> SysResult {
    do_symlink(t, t.arg(0), fd_arg(t, 1), t.arg(2))
}
