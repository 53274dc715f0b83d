//! Finding and killing every process a test started.
//!
//! Killing the test's process group is not enough: LTP's library runs the test proper in a
//! process group of its own (so that its own timeout can kill it), and tests fork, daemonise
//! and call setsid. So each test's environment carries a tag (`LTPRUN_TAG`), and when the test
//! ends the runner kills every process that is a descendant of the test's first process or
//! whose environment holds the tag (processes reparented to init keep their environment),
//! until none is left.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::Duration;

/// The environment variable that marks a test's processes.
pub const TAG_VAR: &str = "LTPRUN_TAG";

/// The tag of one test run: unique to this runner process and the run.
pub fn tag(run: usize, mode: &str) -> String {
    format!("{}-{mode}-{run}", std::process::id())
}

/// The tag prefix shared by every test of this runner process.
pub fn runner_tag_prefix() -> String {
    format!("{}-", std::process::id())
}

struct Proc {
    ppid: libc::pid_t,
    pgid: libc::pid_t,
    zombie: bool,
}

/// Every process of the system: pid -> (parent, process group, zombie?).
fn processes() -> HashMap<libc::pid_t, Proc> {
    let mut out = HashMap::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let (Some(ppid), Some(pgid)) = (
            fields.next().and_then(|p| p.parse().ok()),
            fields.next().and_then(|p| p.parse().ok()),
        ) else {
            continue;
        };
        let zombie = state == "Z" || state == "X";
        out.insert(pid, Proc { ppid, pgid, zombie });
    }
    out
}

/// True if the environment of `pid` holds `TAG_VAR=<value starting with prefix>`.
fn has_tag(pid: libc::pid_t, prefix: &str) -> bool {
    let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let want = format!("{TAG_VAR}={prefix}");
    env.split(|&b| b == 0)
        .any(|kv| kv.starts_with(want.as_bytes()))
}

/// The live processes of a test: `leader` and its descendants, and every process tagged with
/// a tag that starts with `tag_prefix`, with their process groups. Never this process.
fn members(leader: Option<libc::pid_t>, tag_prefix: &str) -> Vec<(libc::pid_t, libc::pid_t)> {
    let procs = processes();
    let me = std::process::id() as libc::pid_t;
    let mut found: HashSet<libc::pid_t> = HashSet::new();
    if let Some(leader) = leader {
        let mut children: HashMap<libc::pid_t, Vec<libc::pid_t>> = HashMap::new();
        for (&pid, p) in &procs {
            children.entry(p.ppid).or_default().push(pid);
        }
        let mut stack = vec![leader];
        while let Some(pid) = stack.pop() {
            if found.insert(pid) {
                stack.extend(children.get(&pid).into_iter().flatten());
            }
        }
    }
    for &pid in procs.keys() {
        if !found.contains(&pid) && has_tag(pid, tag_prefix) {
            found.insert(pid);
        }
    }
    let mut v: Vec<_> = found
        .into_iter()
        .filter(|pid| *pid != me)
        .filter_map(|pid| procs.get(&pid).filter(|p| !p.zombie).map(|p| (pid, p.pgid)))
        .collect();
    v.sort_unstable();
    v
}

/// Kills `leader`'s process group, its descendants and every process tagged with a tag that
/// starts with `tag_prefix`, over and over until none is left alive (a test may be forking
/// while it dies). Returns the processes that would not die. `leader` must not have been
/// reaped yet, so that its id (and group id) is still its own.
pub fn kill_all(leader: Option<libc::pid_t>, tag_prefix: &str) -> Vec<libc::pid_t> {
    if let Some(leader) = leader {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe { libc::kill(-leader, libc::SIGKILL) };
    }
    // SAFETY: getpgrp(2) cannot fail and touches no memory.
    let own_group = unsafe { libc::getpgrp() };
    let mut left = Vec::new();
    for round in 0..50u32 {
        left = members(leader, tag_prefix);
        if left.is_empty() {
            break;
        }
        // Whole groups first: that also gets what they fork meanwhile.
        let groups: HashSet<libc::pid_t> = left.iter().map(|&(_, g)| g).collect();
        for g in groups.into_iter().filter(|&g| g > 1 && g != own_group) {
            // SAFETY: as above. The group held a process of the test a moment ago; a group id
            // reused in between is the accepted risk of every pkill-like tool.
            unsafe { libc::kill(-g, libc::SIGKILL) };
        }
        for &(pid, _) in &left {
            // SAFETY: as above, for a single process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(u64::from(round.min(20)) * 5 + 1));
    }
    left.into_iter().map(|(pid, _)| pid).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    #[test]
    fn kills_escaped_and_orphaned_processes() {
        let tag = format!("{}-test-{}", std::process::id(), line!());
        // A child that starts a grandchild in a new session (out of the group) and one in a
        // subshell, both sleeping long; once the child exits both are out of its tree too.
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg("command -v setsid >/dev/null && setsid sleep 1000 & (sleep 1001 & wait) & sleep 0.2")
            .env(TAG_VAR, &tag)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let leader = child.id() as libc::pid_t;
        std::thread::sleep(Duration::from_millis(400));
        let before = members(Some(leader), &tag);
        assert!(before.len() >= 2, "{before:?}");
        let left = kill_all(Some(leader), &tag);
        assert!(left.is_empty(), "{left:?}");
        child.wait().unwrap();
        assert!(members(None, &tag).is_empty());
        for (pid, _) in before {
            assert!(!has_tag(pid, &tag), "{pid} survived");
        }
    }

    #[test]
    fn never_lists_this_process() {
        let me = std::process::id() as libc::pid_t;
        let parent = std::os::unix::process::parent_id() as libc::pid_t;
        assert!(!members(Some(parent), "no-such-tag")
            .iter()
            .any(|&(pid, _)| pid == me));
    }
}
