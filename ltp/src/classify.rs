//! The outcome of one test, from how it ended and what it printed.
//!
//! LTP's result flags (`include/tst_res_flags.h`) double as exit codes: `TPASS` 0, `TFAIL` 1,
//! `TBROK` 2, `TWARN` 4, `TCONF` 32. The new library (`lib/tst_test.c`, `do_exit`) ORs the flags
//! of everything the test reported (`TCONF` only when nothing passed) and prints a `Summary:`
//! block; the old library (`lib/tst_res.c`, `tst_exit`) ORs them too and prints one
//! `name N TPASS : ...` line per result. The worst flag decides: broken > fail > warn > conf.

use std::fmt;
use std::str::FromStr;

/// What became of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Pass,
    Fail,
    Broken,
    Warn,
    /// TCONF: the test found its configuration unsupported and skipped itself.
    Conf,
    /// Killed by the runner at `--timeout`, or by LTP's own timeout.
    Timeout,
    /// The sandbox itself failed (its own error, its own crash), not the test.
    SandboxError,
    /// Not run: in the skip list, or a host-clock setter in a native run.
    Skipped,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Broken,
        Outcome::Warn,
        Outcome::Conf,
        Outcome::Timeout,
        Outcome::SandboxError,
        Outcome::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Broken => "broken",
            Outcome::Warn => "warn",
            Outcome::Conf => "conf",
            Outcome::Timeout => "timeout",
            Outcome::SandboxError => "sandbox-error",
            Outcome::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Outcome, String> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
                format!("unknown outcome {s:?} (one of {})", names.join(", "))
            })
    }
}

pub const TFAIL: i32 = 1;
pub const TBROK: i32 = 2;
pub const TWARN: i32 = 4;
pub const TCONF: i32 = 32;

/// How the test's process (`sh -c`, or `sandbox run`) ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Termination {
    Exited(i32),
    /// Killed by a signal (the number).
    Signaled(i32),
    /// Killed by the runner at the per-test timeout.
    TimedOut,
    /// Could not be started at all.
    SpawnFailed(String),
}

impl fmt::Display for Termination {
    /// The `exit` column of results.tsv: `0`, `sig9`, `timeout`, `spawn`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Termination::Exited(code) => write!(f, "{code}"),
            Termination::Signaled(sig) => write!(f, "sig{sig}"),
            Termination::TimedOut => f.write_str("timeout"),
            Termination::SpawnFailed(_) => f.write_str("spawn"),
        }
    }
}

/// Printed by LTP's library when its own timeout fires (`lib/tst_test.c`, `alarm_handler`).
const LTP_TIMEOUT_MSG: &str = "Test timeouted, sending SIGKILL";

/// Classifies one run. `sandboxed` says the process was `sandbox run`, whose own failures are
/// told apart from the test's.
pub fn classify(term: &Termination, output: &str, sandboxed: bool) -> Outcome {
    let code = match term {
        Termination::TimedOut => return Outcome::Timeout,
        // The sandbox reports a program killed by signal N as exit 128+N; a signal death of the
        // sandbox process itself (a panic aborts) is the sandbox's failure.
        Termination::SpawnFailed(_) | Termination::Signaled(_) if sandboxed => {
            return Outcome::SandboxError
        }
        Termination::SpawnFailed(_) | Termination::Signaled(_) => return Outcome::Broken,
        Termination::Exited(code) => *code,
    };
    let output = &strip_ansi(output);
    if sandboxed && is_sandbox_failure(code, output) {
        return Outcome::SandboxError;
    }
    // Every LTP test says something (at least TINFO lines). A silent success under the sandbox
    // means the test's output was lost, or the test never ran.
    if sandboxed && code == 0 && !has_ltp_output(output) {
        return Outcome::SandboxError;
    }
    if output.contains(LTP_TIMEOUT_MSG) {
        return Outcome::Timeout;
    }
    from_exit_code(code, output)
}

/// The sandbox's own failure: a Rust panic message, or exit status 125-127 (its "could not
/// run this") together with its own `sandbox: ...` error line. A 127 from `sh` ("not found")
/// carries no such line and stays the test's.
fn is_sandbox_failure(code: i32, output: &str) -> bool {
    if output
        .lines()
        .any(|l| l.starts_with("thread '") && l.contains("panicked at"))
    {
        return true;
    }
    (125..=127).contains(&code) && output.lines().any(|l| l.starts_with("sandbox: "))
}

/// The outcome from LTP's exit code (flags ORed), checked against old-style result lines when
/// the code says pass.
pub fn from_exit_code(code: i32, output: &str) -> Outcome {
    const KNOWN: i32 = TFAIL | TBROK | TWARN | TCONF;
    if code & !KNOWN != 0 {
        // Not LTP's: 126/127 from sh, 128+N for a signal, a crash of a helper script.
        return Outcome::Broken;
    }
    if code & TBROK != 0 {
        Outcome::Broken
    } else if code & TFAIL != 0 {
        Outcome::Fail
    } else if code & TWARN != 0 {
        Outcome::Warn
    } else if code & TCONF != 0 {
        Outcome::Conf
    } else {
        // Exit 0. The new library's summary agrees with its exit code; but a test outside
        // LTP's libraries (or one that exits 0 by hand) may still have printed a failed result,
        // and kirk counts result lines the same way.
        if has_summary(output) {
            return Outcome::Pass;
        }
        match worst_result_line(output) {
            Some(o @ (Outcome::Broken | Outcome::Fail)) => o,
            _ => Outcome::Pass,
        }
    }
}

/// True if the output holds anything LTP's libraries print: a result word or a summary.
fn has_ltp_output(output: &str) -> bool {
    const WORDS: [&str; 7] = [
        "TPASS", "TFAIL", "TBROK", "TWARN", "TINFO", "TCONF", "TDEBUG",
    ];
    has_summary(output)
        || output
            .split(|c: char| c.is_whitespace() || c == ':')
            .any(|w| WORDS.contains(&w))
}

/// True if the output holds the new library's `Summary:` block.
fn has_summary(output: &str) -> bool {
    let mut lines = output.lines().map(str::trim_end);
    while let Some(l) = lines.next() {
        if l == "Summary:" && lines.next().is_some_and(|n| n.starts_with("passed")) {
            return true;
        }
    }
    false
}

/// The worst result flag printed as a word in the output (`TBROK`, `TFAIL`, ...), if any.
fn worst_result_line(output: &str) -> Option<Outcome> {
    let mut worst = None;
    for word in output.split(|c: char| c.is_whitespace() || c == ':') {
        let o = match word {
            "TBROK" => Outcome::Broken,
            "TFAIL" => Outcome::Fail,
            "TWARN" => Outcome::Warn,
            _ => continue,
        };
        if o == Outcome::Broken {
            return Some(o);
        }
        if worst.is_none() || o == Outcome::Fail {
            worst = Some(o);
        }
    }
    worst
}

/// A one-line reason to show beside a non-passing outcome: the first line that says why
/// (a sandbox error line, TBROK, TFAIL, TWARN or TCONF, in that order of preference).
pub fn hint(outcome: Outcome, output: &str) -> Option<String> {
    let wanted: &[&str] = match outcome {
        Outcome::Pass | Outcome::Skipped => return None,
        Outcome::SandboxError => &["sandbox: ", "panicked at"],
        Outcome::Broken => &["TBROK", "TFAIL", "not found", "sandbox: "],
        Outcome::Fail => &["TFAIL", "TBROK"],
        Outcome::Warn => &["TWARN"],
        Outcome::Conf => &["TCONF"],
        Outcome::Timeout => &[LTP_TIMEOUT_MSG],
    };
    let output = strip_ansi(output);
    for key in wanted {
        if let Some(line) = output.lines().find(|l| l.contains(key)) {
            let line = line.trim();
            let line: String = line.chars().take(160).collect();
            return Some(line.replace('\t', " "));
        }
    }
    if outcome == Outcome::SandboxError && !has_ltp_output(&output) {
        return Some("no LTP output at all: did the test run?".to_string());
    }
    None
}

/// A reason when no line of the output says why: the signal that killed the test, or its last
/// line of output, or its exit status.
pub fn fallback_hint(outcome: Outcome, term: &Termination, output: &str) -> Option<String> {
    if matches!(outcome, Outcome::Pass | Outcome::Conf | Outcome::Skipped) {
        return None;
    }
    let signal = match *term {
        Termination::Signaled(sig) => Some(sig),
        Termination::Exited(code) if code > 128 && code < 128 + 65 => Some(code - 128),
        _ => None,
    };
    if let Some(sig) = signal {
        return Some(format!("killed by signal {sig} ({})", signal_name(sig)));
    }
    let output = strip_ansi(output);
    match output.lines().map(str::trim).rfind(|l| !l.is_empty()) {
        Some(line) => Some(
            line.chars()
                .take(160)
                .collect::<String>()
                .replace('\t', " "),
        ),
        None => Some(format!("exit {term}, no output")),
    }
}

/// The name of a signal, as in `SIGSEGV`.
pub fn signal_name(sig: i32) -> String {
    match syscalls::abi::signal_name(sig) {
        Some(name) => name.to_string(),
        _ if sig >= 34 => format!("SIGRTMIN+{}", sig - 34),
        _ => format!("signal {sig}"),
    }
}

/// Removes ANSI colour escapes (LTP colours its output when asked to).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte
            if chars.as_str().starts_with('[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;
    use Termination::*;

    const NEW_PASS: &str = "tst_test.c:1900: TINFO: LTP version: 20260529\n\
        abort01.c:58: TPASS: abort() dumped core\n\nSummary:\npassed   1\nfailed   0\n\
        broken   0\nskipped  0\nwarnings 0\n";

    #[test]
    fn exit_codes() {
        assert_eq!(classify(&Exited(0), NEW_PASS, false), Pass);
        assert_eq!(classify(&Exited(1), "", false), Fail);
        assert_eq!(classify(&Exited(2), "", false), Broken);
        assert_eq!(classify(&Exited(3), "", false), Broken);
        assert_eq!(classify(&Exited(4), "", false), Warn);
        assert_eq!(classify(&Exited(32), "", false), Conf);
        assert_eq!(classify(&Exited(33), "", false), Fail);
        assert_eq!(classify(&Exited(36), "", false), Warn);
        assert_eq!(classify(&Exited(34), "", false), Broken);
    }

    #[test]
    fn foreign_exit_codes_are_broken() {
        assert_eq!(
            classify(&Exited(127), "sh: 1: nosuch: not found\n", false),
            Broken
        );
        assert_eq!(classify(&Exited(126), "", false), Broken);
        assert_eq!(classify(&Exited(137), "", false), Broken);
        assert_eq!(classify(&Exited(8), "", false), Broken);
        assert_eq!(classify(&Signaled(11), "", false), Broken);
        assert_eq!(classify(&SpawnFailed("x".into()), "", false), Broken);
    }

    #[test]
    fn old_style_result_lines_override_exit_zero() {
        let out = "foo01       1  TPASS  :  ok\nfoo01       2  TFAIL  :  foo01.c:40: bad\n";
        assert_eq!(classify(&Exited(0), out, false), Fail);
        let out = "foo01 1 TBROK : setup failed\nfoo01 2 TFAIL : x\n";
        assert_eq!(classify(&Exited(0), out, false), Broken);
        // Warnings do not turn a clean exit into a warn; only a result of fail or worse does.
        assert_eq!(classify(&Exited(0), "x.c:1: TWARN: meh\n", false), Pass);
        // The word must stand alone.
        assert_eq!(classify(&Exited(0), "TFAILURES are counted\n", false), Pass);
        assert_eq!(
            classify(
                &Exited(0),
                "x.c:3: TINFO: no TFAIL here? yes: TFAIL\n",
                false
            ),
            Fail
        );
        assert_eq!(
            classify(&Exited(0), "\u{1b}[1;31mTFAIL: \u{1b}[0mx\n", false),
            Fail
        );
        // With the new library's summary, the exit code is the truth.
        let out = format!("x.c:3: TINFO: child said TFAIL as expected\n{NEW_PASS}");
        assert_eq!(classify(&Exited(0), &out, false), Pass);
    }

    #[test]
    fn timeouts() {
        assert_eq!(classify(&TimedOut, NEW_PASS, false), Timeout);
        assert_eq!(classify(&TimedOut, "", true), Timeout);
        let out =
            "Test timeouted, sending SIGKILL!\ntst_test.c:1950: TBROK: Test killed! (timeout?)\n";
        assert_eq!(classify(&Exited(2), out, false), Timeout);
    }

    #[test]
    fn sandbox_failures() {
        let own = "sandbox: cannot start the gofer: Permission denied\n";
        assert_eq!(classify(&Exited(125), own, true), SandboxError);
        assert_eq!(classify(&Exited(127), own, true), SandboxError);
        // Natively there is no sandbox to blame.
        assert_eq!(classify(&Exited(125), own, false), Broken);
        // sh's "not found" is the test's problem.
        assert_eq!(
            classify(&Exited(127), "sh: 1: x: not found\n", true),
            Broken
        );
        // A "sandbox:" line with a test's ordinary exit code is just output.
        assert_eq!(classify(&Exited(1), own, true), Fail);
        assert_eq!(
            classify(&Exited(0), "sandbox: warning: slow\n0 TINFO : ok\n", true),
            Pass
        );
        // The sandbox process itself died.
        assert_eq!(classify(&Signaled(6), "", true), SandboxError);
        assert_eq!(
            classify(&SpawnFailed("ENOENT".into()), "", true),
            SandboxError
        );
        let panic = "thread 'main' panicked at sentry/src/kernel/task.rs:12:5:\nboom\n";
        assert_eq!(classify(&Exited(101), panic, true), SandboxError);
        // A test killed by a signal inside the sandbox is reported as 128+N: the test's.
        assert_eq!(classify(&Exited(128 + 11), "", true), Broken);
        // A silent success: the test's output went missing, or it never ran.
        assert_eq!(classify(&Exited(0), "", true), SandboxError);
        assert_eq!(classify(&Exited(0), "hello\n", true), SandboxError);
        assert_eq!(
            hint(SandboxError, "").unwrap(),
            "no LTP output at all: did the test run?"
        );
        assert_eq!(classify(&Exited(0), "x 0 TINFO : only info\n", true), Pass);
        assert_eq!(classify(&Exited(0), NEW_PASS, true), Pass);
        // Natively, exit 0 is a pass whatever was printed.
        assert_eq!(classify(&Exited(0), "", false), Pass);
    }

    #[test]
    fn outcome_names_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
        }
        assert!("passed".parse::<Outcome>().is_err());
    }

    #[test]
    fn hints() {
        let out = "a.c:1: TINFO: x\na.c:2: TFAIL: read() returned 3, expected 4\n";
        assert_eq!(
            hint(Fail, out).unwrap(),
            "a.c:2: TFAIL: read() returned 3, expected 4"
        );
        assert_eq!(hint(Pass, out), None);
        let out = "\u{1b}[1;33mTCONF: \u{1b}[0mno io_uring\n";
        assert_eq!(hint(Conf, out).unwrap(), "TCONF: no io_uring");
        assert_eq!(hint(Conf, "nothing"), None);
    }

    #[test]
    fn fallback_hints() {
        let h = |o, t: Termination, out: &str| fallback_hint(o, &t, out);
        assert_eq!(
            h(Broken, Exited(139), "").unwrap(),
            "killed by signal 11 (SIGSEGV)"
        );
        assert_eq!(
            h(Broken, Signaled(9), "").unwrap(),
            "killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            h(Fail, Exited(1), "a\nsemget failed, errno = 38\n\n").unwrap(),
            "semget failed, errno = 38"
        );
        assert_eq!(h(Broken, Exited(2), "").unwrap(), "exit 2, no output");
        assert_eq!(h(Pass, Exited(0), "x"), None);
        assert_eq!(signal_name(31), "SIGSYS");
        assert_eq!(signal_name(36), "SIGRTMIN+2");
    }

    #[test]
    fn strips_ansi() {
        assert_eq!(strip_ansi("\u{1b}[1;32mTPASS: \u{1b}[0mok"), "TPASS: ok");
    }
}
