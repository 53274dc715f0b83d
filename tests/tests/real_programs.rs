// SPDX-License-Identifier: Apache-2.0
//! Real programs, run natively and under `sandbox run`: the "done when" list of the first
//! milestone (a read-only view of the host, no fork yet). Then the checks of `sandbox` itself
//! that have no native counterpart: exit statuses for crashes and bad programs, `--strace`,
//! `sandbox syscalls`.
//!
//! Each needs its host program (python3, busybox) and fails without it.

use tests::{guest, require_tool, sandbox_command, Linkage, Outcome, Run};

/// Runs `run` both ways, checks they agree, and returns the sandboxed outcome.
fn same(run: Run) -> Outcome {
    run.compare().1
}

#[test]
fn echo_hello() {
    let out = same(Run::new("/bin/echo").arg("hello"));
    assert_eq!(out.stdout, "hello\n");
    assert_eq!(out.status, 0);
}

#[test]
fn true_and_false() {
    assert_eq!(same(Run::new("/bin/true")).status, 0);
    assert_eq!(same(Run::new("/bin/false")).status, 1);
}

#[test]
fn ls_la_usr() {
    // Link counts, sizes and times are the host's own, seen through the read-only view.
    let out = same(Run::new("ls").args(["-la", "/usr"]));
    assert!(out.stdout.contains(" bin\n"), "{out}");
}

#[test]
fn cat_os_release() {
    let out = same(Run::new("cat").arg("/etc/os-release"));
    assert!(out.stdout.contains("ID="), "{out}");
}

#[test]
fn python3_sum() {
    require_tool("/usr/bin/python3");
    let out = same(Run::new("/usr/bin/python3").args(["-c", "print(sum(range(100)))"]));
    assert_eq!(out.stdout, "4950\n");
}

#[test]
fn sh_arithmetic_and_exit_status() {
    let out = same(Run::new("/bin/sh").args(["-c", "echo $((6*7)); exit 3"]));
    assert_eq!(out.stdout, "42\n");
    assert_eq!(out.status, 3);
}

#[test]
fn sh_builtins_in_a_directory() {
    let out = same(
        Run::new("/bin/sh").args(["-c", "cd /usr/include && pwd && test -d linux && echo yes"]),
    );
    assert_eq!(out.stdout, "/usr/include\nyes\n");
}

const BUSYBOX: &str = "/bin/busybox";

#[test]
fn busybox_echo() {
    require_tool(BUSYBOX);
    assert_eq!(same(Run::new(BUSYBOX).args(["echo", "hi"])).stdout, "hi\n");
}

#[test]
fn busybox_ls_usr() {
    require_tool(BUSYBOX);
    same(Run::new(BUSYBOX).args(["ls", "/usr"]));
}

#[test]
fn busybox_ls_l_etc() {
    require_tool(BUSYBOX);
    same(Run::new(BUSYBOX).args(["ls", "-l", "/etc"]));
}

#[test]
fn busybox_cat_os_release() {
    require_tool(BUSYBOX);
    same(Run::new(BUSYBOX).args(["cat", "/etc/os-release"]));
}

#[test]
fn busybox_sh() {
    require_tool(BUSYBOX);
    let out = same(Run::new(BUSYBOX).args(["sh", "-c", "echo $((6*7)); exit 5"]));
    assert_eq!(out.status, 5);
}

/// A NULL write kills the guest with SIGSEGV: 139, as a shell would report it.
fn null_deref(linkage: Linkage, sandboxed: bool) {
    let run = Run::new(guest("null_deref", linkage));
    let out = if sandboxed {
        run.compare().1
    } else {
        run.native()
    };
    assert_eq!(out.status, 139, "{out}");
    assert_eq!(out.stdout, "before the fault\n", "{out}");
}

#[test]
fn null_deref_static_native() {
    null_deref(Linkage::Static, false);
}

#[test]
fn null_deref_dynamic_native() {
    null_deref(Linkage::Dynamic, false);
}

#[test]
fn null_deref_static_sandbox() {
    null_deref(Linkage::Static, true);
}

#[test]
fn null_deref_dynamic_sandbox() {
    null_deref(Linkage::Dynamic, true);
}

/// `sandbox run` failed before the program started: one line on stderr and `status`.
fn assert_run_error(out: &Outcome, status: i32) {
    assert_eq!(out.status, status, "{out}");
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "expected exactly one line on stderr\n{out}"
    );
    assert!(out.stderr.ends_with('\n'), "{out}");
    assert_eq!(out.stdout, "", "{out}");
}

#[test]
fn sandbox_missing_program_is_127() {
    assert_run_error(&sandbox_command(["run", "/nonexistent/program"]), 127);
    assert_run_error(
        &sandbox_command(["run", "no-such-program-for-sandbox-tests"]),
        127,
    );
}

#[test]
fn sandbox_unloadable_program_is_126() {
    // Not executable, a directory, and executable but not an ELF file of ours.
    assert_run_error(&sandbox_command(["run", "/etc/passwd"]), 126);
    assert_run_error(&sandbox_command(["run", "/etc"]), 126);
}

#[test]
fn sandbox_bad_option_is_2() {
    let out = sandbox_command(["run", "--no-such-option", "/bin/true"]);
    assert_eq!(out.status, 2, "{out}");
}

#[test]
fn sandbox_strace_shows_exit_group() {
    let out = sandbox_command(["run", "--strace", "/bin/true"]);
    assert_eq!(out.status, 0, "{out}");
    assert!(out.stderr.contains("exit_group"), "{out}");
    assert_eq!(out.stdout, "", "strace goes to stderr\n{out}");
}

#[test]
fn sandbox_syscalls_table() {
    let out = sandbox_command(["syscalls"]);
    assert_eq!(out.status, 0, "{out}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.split_whitespace().any(|w| w == "read")),
        "{out}"
    );
}

#[test]
fn sandbox_first_process_is_pid_1() {
    let out = Run::new("/bin/sh").args(["-c", "echo $$"]).sandboxed();
    assert_eq!((out.status, out.stdout.as_str()), (0, "1\n"), "{out}");
}

#[test]
fn sandbox_writes_do_not_reach_the_host() {
    // The root is the host's, read-only, under the sandbox's own upper layer (and /tmp is a
    // tmpfs of the sandbox's): the write succeeds inside and the host never sees it.
    let probe = format!("/etc/sandbox-overlay-probe-{}", std::process::id());
    let out = Run::new("/bin/sh")
        .args(["-c", &format!("echo x > {probe} && cat {probe}")])
        .sandboxed();
    let leaked = std::path::Path::new(&probe).exists();
    let _ = std::fs::remove_file(&probe);
    assert!(
        !leaked,
        "the sandboxed shell created {probe} on the host\n{out}"
    );
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, "x\n", "{out}");
}
