// SPDX-License-Identifier: Apache-2.0
//! A container's host cgroup, as runc's cgroupfs manager makes it: `linux.cgroupsPath` in every
//! hierarchy the host has (cgroup v1's controller mounts, or the v2 unified one), with
//! `linux.resources` written to its files, and the container's sandbox (the sentry, the gofer and
//! every process the program runs, each a host process) in it from before it starts anything.
//! `update` writes the files again, `events --stats` reads them, `delete` removes the cgroup.
//! The container has a devices cgroup too (v1), left as its parent allows.
//!
//! The sandbox enforces memory and tasks itself too (`--memory`, `--pids`: clean ENOMEM and
//! EAGAIN for the program); the host cgroup is what the engine sees and accounts, and a
//! backstop. `linux.resources.devices` is not written: the program reaches no host device (the
//! sandbox's devices are the sentry's own, DESIGN.md), and denying devices to the sentry itself
//! would gain nothing.
//!
//! Path rules (runc's): an absolute cgroupsPath is taken from each hierarchy's root; a relative
//! one (or, without one, the container's id) from this process's own cgroup in it; with
//! `--systemd-cgroup`, `slice:prefix:name` is `SLICE-PATH/prefix-name.scope`. Written by hand
//! rather than with a crate: the cgroups crates on crates.io pull in a systemd D-Bus client or
//! a whole container runtime for what is a few files here.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

/// One cgroup hierarchy of the host's.
#[derive(Debug, Clone)]
struct Hierarchy {
    /// Where it is mounted.
    mount: PathBuf,
    /// Its controllers (v1: the mount's; v2: every one the root offers).
    controllers: Vec<String>,
    /// The unified (v2) hierarchy.
    v2: bool,
    /// This process's cgroup in it (from /proc/self/cgroup), relative to the mount.
    own: PathBuf,
}

/// The controllers a v1 hierarchy is given a container cgroup in (devices too, for the
/// engine's view: no rule is written there, see the module docs).
const V1_CONTROLLERS: [&str; 11] = [
    "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "hugetlb", "net_cls", "net_prio",
    "freezer", "devices",
];

/// The host's cgroup hierarchies: every v1 controller mount, or (on a host with no v1
/// controllers) the v2 unified one.
fn hierarchies() -> Vec<Hierarchy> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let own_path = |v2: bool, ctrls: &[String]| -> PathBuf {
        for line in own.lines() {
            let mut it = line.splitn(3, ':');
            let (_, c, p) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or("/"));
            let matches = if v2 {
                c.is_empty()
            } else {
                !c.is_empty() && c.split(',').any(|x| ctrls.iter().any(|y| y == x))
            };
            if matches {
                return PathBuf::from(p.trim_start_matches('/'));
            }
        }
        PathBuf::new()
    };
    let mut v1 = Vec::new();
    let mut v2 = None;
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        let (Some(mount), Some(fstype)) = (pre.get(4), post.first()) else {
            continue;
        };
        let mount = PathBuf::from(mount.replace("\\040", " "));
        match *fstype {
            "cgroup" => {
                let controllers: Vec<String> = post
                    .get(2)
                    .unwrap_or(&"")
                    .split(',')
                    .filter(|o| V1_CONTROLLERS.contains(o))
                    .map(String::from)
                    .collect();
                if controllers.is_empty() || v1.iter().any(|h: &Hierarchy| h.mount == mount) {
                    continue;
                }
                let own = own_path(false, &controllers);
                v1.push(Hierarchy {
                    mount,
                    controllers,
                    v2: false,
                    own,
                });
            }
            "cgroup2" if v2.is_none() => {
                let controllers = std::fs::read_to_string(mount.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(String::from)
                    .collect();
                v2 = Some(Hierarchy {
                    mount,
                    controllers,
                    v2: true,
                    own: own_path(true, &[]),
                });
            }
            _ => {}
        }
    }
    if v1.is_empty() {
        v2.into_iter().collect()
    } else {
        v1
    }
}

/// `slice:prefix:name` as systemd places it: `a-b.slice` is `a.slice/a-b.slice`.
fn systemd_path(spec: &str) -> Result<PathBuf, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(format!(
            "cgroupsPath {spec:?}: expected \"slice:prefix:name\" with --systemd-cgroup"
        ));
    };
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    let mut path = PathBuf::from("/");
    if slice != "-.slice" {
        let stem = slice
            .strip_suffix(".slice")
            .ok_or_else(|| format!("cgroupsPath {spec:?}: the slice must end in .slice"))?;
        let mut acc = String::new();
        for part in stem.split('-') {
            if !acc.is_empty() {
                acc.push('-');
            }
            acc.push_str(part);
            path.push(format!("{acc}.slice"));
        }
    }
    let leaf = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    path.push(leaf);
    Ok(path)
}

/// Refuses a path that climbs out of where it is put.
fn clean(p: &Path) -> Result<PathBuf, String> {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!(
                    "cgroupsPath {}: \"..\" is not allowed",
                    p.display()
                ))
            }
        }
    }
    Ok(out)
}

/// The container's cgroup: its directory in each hierarchy.
#[derive(Debug, Clone, Default)]
pub struct Cgroup {
    /// (directory, v2, controllers) for each hierarchy.
    dirs: Vec<(PathBuf, bool, Vec<String>)>,
}

impl Cgroup {
    /// Where the container with `cgroups_path` (config.json's, or None) and `id` goes.
    pub fn locate(cgroups_path: Option<&str>, id: &str, systemd: bool) -> Result<Cgroup, String> {
        let rel = match cgroups_path {
            Some(p) if systemd && p.contains(':') => systemd_path(p)?,
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from(id),
        };
        let absolute = rel.is_absolute();
        let rel = clean(&rel)?;
        if rel.as_os_str().is_empty() {
            return Err("cgroupsPath: the root cgroup cannot be a container's".into());
        }
        let dirs = hierarchies()
            .into_iter()
            .map(|h| {
                let base = if absolute {
                    h.mount.clone()
                } else {
                    h.mount.join(&h.own)
                };
                (base.join(&rel), h.v2, h.controllers)
            })
            .collect();
        Ok(Cgroup { dirs })
    }

    /// A cgroup from the directories `create` saved.
    pub fn from_saved(dirs: &[PathBuf]) -> Cgroup {
        let all = hierarchies();
        let dirs = dirs
            .iter()
            .map(|d| {
                let h = all.iter().find(|h| d.starts_with(&h.mount));
                (
                    d.clone(),
                    h.is_some_and(|h| h.v2),
                    h.map(|h| h.controllers.clone()).unwrap_or_default(),
                )
            })
            .collect();
        Cgroup { dirs }
    }

    /// Its directories, to save.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.0.clone()).collect()
    }

    /// Makes the directories (a v1 cpuset gets its parent's CPUs and memory nodes, which a new
    /// one lacks; on v2 each level enables the controllers for the next) and writes
    /// `resources`. Returns each hierarchy's cgroup.procs, open for the sandbox to join.
    pub fn create(&self, resources: Option<&LinuxResources>) -> Result<Vec<OwnedFd>, String> {
        for (dir, v2, ctrls) in &self.dirs {
            let mut missing = Vec::new();
            let mut p = dir.as_path();
            while !p.exists() {
                missing.push(p.to_path_buf());
                match p.parent() {
                    Some(parent) => p = parent,
                    None => break,
                }
            }
            for level in missing.iter().rev() {
                if *v2 {
                    if let Some(parent) = level.parent() {
                        enable_controllers(parent, ctrls);
                    }
                }
                std::fs::create_dir(level).map_err(|e| format!("{}: {e}", level.display()))?;
                if !v2 && ctrls.iter().any(|c| c == "cpuset") {
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        inherit(level, f)?;
                    }
                }
            }
        }
        if let Some(r) = resources {
            self.apply(r)?;
        }
        let mut procs = Vec::new();
        for (dir, _, _) in &self.dirs {
            let p = dir.join("cgroup.procs");
            let f = OpenOptions::new()
                .write(true)
                .open(&p)
                .map_err(|e| format!("{}: {e}", p.display()))?;
            procs.push(OwnedFd::from(f));
        }
        Ok(procs)
    }

    /// Writes `r` to the cgroup's files, in the order the kernel accepts them (runc's).
    pub fn apply(&self, r: &LinuxResources) -> Result<(), String> {
        for (dir, v2, ctrls) in &self.dirs {
            let has = |c: &str| ctrls.iter().any(|x| x == c);
            let w = |file: &str, value: String| write(dir, file, &value);
            if *v2 {
                apply_v2(dir, r, &has)?;
                continue;
            }
            if has("memory") {
                if let Some(m) = r.memory() {
                    // Raising the limit past memory+swap's needs memory+swap first; lowering
                    // needs it after.
                    let swap_file = dir.join("memory.memsw.limit_in_bytes");
                    let swap = m.swap().filter(|_| swap_file.exists());
                    let cur_swap = read_i64(&swap_file);
                    match (m.limit(), swap) {
                        (Some(l), Some(s))
                            if l == -1 || cur_swap.is_some_and(|c| c != -1 && l > c) =>
                        {
                            w("memory.memsw.limit_in_bytes", s.to_string())?;
                            w("memory.limit_in_bytes", l.to_string())?;
                        }
                        (l, s) => {
                            if let Some(l) = l {
                                w("memory.limit_in_bytes", l.to_string())?;
                            }
                            if let Some(s) = s {
                                w("memory.memsw.limit_in_bytes", s.to_string())?;
                            }
                        }
                    }
                    if let Some(v) = m.reservation() {
                        w("memory.soft_limit_in_bytes", v.to_string())?;
                    }
                    if let Some(v) = m.swappiness() {
                        if v > 100 {
                            return Err(format!(
                                "invalid value:{v}, valid memory swappiness range is 0-100"
                            ));
                        }
                        w("memory.swappiness", v.to_string())?;
                    }
                    if m.disable_oom_killer() == Some(true) {
                        w("memory.oom_control", "1".into())?;
                    }
                }
            }
            if has("pids") {
                if let Some(p) = r.pids() {
                    w("pids.max", pids_value(p.limit()))?;
                }
            }
            if let Some(c) = r.cpu() {
                if has("cpu") {
                    if let Some(v) = c.shares().filter(|v| *v != 0) {
                        w("cpu.shares", v.to_string())?;
                    }
                    if let Some(v) = c.period().filter(|v| *v != 0) {
                        w("cpu.cfs_period_us", v.to_string())?;
                    }
                    if let Some(v) = c.quota().filter(|v| *v != 0) {
                        w("cpu.cfs_quota_us", v.to_string())?;
                    }
                    if let Some(v) = c.realtime_period().filter(|v| *v != 0) {
                        w("cpu.rt_period_us", v.to_string())?;
                    }
                    if let Some(v) = c.realtime_runtime().filter(|v| *v != 0) {
                        w("cpu.rt_runtime_us", v.to_string())?;
                    }
                }
                if has("cpuset") {
                    if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
                        w("cpuset.cpus", v.to_string())?;
                    }
                    if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
                        w("cpuset.mems", v.to_string())?;
                    }
                }
            }
            if has("blkio") {
                if let Some(b) = r.block_io() {
                    if let Some(v) = b.weight().filter(|v| *v != 0) {
                        w("blkio.weight", v.to_string())?;
                    }
                    if let Some(v) = b.leaf_weight().filter(|v| *v != 0) {
                        w("blkio.leaf_weight", v.to_string())?;
                    }
                    for d in b.weight_device().iter().flatten() {
                        if let Some(v) = d.weight() {
                            w(
                                "blkio.weight_device",
                                format!("{}:{} {v}", d.major(), d.minor()),
                            )?;
                        }
                        if let Some(v) = d.leaf_weight() {
                            w(
                                "blkio.leaf_weight_device",
                                format!("{}:{} {v}", d.major(), d.minor()),
                            )?;
                        }
                    }
                    for (file, list) in [
                        (
                            "blkio.throttle.read_bps_device",
                            b.throttle_read_bps_device(),
                        ),
                        (
                            "blkio.throttle.write_bps_device",
                            b.throttle_write_bps_device(),
                        ),
                        (
                            "blkio.throttle.read_iops_device",
                            b.throttle_read_iops_device(),
                        ),
                        (
                            "blkio.throttle.write_iops_device",
                            b.throttle_write_iops_device(),
                        ),
                    ] {
                        for d in list.iter().flatten() {
                            w(file, format!("{}:{} {}", d.major(), d.minor(), d.rate()))?;
                        }
                    }
                }
            }
            if has("hugetlb") {
                for h in r.hugepage_limits().iter().flatten() {
                    w(
                        &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                        h.limit().to_string(),
                    )?;
                }
            }
            if let Some(n) = r.network() {
                if has("net_cls") {
                    if let Some(v) = n.class_id() {
                        w("net_cls.classid", v.to_string())?;
                    }
                }
                if has("net_prio") {
                    for p in n.priorities().iter().flatten() {
                        w(
                            "net_prio.ifpriomap",
                            format!("{} {}", p.name(), p.priority()),
                        )?;
                    }
                }
            }
        }
        Ok(())
    }

    /// What the cgroup counts, for `events --stats` (runc's `cpu`, `memory` and `pids.limit`).
    pub fn stats(&self) -> BTreeMap<&'static str, serde_json::Value> {
        let mut out = BTreeMap::new();
        for (dir, v2, ctrls) in &self.dirs {
            let has = |c: &str| ctrls.iter().any(|x| x == c);
            let num = |f: &str| read_i64(&dir.join(f));
            if *v2 {
                let cpu = std::fs::read_to_string(dir.join("cpu.stat")).unwrap_or_default();
                let field = |k: &str| {
                    cpu.lines()
                        .find_map(|l| l.strip_prefix(k)?.trim().parse::<u64>().ok())
                        .map(|us| us * 1000)
                };
                if let Some(total) = field("usage_usec ") {
                    out.insert(
                        "cpu",
                        serde_json::json!({"usage": {"total": total,
                            "user": field("user_usec ").unwrap_or(0),
                            "kernel": field("system_usec ").unwrap_or(0)}}),
                    );
                }
                if let Some(u) = num("memory.current") {
                    out.insert(
                        "memory",
                        serde_json::json!({"usage": {"usage": u,
                            "max": num("memory.peak").unwrap_or(0),
                            "limit": num("memory.max").unwrap_or(-1)}}),
                    );
                }
                if let Some(l) = num("pids.max") {
                    out.insert("pids_limit", serde_json::json!(l.max(0)));
                }
                continue;
            }
            if has("cpuacct") {
                if let Some(total) = num("cpuacct.usage") {
                    let percpu: Vec<u64> =
                        std::fs::read_to_string(dir.join("cpuacct.usage_percpu"))
                            .unwrap_or_default()
                            .split_whitespace()
                            .filter_map(|v| v.parse().ok())
                            .collect();
                    out.insert(
                        "cpu",
                        serde_json::json!({"usage": {"total": total, "percpu": percpu}}),
                    );
                }
            }
            if has("memory") {
                if let Some(u) = num("memory.usage_in_bytes") {
                    out.insert(
                        "memory",
                        serde_json::json!({"usage": {"usage": u,
                            "max": num("memory.max_usage_in_bytes").unwrap_or(0),
                            "failcnt": num("memory.failcnt").unwrap_or(0),
                            "limit": num("memory.limit_in_bytes").unwrap_or(-1)}}),
                    );
                }
            }
            if has("pids") {
                // runc's figure: 0 for no limit.
                if let Some(l) = num("pids.max") {
                    out.insert("pids_limit", serde_json::json!(l.max(0)));
                }
            }
        }
        out
    }

    /// Removes the cgroup (its directory in each hierarchy; the levels above it stay, as with
    /// runc). The sandbox's last processes may still be leaving: waits for them a little.
    pub fn remove(&self) -> Result<(), String> {
        for (dir, _, _) in &self.dirs {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            loop {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY)
                            && std::time::Instant::now() < deadline =>
                    {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    Err(e) => return Err(format!("{}: {e}", dir.display())),
                }
            }
        }
        Ok(())
    }
}

/// pids.max's value for a limit (0 or less: none).
fn pids_value(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".into()
    }
}

/// A v2 cgroup's files for `r` (runc's conversions from the v1 figures).
fn apply_v2(dir: &Path, r: &LinuxResources, has: &dyn Fn(&str) -> bool) -> Result<(), String> {
    let w = |file: &str, value: String| write(dir, file, &value);
    let max = |v: i64| {
        if v == -1 {
            "max".to_string()
        } else {
            v.to_string()
        }
    };
    if has("memory") {
        if let Some(m) = r.memory() {
            if let Some(l) = m.limit() {
                w("memory.max", max(l))?;
            }
            if let Some(s) = m.swap() {
                // v1's swap figure is memory+swap; v2's is swap alone.
                let v = match (s, m.limit()) {
                    (-1, _) => "max".to_string(),
                    (s, Some(l)) if l > 0 && s >= l => (s - l).to_string(),
                    (s, _) => s.to_string(),
                };
                w("memory.swap.max", v)?;
            }
            if let Some(v) = m.reservation() {
                w("memory.low", max(v))?;
            }
        }
    }
    if has("pids") {
        if let Some(p) = r.pids() {
            w("pids.max", pids_value(p.limit()))?;
        }
    }
    if let Some(c) = r.cpu() {
        if has("cpu") {
            if let Some(s) = c.shares().filter(|v| *v != 0) {
                let weight = 1 + (s.clamp(2, 262_144) - 2) * 9999 / 262_142;
                w("cpu.weight", weight.to_string())?;
            }
            if c.quota().is_some() || c.period().is_some() {
                let quota = match c.quota() {
                    Some(q) if q > 0 => q.to_string(),
                    _ => "max".into(),
                };
                let period = c.period().filter(|p| *p != 0).unwrap_or(100_000);
                w("cpu.max", format!("{quota} {period}"))?;
            }
        }
        if has("cpuset") {
            if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
                w("cpuset.cpus", v.to_string())?;
            }
            if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
                w("cpuset.mems", v.to_string())?;
            }
        }
    }
    if has("io") {
        if let Some(b) = r.block_io() {
            if let Some(v) = b.weight().filter(|v| *v != 0) {
                // v1's 10..1000 to v2's 1..10000.
                let v = 1 + (u64::from(v).clamp(10, 1000) - 10) * 9999 / 990;
                w("io.weight", v.to_string())?;
            }
            for (key, list) in [
                ("rbps", b.throttle_read_bps_device()),
                ("wbps", b.throttle_write_bps_device()),
                ("riops", b.throttle_read_iops_device()),
                ("wiops", b.throttle_write_iops_device()),
            ] {
                for d in list.iter().flatten() {
                    w(
                        "io.max",
                        format!("{}:{} {key}={}", d.major(), d.minor(), d.rate()),
                    )?;
                }
            }
        }
    }
    if has("hugetlb") {
        for h in r.hugepage_limits().iter().flatten() {
            w(&format!("hugetlb.{}.max", h.page_size()), max(h.limit()))?;
        }
    }
    Ok(())
}

/// On v2, lets `parent`'s children use `ctrls` (each enabled on its own: one the parent cannot
/// give is left off).
fn enable_controllers(parent: &Path, ctrls: &[String]) {
    for c in ctrls {
        if matches!(
            c.as_str(),
            "memory" | "pids" | "cpu" | "cpuset" | "io" | "hugetlb"
        ) {
            let _ = write(parent, "cgroup.subtree_control", &format!("+{c}"));
        }
    }
}

/// A new v1 cpuset's `file` from its parent's when it is empty (a cpuset with no CPUs or
/// memory nodes takes no process).
fn inherit(dir: &Path, file: &str) -> Result<(), String> {
    let own = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    if !own.trim().is_empty() {
        return Ok(());
    }
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    let v = std::fs::read_to_string(parent.join(file)).unwrap_or_default();
    write(dir, file, v.trim())
}

fn read_i64(p: &Path) -> Option<i64> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim();
    if s == "max" {
        return Some(-1);
    }
    s.parse::<i64>()
        .ok()
        .or_else(|| s.parse::<u64>().ok().map(|_| -1))
}

fn write(dir: &Path, file: &str, value: &str) -> Result<(), String> {
    let p = dir.join(file);
    let mut f = OpenOptions::new()
        .write(true)
        .open(&p)
        .map_err(|e| format!("{}: {e}", p.display()))?;
    f.write_all(value.as_bytes())
        .map_err(|e| format!("writing {value:?} to {}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_slices_nest_as_systemd_places_them() {
        assert_eq!(
            systemd_path("machine.slice:libpod:abc").unwrap(),
            PathBuf::from("/machine.slice/libpod-abc.scope")
        );
        assert_eq!(
            systemd_path("a-b-c.slice:p:n").unwrap(),
            PathBuf::from("/a.slice/a-b.slice/a-b-c.slice/p-n.scope")
        );
        assert_eq!(
            systemd_path(":runc:x").unwrap(),
            PathBuf::from("/system.slice/runc-x.scope")
        );
        assert!(systemd_path("nope").is_err());
        assert!(systemd_path("a.scope:p:n").is_err());
    }

    #[test]
    fn paths_may_not_climb() {
        assert!(clean(Path::new("/a/../../etc")).is_err());
        assert_eq!(clean(Path::new("/a/./b")).unwrap(), PathBuf::from("a/b"));
        assert!(Cgroup::locate(Some("/"), "x", false).is_err());
    }
}
