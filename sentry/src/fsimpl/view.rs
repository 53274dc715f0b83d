// SPDX-License-Identifier: Apache-2.0
//! What a program sees of the host by default (DESIGN.md "What a program sees"; issue 10): the
//! host's system trees read-only under the root overlay, the secrets in them hidden, the
//! personal and volatile trees empty and the sandbox's own, and nothing else of the host's
//! top level. The lists are here and nowhere else; docs/security.md repeats them for people.
//!
//! The view is made twice: in the sentry, as whiteouts and opaque directories of the root
//! overlay (a hidden file gives ENOENT, as if removed), and in the gofer, as empty mounts over
//! the same paths in its own mount namespace, so that even a sentry that asked for them could
//! not get them.

use std::path::Path;

/// The host's top-level entries shown (read-only, writes in the sandbox's memory). A
/// merged-/usr host has `bin`, `lib`... as symlinks into `usr`: they are shown as they are.
pub const SYSTEM_TREES: &[&str] = &[
    "bin", "etc", "lib", "lib32", "lib64", "libx32", "opt", "sbin", "usr", "var",
];

/// Trees shown empty, the sandbox's own: personal (homes, mounted media, served data) and
/// volatile (runtime state, temporary files, logs, mail and spools, caches). /tmp is the
/// sandbox's own tmpfs besides.
pub const PRIVATE_TREES: &[&str] = &[
    "/home",
    "/root",
    "/run",
    "/tmp",
    "/mnt",
    "/media",
    "/srv",
    "/var/tmp",
    "/var/log",
    "/var/mail",
    "/var/spool",
    "/var/cache",
    "/var/backups",
    "/var/lib/sudo",
    "/var/lib/private",
];

/// Secrets inside the system trees, hidden (ENOENT): password and group hashes, privilege
/// rules, host keys, private keys and stored credentials. A `*` matches within the last
/// component only.
pub const SECRETS: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/security/opasswd",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/doas.conf",
    "/etc/ssh/ssh_host_*_key",
    "/etc/ssl/private",
    "/etc/pki/tls/private",
    "/etc/krb5.keytab",
    "/etc/ipsec.secrets",
    "/etc/ppp/chap-secrets",
    "/etc/ppp/pap-secrets",
    "/etc/wireguard",
    "/etc/NetworkManager/system-connections",
    "/etc/docker/key.json",
    "/etc/libvirt/secrets",
    "/etc/machine-id",
    "/var/lib/dbus/machine-id",
];

/// The default view of a host whose root is `root` (`/` but in tests): what to hide and
/// what to empty, as absolute paths in the sandbox that exist on the host (read now, at
/// start-up: the host's top-level entries and the directories holding patterns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Hidden altogether (whiteouts): the secrets that exist and the host's top-level entries
    /// that are neither system nor private trees.
    pub hidden: Vec<String>,
    /// Shown as empty directories of the sandbox's own.
    pub emptied: Vec<String>,
}

/// Whether `name` matches `pattern` (one `*` at most, matching any run of characters).
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((pre, post)) => {
            name.len() >= pre.len() + post.len() && name.starts_with(pre) && name.ends_with(post)
        }
    }
}

/// Reads `root` and makes the plan.
pub fn plan(root: &Path) -> Plan {
    let mut p = Plan::default();
    let shown_top = |name: &str| {
        SYSTEM_TREES.contains(&name)
            || PRIVATE_TREES
                .iter()
                .any(|t| t.trim_start_matches('/') == name)
            // The sandbox's own file systems are mounted over these.
            || matches!(name, "dev" | "proc" | "sys")
    };
    if let Ok(entries) = std::fs::read_dir(root) {
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !shown_top(n))
            .map(|n| format!("/{n}"))
            .collect();
        names.sort();
        p.hidden.extend(names);
    }
    for s in SECRETS {
        let Some((dir, last)) = s.rsplit_once('/') else {
            continue;
        };
        let host_dir = root.join(dir.trim_start_matches('/'));
        if last.contains('*') {
            let Ok(entries) = std::fs::read_dir(&host_dir) else {
                continue;
            };
            let mut found: Vec<String> = entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| matches(last, n))
                .map(|n| format!("{dir}/{n}"))
                .collect();
            found.sort();
            p.hidden.extend(found);
        } else if std::fs::symlink_metadata(host_dir.join(last)).is_ok() {
            p.hidden.push((*s).to_string());
        }
    }
    for t in PRIVATE_TREES {
        if std::fs::symlink_metadata(root.join(t.trim_start_matches('/'))).is_ok_and(|m| m.is_dir())
        {
            p.emptied.push((*t).to_string());
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches("ssh_host_*_key", "ssh_host_rsa_key"));
        assert!(matches("ssh_host_*_key", "ssh_host_ed25519_key"));
        assert!(!matches("ssh_host_*_key", "ssh_host_rsa_key.pub"));
        assert!(!matches("ssh_host_*_key", "ssh_config"));
        assert!(matches("shadow", "shadow"));
        assert!(!matches("shadow", "shadow-"));
    }

    #[test]
    fn a_plan_of_a_small_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = dir.path();
        for d in [
            "usr/bin",
            "etc/ssh",
            "home/alice",
            "root",
            "work/project",
            "var/log",
            "var/lib/dpkg",
        ] {
            std::fs::create_dir_all(r.join(d)).expect("mkdir");
        }
        for f in [
            "etc/shadow",
            "etc/passwd",
            "etc/ssh/ssh_host_rsa_key",
            "etc/ssh/ssh_host_rsa_key.pub",
            "vmlinuz",
        ] {
            std::fs::write(r.join(f), "x").expect("write");
        }
        let p = plan(r);
        assert_eq!(
            p.hidden,
            [
                "/vmlinuz",
                "/work",
                "/etc/shadow",
                "/etc/ssh/ssh_host_rsa_key"
            ]
        );
        assert_eq!(p.emptied, ["/home", "/root", "/var/log"]);
    }
}
