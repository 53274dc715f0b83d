// SPDX-License-Identifier: Apache-2.0
//! mount(2), umount2(2), chroot(2) and file handles: flags and capability numbers
//! (include/uapi/linux/mount.h, include/uapi/linux/capability.h, include/linux/exportfs.h).

/// Mount read-only.
pub const MS_RDONLY: u64 = 1;
/// Ignore set-user-ID and set-group-ID bits.
pub const MS_NOSUID: u64 = 2;
/// Disallow access to device nodes.
pub const MS_NODEV: u64 = 4;
/// Disallow program execution.
pub const MS_NOEXEC: u64 = 8;
/// Writes are synced at once.
pub const MS_SYNCHRONOUS: u64 = 16;
/// Alter the flags of a mounted file system.
pub const MS_REMOUNT: u64 = 32;
/// Allow mandatory locks.
pub const MS_MANDLOCK: u64 = 64;
/// Directory changes are synchronous.
pub const MS_DIRSYNC: u64 = 128;
/// Do not follow symlinks in the target.
pub const MS_NOSYMFOLLOW: u64 = 256;
/// Do not update access times.
pub const MS_NOATIME: u64 = 1024;
/// Do not update directory access times.
pub const MS_NODIRATIME: u64 = 2048;
/// A bind mount.
pub const MS_BIND: u64 = 4096;
/// Move a mount.
pub const MS_MOVE: u64 = 8192;
/// Recursive (with MS_BIND or a propagation change).
pub const MS_REC: u64 = 16384;
/// Quieter kernel messages.
pub const MS_SILENT: u64 = 32768;
/// Propagation: unbindable.
pub const MS_UNBINDABLE: u64 = 1 << 17;
/// Propagation: private.
pub const MS_PRIVATE: u64 = 1 << 18;
/// Propagation: slave.
pub const MS_SLAVE: u64 = 1 << 19;
/// Propagation: shared.
pub const MS_SHARED: u64 = 1 << 20;
/// Update atime relative to mtime/ctime.
pub const MS_RELATIME: u64 = 1 << 21;
/// Always update atime.
pub const MS_STRICTATIME: u64 = 1 << 24;
/// Update times lazily.
pub const MS_LAZYTIME: u64 = 1 << 25;
/// The old magic number in the top 16 bits of the flags.
pub const MS_MGC_MSK: u64 = 0xffff_0000;
/// The old magic number.
pub const MS_MGC_VAL: u64 = 0xc0ed_0000;

/// Force an unmount.
pub const MNT_FORCE: u64 = 1;
/// Lazy unmount.
pub const MNT_DETACH: u64 = 2;
/// Mark for expiry.
pub const MNT_EXPIRE: u64 = 4;
/// Do not follow a symlink in the target.
pub const UMOUNT_NOFOLLOW: u64 = 8;

/// CAP_DAC_READ_SEARCH (open_by_handle_at).
pub const CAP_DAC_READ_SEARCH: u32 = 2;
/// CAP_SYS_CHROOT (chroot).
pub const CAP_SYS_CHROOT: u32 = 18;
/// CAP_SYS_ADMIN (mount, umount2, pivot_root).
pub const CAP_SYS_ADMIN: u32 = 21;
/// CAP_SYS_TTY_CONFIG (vhangup).
pub const CAP_SYS_TTY_CONFIG: u32 = 26;

/// Largest file handle (MAX_HANDLE_SZ).
pub const MAX_HANDLE_SZ: u32 = 128;
/// name_to_handle_at: the handle is only an identifier (AT_HANDLE_FID).
pub const AT_HANDLE_FID: u32 = 0x200;
/// name_to_handle_at: return a 64-bit unique mount id (AT_HANDLE_MNT_ID_UNIQUE).
pub const AT_HANDLE_MNT_ID_UNIQUE: u32 = 0x001;

/// si_code of a SIGIO-style signal: data to read.
pub const POLL_IN: i32 = 1;
/// si_code of a SIGIO-style signal: room to write.
pub const POLL_OUT: i32 = 2;
/// si_code of a SIGIO-style signal: an error.
pub const POLL_ERR: i32 = 4;
/// si_code of a SIGIO-style signal: hang-up.
pub const POLL_HUP: i32 = 6;
