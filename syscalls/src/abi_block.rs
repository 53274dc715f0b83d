// SPDX-License-Identifier: Apache-2.0
//! Block devices: the loop driver's ioctls and structs (include/uapi/linux/loop.h), the generic
//! block ioctls (include/uapi/linux/fs.h) and the device numbers they live at
//! (include/uapi/linux/major.h, include/linux/miscdevice.h).

#![allow(missing_docs)] // The struct fields are the kernel's; see loop(4).

use bytemuck::{Pod, Zeroable};

/// The loop devices' major number.
pub const LOOP_MAJOR: u32 = 7;
/// The misc devices' major number (/dev/loop-control is one).
pub const MISC_MAJOR: u32 = 10;
/// /dev/loop-control's minor number.
pub const LOOP_CTRL_MINOR: u32 = 237;

/// Length of the name fields of `loop_info` and `loop_info64`.
pub const LO_NAME_SIZE: usize = 64;
/// Length of the (obsolete) key fields.
pub const LO_KEY_SIZE: usize = 32;

/// The device refuses writes.
pub const LO_FLAGS_READ_ONLY: u32 = 1;
/// Detach when the last opener closes.
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;
/// Scan for partitions.
pub const LO_FLAGS_PARTSCAN: u32 = 8;
/// Direct I/O to the backing file.
pub const LO_FLAGS_DIRECT_IO: u32 = 16;
/// The flags LOOP_SET_STATUS may set.
pub const LOOP_SET_STATUS_SETTABLE_FLAGS: u32 = LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN;
/// The flags LOOP_SET_STATUS may clear.
pub const LOOP_SET_STATUS_CLEARABLE_FLAGS: u32 = LO_FLAGS_AUTOCLEAR;
/// The flags LOOP_CONFIGURE may set.
pub const LOOP_CONFIGURE_SETTABLE_FLAGS: u32 =
    LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN | LO_FLAGS_DIRECT_IO;

/// No encryption (the only transfer the kernel still has).
pub const LO_CRYPT_NONE: u32 = 0;

/// Binds a backing file (arg: its fd).
pub const LOOP_SET_FD: u32 = 0x4C00;
/// Unbinds it.
pub const LOOP_CLR_FD: u32 = 0x4C01;
/// Sets the status from a `loop_info`.
pub const LOOP_SET_STATUS: u32 = 0x4C02;
/// Gets the status as a `loop_info`.
pub const LOOP_GET_STATUS: u32 = 0x4C03;
/// Sets the status from a `loop_info64`.
pub const LOOP_SET_STATUS64: u32 = 0x4C04;
/// Gets the status as a `loop_info64`.
pub const LOOP_GET_STATUS64: u32 = 0x4C05;
/// Replaces the backing file of a read-only device.
pub const LOOP_CHANGE_FD: u32 = 0x4C06;
/// Recomputes the size from the backing file.
pub const LOOP_SET_CAPACITY: u32 = 0x4C07;
/// Turns direct I/O on or off.
pub const LOOP_SET_DIRECT_IO: u32 = 0x4C08;
/// Sets the logical block size.
pub const LOOP_SET_BLOCK_SIZE: u32 = 0x4C09;
/// Binds and configures at once (a `loop_config`).
pub const LOOP_CONFIGURE: u32 = 0x4C0A;
/// /dev/loop-control: adds device N.
pub const LOOP_CTL_ADD: u32 = 0x4C80;
/// /dev/loop-control: removes device N.
pub const LOOP_CTL_REMOVE: u32 = 0x4C81;
/// /dev/loop-control: the first unbound device (one is added when none is).
pub const LOOP_CTL_GET_FREE: u32 = 0x4C82;

/// Sets the block device read-only (int).
pub const BLKROSET: u32 = 0x125D;
/// Whether the block device is read-only (int).
pub const BLKROGET: u32 = 0x125E;
/// Re-reads the partition table.
pub const BLKRRPART: u32 = 0x125F;
/// The size in 512-byte sectors (unsigned long).
pub const BLKGETSIZE: u32 = 0x1260;
/// Flushes the buffer cache.
pub const BLKFLSBUF: u32 = 0x1261;
/// Sets the read-ahead (sectors).
pub const BLKRASET: u32 = 0x1262;
/// The read-ahead (long, sectors).
pub const BLKRAGET: u32 = 0x1263;
/// Sets the file system read-ahead.
pub const BLKFRASET: u32 = 0x1264;
/// The file system read-ahead (long).
pub const BLKFRAGET: u32 = 0x1265;
/// The logical sector size (int).
pub const BLKSSZGET: u32 = 0x1268;
/// The soft block size (int).
pub const BLKBSZGET: u32 = 0x8008_1270;
/// Sets the soft block size (int).
pub const BLKBSZSET: u32 = 0x4008_1271;
/// Discards a byte range (u64 start, u64 length).
pub const BLKDISCARD: u32 = 0x1277;
/// The minimum I/O size (unsigned int).
pub const BLKIOMIN: u32 = 0x1278;
/// The optimal I/O size (unsigned int).
pub const BLKIOOPT: u32 = 0x1279;
/// The alignment offset (int).
pub const BLKALIGNOFF: u32 = 0x127A;
/// The physical sector size (unsigned int).
pub const BLKPBSZGET: u32 = 0x127B;
/// Whether discarded ranges read back as zeroes (unsigned int).
pub const BLKDISCARDZEROES: u32 = 0x127C;
/// Whether the device is rotational (unsigned short).
pub const BLKROTATIONAL: u32 = 0x127E;
/// Writes zeroes over a byte range (u64 start, u64 length).
pub const BLKZEROOUT: u32 = 0x127F;
/// The size in bytes (u64).
pub const BLKGETSIZE64: u32 = 0x8008_1272;

/// statfs f_type of FAT file systems (msdos, vfat).
pub const MSDOS_SUPER_MAGIC: i64 = 0x4d44;

/// `struct loop_info`, the old status (x86_64 layout: `__kernel_old_dev_t` is an unsigned long).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct LoopInfo {
    pub lo_number: i32,
    pub _pad0: u32,
    pub lo_device: u64,
    pub lo_inode: u64,
    pub lo_rdevice: u64,
    pub lo_offset: i32,
    pub lo_encrypt_type: i32,
    pub lo_encrypt_key_size: i32,
    pub lo_flags: i32,
    pub lo_name: [u8; LO_NAME_SIZE],
    pub lo_encrypt_key: [u8; LO_KEY_SIZE],
    pub lo_init: [u64; 2],
    pub reserved: [u8; 4],
    pub _pad1: [u8; 4],
}

/// `struct loop_info64`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct LoopInfo64 {
    pub lo_device: u64,
    pub lo_inode: u64,
    pub lo_rdevice: u64,
    pub lo_offset: u64,
    pub lo_sizelimit: u64,
    pub lo_number: u32,
    pub lo_encrypt_type: u32,
    pub lo_encrypt_key_size: u32,
    pub lo_flags: u32,
    pub lo_file_name: [u8; LO_NAME_SIZE],
    pub lo_crypt_name: [u8; LO_NAME_SIZE],
    pub lo_encrypt_key: [u8; LO_KEY_SIZE],
    pub lo_init: [u64; 2],
}

/// `struct loop_config` (LOOP_CONFIGURE).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct LoopConfig {
    pub fd: u32,
    pub block_size: u32,
    pub info: LoopInfo64,
    pub reserved: [u64; 8],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_the_kernels() {
        assert_eq!(std::mem::size_of::<LoopInfo>(), 168);
        assert_eq!(std::mem::offset_of!(LoopInfo, lo_name), 48);
        assert_eq!(std::mem::offset_of!(LoopInfo, lo_init), 144);
        assert_eq!(std::mem::size_of::<LoopInfo64>(), 232);
        assert_eq!(std::mem::size_of::<LoopConfig>(), 304);
    }
}
