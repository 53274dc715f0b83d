// SPDX-License-Identifier: Apache-2.0
//! The sandbox's own kernel configuration, served as /proc/config.gz (CONFIG_IKCONFIG_PROC).
//!
//! Programs and test suites (the LTP's `tst_kconfig`, `check-config.sh` of container tools)
//! read the kernel's .config to learn what the kernel offers. The host's config is not the
//! sandbox's truth: a host with `CONFIG_AIO=y` runs a sandbox whose io_setup is ENOSYS. So the
//! config is generated from the places that know what the sentry implements: the system call
//! table ([`crate::syscalls::table`]: an option whose calls are all implemented is `=y`, one
//! with any call left ENOSYS is "not set"), the file systems mount(2) accepts
//! ([`crate::fsimpl::FILESYSTEMS`]) and a few facts of the sentry's design (no loadable
//! modules, only mount namespaces). Options the sandbox has no opinion on (drivers, debugging)
//! are left out, as an option absent from a .config is "not set" to every reader.
//!
//! Compressed with the `flate2` crate (gzip, as the kernel's `kernel/configs.c` embeds it);
//! `zcat /proc/config.gz` inside the sandbox prints the text.

use std::io::Write;
use std::sync::OnceLock;

use crate::syscalls::table::{self, Support};

/// What makes an option `=y`.
#[derive(Clone, Copy)]
enum Needs {
    /// Every one of these system calls is implemented (full or partial, not ENOSYS).
    Calls(&'static [&'static str]),
    /// mount(2) accepts this file system type.
    Fs(&'static str),
    /// Always so in the sandbox.
    Always,
    /// Never so in the sandbox: the design leaves it out (the reason beside each use).
    Never,
}

/// The options, in the order of the kernel's Kconfig menus.
const OPTIONS: &[(&str, Needs)] = &[
    // Processor type and the memory model: the host's CPU, a 64-bit x86 address space.
    ("CONFIG_64BIT", Needs::Always),
    ("CONFIG_X86_64", Needs::Always),
    ("CONFIG_X86", Needs::Always),
    ("CONFIG_MODIFY_LDT_SYSCALL", Needs::Calls(&["modify_ldt"])),
    ("CONFIG_MMU", Needs::Always),
    ("CONFIG_SMP", Needs::Always),
    // General setup.
    (
        "CONFIG_SYSVIPC",
        Needs::Calls(&["msgget", "semget", "shmget"]),
    ),
    (
        "CONFIG_SYSVIPC_SYSCTL",
        Needs::Calls(&["msgget", "semget", "shmget"]),
    ),
    (
        "CONFIG_POSIX_MQUEUE",
        Needs::Calls(&["mq_open", "mq_unlink", "mq_timedsend"]),
    ),
    ("CONFIG_POSIX_MQUEUE_SYSCTL", Needs::Calls(&["mq_open"])),
    (
        "CONFIG_CROSS_MEMORY_ATTACH",
        Needs::Calls(&["process_vm_readv", "process_vm_writev"]),
    ),
    ("CONFIG_USELIB", Needs::Calls(&["uselib"])),
    ("CONFIG_AUDIT", Needs::Never), // no audit subsystem
    ("CONFIG_BSD_PROCESS_ACCT", Needs::Calls(&["acct"])),
    ("CONFIG_HIGH_RES_TIMERS", Needs::Always),
    (
        "CONFIG_POSIX_TIMERS",
        Needs::Calls(&["timer_create", "timer_settime", "clock_nanosleep"]),
    ),
    ("CONFIG_IKCONFIG", Needs::Always),
    ("CONFIG_IKCONFIG_PROC", Needs::Always),
    ("CONFIG_NAMESPACES", Needs::Calls(&["unshare"])),
    // Only the mount and time namespaces are the sandbox's to unshare; the rest are EPERM.
    ("CONFIG_UTS_NS", Needs::Never),
    (
        "CONFIG_TIME_NS",
        Needs::Calls(&["unshare", "setns", "clock_gettime"]),
    ),
    ("CONFIG_IPC_NS", Needs::Never),
    ("CONFIG_USER_NS", Needs::Never),
    ("CONFIG_PID_NS", Needs::Never),
    ("CONFIG_NET_NS", Needs::Never),
    ("CONFIG_CGROUPS", Needs::Never),
    ("CONFIG_CHECKPOINT_RESTORE", Needs::Calls(&["kcmp"])),
    (
        "CONFIG_MULTIUSER",
        Needs::Calls(&["setuid", "setgid", "setgroups", "capset"]),
    ),
    ("CONFIG_SYSFS_SYSCALL", Needs::Calls(&["sysfs"])),
    (
        "CONFIG_FHANDLE",
        Needs::Calls(&["name_to_handle_at", "open_by_handle_at"]),
    ),
    (
        "CONFIG_FUTEX",
        Needs::Calls(&[
            "futex",
            "futex_waitv",
            "futex_wake",
            "futex_wait",
            "futex_requeue",
        ]),
    ),
    (
        "CONFIG_EPOLL",
        Needs::Calls(&["epoll_create1", "epoll_ctl", "epoll_wait"]),
    ),
    ("CONFIG_SIGNALFD", Needs::Calls(&["signalfd4"])),
    (
        "CONFIG_TIMERFD",
        Needs::Calls(&["timerfd_create", "timerfd_settime"]),
    ),
    ("CONFIG_EVENTFD", Needs::Calls(&["eventfd2"])),
    ("CONFIG_SHMEM", Needs::Always),
    (
        "CONFIG_AIO",
        Needs::Calls(&["io_setup", "io_submit", "io_getevents"]),
    ),
    (
        "CONFIG_IO_URING",
        Needs::Calls(&["io_uring_setup", "io_uring_enter"]),
    ),
    (
        "CONFIG_ADVISE_SYSCALLS",
        Needs::Calls(&["madvise", "fadvise64"]),
    ),
    ("CONFIG_MEMBARRIER", Needs::Calls(&["membarrier"])),
    ("CONFIG_KCMP", Needs::Calls(&["kcmp"])),
    ("CONFIG_RSEQ", Needs::Calls(&["rseq"])),
    ("CONFIG_CACHESTAT_SYSCALL", Needs::Calls(&["cachestat"])),
    ("CONFIG_BPF_SYSCALL", Needs::Calls(&["bpf"])),
    ("CONFIG_USERFAULTFD", Needs::Calls(&["userfaultfd"])),
    ("CONFIG_PERF_EVENTS", Needs::Calls(&["perf_event_open"])),
    ("CONFIG_KEXEC", Needs::Never),   // the sandbox boots no kernel
    ("CONFIG_MODULES", Needs::Never), // nor loads modules
    ("CONFIG_SECCOMP", Needs::Calls(&["seccomp", "prctl"])),
    ("CONFIG_SECCOMP_FILTER", Needs::Calls(&["seccomp"])),
    ("CONFIG_SWAP", Needs::Calls(&["swapon", "swapoff"])),
    ("CONFIG_MEMFD_CREATE", Needs::Calls(&["memfd_create"])),
    ("CONFIG_SECRETMEM", Needs::Calls(&["memfd_secret"])),
    (
        "CONFIG_NUMA",
        Needs::Calls(&["mbind", "set_mempolicy", "get_mempolicy"]),
    ),
    (
        "CONFIG_MIGRATION",
        Needs::Calls(&["migrate_pages", "move_pages"]),
    ),
    ("CONFIG_TRANSPARENT_HUGEPAGE", Needs::Never),
    (
        "CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS",
        Needs::Calls(&["pkey_alloc"]),
    ),
    // The kernel knows user shadow stacks; the CPU it declares has none (no `user_shstk` in
    // /proc/cpuinfo), so map_shadow_stack is EOPNOTSUPP.
    (
        "CONFIG_X86_USER_SHADOW_STACK",
        Needs::Calls(&["map_shadow_stack"]),
    ),
    // Security.
    (
        "CONFIG_SECURITY",
        Needs::Calls(&["lsm_list_modules", "lsm_get_self_attr", "lsm_set_self_attr"]),
    ),
    (
        "CONFIG_KEYS",
        Needs::Calls(&["add_key", "request_key", "keyctl"]),
    ),
    (
        "CONFIG_SECURITY_LANDLOCK",
        Needs::Calls(&[
            "landlock_create_ruleset",
            "landlock_add_rule",
            "landlock_restrict_self",
        ]),
    ),
    // Networking: the sentry's own stack.
    ("CONFIG_NET", Needs::Calls(&["socket"])),
    ("CONFIG_UNIX", Needs::Calls(&["socket", "socketpair"])),
    ("CONFIG_INET", Needs::Calls(&["socket"])),
    ("CONFIG_IPV6", Needs::Calls(&["socket"])),
    // File systems.
    ("CONFIG_FILE_LOCKING", Needs::Calls(&["flock"])),
    ("CONFIG_MANDATORY_FILE_LOCKING", Needs::Never), // gone from Linux too
    ("CONFIG_FSNOTIFY", Needs::Calls(&["inotify_init1"])),
    ("CONFIG_DNOTIFY", Needs::Calls(&["fcntl"])),
    (
        "CONFIG_INOTIFY_USER",
        Needs::Calls(&["inotify_init1", "inotify_add_watch"]),
    ),
    (
        "CONFIG_FANOTIFY",
        Needs::Calls(&["fanotify_init", "fanotify_mark"]),
    ),
    (
        "CONFIG_FANOTIFY_ACCESS_PERMISSIONS",
        Needs::Calls(&["fanotify_init", "fanotify_mark"]),
    ),
    ("CONFIG_QUOTA", Needs::Calls(&["quotactl"])),
    ("CONFIG_PROC_FS", Needs::Fs("proc")),
    ("CONFIG_PROC_SYSCTL", Needs::Fs("proc")),
    ("CONFIG_SYSFS", Needs::Fs("sysfs")),
    ("CONFIG_TMPFS", Needs::Fs("tmpfs")),
    ("CONFIG_TMPFS_XATTR", Needs::Fs("tmpfs")),
    ("CONFIG_DEVTMPFS", Needs::Fs("devtmpfs")),
    ("CONFIG_UNIX98_PTYS", Needs::Fs("devpts")),
    ("CONFIG_OVERLAY_FS", Needs::Fs("overlay")),
    ("CONFIG_EXT2_FS", Needs::Fs("ext2")),
    ("CONFIG_EXT3_FS", Needs::Fs("ext3")),
    ("CONFIG_EXT4_FS", Needs::Fs("ext4")),
    ("CONFIG_XFS_FS", Needs::Fs("xfs")),
    ("CONFIG_BTRFS_FS", Needs::Fs("btrfs")),
    ("CONFIG_MSDOS_FS", Needs::Fs("msdos")),
    ("CONFIG_VFAT_FS", Needs::Fs("vfat")),
    ("CONFIG_FUSE_FS", Needs::Fs("fuse")),
    // SHM_HUGETLB and MAP_HUGETLB behave as on a kernel with hugetlb and no huge pages
    // reserved (EPERM without CAP_IPC_LOCK, else ENOMEM); hugetlbfs itself is not mountable.
    ("CONFIG_HUGETLBFS", Needs::Always),
    ("CONFIG_HUGETLB_PAGE", Needs::Always),
    // Block devices: the sentry's own.
    ("CONFIG_BLOCK", Needs::Always),
    ("CONFIG_BLK_DEV", Needs::Always),
    ("CONFIG_BLK_DEV_LOOP", Needs::Always),
    ("CONFIG_FAT_FS", Needs::Fs("vfat")),
];

/// Whether the sandbox serves `name` (a refused call answers as a kernel without it does).
fn implemented(name: &str) -> bool {
    table::all()
        .iter()
        .find(|e| e.name == name)
        .is_some_and(|e| matches!(e.support, Support::Full | Support::Partial))
}

fn holds(needs: Needs) -> bool {
    match needs {
        Needs::Calls(calls) => !calls.is_empty() && calls.iter().all(|c| implemented(c)),
        Needs::Fs(name) => crate::fsimpl::FILESYSTEMS.iter().any(|f| f.name == name),
        Needs::Always => true,
        Needs::Never => false,
    }
}

/// The configuration as .config text for kernel `release`.
pub fn text(release: &str) -> String {
    let mut out = format!(
        "#\n# Automatically generated file; DO NOT EDIT.\n\
         # Linux/x86 {release} Kernel Configuration\n\
         # (the sandbox's own: what its sentry implements, not the host's)\n#\n"
    );
    for &(name, needs) in OPTIONS {
        if holds(needs) {
            out.push_str(&format!("{name}=y\n"));
        } else {
            out.push_str(&format!("# {name} is not set\n"));
        }
    }
    out
}

/// /proc/config.gz: [`text`] gzip-compressed, made once (the table does not change while the
/// sandbox runs, nor does the release).
pub fn gz(release: &str) -> Vec<u8> {
    static GZ: OnceLock<Vec<u8>> = OnceLock::new();
    GZ.get_or_init(|| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing to a Vec cannot fail.
        let _ = enc.write_all(text(release).as_bytes());
        enc.finish().unwrap_or_default()
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, name: &str) -> Option<bool> {
        text.lines().find_map(|l| {
            if l == format!("{name}=y") {
                Some(true)
            } else if l == format!("# {name} is not set") {
                Some(false)
            } else {
                None
            }
        })
    }

    #[test]
    fn options_follow_the_syscall_table_and_the_file_systems() {
        let t = text("6.0.0");
        assert!(t.contains("Linux/x86 6.0.0 Kernel Configuration"));
        // Implemented families are =y...
        assert_eq!(value(&t, "CONFIG_SYSVIPC"), Some(true));
        assert_eq!(value(&t, "CONFIG_EVENTFD"), Some(true));
        assert_eq!(value(&t, "CONFIG_TMPFS"), Some(true));
        assert_eq!(value(&t, "CONFIG_IKCONFIG_PROC"), Some(true));
        // ...and what is ENOSYS or left out by design is not set.
        assert_eq!(value(&t, "CONFIG_MODULES"), Some(false));
        assert_eq!(value(&t, "CONFIG_USER_NS"), Some(false));
        assert_eq!(value(&t, "CONFIG_AIO"), Some(implemented("io_setup")));
        assert_eq!(value(&t, "CONFIG_XFS_FS"), Some(false));
        // An option appears once.
        for (name, _) in OPTIONS {
            let n = t
                .lines()
                .filter(|l| l.split(['=', ' ']).any(|w| w == *name))
                .count();
            assert_eq!(n, 1, "{name}");
        }
    }

    #[test]
    fn the_gzip_unpacks_to_the_text() {
        use std::io::Read;
        let gz = gz("6.1.2");
        let mut out = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, text("6.1.2"));
    }
}
