//! What a run leaves behind: results.tsv, summary.md, and the progress line while it runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::classify::Outcome;
use crate::expected::{Expectation, Verdict};
use crate::runner::TestResult;
use crate::runtest::Entry;

/// Everything known about one test after a run.
#[derive(Clone, Debug)]
pub struct Row {
    pub entry: Entry,
    pub sandbox: Option<TestResult>,
    pub native: Option<TestResult>,
    pub expected: Option<Expectation>,
    pub verdict: Option<Verdict>,
}

/// Facts about the run, for the summary's header.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    pub runtest: String,
    pub runtest_total: usize,
    pub ltproot: String,
    pub ltp_version: Option<String>,
    pub host_kernel: String,
    /// Where the kernel config given to LTP came from.
    pub kernel_config: Option<String>,
    pub sandbox: Option<String>,
    pub sandbox_kernel: Option<String>,
    pub init: bool,
    pub jobs: usize,
    pub timeout: Duration,
    pub started: String,
    pub native_wall: Option<Duration>,
    pub sandbox_wall: Option<Duration>,
    /// Where the native column came from when it was not run now.
    pub baseline: Option<String>,
    pub expected_file: Option<String>,
    /// Names in the expected list that the runtest file does not have.
    pub stale_expected: Vec<String>,
}

/// The columns of results.tsv.
pub const TSV_HEADER: &str =
    "name\tsandbox\tsandbox_exit\tsandbox_s\tnative\tnative_exit\tnative_s\texpected\tverdict\thint";

fn tsv_field(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// results.tsv: one line per test; `-` where a column does not apply.
pub fn tsv(rows: &[Row]) -> String {
    let mut out = String::from(TSV_HEADER);
    out.push('\n');
    let cols = |r: Option<&TestResult>| match r {
        None => ["-".to_string(), "-".to_string(), "-".to_string()],
        Some(r) => [
            r.outcome.to_string(),
            r.termination
                .as_ref()
                .map_or("-".to_string(), |t| t.to_string()),
            if r.termination.is_some() {
                format!("{:.2}", r.seconds)
            } else {
                "-".to_string()
            },
        ],
    };
    for row in rows {
        let s = cols(row.sandbox.as_ref());
        let n = cols(row.native.as_ref());
        let hint = row
            .sandbox
            .as_ref()
            .and_then(|r| r.hint.clone())
            .or_else(|| row.native.as_ref().and_then(|r| r.hint.clone()))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            tsv_field(&row.entry.name),
            s[0],
            s[1],
            s[2],
            n[0],
            n[1],
            n[2],
            row.expected
                .as_ref()
                .map_or("-".to_string(), |e| e.outcome.to_string()),
            row.verdict.as_ref().map_or("-", |v| v.as_str()),
            tsv_field(&hint),
        );
    }
    out
}

/// The syscall a test exercises, from its name: `fcntl27_64` -> `fcntl`, `accept4_01` ->
/// `accept4`, `setuid01_16` -> `setuid`, `clock_settime01` -> `clock_settime`.
pub fn syscall_of(name: &str) -> String {
    let mut s = name.split('.').next().unwrap_or(name);
    for suffix in ["_64", "_16"] {
        if let Some(stripped) = s.strip_suffix(suffix) {
            s = stripped;
        }
    }
    let s = s.trim_end_matches(|c: char| c.is_ascii_digit());
    let s = s.strip_suffix('_').unwrap_or(s);
    if s.is_empty() {
        name.to_string()
    } else {
        s.to_string()
    }
}

fn count(rows: &[Row], pick: impl Fn(&Row) -> Option<&TestResult>) -> BTreeMap<Outcome, usize> {
    let mut m = BTreeMap::new();
    for r in rows.iter().filter_map(&pick) {
        *m.entry(r.outcome).or_insert(0) += 1;
    }
    m
}

fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn hint_suffix(r: &TestResult) -> String {
    r.hint
        .as_ref()
        .map_or(String::new(), |h| format!(": `{}`", h.replace('`', "'")))
}

/// The percentage of tests that pass natively that also pass in the sandbox, with the counts.
pub fn score(rows: &[Row]) -> Option<(usize, usize)> {
    let native_pass: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.native
                .as_ref()
                .is_some_and(|n| n.outcome == Outcome::Pass)
        })
        .filter(|r| {
            r.sandbox
                .as_ref()
                .is_some_and(|s| s.outcome != Outcome::Skipped)
        })
        .collect();
    if native_pass.is_empty() || rows.iter().all(|r| r.sandbox.is_none()) {
        return None;
    }
    let both = native_pass
        .iter()
        .filter(|r| {
            r.sandbox
                .as_ref()
                .is_some_and(|s| s.outcome == Outcome::Pass)
        })
        .count();
    Some((both, native_pass.len()))
}

/// summary.md.
pub fn summary(rows: &[Row], info: &RunInfo) -> String {
    let has_sandbox = rows.iter().any(|r| r.sandbox.is_some());
    let has_native = rows.iter().any(|r| r.native.is_some());
    let mut md = String::from("# LTP results\n\n| | |\n|---|---|\n");
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(md, "| {k} | {} |", v.replace('|', "\\|"));
    };
    kv(
        "runtest",
        format!(
            "{} ({} tests, {} selected)",
            info.runtest,
            info.runtest_total,
            rows.len()
        ),
    );
    kv(
        "LTP",
        format!(
            "{} at {}",
            info.ltp_version.as_deref().unwrap_or("unknown version"),
            info.ltproot
        ),
    );
    kv("host kernel", info.host_kernel.clone());
    if let Some(k) = &info.kernel_config {
        kv("kernel config", k.clone());
    }
    if let Some(sb) = &info.sandbox {
        let init = if info.init {
            "with --init"
        } else {
            "without --init"
        };
        kv("sandbox", format!("{sb} ({init})"));
        if let Some(k) = &info.sandbox_kernel {
            kv("sandbox kernel", k.clone());
        }
    }
    kv(
        "jobs, timeout",
        format!("{}, {} s per test", info.jobs, info.timeout.as_secs()),
    );
    kv("started", info.started.clone());
    if let Some(d) = info.native_wall {
        kv("native run", fmt_duration(d));
    }
    if let Some(d) = info.sandbox_wall {
        kv("sandbox run", fmt_duration(d));
    }
    if let Some(b) = &info.baseline {
        kv("native results from", b.clone());
    }
    if let Some(e) = &info.expected_file {
        kv("expected list", e.clone());
    }

    // Counts.
    let native = count(rows, |r| r.native.as_ref());
    let sandbox = count(rows, |r| r.sandbox.as_ref());
    md.push_str("\n## Outcomes\n\n");
    let mut header = String::from("| outcome |");
    let mut rule = String::from("|---|");
    if has_native {
        header.push_str(" native |");
        rule.push_str("---:|");
    }
    if has_sandbox {
        header.push_str(" sandbox |");
        rule.push_str("---:|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for o in Outcome::ALL {
        let (n, s) = (
            native.get(&o).copied().unwrap_or(0),
            sandbox.get(&o).copied().unwrap_or(0),
        );
        if n == 0 && s == 0 {
            continue;
        }
        let mut line = format!("| {o} |");
        if has_native {
            let _ = write!(line, " {n} |");
        }
        if has_sandbox {
            let _ = write!(line, " {s} |");
        }
        let _ = writeln!(md, "{line}");
    }
    let mut total = String::from("| total |");
    if has_native {
        let _ = write!(total, " {} |", native.values().sum::<usize>());
    }
    if has_sandbox {
        let _ = write!(total, " {} |", sandbox.values().sum::<usize>());
    }
    let _ = writeln!(md, "{total}");

    if let Some((both, of)) = score(rows) {
        let _ = writeln!(
            md,
            "\n**Score: {both} of the {of} tests that pass natively pass in the sandbox ({:.1}%; \
             the goal is 95%).**",
            100.0 * both as f64 / of as f64
        );
    }

    if has_sandbox {
        let by = |v: &dyn Fn(&Verdict) -> bool| -> Vec<&Row> {
            rows.iter()
                .filter(|r| r.verdict.as_ref().is_some_and(v))
                .collect()
        };
        let regressions = by(&|v| *v == Verdict::Regression);
        let _ = writeln!(md, "\n## Regressions ({})\n", regressions.len());
        if regressions.is_empty() {
            md.push_str("None: every test expected to pass in the sandbox passed.\n");
        } else {
            md.push_str(
                "Expected to pass in the sandbox (not in the expected list), but did not:\n\n",
            );
            for r in regressions {
                let s = r.sandbox.as_ref().expect("judged rows ran in the sandbox");
                let native = r
                    .native
                    .as_ref()
                    .map_or("unknown".to_string(), |n| n.outcome.to_string());
                let _ = writeln!(
                    md,
                    "- {}: {} (native: {native}){}",
                    r.entry.name,
                    s.outcome,
                    hint_suffix(s)
                );
            }
        }
        let now_passing = by(&|v| *v == Verdict::NowPassing);
        if !now_passing.is_empty() {
            let _ = writeln!(
                md,
                "\n## Now passing ({}): remove from the expected list\n",
                now_passing.len()
            );
            for r in now_passing {
                let _ = writeln!(md, "- {}", r.entry.name);
            }
        }
        let changed = by(&|v| matches!(v, Verdict::Changed { .. }));
        if !changed.is_empty() {
            let _ = writeln!(
                md,
                "\n## Outcome differs from the expected list ({})\n",
                changed.len()
            );
            for r in changed {
                let s = r.sandbox.as_ref().expect("judged rows ran in the sandbox");
                let exp = r.expected.as_ref().expect("changed rows are listed");
                let _ = writeln!(
                    md,
                    "- {}: {} (listed as {}){}",
                    r.entry.name,
                    s.outcome,
                    exp.outcome,
                    hint_suffix(s)
                );
            }
        }
        if !info.stale_expected.is_empty() {
            let _ = writeln!(
                md,
                "\n## In the expected list but not in the runtest file ({})\n",
                info.stale_expected.len()
            );
            for n in &info.stale_expected {
                let _ = writeln!(md, "- {n}");
            }
        }

        // Pass natively, not in the sandbox, by syscall.
        let mut groups: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
        for r in rows {
            let native_pass = r
                .native
                .as_ref()
                .is_some_and(|n| n.outcome == Outcome::Pass);
            let sandbox_not = r
                .sandbox
                .as_ref()
                .is_some_and(|s| !matches!(s.outcome, Outcome::Pass | Outcome::Skipped));
            if native_pass && sandbox_not {
                groups.entry(syscall_of(&r.entry.name)).or_default().push(r);
            }
        }
        if has_native {
            let n: usize = groups.values().map(Vec::len).sum();
            let _ = writeln!(
                md,
                "\n## Pass natively, not in the sandbox ({n} tests, {} syscalls)\n",
                groups.len()
            );
            if !groups.is_empty() {
                md.push_str("| syscall | tests |\n|---|---|\n");
                for (sys, rs) in &groups {
                    let tests: Vec<String> = rs
                        .iter()
                        .map(|r| {
                            let o = r.sandbox.as_ref().expect("filtered").outcome;
                            format!("{} ({o})", r.entry.name)
                        })
                        .collect();
                    let _ = writeln!(md, "| {sys} | {} |", tests.join(", "));
                }
            }
        }
    }

    // Native failures, when the native run happened now.
    if has_native && info.baseline.is_none() {
        let bad: Vec<&Row> = rows
            .iter()
            .filter(|r| {
                r.native.as_ref().is_some_and(|n| {
                    !matches!(n.outcome, Outcome::Pass | Outcome::Conf | Outcome::Skipped)
                })
            })
            .collect();
        let _ = writeln!(md, "\n## Not passing natively ({})\n", bad.len());
        for r in bad {
            let n = r.native.as_ref().expect("filtered");
            let _ = writeln!(md, "- {}: {}{}", r.entry.name, n.outcome, hint_suffix(n));
        }
        let skipped: Vec<&Row> = rows
            .iter()
            .filter(|r| {
                r.native
                    .as_ref()
                    .is_some_and(|n| n.outcome == Outcome::Skipped)
            })
            .collect();
        if !skipped.is_empty() {
            let _ = writeln!(md, "\n## Not run natively ({})\n", skipped.len());
            for r in skipped {
                let n = r.native.as_ref().expect("filtered");
                let _ = writeln!(md, "- {}{}", r.entry.name, hint_suffix(n));
            }
        }
    }
    md
}

/// The progress line: rewritten in place on a terminal, one line per finished test otherwise.
pub struct Progress {
    label: String,
    total: usize,
    done: usize,
    counts: BTreeMap<Outcome, usize>,
    running: BTreeSet<String>,
    start: Instant,
    tty: bool,
}

impl Progress {
    pub fn new(label: &str, total: usize, tty: bool) -> Progress {
        Progress {
            label: label.to_string(),
            total,
            done: 0,
            counts: BTreeMap::new(),
            running: BTreeSet::new(),
            start: Instant::now(),
            tty,
        }
    }

    pub fn started(&mut self, name: &str) {
        self.running.insert(name.to_string());
        self.draw();
    }

    pub fn finished(&mut self, name: &str, r: &TestResult) {
        self.running.remove(name);
        self.done += 1;
        *self.counts.entry(r.outcome).or_insert(0) += 1;
        if self.tty {
            self.draw();
        } else {
            let width = self.total.to_string().len();
            let _ = writeln!(
                io::stderr(),
                "[{} {:>width$}/{}] {:<13} {} ({:.1}s)",
                self.label,
                self.done,
                self.total,
                r.outcome,
                name,
                r.seconds,
            );
        }
    }

    pub fn tick(&mut self) {
        self.draw();
    }

    fn draw(&self) {
        if !self.tty {
            return;
        }
        let mut line = format!(
            "[{} {}/{} {}]",
            self.label,
            self.done,
            self.total,
            fmt_duration(self.start.elapsed())
        );
        for (o, n) in &self.counts {
            let _ = write!(line, " {o} {n}");
        }
        if !self.running.is_empty() {
            line.push_str(" | ");
            line.push_str(&self.running.iter().cloned().collect::<Vec<_>>().join(" "));
        }
        let line: String = line.chars().take(150).collect();
        let _ = write!(io::stderr(), "\r\x1b[K{line}");
        let _ = io::stderr().flush();
    }

    /// Ends the progress line.
    pub fn finish(&self) {
        if self.tty {
            let _ = writeln!(io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Termination;

    fn res(outcome: Outcome) -> TestResult {
        TestResult {
            outcome,
            termination: Some(Termination::Exited(0)),
            seconds: 0.5,
            hint: None,
        }
    }

    fn row(name: &str, sandbox: Option<Outcome>, native: Option<Outcome>) -> Row {
        Row {
            entry: Entry {
                name: name.into(),
                command: name.into(),
                line: 1,
            },
            sandbox: sandbox.map(res),
            native: native.map(res),
            expected: None,
            verdict: None,
        }
    }

    #[test]
    fn syscall_names() {
        assert_eq!(syscall_of("fcntl27_64"), "fcntl");
        assert_eq!(syscall_of("accept4_01"), "accept4");
        assert_eq!(syscall_of("setuid01_16"), "setuid");
        assert_eq!(syscall_of("clock_settime01"), "clock_settime");
        assert_eq!(syscall_of("inotify_init1_02"), "inotify_init1");
        assert_eq!(syscall_of("pipe2_01"), "pipe2");
        assert_eq!(syscall_of("abort01"), "abort");
        assert_eq!(syscall_of("rwtest01.2"), "rwtest");
        assert_eq!(syscall_of("123"), "123");
    }

    #[test]
    fn tsv_rows() {
        let mut r = row("fork01", Some(Outcome::Fail), Some(Outcome::Pass));
        r.sandbox.as_mut().unwrap().hint = Some("a\tb".into());
        r.verdict = Some(Verdict::Regression);
        let t = tsv(&[r, row("open01", None, Some(Outcome::Conf))]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], TSV_HEADER);
        assert_eq!(
            lines[1],
            "fork01\tfail\t0\t0.50\tpass\t0\t0.50\t-\tregression\ta b"
        );
        assert_eq!(lines[2], "open01\t-\t-\t-\tconf\t0\t0.50\t-\t-\t-");
        // Our own TSV reads back as a baseline.
        let b = crate::expected::parse_baseline(&t).unwrap();
        assert_eq!(b["fork01"], Outcome::Pass);
        assert_eq!(b["open01"], Outcome::Conf);
    }

    #[test]
    fn scores_and_summary() {
        let mut rows = vec![
            row("fork01", Some(Outcome::Fail), Some(Outcome::Pass)),
            row("fork02", Some(Outcome::Pass), Some(Outcome::Pass)),
            row("mmap01", Some(Outcome::SandboxError), Some(Outcome::Pass)),
            row("open01", Some(Outcome::Conf), Some(Outcome::Conf)),
        ];
        rows[0].verdict = Some(Verdict::Regression);
        rows[2].verdict = Some(Verdict::Expected);
        assert_eq!(score(&rows), Some((1, 3)));
        let md = summary(&rows, &RunInfo::default());
        assert!(md.contains("| pass | 3 | 1 |"), "{md}");
        assert!(md.contains("| total | 4 | 4 |"), "{md}");
        assert!(md.contains("1 of the 3 tests that pass natively"), "{md}");
        assert!(md.contains("## Regressions (1)"), "{md}");
        assert!(md.contains("- fork01: fail (native: pass)"), "{md}");
        assert!(md.contains("| fork | fork01 (fail) |"), "{md}");
        assert!(md.contains("| mmap | mmap01 (sandbox-error) |"), "{md}");
        assert!(md.contains("(2 tests, 2 syscalls)"), "{md}");
    }

    #[test]
    fn native_only_summary() {
        let rows = vec![
            row("a01", None, Some(Outcome::Pass)),
            row("b01", None, Some(Outcome::Broken)),
            row("c01", None, Some(Outcome::Skipped)),
        ];
        assert_eq!(score(&rows), None);
        let md = summary(&rows, &RunInfo::default());
        assert!(md.contains("| outcome | native |"), "{md}");
        assert!(!md.contains("Regressions"), "{md}");
        assert!(
            md.contains("## Not passing natively (1)\n\n- b01: broken"),
            "{md}"
        );
        assert!(md.contains("## Not run natively (1)"), "{md}");
    }
}
