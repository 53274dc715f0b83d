//! The expected-results list (`ltp/expected.toml`), native baselines, and the verdict on each
//! sandboxed result.
//!
//! The list names the tests that are expected *not* to pass in the sandbox, each with the
//! outcome it has there and a one-line reason:
//!
//! ```toml
//! [tests]
//! fork01 = { outcome = "sandbox-error", reason = "fork is not implemented yet" }
//! ```
//!
//! Every other test is expected to pass in the sandbox whenever it passes natively. When no
//! native result is known for a test, it is expected to pass or TCONF. A test that breaks its
//! expectation is a regression and makes the runner exit non-zero; a listed test that passes is
//! reported as "now passing" so that its entry gets deleted and the list only shrinks.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Deserialize;

use crate::classify::Outcome;

/// One entry of the expected list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub outcome: Outcome,
    pub reason: String,
}

/// The parsed expected list, keyed by test name.
#[derive(Clone, Debug, Default)]
pub struct ExpectedList {
    pub tests: BTreeMap<String, Expectation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tests: BTreeMap<String, RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    outcome: String,
    reason: String,
}

impl ExpectedList {
    /// Parses the TOML text of an expected list.
    pub fn parse(text: &str) -> Result<ExpectedList, String> {
        let raw: RawFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let mut tests = BTreeMap::new();
        for (name, entry) in raw.tests {
            let outcome: Outcome = entry.outcome.parse().map_err(|e| format!("{name}: {e}"))?;
            if outcome == Outcome::Pass {
                return Err(format!(
                    "{name}: a test expected to pass does not belong in the list"
                ));
            }
            if entry.reason.trim().is_empty() {
                return Err(format!("{name}: the reason is empty"));
            }
            tests.insert(
                name,
                Expectation {
                    outcome,
                    reason: entry.reason,
                },
            );
        }
        Ok(ExpectedList { tests })
    }

    pub fn get(&self, name: &str) -> Option<&Expectation> {
        self.tests.get(name)
    }

    /// The list as TOML, one line per test, sorted by name, under a header that explains it.
    pub fn render(&self) -> String {
        let mut out = String::from(HEADER);
        out.push_str("[tests]\n");
        for (name, e) in &self.tests {
            let key = if name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                name.clone()
            } else {
                toml::Value::String(name.clone()).to_string()
            };
            let reason = toml::Value::String(e.reason.clone()).to_string();
            out.push_str(&format!(
                "{key} = {{ outcome = \"{}\", reason = {reason} }}\n",
                e.outcome
            ));
        }
        out
    }

    /// The list updated from a run's verdicts: entries of tests that now pass are dropped,
    /// entries whose outcome changed take the new outcome (and keep their reason), and
    /// regressions are added with `new_reason`, or the line of output that says why, as their
    /// reason. Entries of tests that did not run stay as they were.
    pub fn updated<'a>(
        &self,
        results: impl IntoIterator<Item = (&'a str, Outcome, &'a Verdict, Option<&'a str>)>,
        new_reason: Option<&str>,
    ) -> ExpectedList {
        let mut tests = self.tests.clone();
        for (name, outcome, verdict, hint) in results {
            match verdict {
                Verdict::NowPassing => {
                    tests.remove(name);
                }
                Verdict::Changed { .. } => {
                    if let Some(e) = tests.get_mut(name) {
                        e.outcome = outcome;
                    }
                }
                Verdict::Regression => {
                    let reason = new_reason.or(hint).unwrap_or("TODO: say why");
                    tests.insert(
                        name.to_string(),
                        Expectation {
                            outcome,
                            reason: reason.into(),
                        },
                    );
                }
                Verdict::Ok | Verdict::Expected | Verdict::NotRun => {}
            }
        }
        ExpectedList { tests }
    }
}

/// The comment at the top of a rendered list.
const HEADER: &str = "\
# Tests expected NOT to pass under the sandbox, with the outcome they have there and why.
# Read by `ltp` (ltp/README.md). Every test not listed here is expected to pass in the
# sandbox whenever it passes natively (or, with no native result, to pass or TCONF); a test
# that does not is a regression and fails the run. Delete the entry of a test that now
# passes (the runner lists them): this list only ever gets shorter.
#
# name = { outcome = \"fail|broken|warn|conf|timeout|sandbox-error\", reason = \"...\" }

";

/// Native outcomes of a previous run, read from its results.tsv (the `native` column).
pub fn parse_baseline(text: &str) -> Result<HashMap<String, Outcome>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split('\t').collect();
    let col = |want: &str| header.iter().position(|h| *h == want);
    let name_col = col("name").ok_or("no `name` column")?;
    let native_col = col("native").ok_or("no `native` column (not a results.tsv of ours?)")?;
    let mut out = HashMap::new();
    for (i, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let (Some(name), Some(native)) = (fields.get(name_col), fields.get(native_col)) else {
            return Err(format!("line {}: too few columns", i + 2));
        };
        if *native == "-" {
            continue;
        }
        let outcome = native.parse().map_err(|e| format!("line {}: {e}", i + 2))?;
        out.insert(name.to_string(), outcome);
    }
    Ok(out)
}

/// What one sandboxed result means against the expectations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// As expected: it passed, or nothing says it should have.
    Ok,
    /// Listed, and had the listed outcome.
    Expected,
    /// Listed, and had another outcome that is not a pass (informational).
    Changed { expected: Outcome },
    /// Listed, but passed: delete the entry.
    NowPassing,
    /// Expected to pass (not listed, and passes natively or no native result is known) but
    /// did not.
    Regression,
    /// Not run (skip list).
    NotRun,
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Expected => "expected",
            Verdict::Changed { .. } => "changed",
            Verdict::NowPassing => "now-passing",
            Verdict::Regression => "regression",
            Verdict::NotRun => "not-run",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Judges one sandboxed outcome. `native` is the test's native outcome if known (from this run
/// or a baseline); `expected` its entry in the list.
pub fn judge(sandbox: Outcome, native: Option<Outcome>, expected: Option<&Expectation>) -> Verdict {
    if sandbox == Outcome::Skipped {
        return Verdict::NotRun;
    }
    if let Some(exp) = expected {
        return if sandbox == Outcome::Pass {
            Verdict::NowPassing
        } else if sandbox == exp.outcome {
            Verdict::Expected
        } else {
            Verdict::Changed {
                expected: exp.outcome,
            }
        };
    }
    if sandbox == Outcome::Pass {
        return Verdict::Ok;
    }
    match native {
        Some(Outcome::Pass) => Verdict::Regression,
        Some(Outcome::Skipped) | None if sandbox != Outcome::Conf => Verdict::Regression,
        _ => Verdict::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;

    const LIST: &str = r#"
# comment
[tests]
fork01 = { outcome = "sandbox-error", reason = "no fork yet" }
clock_settime01 = { outcome = "fail", reason = "settime is not emulated" }
"#;

    #[test]
    fn parses_list() {
        let l = ExpectedList::parse(LIST).unwrap();
        assert_eq!(l.tests.len(), 2);
        assert_eq!(l.get("fork01").unwrap().outcome, SandboxError);
        assert_eq!(
            l.get("clock_settime01").unwrap().reason,
            "settime is not emulated"
        );
        assert!(l.get("open01").is_none());
        assert!(ExpectedList::parse("").unwrap().tests.is_empty());
    }

    #[test]
    fn rejects_bad_lists() {
        let bad = |t: &str| ExpectedList::parse(t).unwrap_err();
        assert!(bad("[tests]\na = { outcome = \"passed\", reason = \"x\" }")
            .contains("unknown outcome"));
        assert!(
            bad("[tests]\na = { outcome = \"pass\", reason = \"x\" }").contains("does not belong")
        );
        assert!(bad("[tests]\na = { outcome = \"fail\", reason = \" \" }").contains("reason"));
        assert!(bad("[tests]\na = { outcome = \"fail\" }").contains("reason"));
        assert!(
            bad("[tests]\na = { outcome = \"fail\", reason = \"x\", extra = 1 }").contains("extra")
        );
        assert!(!bad("[tests\n").is_empty());
    }

    #[test]
    fn verdicts_for_listed_tests() {
        let exp = Expectation {
            outcome: Fail,
            reason: "r".into(),
        };
        assert_eq!(judge(Fail, Some(Pass), Some(&exp)), Verdict::Expected);
        assert_eq!(judge(Pass, Some(Pass), Some(&exp)), Verdict::NowPassing);
        assert_eq!(judge(Pass, None, Some(&exp)), Verdict::NowPassing);
        assert_eq!(
            judge(Broken, Some(Pass), Some(&exp)),
            Verdict::Changed { expected: Fail }
        );
        assert_eq!(judge(Skipped, Some(Pass), Some(&exp)), Verdict::NotRun);
    }

    #[test]
    fn verdicts_with_native_results() {
        assert_eq!(judge(Pass, Some(Pass), None), Verdict::Ok);
        assert_eq!(judge(Fail, Some(Pass), None), Verdict::Regression);
        assert_eq!(judge(Conf, Some(Pass), None), Verdict::Regression);
        assert_eq!(judge(SandboxError, Some(Pass), None), Verdict::Regression);
        assert_eq!(judge(Timeout, Some(Pass), None), Verdict::Regression);
        // Not passing natively either: nothing to hold the sandbox to.
        assert_eq!(judge(Fail, Some(Fail), None), Verdict::Ok);
        assert_eq!(judge(Broken, Some(Conf), None), Verdict::Ok);
        assert_eq!(judge(Conf, Some(Conf), None), Verdict::Ok);
        assert_eq!(judge(Pass, Some(Fail), None), Verdict::Ok);
    }

    #[test]
    fn verdicts_without_native_results() {
        assert_eq!(judge(Pass, None, None), Verdict::Ok);
        assert_eq!(judge(Conf, None, None), Verdict::Ok);
        assert_eq!(judge(Fail, None, None), Verdict::Regression);
        assert_eq!(judge(Warn, None, None), Verdict::Regression);
        assert_eq!(judge(Timeout, None, None), Verdict::Regression);
        // A native run that skipped the test (host-clock setters) says nothing either.
        assert_eq!(judge(Conf, Some(Skipped), None), Verdict::Ok);
        assert_eq!(judge(Fail, Some(Skipped), None), Verdict::Regression);
    }

    #[test]
    fn renders_and_updates() {
        let list = ExpectedList::parse(LIST).unwrap();
        let again = ExpectedList::parse(&list.render()).unwrap();
        assert_eq!(again.tests, list.tests);
        let odd = ExpectedList {
            tests: [(
                "a.2".to_string(),
                Expectation {
                    outcome: Timeout,
                    reason: "say \"hi\"\\ now".into(),
                },
            )]
            .into(),
        };
        assert_eq!(ExpectedList::parse(&odd.render()).unwrap().tests, odd.tests);

        let (now_passing, changed, regression, ok) = (
            Verdict::NowPassing,
            Verdict::Changed { expected: Fail },
            Verdict::Regression,
            Verdict::Ok,
        );
        let results = [
            ("fork01", Pass, &now_passing, None),
            ("clock_settime01", Broken, &changed, Some("x.c:1: TBROK: y")),
            ("open01", Fail, &regression, Some("open01.c:9: TFAIL: z")),
            ("read01", Conf, &regression, None),
            ("write01", Pass, &ok, None),
        ];
        let new = list.updated(results, None);
        assert!(new.get("fork01").is_none());
        let e = new.get("clock_settime01").unwrap();
        assert_eq!(
            (e.outcome, e.reason.as_str()),
            (Broken, "settime is not emulated")
        );
        assert_eq!(new.get("open01").unwrap().reason, "open01.c:9: TFAIL: z");
        assert_eq!(new.get("read01").unwrap().reason, "TODO: say why");
        assert!(new.get("write01").is_none());
        let new = list.updated(
            [("open01", Fail, &regression, Some("h"))],
            Some("no fork yet"),
        );
        assert_eq!(new.get("open01").unwrap().reason, "no fork yet");
        assert_eq!(new.tests.len(), 3);
    }

    #[test]
    fn reads_baselines() {
        let tsv = "name\tsandbox\tsandbox_exit\tsandbox_s\tnative\tnative_exit\tnative_s\n\
                   abort01\t-\t-\t-\tpass\t0\t0.1\n\
                   clock_settime01\t-\t-\t-\tskipped\t-\t0.0\n\
                   fork01\tfail\t1\t0.2\t-\t-\t-\n";
        let b = parse_baseline(tsv).unwrap();
        assert_eq!(b.get("abort01"), Some(&Pass));
        assert_eq!(b.get("clock_settime01"), Some(&Skipped));
        assert_eq!(b.get("fork01"), None);
        assert!(parse_baseline("name\toutcome\n")
            .unwrap_err()
            .contains("native"));
        assert!(parse_baseline("name\tnative\na\tbogus\n")
            .unwrap_err()
            .contains("line 2"));
        assert!(parse_baseline("").is_err());
    }
}
