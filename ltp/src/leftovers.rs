//! Undoing what a test leaves on the host when it is killed before its cleanup: mounts, swap
//! files and loop devices under its TMPDIR. LTP tests mount file systems on loop devices
//! backed by files in their TMPDIR and turn on swap files there; a test killed at the timeout
//! leaves them behind, and they would outlive the run (and make its TMPDIR unremovable).

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `LOOP_CLR_FD` from `<linux/loop.h>`.
const LOOP_CLR_FD: libc::c_ulong = 0x4C01;

/// Decodes the octal escapes (`\040` for a space) of /proc/self/mountinfo and /proc/swaps.
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True if `path` is `dir` or below it.
fn under(path: &str, dir: &str) -> bool {
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Mount points under `dir`, from the text of /proc/self/mountinfo, deepest first.
pub fn mounts_under(mountinfo: &str, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .filter(|m| under(m, dir))
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.len()));
    v.dedup();
    v
}

/// Swap files under `dir`, from the text of /proc/swaps.
pub fn swaps_under(swaps: &str, dir: &str) -> Vec<String> {
    swaps
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(unescape)
        .filter(|f| under(f, dir))
        .collect()
}

/// The loop devices (`loop3`) whose backing file is under `dir`.
fn loops_under(dir: &str) -> Vec<String> {
    let Ok(entries) = fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with("loop"))
        .filter(|n| {
            fs::read_to_string(format!("/sys/block/{n}/loop/backing_file")).is_ok_and(|f| {
                let f = f.trim_end();
                under(f.strip_suffix(" (deleted)").unwrap_or(f), dir)
            })
        })
        .collect()
}

fn c_path(p: &str) -> Option<CString> {
    CString::new(Path::new(p).as_os_str().as_bytes()).ok()
}

/// Turns off swap files, detaches mounts and releases loop devices under `dir`; says what it
/// did, one line each.
pub fn release(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    let mut done = Vec::new();
    let swaps = fs::read_to_string("/proc/swaps").unwrap_or_default();
    for f in swaps_under(&swaps, &dir) {
        let Some(c) = c_path(&f) else { continue };
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
        if unsafe { libc::swapoff(c.as_ptr()) } == 0 {
            done.push(format!("swapoff {f}"));
        }
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for m in mounts_under(&mountinfo, &dir) {
        let Some(c) = c_path(&m) else { continue };
        // SAFETY: as above.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {
            done.push(format!("umount {m}"));
        }
    }
    for dev in loops_under(&dir) {
        let Ok(f) = fs::OpenOptions::new()
            .read(true)
            .open(format!("/dev/{dev}"))
        else {
            continue;
        };
        use std::os::fd::AsRawFd;
        // SAFETY: LOOP_CLR_FD takes no argument and touches no memory of ours; the fd is open
        // for the duration of the call. (A device still in use is cleared when released.)
        if unsafe { libc::ioctl(f.as_raw_fd(), LOOP_CLR_FD, 0) } == 0 {
            done.push(format!("detach /dev/{dev}"));
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes() {
        assert_eq!(unescape(r"/a\040b/c"), "/a b/c");
        assert_eq!(unescape(r"/a\134b"), r"/a\b");
        assert_eq!(unescape(r"/x\0"), r"/x\0");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn finds_mounts_under_a_directory() {
        let info = "\
36 35 98:0 / / rw,noatime master:1 - ext4 /dev/root rw
100 36 7:1 / /var/tmp/ltp-1/mount01/LTP_x/mntpoint rw - ext2 /dev/loop1 rw
101 100 0:50 / /var/tmp/ltp-1/mount01/LTP_x/mntpoint/sub rw - tmpfs t rw
102 36 7:2 / /var/tmp/ltp-1/mount011/m rw - ext2 /dev/loop2 rw
103 36 0:51 / /var/tmp/ltp-1/mount01/a\\040b rw - tmpfs t rw
";
        assert_eq!(
            mounts_under(info, "/var/tmp/ltp-1/mount01"),
            [
                "/var/tmp/ltp-1/mount01/LTP_x/mntpoint/sub",
                "/var/tmp/ltp-1/mount01/LTP_x/mntpoint",
                "/var/tmp/ltp-1/mount01/a b",
            ]
        );
        assert!(mounts_under(info, "/nowhere").is_empty());
    }

    #[test]
    fn finds_swaps_under_a_directory() {
        let swaps = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
                     /dev/vdb                                partition\t1048572\t\t0\t\t-2\n\
                     /var/tmp/ltp-1/swapon01/LTP_x/swapfile01 file\t\t65532\t\t0\t\t-3\n";
        assert_eq!(
            swaps_under(swaps, "/var/tmp/ltp-1/swapon01"),
            ["/var/tmp/ltp-1/swapon01/LTP_x/swapfile01"]
        );
        assert!(swaps_under(swaps, "/var/tmp/ltp-1/swapon0").is_empty());
    }

    #[test]
    fn releases_nothing_where_there_is_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(release(dir.path()).is_empty());
    }
}
