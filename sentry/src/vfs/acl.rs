// SPDX-License-Identifier: Apache-2.0
//! POSIX ACLs (acl(5), fs/posix_acl.c): the `system.posix_acl_access` and
//! `system.posix_acl_default` extended attributes in their xattr form, checked as Linux checks
//! them (posix_acl_valid), kept in step with the mode bits (posix_acl_equiv_mode,
//! posix_acl_chmod), inherited by files made in a directory with a default ACL
//! (posix_acl_create: the umask is not applied there), and consulted by permission checks
//! for callers other than the owner (posix_acl_permission).
//!
//! The file systems that keep them say so ([`Inode::keeps_acls`]: tmpfs, and the overlay on
//! its upper files); they store the canonical bytes as ordinary extended attributes. Elsewhere
//! the names are EOPNOTSUPP, as on a file system mounted without ACLs.

use syscalls::abi::*;
use syscalls::Errno;

use super::Inode;
use crate::kernel::Credentials;

/// The access ACL's attribute name.
pub const ACCESS: &[u8] = b"system.posix_acl_access";
/// The default ACL's attribute name.
pub const DEFAULT: &[u8] = b"system.posix_acl_default";

const VERSION: u32 = 2;
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const UNDEFINED_ID: u32 = u32::MAX;

/// One entry: tag, permissions (rwx), and the id for USER and GROUP entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    tag: u16,
    perm: u16,
    id: u32,
}

/// A valid ACL, its entries in Linux's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acl {
    entries: Vec<Entry>,
}

/// Whether `name` is one of the two ACL attributes.
pub fn is_acl_name(name: &[u8]) -> bool {
    name == ACCESS || name == DEFAULT
}

impl Acl {
    /// posix_acl_from_xattr then posix_acl_valid: `None` for a header with no entries (the
    /// ACL is removed); EINVAL for a malformed or invalid one, EOPNOTSUPP for another version.
    pub fn parse(value: &[u8]) -> Result<Option<Acl>, Errno> {
        if value.len() < 4 || !(value.len() - 4).is_multiple_of(8) {
            return Err(Errno::EINVAL);
        }
        if u32::from_le_bytes([value[0], value[1], value[2], value[3]]) != VERSION {
            return Err(Errno::EOPNOTSUPP);
        }
        let entries: Vec<Entry> = value[4..]
            .chunks_exact(8)
            .map(|c| Entry {
                tag: u16::from_le_bytes([c[0], c[1]]),
                perm: u16::from_le_bytes([c[2], c[3]]),
                id: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        if entries.is_empty() {
            return Ok(None);
        }
        let mut acl = Acl { entries };
        for e in &mut acl.entries {
            if !matches!(e.tag, USER | GROUP) {
                e.id = UNDEFINED_ID;
            } else if e.id == UNDEFINED_ID {
                return Err(Errno::EINVAL);
            }
        }
        acl.valid()?;
        Ok(Some(acl))
    }

    /// posix_acl_valid: one USER_OBJ, named users in increasing order, one GROUP_OBJ, named
    /// groups in increasing order, a MASK when there are named entries, one OTHER, in that
    /// order; permissions within rwx.
    fn valid(&self) -> Result<(), Errno> {
        let mut state = USER_OBJ;
        let (mut prev_user, mut prev_group) = (None, None);
        let mut named = false;
        let mut mask = false;
        for e in &self.entries {
            if e.perm & !7 != 0 {
                return Err(Errno::EINVAL);
            }
            match e.tag {
                USER_OBJ if state == USER_OBJ => state = USER,
                USER if state == USER => {
                    if prev_user.is_some_and(|p| p >= e.id) {
                        return Err(Errno::EINVAL);
                    }
                    prev_user = Some(e.id);
                    named = true;
                }
                GROUP_OBJ if state == USER => state = GROUP,
                GROUP if state == GROUP => {
                    if prev_group.is_some_and(|p| p >= e.id) {
                        return Err(Errno::EINVAL);
                    }
                    prev_group = Some(e.id);
                    named = true;
                }
                MASK if state == GROUP => {
                    state = OTHER;
                    mask = true;
                }
                OTHER if state == OTHER || (state == GROUP && !named) => state = 0,
                _ => return Err(Errno::EINVAL),
            }
        }
        if state != 0 || (named && !mask) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// The xattr form (posix_acl_to_xattr).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = VERSION.to_le_bytes().to_vec();
        for e in &self.entries {
            v.extend_from_slice(&e.tag.to_le_bytes());
            v.extend_from_slice(&e.perm.to_le_bytes());
            v.extend_from_slice(&e.id.to_le_bytes());
        }
        v
    }

    /// posix_acl_equiv_mode: the permission bits the ACL gives `mode`, and whether the ACL
    /// says no more than they do (then it is not kept).
    pub fn equiv_mode(&self, mode: u32) -> (u32, bool) {
        let mut m = 0u32;
        let mut equiv = true;
        for e in &self.entries {
            let p = u32::from(e.perm) & 7;
            match e.tag {
                USER_OBJ => m |= p << 6,
                GROUP_OBJ => m |= p << 3,
                OTHER => m |= p,
                MASK => {
                    m = (m & !0o070) | (p << 3);
                    equiv = false;
                }
                _ => equiv = false,
            }
        }
        ((mode & !0o777) | m, equiv)
    }

    /// posix_acl_chmod: the owner, mask (or owning group) and other entries take `mode`'s
    /// bits.
    pub fn chmod(&mut self, mode: u32) {
        let has_mask = self.entries.iter().any(|e| e.tag == MASK);
        for e in &mut self.entries {
            match e.tag {
                USER_OBJ => e.perm = ((mode >> 6) & 7) as u16,
                MASK => e.perm = ((mode >> 3) & 7) as u16,
                GROUP_OBJ if !has_mask => e.perm = ((mode >> 3) & 7) as u16,
                OTHER => e.perm = (mode & 7) as u16,
                _ => {}
            }
        }
    }

    /// posix_acl_create_masq: a new file's access ACL from its directory's default ACL and
    /// the mode it was asked for; returns the mode and whether the ACL says more than it.
    fn create_masq(&mut self, mode: u32) -> (u32, bool) {
        let mut m = mode & 0o777;
        let mut not_equiv = false;
        let (mut group_obj, mut mask) = (None, None);
        for (i, e) in self.entries.iter_mut().enumerate() {
            match e.tag {
                USER_OBJ => {
                    e.perm &= ((m >> 6) & 7) as u16;
                    m &= (u32::from(e.perm) << 6) | !0o700;
                }
                USER | GROUP => not_equiv = true,
                GROUP_OBJ => group_obj = Some(i),
                OTHER => {
                    e.perm &= (m & 7) as u16;
                    m &= u32::from(e.perm) | !0o007;
                }
                MASK => {
                    mask = Some(i);
                    not_equiv = true;
                }
                _ => {}
            }
        }
        if let Some(i) = mask.or(group_obj) {
            let e = &mut self.entries[i];
            e.perm &= ((m >> 3) & 7) as u16;
            m &= (u32::from(e.perm) << 3) | !0o070;
        }
        ((mode & !0o777) | (m & 0o777), not_equiv)
    }

    /// posix_acl_permission for a caller who is not the owner (the owner goes by the mode's
    /// owner bits): a named user's entry, else the owning or named groups the caller is in
    /// (any granting the access), each limited by the mask, else other.
    fn permits(&self, c: &Credentials, file_gid: u32, want: u32) -> bool {
        let want = (want & 7) as u16;
        let mask = self
            .entries
            .iter()
            .find(|e| e.tag == MASK)
            .map_or(7, |e| e.perm);
        let in_group = |g: u32| c.fsgid == g || c.groups.contains(&g);
        let mut found = false;
        for e in &self.entries {
            match e.tag {
                USER if e.id == c.fsuid => return e.perm & mask & want == want,
                GROUP_OBJ | GROUP => {
                    let g = if e.tag == GROUP_OBJ { file_gid } else { e.id };
                    if in_group(g) {
                        found = true;
                        if e.perm & want == want {
                            return e.perm & mask & want == want;
                        }
                    }
                }
                OTHER => return !found && e.perm & want == want,
                _ => {}
            }
        }
        false
    }
}

/// The ACL of `inode` of that kind, if its file system keeps ACLs and it has one.
pub fn get(inode: &dyn Inode, name: &[u8]) -> Option<Acl> {
    if !inode.keeps_acls() {
        return None;
    }
    let v = inode.getxattr(name).ok()?;
    Acl::parse(&v).ok().flatten()
}

/// generic_permission with ACLs: a caller other than the owner of a file with an access ACL
/// (and group bits set, as acl_permission_check asks) is judged by it; otherwise by the mode.
pub fn may(c: &Credentials, inode: &dyn Inode, st: &Stat, want: u32) -> bool {
    if c.fsuid != st.st_uid && st.st_mode & 0o070 != 0 && c.caps & (1 << CAP_DAC_OVERRIDE) == 0 {
        if let Some(acl) = get(inode, ACCESS) {
            return acl.permits(c, st.st_gid, want);
        }
    }
    c.may(st.st_mode, st.st_uid, st.st_gid, want)
}

/// What a file made in `dir` with `mode` (permission bits and type) gets: its mode, and the
/// access and default ACLs to give it (posix_acl_create). Without a default ACL in the
/// directory, the umask applies and there are none.
pub fn create_mode(dir: &dyn Inode, mode: u32, umask: u32) -> (u32, Option<Acl>, Option<Acl>) {
    let Some(default) = get(dir, DEFAULT) else {
        return (mode & !umask, None, None);
    };
    let mut access = default.clone();
    let (m, not_equiv) = access.create_masq(mode);
    let keep_default = (mode & S_IFMT == S_IFDIR).then_some(default);
    (m, not_equiv.then_some(access), keep_default)
}

/// Gives a file just made the ACLs [`create_mode`] decided.
pub fn inherit(inode: &dyn Inode, access: Option<Acl>, default: Option<Acl>) {
    if let Some(a) = access {
        let _ = inode.setxattr(ACCESS, &a.to_bytes(), 0);
    }
    if let Some(d) = default {
        let _ = inode.setxattr(DEFAULT, &d.to_bytes(), 0);
    }
}

/// chmod of a file with an access ACL: the ACL follows the new mode.
pub fn chmod(inode: &dyn Inode, mode: u32) -> Result<(), Errno> {
    if let Some(mut acl) = get(inode, ACCESS) {
        acl.chmod(mode);
        inode.setxattr(ACCESS, &acl.to_bytes(), 0)?;
    }
    Ok(())
}

/// setxattr of an ACL attribute, after the caller's checks (owner or CAP_FOWNER, the mount,
/// the inode flags): a default ACL only on a directory (EACCES), a valid ACL (EINVAL), and
/// an access ACL sets the mode's permission bits, kept only if it says more than they do.
/// `value` None removes it (removexattr).
pub fn set(inode: &dyn Inode, name: &[u8], value: Option<&[u8]>, flags: u32) -> Result<(), Errno> {
    if !inode.keeps_acls() {
        return Err(Errno::EOPNOTSUPP);
    }
    let st = inode.stat()?;
    let acl = match value {
        Some(v) => Acl::parse(v)?,
        None => None,
    };
    if name == DEFAULT && st.st_mode & S_IFMT != S_IFDIR {
        return if acl.is_some() {
            Err(Errno::EACCES)
        } else {
            Ok(())
        };
    }
    let exists = inode.getxattr(name).is_ok();
    if flags & XATTR_CREATE != 0 && exists {
        return Err(Errno::EEXIST);
    }
    if flags & XATTR_REPLACE != 0 && !exists {
        return Err(Errno::ENODATA);
    }
    let Some(acl) = acl else {
        return match inode.removexattr(name) {
            Err(Errno::ENODATA) if value.is_some() => Ok(()),
            r => r,
        };
    };
    if name == ACCESS {
        let (mode, equiv) = acl.equiv_mode(st.st_mode);
        if mode != st.st_mode {
            inode.setattr(&super::SetAttr {
                mode: Some(mode & 0o7777),
                ..Default::default()
            })?;
        }
        if equiv {
            return match inode.removexattr(name) {
                Err(Errno::ENODATA) => Ok(()),
                r => r,
            };
        }
    }
    inode.setxattr(name, &acl.to_bytes(), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut v = VERSION.to_le_bytes().to_vec();
        for (t, p, i) in entries {
            v.extend_from_slice(&t.to_le_bytes());
            v.extend_from_slice(&p.to_le_bytes());
            v.extend_from_slice(&i.to_le_bytes());
        }
        v
    }

    #[test]
    fn validity_follows_posix_acl_valid() {
        let base = [(USER_OBJ, 6, 0), (GROUP_OBJ, 4, 0), (OTHER, 0, 0)];
        assert!(Acl::parse(&acl(&base)).unwrap().is_some());
        // A named user needs a mask.
        let named = [
            (USER_OBJ, 6, 0),
            (USER, 4, 1000),
            (GROUP_OBJ, 4, 0),
            (OTHER, 0, 0),
        ];
        assert_eq!(Acl::parse(&acl(&named)), Err(Errno::EINVAL));
        let masked = [
            (USER_OBJ, 6, 0),
            (USER, 4, 1000),
            (GROUP_OBJ, 4, 0),
            (MASK, 4, 0),
            (OTHER, 0, 0),
        ];
        let a = Acl::parse(&acl(&masked)).unwrap().unwrap();
        assert_eq!(a.equiv_mode(0o100644), (0o100640, false));
        // Out of order, and a bad version.
        let swapped = [(GROUP_OBJ, 4, 0), (USER_OBJ, 6, 0), (OTHER, 0, 0)];
        assert_eq!(Acl::parse(&acl(&swapped)), Err(Errno::EINVAL));
        let mut v = acl(&base);
        v[0] = 1;
        assert_eq!(Acl::parse(&v), Err(Errno::EOPNOTSUPP));
        assert_eq!(Acl::parse(&VERSION.to_le_bytes()), Ok(None));
    }

    #[test]
    fn a_default_acl_masks_the_new_mode() {
        let d = [
            (USER_OBJ, 7, 0),
            (USER, 7, 1000),
            (GROUP_OBJ, 5, 0),
            (MASK, 7, 0),
            (OTHER, 5, 0),
        ];
        let mut a = Acl::parse(&acl(&d)).unwrap().unwrap();
        let (mode, not_equiv) = a.create_masq(S_IFREG | 0o644);
        assert_eq!(mode, S_IFREG | 0o644);
        assert!(not_equiv);
    }
}
