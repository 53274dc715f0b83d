// SPDX-License-Identifier: Apache-2.0
//! What execve makes of the credentials, as Linux's `bprm_fill_uid` (fs/exec.c) and
//! `cap_bprm_creds_from_file` (security/commoncap.c) do: a set-user-ID or set-group-ID file
//! (not on a nosuid mount, not under no_new_privs), file capabilities (`security.capability`,
//! revisions 1 to 3), root's capabilities (permitted = bounding | inheritable, all effective
//! for an effective uid of 0), ambient capabilities (kept for an ordinary file, cleared by a
//! privileged one), the downgrade of an exec that would gain privileges under no_new_privs or
//! an unprivileged tracer, AT_SECURE, and whether the new image may be dumped.
//!
//! The ids and capabilities are the sandbox's virtual ones (DESIGN.md): nothing here changes
//! what the host lets the sandbox do.

use syscalls::abi::*;
use syscalls::Errno;

use super::{Credentials, CAP_ALL};

/// `security.capability` as the file holds it (Linux's `cpu_vfs_cap_data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileCaps {
    /// fP.
    pub permitted: u64,
    /// fI.
    pub inheritable: u64,
    /// fE: the permitted set is effective at once.
    pub effective: bool,
}

const VFS_CAP_REVISION_MASK: u32 = 0xff00_0000;
const VFS_CAP_FLAGS_EFFECTIVE: u32 = 0x0000_0001;
const VFS_CAP_REVISION_1: u32 = 0x0100_0000;
const VFS_CAP_REVISION_2: u32 = 0x0200_0000;
const VFS_CAP_REVISION_3: u32 = 0x0300_0000;

/// Decodes `security.capability` (Linux's get_vfs_caps_from_disk): None when it is malformed,
/// or (revision 3) names a root other than the sandbox's, which Linux ignores.
pub fn parse_file_caps(b: &[u8]) -> Option<FileCaps> {
    let word = |i: usize| -> Option<u32> {
        b.get(i * 4..i * 4 + 4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    };
    let magic = word(0)?;
    let (words, len) = match magic & VFS_CAP_REVISION_MASK {
        VFS_CAP_REVISION_1 => (1, 12),
        VFS_CAP_REVISION_2 => (2, 20),
        VFS_CAP_REVISION_3 => (2, 24),
        _ => return None,
    };
    if b.len() != len {
        return None;
    }
    if magic & VFS_CAP_REVISION_MASK == VFS_CAP_REVISION_3 && word(5)? != 0 {
        return None;
    }
    let (mut permitted, mut inheritable) = (0u64, 0u64);
    for i in 0..words {
        permitted |= u64::from(word(1 + i * 2)?) << (32 * i);
        inheritable |= u64::from(word(2 + i * 2)?) << (32 * i);
    }
    Some(FileCaps {
        permitted: permitted & CAP_ALL,
        inheritable: inheritable & CAP_ALL,
        effective: magic & VFS_CAP_FLAGS_EFFECTIVE != 0,
    })
}

/// What exec needs to know of the file it runs.
#[derive(Debug, Clone, Copy)]
pub struct FileFacts {
    /// Its mode (S_ISUID, S_ISGID, S_IXGRP matter).
    pub mode: u32,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// It lies on a nosuid mount: set-id bits and file capabilities are ignored.
    pub nosuid: bool,
    /// The caller may read it (an unreadable image is not dumpable).
    pub readable: bool,
    /// Its file capabilities, if it has any.
    pub caps: Option<FileCaps>,
}

/// The credentials after exec, and what goes with them.
#[derive(Debug, Clone)]
pub struct Transition {
    /// The new credentials.
    pub creds: Credentials,
    /// AT_SECURE: the exec gained privileges (glibc then ignores LD_PRELOAD and its kind).
    pub secure: bool,
    /// The new image may be dumped (and its /proc files are its owner's).
    pub dumpable: bool,
}

/// The credentials `old` becomes by exec of `file`. `no_new_privs` is the task's;
/// `unprivileged_tracer` says it is traced by a task without CAP_SYS_PTRACE (an exec that
/// would gain privileges then does not gain them, as under no_new_privs, but keeps its ids).
/// EPERM when the file's capabilities are effective and the task cannot have them all.
pub fn transition(
    old: &Credentials,
    file: &FileFacts,
    no_new_privs: bool,
    unprivileged_tracer: bool,
) -> Result<Transition, Errno> {
    let (ruid, old_euid, _) = old.uid;
    let (rgid, old_egid, _) = old.gid;
    // bprm_fill_uid.
    let (mut euid, mut egid) = (old_euid, old_egid);
    if !file.nosuid && !no_new_privs {
        if file.mode & S_ISUID != 0 {
            euid = file.uid;
        }
        if file.mode & (S_ISGID | S_IXGRP) == S_ISGID | S_IXGRP {
            egid = file.gid;
        }
    }
    // get_file_caps: pP' = (X & fP) | (pI & fI).
    let mut permitted = 0u64;
    let mut effective = false;
    let fcaps = file.caps.filter(|_| !file.nosuid);
    if let Some(fc) = fcaps {
        effective = fc.effective;
        permitted = (old.caps_bounding & fc.permitted) | (old.caps_inheritable & fc.inheritable);
        if fc.effective && fc.permitted & !permitted != 0 {
            // The file needs capabilities the task cannot have.
            return Err(Errno::EPERM);
        }
    }
    // handle_privileged_root (no SECURE_NOROOT): root gets the bounding set and its
    // inheritable ones, all effective when its effective uid is 0 (not for a set-user-ID-root
    // file with capabilities of its own, as Linux warns and skips).
    let setuid_root = ruid != 0 && euid == 0;
    let noroot = old.securebits & syscalls::abi::SECBIT_NOROOT != 0;
    if !(noroot || (fcaps.is_some() && setuid_root)) {
        if euid == 0 || ruid == 0 {
            permitted = old.caps_bounding | old.caps_inheritable;
        }
        if euid == 0 {
            effective = true;
        }
    }
    // Against the old real ids, as __is_setuid and __is_setgid compare them.
    let is_setid = euid != ruid || egid != rgid;
    let gained = permitted & !old.caps_permitted != 0;
    if (is_setid || gained) && (no_new_privs || unprivileged_tracer) {
        // "They get no more than they had, and maybe less."
        if old.caps & (1 << CAP_SETUID) == 0 || no_new_privs {
            euid = ruid;
            egid = rgid;
        }
        permitted &= old.caps_permitted;
    }
    let mut ambient = old.caps_ambient;
    if fcaps.is_some() || is_setid {
        ambient = 0;
    }
    permitted |= ambient;
    let mut creds = old.clone();
    creds.uid = (ruid, euid, euid);
    creds.gid = (rgid, egid, egid);
    creds.fsuid = euid;
    creds.fsgid = egid;
    creds.caps_permitted = permitted;
    creds.caps_ambient = ambient;
    creds.caps = if effective { permitted } else { ambient };
    let secure = is_setid || (ruid != 0 && (effective || permitted & !ambient != 0));
    // begin_new_exec's rule (set-id images take suid_dumpable, 0 here), then commit_creds's:
    // new ids or new permitted capabilities make the image undumpable too.
    let changed = euid != old_euid
        || egid != old_egid
        || euid != old.fsuid
        || egid != old.fsgid
        || permitted & !old.caps_permitted != 0;
    let dumpable = file.readable && euid == ruid && egid == rgid && !changed;
    Ok(Transition {
        creds,
        secure,
        dumpable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: u64 = CAP_ALL;

    fn plain(mode: u32, uid: u32, gid: u32) -> FileFacts {
        FileFacts {
            mode,
            uid,
            gid,
            nosuid: false,
            readable: true,
            caps: None,
        }
    }

    fn user(uid: u32) -> Credentials {
        Credentials::new(uid, uid, vec![])
    }

    #[test]
    fn root_keeps_bounding_and_inheritable() {
        let mut root = user(0);
        root.caps_bounding = ALL & !(1 << CAP_SYS_ADMIN);
        root.caps = 1;
        let t = transition(&root, &plain(0o755, 0, 0), false, false).unwrap();
        assert_eq!(t.creds.caps_permitted, root.caps_bounding);
        assert_eq!(t.creds.caps, root.caps_bounding);
        assert!(!t.secure && t.dumpable);
    }

    #[test]
    fn an_ordinary_user_keeps_only_ambient() {
        let mut u = user(1000);
        u.caps_permitted = 1 << CAP_NET_RAW | 1 << CAP_KILL;
        u.caps_inheritable = u.caps_permitted;
        u.caps_ambient = 1 << CAP_KILL;
        u.caps = u.caps_permitted;
        let t = transition(&u, &plain(0o755, 0, 0), false, false).unwrap();
        assert_eq!(t.creds.caps_permitted, 1 << CAP_KILL);
        assert_eq!(t.creds.caps, 1 << CAP_KILL);
        assert!(!t.secure);
    }

    #[test]
    fn setuid_root_makes_root_and_clears_ambient() {
        let mut u = user(1000);
        u.caps_ambient = 0;
        let t = transition(&u, &plain(0o4755, 0, 0), false, false).unwrap();
        assert_eq!(t.creds.uid, (1000, 0, 0));
        assert_eq!(t.creds.caps, u.caps_bounding);
        assert!(t.secure && !t.dumpable);
        // no_new_privs: nothing changes.
        let t = transition(&u, &plain(0o4755, 0, 0), true, false).unwrap();
        assert_eq!(t.creds.uid, (1000, 1000, 1000));
        assert_eq!(t.creds.caps, 0);
        // nosuid: likewise.
        let mut f = plain(0o4755, 0, 0);
        f.nosuid = true;
        let t = transition(&u, &f, false, false).unwrap();
        assert_eq!(t.creds.uid.1, 1000);
        // An unprivileged tracer: the ids stay, the capabilities are not gained.
        let t = transition(&u, &plain(0o4755, 0, 0), false, true).unwrap();
        assert_eq!(t.creds.uid, (1000, 1000, 1000));
        assert_eq!(t.creds.caps, 0);
    }

    #[test]
    fn setgid_needs_group_execute() {
        let u = user(1000);
        let t = transition(&u, &plain(0o2755, 0, 50), false, false).unwrap();
        assert_eq!(t.creds.gid, (1000, 50, 50));
        let t = transition(&u, &plain(0o2745, 0, 50), false, false).unwrap();
        assert_eq!(t.creds.gid, (1000, 1000, 1000));
    }

    #[test]
    fn file_capabilities_are_granted_within_the_bounding_set() {
        let u = user(1000);
        let mut f = plain(0o755, 0, 0);
        f.caps = Some(FileCaps {
            permitted: 1 << CAP_NET_RAW,
            inheritable: 0,
            effective: true,
        });
        let t = transition(&u, &f, false, false).unwrap();
        assert_eq!(t.creds.caps, 1 << CAP_NET_RAW);
        assert!(t.secure);
        let mut limited = u.clone();
        limited.caps_bounding = 0;
        assert_eq!(
            transition(&limited, &f, false, false).unwrap_err(),
            Errno::EPERM
        );
    }

    #[test]
    fn security_capability_revisions() {
        let mut v2 = Vec::new();
        for w in [VFS_CAP_REVISION_2 | 1, 1 << CAP_NET_RAW, 0, 0, 0] {
            v2.extend_from_slice(&w.to_le_bytes());
        }
        assert_eq!(
            parse_file_caps(&v2),
            Some(FileCaps {
                permitted: 1 << CAP_NET_RAW,
                inheritable: 0,
                effective: true
            })
        );
        let mut v3 = v2.clone();
        v3[3] = 3;
        v3.extend_from_slice(&0u32.to_le_bytes());
        assert!(parse_file_caps(&v3).is_some());
        v3[20] = 1;
        assert!(parse_file_caps(&v3).is_none());
        assert!(parse_file_caps(&v2[..19]).is_none());
        assert!(parse_file_caps(&[]).is_none());
    }
}
