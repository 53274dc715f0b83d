// SPDX-License-Identifier: Apache-2.0
//! File system implementations: tmpfs, overlay, the gofer-backed host file system, devices,
//! pipes, synthetic directories, and the disk file systems of loop devices (vfat, ext2/3/4).

pub mod dev;
pub mod ext4;
pub mod ext4_fuzz;
pub mod gofer;
pub mod host;
pub(crate) mod host_unsafe;
pub mod loopdev;
pub mod mqueue;
pub mod nsfs;
pub mod overlay;
pub mod pipe;
pub mod proc;
pub mod setup;
pub mod synthetic;
pub mod sys;
pub mod tmpfs;
pub mod tty;
pub mod vfat;
mod vfat_unsafe;
pub mod view;

/// A file system type the sentry knows, as /proc/filesystems lists it.
#[derive(Debug, Clone, Copy)]
pub struct FsType {
    /// Its name (mount(2)'s `filesystemtype`).
    pub name: &'static str,
    /// It needs no block device (`nodev` in /proc/filesystems).
    pub nodev: bool,
}

/// The file system types of the sandbox's kernel: what mount(2) accepts (see
/// `syscalls::sys_mount::new_fs`) and the internal ones Linux lists too. /proc/filesystems
/// and the sandbox's kernel config (/proc/config.gz) are generated from this list, so a type
/// goes here only once mount(2) takes it.
pub const FILESYSTEMS: &[FsType] = &[
    FsType {
        name: "sysfs",
        nodev: true,
    },
    FsType {
        name: "tmpfs",
        nodev: true,
    },
    FsType {
        name: "proc",
        nodev: true,
    },
    FsType {
        name: "devtmpfs",
        nodev: true,
    },
    FsType {
        name: "sockfs",
        nodev: true,
    },
    FsType {
        name: "pipefs",
        nodev: true,
    },
    FsType {
        name: "ramfs",
        nodev: true,
    },
    FsType {
        name: "devpts",
        nodev: true,
    },
    FsType {
        name: "mqueue",
        nodev: true,
    },
    FsType {
        name: "ext3",
        nodev: false,
    },
    FsType {
        name: "ext2",
        nodev: false,
    },
    FsType {
        name: "ext4",
        nodev: false,
    },
    FsType {
        name: "vfat",
        nodev: false,
    },
    FsType {
        name: "msdos",
        nodev: false,
    },
];
