// SPDX-License-Identifier: Apache-2.0
//! Extended attributes: get, set, list and remove, by path, by path without following, and by
//! fd. Namespaces as Linux checks them: user.* on regular files and directories with the
//! file's read or write permission, trusted.* for root only, security.*, system.* refused.

use syscalls::abi::*;
use syscalls::Errno;

use super::attr::{target_at, target_open_fd, Target};
use crate::kernel::Task;
use crate::syscalls::{fd_arg, SysResult};

fn xattr_name(t: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    let name = t.mm().read_cstr(addr, XATTR_NAME_MAX).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::ERANGE
        } else {
            e
        }
    })?;
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    Ok(name)
}

enum Ns {
    User,
    Trusted,
    Security,
    /// The POSIX ACLs (`system.posix_acl_access`, `system.posix_acl_default`).
    Acl,
}

fn namespace(name: &[u8]) -> Result<Ns, Errno> {
    if crate::vfs::acl::is_acl_name(name) {
        Ok(Ns::Acl)
    } else if name.starts_with(b"user.") && name.len() > 5 {
        Ok(Ns::User)
    } else if name.starts_with(b"trusted.") && name.len() > 8 {
        Ok(Ns::Trusted)
    } else if name.starts_with(b"security.") && name.len() > 9 {
        Ok(Ns::Security)
    } else {
        Err(Errno::EOPNOTSUPP)
    }
}

/// Where a value may be read (`write` false) or written.
fn check(t: &Task, tg: &Target, name: &[u8], write: bool) -> Result<(), Errno> {
    // xattr_permission: an immutable or append-only file's attributes are fixed.
    if write {
        crate::vfs::attr_flags::check_fixed(tg.inode.as_ref())?;
    }
    let root = t.creds.uid.1 == 0;
    let st = &tg.stat;
    match namespace(name)? {
        Ns::User => {
            if !matches!(st.st_mode & S_IFMT, S_IFREG | S_IFDIR) {
                return Err(if write { Errno::EPERM } else { Errno::ENODATA });
            }
            let want = if write { W_OK } else { R_OK };
            if !t.creds.may_file(tg.inode.as_ref(), st, want) {
                return Err(Errno::EACCES);
            }
        }
        Ns::Trusted if !root => return Err(if write { Errno::EPERM } else { Errno::ENODATA }),
        Ns::Trusted => {}
        Ns::Security => {
            if write && !root {
                return Err(Errno::EPERM);
            }
        }
        // set_posix_acl: the owner or CAP_FOWNER; anyone may read one.
        Ns::Acl => {
            if write && t.creds.fsuid != st.st_uid && t.creds.caps & (1 << CAP_FOWNER) == 0 {
                return Err(Errno::EPERM);
            }
        }
    }
    if write && tg.mount.as_ref().is_some_and(|m| m.read_only()) {
        return Err(Errno::EROFS);
    }
    Ok(())
}

fn out(t: &Task, value: &[u8], buf: u64, size: u64) -> SysResult {
    if size == 0 {
        return Ok(value.len() as u64);
    }
    if (size as usize) < value.len() {
        return Err(Errno::ERANGE);
    }
    t.copy_out(buf, value)?;
    Ok(value.len() as u64)
}

fn get(t: &Task, tg: Target, name_addr: u64, buf: u64, size: u64) -> SysResult {
    let name = xattr_name(t, name_addr)?;
    check(t, &tg, &name, false)?;
    if crate::vfs::acl::is_acl_name(&name) && !tg.inode.keeps_acls() {
        return Err(Errno::EOPNOTSUPP);
    }
    let value = tg.inode.getxattr(&name)?;
    if size as usize > XATTR_SIZE_MAX && value.len() > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    out(t, &value, buf, size)
}

fn set(t: &Task, tg: Target, name_addr: u64, val: u64, size: u64, flags: u32) -> SysResult {
    if flags & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(Errno::EINVAL);
    }
    let name = xattr_name(t, name_addr)?;
    if size as usize > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let mut value = vec![0u8; size as usize];
    t.copy_in(val, &mut value)?;
    check(t, &tg, &name, true)?;
    if name == b"security.capability" {
        file_caps_check(t, Some(&value))?;
    }
    if crate::vfs::acl::is_acl_name(&name) {
        crate::vfs::acl::set(tg.inode.as_ref(), &name, Some(&value), flags)?;
    } else {
        tg.inode.setxattr(&name, &value, flags)?;
    }
    tg.notify(IN_ATTRIB);
    super::attr::privs_may_have_changed();
    Ok(0)
}

/// File capabilities (`security.capability`) are set and removed with CAP_SETFCAP, and only
/// in revision 2 or 3 form (Linux's cap_convert_nscap and cap_inode_removexattr); exec reads
/// them (`kernel::exec_creds`).
fn file_caps_check(t: &Task, value: Option<&[u8]>) -> Result<(), Errno> {
    if t.creds.caps & (1 << CAP_SETFCAP) == 0 {
        return Err(Errno::EPERM);
    }
    if let Some(v) = value {
        let rev = v
            .get(..4)
            .map(|m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]) >> 24);
        match (rev, v.len()) {
            (Some(2), 20) | (Some(3), 24) => {}
            _ => return Err(Errno::EINVAL),
        }
    }
    Ok(())
}

fn list(t: &Task, tg: Target, buf: u64, size: u64) -> SysResult {
    let root = t.creds.uid.1 == 0;
    let mut all = Vec::new();
    for n in tg.inode.listxattr()? {
        if n.starts_with(b"trusted.") && !root {
            continue;
        }
        all.extend_from_slice(&n);
        all.push(0);
    }
    if all.len() > XATTR_LIST_MAX {
        return Err(Errno::E2BIG);
    }
    out(t, &all, buf, size)
}

fn remove(t: &Task, tg: Target, name_addr: u64) -> SysResult {
    let name = xattr_name(t, name_addr)?;
    check(t, &tg, &name, true)?;
    if name == b"security.capability" {
        file_caps_check(t, None)?;
    }
    if crate::vfs::acl::is_acl_name(&name) {
        crate::vfs::acl::set(tg.inode.as_ref(), &name, None, 0)?;
    } else {
        tg.inode.removexattr(&name)?;
    }
    tg.notify(IN_ATTRIB);
    Ok(0)
}

fn path_target(t: &Task, follow: bool) -> Result<Target, Errno> {
    let flags = if follow { 0 } else { AT_SYMLINK_NOFOLLOW };
    target_at(t, AT_FDCWD, t.arg(0), flags)
}

/// Implements getxattr(2).
pub fn sys_getxattr(t: &mut Task) -> SysResult {
    get(t, path_target(t, true)?, t.arg(1), t.arg(2), t.arg(3))
}

/// Implements lgetxattr(2).
pub fn sys_lgetxattr(t: &mut Task) -> SysResult {
    get(t, path_target(t, false)?, t.arg(1), t.arg(2), t.arg(3))
}

/// Implements fgetxattr(2).
pub fn sys_fgetxattr(t: &mut Task) -> SysResult {
    get(
        t,
        target_open_fd(t, fd_arg(t, 0))?,
        t.arg(1),
        t.arg(2),
        t.arg(3),
    )
}

/// Implements setxattr(2).
pub fn sys_setxattr(t: &mut Task) -> SysResult {
    set(
        t,
        path_target(t, true)?,
        t.arg(1),
        t.arg(2),
        t.arg(3),
        t.arg(4) as u32,
    )
}

/// Implements lsetxattr(2).
pub fn sys_lsetxattr(t: &mut Task) -> SysResult {
    set(
        t,
        path_target(t, false)?,
        t.arg(1),
        t.arg(2),
        t.arg(3),
        t.arg(4) as u32,
    )
}

/// Implements fsetxattr(2).
pub fn sys_fsetxattr(t: &mut Task) -> SysResult {
    set(
        t,
        target_open_fd(t, fd_arg(t, 0))?,
        t.arg(1),
        t.arg(2),
        t.arg(3),
        t.arg(4) as u32,
    )
}

/// Implements listxattr(2).
pub fn sys_listxattr(t: &mut Task) -> SysResult {
    list(t, path_target(t, true)?, t.arg(1), t.arg(2))
}

/// Implements llistxattr(2).
pub fn sys_llistxattr(t: &mut Task) -> SysResult {
    list(t, path_target(t, false)?, t.arg(1), t.arg(2))
}

/// Implements flistxattr(2).
pub fn sys_flistxattr(t: &mut Task) -> SysResult {
    list(t, target_open_fd(t, fd_arg(t, 0))?, t.arg(1), t.arg(2))
}

/// Implements removexattr(2).
pub fn sys_removexattr(t: &mut Task) -> SysResult {
    remove(t, path_target(t, true)?, t.arg(1))
}

/// Implements lremovexattr(2).
pub fn sys_lremovexattr(t: &mut Task) -> SysResult {
    remove(t, path_target(t, false)?, t.arg(1))
}

/// Implements fremovexattr(2).
pub fn sys_fremovexattr(t: &mut Task) -> SysResult {
    remove(t, target_open_fd(t, fd_arg(t, 0))?, t.arg(1))
}

/// The file an *xattrat call names: `path` from `dirfd` with AT_SYMLINK_NOFOLLOW and
/// AT_EMPTY_PATH (other flags: EINVAL).
fn at_target(t: &Task) -> Result<Target, Errno> {
    let flags = t.arg(2) as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    target_at(t, fd_arg(t, 0), t.arg(1), flags)
}

/// Reads a `struct xattr_args { __u64 value; __u32 size; __u32 flags; }` of `usize` bytes, as
/// Linux's `copy_struct_from_user`: at least the first version's 16 bytes (EINVAL), at most a
/// page (E2BIG), and any bytes past the ones known must be zero (E2BIG). Returns (value, size,
/// flags).
fn xattr_args(t: &Task, addr: u64, usize: u64) -> Result<(u64, u64, u32), Errno> {
    const VER0: u64 = 16;
    if usize < VER0 {
        return Err(Errno::EINVAL);
    }
    if usize > PAGE_SIZE {
        return Err(Errno::E2BIG);
    }
    let mut raw = vec![0u8; usize as usize];
    t.copy_in(addr, &mut raw)?;
    if raw[VER0 as usize..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let word = |at: usize, n: usize| {
        raw[at..at + n]
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    };
    Ok((word(0, 8), word(8, 4), word(12, 4) as u32))
}

/// Implements setxattrat(2) (Linux 6.13).
pub fn sys_setxattrat(t: &mut Task) -> SysResult {
    let (value, size, flags) = xattr_args(t, t.arg(4), t.arg(5))?;
    let tg = at_target(t)?;
    set(t, tg, t.arg(3), value, size, flags)
}

/// Implements getxattrat(2) (Linux 6.13): `xattr_args.flags` must be 0.
pub fn sys_getxattrat(t: &mut Task) -> SysResult {
    let (value, size, flags) = xattr_args(t, t.arg(4), t.arg(5))?;
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let tg = at_target(t)?;
    get(t, tg, t.arg(3), value, size)
}

/// Implements listxattrat(2) (Linux 6.13).
pub fn sys_listxattrat(t: &mut Task) -> SysResult {
    let tg = at_target(t)?;
    list(t, tg, t.arg(3), t.arg(4))
}

/// Implements removexattrat(2) (Linux 6.13).
pub fn sys_removexattrat(t: &mut Task) -> SysResult {
    let tg = at_target(t)?;
    remove(t, tg, t.arg(3))
}
