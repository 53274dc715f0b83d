// SPDX-License-Identifier: Apache-2.0
//! mount(2), umount2(2), chroot(2) and file handles: flags and capability numbers
//! (include/uapi/linux/mount.h, include/uapi/linux/capability.h, include/linux/exportfs.h).

use bytemuck::{Pod, Zeroable};

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

/// The new mount API (include/uapi/linux/mount.h): fsopen(2) flags.
pub const FSOPEN_CLOEXEC: u32 = 0x1;
/// fspick(2): close on exec.
pub const FSPICK_CLOEXEC: u32 = 0x1;
/// fspick(2): do not follow a symlink in the last component.
pub const FSPICK_SYMLINK_NOFOLLOW: u32 = 0x2;
/// fspick(2): do not trigger an automount.
pub const FSPICK_NO_AUTOMOUNT: u32 = 0x4;
/// fspick(2): an empty path names the dirfd itself.
pub const FSPICK_EMPTY_PATH: u32 = 0x8;
/// fsmount(2): close on exec.
pub const FSMOUNT_CLOEXEC: u32 = 0x1;
/// fsconfig(2) commands.
pub const FSCONFIG_SET_FLAG: u32 = 0;
/// fsconfig(2): a parameter with a string value.
pub const FSCONFIG_SET_STRING: u32 = 1;
/// fsconfig(2): a parameter with a binary value.
pub const FSCONFIG_SET_BINARY: u32 = 2;
/// fsconfig(2): a parameter naming an object by path.
pub const FSCONFIG_SET_PATH: u32 = 3;
/// fsconfig(2): as SET_PATH, an empty path allowed.
pub const FSCONFIG_SET_PATH_EMPTY: u32 = 4;
/// fsconfig(2): a parameter naming an object by fd.
pub const FSCONFIG_SET_FD: u32 = 5;
/// fsconfig(2): create the superblock.
pub const FSCONFIG_CMD_CREATE: u32 = 6;
/// fsconfig(2): reconfigure the superblock.
pub const FSCONFIG_CMD_RECONFIGURE: u32 = 7;
/// fsconfig(2): create a new superblock, never share one.
pub const FSCONFIG_CMD_CREATE_EXCL: u32 = 8;
/// open_tree(2): clone the tree as a detached mount.
pub const OPEN_TREE_CLONE: u32 = 1;
/// open_tree(2): close on exec (O_CLOEXEC).
pub const OPEN_TREE_CLOEXEC: u32 = 0o2000000;
/// open_tree(2), mount_setattr(2): the whole subtree.
pub const AT_RECURSIVE: u32 = 0x8000;
/// move_mount(2) flags.
pub const MOVE_MOUNT_F_SYMLINKS: u32 = 0x1;
/// move_mount(2): follow automounts on the from path.
pub const MOVE_MOUNT_F_AUTOMOUNTS: u32 = 0x2;
/// move_mount(2): an empty from path names from_dirfd.
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
/// move_mount(2): follow symlinks on the to path.
pub const MOVE_MOUNT_T_SYMLINKS: u32 = 0x10;
/// move_mount(2): follow automounts on the to path.
pub const MOVE_MOUNT_T_AUTOMOUNTS: u32 = 0x20;
/// move_mount(2): an empty to path names to_dirfd.
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
/// move_mount(2): set the sharing group instead.
pub const MOVE_MOUNT_SET_GROUP: u32 = 0x100;
/// move_mount(2): mount beneath the top mount.
pub const MOVE_MOUNT_BENEATH: u32 = 0x200;
/// move_mount(2): every valid flag.
pub const MOVE_MOUNT__MASK: u32 = 0x377;
/// Mount attributes (fsmount, mount_setattr): read-only.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
/// No set-user-ID.
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
/// No devices.
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
/// No execution.
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The atime setting (an enum, not bits).
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
/// atime: relative to mtime/ctime.
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
/// atime: never.
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
/// atime: always.
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
/// No directory atime updates.
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
/// An idmapped mount.
pub const MOUNT_ATTR_IDMAP: u64 = 0x100000;
/// Symlinks not followed.
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;
/// `struct mount_attr`'s first size.
pub const MOUNT_ATTR_SIZE_VER0: usize = 32;

/// `struct mount_attr` of mount_setattr(2) and open_tree_attr(2).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MountAttr {
    /// Attributes to set.
    pub attr_set: u64,
    /// Attributes to clear.
    pub attr_clr: u64,
    /// MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE (0: unchanged).
    pub propagation: u64,
    /// A user namespace fd for MOUNT_ATTR_IDMAP.
    pub userns_fd: u64,
}

/// statmount(2) request bits.
pub const STATMOUNT_SB_BASIC: u64 = 0x1;
/// Mount ids, attributes and propagation.
pub const STATMOUNT_MNT_BASIC: u64 = 0x2;
/// The peer group propagating to this mount.
pub const STATMOUNT_PROPAGATE_FROM: u64 = 0x4;
/// [str] root of the mount in its file system.
pub const STATMOUNT_MNT_ROOT: u64 = 0x8;
/// [str] mount point relative to the caller's root.
pub const STATMOUNT_MNT_POINT: u64 = 0x10;
/// [str] file system type.
pub const STATMOUNT_FS_TYPE: u64 = 0x20;
/// The mount namespace id.
pub const STATMOUNT_MNT_NS_ID: u64 = 0x40;
/// [str] file system options.
pub const STATMOUNT_MNT_OPTS: u64 = 0x80;
/// [str] file system subtype.
pub const STATMOUNT_FS_SUBTYPE: u64 = 0x100;
/// [str] the mount's source.
pub const STATMOUNT_SB_SOURCE: u64 = 0x200;
/// [str] file system options as an array of strings.
pub const STATMOUNT_OPT_ARRAY: u64 = 0x400;
/// [str] security options as an array of strings.
pub const STATMOUNT_OPT_SEC_ARRAY: u64 = 0x800;
/// The mask of what the kernel supports.
pub const STATMOUNT_SUPPORTED_MASK: u64 = 0x1000;
/// [str] uid mappings of an idmapped mount.
pub const STATMOUNT_MNT_UIDMAP: u64 = 0x2000;
/// [str] gid mappings of an idmapped mount.
pub const STATMOUNT_MNT_GIDMAP: u64 = 0x4000;
/// listmount(2): the caller's root.
pub const LSMT_ROOT: u64 = u64::MAX;
/// listmount(2): newest first.
pub const LISTMOUNT_REVERSE: u32 = 0x1;
/// `struct mnt_id_req`'s first size.
pub const MNT_ID_REQ_SIZE_VER0: u32 = 24;
/// `struct mnt_id_req` with mnt_ns_id.
pub const MNT_ID_REQ_SIZE_VER1: u32 = 32;
/// Unique (64-bit) mount ids start above this, apart from the old 32-bit ids.
pub const MNT_UNIQUE_ID_OFFSET: u64 = 1 << 31;
/// statx(2) stx_attributes: the file is the root of a mount.
pub const STATX_ATTR_MOUNT_ROOT: u64 = 0x2000;
/// statx(2): the 64-bit unique mount id.
pub const STATX_MNT_ID_UNIQUE: u32 = 0x4000;
/// statfs f_flags: symlinks not followed (ST_NOSYMFOLLOW).
pub const ST_NOSYMFOLLOW: i64 = 0x2000;

/// `struct mnt_id_req` of statmount(2) and listmount(2).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MntIdReq {
    /// Size of the structure the caller knows.
    pub size: u32,
    /// A mount namespace fd (0: the caller's namespace).
    pub mnt_ns_fd: u32,
    /// The mount (statmount) or the parent to list below (listmount).
    pub mnt_id: u64,
    /// statmount: the STATMOUNT_* mask; listmount: the last id returned.
    pub param: u64,
    /// A mount namespace id (0: the caller's namespace).
    pub mnt_ns_id: u64,
}

/// `struct statmount` of statmount(2), strings following in `str[]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Statmount {
    /// Total size, strings included.
    pub size: u32,
    /// [str] file system options.
    pub mnt_opts: u32,
    /// What was written.
    pub mask: u64,
    /// The file system's device.
    pub sb_dev_major: u32,
    /// The file system's device.
    pub sb_dev_minor: u32,
    /// The file system's magic number.
    pub sb_magic: u64,
    /// SB_RDONLY, SB_SYNCHRONOUS, SB_DIRSYNC, SB_LAZYTIME.
    pub sb_flags: u32,
    /// [str] file system type.
    pub fs_type: u32,
    /// Unique mount id.
    pub mnt_id: u64,
    /// Unique id of the parent (itself for the root).
    pub mnt_parent_id: u64,
    /// The id mountinfo shows.
    pub mnt_id_old: u32,
    /// The parent's id mountinfo shows.
    pub mnt_parent_id_old: u32,
    /// MOUNT_ATTR_* of the mount.
    pub mnt_attr: u64,
    /// MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE.
    pub mnt_propagation: u64,
    /// Peer group id (shared mounts).
    pub mnt_peer_group: u64,
    /// The peer group this mount receives from (slaves).
    pub mnt_master: u64,
    /// The peer group propagating to it in the caller's namespace.
    pub propagate_from: u64,
    /// [str] root of the mount in its file system.
    pub mnt_root: u32,
    /// [str] mount point relative to the caller's root.
    pub mnt_point: u32,
    /// The mount namespace's id.
    pub mnt_ns_id: u64,
    /// [str] file system subtype.
    pub fs_subtype: u32,
    /// [str] source.
    pub sb_source: u32,
    /// Number of file system options.
    pub opt_num: u32,
    /// [str] file system options, each NUL-terminated.
    pub opt_array: u32,
    /// Number of security options.
    pub opt_sec_num: u32,
    /// [str] security options.
    pub opt_sec_array: u32,
    /// STATMOUNT_* the kernel supports.
    pub supported_mask: u64,
    /// Number of uid mappings.
    pub mnt_uidmap_num: u32,
    /// [str] uid mappings.
    pub mnt_uidmap: u32,
    /// Number of gid mappings.
    pub mnt_gidmap_num: u32,
    /// [str] gid mappings.
    pub mnt_gidmap: u32,
    /// Reserved.
    pub spare2: [u64; 43],
}

const _: () = assert!(std::mem::size_of::<Statmount>() == 512);
const _: () = assert!(std::mem::size_of::<MntIdReq>() == MNT_ID_REQ_SIZE_VER1 as usize);
