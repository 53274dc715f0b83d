// SPDX-License-Identifier: Apache-2.0
//! seccomp(2) and prctl's PR_SET_SECCOMP / PR_GET_SECCOMP; the filters themselves live in
//! `kernel::seccomp`.

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::{seccomp, Task};

/// Implements seccomp(2).
pub fn sys_seccomp(t: &mut Task) -> SysResult {
    let (op, flags, uargs) = (t.arg(0) as u32, t.arg(1) as u32, t.arg(2));
    do_seccomp(t, op, flags, uargs)
}

fn do_seccomp(t: &mut Task, op: u32, flags: u32, uargs: u64) -> SysResult {
    match op {
        SECCOMP_SET_MODE_STRICT => {
            if flags != 0 || uargs != 0 {
                return Err(Errno::EINVAL);
            }
            seccomp::set_mode_strict(t)
        }
        SECCOMP_SET_MODE_FILTER => seccomp::set_mode_filter(t, flags, uargs),
        SECCOMP_GET_ACTION_AVAIL => seccomp::action_avail(t, flags, uargs),
        SECCOMP_GET_NOTIF_SIZES => seccomp::notif_sizes(t, flags, uargs),
        _ => Err(Errno::EINVAL),
    }
}

/// prctl(PR_SET_SECCOMP, mode, filter).
pub fn prctl_set_seccomp(t: &mut Task, mode: u64, filter: u64) -> SysResult {
    match mode {
        m if m == u64::from(SECCOMP_MODE_STRICT) => do_seccomp(t, SECCOMP_SET_MODE_STRICT, 0, 0),
        m if m == u64::from(SECCOMP_MODE_FILTER) => {
            do_seccomp(t, SECCOMP_SET_MODE_FILTER, 0, filter)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// prctl(PR_GET_SECCOMP): the mode (a task in strict mode never gets here: prctl kills it).
pub fn prctl_get_seccomp(t: &Task) -> SysResult {
    Ok(u64::from(t.shared.seccomp.mode()))
}
