// SPDX-License-Identifier: Apache-2.0
//! Inode attribute flags (chattr(1), lsattr(1)): what FS_IMMUTABLE_FL and FS_APPEND_FL forbid,
//! as Linux's IS_IMMUTABLE and IS_APPEND checks in the VFS do it, and the flags' FS_XFLAG_*
//! forms (fileattr_fill_flags, fileattr_fill_xflags). The file systems keep the flags
//! ([`Inode::attr_flags`]); a file system that keeps none has none set.

use syscalls::abi::*;
use syscalls::Errno;

use super::Inode;

/// The flags set on `inode` (none where its file system keeps none).
pub fn of(inode: &dyn Inode) -> u32 {
    inode.attr_flags().unwrap_or(0)
}

/// inode_permission(MAY_WRITE) of an immutable file or directory: EPERM (a directory's entries
/// cannot be added or removed, a file cannot be opened for writing or truncated).
pub fn check_writable(inode: &dyn Inode) -> Result<(), Errno> {
    if of(inode) & FS_IMMUTABLE_FL != 0 {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// A file whose attributes, links and names are fixed: immutable or append-only
/// (notify_change's mode, owner and explicit times, may_delete's victim, vfs_link's target,
/// xattr_permission's writes).
pub fn check_fixed(inode: &dyn Inode) -> Result<(), Errno> {
    if of(inode) & (FS_IMMUTABLE_FL | FS_APPEND_FL) != 0 {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// may_delete: nothing is removed from an append-only directory, and an immutable or
/// append-only file is never removed or renamed away.
pub fn check_delete(dir: &dyn Inode, victim: Option<&dyn Inode>) -> Result<(), Errno> {
    if of(dir) & FS_APPEND_FL != 0 {
        return Err(Errno::EPERM);
    }
    match victim {
        Some(v) => check_fixed(v),
        None => Ok(()),
    }
}

/// may_open's append-only rule: written only with O_APPEND, never truncated.
pub fn check_open_append(inode: &dyn Inode, flags: u32) -> Result<(), Errno> {
    if of(inode) & FS_APPEND_FL != 0
        && ((flags & O_ACCMODE != O_RDONLY && flags & O_APPEND == 0) || flags & O_TRUNC != 0)
    {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// The flags as FS_XFLAG_* (FS_IOC_FSGETXATTR, file_getattr).
pub fn to_xflags(flags: u32) -> u32 {
    [
        (FS_SYNC_FL, FS_XFLAG_SYNC),
        (FS_IMMUTABLE_FL, FS_XFLAG_IMMUTABLE),
        (FS_APPEND_FL, FS_XFLAG_APPEND),
        (FS_NODUMP_FL, FS_XFLAG_NODUMP),
        (FS_NOATIME_FL, FS_XFLAG_NOATIME),
        (FS_PROJINHERIT_FL, FS_XFLAG_PROJINHERIT),
    ]
    .iter()
    .filter(|(f, _)| flags & f != 0)
    .fold(0, |x, (_, xf)| x | xf)
}

/// FS_XFLAG_* as flags (FS_IOC_FSSETXATTR, file_setattr): the common ones only; `None` when
/// `x` asks for anything else (the sentry's file systems keep no extent sizes or projects).
pub fn from_xflags(x: u32) -> Option<u32> {
    if x & !(FS_XFLAG_COMMON & !FS_XFLAG_DAX) != 0 {
        return None;
    }
    Some(
        [
            (FS_XFLAG_SYNC, FS_SYNC_FL),
            (FS_XFLAG_IMMUTABLE, FS_IMMUTABLE_FL),
            (FS_XFLAG_APPEND, FS_APPEND_FL),
            (FS_XFLAG_NODUMP, FS_NODUMP_FL),
            (FS_XFLAG_NOATIME, FS_NOATIME_FL),
        ]
        .iter()
        .filter(|(xf, _)| x & xf != 0)
        .fold(0, |f, (_, fl)| f | fl),
    )
}

/// statx's stx_attributes and the part of stx_attributes_mask the flags answer for, where the
/// file system keeps flags.
pub fn statx_attributes(inode: &dyn Inode) -> (u64, u64) {
    let Ok(flags) = inode.attr_flags() else {
        return (0, 0);
    };
    let mask = inode.flag_attributes_mask();
    // (flag, attribute): compressed, immutable, append, nodump, encrypted, verity.
    let a = [
        (0x4, 0x4),
        (FS_IMMUTABLE_FL, STATX_ATTR_IMMUTABLE),
        (FS_APPEND_FL, STATX_ATTR_APPEND),
        (FS_NODUMP_FL, STATX_ATTR_NODUMP),
        (0x800, 0x800),
        (0x0010_0000, 0x0010_0000),
    ]
    .iter()
    .filter(|(f, _)| flags & f != 0)
    .fold(0, |a, (_, at)| a | at);
    (a & mask, mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xflags_round_trip_the_common_flags() {
        let f = FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL | FS_SYNC_FL;
        assert_eq!(from_xflags(to_xflags(f)), Some(f));
        assert_eq!(from_xflags(FS_XFLAG_PROJINHERIT), None);
        assert_eq!(to_xflags(0), 0);
    }
}
