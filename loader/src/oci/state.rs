// SPDX-License-Identifier: Apache-2.0
//! A container's state on the host: `ROOT/ID/state.json`, its FIFO, its lock, and its status
//! read from the host.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// The OCI runtime spec version the state reports.
pub const OCI_VERSION: &str = "1.2.0";

/// What `create` recorded of a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    /// The container's id.
    pub id: String,
    /// The sandbox process (the container's pid for engines).
    pub pid: i32,
    /// Its start time (`/proc/PID/stat` field 22): a process with the pid but another start
    /// time is not the container.
    pub start_time: u64,
    /// The bundle directory (absolute).
    pub bundle: PathBuf,
    /// The root file system (absolute).
    pub rootfs: PathBuf,
    /// When it was created (RFC 3339, UTC).
    pub created: String,
    /// Who created it.
    pub owner: String,
    /// config.json's annotations.
    pub annotations: BTreeMap<String, String>,
    /// config.json's hooks, for `start` and `delete`.
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// The container's host cgroup: its directory in each hierarchy (`oci::cgroup`).
    #[serde(default)]
    pub cgroups: Vec<PathBuf>,
}

/// A container's status, as the OCI runtime spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Made, waiting for `start`.
    Created,
    /// Started and not ended.
    Running,
    /// Frozen by `pause` until `resume`.
    Paused,
    /// Its process has ended.
    Stopped,
}

impl Status {
    /// The spec's name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The directory that holds every container's state (`--root`).
pub fn root_dir(given: Option<&Path>) -> PathBuf {
    if let Some(r) = given {
        return r.to_path_buf();
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/sandbox");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) => PathBuf::from(d).join("sandbox"),
        None => std::env::temp_dir().join(format!("sandbox-{}", nix::unistd::geteuid())),
    }
}

/// runc's rule for ids: letters, digits, `_`, `+`, `-`, `.`; not `.` or `..`.
pub fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid container id format: {id}"))
    }
}

/// A container's directory, locked for the life of the value.
pub struct Container {
    /// `ROOT/ID`.
    pub dir: PathBuf,
    /// What `create` recorded.
    pub saved: Saved,
    _lock: Flock<File>,
}

/// Takes the exclusive lock of a container's directory (commands on one container run one at
/// a time); it is held until the value is dropped.
pub fn lock_dir(dir: &Path) -> Result<Flock<File>, String> {
    let f = File::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("locking {}: {}", dir.display(), e.desc()))
}

impl Container {
    /// The container `id` under `root`, locked.
    pub fn load(root: &Path, id: &str) -> Result<Container, String> {
        check_id(id)?;
        let dir = root.join(id);
        if !dir.join("state.json").exists() {
            return Err(format!("container {id} does not exist"));
        }
        let lock = lock_dir(&dir)?;
        let text = std::fs::read_to_string(dir.join("state.json"))
            .map_err(|e| format!("container {id}: reading its state: {e}"))?;
        let saved: Saved = serde_json::from_str(&text)
            .map_err(|e| format!("container {id}: reading its state: {e}"))?;
        Ok(Container {
            dir,
            saved,
            _lock: lock,
        })
    }

    /// Records `saved` in `dir` (written to a temporary name, then renamed).
    pub fn save(dir: &Path, saved: &Saved) -> Result<(), String> {
        let text = serde_json::to_string(saved).map_err(|e| e.to_string())?;
        let tmp = dir.join("state.json.tmp");
        std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, dir.join("state.json")).map_err(|e| format!("{}: {e}", dir.display()))
    }

    /// The FIFO `start` opens.
    pub fn fifo(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }

    /// The marker `pause` leaves (and `resume` removes) while the sandbox is frozen.
    pub fn paused_marker(&self) -> PathBuf {
        self.dir.join("paused")
    }

    /// The container's control socket (`exec`, `pause`, `resume`, `events`).
    pub fn control_socket(&self) -> PathBuf {
        self.dir.join("control.sock")
    }

    /// Whether the container's process is still there (not ended, not another process).
    pub fn alive(&self) -> bool {
        self.saved.pid > 0 && start_time(self.saved.pid) == Some(self.saved.start_time)
    }

    /// The status, read from the host.
    pub fn status(&self) -> Status {
        if !self.alive() {
            Status::Stopped
        } else if self.fifo().exists() {
            Status::Created
        } else if self.paused_marker().exists() {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The state as `runc state` prints it (the OCI state, with runc's extra fields).
    pub fn oci_state(&self) -> serde_json::Value {
        let status = self.status();
        let pid = if status == Status::Stopped {
            0
        } else {
            self.saved.pid
        };
        let mut v = serde_json::json!({
            "ociVersion": OCI_VERSION,
            "id": self.saved.id,
            "pid": pid,
            "status": status.name(),
            "bundle": self.saved.bundle,
            "rootfs": self.saved.rootfs,
            "created": self.saved.created,
            "owner": self.saved.owner,
        });
        if !self.saved.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.saved.annotations);
        }
        v
    }

    /// Sends `sig` to the container's process (the sandbox forwards it to the program).
    pub fn signal(&self, sig: nix::sys::signal::Signal) -> Result<(), String> {
        if !self.alive() {
            return Err("container not running".into());
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.saved.pid), sig)
            .map_err(|e| format!("sending {sig}: {}", e.desc()))
    }
}

/// A process's start time (clock ticks since boot), or None when it is gone or a zombie.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // rest[0] is field 3 (state); field 22 is rest[19].
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Now, as RFC 3339 in UTC with nanoseconds (as runc writes `created`).
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Every container id under `root`, sorted.
pub fn list_ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("state.json").exists())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_runc_rules() {
        assert!(check_id("abc-1_2+x.y").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "ü"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_are_rfc3339() {
        let s = now_rfc3339();
        assert_eq!(s.len(), 30, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'), "{s}");
    }

    #[test]
    fn our_own_start_time_is_read() {
        assert!(start_time(std::process::id() as i32).is_some());
        assert!(start_time(i32::MAX).is_none());
    }
}
