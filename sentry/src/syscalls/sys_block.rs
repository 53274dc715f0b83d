// SPDX-License-Identifier: Apache-2.0
//! The ioctls of the sentry's block devices (loop devices, [`crate::fsimpl::loopdev`]) and of
//! /dev/loop-control: loop.c's lo_ioctl and loop_control_ioctl, and block/ioctl.c's generic
//! requests, with their errnos.

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::{Errno, Zeroable};

use super::SysResult;
use crate::fsimpl::loopdev::{self, LoopControl, LoopFile};
use crate::kernel::Task;
use crate::vfs::File;

fn capable(t: &Task, cap: u32) -> bool {
    t.creds.caps & (1u64 << cap) != 0
}

/// The block-device and loop-control ioctls; `None` when `file` is neither.
pub fn ioctl(t: &mut Task, file: &Arc<File>, req: u32, arg: u64) -> Option<SysResult> {
    let any = file.ops.as_any()?;
    if any.downcast_ref::<LoopControl>().is_some() {
        return Some(control_ioctl(t, req, arg));
    }
    let lf = any.downcast_ref::<LoopFile>()?;
    Some(loop_ioctl(t, file, lf, req, arg))
}

/// loop_control_ioctl (CAP_SYS_ADMIN for all three, as Linux's).
fn control_ioctl(t: &Task, req: u32, arg: u64) -> SysResult {
    if !capable(t, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    match req {
        LOOP_CTL_ADD => loopdev::add(arg).map(u64::from),
        LOOP_CTL_REMOVE => loopdev::remove(arg).map(|_| 0),
        LOOP_CTL_GET_FREE => loopdev::get_free().map(u64::from),
        _ => Err(Errno::ENOSYS),
    }
}

/// The start and length of a BLKDISCARD/BLKZEROOUT range, checked against the device
/// (blk_ioctl_discard/blk_ioctl_zeroout: EBADF unless open for writing, EINVAL when unaligned
/// or past the end).
fn byte_range(t: &Task, file: &File, lf: &LoopFile, arg: u64) -> Result<(u64, u64), Errno> {
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    let range: [u64; 2] = t.read_val(arg)?;
    let (start, len) = (range[0], range[1]);
    if start & 511 != 0 || len & 511 != 0 {
        return Err(Errno::EINVAL);
    }
    let end = start.checked_add(len).ok_or(Errno::EINVAL)?;
    if end > lf.opener.dev.size() {
        return Err(Errno::EINVAL);
    }
    if lf.opener.dev.read_only() {
        return Err(Errno::EPERM);
    }
    Ok((start, len))
}

/// Writes zeroes over `len` bytes at `start` of the device.
fn zero_range(lf: &LoopFile, start: u64, len: u64) -> Result<(), Errno> {
    let zeroes = vec![0u8; 64 * 1024];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(zeroes.len() as u64) as usize;
        lf.opener.dev.write_at(&zeroes[..n], start + done)?;
        done += n as u64;
    }
    Ok(())
}

/// lo_ioctl and blkdev_ioctl on an open loop device.
fn loop_ioctl(t: &mut Task, file: &Arc<File>, lf: &LoopFile, req: u32, arg: u64) -> SysResult {
    let dev = lf.opener.dev.clone();
    let admin = capable(t, CAP_SYS_ADMIN);
    match req {
        LOOP_SET_FD | LOOP_CONFIGURE => {
            let config = if req == LOOP_SET_FD {
                let mut c = LoopConfig::zeroed();
                c.fd = arg as u32;
                c
            } else {
                t.read_val::<LoopConfig>(arg)?
            };
            let backing = t.file(config.fd as i32)?;
            dev.configure(backing, &config, lf.writable).map(|_| 0)
        }
        LOOP_CHANGE_FD => {
            let backing = t.file(arg as i32)?;
            dev.change_fd(backing).map(|_| 0)
        }
        LOOP_CLR_FD => dev.clear().map(|_| 0),
        LOOP_SET_STATUS | LOOP_SET_STATUS64 => {
            if !lf.writable && !admin {
                return Err(Errno::EPERM);
            }
            let info = if req == LOOP_SET_STATUS {
                loopdev::info64_from_old(&t.read_val::<LoopInfo>(arg)?)
            } else {
                t.read_val::<LoopInfo64>(arg)?
            };
            dev.set_status(&info).map(|_| 0)
        }
        LOOP_GET_STATUS | LOOP_GET_STATUS64 => {
            if arg == 0 {
                return Err(Errno::EINVAL);
            }
            let info = dev.get_status()?;
            if req == LOOP_GET_STATUS {
                t.write_val(arg, &loopdev::info64_to_old(&info)?)?;
            } else {
                t.write_val(arg, &info)?;
            }
            Ok(0)
        }
        LOOP_SET_CAPACITY | LOOP_SET_DIRECT_IO | LOOP_SET_BLOCK_SIZE => {
            if !lf.writable && !admin {
                return Err(Errno::EPERM);
            }
            match req {
                LOOP_SET_CAPACITY => dev.set_capacity(),
                LOOP_SET_DIRECT_IO => dev.set_direct_io(arg != 0),
                _ => dev.set_block_size(arg),
            }
            .map(|_| 0)
        }
        BLKROSET => {
            if !admin {
                return Err(Errno::EACCES);
            }
            let ro: i32 = t.read_val(arg)?;
            dev.set_bd_ro(ro != 0);
            Ok(0)
        }
        BLKROGET => t.write_val(arg, &i32::from(dev.read_only())).map(|_| 0),
        BLKGETSIZE => t.write_val(arg, &(dev.size() >> 9)).map(|_| 0),
        BLKGETSIZE64 => t.write_val(arg, &dev.size()).map(|_| 0),
        BLKSSZGET => t
            .write_val(arg, &(dev.state().block_size as i32))
            .map(|_| 0),
        BLKPBSZGET | BLKIOMIN => t.write_val(arg, &dev.state().block_size).map(|_| 0),
        BLKIOOPT | BLKALIGNOFF | BLKDISCARDZEROES => t.write_val(arg, &0u32).map(|_| 0),
        BLKBSZGET => t.write_val(arg, &(dev.soft_block_size() as i32)).map(|_| 0),
        BLKBSZSET => {
            let bs: i32 = t.read_val(arg)?;
            if !(512..=4096).contains(&bs) || !(bs as u32).is_power_of_two() {
                return Err(Errno::EINVAL);
            }
            Ok(0)
        }
        BLKRAGET | BLKFRAGET => t.write_val(arg, &dev.readahead()).map(|_| 0),
        BLKRASET | BLKFRASET => {
            if !admin {
                return Err(Errno::EACCES);
            }
            dev.set_readahead(arg);
            Ok(0)
        }
        BLKROTATIONAL => t.write_val(arg, &0u16).map(|_| 0),
        BLKFLSBUF => {
            if !admin {
                return Err(Errno::EACCES);
            }
            dev.sync().map(|_| 0)
        }
        BLKRRPART => {
            if !admin {
                return Err(Errno::EACCES);
            }
            // A device without LO_FLAGS_PARTSCAN has GENHD_FL_NO_PART: EINVAL. With it the
            // scan finds nothing the sandbox would show (no partition devices).
            if dev.state().flags & LO_FLAGS_PARTSCAN == 0 {
                return Err(Errno::EINVAL);
            }
            Ok(0)
        }
        BLKDISCARD | BLKZEROOUT => {
            let (start, len) = byte_range(t, file, lf, arg)?;
            zero_range(lf, start, len).map(|_| 0)
        }
        // lo_simple_ioctl's default.
        _ => Err(Errno::EINVAL),
    }
}
