// SPDX-License-Identifier: Apache-2.0
//! config.json's `mounts` and `linux.devices` as the sandbox makes them: each mount becomes
//! an [`OciMount`] of the sentry's mount table, in config.json's order, with its type, source
//! and options (runc's option names: the per-mount flags, propagation, and the file system's
//! own options passed on as mount(2)'s data). `create` checks and translates them into the
//! hidden `--oci-mount`/`--oci-device` options of the `sandbox run` it starts, which turns
//! them back into the sentry's [`OciLayout`].

use std::path::{Component, Path};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount};
use serde::{Deserialize, Serialize};
use syscalls::abi::*;

use sentry::fsimpl::setup::{FileCopy, OciDevice, OciKind, OciLayout, OciMount, Volume};
use sentry::vfs::Owner;

/// The file system types a mount may ask for (besides bind mounts).
pub const TYPES: [&str; 8] = [
    "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2", "devtmpfs",
];

/// One mount, as `create` passes it to `sandbox run` (`--oci-mount`, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountArg {
    /// The destination (absolute, normalised).
    pub destination: String,
    /// config.json's source.
    pub source: String,
    /// A bind mount: the host directory (absolute); otherwise the file system type.
    pub bind: Option<String>,
    /// The file system type, for a mount that is not a bind mount.
    pub typ: String,
    /// The per-mount flags (MS_*).
    pub flags: u64,
    /// The file system's own options, comma-separated.
    pub data: String,
}

/// One device node (`--oci-device`, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceArg {
    /// Its path (absolute, normalised).
    pub path: String,
    /// S_IFCHR, S_IFBLK or S_IFIFO, and the permission bits.
    pub mode: u32,
    /// Device major and minor numbers.
    pub major: u32,
    pub minor: u32,
    /// Owner.
    pub uid: u32,
    pub gid: u32,
}

/// What a config.json mount becomes.
pub enum Planned {
    /// A mount.
    Mount(MountArg),
    /// Left out (a warning says why).
    Skipped,
}

/// `p` as an absolute path with no `.`, `..` or empty components; `what` names it in errors.
pub fn normal(p: &Path, what: &str) -> Result<String, String> {
    if !p.is_absolute() {
        return Err(format!("{what} {} is not absolute", p.display()));
    }
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => parts.push(
                n.to_str()
                    .ok_or_else(|| format!("{what} {}: not UTF-8", p.display()))?,
            ),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!("{what} {} must not contain '..'", p.display()))
            }
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// runc's mount options: the per-mount flags they set and clear, propagation (accepted: the
/// sandbox's mounts have no peers to propagate to), and the rest, the file system's own.
/// Returns (flags, bind, data, options not honoured).
fn options(opts: &[String]) -> (u64, bool, Vec<String>, Vec<String>) {
    let mut flags = 0u64;
    let mut bind = false;
    let mut data = Vec::new();
    let mut ignored = Vec::new();
    for o in opts {
        let (set, clear) = match o.as_str() {
            "ro" | "rro" => (MS_RDONLY, 0),
            "rw" | "rrw" => (0, MS_RDONLY),
            "nosuid" | "rnosuid" => (MS_NOSUID, 0),
            "suid" | "rsuid" => (0, MS_NOSUID),
            "nodev" | "rnodev" => (MS_NODEV, 0),
            "dev" | "rdev" => (0, MS_NODEV),
            "noexec" | "rnoexec" => (MS_NOEXEC, 0),
            "exec" | "rexec" => (0, MS_NOEXEC),
            "noatime" | "rnoatime" => (MS_NOATIME, MS_RELATIME | MS_STRICTATIME),
            "atime" | "ratime" => (0, MS_NOATIME),
            "nodiratime" | "rnodiratime" => (MS_NODIRATIME, 0),
            "diratime" | "rdiratime" => (0, MS_NODIRATIME),
            "relatime" | "rrelatime" => (MS_RELATIME, MS_NOATIME | MS_STRICTATIME),
            "norelatime" | "rnorelatime" => (0, MS_RELATIME),
            "strictatime" | "rstrictatime" => (MS_STRICTATIME, MS_NOATIME | MS_RELATIME),
            "nostrictatime" | "rnostrictatime" => (0, MS_STRICTATIME),
            "sync" => (MS_SYNCHRONOUS, 0),
            "async" => (0, MS_SYNCHRONOUS),
            "dirsync" => (MS_DIRSYNC, 0),
            "lazytime" => (MS_LAZYTIME, 0),
            "nolazytime" => (0, MS_LAZYTIME),
            "mand" => (MS_MANDLOCK, 0),
            "nomand" => (0, MS_MANDLOCK),
            "bind" | "rbind" => {
                bind = true;
                (0, 0)
            }
            "defaults" | "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
            | "unbindable" | "runbindable" => (0, 0),
            // runc's own extensions, which the sandbox does not do.
            "tmpcopyup" | "idmap" | "ridmap" | "nosymfollow" | "rnosymfollow" => {
                ignored.push(o.clone());
                (0, 0)
            }
            _ => {
                data.push(o.clone());
                (0, 0)
            }
        };
        flags = (flags | set) & !clear;
    }
    (flags, bind, data, ignored)
}

/// Plans one mount of config.json (`bundle`: where a relative bind source is); what is not
/// honoured is said in `warnings`.
pub fn plan(bundle: &Path, m: &Mount, warnings: &mut Vec<String>) -> Result<Planned, String> {
    let dest = normal(m.destination(), "mount destination")?;
    if dest == "/" {
        return Err("mount destination /: cannot mount over the root".into());
    }
    let typ = m.typ().as_deref().unwrap_or("");
    let opts = m.options().clone().unwrap_or_default();
    let (flags, bind_opt, data, ignored) = options(&opts);
    let bind = typ == "bind" || bind_opt;
    let source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !ignored.is_empty() {
        warnings.push(format!(
            "mount {dest}: option(s) {} not supported; ignored",
            ignored.join(",")
        ));
    }
    if bind {
        let src = m
            .source()
            .as_ref()
            .ok_or_else(|| format!("bind mount {dest} has no source"))?;
        let src = if src.is_absolute() {
            src.clone()
        } else {
            bundle.join(src)
        };
        if !src.is_dir() && !src.is_file() {
            warnings.push(format!(
                "mount {dest}: the source {} is neither a file nor a directory; left out",
                src.display()
            ));
            return Ok(Planned::Skipped);
        }
        let host = std::path::absolute(&src)
            .map_err(|e| format!("mount {dest}: {}: {e}", src.display()))?;
        let host = host
            .to_str()
            .ok_or_else(|| format!("mount {dest}: {}: not UTF-8", src.display()))?
            .to_string();
        return Ok(Planned::Mount(MountArg {
            destination: dest,
            source: host.clone(),
            bind: Some(host),
            typ: String::new(),
            flags,
            data: String::new(),
        }));
    }
    if !TYPES.contains(&typ) {
        warnings.push(format!(
            "mount {dest} of type {typ:?}: not supported; left out"
        ));
        return Ok(Planned::Skipped);
    }
    Ok(Planned::Mount(MountArg {
        source: if source.is_empty() {
            "none".into()
        } else {
            source
        },
        destination: dest,
        bind: None,
        typ: typ.to_string(),
        flags,
        data: data.join(","),
    }))
}

/// One device of linux.devices.
pub fn device(d: &LinuxDevice) -> Result<DeviceArg, String> {
    let path = normal(d.path(), "device path")?;
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => S_IFCHR,
        LinuxDeviceType::B => S_IFBLK,
        LinuxDeviceType::P => S_IFIFO,
        t => return Err(format!("device {path}: type {t:?} cannot be made")),
    };
    let number = |n: i64, what: &str| {
        u32::try_from(n).map_err(|_| format!("device {path}: bad {what} number {n}"))
    };
    let (major, minor) = if kind == S_IFIFO {
        (0, 0)
    } else {
        (number(d.major(), "major")?, number(d.minor(), "minor")?)
    };
    Ok(DeviceArg {
        mode: kind | (d.file_mode().unwrap_or(0o666) & 0o7777),
        major,
        minor,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
        path,
    })
}

/// The sentry's layout from `sandbox run`'s `--oci-mount` and `--oci-device` options: the
/// volumes its bind mounts of directories need are appended to `volumes`, and the copies its
/// bind mounts of files need (taken now) to `files`.
pub fn layout(
    mounts: &[String],
    devices: &[String],
    volumes: &mut Vec<Volume>,
    files: &mut Vec<FileCopy>,
) -> Result<OciLayout, String> {
    let mut l = OciLayout::default();
    for j in mounts {
        let a: MountArg = serde_json::from_str(j).map_err(|e| format!("--oci-mount {j}: {e}"))?;
        let kind = match &a.bind {
            Some(host) if Path::new(host).is_file() => {
                // One file (an engine's /etc/hosts, /etc/resolv.conf): a copy taken at start.
                let data = std::fs::read(host).map_err(|e| format!("{host}: {e}"))?;
                let mode = std::fs::metadata(host)
                    .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
                    .unwrap_or(0o644);
                files.push(FileCopy {
                    guest: a.destination.clone(),
                    data,
                    mode,
                });
                OciKind::File(files.len() - 1)
            }
            Some(host) => {
                volumes.push(Volume {
                    host: host.clone(),
                    guest: a.destination.clone(),
                    read_only: a.flags & MS_RDONLY != 0,
                });
                OciKind::Volume(volumes.len() - 1)
            }
            None => OciKind::Fs {
                typ: a.typ.clone(),
                data: a.data.clone(),
            },
        };
        l.mounts.push(OciMount {
            destination: a.destination,
            source: a.source,
            kind,
            flags: a.flags,
        });
    }
    for j in devices {
        let d: DeviceArg = serde_json::from_str(j).map_err(|e| format!("--oci-device {j}: {e}"))?;
        l.devices.push(OciDevice {
            path: d.path,
            mode: d.mode,
            rdev: makedev(d.major, d.minor),
            owner: Owner {
                uid: d.uid,
                gid: d.gid,
            },
        });
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(json: &str) -> Mount {
        serde_json::from_str(json).expect("mount")
    }

    #[test]
    fn options_split_into_flags_and_data() {
        let m = mount(
            r#"{"destination":"/dev/shm","type":"tmpfs","source":"shm",
                "options":["nosuid","noexec","nodev","mode=1777","size=65536k","rprivate"]}"#,
        );
        let mut w = Vec::new();
        let Ok(Planned::Mount(a)) = plan(Path::new("/b"), &m, &mut w) else {
            panic!("not a mount");
        };
        assert_eq!(a.destination, "/dev/shm");
        assert_eq!(a.source, "shm");
        assert_eq!(a.typ, "tmpfs");
        assert_eq!(a.flags, MS_NOSUID | MS_NOEXEC | MS_NODEV);
        assert_eq!(a.data, "mode=1777,size=65536k");
        assert!(w.is_empty());
    }

    #[test]
    fn bad_destinations_are_refused() {
        for d in ["dev", "/a/../b", "/"] {
            let m = mount(&format!(r#"{{"destination":"{d}","type":"tmpfs"}}"#));
            assert!(plan(Path::new("/b"), &m, &mut Vec::new()).is_err(), "{d}");
        }
    }

    #[test]
    fn unknown_types_are_left_out() {
        let m = mount(r#"{"destination":"/x","type":"nfs","source":"h:/e"}"#);
        let mut w = Vec::new();
        assert!(matches!(
            plan(Path::new("/b"), &m, &mut w),
            Ok(Planned::Skipped)
        ));
        assert_eq!(w.len(), 1);
    }
}
