// SPDX-License-Identifier: Apache-2.0
//! The sandbox's initial mount table, from the command line's file options: the root (the
//! host's `/` or `--rootfs DIR`, read-only through the gofer, under a tmpfs upper layer unless
//! `--overlay none`),
//! `/dev` (with a tmpfs on `/dev/shm`), `/proc`, a synthetic `/sys`, a tmpfs on `/tmp`, then the
//! volumes and `--tmpfs` mounts in the order given.

use std::sync::Arc;

use syscalls::abi::*;

use super::dev::DevFs;
use super::gofer::{GoferClient, GoferFs};
use super::overlay::OverlayFs;
use super::tmpfs::TmpFs;
use crate::vfs::path::{resolve, Mounts};
use crate::vfs::{Filesystem, Inode, Owner};

/// Device numbers of the file systems made here (anonymous devices, as Linux numbers them).
const ROOT_DEV: u64 = 0x20;
const UPPER_DEV: u64 = 0x21;
const TMP_DEV: u64 = 0x22;
const SHM_DEV: u64 = 0x23;
const DEV_DEV: u64 = 0x05;
const PROC_DEV: u64 = 0x15;
const SYS_DEV: u64 = 0x16;
const FIRST_EXTRA_DEV: u64 = 0x30;

/// A host directory exposed inside the sandbox (`-v HOST:GUEST[:ro|:rw]`).
#[derive(Debug, Clone)]
pub struct Volume {
    /// The host directory.
    pub host: String,
    /// Where it appears in the sandbox (absolute).
    pub guest: String,
    /// Writes refused (EROFS).
    pub read_only: bool,
}

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct MountSpec {
    /// The host directory to use as the root (`--rootfs`); the host's `/` when `None`.
    pub rootfs: Option<String>,
    /// Writes to the root land in a tmpfs upper layer (`--overlay memory`, the default);
    /// otherwise the root is read-only.
    pub overlay: bool,
    /// Volumes.
    pub volumes: Vec<Volume>,
    /// `--tmpfs GUEST[:size=N]`.
    pub tmpfs: Vec<(String, Option<u64>)>,
}

fn root_owner() -> Owner {
    Owner::default()
}

/// Makes `path` exist as a directory for a mount point: found in the sandbox's view, or made
/// in the root's upper layer (an overlay root accepts it), or refused.
fn mount_point(m: &Mounts, path: &str) -> Result<(), String> {
    match resolve(m, "/", path.as_bytes(), true) {
        Ok(r) if r.stat.is_some_and(|s| s.st_mode & S_IFMT == S_IFDIR) => Ok(()),
        Ok(r) if r.stat.is_none() => {
            let parent = path
                .rsplit_once('/')
                .map(|(p, _)| if p.is_empty() { "/" } else { p });
            if let Some(p) = parent {
                mount_point(m, p)?;
            }
            let r = resolve(m, "/", path.as_bytes(), true)
                .map_err(|e| format!("{path}: {}", e.description()))?;
            r.parent
                .mkdir(&r.name, 0o755, root_owner())
                .map(|_| ())
                .map_err(|_| {
                    format!("{path}: no such directory in the sandbox, and the root is read-only")
                })
        }
        Ok(_) => Err(format!("{path}: not a directory")),
        Err(e) => Err(format!("{path}: {}", e.description())),
    }
}

/// The host directories the gofer serves for `spec`: export 0 is the root (always read-only:
/// writes land in the overlay's upper layer, or are refused), export N the Nth volume.
pub fn exports(spec: &MountSpec) -> Vec<gofer::ExportSpec> {
    let mut v = vec![gofer::ExportSpec {
        path: spec.rootfs.clone().unwrap_or_else(|| "/".into()),
        read_only: true,
    }];
    v.extend(spec.volumes.iter().map(|vol| gofer::ExportSpec {
        path: vol.host.clone(),
        read_only: vol.read_only,
    }));
    v
}

fn host_dir(
    gofer: &Arc<GoferClient>,
    export: u32,
    dev: u64,
    read_only: bool,
    what: &str,
    path: &str,
) -> Result<Arc<GoferFs>, String> {
    GoferFs::attach(gofer.clone(), export, dev, read_only)
        .map_err(|e| format!("{what} {path}: {}", e.description()))
}

/// Builds the mount table over the gofer serving [`exports`]`(spec)`. Errors are one line,
/// naming the option at fault.
pub fn build(spec: &MountSpec, gofer: &Arc<GoferClient>) -> Result<Mounts, String> {
    let root_path = spec.rootfs.as_deref().unwrap_or("/");
    let lower = host_dir(gofer, 0, ROOT_DEV, true, "--rootfs", root_path)?;
    let root: Arc<dyn Filesystem> = if spec.overlay {
        let upper = TmpFs::new(UPPER_DEV, 0o755, root_owner(), None);
        OverlayFs::new(ROOT_DEV, lower, upper)
    } else {
        lower
    };
    let mut m = Mounts::new(root);
    let std_mounts: [(&str, Arc<dyn Filesystem>); 4] = [
        ("/dev", DevFs::new(DEV_DEV)),
        ("/proc", crate::fsimpl::proc::ProcFs::new(PROC_DEV)),
        ("/sys", super::sys::new(SYS_DEV)),
        ("/tmp", TmpFs::new(TMP_DEV, 0o1777, root_owner(), None)),
    ];
    for (at, fs) in std_mounts {
        // A --rootfs without these directories gets them in its upper layer, or goes without.
        if mount_point(&m, at).is_ok() {
            m.mount(at, fs);
        }
    }
    m.mount("/dev/shm", TmpFs::new(SHM_DEV, 0o1777, root_owner(), None));
    let mut dev = FIRST_EXTRA_DEV;
    for (i, v) in spec.volumes.iter().enumerate() {
        let fs = host_dir(gofer, i as u32 + 1, dev, v.read_only, "--volume", &v.host)?;
        mount_point(&m, &v.guest)?;
        let root: Arc<dyn Inode> = fs.root();
        let flags = if v.read_only { MS_RDONLY } else { 0 };
        m.mount_tree(&v.guest, fs, root, v.host.clone(), flags);
        dev += 1;
    }
    for (at, size) in &spec.tmpfs {
        mount_point(&m, at)?;
        m.mount(at, TmpFs::new(dev, 0o1777, root_owner(), *size));
        dev += 1;
    }
    Ok(m)
}
