// SPDX-License-Identifier: Apache-2.0
//! Old and machine-level calls, answered for the sandbox as the machine it presents:
//! sysfs(2) (the file system types of /proc/filesystems), ustat(2) (a mounted file system's
//! free space), syslog(2) (the sandbox's own kernel log: a few boot lines, never the host's)
//! and reboot(2) (Ctrl-Alt-Del recorded; restart, halt and power-off end the sandbox the way
//! they end a PID namespace: its init killed by SIGHUP or SIGINT, every other process by
//! SIGKILL).

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::fsimpl::FILESYSTEMS;
use crate::kernel::{lock, ExitStatus, Task};

/// The calls Linux itself answers with ENOSYS on x86_64 (sys_ni_syscall): removed, or never
/// implemented.
pub fn sys_ni(_t: &mut Task) -> SysResult {
    Err(Errno::ENOSYS)
}

fn capable(t: &Task, cap: u32) -> bool {
    t.creds.caps & (1u64 << cap) != 0
}

/// Implements sysfs(2).
pub fn sys_sysfs(t: &mut Task) -> SysResult {
    match t.arg(0) {
        1 => {
            let name = t.mm().read_cstr(t.arg(1), 4095).map_err(|e| match e {
                Errno::ENAMETOOLONG => Errno::EINVAL,
                e => e,
            })?;
            FILESYSTEMS
                .iter()
                .position(|f| f.name.as_bytes() == name.as_slice())
                .map(|i| i as u64)
                .ok_or(Errno::EINVAL)
        }
        2 => {
            let fs = FILESYSTEMS
                .get(t.arg(1) as u32 as usize)
                .ok_or(Errno::EINVAL)?;
            let mut name = fs.name.as_bytes().to_vec();
            name.push(0);
            t.copy_out(t.arg(2), &name)?;
            Ok(0)
        }
        3 => Ok(FILESYSTEMS.len() as u64),
        _ => Err(Errno::EINVAL),
    }
}

/// (major, minor) of a device number in the kernel's 32-bit form (ustat's argument).
fn decode32(dev: u32) -> (u32, u32) {
    ((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

/// (major, minor) of a `st_dev` (glibc's 64-bit form).
fn decode64(dev: u64) -> (u32, u32) {
    (
        (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)) as u32,
        ((dev & 0xff) | ((dev >> 12) & !0xff)) as u32,
    )
}

/// Implements ustat(2): the free blocks and inodes of the mounted file system on `dev`
/// (EINVAL when none is mounted in the caller's namespace).
pub fn sys_ustat(t: &mut Task) -> SysResult {
    let want = decode32(t.arg(0) as u32);
    let mount = t
        .mnt()
        .read()
        .list()
        .into_iter()
        .find(|m| m.root.stat().is_ok_and(|s| decode64(s.st_dev) == want))
        .ok_or(Errno::EINVAL)?;
    let s = super::sys_file::statfs_of(&mount)?;
    // struct ustat: int f_tfree; (pad) ino_t f_tinode; char f_fname[6]; char f_fpack[6].
    let mut out = [0u8; 32];
    out[0..4].copy_from_slice(&(s.f_bfree as i32).to_le_bytes());
    out[8..16].copy_from_slice(&s.f_ffree.to_le_bytes());
    t.copy_out(t.arg(1), &out)?;
    Ok(0)
}

const SYSLOG_ACTION_CLOSE: u64 = 0;
const SYSLOG_ACTION_OPEN: u64 = 1;
const SYSLOG_ACTION_READ: u64 = 2;
const SYSLOG_ACTION_READ_ALL: u64 = 3;
const SYSLOG_ACTION_READ_CLEAR: u64 = 4;
const SYSLOG_ACTION_CLEAR: u64 = 5;
const SYSLOG_ACTION_CONSOLE_OFF: u64 = 6;
const SYSLOG_ACTION_CONSOLE_ON: u64 = 7;
const SYSLOG_ACTION_CONSOLE_LEVEL: u64 = 8;
const SYSLOG_ACTION_SIZE_UNREAD: u64 = 9;
const SYSLOG_ACTION_SIZE_BUFFER: u64 = 10;
/// The log buffer's size (CONFIG_LOG_BUF_SHIFT 17).
const LOG_BUF_LEN: u64 = 1 << 17;
const CAP_SYSLOG: u32 = 34;

/// Where SYSLOG_ACTION_READ has read to, and where the log starts after a clear.
static READ_POS: AtomicUsize = AtomicUsize::new(0);
static CLEARED: AtomicBool = AtomicBool::new(false);
static CONSOLE_LEVEL: AtomicI32 = AtomicI32::new(7);
static SAVED_LEVEL: AtomicI32 = AtomicI32::new(-1);

/// The sandbox's kernel log.
fn log_text(t: &Task) -> String {
    let u = t.k.uts();
    let n = u.release.iter().position(|b| *b == 0).unwrap_or(65);
    let release = String::from_utf8_lossy(&u.release[..n]);
    format!(
        "<6>[    0.000000] Linux version {release} (sandbox: the kernel is a user-space sentry)\n\
         <6>[    0.000000] Command line: sandbox\n"
    )
}

/// Implements syslog(2) (the klogctl of dmesg) with dmesg_restrict set: every action needs
/// CAP_SYSLOG (or CAP_SYS_ADMIN).
pub fn sys_syslog(t: &mut Task) -> SysResult {
    let (kind, buf, len) = (t.arg(0), t.arg(1), t.arg(2) as i32);
    if !capable(t, CAP_SYSLOG) && !capable(t, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let log = log_text(t);
    let start = if CLEARED.load(Ordering::Relaxed) {
        log.len()
    } else {
        0
    };
    match kind {
        SYSLOG_ACTION_CLOSE | SYSLOG_ACTION_OPEN => Ok(0),
        SYSLOG_ACTION_READ => {
            if buf == 0 || len < 0 {
                return Err(Errno::EINVAL);
            }
            if len == 0 {
                return Ok(0);
            }
            let pos = READ_POS.load(Ordering::Relaxed).max(start);
            if pos >= log.len() {
                // Nothing new will ever be logged: wait as Linux would, for a signal.
                crate::kernel::block::block_on::<()>(&[], None, || None)?;
            }
            let part = &log.as_bytes()[pos..(pos + len as usize).min(log.len())];
            t.copy_out(buf, part)?;
            READ_POS.store(pos + part.len(), Ordering::Relaxed);
            Ok(part.len() as u64)
        }
        SYSLOG_ACTION_READ_ALL | SYSLOG_ACTION_READ_CLEAR => {
            if buf == 0 || len < 0 {
                return Err(Errno::EINVAL);
            }
            if len == 0 {
                return Ok(0);
            }
            let all = &log.as_bytes()[start..];
            // The newest messages that fit.
            let part = &all[all.len().saturating_sub(len as usize)..];
            t.copy_out(buf, part)?;
            if kind == SYSLOG_ACTION_READ_CLEAR {
                CLEARED.store(true, Ordering::Relaxed);
            }
            Ok(part.len() as u64)
        }
        SYSLOG_ACTION_CLEAR => {
            CLEARED.store(true, Ordering::Relaxed);
            Ok(0)
        }
        SYSLOG_ACTION_CONSOLE_OFF => {
            if SAVED_LEVEL.load(Ordering::Relaxed) == -1 {
                SAVED_LEVEL.store(CONSOLE_LEVEL.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            CONSOLE_LEVEL.store(1, Ordering::Relaxed);
            Ok(0)
        }
        SYSLOG_ACTION_CONSOLE_ON => {
            let saved = SAVED_LEVEL.swap(-1, Ordering::Relaxed);
            if saved != -1 {
                CONSOLE_LEVEL.store(saved, Ordering::Relaxed);
            }
            Ok(0)
        }
        SYSLOG_ACTION_CONSOLE_LEVEL => {
            if !(1..=8).contains(&len) {
                return Err(Errno::EINVAL);
            }
            CONSOLE_LEVEL.store(len, Ordering::Relaxed);
            SAVED_LEVEL.store(-1, Ordering::Relaxed);
            Ok(0)
        }
        SYSLOG_ACTION_SIZE_UNREAD => {
            let pos = READ_POS.load(Ordering::Relaxed).max(start);
            Ok(log.len().saturating_sub(pos) as u64)
        }
        SYSLOG_ACTION_SIZE_BUFFER => Ok(LOG_BUF_LEN),
        _ => Err(Errno::EINVAL),
    }
}

const REBOOT_MAGIC1: u32 = 0xfee1_dead;
const REBOOT_MAGIC2: [u32; 4] = [672_274_793, 85_072_278, 369_367_448, 537_993_216];
const CMD_RESTART: u32 = 0x0123_4567;
const CMD_HALT: u32 = 0xcdef_0123;
const CMD_CAD_ON: u32 = 0x89ab_cdef;
const CMD_CAD_OFF: u32 = 0;
const CMD_POWER_OFF: u32 = 0x4321_fedc;
const CMD_RESTART2: u32 = 0xa1b2_c3d4;
const CMD_SW_SUSPEND: u32 = 0xd000_fce2;
const CMD_KEXEC: u32 = 0x4558_4543;
const CAP_SYS_BOOT: u32 = 22;

/// Ctrl-Alt-Del reboots (recorded only: the sandbox has no keyboard).
static CAD: AtomicBool = AtomicBool::new(true);

/// Implements reboot(2).
pub fn sys_reboot(t: &mut Task) -> SysResult {
    let (m1, m2, cmd) = (t.arg(0) as u32, t.arg(1) as u32, t.arg(2) as u32);
    if !capable(t, CAP_SYS_BOOT) {
        return Err(Errno::EPERM);
    }
    if m1 != REBOOT_MAGIC1 || !REBOOT_MAGIC2.contains(&m2) {
        return Err(Errno::EINVAL);
    }
    let end = |sig: i32| {
        let tree = lock(&t.k.tree);
        for (pid, p) in tree.procs.iter() {
            let status = if *pid == 1 {
                ExitStatus::Signal(sig)
            } else {
                ExitStatus::Signal(SIGKILL)
            };
            crate::kernel::kill_group(&p.tg, status);
        }
    };
    match cmd {
        CMD_CAD_ON => CAD.store(true, Ordering::Relaxed),
        CMD_CAD_OFF => CAD.store(false, Ordering::Relaxed),
        CMD_RESTART | CMD_RESTART2 => end(SIGHUP),
        CMD_HALT | CMD_POWER_OFF => end(SIGINT),
        // No kexec image is ever loaded; hibernation is not available.
        CMD_KEXEC => return Err(Errno::EINVAL),
        CMD_SW_SUSPEND => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}
