// SPDX-License-Identifier: Apache-2.0
//! Credentials: the set*id family and capabilities, checked as Linux checks them. The ids are
//! virtual: they change what the sandbox's own permission checks see, never the host's.

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::{Task, CAP_ALL};

const NO_CHANGE: u32 = u32::MAX;

/// CAP_SETUID: any uid may be taken.
fn privileged(t: &Task) -> bool {
    t.creds.caps & (1 << CAP_SETUID) != 0
}

/// CAP_SETGID: any gid and group list may be taken.
fn privileged_gid(t: &Task) -> bool {
    t.creds.caps & (1 << CAP_SETGID) != 0
}

/// Takes new uids; the capabilities follow them as Linux's do.
fn set_uids(t: &mut Task, r: u32, e: u32, s: u32) {
    let old = t.creds.uid;
    t.creds.uid = (r, e, s);
    t.creds.fsuid = e;
    t.creds.fix_setuid(old);
}

fn set_gids(t: &mut Task, r: u32, e: u32, s: u32) {
    t.creds.gid = (r, e, s);
    t.creds.fsgid = e;
}

/// Implements setuid(2).
pub fn sys_setuid(t: &mut Task) -> SysResult {
    let uid = t.arg(0) as u32;
    if uid == NO_CHANGE {
        return Err(Errno::EINVAL);
    }
    let (r, _, s) = t.creds.uid;
    if privileged(t) {
        set_uids(t, uid, uid, uid);
    } else if uid == r || uid == s {
        set_uids(t, r, uid, s);
    } else {
        return Err(Errno::EPERM);
    }
    Ok(0)
}

/// Implements setgid(2).
pub fn sys_setgid(t: &mut Task) -> SysResult {
    let gid = t.arg(0) as u32;
    if gid == NO_CHANGE {
        return Err(Errno::EINVAL);
    }
    let (r, _, s) = t.creds.gid;
    if privileged_gid(t) {
        set_gids(t, gid, gid, gid);
    } else if gid == r || gid == s {
        set_gids(t, r, gid, s);
    } else {
        return Err(Errno::EPERM);
    }
    Ok(0)
}

/// The ids setreuid(2)/setregid(2) leave: `cur` are (real, effective, saved).
fn setre(
    privileged: bool,
    cur: (u32, u32, u32),
    nr: u32,
    ne: u32,
) -> Result<(u32, u32, u32), Errno> {
    let (r, e, s) = cur;
    if nr != NO_CHANGE && !privileged && nr != r && nr != e {
        return Err(Errno::EPERM);
    }
    if ne != NO_CHANGE && !privileged && ne != r && ne != e && ne != s {
        return Err(Errno::EPERM);
    }
    let r2 = if nr != NO_CHANGE { nr } else { r };
    let e2 = if ne != NO_CHANGE { ne } else { e };
    // The saved id follows the effective one when the real id is set or the effective one
    // changes to something other than the old real id.
    let s2 = if nr != NO_CHANGE || (ne != NO_CHANGE && ne != r) {
        e2
    } else {
        s
    };
    Ok((r2, e2, s2))
}

/// The ids setresuid(2)/setresgid(2) leave.
fn setres(
    privileged: bool,
    cur: (u32, u32, u32),
    new: (u32, u32, u32),
) -> Result<(u32, u32, u32), Errno> {
    let allowed = |v: u32| v == NO_CHANGE || v == cur.0 || v == cur.1 || v == cur.2;
    if !(privileged || allowed(new.0) && allowed(new.1) && allowed(new.2)) {
        return Err(Errno::EPERM);
    }
    let pick = |n: u32, c: u32| if n == NO_CHANGE { c } else { n };
    Ok((pick(new.0, cur.0), pick(new.1, cur.1), pick(new.2, cur.2)))
}

/// Implements setreuid(2).
pub fn sys_setreuid(t: &mut Task) -> SysResult {
    let (r, e, s) = setre(privileged(t), t.creds.uid, t.arg(0) as u32, t.arg(1) as u32)?;
    set_uids(t, r, e, s);
    Ok(0)
}

/// Implements setregid(2).
pub fn sys_setregid(t: &mut Task) -> SysResult {
    let (r, e, s) = setre(
        privileged_gid(t),
        t.creds.gid,
        t.arg(0) as u32,
        t.arg(1) as u32,
    )?;
    set_gids(t, r, e, s);
    Ok(0)
}

/// Implements setresuid(2).
pub fn sys_setresuid(t: &mut Task) -> SysResult {
    let new = (t.arg(0) as u32, t.arg(1) as u32, t.arg(2) as u32);
    let (r, e, s) = setres(privileged(t), t.creds.uid, new)?;
    set_uids(t, r, e, s);
    Ok(0)
}

/// Implements setresgid(2).
pub fn sys_setresgid(t: &mut Task) -> SysResult {
    let new = (t.arg(0) as u32, t.arg(1) as u32, t.arg(2) as u32);
    let (r, e, s) = setres(privileged_gid(t), t.creds.gid, new)?;
    set_gids(t, r, e, s);
    Ok(0)
}

/// Implements setfsuid(2): returns the old fsuid whether or not it changed.
pub fn sys_setfsuid(t: &mut Task) -> SysResult {
    let v = t.arg(0) as u32;
    let old = t.creds.fsuid;
    let (r, e, s) = t.creds.uid;
    if v != NO_CHANGE && (privileged(t) || v == r || v == e || v == s || v == old) {
        t.creds.fsuid = v;
        t.creds.fix_setfsuid(old);
    }
    Ok(u64::from(old))
}

/// Implements setfsgid(2).
pub fn sys_setfsgid(t: &mut Task) -> SysResult {
    let v = t.arg(0) as u32;
    let old = t.creds.fsgid;
    let (r, e, s) = t.creds.gid;
    if v != NO_CHANGE && (privileged_gid(t) || v == r || v == e || v == s || v == old) {
        t.creds.fsgid = v;
    }
    Ok(u64::from(old))
}

/// Implements setgroups(2).
pub fn sys_setgroups(t: &mut Task) -> SysResult {
    let n = t.arg(0) as i32;
    if n < 0 || n as u64 > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    if !privileged_gid(t) {
        return Err(Errno::EPERM);
    }
    let mut b = vec![0u8; n as usize * 4];
    t.copy_in(t.arg(1), &mut b)?;
    let mut groups: Vec<u32> = b
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    groups.sort_unstable();
    t.creds.groups = groups;
    Ok(0)
}

fn cap_header(t: &Task) -> Result<(u32, i32, usize), Errno> {
    let mut h = [0u8; 8];
    t.copy_in(t.arg(0), &mut h)?;
    let version = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let pid = i32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let words = match version {
        LINUX_CAPABILITY_VERSION_1 => 1,
        LINUX_CAPABILITY_VERSION_2 | LINUX_CAPABILITY_VERSION_3 => 2,
        _ => {
            // Tell the caller the version we prefer.
            t.copy_out(t.arg(0), &LINUX_CAPABILITY_VERSION_3.to_le_bytes())?;
            return Err(Errno::EINVAL);
        }
    };
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    Ok((version, pid, words))
}

/// Implements capget(2): the calling thread's sets, or another thread's.
pub fn sys_capget(t: &mut Task) -> SysResult {
    let (_, pid, words) = cap_header(t)?;
    if pid != 0 && pid != t.tid && !crate::kernel::lock(&t.k.tree).threads.contains_key(&pid) {
        return Err(Errno::ESRCH);
    }
    if t.arg(1) == 0 {
        return Ok(0);
    }
    // Another thread's sets are what it last published.
    let (eff, perm, inh) = if pid == 0 || pid == t.tid {
        (
            t.creds.caps,
            t.creds.caps_permitted,
            t.creds.caps_inheritable,
        )
    } else {
        let other = crate::kernel::lock(&t.k.tree).threads.get(&pid).cloned();
        let info = other.and_then(|o| {
            crate::kernel::lock(&o.info)
                .as_ref()
                .map(|i| i.creds.clone())
        });
        let c = info.ok_or(Errno::ESRCH)?;
        (c.caps, c.caps_permitted, c.caps_inheritable)
    };
    let mut out = Vec::new();
    for w in 0..words {
        out.extend_from_slice(&((eff >> (32 * w)) as u32).to_le_bytes());
        out.extend_from_slice(&((perm >> (32 * w)) as u32).to_le_bytes());
        out.extend_from_slice(&((inh >> (32 * w)) as u32).to_le_bytes());
    }
    t.copy_out(t.arg(1), &out)?;
    Ok(0)
}

/// Implements capset(2): a process may only drop capabilities.
pub fn sys_capset(t: &mut Task) -> SysResult {
    let (_, pid, words) = cap_header(t)?;
    if pid != 0 && pid != t.tid {
        return Err(Errno::EPERM);
    }
    let mut b = vec![0u8; words * 12];
    t.copy_in(t.arg(1), &mut b)?;
    let word = |w: usize, i: usize| {
        u32::from_le_bytes(
            b[w * 12 + i * 4..w * 12 + i * 4 + 4]
                .try_into()
                .unwrap_or_default(),
        )
    };
    let mut effective = 0u64;
    let mut permitted = 0u64;
    let mut inheritable = 0u64;
    for w in 0..words {
        effective |= u64::from(word(w, 0)) << (32 * w);
        permitted |= u64::from(word(w, 1)) << (32 * w);
        inheritable |= u64::from(word(w, 2)) << (32 * w);
    }
    let c = &t.creds;
    // cap_capset(): the inheritable set grows only within permitted (or with CAP_SETPCAP),
    // and never beyond the bounding set.
    let setpcap = c.caps & (1 << CAP_SETPCAP) != 0;
    if (!setpcap && inheritable & !(c.caps_inheritable | c.caps_permitted) != 0)
        || inheritable & !(c.caps_inheritable | c.caps_bounding) != 0
    {
        return Err(Errno::EPERM);
    }
    if permitted & !t.creds.caps_permitted != 0 || effective & !permitted != 0 {
        return Err(Errno::EPERM);
    }
    t.creds.caps = effective & CAP_ALL;
    t.creds.caps_permitted = permitted & CAP_ALL;
    t.creds.caps_inheritable = inheritable & CAP_ALL;
    // What left permitted or inheritable leaves the ambient set.
    t.creds.caps_ambient &= t.creds.caps_permitted & t.creds.caps_inheritable;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_ids_as_linux() {
        // An unprivileged user swaps real and effective ids; the saved id follows.
        assert_eq!(setre(false, (1000, 0, 0), 0, 1000), Ok((0, 1000, 1000)));
        // It may not take an id it does not hold.
        assert_eq!(
            setre(false, (1000, 1000, 1000), 5, NO_CHANGE),
            Err(Errno::EPERM)
        );
        assert_eq!(
            setres(false, (1000, 1001, 1002), (1002, 1000, NO_CHANGE)),
            Ok((1002, 1000, 1002))
        );
        assert_eq!(
            setres(false, (1000, 1000, 1000), (0, NO_CHANGE, NO_CHANGE)),
            Err(Errno::EPERM)
        );
        assert_eq!(setres(true, (0, 0, 0), (1, 2, 3)), Ok((1, 2, 3)));
    }
}
