// SPDX-License-Identifier: Apache-2.0
//! The Landlock calls: landlock_create_ruleset(2), landlock_add_rule(2),
//! landlock_restrict_self(2), with the checks and errnos of Linux's security/landlock/
//! syscalls.c. The rules and their enforcement are [`crate::kernel::landlock`]'s.

use syscalls::abi::*;
use syscalls::Errno;

use super::{fd_arg, SysResult};
use crate::kernel::landlock::{self, Ruleset};
use crate::kernel::Task;
use crate::vfs::File;

const PAGE: u64 = 4096;

/// `copy_min_struct_from_user`: `usize` bytes at `addr` into a `T`, at least `min` of them, at
/// most a page; bytes past `T` must be zero (E2BIG).
fn copy_min_struct<T: syscalls::Pod>(
    t: &Task,
    addr: u64,
    usize_: u64,
    min: u64,
) -> Result<T, Errno> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    if usize_ < min {
        return Err(Errno::EINVAL);
    }
    if usize_ > PAGE {
        return Err(Errno::E2BIG);
    }
    let ksize = std::mem::size_of::<T>() as u64;
    let mut v = T::zeroed();
    let n = usize_.min(ksize) as usize;
    t.copy_in(addr, &mut syscalls::bytes_of_mut(&mut v)[..n])?;
    if usize_ > ksize {
        let mut rest = vec![0u8; (usize_ - ksize) as usize];
        t.copy_in(addr + ksize, &mut rest)?;
        if rest.iter().any(|b| *b != 0) {
            return Err(Errno::E2BIG);
        }
    }
    Ok(v)
}

/// The ruleset behind descriptor `fd`: EBADF for no descriptor (an O_PATH one included, as
/// fdget refuses it), EBADFD for another file.
fn ruleset_file(t: &Task, fd: i32) -> Result<std::sync::Arc<File>, Errno> {
    let f = t.file(fd)?;
    if f.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    Ruleset::of(&f)?;
    Ok(f)
}

/// Implements landlock_create_ruleset(2).
pub fn sys_landlock_create_ruleset(t: &mut Task) -> SysResult {
    let (attr, size, flags) = (t.arg(0), t.arg(1), t.arg(2) as u32);
    if flags != 0 {
        if attr != 0 || size != 0 {
            return Err(Errno::EINVAL);
        }
        return match flags {
            LANDLOCK_CREATE_RULESET_VERSION => Ok(landlock::ABI_VERSION),
            LANDLOCK_CREATE_RULESET_ERRATA => Ok(landlock::ERRATA),
            _ => Err(Errno::EINVAL),
        };
    }
    // At least handled_access_fs.
    let a: LandlockRulesetAttr = copy_min_struct(t, attr, size, 8)?;
    if a.handled_access_fs | landlock::MASK_ACCESS_FS != landlock::MASK_ACCESS_FS
        || a.handled_access_net | landlock::MASK_ACCESS_NET != landlock::MASK_ACCESS_NET
        || a.scoped | landlock::MASK_SCOPE != landlock::MASK_SCOPE
    {
        return Err(Errno::EINVAL);
    }
    let rs = Ruleset::new(
        t.k.new_ino(),
        a.handled_access_fs,
        a.handled_access_net,
        a.scoped,
    )?;
    let file = File::new(Box::new(rs), O_RDWR, "anon_inode:[landlock-ruleset]");
    super::sys_file::install(t, file, true)
}

/// Implements landlock_add_rule(2).
pub fn sys_landlock_add_rule(t: &mut Task) -> SysResult {
    let (fd, rule_type, attr, flags) = (fd_arg(t, 0), t.arg(1) as u32, t.arg(2), t.arg(3));
    if flags as u32 != 0 {
        return Err(Errno::EINVAL);
    }
    let f = ruleset_file(t, fd)?;
    if !f.writable() {
        return Err(Errno::EPERM);
    }
    let rs = Ruleset::of(&f)?;
    match rule_type {
        LANDLOCK_RULE_PATH_BENEATH => {
            let a: LandlockPathBeneathAttr = t.read_val(attr)?;
            let (access, parent_fd) = (a.allowed_access, a.parent_fd);
            if access == 0 {
                return Err(Errno::ENOMSG);
            }
            // The allowed rights are checked before the descriptor.
            rs.add_path_rule_check(access)?;
            let pf = t.file(parent_fd)?;
            if Ruleset::of(&pf).is_ok() || !pf.path.starts_with('/') {
                return Err(Errno::EBADFD);
            }
            let (Some(inode), Some(_)) = (pf.inode.clone(), pf.mount.as_ref()) else {
                return Err(Errno::EBADFD);
            };
            let st = inode.stat()?;
            rs.add_path_rule(inode, &st, access).map(|_| 0)
        }
        LANDLOCK_RULE_NET_PORT => {
            let a: LandlockNetPortAttr = t.read_val(attr)?;
            rs.add_port_rule(a.port, a.allowed_access).map(|_| 0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Implements landlock_restrict_self(2).
pub fn sys_landlock_restrict_self(t: &mut Task) -> SysResult {
    let (fd, flags) = (fd_arg(t, 0), t.arg(1) as u32);
    if !t.no_new_privs && t.creds.caps & (1 << CAP_SYS_ADMIN) == 0 {
        return Err(Errno::EPERM);
    }
    if flags | landlock::MASK_RESTRICT_SELF != landlock::MASK_RESTRICT_SELF {
        return Err(Errno::EINVAL);
    }
    if fd == -1 && flags == LANDLOCK_RESTRICT_SELF_LOG_SUBDOMAINS_OFF {
        // Only the logging of subdomains changes: the sentry keeps no audit log.
        return Ok(0);
    }
    let f = ruleset_file(t, fd)?;
    if !f.readable() {
        return Err(Errno::EPERM);
    }
    let dom = landlock::merge(t.creds.landlock.as_ref(), Ruleset::of(&f)?)?;
    t.creds.landlock = Some(dom);
    t.publish();
    Ok(0)
}
