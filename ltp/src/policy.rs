//! Which tests touch state outside themselves, and so must not run beside others.
//!
//! Three kinds of tests:
//! - *host-clock setters* move the wall clock of the whole machine; by default they are not run
//!   natively at all (on a shared machine they disturb every other process), and in the sandbox
//!   they must run and must leave the host's clock alone (the runner checks).
//! - *alone* tests change system-wide state (the clock, the host name, swap, kernel modules,
//!   `/proc/sys` values, IPC limits, ...) and run with no other test at the same time.
//! - tests that take a shared *resource* run one at a time per resource, beside ordinary tests:
//!   a loop device (LTP's `needs_device`, `mount_device`, `format_device`, `all_filesystems`:
//!   two at once can race for the same free loop device), or huge pages (`hugepages`: the
//!   test sets the host's `nr_hugepages`).
//!
//! The built-in lists below name the tests of LTP's syscalls suite; when the LTP install has
//! its metadata (`$LTPROOT/metadata/ltp.json`, made by `make -C metadata install`), tests that
//! declare `save_restore` (they write `/proc/sys`) are alone tests too, tests that declare
//! `restore_wallclock` are clock setters, and the resources come from it.

use std::collections::HashMap;
use std::path::Path;

use crate::runtest::{Entry, Pattern};

/// Tests that set the host's wall clock.
pub const HOST_CLOCK_SETTERS: &[&str] = &[
    "clock_settime*",
    "settimeofday*",
    "stime*",
    "leapsec*",
    "adjtimex*",
    "clock_adjtime*",
];

/// Tests that change system-wide state (besides the clock setters).
pub const SYSTEM_WIDE: &[&str] = &[
    // UTS names, swap, ctrl-alt-del, process accounting, console log level, sysctl.
    "sethostname*",
    "setdomainname*",
    "swapon*",
    "swapoff*",
    "reboot*",
    "acct*",
    "syslog*",
    "sysctl*",
    // Kernel modules.
    "init_module*",
    "finit_module*",
    "delete_module*",
    // Fill the host's System V IPC limits.
    "msgget03",
    "semget05",
    "shmget02",
    "shmget03",
    "shmctl03",
    // Write /proc/sys values (`save_restore`), as of LTP 20260529.
    "add_key05",
    "bind06",
    "fanotify10",
    "fanotify23",
    "fork13",
    "io_uring0[1-4]",
    "madvise06",
    "madvise08",
    "migrate_pages02",
    "munmap04",
    "sendmsg03",
    "sendto03",
    "setsockopt0[5-9]",
    "splice06",
    "unshare03",
];

/// Tests that take a loop device but do not say so in LTP's metadata (old-library tests are
/// not in it; the ioctl_loop tests find a free loop device by hand).
pub const DEVICE_USERS: &[&str] = &[
    "ioctl_loop*",
    "ioctl09",
    "copy_file_range02",
    "linkat02",
    "mknodat02",
    "rename11",
    "renameat01",
    "umount2_*",
];

/// A loop device.
pub const DEVICE: u8 = 1;
/// The host's huge page pool.
pub const HUGEPAGES: u8 = 2;

/// How a test may share the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclusivity {
    /// Runs beside anything but an alone test.
    Shared,
    /// Takes these resources (a mask of [`DEVICE`], [`HUGEPAGES`]): runs beside shared tests,
    /// never beside another test that takes one of them, nor beside an alone test.
    Resources(u8),
    /// Runs with no other test at the same time.
    Alone,
}

/// What the LTP metadata says about a test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub save_restore: bool,
    pub restore_wallclock: bool,
    /// A mask of [`DEVICE`], [`HUGEPAGES`].
    pub resources: u8,
}

pub struct Policy {
    clock: Vec<Pattern>,
    alone: Vec<Pattern>,
    devices: Vec<Pattern>,
    meta: HashMap<String, Meta>,
}

fn patterns(globs: &[&str]) -> Vec<Pattern> {
    globs
        .iter()
        .map(|g| Pattern::new(&format!("glob:{g}")).expect("built-in glob"))
        .collect()
}

impl Policy {
    pub fn new(meta: HashMap<String, Meta>) -> Policy {
        Policy {
            clock: patterns(HOST_CLOCK_SETTERS),
            alone: patterns(SYSTEM_WIDE),
            devices: patterns(DEVICE_USERS),
            meta,
        }
    }

    /// Matches a test by its runtest name or by the program it runs.
    fn hit(pats: &[Pattern], e: &Entry) -> bool {
        pats.iter()
            .any(|p| p.matches(&e.name) || p.matches(e.program()))
    }

    /// The metadata of a test, by its name or program; `stat04_64` and `setuid01_16` are
    /// built from the source of `stat04` and `setuid01` and described under those names.
    fn meta(&self, e: &Entry) -> Meta {
        let strip = |s: &'_ str| -> String {
            s.strip_suffix("_64")
                .or_else(|| s.strip_suffix("_16"))
                .unwrap_or(s)
                .to_string()
        };
        [
            e.name.clone(),
            e.program().to_string(),
            strip(&e.name),
            strip(e.program()),
        ]
        .iter()
        .find_map(|k| self.meta.get(k))
        .copied()
        .unwrap_or_default()
    }

    pub fn is_clock_setter(&self, e: &Entry) -> bool {
        Self::hit(&self.clock, e) || self.meta(e).restore_wallclock
    }

    pub fn exclusivity(&self, e: &Entry) -> Exclusivity {
        let meta = self.meta(e);
        if self.is_clock_setter(e) || Self::hit(&self.alone, e) || meta.save_restore {
            Exclusivity::Alone
        } else if meta.resources != 0 || Self::hit(&self.devices, e) {
            let builtin = if Self::hit(&self.devices, e) {
                DEVICE
            } else {
                0
            };
            Exclusivity::Resources(meta.resources | builtin)
        } else {
            Exclusivity::Shared
        }
    }
}

/// Reads `ltp.json` (LTP's metadata): per test, whether it saves and restores `/proc/sys`
/// values or the wall clock, and whether it needs a block device or huge pages.
pub fn parse_metadata(text: &str) -> Result<HashMap<String, Meta>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let tests = v
        .get("tests")
        .and_then(|t| t.as_object())
        .ok_or("no \"tests\" object")?;
    let truthy = |t: &serde_json::Value, k: &str| match t.get(k) {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => false,
        Some(serde_json::Value::String(s)) => s != "0",
        Some(serde_json::Value::Number(n)) => n.as_i64() != Some(0),
        Some(_) => true,
    };
    Ok(tests
        .iter()
        .map(|(name, t)| {
            let device = [
                "needs_device",
                "mount_device",
                "format_device",
                "all_filesystems",
            ]
            .iter()
            .any(|k| truthy(t, k));
            let resources = if device { DEVICE } else { 0 }
                | if truthy(t, "hugepages") { HUGEPAGES } else { 0 };
            let meta = Meta {
                save_restore: truthy(t, "save_restore"),
                restore_wallclock: truthy(t, "restore_wallclock"),
                resources,
            };
            (name.clone(), meta)
        })
        .collect())
}

/// The metadata of the LTP install at `ltproot`, if it has any.
pub fn load_metadata(ltproot: &Path) -> Result<Option<HashMap<String, Meta>>, String> {
    let path = ltproot.join("metadata/ltp.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_metadata(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, command: &str) -> Entry {
        Entry {
            name: name.into(),
            command: command.into(),
            line: 1,
        }
    }

    #[test]
    fn clock_setters() {
        let p = Policy::new(HashMap::new());
        for n in [
            "clock_settime01",
            "settimeofday02",
            "stime01",
            "leapsec01",
            "adjtimex03",
        ] {
            assert!(p.is_clock_setter(&entry(n, n)), "{n}");
            assert_eq!(p.exclusivity(&entry(n, n)), Exclusivity::Alone);
        }
        assert!(p.is_clock_setter(&entry("clock_adjtime01", "clock_adjtime01")));
        assert!(!p.is_clock_setter(&entry("clock_gettime01", "clock_gettime01")));
        // Matched by program as well as by name.
        assert!(p.is_clock_setter(&entry("x", "stime02 -i 2")));
    }

    #[test]
    fn system_wide_and_devices() {
        let mut meta = HashMap::new();
        let m = |save_restore, restore_wallclock, resources| Meta {
            save_restore,
            restore_wallclock,
            resources,
        };
        meta.insert("mount01".to_string(), m(false, false, DEVICE));
        meta.insert("newtest".to_string(), m(true, false, 0));
        meta.insert("newclock".to_string(), m(false, true, 0));
        meta.insert("huge".to_string(), m(false, false, HUGEPAGES | DEVICE));
        let p = Policy::new(meta);
        assert_eq!(
            p.exclusivity(&entry("sethostname01", "sethostname01")),
            Exclusivity::Alone
        );
        assert_eq!(
            p.exclusivity(&entry("swapon03", "swapon03")),
            Exclusivity::Alone
        );
        assert_eq!(
            p.exclusivity(&entry("setsockopt07", "setsockopt07")),
            Exclusivity::Alone
        );
        assert_eq!(
            p.exclusivity(&entry("newtest", "newtest")),
            Exclusivity::Alone
        );
        assert!(p.is_clock_setter(&entry("newclock", "newclock")));
        assert_eq!(
            p.exclusivity(&entry("newclock", "newclock")),
            Exclusivity::Alone
        );
        assert_eq!(
            p.exclusivity(&entry("mount01", "mount01")),
            Exclusivity::Resources(DEVICE)
        );
        assert_eq!(
            p.exclusivity(&entry("m1", "mount01 -i 2")),
            Exclusivity::Resources(DEVICE)
        );
        assert_eq!(
            p.exclusivity(&entry("huge", "huge")),
            Exclusivity::Resources(3)
        );
        assert_eq!(
            p.exclusivity(&entry("mount01_64", "mount01_64")),
            Exclusivity::Resources(DEVICE)
        );
        assert_eq!(
            p.exclusivity(&entry("open01", "open01")),
            Exclusivity::Shared
        );
    }

    #[test]
    fn metadata() {
        let json = r#"{"testsuite": {}, "tests": {
            "a": {"fname": "a.c", "needs_device": "1"},
            "b": {"save_restore": [["/proc/sys/x", "1", "TCONF"]]},
            "c": {"needs_root": "1", "mount_device": 0},
            "d": {"all_filesystems": true, "hugepages": [2, 1], "restore_wallclock": true}
        }}"#;
        let m = parse_metadata(json).unwrap();
        assert_eq!(
            m["a"],
            Meta {
                resources: DEVICE,
                ..Meta::default()
            }
        );
        assert_eq!(
            m["b"],
            Meta {
                save_restore: true,
                ..Meta::default()
            }
        );
        assert_eq!(m["c"], Meta::default());
        assert_eq!(m["d"].resources, DEVICE | HUGEPAGES);
        assert!(m["d"].restore_wallclock);
        assert!(parse_metadata("{}").is_err());
        assert!(parse_metadata("nope").is_err());
    }
}
