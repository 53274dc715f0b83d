// SPDX-License-Identifier: Apache-2.0
//! The "done when" list of the processes issue (issue 4): shells, make, python and signals,
//! each run natively and under `sandbox run` with stdout and exit status compared; then the
//! checks with no native counterpart: an orphan reaped by `--init`, and no stub process left
//! behind after the sandbox exits.
//!
//! Each needs its host program (bash, python3, make, gcc) and fails without it.

use std::path::Path;
use std::time::{Duration, Instant};

use tests::{guest, require_tool, sandbox_command, Linkage, Outcome, Run};

/// Runs `sh -c script` both ways, checks they agree, and returns the sandboxed outcome.
fn sh(script: &str) -> Outcome {
    Run::new("/bin/sh").args(["-c", script]).compare().1
}

#[test]
fn pipeline_seq_sort_head() {
    let out = sh("seq 1 20000 | sort -rn | head -3");
    assert_eq!(out.stdout, "20000\n19999\n19998\n", "{out}");
    assert_eq!(out.status, 0, "{out}");
}

#[test]
fn sleep_killed_by_term_is_143() {
    let out = sh("sleep 30 & kill -TERM $!; wait $!");
    assert_eq!(out.status, 143, "{out}");
    let out = sh("sleep 30 & kill -TERM $!; wait $!; echo \"status $?\"");
    assert_eq!(out.stdout, "status 143\n", "{out}");
}

#[test]
fn child_killed_by_sigsegv_reported_by_the_shell() {
    for linkage in [Linkage::Static, Linkage::Dynamic] {
        let prog = guest("null_deref", linkage);
        let run = Run::new("/bin/sh").args([
            "-c",
            "\"$0\"; s=$?; echo \"status $s\"; kill -l $((s - 128)); exit $s",
            prog.to_str().expect("a UTF-8 path"),
        ]);
        let out = run.compare().1;
        assert_eq!(out.stdout, "before the fault\nstatus 139\nSEGV\n", "{out}");
        assert_eq!(out.status, 139, "{out}");
    }
}

const BASH_SCRIPT: &str = r#"
f() { echo "in a subshell: $1"; return "$1"; }
( f 3 ); echo "subshell status $?"
x=$( (echo inner; exit 4) ); echo "captured '$x' status $?"
got=0
trap 'got=$((got + 1)); echo "USR1 trapped ($got)"' USR1
kill -USR1 $$
echo "after kill: $got"
( kill -USR1 $$ ); echo "after a subshell's kill: $got"
sleep 0.1 & p=$!
wait $p; echo "wait status $?"
(exit 7) & wait $!; echo "background status $?"
sleep 30 & p=$!
kill -TERM $p; wait $p; echo "killed status $?"
bash -c 'kill -KILL $$'; echo "SIGKILLed child status $?"
{ echo a; echo b; } | while read -r l; do echo "read $l"; done
trap - USR1
(trap 'echo "subshell USR2"; exit 9' USR2; kill -USR2 $BASHPID; sleep 5) ; echo "trapped subshell status $?"
sum=0 pids=
for i in 1 2 3; do (exit $i) & pids="$pids $!"; done
for j in $pids; do wait "$j"; sum=$((sum + $?)); done
echo "sum of statuses $sum"
exit 5
"#;

#[test]
fn bash_subshells_traps_kill_wait() {
    require_tool("/bin/bash");
    let out = Run::new("/bin/bash").args(["-c", BASH_SCRIPT]).compare().1;
    assert_eq!(out.status, 5, "{out}");
    assert!(out.stdout.contains("USR1 trapped (2)"), "{out}");
    assert!(out.stdout.contains("killed status 143"), "{out}");
    assert!(out.stdout.contains("sum of statuses 6"), "{out}");
}

/// A small C project built with `make -j2` in a fresh directory under /tmp (the host's natively,
/// the sandbox's own tmpfs inside), then run.
const MAKE_SCRIPT: &str = r#"
set -e
d=$(mktemp -d /tmp/make-j2.XXXXXX)
cd "$d"
printf '%s\n' 'int add(int a, int b);' > add.h
printf '%s\n' '#include "add.h"' 'int add(int a, int b) { return a + b; }' > add.c
printf '%s\n' 'int mul(int a, int b) { return a * b; }' > mul.c
printf '%s\n' '#include <stdio.h>' '#include "add.h"' 'int mul(int, int);' \
    'int main(void) { printf("add %d mul %d\n", add(2, 3), mul(6, 7)); return 0; }' > main.c
printf 'prog: main.o add.o mul.o\n\t$(CC) -o $@ $^\n%%.o: %%.c add.h\n\t$(CC) -O1 -c -o $@ $<\nclean:\n\trm -f prog *.o\n' > Makefile
make -s -j2 CC=gcc
./prog
make -q prog && echo "up to date"
touch -d '2000-01-01' add.h mul.c main.c add.c
make -s -j2 CC=gcc clean
make -s -j2 CC=gcc
./prog
ls
cd /
rm -rf "$d"
"#;

#[test]
fn make_j2_with_gcc() {
    require_tool("/usr/bin/make");
    require_tool("/usr/bin/gcc");
    let out = sh(MAKE_SCRIPT);
    assert_eq!(
        out.stdout,
        "add 5 mul 42\nup to date\nadd 5 mul 42\nMakefile\nadd.c\nadd.h\nadd.o\nmain.c\nmain.o\nmul.c\nmul.o\nprog\n",
        "{out}"
    );
    assert_eq!(out.status, 0, "{out}");
}

const PYTHON: &str = "/usr/bin/python3";

fn python(code: &str) -> Outcome {
    require_tool(PYTHON);
    Run::new(PYTHON).args(["-c", code]).compare().1
}

#[test]
fn python_eight_threads() {
    let code = r#"
import threading
lock = threading.Lock()
cond = threading.Condition(lock)
total = 0
arrived = 0
def work(n):
    global total, arrived
    for _ in range(2000):
        with lock:
            total += n
    with cond:
        arrived += 1
        cond.notify_all()
        while arrived < 8:
            cond.wait()
threads = [threading.Thread(target=work, args=(i,)) for i in range(1, 9)]
for t in threads: t.start()
for t in threads: t.join()
print("total", total, "arrived", arrived, "alive", threading.active_count())
"#;
    let out = python(code);
    assert_eq!(out.stdout, "total 72000 arrived 8 alive 1\n", "{out}");
}

#[test]
fn python_subprocess_run() {
    let code = r#"
import subprocess, sys
r = subprocess.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, text=True)
print(repr(r.stdout), repr(r.stderr), r.returncode)
try:
    subprocess.run(["sleep", "30"], timeout=0.3)
except subprocess.TimeoutExpired:
    print("timeout expired")
r = subprocess.run([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"])
print("killed", r.returncode)
print(subprocess.check_output("seq 3 | tac", shell=True, text=True).split())
"#;
    let out = python(code);
    assert_eq!(
        out.stdout, "'out\\n' 'err\\n' 3\ntimeout expired\nkilled -9\n['3', '2', '1']\n",
        "{out}"
    );
}

#[test]
fn python_multiprocessing_pool() {
    let code = r#"
import multiprocessing, os
def square(x):
    return x * x, os.getpid() != parent
parent = os.getpid()
if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        results = pool.map(square, range(20))
    print(sum(r[0] for r in results), all(r[1] for r in results))
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=q.put, args=("from a child",))
    p.start(); print(q.get()); p.join(); print("exitcode", p.exitcode)
"#;
    let out = python(code);
    assert_eq!(out.stdout, "2470 True\nfrom a child\nexitcode 0\n", "{out}");
}

/// `--init`: PID 1 is the sentry's init, the program PID 2; an orphaned grandchild that exits is
/// reaped, so no zombie stays in the process table.
#[test]
fn init_reaps_an_orphaned_grandchild() {
    let script = r#"
echo "pid $$"
sh -c 'sleep 0.2 & exit 0'
sleep 1
zombies=0
for f in /proc/[0-9]*/stat; do
    read -r pid comm state rest < "$f" || continue
    [ "$state" = Z ] && zombies=$((zombies + 1))
done
echo "zombies $zombies"
"#;
    let out = sandbox_command(["run", "--init", "/bin/sh", "-c", script]);
    assert_eq!(out.stdout, "pid 2\nzombies 0\n", "{out}");
    assert_eq!(out.status, 0, "{out}");
    // Without --init the shell itself is PID 1 and gets the orphan; it must be able to wait.
    let out = sandbox_command([
        "run",
        "/bin/sh",
        "-c",
        "sh -c 'sleep 0.2 & exit 0'; sleep 0.5; wait; echo \"pid $$ done\"",
    ]);
    assert_eq!(out.stdout, "pid 1 done\n", "{out}");
}

/// Whether host process `base` (a /proc/PID directory) is a stub: it runs `sandbox-stub`,
/// which the sentry starts from a memfd (comm `memfd:sandbox-s`, empty cmdline).
fn is_stub(base: &Path) -> Option<String> {
    let comm = std::fs::read_to_string(base.join("comm")).unwrap_or_default();
    let cmdline = std::fs::read(base.join("cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    (comm.starts_with("memfd:sandbox") || cmdline.contains("sandbox-stub"))
        .then(|| format!("comm {:?} cmdline {:?}", comm.trim_end(), cmdline))
}

/// Stub processes whose parent is this test process: with this process a child subreaper, a
/// stub that outlives its sandbox ends up here. Zombies (already dead) are reaped, not listed.
fn orphaned_stubs() -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let base = Path::new("/proc").join(pid.to_string());
        let Ok(stat) = std::fs::read_to_string(base.join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so parse after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (state, ppid) = (fields.first().copied(), fields.get(1).copied());
        if ppid != Some(&me.to_string()) {
            continue;
        }
        let Some(what) = is_stub(&base) else {
            continue;
        };
        if state == Some("Z") {
            // SAFETY: reaping a dead stub adopted by this process.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
            continue;
        }
        found.push((pid, format!("state {} {what}", state.unwrap_or("?"))));
    }
    found
}

#[test]
fn no_stub_left_behind() {
    // Orphans of this process's descendants come to it instead of the host's init.
    // SAFETY: a plain prctl on the calling process.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(r, 0, "PR_SET_CHILD_SUBREAPER");
    let cases: &[&[&str]] = &[
        &["run", "/bin/sh", "-c", "sleep 100 & exit 0"],
        &["run", "/bin/sh", "-c", "sleep 100 & sleep 100 & kill -KILL $$"],
        &["run", "/bin/sh", "-c", "(sleep 100 &) ; (trap '' TERM; sleep 100) & exit 3"],
        &["run", "--init", "/bin/sh", "-c", "sleep 100 & exit 0"],
        &[
            "run",
            "/usr/bin/python3",
            "-c",
            "import threading, time, os\nfor _ in range(4): threading.Thread(target=time.sleep, args=(100,)).start()\nos.fork() or time.sleep(100)\nos._exit(0)",
        ],
    ];
    let mut problems = Vec::new();
    for args in cases {
        let start = Instant::now();
        let out = sandbox_command(*args);
        let took = start.elapsed();
        if out.timed_out || took > Duration::from_secs(60) {
            problems.push(format!("did not exit promptly ({took:?})\n{out}"));
        }
        if out.pipes_left_open {
            problems.push(format!("something kept stdout/stderr open\n{out}"));
        }
        // Give a stub killed with the sandbox a moment to go.
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut left = orphaned_stubs();
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            left = orphaned_stubs();
        }
        if !left.is_empty() {
            for (pid, _) in &left {
                // SAFETY: killing a leftover stub that is our own (adopted) child.
                unsafe {
                    libc::kill(*pid, libc::SIGKILL);
                    libc::waitpid(*pid, std::ptr::null_mut(), 0);
                }
            }
            problems.push(format!(
                "`sandbox {}` left {} stub process(es) behind: {:?}",
                args.join(" "),
                left.len(),
                left
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// The sandbox's own wall clock (issue 14): a program sets it and sees the new time through
/// the vDSO, the system calls, a child and a new image, timers and timerfds follow it, and the
/// host's clock does not move. Sandbox only (natively it would set the host's clock): the
/// guest checks Linux's documented behaviour, and the LTP's clock tests check the rest.
#[test]
fn setting_the_clock_moves_only_the_sandboxs() {
    let (wall, mono) = (std::time::SystemTime::now(), Instant::now());
    for linkage in [Linkage::Static, Linkage::Dynamic] {
        let out = Run::new(guest("clock_set", linkage)).sandboxed();
        assert_eq!(out.status, 0, "{out}");
        assert!(out.stdout.contains("year 2100\n"), "{out}");
        assert!(out.stdout.contains("0 failed"), "{out}");
    }
    // The host's wall clock went on with its monotonic clock.
    let expected = wall + mono.elapsed();
    let now = std::time::SystemTime::now();
    let drift = now
        .duration_since(expected)
        .or_else(|_| expected.duration_since(now))
        .unwrap_or_default();
    assert!(
        drift < Duration::from_secs(2),
        "the host's clock moved by {drift:?}"
    );
}
