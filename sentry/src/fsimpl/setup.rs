// SPDX-License-Identifier: Apache-2.0
//! The sandbox's initial mount table, from the command line's file options: the root (the
//! host's `/` or `--rootfs DIR`, read-only through the gofer, under a tmpfs upper layer unless
//! `--overlay none`), `/dev` (with a tmpfs on `/dev/shm`, the message queues on
//! `/dev/mqueue`), `/proc`, a synthetic `/sys`, a tmpfs on `/tmp`, then the volumes and
//! `--tmpfs` mounts in the order given.
//!
//! An OCI container's table is its config.json's instead ([`OciLayout`]): after the root,
//! exactly the mounts it lists, in its order, each of the type, source and options it asks for
//! (a tmpfs `/dev` is a tmpfs, holding the device nodes runc makes), so /proc/self/mountinfo
//! describes what config.json asked for because that is what was mounted.

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
    /// The default view of the host's root ([`super::view`]): what is hidden and emptied (none
    /// with `--host-root` or `--rootfs`).
    pub view: super::view::Plan,
    /// The most bytes the root overlay's upper layer may hold (`--overlay-size`; ENOSPC
    /// past it); Linux's tmpfs default (half the memory) when `None`.
    pub overlay_size: Option<u64>,
    /// A host directory shown at its own path, read-only, writes kept in the sandbox's memory
    /// (the caller's working directory, in the default view).
    pub shown: Option<String>,
    /// Nothing but the sandbox changes the read-only host trees it shows while it runs
    /// (`--file-access exclusive`): what the gofer says of them is kept.
    pub exclusive: bool,
    /// Files placed in the root's upper layer at start (an OCI bind mount of a single host
    /// file, such as the /etc/hosts an engine makes: a copy taken at start).
    pub files: Vec<FileCopy>,
    /// An OCI container's mounts and devices: when set, they replace the standard mounts
    /// (/dev, /proc, /sys, /tmp, /dev/shm, /dev/pts, /dev/mqueue) and the volumes are mounted
    /// where the layout places them.
    pub oci: Option<OciLayout>,
}

/// An OCI container's mount table and device nodes (config.json's `mounts` and
/// `linux.devices`).
#[derive(Debug, Clone, Default)]
pub struct OciLayout {
    /// The root is written through to the bundle's root file system (config.json's
    /// root.readonly false), as with runc; otherwise it is read-only.
    pub writable_root: bool,
    /// The mounts, in config.json's order.
    pub mounts: Vec<OciMount>,
    /// Device nodes made in /dev after the default ones (null, zero, full, random, urandom,
    /// tty), as runc makes them.
    pub devices: Vec<OciDevice>,
}

/// One mount of config.json.
#[derive(Debug, Clone)]
pub struct OciMount {
    /// Where (absolute, normalised).
    pub destination: String,
    /// What /proc/mounts shows as the source (config.json's `source`).
    pub source: String,
    /// What is mounted.
    pub kind: OciKind,
    /// The per-mount flags of its options: MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC and the
    /// atime flags.
    pub flags: u64,
}

/// What an [`OciMount`] mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciKind {
    /// A new file system of type `typ` (proc, sysfs, tmpfs, devpts, mqueue, cgroup, cgroup2)
    /// with mount(2)'s data options (tmpfs: size=, mode=, uid=, gid=; devpts: mode=, gid=,
    /// ptmxmode=...).
    Fs {
        /// The file system type.
        typ: String,
        /// The options that are not per-mount flags, comma-separated.
        data: String,
    },
    /// A bind mount of a host directory: volume N of [`MountSpec::volumes`].
    Volume(usize),
    /// A bind mount of a host file: a copy of it taken at start (file N of
    /// [`MountSpec::files`]), in a tmpfs of its own, mounted over the file there.
    File(usize),
}

/// A device node of config.json's `linux.devices`.
#[derive(Debug, Clone)]
pub struct OciDevice {
    /// Its path (absolute, normalised; below /dev as a rule).
    pub path: String,
    /// S_IFCHR, S_IFBLK or S_IFIFO, and the permission bits.
    pub mode: u32,
    /// Its device number.
    pub rdev: u64,
    /// Its owner.
    pub owner: Owner,
}

/// A host file's contents placed in the sandbox at start.
#[derive(Debug, Clone, Default)]
pub struct FileCopy {
    /// Where, in the sandbox (absolute).
    pub guest: String,
    /// Its bytes.
    pub data: Vec<u8>,
    /// Its permission bits.
    pub mode: u32,
}

/// Writes `f` at its path: made (parents too) or replaced in the root's upper layer.
fn place_file(m: &Mounts, f: &FileCopy) -> Result<(), String> {
    let what = |e: syscalls::Errno| format!("{}: {}", f.guest, e.description());
    if let Some((dir, _)) = f.guest.rsplit_once('/') {
        if !dir.is_empty() {
            mount_point(m, dir)?;
        }
    }
    let r = resolve(m, "/", f.guest.as_bytes(), true).map_err(what)?;
    let inode = match r.inode {
        Some(i) if r.stat.is_some_and(|s| s.st_mode & S_IFMT == S_IFREG) => i,
        Some(_) => return Err(format!("{}: not a regular file", f.guest)),
        None => r
            .parent
            .mknod(&r.name, S_IFREG | (f.mode & 0o7777), 0, root_owner())
            .map_err(what)?,
    };
    let file = inode.open(O_WRONLY | O_TRUNC).map_err(what)?;
    inode
        .setattr(&crate::vfs::SetAttr {
            size: Some(0),
            mode: Some(f.mode & 0o7777),
            ..Default::default()
        })
        .map_err(what)?;
    let mut off = 0;
    while off < f.data.len() {
        let n = file.write_at(&f.data[off..], off as u64).map_err(what)?;
        if n == 0 {
            return Err(format!("{}: short write", f.guest));
        }
        off += n;
    }
    Ok(())
}

fn root_owner() -> Owner {
    Owner::default()
}

/// Makes `path` exist as a directory for a mount point: found in the sandbox's view, or made
/// in the root's upper layer (an overlay root accepts it), or refused.
fn mount_point(m: &Mounts, path: &str) -> Result<(), String> {
    match resolve(m, "/", path.as_bytes(), true) {
        Ok(r) => match r.stat {
            Some(s) if s.st_mode & S_IFMT == S_IFDIR => return Ok(()),
            Some(_) => return Err(format!("{path}: not a directory")),
            None => {}
        },
        // A directory before the last is missing (hidden by the default view, say).
        Err(syscalls::Errno::ENOENT) => {}
        Err(e) => return Err(format!("{path}: {}", e.description())),
    }
    let parent = path
        .rsplit_once('/')
        .map(|(p, _)| if p.is_empty() { "/" } else { p });
    if let Some(p) = parent.filter(|p| *p != path) {
        mount_point(m, p)?;
    }
    let r = resolve(m, "/", path.as_bytes(), true)
        .map_err(|e| format!("{path}: {}", e.description()))?;
    r.parent
        .mkdir(&r.name, 0o755, root_owner())
        .map(|_| ())
        .map_err(|_| format!("{path}: no such directory in the sandbox, and the root is read-only"))
}

/// The host directories the gofer serves for `spec`: export 0 is the root (always read-only:
/// writes land in the overlay's upper layer, or are refused), export N the Nth volume.
pub fn exports(spec: &MountSpec) -> Vec<gofer::ExportSpec> {
    // The gofer masks what the view hides or empties: it cannot serve them at all.
    let masked = spec
        .view
        .hidden
        .iter()
        .chain(&spec.view.emptied)
        .cloned()
        .collect();
    let mut v = vec![gofer::ExportSpec {
        path: spec.rootfs.clone().unwrap_or_else(|| "/".into()),
        read_only: !writable_root(spec),
        masked,
    }];
    v.extend(spec.volumes.iter().map(|vol| gofer::ExportSpec {
        path: vol.host.clone(),
        read_only: vol.read_only,
        masked: Vec::new(),
    }));
    // The shown directory is the last export.
    v.extend(spec.shown.iter().map(|d| gofer::ExportSpec {
        path: d.clone(),
        read_only: true,
        masked: Vec::new(),
    }));
    v
}

fn host_dir(
    spec: &MountSpec,
    gofer: &Arc<GoferClient>,
    export: u32,
    dev: u64,
    read_only: bool,
    what: &str,
    path: &str,
) -> Result<Arc<GoferFs>, String> {
    GoferFs::attach(gofer.clone(), export, dev, read_only, spec.exclusive)
        .map_err(|e| format!("{what} {path}: {}", e.description()))
}

/// Hides and empties what the default view says, in the root overlay.
fn apply_view(ov: &OverlayFs, plan: &super::view::Plan) -> Result<(), String> {
    for p in &plan.hidden {
        ov.hide(p)
            .map_err(|e| format!("hiding {p}: {}", e.description()))?;
    }
    for p in &plan.emptied {
        ov.empty(p)
            .map_err(|e| format!("emptying {p}: {}", e.description()))?;
    }
    Ok(())
}

/// Whether the root is the host's directory itself, written through (an OCI container's
/// writable root).
fn writable_root(spec: &MountSpec) -> bool {
    spec.rootfs.is_some() && spec.oci.as_ref().is_some_and(|o| o.writable_root)
}

/// Builds the mount table over the gofer serving [`exports`]`(spec)`. Errors are one line,
/// naming the option at fault.
pub fn build(spec: &MountSpec, gofer: &Arc<GoferClient>) -> Result<Mounts, String> {
    let root_path = spec.rootfs.as_deref().unwrap_or("/");
    let lower = host_dir(
        spec,
        gofer,
        0,
        ROOT_DEV,
        !writable_root(spec),
        "--rootfs",
        root_path,
    )?;
    // The default view hides in an overlay: with `--overlay none` too, whose root mount is
    // then read-only.
    // A --rootfs may lack the mount points of /proc, /dev, /sys, /tmp: they are made in an
    // overlay's upper layer, whose root is then read-only with `--overlay none`.
    let view = spec.view != super::view::Plan::default() || spec.rootfs.is_some();
    let root: Arc<dyn Filesystem> = if writable_root(spec) {
        lower
    } else if spec.overlay || view {
        let upper = TmpFs::new(UPPER_DEV, 0o755, root_owner(), spec.overlay_size);
        let ov = OverlayFs::new(ROOT_DEV, lower, upper);
        apply_view(&ov, &spec.view)?;
        ov
    } else {
        lower
    };
    let mut m = Mounts::new(root);
    if !spec.overlay {
        if let Ok(r) = resolve(&m, "/", b"/", true) {
            r.mount.set_flags(r.mount.flags() | MS_RDONLY);
        }
    }
    if let Some(oci) = &spec.oci {
        oci_mounts(spec, gofer, &mut m, oci)?;
        return Ok(m);
    }
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
    m.mount("/dev/pts", super::tty::devpts::DevPtsFs::new());
    // As in a container (runc's default spec): the sandbox's message queues.
    m.mount("/dev/mqueue", super::mqueue::instance());
    let mut dev = FIRST_EXTRA_DEV;
    if let Some(shown) = &spec.shown {
        // Below volumes: a volume at the same path (`-v "$PWD:$PWD"`) covers it.
        let export = spec.volumes.len() as u32 + 1;
        let lower = host_dir(
            spec,
            gofer,
            export,
            dev,
            true,
            "the working directory",
            shown,
        )?;
        let upper = TmpFs::new(dev + 1, 0o755, root_owner(), None);
        mount_point(&m, shown)?;
        m.mount(shown, OverlayFs::new(dev, lower, upper));
        dev += 2;
    }
    for (i, v) in spec.volumes.iter().enumerate() {
        let fs = host_dir(
            spec,
            gofer,
            i as u32 + 1,
            dev,
            v.read_only,
            "--volume",
            &v.host,
        )?;
        mount_point(&m, &v.guest)?;
        let root: Arc<dyn Inode> = fs.root();
        let flags = if v.read_only { MS_RDONLY } else { 0 };
        m.mount_tree(&v.guest, fs, root, v.host.clone(), flags);
        dev += 1;
    }
    for f in &spec.files {
        place_file(&m, f)?;
    }
    for (at, size) in &spec.tmpfs {
        mount_point(&m, at)?;
        m.mount(at, TmpFs::new(dev, 0o1777, root_owner(), *size));
        dev += 1;
    }
    Ok(m)
}

/// Mounts an OCI container's config.json mounts in order, then makes its /dev as runc does.
fn oci_mounts(
    spec: &MountSpec,
    gofer: &Arc<GoferClient>,
    m: &mut Mounts,
    oci: &OciLayout,
) -> Result<(), String> {
    let mut dev = FIRST_EXTRA_DEV;
    // Device nodes are never made on the host: without a /dev of config.json's, /dev is a
    // tmpfs of the sandbox's (first, under whatever config.json mounts below it).
    if !oci.mounts.iter().any(|om| om.destination == "/dev") {
        let at = mount_target(m, "/dev")?;
        let (fs, shown) = oci_fs("tmpfs", "mode=755", &mut dev)
            .map_err(|e| format!("mount /dev: {}", e.description()))?;
        let root = fs.root();
        let mnt = m.mount_tree(&at, fs, root, "tmpfs".into(), MS_NOSUID);
        *crate::kernel::lock(&mnt.options) = shown;
    }
    for om in &oci.mounts {
        let at = om.destination.as_str();
        match &om.kind {
            OciKind::Volume(i) => {
                let v = spec
                    .volumes
                    .get(*i)
                    .ok_or_else(|| format!("mount {at}: no such volume"))?;
                let read_only = v.read_only || om.flags & MS_RDONLY != 0;
                let fs = host_dir(spec, gofer, *i as u32 + 1, dev, read_only, "mount", &v.host)?;
                dev += 1;
                let at = mount_target(m, at)?;
                let root: Arc<dyn Inode> = fs.root();
                let mnt = m.mount_tree(&at, fs, root, om.source.clone(), om.flags);
                // A bind mount's root is the directory bound: the host's path of it.
                let _ = mnt.fs_root.set(v.host.clone());
            }
            OciKind::File(i) => {
                let f = spec
                    .files
                    .get(*i)
                    .ok_or_else(|| format!("mount {at}: no such file"))?;
                mount_file(m, f, om, &mut dev)?;
            }
            OciKind::Fs { typ, data } => {
                let (fs, shown) = oci_fs(typ, data, &mut dev).map_err(|e| {
                    format!(
                        "mount {at} of type {typ} with options {data:?}: {}",
                        e.description()
                    )
                })?;
                let at = mount_target(m, at)?;
                let root = fs.root();
                let mnt = m.mount_tree(&at, fs, root, om.source.clone(), om.flags);
                *crate::kernel::lock(&mnt.options) = shown;
            }
        }
    }
    // runc makes the devices unless /dev is a bind mount (of the host's, say).
    let dev_bound = oci
        .mounts
        .iter()
        .any(|om| om.destination == "/dev" && matches!(om.kind, OciKind::Volume(_)));
    if !dev_bound {
        make_devices(m, &oci.devices)?;
    }
    Ok(())
}

/// A copy of a host file (an OCI bind mount of one file) in a tmpfs of its own, its file
/// mounted over the destination (made, empty, when missing, as runc makes it).
fn mount_file(m: &mut Mounts, f: &FileCopy, om: &OciMount, dev: &mut u64) -> Result<(), String> {
    let what = |e: syscalls::Errno| format!("mount {}: {}", f.guest, e.description());
    if let Some((dir, _)) = f.guest.rsplit_once('/') {
        if !dir.is_empty() {
            mount_point(m, dir)?;
        }
    }
    let r = resolve(m, "/", f.guest.as_bytes(), true).map_err(what)?;
    match r.stat {
        Some(s) if s.st_mode & S_IFMT == S_IFDIR => {
            return Err(format!("mount {}: a directory, not a file", f.guest))
        }
        Some(_) => {}
        None => {
            r.parent
                .mknod(&r.name, S_IFREG | 0o644, 0, root_owner())
                .map_err(what)?;
        }
    }
    let fs = TmpFs::new(*dev, 0o755, root_owner(), None);
    *dev += 1;
    let holder = resolve_in(&fs, f, what)?;
    let mnt = crate::vfs::Mount::new(fs, holder, r.path.clone(), om.source.clone(), om.flags);
    let _ = mnt.fs_root.set(om.source.clone());
    m.add(mnt);
    Ok(())
}

/// The file `f` made in the root of the tmpfs `fs`, with its bytes and mode.
fn resolve_in(
    fs: &Arc<TmpFs>,
    f: &FileCopy,
    what: impl Fn(syscalls::Errno) -> String,
) -> Result<Arc<dyn Inode>, String> {
    let root = fs.root();
    let inode = root
        .mknod(b"file", S_IFREG | (f.mode & 0o7777), 0, root_owner())
        .map_err(&what)?;
    let file = inode.open(O_WRONLY).map_err(&what)?;
    let mut off = 0;
    while off < f.data.len() {
        let n = file.write_at(&f.data[off..], off as u64).map_err(&what)?;
        if n == 0 {
            return Err(format!("{}: short write", f.guest));
        }
        off += n;
    }
    Ok(inode)
}

/// Where a mount at `path` lands: the directory made if missing, its symlinks followed in the
/// sandbox's own tree (as runc resolves a destination within the root).
fn mount_target(m: &Mounts, path: &str) -> Result<String, String> {
    mount_point(m, path)?;
    resolve(m, "/", path.as_bytes(), true)
        .map(|r| r.path)
        .map_err(|e| format!("{path}: {}", e.description()))
}

/// A new file system for an OCI mount of type `typ`, and the options /proc/mounts shows.
fn oci_fs(
    typ: &str,
    data: &str,
    dev: &mut u64,
) -> Result<(Arc<dyn Filesystem>, String), syscalls::Errno> {
    let mut next = || {
        *dev += 1;
        *dev - 1
    };
    Ok(match typ {
        "proc" => (crate::fsimpl::proc::ProcFs::new(next()), String::new()),
        "sysfs" => (super::sys::new(next()), String::new()),
        "tmpfs" => crate::syscalls::new_tmpfs(root_owner(), data)?,
        "devpts" => {
            use super::tty::devpts;
            let opts = devpts::Options::parse(data)?;
            // The sandbox's own instance (the console's) when it can have these options,
            // else an instance of its own.
            let fs = if devpts::configure_global(opts) {
                devpts::DevPtsFs::new()
            } else {
                devpts::DevPtsFs::new_instance(next(), opts)
            };
            (fs, opts.show())
        }
        "mqueue" => (super::mqueue::instance(), String::new()),
        "devtmpfs" => (DevFs::new(next()), String::new()),
        // The sandbox has no cgroup hierarchy of its own: an empty, read-only one.
        "cgroup" | "cgroup2" => {
            let (name, magic) = if typ == "cgroup" {
                ("cgroup", CGROUP_SUPER_MAGIC)
            } else {
                ("cgroup2", CGROUP2_SUPER_MAGIC)
            };
            let root = super::synthetic::SynthDir::with_mode(next(), 1, 0o555, Vec::new());
            let fs: Arc<dyn Filesystem> = super::synthetic::SynthFs::new(name, magic, true, root);
            (fs, String::new())
        }
        _ => return Err(syscalls::Errno::ENODEV),
    })
}

/// runc's default devices: (name, major, minor), character devices 0666 owned by root.
const DEFAULT_DEVICES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// runc's /dev symlinks (setupDevSymlinks), and ptmx to the devpts beside it (setupPtmx).
const DEV_LINKS: [(&str, &str); 4] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// Makes /dev as runc does in a container: the default devices and `devices` (what exists is
/// kept), /dev/ptmx a symlink to pts/ptmx, and the fd, stdin, stdout, stderr links. On
/// whatever /dev is: config.json's tmpfs, or the root's own directory.
fn make_devices(m: &Mounts, devices: &[OciDevice]) -> Result<(), String> {
    mount_point(m, "/dev")?;
    let node = |path: &str, mode: u32, rdev: u64, owner: Owner| -> Result<(), String> {
        let what = |e: syscalls::Errno| format!("device {path}: {}", e.description());
        if let Some((dir, _)) = path.rsplit_once('/') {
            if !dir.is_empty() {
                mount_point(m, dir)?;
            }
        }
        let r = resolve(m, "/", path.as_bytes(), false).map_err(what)?;
        if r.inode.is_some() {
            return Ok(());
        }
        r.parent
            .mknod(&r.name, mode, rdev, owner)
            .map(|_| ())
            .map_err(what)
    };
    for (name, major, minor) in DEFAULT_DEVICES {
        node(
            &format!("/dev/{name}"),
            S_IFCHR | 0o666,
            makedev(major, minor),
            root_owner(),
        )?;
    }
    for d in devices {
        node(&d.path, d.mode, d.rdev, d.owner)?;
    }
    let link = |name: &str, target: &str, replace: bool| -> Result<(), String> {
        let what = |e: syscalls::Errno| format!("/dev/{name}: {}", e.description());
        let r = resolve(m, "/", format!("/dev/{name}").as_bytes(), false).map_err(what)?;
        if let Some(s) = r.stat {
            if !replace {
                return Ok(());
            }
            if s.st_mode & S_IFMT == S_IFDIR {
                r.parent.rmdir(&r.name).map_err(what)?;
            } else {
                r.parent.unlink(&r.name).map_err(what)?;
            }
        }
        r.parent
            .symlink(&r.name, target.as_bytes(), root_owner())
            .map(|_| ())
            .map_err(what)
    };
    link("ptmx", "pts/ptmx", true)?;
    for (name, target) in DEV_LINKS {
        link(name, target, false)?;
    }
    Ok(())
}

/// runc's /dev/console in a container with a terminal: the console pty's replica bound over a
/// file at /dev/console (made when missing). Nothing when there is no console, or when /dev
/// already shows it (the sandbox's own devtmpfs does).
pub fn mount_console(k: &crate::kernel::Kernel) -> Result<(), String> {
    use super::tty::devpts;
    let Some(replica) = devpts::console_inode() else {
        return Ok(());
    };
    let what = |e: syscalls::Errno| format!("/dev/console: {}", e.description());
    let st = replica.stat().map_err(what)?;
    let r = k.resolve("/", b"/dev/console", false).map_err(what)?;
    match r.stat {
        Some(s) if s.st_mode & S_IFMT == S_IFCHR && s.st_rdev == st.st_rdev => return Ok(()),
        Some(_) => {}
        None => {
            r.parent
                .mknod(&r.name, S_IFREG | 0o600, 0, root_owner())
                .map_err(what)?;
        }
    }
    let m = crate::vfs::Mount::new(
        devpts::DevPtsFs::new(),
        replica,
        r.path.clone(),
        "devpts",
        MS_NOSUID | MS_NOEXEC,
    );
    let (_, minor) = dev_split(st.st_rdev);
    let _ = m.fs_root.set(format!("/{minor}"));
    *crate::kernel::lock(&m.options) = devpts::global_options().show();
    k.mnt.write().add(m);
    Ok(())
}
