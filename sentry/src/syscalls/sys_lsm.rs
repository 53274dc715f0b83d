// SPDX-License-Identifier: Apache-2.0
//! The LSM calls: lsm_list_modules(2), lsm_get_self_attr(2), lsm_set_self_attr(2)
//! (security/lsm_syscalls.c, security/security.c). The sandbox's kernel has one security
//! modules, capabilities (LSM_ID_CAPABILITY) and Landlock (LSM_ID_LANDLOCK,
//! [`crate::kernel::landlock`]), neither of which keeps attributes: there is no
//! /sys/kernel/security/lsm nor /proc/[pid]/attr to read, and the attribute calls find no
//! module to answer them (EOPNOTSUPP), after Linux's own checks.

use syscalls::Errno;

use super::SysResult;
use crate::kernel::Task;

/// The capability module's id.
const LSM_ID_CAPABILITY: u64 = 100;
/// Landlock's id.
const LSM_ID_LANDLOCK: u64 = 110;
/// No module (an lsm_ctx must name one).
const LSM_ID_UNDEF: u64 = 0;
/// No attribute.
const LSM_ATTR_UNDEF: u32 = 0;
/// lsm_get_self_attr: only the module named in the given lsm_ctx.
const LSM_FLAG_SINGLE: u32 = 1;
/// sizeof(struct lsm_ctx): id, flags, len, ctx_len.
const LSM_CTX_SIZE: u64 = 32;
const PAGE: u64 = 4096;

/// The active modules, in order.
const MODULES: &[u64] = &[LSM_ID_CAPABILITY, LSM_ID_LANDLOCK];

/// Implements lsm_list_modules(2): the ids of the active modules.
pub fn sys_lsm_list_modules(t: &mut Task) -> SysResult {
    let (ids, size, flags) = (t.arg(0), t.arg(1), t.arg(2) as u32);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let usize_: u32 = t.read_val(size)?;
    let total = (MODULES.len() * 8) as u32;
    t.write_val(size, &total)?;
    if usize_ < total {
        return Err(Errno::E2BIG);
    }
    for (i, id) in MODULES.iter().enumerate() {
        t.write_val(ids.wrapping_add(i as u64 * 8), id)?;
    }
    Ok(MODULES.len() as u64)
}

/// Implements lsm_get_self_attr(2): no module provides attributes, so after the checks the
/// size written back is 0 and the answer EOPNOTSUPP.
pub fn sys_lsm_get_self_attr(t: &mut Task) -> SysResult {
    let (attr, ctx, size, flags) = (t.arg(0) as u32, t.arg(1), t.arg(2), t.arg(3) as u32);
    if attr == LSM_ATTR_UNDEF || size == 0 {
        return Err(Errno::EINVAL);
    }
    let _left: u32 = t.read_val(size)?;
    if flags != 0 {
        if flags != LSM_FLAG_SINGLE || ctx == 0 {
            return Err(Errno::EINVAL);
        }
        let id: u64 = t.read_val(ctx)?;
        // The whole struct lsm_ctx header is read.
        let mut hdr = [0u8; LSM_CTX_SIZE as usize];
        t.copy_in(ctx, &mut hdr)?;
        if id == LSM_ID_UNDEF {
            return Err(Errno::EINVAL);
        }
    }
    t.write_val(size, &0u32)?;
    Err(Errno::EOPNOTSUPP)
}

/// Implements lsm_set_self_attr(2): the context is checked as Linux does, then no module
/// takes it (EOPNOTSUPP).
pub fn sys_lsm_set_self_attr(t: &mut Task) -> SysResult {
    let (ctx, size, flags) = (t.arg(1), t.arg(2) as u32 as u64, t.arg(3) as u32);
    if flags != 0 || size < LSM_CTX_SIZE {
        return Err(Errno::EINVAL);
    }
    if size > PAGE {
        return Err(Errno::E2BIG);
    }
    let mut buf = vec![0u8; size as usize];
    t.copy_in(ctx, &mut buf)?;
    let word = |i: usize| u64::from_ne_bytes(buf[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    let (len, ctx_len) = (word(2), word(3));
    match LSM_CTX_SIZE.checked_add(ctx_len) {
        Some(required) if size >= len && len >= required => Err(Errno::EOPNOTSUPP),
        _ => Err(Errno::EINVAL),
    }
}
