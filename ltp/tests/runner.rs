//! Runs the `ltp` binary on a fake LTP tree (tests/fakeltp: shell scripts that pass, fail,
//! TCONF, hang, ...), natively and under a fake `sandbox` script, so that CI exercises the
//! runner without LTP installed.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

struct Fake {
    _dir: tempfile::TempDir,
    /// The fake LTPROOT.
    root: PathBuf,
    /// Shared scratch directory the fake tests use to see each other.
    state: PathBuf,
    tmp: PathBuf,
    out: PathBuf,
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

fn fake() -> Fake {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ltp");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakeltp"),
        &root,
    );
    // Scripts must be executable whatever the checkout did to their modes.
    let mut scripts: Vec<PathBuf> = fs::read_dir(root.join("testcases/bin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    scripts.push(root.join("fake-sandbox"));
    for s in scripts {
        fs::set_permissions(&s, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let state = dir.path().join("state");
    let tmp = dir.path().join("tmp");
    fs::create_dir_all(&state).unwrap();
    fs::create_dir_all(&tmp).unwrap();
    let out = dir.path().join("out");
    Fake {
        _dir: dir,
        root,
        state,
        tmp,
        out,
    }
}

impl Fake {
    fn sandbox(&self) -> String {
        self.root.join("fake-sandbox").display().to_string()
    }

    fn expected(&self) -> String {
        self.root.join("expected.toml").display().to_string()
    }

    fn skip_hang(&self) -> String {
        let p = self.root.join("skip-hang");
        fs::write(&p, "# too slow for most tests\nhang01\n").unwrap();
        p.display().to_string()
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ltp"));
        c.arg("--ltproot")
            .arg(&self.root)
            .args(if args.contains(&"--runtest") {
                &[][..]
            } else {
                &["--runtest", "fake"][..]
            })
            .arg("--out")
            .arg(&self.out)
            .arg("--tmpdir")
            .arg(&self.tmp)
            .arg("--env")
            .arg(format!("STATE={}", self.state.display()))
            .args(["--env", "EXTRA=a b"])
            .args(args)
            .env_remove("LTPROOT")
            .env("LTP_FAKE_SETTING", "on")
            .env("NOT_PASSED_THROUGH", "1");
        let out = c.output().unwrap();
        eprintln!(
            "ltp {args:?}: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// results.tsv as name -> column -> value.
    fn results(&self) -> HashMap<String, HashMap<String, String>> {
        let text = fs::read_to_string(self.out.join("results.tsv")).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        lines
            .map(|l| {
                let fields: Vec<&str> = l.split('\t').collect();
                assert_eq!(fields.len(), header.len(), "{l}");
                let row: HashMap<String, String> = header
                    .iter()
                    .zip(&fields)
                    .map(|(h, f)| (h.to_string(), f.to_string()))
                    .collect();
                (fields[0].to_string(), row)
            })
            .collect()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_col(r: &HashMap<String, HashMap<String, String>>, col: &str, want: &[(&str, &str)]) {
    for (name, outcome) in want {
        let row = r
            .get(*name)
            .unwrap_or_else(|| panic!("{name} missing from results.tsv"));
        assert_eq!(
            row[col], *outcome,
            "{name}: {col} is {}, hint {}",
            row[col], row["hint"]
        );
    }
}

#[test]
fn native_run_classifies_every_kind_of_result() {
    let f = fake();
    let skip = f.skip_hang();
    let o = f.run(&["--native", "-j", "4", "--skip", &skip]);
    assert_eq!(o.status.code(), Some(0));
    let r = f.results();
    assert_eq!(r.len(), 20);
    assert_col(
        &r,
        "native",
        &[
            ("pass01", "pass"),
            ("fail01", "fail"),
            ("conf01", "conf"),
            ("broken01", "broken"),
            ("warn01", "warn"),
            ("oldpass01", "pass"),
            ("oldfail01", "fail"),
            ("shell01", "pass"),
            ("env01", "pass"),
            ("settimeofday01", "skipped"),
            ("slow01", "pass"),
            ("slow04", "pass"),
            ("sethostname01", "pass"),
            ("missing01", "broken"),
            ("sbxerr01", "pass"),
            ("hang01", "skipped"),
        ],
    );
    assert_eq!(r["fail01"]["native_exit"], "1");
    assert_eq!(r["conf01"]["native_exit"], "32");
    assert_eq!(r["missing01"]["native_exit"], "127");
    assert_eq!(r["pass01"]["sandbox"], "-");
    assert_eq!(
        r["fail01"]["hint"],
        "fake_fail.c:10: TFAIL: read() returned 3, expected 4"
    );
    assert!(r["settimeofday01"]["hint"].contains("wall clock"));
    assert!(r["hang01"]["hint"].contains("skip list"));

    // Logs: the output of each test, stdout and stderr together, for a native-only run as
    // NAME.log.
    let log = fs::read_to_string(f.out.join("logs/pass01.log")).unwrap();
    assert!(
        log.contains("TPASS: it works") && log.contains("Summary:"),
        "{log}"
    );
    assert!(log.contains("# ltp: pass (exit 0)"), "{log}");
    let summary = fs::read_to_string(f.out.join("summary.md")).unwrap();
    assert!(summary.contains("| pass | 12 |"), "{summary}");
    assert!(summary.contains("## Not passing natively (5)"), "{summary}");
    assert!(!summary.contains("Regressions"), "{summary}");
    // Every per-test TMPDIR is gone.
    assert_eq!(fs::read_dir(&f.tmp).unwrap().count(), 0);
    // One progress line per test when stderr is not a terminal.
    assert!(stderr(&o).contains("[native 20/20]"), "{}", stderr(&o));
}

#[test]
fn sandbox_run_meets_the_expected_list() {
    let f = fake();
    let skip = f.skip_hang();
    let (sandbox, expected) = (f.sandbox(), f.expected());
    let o = f.run(&[
        "--sandbox",
        &sandbox,
        "--expected",
        &expected,
        "-j",
        "3",
        "--skip",
        &skip,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let r = f.results();
    assert_col(
        &r,
        "sandbox",
        &[
            ("pass01", "pass"),
            ("fail01", "fail"),
            ("conf01", "conf"),
            ("env01", "pass"),
            // Clock setters run in the sandbox.
            ("settimeofday01", "pass"),
            ("sethostname01", "pass"),
            ("missing01", "broken"),
            ("sbxerr01", "sandbox-error"),
            ("sbxcrash01", "sandbox-error"),
        ],
    );
    assert_col(
        &r,
        "verdict",
        &[
            ("pass01", "ok"),
            ("conf01", "ok"),
            ("fail01", "expected"),
            ("sbxerr01", "expected"),
        ],
    );
    assert_eq!(r["sbxcrash01"]["sandbox_exit"], "sig11");
    assert_eq!(
        r["sbxerr01"]["hint"],
        "sandbox: simulated failure: cannot start the gofer"
    );
    assert_eq!(r["pass01"]["native"], "-");
    assert!(f.out.join("logs/sbxerr01.log").is_file());
    let log = fs::read_to_string(f.out.join("logs/env01.log")).unwrap();
    assert!(log.contains("run --init --clear-env"), "{log}");
    // hang01 is listed but was not run: not "now passing".
    assert!(!stdout(&o).contains("now passing"), "{}", stdout(&o));
}

#[test]
fn sandbox_failures_are_regressions_without_a_list() {
    let f = fake();
    let sandbox = f.sandbox();
    let list = f.out.with_file_name("written.toml");
    let filter = "^(pass01|fail01|conf01|sbxerr01)$";
    let o = f.run(&[
        "--sandbox",
        &sandbox,
        "--no-expected",
        "--filter",
        filter,
        "--write-expected",
        list.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("REGRESSION: fail01: fail (native: unknown)"),
        "{out}"
    );
    assert!(out.contains("REGRESSION: sbxerr01: sandbox-error"), "{out}");
    assert!(
        !out.contains("REGRESSION: pass01") && !out.contains("REGRESSION: conf01"),
        "{out}"
    );
    assert!(out.contains("2 regression(s)"), "{out}");
    let summary = fs::read_to_string(f.out.join("summary.md")).unwrap();
    assert!(summary.contains("## Regressions (2)"), "{summary}");

    // The list written from the run lists the two, with the line that says why, and makes
    // the same run pass.
    let written = fs::read_to_string(&list).unwrap();
    assert!(
        written.contains(
            "fail01 = { outcome = \"fail\", reason = \"fake_fail.c:10: TFAIL: read() returned 3, expected 4\" }"
        ),
        "{written}"
    );
    assert!(
        written.contains("sbxerr01 = { outcome = \"sandbox-error\", reason = \"sandbox: simulated"),
        "{written}"
    );
    let o = f.run(&[
        "--sandbox",
        &sandbox,
        "--expected",
        list.to_str().unwrap(),
        "--filter",
        filter,
    ]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn both_modes_then_a_baseline() {
    let f = fake();
    let sandbox = f.sandbox();
    let filter = "^(pass01|fail01|sbxerr01|settimeofday01|env01)$";
    let o = f.run(&[
        "--both",
        "--sandbox",
        &sandbox,
        "--no-expected",
        "--filter",
        filter,
    ]);
    // sbxerr01 passes natively and not in the sandbox: a regression; fail01 fails both ways.
    assert_eq!(o.status.code(), Some(1));
    let r = f.results();
    assert_col(
        &r,
        "native",
        &[
            ("pass01", "pass"),
            ("fail01", "fail"),
            ("sbxerr01", "pass"),
            ("settimeofday01", "skipped"),
        ],
    );
    assert_col(
        &r,
        "sandbox",
        &[
            ("pass01", "pass"),
            ("fail01", "fail"),
            ("sbxerr01", "sandbox-error"),
            ("env01", "pass"),
        ],
    );
    assert_col(
        &r,
        "verdict",
        &[
            ("pass01", "ok"),
            ("fail01", "ok"),
            ("sbxerr01", "regression"),
            ("settimeofday01", "ok"),
        ],
    );
    assert!(stdout(&o).contains("score: 2/3"), "{}", stdout(&o));
    assert!(f.out.join("logs/pass01.native.log").is_file());
    assert!(f.out.join("logs/pass01.log").is_file());
    let summary = fs::read_to_string(f.out.join("summary.md")).unwrap();
    assert!(
        summary.contains("| sbxerr | sbxerr01 (sandbox-error) |"),
        "{summary}"
    );
    assert!(
        summary.contains("2 of the 3 tests that pass natively"),
        "{summary}"
    );

    // The same comparison from the saved native results, with sbxerr01 listed as expected and
    // pass01 listed although it passes.
    let baseline = f.out.with_file_name("baseline.tsv");
    fs::copy(f.out.join("results.tsv"), &baseline).unwrap();
    let list = f.out.with_file_name("expected.toml");
    fs::write(
        &list,
        "[tests]\nsbxerr01 = { outcome = \"sandbox-error\", reason = \"on purpose\" }\n\
         pass01 = { outcome = \"fail\", reason = \"stale\" }\n\
         gone01 = { outcome = \"fail\", reason = \"no such test\" }\n",
    )
    .unwrap();
    let o = f.run(&[
        "--sandbox",
        &sandbox,
        "--baseline",
        baseline.to_str().unwrap(),
        "--expected",
        list.to_str().unwrap(),
        "--filter",
        filter,
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("now passing; remove from the expected list: pass01"));
    let r = f.results();
    assert_col(&r, "native", &[("pass01", "pass"), ("fail01", "fail")]);
    assert_eq!(r["pass01"]["native_exit"], "-");
    assert_col(
        &r,
        "verdict",
        &[("pass01", "now-passing"), ("sbxerr01", "expected")],
    );
    let summary = fs::read_to_string(f.out.join("summary.md")).unwrap();
    assert!(summary.contains("## Now passing (1)"), "{summary}");
    assert!(
        summary.contains("not in the runtest file (1)\n\n- gone01"),
        "{summary}"
    );
}

#[test]
fn init_can_be_left_out() {
    let f = fake();
    let sandbox = f.sandbox();
    let o = f.run(&["--sandbox", &sandbox, "--no-expected", "--filter", "env01"]);
    assert_eq!(o.status.code(), Some(0));
    let o = f.run(&[
        "--sandbox",
        &sandbox,
        "--no-expected",
        "--filter",
        "env01",
        "--no-init",
        "--env",
        "EXPECT_INIT=0",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let log = fs::read_to_string(f.out.join("logs/env01.log")).unwrap();
    assert!(log.contains("run --clear-env"), "{log}");
}

#[test]
fn nothing_a_test_starts_outlives_it() {
    let f = fake();
    let start = Instant::now();
    let o = f.run(&[
        "--native",
        "--filter",
        "^(hang01|leak01)$",
        "--timeout",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(start.elapsed() < Duration::from_secs(10));
    let r = f.results();
    assert_col(&r, "native", &[("hang01", "timeout"), ("leak01", "pass")]);
    assert_eq!(r["hang01"]["native_exit"], "timeout");
    // The tests' children would have written these after 3 s had they survived: in the
    // test's process group, in a session of their own, orphaned.
    std::thread::sleep(Duration::from_millis(3500));
    let left: Vec<_> = fs::read_dir(&f.state)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn bad_input_is_a_one_line_error() {
    let f = fake();
    let check = |o: Output, want: &str| {
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert!(err.starts_with("ltp: ") && err.contains(want), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    };
    let o = Command::new(env!("CARGO_BIN_EXE_ltp"))
        .args(["--ltproot", "/nonexistent/ltp", "--native"])
        .output()
        .unwrap();
    check(o, "LTPROOT /nonexistent/ltp");
    let o = Command::new(env!("CARGO_BIN_EXE_ltp"))
        .arg("--ltproot")
        .arg(f.root.join("runtest"))
        .arg("--native")
        .output()
        .unwrap();
    check(o, "no testcases/bin");
    check(
        f.run(&["--native", "--runtest", "nosuch"]),
        "cannot read runtest file",
    );
    check(f.run(&["--native", "--filter", "re:("]), "bad pattern");
    check(f.run(&["--native", "--filter", "zzz*"]), "no test");
    check(
        f.run(&["--sandbox", "/nonexistent/sandbox"]),
        "--sandbox /nonexistent/sandbox",
    );
    let bad = f.root.join("bad.toml");
    fs::write(
        &bad,
        "[tests]\nx = { outcome = \"great\", reason = \"r\" }\n",
    )
    .unwrap();
    let sandbox = f.sandbox();
    check(
        f.run(&["--sandbox", &sandbox, "--expected", bad.to_str().unwrap()]),
        "unknown outcome",
    );
    // Without --ltproot or LTPROOT, clap says so.
    let o = Command::new(env!("CARGO_BIN_EXE_ltp"))
        .env_remove("LTPROOT")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--ltproot"));
}
