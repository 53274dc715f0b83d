// SPDX-License-Identifier: Apache-2.0
//! The sentry's walls (DESIGN.md invariant 2; gVisor `runsc/sandbox` and `runsc/boot/filter`):
//! namespaces of its own, an empty read-only root, no capabilities, no new privileges, and its
//! seccomp allow-list (`sentry::confine`).
//!
//! Two steps, because some walls need one thread and some need start-up to be over:
//! 1. [`enter_namespaces`], first thing, while the process has one thread: mount, IPC and UTS
//!    namespaces of its own (and a network namespace when the program's network never leaves
//!    the sandbox). Every process started afterwards (the stubs) is in them too. Without root,
//!    [`enter_user_namespace`] comes before it and before the gofer starts (the gofer needs
//!    its privilege to make namespaces of its own); the gofer is started between the two, so
//!    that its start-up (an exec, milliseconds) overlaps the sentry's, and it makes its own
//!    mount, network, IPC and UTS namespaces.
//! 2. [`confine`], once start-up is over: the gofer has confined itself and answered, the first
//!    stub waits at its first instruction, the debug log is open and the host facts are read
//!    (`sentry::host::learn`). Still one thread, no program instruction run, nothing of the
//!    program read: the root becomes an empty read-only tmpfs (the host's tree is gone from
//!    this namespace: stubs lose it too), every capability goes, and the seccomp policy is
//!    installed, inherited by every thread started afterwards.
//!
//! A wall that cannot be built stops the sandbox with a one-line reason: the sentry never runs
//! weaker than described.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

/// Where the empty root is built: a directory every host has, in the sentry's own mount
/// namespace (what was there is hidden from the sentry only, and only until the pivot).
const HOLDER: &str = "/proc";

/// Without root: a user namespace of the sentry's own in which it is root (uid and gid 0 map
/// to the caller's, and nothing else does), so that it can make the other namespaces and the
/// gofer can confine itself; on the host everything it does is still done as the caller.
/// setgroups is denied in it, as an unprivileged gid map requires. Nothing to do as root.
/// Call it before any thread or helper process exists.
pub fn enter_user_namespace() -> Result<(), String> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| {
        format!(
            "the sentry cannot make a user namespace (unshare: {}): unprivileged user \
             namespaces are not allowed here; run as root",
            e.desc()
        )
    })?;
    let write = |file: &str, text: String| {
        std::fs::write(file, text).map_err(|e| format!("the sentry's user namespace: {file}: {e}"))
    };
    sentry::host::set_outer_ids(uid.as_raw(), gid.as_raw());
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))
}

/// Step 1: the sentry's own namespaces (after [`enter_user_namespace`]). Call it before any
/// thread exists.
pub fn enter_namespaces(host_network: bool) -> Result<(), String> {
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS;
    if !host_network {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    unshare(flags).map_err(|e| {
        format!(
            "the sentry cannot enter namespaces of its own (unshare: {}): run as root, or where \
             unprivileged user namespaces are allowed",
            e.desc()
        )
    })?;
    // Nothing mounted here reaches the host's namespace, and nothing mounted there reaches us.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("making the sentry's mounts private: {}", e.desc()))
}

/// Step 2: the empty root, no capabilities, no new privileges, the seccomp policy. Call it on
/// the only thread, before anything of the program is read or run.
pub fn confine(filters: sentry::confine::Prepared) -> Result<(), String> {
    empty_root()?;
    crate::host_unsafe::drop_capabilities()
        .map_err(|e| format!("dropping the sentry's capabilities: {}", e.description()))?;
    // Nobody of the same uid may attach to the sentry or read its memory.
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("PR_SET_DUMPABLE: {}", e.desc()))?;
    nix::sys::prctl::set_no_new_privs()
        .map_err(|e| format!("PR_SET_NO_NEW_PRIVS: {}", e.desc()))?;
    sentry::confine::install(filters)
}

/// Pivots the sentry's mount namespace into an empty, read-only tmpfs and drops the host's
/// tree.
fn empty_root() -> Result<(), String> {
    let err = |what: &str, e: nix::Error| format!("the sentry's empty root: {what}: {}", e.desc());
    mount(
        Some("sentry-root"),
        HOLDER,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("size=4k,nr_inodes=1,mode=0555"),
    )
    .map_err(|e| err("mounting a tmpfs", e))?;
    nix::unistd::chdir(HOLDER).map_err(|e| err("chdir", e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| err("pivot_root", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| err("detaching the host's tree", e))?;
    nix::unistd::chdir("/").map_err(|e| err("chdir /", e))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(|e| err("read-only", e))
}
