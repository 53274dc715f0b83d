// SPDX-License-Identifier: Apache-2.0
//! Confining the gofer before it serves anything (gVisor `runsc/fsgofer` + `cmd/gofer.go`):
//! die with the sandbox, a mount namespace of its own whose root holds only the exports
//! (pivot_root), read-only exports mounted read-only, no network namespace peers, no new
//! privileges, and a seccomp allow-list ([`crate::filter`]).

use std::os::fd::{AsFd, OwnedFd};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use syscalls::Errno;

use crate::host_unsafe;
use crate::server::Export;

/// A directory to serve, as given on the command line.
#[derive(Debug, Clone)]
pub struct ExportSpec {
    /// The host directory.
    pub path: String,
    /// Writes refused.
    pub read_only: bool,
    /// Paths in the export (absolute, from its root) the gofer must not serve: each is masked
    /// in its own mount namespace by an empty file or directory (the sandbox's default view
    /// hides them).
    pub masked: Vec<String>,
}

/// What confinement gave: the exports, reopened inside the new root, and /proc/self/fd.
pub struct Confined {
    /// The exports, in order.
    pub exports: Vec<Export>,
    /// /proc/self/fd, opened before the host's view was given up.
    pub proc_fds: Option<OwnedFd>,
    /// What could not be done (unprivileged hosts): said in the debug log.
    pub notes: Vec<String>,
}

fn open_dir(path: &str) -> Result<OwnedFd, String> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("{path}: {}", e.desc()))?;
    Ok(host_unsafe::own_fd(fd))
}

const HOLDER: &str = "/proc";

/// Confines the calling (single-threaded) process. Errors are one line. Without a mount
/// namespace of its own (an unprivileged host without user namespaces) the gofer refuses to
/// start unless `allow_weak`: then the openat2 walks beneath each root and the seccomp filter
/// alone confine it, and a note says so.
pub fn confine(specs: &[ExportSpec], allow_weak: bool) -> Result<Confined, String> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| format!("PR_SET_PDEATHSIG: {e}"))?;
    let mut notes = Vec::new();
    let proc_fds = open_dir("/proc/self/fd").ok();
    // The roots are opened after unshare: open_tree copies only mounts of the gofer's own
    // namespace.
    // IPC and UTS too: the gofer starts before the sentry makes its own.
    let unshared = unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS,
    );
    let roots: Vec<OwnedFd> = specs
        .iter()
        .map(|s| open_dir(&s.path))
        .collect::<Result<_, _>>()?;
    let exports = match unshared {
        Ok(()) => pivot(specs, &roots)?,
        Err(e) if !allow_weak => {
            return Err(format!(
                "cannot confine the gofer in a mount and network namespace of its own \
                 (unshare: {}); run as root or where user namespaces are allowed, or pass \
                 --allow-weak-gofer to accept a gofer confined by openat2 and seccomp alone",
                e.desc()
            ));
        }
        Err(e) => {
            // Asked for: the openat2 walks beneath each root and the seccomp filter remain the
            // confinement.
            notes.push(format!(
                "no mount or network namespace ({e}): confined by openat2 and seccomp alone \
                 (--allow-weak-gofer)"
            ));
            roots
                .into_iter()
                .zip(specs)
                .map(|(root, s)| Export {
                    root,
                    read_only: s.read_only,
                })
                .collect()
        }
    };
    host_unsafe::set_umask(0);
    if let Ok((_, hard)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
    {
        let _ =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
    }
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("PR_SET_NO_NEW_PRIVS: {e}"))?;
    // The sentry runs as the same user: it must not attach to the gofer or read its memory.
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("PR_SET_DUMPABLE: {e}"))?;
    Ok(Confined {
        exports,
        proc_fds,
        notes,
    })
}

/// An empty file in the gofer's root, mounted over the files it must not serve.
const EMPTY_FILE: &str = "/proc/.masked";

/// Mounts an empty directory or file over `path` inside the export attached at `at`, unless a
/// symlink leads there (its target is then not the export's) or it does not exist.
fn mask(at: &str, path: &str) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let target = format!("{at}{path}");
    let Ok(md) = std::fs::symlink_metadata(&target) else {
        return Ok(());
    };
    match std::fs::canonicalize(&target) {
        Ok(c) if c.as_os_str() == target.as_str() => {}
        _ => return Ok(()),
    }
    let nerr = |e: nix::Error| e.desc().to_string();
    if md.is_dir() {
        let flags =
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        let mode = format!("size=4k,nr_inodes=1,mode={:o}", md.mode() & 0o7777);
        let owned = format!("{mode},uid={},gid={}", md.uid(), md.gid());
        // The owner's ids, when this user namespace maps them (rootless: it may not).
        mount(
            Some("masked"),
            target.as_str(),
            Some("tmpfs"),
            flags,
            Some(owned.as_str()),
        )
        .or_else(|_| {
            mount(
                Some("masked"),
                target.as_str(),
                Some("tmpfs"),
                flags,
                Some(mode.as_str()),
            )
        })
        .map_err(nerr)
    } else if md.file_type().is_symlink() {
        Ok(())
    } else {
        if std::fs::symlink_metadata(EMPTY_FILE).is_err() {
            std::fs::File::create(EMPTY_FILE).map_err(|e| e.to_string())?;
        }
        mount(
            Some(EMPTY_FILE),
            target.as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(nerr)
    }
}

/// Builds a root of the exports alone (a tmpfs with export N at /N), pivots into it and drops
/// the host's tree.
fn pivot(specs: &[ExportSpec], roots: &[OwnedFd]) -> Result<Vec<Export>, String> {
    let err = |what: &str, e: Errno| format!("{what}: {}", e.description());
    let nerr = |what: &str, e: nix::Error| format!("{what}: {}", e.desc());
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| nerr("making mounts private", e))?;
    // The new root: a tmpfs over a directory every host has (the gofer's own /proc descriptor
    // is already open).
    mount(
        Some("gofer-root"),
        HOLDER,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("size=64k,mode=0755"),
    )
    .map_err(|e| nerr("mounting the gofer's root", e))?;
    for (i, (spec, root)) in specs.iter().zip(roots).enumerate() {
        let at = format!("{HOLDER}/{i}");
        nix::unistd::mkdir(at.as_str(), nix::sys::stat::Mode::from_bits_truncate(0o755))
            .map_err(|e| nerr(&at, e))?;
        let tree = host_unsafe::clone_tree(root.as_fd()).map_err(|e| err(&spec.path, e))?;
        host_unsafe::attach_tree(tree.as_fd(), &at).map_err(|e| err(&spec.path, e))?;
        // The host's own /proc and /sys stay out of the gofer's view, whatever the export.
        for sub in ["proc", "sys"] {
            let _ = umount2(format!("{at}/{sub}").as_str(), MntFlags::MNT_DETACH);
        }
        for path in &spec.masked {
            mask(&at, path).map_err(|e| format!("masking {path}: {e}"))?;
        }
        if spec.read_only {
            host_unsafe::make_read_only(&at)
                .map_err(|e| err(&format!("{}: read-only", spec.path), e))?;
        }
    }
    nix::unistd::chdir(HOLDER).map_err(|e| nerr("chdir", e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| nerr("pivot_root", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| nerr("detaching the host's root", e))?;
    nix::unistd::chdir("/").map_err(|e| nerr("chdir /", e))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| nerr("making the gofer's root read-only", e))?;
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Ok(Export {
                root: open_dir(&format!("/{i}"))?,
                read_only: s.read_only,
            })
        })
        .collect()
}
