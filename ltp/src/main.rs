//! `ltp`: runs an LTP runtest file (by default `runtest/syscalls`) under `sandbox run` and/or
//! natively, and checks the sandbox's results against `ltp/expected.toml`.
//!
//! Exit status: 0 when every test expected to pass in the sandbox passed (always, for a
//! native-only run), 1 on a regression, 2 on bad input or a setup error.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;

use ltp::classify::Outcome;
use ltp::expected::{self, ExpectedList, Verdict};
use ltp::policy::{self, Policy};
use ltp::report::{self, Progress, Row, RunInfo};
use ltp::runner::{self, Event, Job, Mode, SandboxCmd, Settings, TestResult};
use ltp::runtest::{self, Pattern};

/// Runs the Linux Test Project's tests under the sandbox and natively.
#[derive(Parser, Debug)]
#[command(name = "ltp", version)]
struct Cli {
    /// The installed LTP (its testcases/bin and runtest/ directories).
    #[arg(long, env = "LTPROOT", value_name = "DIR")]
    ltproot: PathBuf,

    /// The runtest file: a name under $LTPROOT/runtest/, or a path.
    #[arg(long, default_value = "syscalls", value_name = "NAME|PATH")]
    runtest: String,

    /// Run only tests whose name matches: a glob (`fork*`) matching the whole name, or a regex
    /// (`^clock_`, `fork|exec`) searched in it; `glob:`/`re:` force the kind. Repeatable.
    #[arg(long, value_name = "PATTERN")]
    filter: Vec<String>,

    /// A file of tests not to run: one name or glob a line, `#` comments.
    #[arg(long, value_name = "FILE")]
    skip: Option<PathBuf>,

    /// Parallel workers [default: the number of CPUs].
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,

    /// Per-test timeout in seconds; the test's process group is killed then.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    timeout: u64,

    /// Run natively only, without the sandbox (the baseline).
    #[arg(long, conflicts_with_all = ["both", "baseline"])]
    native: bool,

    /// Run every test natively, then under the sandbox, and compare.
    #[arg(long, conflicts_with = "baseline")]
    both: bool,

    /// results.tsv of an earlier native (or --both) run: the native column to compare with.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,

    /// The sandbox binary [default: `sandbox` beside this binary, then the workspace's
    /// target/release/sandbox, then `sandbox` in PATH].
    #[arg(long, value_name = "PATH")]
    sandbox: Option<PathBuf>,

    /// Do not pass --init to `sandbox run` (the test is then PID 1 of its sandbox).
    #[arg(long)]
    no_init: bool,

    /// The expected-results list [default: ltp/expected.toml of this workspace].
    #[arg(long, value_name = "FILE", conflicts_with = "no_expected")]
    expected: Option<PathBuf>,

    /// Use no expected list: every test is expected to pass (or TCONF, or as natively).
    #[arg(long)]
    no_expected: bool,

    /// Write the expected list, updated from this sandbox run, to FILE (may be the list read):
    /// tests that now pass leave it, regressions join it. Check the reasons it writes.
    #[arg(long, value_name = "FILE", conflicts_with = "native")]
    write_expected: Option<PathBuf>,

    /// The reason written for tests that join the list [default: the line of their output
    /// that says why].
    #[arg(long, value_name = "TEXT", requires = "write_expected")]
    new_reason: Option<String>,

    /// Also run natively the tests that set the host's wall clock (disturbs the whole machine).
    #[arg(long)]
    run_clock_setters: bool,

    /// Extra environment for the tests (e.g. LTP_TIMEOUT_MUL=2). Repeatable.
    #[arg(long, value_name = "K=V", value_parser = parse_env)]
    env: Vec<(String, String)>,

    /// Where per-test TMPDIRs are made, natively and in the sandbox alike (the sandbox has a
    /// /tmp of its own and is shown each TMPDIR as a volume).
    #[arg(long, value_name = "DIR", default_value = "/var/tmp")]
    tmpdir: PathBuf,

    /// Output directory [default: ltp-results/<UTC timestamp>].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected K=V, got {s:?}")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ltp: {e}");
            ExitCode::from(2)
        }
    }
}

/// `YYYYMMDD-HHMMSS` in UTC.
fn timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// The sandbox binary, per `--sandbox` or the defaults.
fn find_sandbox(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("--sandbox {}: no such file", p.display()))
        };
    }
    let beside_us = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.join("sandbox")));
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/sandbox");
    beside_us
        .into_iter()
        .chain([workspace])
        .find(|p| p.is_file())
        .or_else(|| find_in_path("sandbox"))
        .ok_or_else(|| {
            "no sandbox binary: build it (cargo build --release -p loader) or pass --sandbox PATH"
                .to_string()
        })
}

fn read(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

/// The host's kernel config for LTP's `tst_kconfig` in native runs, and where it came from:
/// `KCONFIG_PATH` if set; else /proc/config.gz unpacked into `dir` (LTP would `zcat` it
/// through popen); else /boot/config-$(uname -r).
fn kernel_config(dir: &Path, release: &str) -> Option<(String, String)> {
    if let Ok(p) = std::env::var("KCONFIG_PATH") {
        return Some((p, "KCONFIG_PATH".into()));
    }
    if Path::new("/proc/config.gz").exists() {
        std::fs::create_dir_all(dir).ok()?;
        let dest = dir.join("config");
        let file = std::fs::File::create(&dest).ok()?;
        let ok = Command::new("gzip")
            .args(["-dc", "/proc/config.gz"])
            .stdout(file)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            let dest = dest.to_string_lossy().into_owned();
            return Some((dest, "/proc/config.gz".into()));
        }
    }
    let boot = format!("/boot/config-{release}");
    Path::new(&boot).exists().then(|| (boot.clone(), boot))
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    // The LTP install.
    let ltproot = std::fs::canonicalize(&cli.ltproot)
        .map_err(|e| format!("LTPROOT {}: {e}", cli.ltproot.display()))?;
    if !ltproot.join("testcases/bin").is_dir() {
        return Err(format!(
            "LTPROOT {}: no testcases/bin directory (not an installed LTP?)",
            ltproot.display()
        ));
    }
    let runtest_path = runtest::locate(&ltproot, &cli.runtest);
    let entries = runtest::parse(&read(&runtest_path, "runtest file")?)
        .map_err(|e| format!("{}: {e}", runtest_path.display()))?;

    // Which tests.
    let filters = cli
        .filter
        .iter()
        .map(|f| Pattern::new(f))
        .collect::<Result<Vec<_>, _>>()?;
    let skips = match &cli.skip {
        Some(p) => runtest::parse_skip_list(&read(p, "skip list")?)
            .map_err(|e| format!("{}: {e}", p.display()))?,
        None => Vec::new(),
    };
    let selected: Vec<_> = entries
        .iter()
        .filter(|e| filters.is_empty() || runtest::any_match(&filters, &e.name))
        .cloned()
        .collect();
    if selected.is_empty() {
        return Err(format!(
            "no test of {} matches the filters",
            runtest_path.display()
        ));
    }

    let run_native = cli.native || cli.both;
    let run_sandbox = !cli.native;

    // Expectations.
    let expected_path = if cli.no_expected || !run_sandbox {
        None
    } else if let Some(p) = &cli.expected {
        Some(p.clone())
    } else {
        let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("expected.toml");
        default.is_file().then_some(default)
    };
    let expected_list = match &expected_path {
        Some(p) => ExpectedList::parse(&read(p, "expected list")?)
            .map_err(|e| format!("{}: {e}", p.display()))?,
        None => ExpectedList::default(),
    };
    let baseline = match &cli.baseline {
        Some(p) => Some(
            expected::parse_baseline(&read(p, "baseline")?)
                .map_err(|e| format!("{}: {e}", p.display()))?,
        ),
        None => None,
    };
    let sandbox = if run_sandbox {
        Some(find_sandbox(cli.sandbox.as_deref())?)
    } else {
        None
    };

    // Where things go.
    let started = SystemTime::now();
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| Path::new("ltp-results").join(timestamp(started)));
    let log_dir = out.join("logs");
    std::fs::create_dir_all(&log_dir)
        .map_err(|e| format!("cannot create {}: {e}", log_dir.display()))?;
    let tmp_root = cli.tmpdir.clone();
    let tmp_base = tmp_root.join(format!("ltp-{}", std::process::id()));
    std::fs::create_dir_all(&tmp_base)
        .map_err(|e| format!("cannot create {}: {e}", tmp_base.display()))?;
    let tmp_base = std::fs::canonicalize(&tmp_base).map_err(|e| e.to_string())?;
    {
        let tmp_base = tmp_base.clone();
        runner::install_interrupt_handler(move || {
            ltp::leftovers::release(&tmp_base);
            let _ = std::fs::remove_dir_all(tmp_base);
        });
    }

    // The tests' environment.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let root = ltproot.to_string_lossy().into_owned();
    let mut env: Vec<(String, String)> = vec![
        ("LTPROOT".into(), root.clone()),
        (
            "PATH".into(),
            format!("{root}/testcases/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        ),
    ];
    for (k, v) in std::env::vars() {
        if k.starts_with("LTP_") {
            env.push((k, v));
        }
    }
    // Host paths the tests need that the sandbox must show them (besides each TMPDIR).
    let mut volumes = Vec::new();
    // The kernel config: natively the host's; the sandbox has its own /proc/config.gz (what
    // its sentry implements), which LTP reads first, unless KCONFIG_PATH is set for the run.
    let kconfig = kernel_config(&tmp_base.join(".kconfig"), &release);
    let mut native_env = Vec::new();
    if let Some((path, from)) = &kconfig {
        native_env.push(("KCONFIG_PATH".to_string(), path.clone()));
        if from == "KCONFIG_PATH" {
            env.push(("KCONFIG_PATH".into(), path.clone()));
            if let Some(dir) = Path::new(path).parent().filter(|d| d.is_absolute()) {
                volumes.push(format!("{0}:{0}:ro", dir.display()));
            }
        }
    }
    for (k, v) in &cli.env {
        env.retain(|(k2, _)| k2 != k);
        env.push((k.clone(), v.clone()));
    }
    native_env.retain(|(k, _)| !env.iter().any(|(k2, _)| k2 == k));
    native_env.extend(env.iter().cloned());

    let meta = policy::load_metadata(&ltproot)?.unwrap_or_default();
    let policy = Policy::new(meta);
    let jobs_n = cli
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let skip_reason = cli
        .skip
        .as_ref()
        .map(|p| format!("in the skip list {}", p.display()));
    let make_jobs = |native: bool| -> Vec<Job> {
        selected
            .iter()
            .map(|e| {
                let clock_setter = policy.is_clock_setter(e);
                let skip = if runtest::any_match(&skips, &e.name) {
                    skip_reason.clone()
                } else if native && clock_setter && !cli.run_clock_setters {
                    Some(
                        "sets the host's wall clock; not run natively without --run-clock-setters"
                            .into(),
                    )
                } else {
                    None
                };
                Job {
                    entry: e.clone(),
                    exclusivity: policy.exclusivity(e),
                    clock_setter,
                    skip,
                }
            })
            .collect()
    };
    let tty = std::io::stderr().is_terminal();
    let run_phase = |mode: &Mode, suffix: &str| -> (Vec<TestResult>, Duration) {
        let native = matches!(mode, Mode::Native);
        let jobs = make_jobs(native);
        let settings = Settings {
            jobs: jobs_n,
            timeout,
            env: if native {
                native_env.clone()
            } else {
                env.clone()
            },
            tmp_base: tmp_base.clone(),
            log_dir: log_dir.clone(),
            log_suffix: suffix.to_string(),
        };
        let mut progress = Progress::new(mode.label(), jobs.len(), tty);
        let start = Instant::now();
        let results = runner::run_all(&jobs, mode, &settings, |ev| match ev {
            Event::Started(j) => progress.started(&j.entry.name),
            Event::Finished(j, r) => progress.finished(&j.entry.name, r),
            Event::Tick => progress.tick(),
        });
        progress.finish();
        (results, start.elapsed())
    };

    let mut info = RunInfo {
        runtest: runtest_path.display().to_string(),
        runtest_total: entries.len(),
        ltproot: root.clone(),
        ltp_version: std::fs::read_to_string(ltproot.join("Version"))
            .ok()
            .map(|s| s.trim().into()),
        host_kernel: release.clone(),
        kernel_config: kconfig.as_ref().map(|(_, from)| {
            if from == "KCONFIG_PATH" {
                format!("{from} (natively and in the sandbox)")
            } else {
                format!("{from} natively; the sandbox's own /proc/config.gz in it")
            }
        }),
        init: !cli.no_init,
        jobs: jobs_n,
        timeout,
        started: format!("{} UTC", timestamp(started)),
        baseline: cli.baseline.as_ref().map(|p| p.display().to_string()),
        expected_file: expected_path.as_ref().map(|p| p.display().to_string()),
        ..RunInfo::default()
    };
    eprintln!(
        "ltp: {} tests of {} ({}), {} job(s), {} s timeout, output in {}",
        selected.len(),
        runtest_path.display(),
        if cli.both {
            "native, then sandbox"
        } else if run_native {
            "native"
        } else {
            "sandbox"
        },
        jobs_n,
        timeout.as_secs(),
        out.display()
    );

    let native_results = if run_native {
        let suffix = if run_sandbox { ".native.log" } else { ".log" };
        let (r, wall) = run_phase(&Mode::Native, suffix);
        info.native_wall = Some(wall);
        Some(r)
    } else {
        None
    };
    let sandbox_results = if let Some(program) = &sandbox {
        info.sandbox = Some(program.display().to_string());
        let mut probe = Command::new(program);
        probe.args(["run", "/bin/uname", "-r"]);
        info.sandbox_kernel =
            runner::capture(probe, Duration::from_secs(10), &tmp_base.join("uname"))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
        let mode = Mode::Sandbox(SandboxCmd {
            program: program.clone(),
            init: !cli.no_init,
            volumes: volumes.clone(),
        });
        let (r, wall) = run_phase(&mode, ".log");
        info.sandbox_wall = Some(wall);
        Some(r)
    } else {
        None
    };
    ltp::leftovers::release(&tmp_base);
    let _ = std::fs::remove_dir_all(&tmp_base);

    // Rows and verdicts.
    let from_baseline = |name: &str| {
        baseline
            .as_ref()
            .and_then(|b| b.get(name))
            .map(|&outcome| TestResult {
                outcome,
                termination: None,
                seconds: 0.0,
                hint: None,
            })
    };
    let rows: Vec<Row> = selected
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let native = match &native_results {
                Some(r) => Some(r[i].clone()),
                None => from_baseline(&e.name),
            };
            let sandbox = sandbox_results.as_ref().map(|r| r[i].clone());
            let expected = expected_list.get(&e.name).cloned();
            let verdict = sandbox.as_ref().map(|s| {
                expected::judge(
                    s.outcome,
                    native.as_ref().map(|n| n.outcome),
                    expected.as_ref(),
                )
            });
            Row {
                entry: e.clone(),
                sandbox,
                native,
                expected,
                verdict,
            }
        })
        .collect();
    let names: HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    info.stale_expected = expected_list
        .tests
        .keys()
        .filter(|n| !names.contains(n.as_str()))
        .cloned()
        .collect();

    let tsv_path = out.join("results.tsv");
    let md_path = out.join("summary.md");
    std::fs::write(&tsv_path, report::tsv(&rows))
        .map_err(|e| format!("cannot write {}: {e}", tsv_path.display()))?;
    std::fs::write(&md_path, report::summary(&rows, &info))
        .map_err(|e| format!("cannot write {}: {e}", md_path.display()))?;

    if let Some(path) = &cli.write_expected {
        let results = rows.iter().filter_map(|r| {
            let s = r.sandbox.as_ref()?;
            Some((
                r.entry.name.as_str(),
                s.outcome,
                r.verdict.as_ref()?,
                s.hint.as_deref(),
            ))
        });
        let list = expected_list.updated(results, cli.new_reason.as_deref());
        std::fs::write(path, list.render())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {} entries to {}", list.tests.len(), path.display());
    }

    // A short account on stdout.
    let counts = |pick: &dyn Fn(&Row) -> Option<&TestResult>| {
        let mut m: HashMap<Outcome, usize> = HashMap::new();
        for r in rows.iter().filter_map(pick) {
            *m.entry(r.outcome).or_default() += 1;
        }
        Outcome::ALL
            .iter()
            .filter_map(|o| m.get(o).map(|n| format!("{o} {n}")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if native_results.is_some() {
        println!("native:  {}", counts(&|r| r.native.as_ref()));
    }
    if sandbox_results.is_some() {
        println!("sandbox: {}", counts(&|r| r.sandbox.as_ref()));
    }
    if let Some((both, of)) = report::score(&rows) {
        println!(
            "score: {both}/{of} of the tests that pass natively pass in the sandbox ({:.1}%)",
            100.0 * both as f64 / of as f64
        );
    }
    let with = |v: Verdict| {
        rows.iter()
            .filter(|r| r.verdict.as_ref() == Some(&v))
            .collect::<Vec<_>>()
    };
    let now_passing = with(Verdict::NowPassing);
    for r in &now_passing {
        println!(
            "now passing; remove from the expected list: {}",
            r.entry.name
        );
    }
    let regressions = with(Verdict::Regression);
    for r in &regressions {
        let s = r.sandbox.as_ref().expect("judged");
        let native = r
            .native
            .as_ref()
            .map_or("unknown".to_string(), |n| n.outcome.to_string());
        println!(
            "REGRESSION: {}: {} (native: {native}){}",
            r.entry.name,
            s.outcome,
            s.hint.as_ref().map_or(String::new(), |h| format!(": {h}"))
        );
    }
    println!(
        "results: {}\nsummary: {}",
        tsv_path.display(),
        md_path.display()
    );
    if regressions.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{} regression(s)", regressions.len());
        Ok(ExitCode::from(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101-000000");
        let t = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        assert_eq!(timestamp(t), "20260528-202640");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "20000229-000000");
    }

    #[test]
    fn env_values() {
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(parse_env("novalue").is_err());
        assert!(parse_env("=x").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
