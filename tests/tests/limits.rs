// SPDX-License-Identifier: Apache-2.0
//! Resource limits that hold (issue 10): a fork bomb and a thread bomb under `--pids`, an
//! allocation bomb under `--memory`, a disk-filling loop under `--overlay-size`, a descriptor
//! leak under `--open-files` and ten thousand pipes under `--memory` each end with the errno
//! Linux gives at its limit, the sandbox still healthy after; a 2 GiB writev from unmapped
//! memory does not make the sentry hold 2 GiB.

use std::process::Command;

use tests::{guest, Linkage};

/// `sandbox run --host-root OPTS limits WHAT` (the guest lives in the build tree).
fn bomb(opts: &[&str], what: &str) -> tests::Outcome {
    let g = guest("limits", Linkage::Static);
    let mut cmd = Command::new(tests::sandbox_bin());
    cmd.args(["run", "--host-root", "--cwd", "/"])
        .args(tests::tmp_volumes())
        .args(opts)
        .arg(&g)
        .arg(what);
    tests::execute(cmd)
}

#[test]
fn a_fork_bomb_ends_with_eagain_under_pids() {
    let out = bomb(&["--pids", "64"], "forks");
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(
        out.stdout, "forks ended with EAGAIN after many\nfork after: ok\n",
        "{out}"
    );
}

#[test]
fn a_thread_bomb_ends_with_eagain_under_pids() {
    let out = bomb(&["--pids", "64"], "threads");
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(
        out.stdout, "threads ended with EAGAIN after many\n",
        "{out}"
    );
}

#[test]
fn an_allocation_bomb_ends_with_enomem_under_memory() {
    let out = bomb(&["--memory", "256M"], "memory");
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, "memory ended with ENOMEM after many\n", "{out}");
}

#[test]
fn filling_the_root_ends_with_enospc_under_overlay_size() {
    let out = bomb(&["--overlay-size", "64M"], "disk");
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, "disk ended with ENOSPC after many\n", "{out}");
}

#[test]
fn a_descriptor_leak_ends_with_emfile_under_open_files() {
    let out = bomb(&["--open-files", "100"], "fds");
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, "fds ended with EMFILE after many\n", "{out}");
}

#[test]
fn ten_thousand_pipes_end_with_enfile_under_memory() {
    let out = bomb(&["--memory", "48M", "--open-files", "100000"], "pipes");
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, "pipes ended with ENFILE after many\n", "{out}");
}

#[test]
fn a_huge_writev_from_bad_memory_holds_no_huge_buffer() {
    tests::require_tool("/usr/bin/time");
    let g = guest("limits", Linkage::Static);
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "maxrss %M"])
        .arg(tests::sandbox_bin())
        .args(["run", "--host-root", "--cwd", "/"])
        .args(tests::tmp_volumes())
        .arg(&g)
        .arg("writev");
    let out = tests::execute(cmd);
    assert_eq!(out.stdout, "writev EFAULT 20 times\n", "{out}");
    let kib: u64 = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss in {out}"));
    assert!(kib < 200 << 10, "the sandbox held {kib} KiB");
}

#[test]
fn ulimits_capabilities_no_new_privs_and_sysctls_apply_to_the_program() {
    let out = tests::sandbox_command([
        "run",
        "--ulimit",
        "nofile=100:200",
        "--ulimit",
        "core=unlimited",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "net_bind_service",
        "--no-new-privs",
        "--sysctl",
        "net.ipv4.ip_local_port_range=40000 41000",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; ulimit -c; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; \
         cat /proc/sys/net/ipv4/ip_local_port_range",
    ]);
    assert_eq!(
        out.stdout,
        "100\n200\nunlimited\nCapEff:\t0000000000000400\nCapBnd:\t0000000000000400\nNoNewPrivs:\t1\n40000\t41000\n",
        "{out}"
    );
    assert_eq!(out.status, 0, "{out}");
    // Bad values: one line each, nothing run.
    for (args, want) in [
        (vec!["--ulimit", "nofile=9:8"], "--ulimit nofile=9:8"),
        (vec!["--ulimit", "bogus=1"], "no such limit"),
        (vec!["--cap-drop", "NOPE"], "--cap-drop NOPE"),
        (vec!["--sysctl", "kernel.nope=1"], "no such setting"),
        (
            vec!["--sysctl", "net.ipv4.ping_group_range=x"],
            "Invalid argument",
        ),
    ] {
        let mut a = vec!["run"];
        a.extend(args);
        a.extend(["sh", "-c", "echo ran"]);
        let out = tests::sandbox_command(&a);
        assert_eq!(out.status, 125, "{out}");
        assert_eq!(out.stdout, "", "{out}");
        assert_eq!(out.stderr.lines().count(), 1, "{out}");
        assert!(out.stderr.contains(want), "{want}: {out}");
    }
}
