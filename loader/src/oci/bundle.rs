// SPDX-License-Identifier: Apache-2.0
//! A bundle's config.json (through the oci-spec crate) as the `sandbox run` options that
//! honour it: the root, mounts and devices (`mounts.rs`), the process (arguments,
//! environment, working directory, user, rlimits), the host name, resources and the network
//! namespace. What it cannot honour yet is said in a warning, never silently dropped.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::mounts::Planned;

/// How to run a bundle.
pub struct Plan {
    /// The `sandbox run` options, then `--`, then the process's arguments.
    pub args: Vec<OsString>,
    /// The root file system (absolute).
    pub rootfs: PathBuf,
    /// config.json.
    pub spec: Spec,
    /// What is not honoured.
    pub warnings: Vec<String>,
}

/// Reads `bundle/config.json` and plans the run.
pub fn plan(bundle: &Path) -> Result<Plan, String> {
    let config = bundle.join("config.json");
    let spec = Spec::load(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    let mut args: Vec<OsString> = Vec::new();
    let mut warnings = Vec::new();
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| format!("{}: no root", config.display()))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    if !rootfs.is_dir() {
        return Err(format!(
            "rootfs ({}) does not exist or is not a directory",
            rootfs.display()
        ));
    }
    args.push("--rootfs".into());
    args.push(rootfs.clone().into());
    if root.readonly() == Some(true) {
        args.extend(["--overlay".into(), "none".into()]);
    } else {
        // Writes reach the bundle's root file system, as with runc.
        args.push("--oci-writable-root".into());
    }
    if let Some(h) = spec.hostname() {
        if !h.is_empty() {
            args.extend(["--hostname".into(), h.into()]);
        }
    }
    // The mount table is config.json's, in its order (and nothing else: no /tmp of the
    // sandbox's own).
    args.push("--oci-layout".into());
    for m in spec.mounts().as_deref().unwrap_or_default() {
        match super::mounts::plan(bundle, m, &mut warnings)? {
            Planned::Mount(a) => {
                let json = serde_json::to_string(&a).map_err(|e| e.to_string())?;
                args.extend(["--oci-mount".into(), json.into()]);
            }
            Planned::Skipped => {}
        }
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| format!("{}: no process", config.display()))?;
    let argv = process
        .args()
        .as_ref()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| "process.args must not be empty".to_string())?;
    args.push("--clear-env".into());
    let env = process.env().clone().unwrap_or_default();
    for kv in &env {
        if kv.split_once('=').is_some_and(|(k, _)| !k.is_empty()) {
            args.extend(["--env".into(), kv.into()]);
        } else {
            warnings.push(format!("process.env {kv:?}: not KEY=VALUE, left out"));
        }
    }
    if let Some(adj) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(format!(
                "process.oomScoreAdj {adj}: must be between -1000 and 1000"
            ));
        }
        args.extend(["--oci-oom-score-adj".into(), adj.to_string().into()]);
    }
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        return Err(format!("process.cwd {} must be absolute", cwd.display()));
    }
    args.extend(["--cwd".into(), cwd.clone().into()]);
    let user = process.user();
    let mut ids = format!("{}:{}", user.uid(), user.gid());
    if let Some(g) = user.additional_gids() {
        if !g.is_empty() {
            let g: Vec<String> = g.iter().map(u32::to_string).collect();
            ids.push(':');
            ids.push_str(&g.join(","));
        }
    }
    args.extend(["--user".into(), ids.into()]);
    for r in process.rlimits().as_deref().unwrap_or_default() {
        // RLIMIT_NOFILE and the rest, as `--ulimit` names them.
        let value = |v: u64| {
            if v == u64::MAX {
                "unlimited".to_string()
            } else {
                v.to_string()
            }
        };
        let name = r.typ().to_string().to_ascii_lowercase();
        args.extend([
            "--ulimit".into(),
            format!("{name}={}:{}", value(r.soft()), value(r.hard())).into(),
        ]);
    }
    if process.no_new_privileges() == Some(true) {
        args.push("--no-new-privs".into());
    }
    if let Some(caps) = process.capabilities() {
        // The sandbox keeps one set for root's effective, permitted and bounding capabilities
        // (no inheritable or ambient sets): the spec's effective set.
        args.extend(["--cap-drop".into(), "ALL".into()]);
        let mut effective: Vec<String> = caps
            .effective()
            .as_ref()
            .map(|e| e.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        effective.sort();
        for c in effective {
            args.extend(["--cap-add".into(), c.into()]);
        }
        let list = |set: &Option<oci_spec::runtime::Capabilities>| -> String {
            let mut names: Vec<String> = set
                .as_ref()
                .map(|s| s.iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            names.sort();
            names.join(",")
        };
        args.extend([
            "--oci-cap-inheritable".into(),
            list(caps.inheritable()).into(),
            "--oci-cap-ambient".into(),
            list(caps.ambient()).into(),
        ]);
        if caps.permitted() != caps.effective() || caps.bounding() != caps.effective() {
            warnings.push(
                "process.capabilities: the effective set is applied to the permitted and \
                 bounding sets too"
                    .into(),
            );
        }
    }
    if let Some(linux) = spec.linux() {
        for n in linux.namespaces().as_deref().unwrap_or_default() {
            if let Some(p) = n.path() {
                check_namespace(p, n.typ())?;
            }
        }
        if linux
            .namespaces()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none())
        {
            args.push("--oci-pid-namespace".into());
        }
        let net = linux
            .namespaces()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|n| n.typ() == LinuxNamespaceType::Network);
        match net {
            // No network namespace: the container shares the host's network (as with runc).
            None => args.extend(["--network".into(), "host".into()]),
            Some(n) => match n.path() {
                Some(p) => {
                    args.extend(["--network".into(), "host".into()]);
                    args.extend(["--oci-netns".into(), p.clone().into()]);
                }
                None => args.extend(["--network".into(), "none".into()]),
            },
        }
        let mut sysctls: Vec<(&String, &String)> =
            linux.sysctl().iter().flat_map(|m| m.iter()).collect();
        sysctls.sort();
        for (k, v) in sysctls {
            args.extend(["--sysctl".into(), format!("{k}={v}").into()]);
        }
        for d in linux.devices().iter().flatten() {
            let json =
                serde_json::to_string(&super::mounts::device(d)?).map_err(|e| e.to_string())?;
            args.extend(["--oci-device".into(), json.into()]);
        }
        for p in linux.masked_paths().iter().flatten() {
            args.extend(["--oci-mask".into(), p.into()]);
        }
        for p in linux.readonly_paths().iter().flatten() {
            args.extend(["--oci-readonly".into(), p.into()]);
        }
        if let Some(res) = linux.resources() {
            if let Some(limit) = res.memory().as_ref().and_then(|m| m.limit()) {
                if limit > 0 {
                    args.extend(["--memory".into(), limit.to_string().into()]);
                }
            }
            if let Some(p) = res.pids().as_ref().map(|p| p.limit()) {
                if p > 0 {
                    args.extend(["--pids".into(), p.to_string().into()]);
                }
            }
        }
    } else {
        args.extend(["--network".into(), "host".into()]);
    }
    check_program(&rootfs, &argv[0], &env)?;
    args.push("--".into());
    args.extend(argv.iter().map(OsString::from));
    Ok(Plan {
        args,
        rootfs,
        spec,
        warnings,
    })
}

/// runc's check at create: the program must be there in the root.
fn check_program(rootfs: &Path, prog: &str, env: &[String]) -> Result<(), String> {
    let exists = |p: &Path| rootfs.join(p.strip_prefix("/").unwrap_or(p)).exists();
    if prog.contains('/') {
        if exists(Path::new(prog)) {
            return Ok(());
        }
        return Err(format!(
            "exec: \"{prog}\": stat {prog}: no such file or directory"
        ));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    if path
        .split(':')
        .filter(|d| d.starts_with('/'))
        .any(|d| exists(&Path::new(d).join(prog)))
    {
        return Ok(());
    }
    Err(format!(
        "exec: \"{prog}\": executable file not found in $PATH"
    ))
}

/// A namespace path must be a namespace of the type it is given as (runc's check, through
/// NS_GET_NSTYPE).
fn check_namespace(path: &Path, typ: LinuxNamespaceType) -> Result<(), String> {
    use syscalls::abi::*;
    let types = [
        (LinuxNamespaceType::Mount, CLONE_NEWNS, "mount"),
        (LinuxNamespaceType::Cgroup, CLONE_NEWCGROUP, "cgroup"),
        (LinuxNamespaceType::Uts, CLONE_NEWUTS, "uts"),
        (LinuxNamespaceType::Ipc, CLONE_NEWIPC, "ipc"),
        (LinuxNamespaceType::User, CLONE_NEWUSER, "user"),
        (LinuxNamespaceType::Pid, CLONE_NEWPID, "pid"),
        (LinuxNamespaceType::Network, CLONE_NEWNET, "network"),
        (LinuxNamespaceType::Time, CLONE_NEWTIME, "time"),
    ];
    let name = |flag: u64| {
        types
            .iter()
            .find(|t| t.1 == flag)
            .map_or("unknown", |t| t.2)
    };
    let want = types.iter().find(|t| t.0 == typ).map_or(0, |t| t.1);
    let f =
        std::fs::File::open(path).map_err(|e| format!("namespace path {}: {e}", path.display()))?;
    match crate::host_unsafe::namespace_type(std::os::fd::AsFd::as_fd(&f)) {
        Ok(got) if got == want => Ok(()),
        Ok(got) => Err(format!(
            "namespace path {}: a {} namespace, given as {}",
            path.display(),
            name(got),
            name(want)
        )),
        Err(_) => Err(format!(
            "namespace path {} is not a namespace",
            path.display()
        )),
    }
}
