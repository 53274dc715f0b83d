// SPDX-License-Identifier: Apache-2.0
//! add_key(2), request_key(2) and keyctl(2): argument copying and the order of checks as in
//! Linux's security/keys/keyctl.c; the keys themselves are [`crate::kernel::keys`].

use syscalls::Errno;

use super::SysResult;
use crate::kernel::keys::{self, KeyType, MAX_DESC};
use crate::kernel::Task;

const PAGE: usize = 4096;

/// key_get_type_from_user: at most 31 bytes; EFAULT, EINVAL when empty or longer, EPERM for
/// the internal types whose names start with a dot.
fn read_type(t: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    let s = t.mm().read_cstr(addr, 31).map_err(|e| match e {
        Errno::ENAMETOOLONG => Errno::EINVAL,
        e => e,
    })?;
    if s.is_empty() {
        return Err(Errno::EINVAL);
    }
    if s[0] == b'.' {
        return Err(Errno::EPERM);
    }
    Ok(s)
}

/// strndup_user(addr, max): EFAULT when unreadable, EINVAL when longer than `max` - 1.
fn read_str(t: &Task, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
    t.mm().read_cstr(addr, max - 1).map_err(|e| match e {
        Errno::ENAMETOOLONG => Errno::EINVAL,
        e => e,
    })
}

/// Copies `len` bytes in (EFAULT), for a payload.
fn read_payload(t: &Task, addr: u64, len: usize) -> Result<Option<Vec<u8>>, Errno> {
    if len == 0 {
        return Ok(None);
    }
    let mut v = vec![0u8; len];
    t.copy_in(addr, &mut v)?;
    Ok(Some(v))
}

/// Copies `data` out when the caller's buffer holds all of it (KEYCTL_READ, DESCRIBE: a short
/// buffer is left untouched); the whole length is the result either way.
fn give_whole(t: &Task, buf: u64, buflen: usize, data: &[u8]) -> SysResult {
    if buf != 0 && buflen >= data.len() {
        t.copy_out(buf, data)?;
    }
    Ok(data.len() as u64)
}

/// Copies as much of `data` as fits in the caller's buffer; the whole length is the result.
fn give(t: &Task, buf: u64, buflen: usize, data: &[u8]) -> SysResult {
    if buf != 0 && buflen > 0 {
        let n = buflen.min(data.len());
        t.copy_out(buf, &data[..n])?;
    }
    Ok(data.len() as u64)
}

/// Implements add_key(2).
pub fn sys_add_key(t: &mut Task) -> SysResult {
    let (ty, desc, payload, plen, ring) = (
        t.arg(0),
        t.arg(1),
        t.arg(2),
        t.arg(3) as usize,
        t.arg(4) as i32,
    );
    if plen > (1 << 20) - 1 {
        return Err(Errno::EINVAL);
    }
    let ty = read_type(t, ty)?;
    let desc = if desc != 0 {
        read_str(t, desc, MAX_DESC)?
    } else {
        Vec::new()
    };
    let data = read_payload(t, payload, plen)?;
    let ktype = KeyType::lookup(&ty);
    keys::add_key(&mut t.creds, ktype, &desc, data.as_deref(), ring).map(|s| s as u64)
}

/// Implements request_key(2).
pub fn sys_request_key(t: &mut Task) -> SysResult {
    let ty = read_type(t, t.arg(0))?;
    let desc = read_str(t, t.arg(1), MAX_DESC)?;
    let callout = match t.arg(2) {
        0 => None,
        a => Some(read_str(t, a, PAGE)?),
    };
    let dest = t.arg(3) as i32;
    keys::request_key(
        &mut t.creds,
        KeyType::lookup(&ty),
        &desc,
        callout.as_deref(),
        dest,
    )
    .map(|s| s as u64)
}

const KEYCTL_GET_KEYRING_ID: u64 = 0;
const KEYCTL_JOIN_SESSION_KEYRING: u64 = 1;
const KEYCTL_UPDATE: u64 = 2;
const KEYCTL_REVOKE: u64 = 3;
const KEYCTL_CHOWN: u64 = 4;
const KEYCTL_SETPERM: u64 = 5;
const KEYCTL_DESCRIBE: u64 = 6;
const KEYCTL_CLEAR: u64 = 7;
const KEYCTL_LINK: u64 = 8;
const KEYCTL_UNLINK: u64 = 9;
const KEYCTL_SEARCH: u64 = 10;
const KEYCTL_READ: u64 = 11;
const KEYCTL_INSTANTIATE: u64 = 12;
const KEYCTL_NEGATE: u64 = 13;
const KEYCTL_SET_REQKEY_KEYRING: u64 = 14;
const KEYCTL_SET_TIMEOUT: u64 = 15;
const KEYCTL_ASSUME_AUTHORITY: u64 = 16;
const KEYCTL_GET_SECURITY: u64 = 17;
const KEYCTL_SESSION_TO_PARENT: u64 = 18;
const KEYCTL_REJECT: u64 = 19;
const KEYCTL_INSTANTIATE_IOV: u64 = 20;
const KEYCTL_INVALIDATE: u64 = 21;
const KEYCTL_RESTRICT_KEYRING: u64 = 29;
const KEYCTL_MOVE: u64 = 30;
const KEYCTL_CAPABILITIES: u64 = 31;

/// KEYCTL_CAPABILITIES: the capabilities word, invalidate, big keys and move; no
/// persistent keyrings, Diffie-Hellman or public keys.
const CAPS: [u8; 2] = [0x01 | 0x10 | 0x20 | 0x80, 0];

/// KEYCTL_SESSION_TO_PARENT: the parent (single-threaded, not init, same ids) takes the
/// caller's session keyring before it next returns to its program.
fn session_to_parent(t: &mut Task) -> SysResult {
    let ppid = t.ppid();
    if ppid <= 1 {
        return Err(Errno::EPERM);
    }
    let parent = {
        let tree = crate::kernel::lock(&t.k.tree);
        let p = tree.procs.get(&ppid).ok_or(Errno::EPERM)?;
        let tasks = crate::kernel::lock(&p.tg.tasks);
        if tasks.len() != 1 {
            return Err(Errno::EPERM);
        }
        tasks[0].clone()
    };
    let pcreds = crate::kernel::lock(&parent.info)
        .as_ref()
        .map(|i| i.creds.clone())
        .ok_or(Errno::EPERM)?;
    if let Some(k) = keys::session_for_parent(&mut t.creds, &pcreds)? {
        parent.new_session.give(k);
    }
    drop(pcreds);
    Ok(0)
}

/// Implements keyctl(2).
pub fn sys_keyctl(t: &mut Task) -> SysResult {
    let [op, a2, a3, a4, a5, _] = t.args();
    let id = a2 as i32;
    let c = &mut t.creds;
    match op {
        KEYCTL_GET_KEYRING_ID => keys::get_keyring_id(c, id, a3 != 0).map(|s| s as u64),
        KEYCTL_JOIN_SESSION_KEYRING => {
            let name = match a2 {
                0 => None,
                a => {
                    let n = read_str(t, a, MAX_DESC)?;
                    if n.first() == Some(&b'.') {
                        return Err(Errno::EPERM);
                    }
                    Some(n)
                }
            };
            keys::join_session(&mut t.creds, name.as_deref()).map(|s| s as u64)
        }
        KEYCTL_UPDATE => {
            let plen = a4 as usize;
            if plen > PAGE {
                return Err(Errno::EINVAL);
            }
            let data = read_payload(t, a3, plen)?;
            keys::update(&mut t.creds, id, data.as_deref().unwrap_or_default()).map(|_| 0)
        }
        KEYCTL_REVOKE => keys::revoke(c, id).map(|_| 0),
        KEYCTL_CHOWN => keys::chown(c, id, a3 as u32, a4 as u32).map(|_| 0),
        KEYCTL_SETPERM => keys::setperm(c, id, a3 as u32).map(|_| 0),
        KEYCTL_DESCRIBE => {
            let d = keys::describe(c, id)?;
            give_whole(t, a3, a4 as usize, &d)
        }
        KEYCTL_CLEAR => keys::clear(c, id).map(|_| 0),
        KEYCTL_LINK => keys::link(c, id, a3 as i32).map(|_| 0),
        KEYCTL_UNLINK => keys::unlink(c, id, a3 as i32).map(|_| 0),
        KEYCTL_SEARCH => {
            let ty = read_type(t, a3)?;
            let desc = read_str(t, a4, MAX_DESC)?;
            keys::search(&mut t.creds, id, KeyType::lookup(&ty), &desc, a5 as i32).map(|s| s as u64)
        }
        KEYCTL_READ => {
            let d = keys::read(c, id)?;
            give_whole(t, a3, a4 as usize, &d)
        }
        KEYCTL_INSTANTIATE | KEYCTL_INSTANTIATE_IOV => {
            // No request-key upcall runs here, so no task ever holds the authorisation.
            if op == KEYCTL_INSTANTIATE && a4 > (1 << 20) - 1 {
                return Err(Errno::EINVAL);
            }
            Err(Errno::EPERM)
        }
        KEYCTL_NEGATE | KEYCTL_REJECT => Err(Errno::EPERM),
        KEYCTL_SET_REQKEY_KEYRING => keys::set_reqkey(c, a2 as i32).map(|o| o as u64),
        KEYCTL_SET_TIMEOUT => keys::set_timeout(c, id, a3 as u32).map(|_| 0),
        KEYCTL_ASSUME_AUTHORITY => match id {
            i if i < 0 => Err(Errno::EINVAL),
            0 => Ok(0),
            _ => Err(Errno::ENOKEY),
        },
        KEYCTL_GET_SECURITY => {
            keys::get_security(c, id)?;
            give(t, a3, a4 as usize, b"\0")
        }
        KEYCTL_SESSION_TO_PARENT => session_to_parent(t),
        KEYCTL_INVALIDATE => keys::invalidate(c, id).map(|_| 0),
        KEYCTL_RESTRICT_KEYRING => {
            let ty = match a3 {
                0 => None,
                a => Some(read_type(t, a)?),
            };
            if ty.is_none() && a4 != 0 {
                return Err(Errno::EINVAL);
            }
            if ty.is_some() {
                if a4 != 0 {
                    read_str(t, a4, PAGE)?;
                }
                // No key type here has restriction schemes.
                return Err(Errno::ENOENT);
            }
            keys::lock_keyring(&mut t.creds, id).map(|_| 0)
        }
        KEYCTL_MOVE => {
            if a5 & !1 != 0 {
                return Err(Errno::EINVAL);
            }
            keys::move_key(c, id, a3 as i32, a4 as i32, a5 & 1 != 0).map(|_| 0)
        }
        KEYCTL_CAPABILITIES => give(t, a2, a3 as usize, &CAPS),
        _ => Err(Errno::EOPNOTSUPP),
    }
}
