// SPDX-License-Identifier: Apache-2.0
//! Inode attribute flags (chattr(1), lsattr(1)): the FS_IOC_GETFLAGS/SETFLAGS and
//! FS_IOC_FSGETXATTR/FSSETXATTR ioctls and Linux 6.17's file_getattr(2)/file_setattr(2),
//! checked as fs/file_attr.c checks them. The file systems keep the flags (tmpfs, and the
//! overlay on its upper files); what the flags forbid is [`crate::vfs::attr_flags`].

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::attr::{target_at, target_fd, Target};
use super::{fd_arg, SysResult};
use crate::kernel::Task;
use crate::vfs::attr_flags::{from_xflags, to_xflags};
use crate::vfs::{File, Inode, Mount};

/// Every FS_XFLAG_* Linux defines (FS_XFLAG_VALUES_MASK).
const XFLAG_VALUES: u64 = 0x1_fffb | 0x8000_0000;
const PAGE_SIZE: u64 = 4096;

/// vfs_fileattr_get, with the ENOTTY of a file system that keeps no flags (each file system
/// shows its own visible flags: ext4's EXTENTS_FL among them).
fn get(inode: &dyn Inode) -> Result<u32, Errno> {
    inode.attr_flags()
}

/// vfs_fileattr_set's checks after the mount's write access: the file system must keep flags
/// (ENOTTY), the caller must own the file or hold CAP_FOWNER (EPERM), and changing IMMUTABLE
/// or APPEND takes CAP_LINUX_IMMUTABLE (EPERM). `flags` None: a request the file system will
/// refuse; only the checks before that are made.
fn may_set(
    t: &Task,
    mount: Option<&Arc<Mount>>,
    inode: &dyn Inode,
    flags: Option<u32>,
) -> Result<(), Errno> {
    if mount.is_some_and(|m| m.read_only()) {
        return Err(Errno::EROFS);
    }
    let old = inode.attr_flags()?;
    let st = inode.stat()?;
    if t.creds.fsuid != st.st_uid && t.creds.caps & (1 << CAP_FOWNER) == 0 {
        return Err(Errno::EPERM);
    }
    if (old ^ flags.unwrap_or(old)) & (FS_APPEND_FL | FS_IMMUTABLE_FL) != 0
        && t.creds.caps & (1 << CAP_LINUX_IMMUTABLE) == 0
    {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// Sets the flags once [`may_set`] allows it, and reports the change.
fn set(t: &Task, mount: Option<&Arc<Mount>>, inode: &dyn Inode, flags: u32) -> Result<(), Errno> {
    may_set(t, mount, inode, Some(flags))?;
    inode.set_attr_flags(flags)?;
    crate::vfs::notify::file_event(
        &crate::vfs::notify::Subject {
            inode,
            stat: None,
            parent: None,
            file: None,
        },
        IN_ATTRIB,
    );
    Ok(())
}

/// The flags ioctls on `file`; `None` for other requests (and for files with no inode, whose
/// ioctls go on to their own handlers).
pub(crate) fn ioctl(t: &Task, file: &Arc<File>, req: u32, arg: u64) -> Option<SysResult> {
    if !matches!(
        req,
        FS_IOC_GETFLAGS
            | FS_IOC_SETFLAGS
            | FS_IOC32_GETFLAGS
            | FS_IOC32_SETFLAGS
            | FS_IOC_FSGETXATTR
            | FS_IOC_FSSETXATTR
    ) {
        return None;
    }
    let inode = file.inode.clone()?;
    Some(match req {
        FS_IOC_GETFLAGS | FS_IOC32_GETFLAGS => {
            get(inode.as_ref()).and_then(|f| t.write_val(arg, &(f as i32)).map(|_| 0))
        }
        FS_IOC_SETFLAGS | FS_IOC32_SETFLAGS => t
            .read_val::<i32>(arg)
            .and_then(|f| set(t, file.mount.as_ref(), inode.as_ref(), f as u32))
            .map(|_| 0),
        FS_IOC_FSGETXATTR => get(inode.as_ref()).and_then(|f| {
            let x = Fsxattr {
                fsx_xflags: to_xflags(f),
                ..Default::default()
            };
            t.write_val(arg, &x).map(|_| 0)
        }),
        _ => t.read_val::<Fsxattr>(arg).and_then(|x| {
            let flags = from_xflags(x.fsx_xflags)
                .filter(|_| x.fsx_extsize == 0 && x.fsx_projid == 0 && x.fsx_cowextsize == 0);
            set_xattr_form(t, file.mount.as_ref(), inode.as_ref(), flags).map(|_| 0)
        }),
    })
}

/// FS_IOC_FSSETXATTR's and file_setattr's set: the flags, or `None` for anything the sentry's
/// file systems cannot keep (EOPNOTSUPP from the file system, after the checks before it).
fn set_xattr_form(
    t: &Task,
    mount: Option<&Arc<Mount>>,
    inode: &dyn Inode,
    flags: Option<u32>,
) -> Result<(), Errno> {
    match flags {
        Some(f) => set(t, mount, inode, f),
        None => {
            // The checks vfs_fileattr_set makes before the file system refuses (nothing is
            // written: no ctime change, no event).
            may_set(t, mount, inode, None)?;
            Err(Errno::EOPNOTSUPP)
        }
    }
}

/// The file file_getattr/file_setattr name: `dfd` itself for a NULL or empty path with
/// AT_EMPTY_PATH.
fn target(t: &Task, at_flags: u32) -> Result<Target, Errno> {
    let (dfd, path) = (fd_arg(t, 0), t.arg(1));
    if path == 0 && at_flags & AT_EMPTY_PATH != 0 && dfd >= 0 {
        return target_fd(t, dfd).map_err(|e| if e == Errno::EPERM { Errno::EBADF } else { e });
    }
    target_at(t, dfd, path, at_flags)
}

/// file_getattr's and file_setattr's first checks: the AT flags, then the struct's size
/// (E2BIG past a page, EINVAL below the first version). Returns the struct's address, its
/// size and the flags.
fn check_args(t: &Task) -> Result<(u64, u64, u32), Errno> {
    let (ufattr, usize_, at_flags) = (t.arg(2), t.arg(3), t.arg(4) as u32);
    if at_flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if usize_ > PAGE_SIZE {
        return Err(Errno::E2BIG);
    }
    if usize_ < FILE_ATTR_SIZE_VER0 {
        return Err(Errno::EINVAL);
    }
    Ok((ufattr, usize_, at_flags))
}

/// Implements file_getattr(2).
pub fn sys_file_getattr(t: &mut Task) -> SysResult {
    let (ufattr, usize_, at_flags) = check_args(t)?;
    let tg = target(t, at_flags)?;
    let flags = match get(tg.inode.as_ref()) {
        Err(Errno::ENOTTY) => return Err(Errno::EOPNOTSUPP),
        r => r?,
    };
    let fa = FileAttr {
        fa_xflags: u64::from(to_xflags(flags)),
        ..Default::default()
    };
    // copy_struct_to_user: as much as the caller's struct holds, zeros past ours.
    let mut out = vec![0u8; usize_ as usize];
    let ours = bytemuck::bytes_of(&fa);
    let n = ours.len().min(out.len());
    out[..n].copy_from_slice(&ours[..n]);
    t.copy_out(ufattr, &out)?;
    Ok(0)
}

/// Implements file_setattr(2).
pub fn sys_file_setattr(t: &mut Task) -> SysResult {
    let (ufattr, usize_, at_flags) = check_args(t)?;
    // copy_struct_from_user: a longer struct's extra bytes must be zero (E2BIG).
    let mut raw = vec![0u8; usize_ as usize];
    t.copy_in(ufattr, &mut raw)?;
    let size = std::mem::size_of::<FileAttr>();
    if raw.len() > size && raw[size..].iter().any(|b| *b != 0) {
        return Err(Errno::E2BIG);
    }
    let mut fa = FileAttr::default();
    let n = size.min(raw.len());
    bytemuck::bytes_of_mut(&mut fa)[..n].copy_from_slice(&raw[..n]);
    if fa.fa_xflags & !XFLAG_VALUES != 0 {
        return Err(Errno::EINVAL);
    }
    let tg = target(t, at_flags)?;
    let flags = from_xflags(fa.fa_xflags as u32)
        .filter(|_| fa.fa_extsize == 0 && fa.fa_projid == 0 && fa.fa_cowextsize == 0);
    match set_xattr_form(t, tg.mount.as_ref(), tg.inode.as_ref(), flags) {
        Err(Errno::ENOTTY) => Err(Errno::EOPNOTSUPP),
        r => r.map(|_| 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_mask_holds_the_common_xflags() {
        assert_eq!(u64::from(FS_XFLAG_COMMON) & !XFLAG_VALUES, 0);
        assert_eq!(XFLAG_VALUES & 0x4, 0);
    }
}
