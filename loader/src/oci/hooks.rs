// SPDX-License-Identifier: Apache-2.0
//! OCI hooks: host programs run at points of the lifecycle with the container's state on
//! their stdin, each within its timeout.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

/// Runs `hooks` (of lifecycle point `name`) in order; the first failure is the error.
pub fn run_all(name: &str, hooks: &[Hook], state: &str) -> Result<(), String> {
    for h in hooks {
        run_one(name, h, state)?;
    }
    Ok(())
}

fn run_one(name: &str, h: &Hook, state: &str) -> Result<(), String> {
    let path = h.path();
    let what = format!("{name} hook {}", path.display());
    let mut cmd = Command::new(path);
    if let Some(args) = h.args() {
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first).args(rest);
        }
    }
    cmd.env_clear();
    for kv in h.env().as_deref().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(|e| format!("{what}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is not an error.
        let _ = stdin.write_all(state.as_bytes());
    }
    let timeout = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) if s.success() => return Ok(()),
            Ok(Some(s)) => return Err(format!("{what} failed: {s}")),
            Ok(None) => {}
            Err(e) => return Err(format!("{what}: {e}")),
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what} timed out"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
