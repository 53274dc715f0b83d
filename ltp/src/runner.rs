//! Runs the tests: N workers, a per-test timeout, a fresh TMPDIR and a log per test, and the
//! scheduling rules of [`crate::policy`].
//!
//! Each test runs the way LTP's runners run it: `sh -c "<command>"` with `LTPROOT`, `PATH`
//! (`$LTPROOT/testcases/bin` first) and `TMPDIR` in an otherwise empty environment, natively
//! or inside `sandbox run [--init] --clear-env --env K=V... --cwd TMPDIR /bin/sh -c ...`. The
//! process is the leader of its own process group; the group is killed when the test ends or
//! times out, so nothing a test leaves behind outlives it (save what leaves the group).

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::classify::{self, Outcome, Termination};
use crate::leftovers;
use crate::policy::Exclusivity;
use crate::procs;
use crate::runtest::Entry;

/// How to run the sandbox.
#[derive(Clone, Debug)]
pub struct SandboxCmd {
    pub program: PathBuf,
    /// Pass `--init` (a minimal init as PID 1 in front of the test).
    pub init: bool,
    /// `--volume` arguments (`HOST:GUEST[:ro]`) for host paths the tests need; each test's
    /// TMPDIR is added to them.
    pub volumes: Vec<String>,
}

/// Native, or under the sandbox.
#[derive(Clone, Debug)]
pub enum Mode {
    Native,
    Sandbox(SandboxCmd),
}

impl Mode {
    pub fn label(&self) -> &'static str {
        match self {
            Mode::Native => "native",
            Mode::Sandbox(_) => "sandbox",
        }
    }
}

/// Settings shared by every test of a run.
#[derive(Clone, Debug)]
pub struct Settings {
    pub jobs: usize,
    pub timeout: Duration,
    /// The test's environment, without `TMPDIR` (added per test).
    pub env: Vec<(String, String)>,
    /// Per-test TMPDIRs are made under this directory and removed afterwards.
    pub tmp_base: PathBuf,
    pub log_dir: PathBuf,
    /// Appended to the test name to name its log: `.log`, `.native.log`.
    pub log_suffix: String,
}

/// One test to run, with what the policy says about it.
#[derive(Clone, Debug)]
pub struct Job {
    pub entry: Entry,
    pub exclusivity: Exclusivity,
    /// Sets the host's wall clock (checked in the sandbox: the host clock must not move).
    pub clock_setter: bool,
    /// Not to be run, and why.
    pub skip: Option<String>,
}

/// The result of one test in one mode.
#[derive(Clone, Debug)]
pub struct TestResult {
    pub outcome: Outcome,
    /// How the process ended; `None` when not run.
    pub termination: Option<Termination>,
    pub seconds: f64,
    /// A line of the output that says why it did not pass.
    pub hint: Option<String>,
}

/// Reported to the caller while the run goes on.
pub enum Event<'a> {
    Started(&'a Job),
    Finished(&'a Job, &'a TestResult),
    /// Nothing happened for a second (refresh the progress line).
    Tick,
}

/// First processes of the tests running now, to be killed if the runner is interrupted.
static RUNNING: Mutex<BTreeSet<libc::pid_t>> = Mutex::new(BTreeSet::new());

/// Makes SIGINT, SIGTERM and SIGHUP kill the running tests (each leads a process group of its
/// own, out of reach of the terminal's ^C), run `cleanup`, and exit 128+signal. Call before
/// starting any thread: the signals are blocked in the caller and in every thread it starts
/// later, and taken by a thread of their own. Children start with no signal blocked (the
/// standard library clears the mask when it spawns).
pub fn install_interrupt_handler(cleanup: impl FnOnce() + Send + 'static) {
    // SAFETY: sigset_t is plain data; all-zero bytes are a valid (if unspecified) value, and
    // sigemptyset initialises it before any other use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t owned by us; the calls only write to it, and
    // pthread_sigmask only reads it.
    unsafe {
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    std::thread::spawn(move || {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` and `sig` are valid for the duration of the call.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            return;
        }
        // Held until exit: no worker can reap (and so free the id of) a test's first process
        // meanwhile.
        let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        for &pid in running.iter() {
            procs::kill_all(Some(pid), &procs::runner_tag_prefix());
        }
        procs::kill_all(None, &procs::runner_tag_prefix());
        let n = running.len();
        cleanup();
        eprintln!("\nltp: interrupted (signal {sig}); killed {n} running test(s)");
        std::process::exit(128 + sig);
    });
}

/// Host wall-clock moves larger than this, while a clock-setting test ran in the sandbox, are
/// the sandbox's fault.
const CLOCK_TOLERANCE: Duration = Duration::from_millis(500);

/// Runs `jobs` and returns their results in the same order.
pub fn run_all(
    jobs: &[Job],
    mode: &Mode,
    settings: &Settings,
    mut on_event: impl FnMut(Event<'_>),
) -> Vec<TestResult> {
    let sched = Mutex::new(Scheduler::new(jobs));
    let wake = Condvar::new();
    let (tx, rx) = mpsc::channel::<(usize, Option<TestResult>)>();
    let mut results: Vec<Option<TestResult>> = vec![None; jobs.len()];

    std::thread::scope(|scope| {
        for _ in 0..settings.jobs.max(1) {
            let tx = tx.clone();
            let (sched, wake) = (&sched, &wake);
            scope.spawn(move || loop {
                let index = {
                    let mut s = sched.lock().unwrap();
                    loop {
                        match s.pick() {
                            Pick::Done => return,
                            Pick::Run(i) => break i,
                            Pick::Wait => s = wake.wait(s).unwrap(),
                        }
                    }
                };
                let _ = tx.send((index, None));
                let result = run_one(&jobs[index], index, mode, settings);
                sched.lock().unwrap().finish(index);
                wake.notify_all();
                let _ = tx.send((index, Some(result)));
            });
        }
        drop(tx);
        loop {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok((i, None)) => on_event(Event::Started(&jobs[i])),
                Ok((i, Some(r))) => {
                    on_event(Event::Finished(&jobs[i], &r));
                    results[i] = Some(r);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => on_event(Event::Tick),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

enum Pick {
    Run(usize),
    Wait,
    Done,
}

/// Hands out jobs in order, as far as the exclusivity rules allow: an alone job waits for the
/// running ones to end and nothing starts beside it or after it until it has run; a job that
/// takes a resource waits for the running job that holds it, and jobs behind it may overtake
/// it meanwhile.
struct Scheduler {
    kinds: Vec<Exclusivity>,
    taken: Vec<bool>,
    first_pending: usize,
    running: usize,
    alone_running: bool,
    /// Resources held by running jobs.
    held: u8,
}

impl Scheduler {
    fn new(jobs: &[Job]) -> Scheduler {
        Scheduler {
            // A job that will not run needs no room.
            kinds: jobs
                .iter()
                .map(|j| {
                    if j.skip.is_some() {
                        Exclusivity::Shared
                    } else {
                        j.exclusivity
                    }
                })
                .collect(),
            taken: vec![false; jobs.len()],
            first_pending: 0,
            running: 0,
            alone_running: false,
            held: 0,
        }
    }

    fn pick(&mut self) -> Pick {
        while self.first_pending < self.taken.len() && self.taken[self.first_pending] {
            self.first_pending += 1;
        }
        if self.first_pending == self.taken.len() {
            return Pick::Done;
        }
        if self.alone_running {
            return Pick::Wait;
        }
        for i in self.first_pending..self.taken.len() {
            if self.taken[i] {
                continue;
            }
            match self.kinds[i] {
                Exclusivity::Alone if self.running == 0 => {
                    self.alone_running = true;
                    return self.take(i);
                }
                Exclusivity::Alone => return Pick::Wait,
                Exclusivity::Resources(r) if self.held & r != 0 => continue,
                Exclusivity::Resources(r) => {
                    self.held |= r;
                    return self.take(i);
                }
                Exclusivity::Shared => return self.take(i),
            }
        }
        Pick::Wait
    }

    fn take(&mut self, i: usize) -> Pick {
        self.taken[i] = true;
        self.running += 1;
        Pick::Run(i)
    }

    fn finish(&mut self, i: usize) {
        self.running -= 1;
        match self.kinds[i] {
            Exclusivity::Alone => self.alone_running = false,
            Exclusivity::Resources(r) => self.held &= !r,
            Exclusivity::Shared => {}
        }
    }
}

/// A file name for a test's log or TMPDIR.
pub fn file_name(name: &str) -> String {
    name.replace(['/', '\0'], "_")
}

/// Runs one test (the `index`th of its run) and writes its log.
pub fn run_one(job: &Job, index: usize, mode: &Mode, settings: &Settings) -> TestResult {
    let name = file_name(&job.entry.name);
    let log_path = settings
        .log_dir
        .join(format!("{name}{}", settings.log_suffix));
    if let Some(reason) = &job.skip {
        let _ = fs::write(
            &log_path,
            format!("# ltp: {}: not run: {reason}\n", job.entry.name),
        );
        return TestResult {
            outcome: Outcome::Skipped,
            termination: None,
            seconds: 0.0,
            hint: Some(reason.clone()),
        };
    }
    let tag = procs::tag(index, mode.label());
    match run_process(job, &tag, mode, settings, &name, &log_path) {
        Ok(r) => r,
        Err(e) => {
            // The runner could not set the test up (log or TMPDIR): the test is broken here.
            let msg = format!("ltp: cannot run {}: {e}", job.entry.name);
            let _ = fs::write(&log_path, format!("# {msg}\n"));
            TestResult {
                outcome: Outcome::Broken,
                termination: None,
                seconds: 0.0,
                hint: Some(msg),
            }
        }
    }
}

fn build_command(job: &Job, mode: &Mode, settings: &Settings, tmp: &Path) -> Command {
    let tmp_str = tmp.to_string_lossy().into_owned();
    match mode {
        Mode::Native => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(&job.entry.command);
            c.env_clear()
                .envs(settings.env.iter().map(|(k, v)| (k, v)))
                .env("TMPDIR", &tmp_str);
            c
        }
        Mode::Sandbox(s) => {
            let mut c = Command::new(&s.program);
            c.arg("run");
            if s.init {
                c.arg("--init");
            }
            c.arg("--clear-env");
            for (k, v) in &settings.env {
                c.arg("--env").arg(format!("{k}={v}"));
            }
            c.arg("--env").arg(format!("TMPDIR={tmp_str}"));
            // The sandbox has a /tmp of its own: show it the host's TMPDIR, at the same path.
            c.arg("--volume").arg(format!("{tmp_str}:{tmp_str}"));
            for v in &s.volumes {
                c.arg("--volume").arg(v);
            }
            c.arg("--cwd").arg(tmp);
            c.arg("/bin/sh").arg("-c").arg(&job.entry.command);
            c
        }
    }
}

fn run_process(
    job: &Job,
    tag: &str,
    mode: &Mode,
    settings: &Settings,
    name: &str,
    log_path: &Path,
) -> io::Result<TestResult> {
    let tmp = settings.tmp_base.join(name);
    if tmp.exists() {
        let _ = fs::remove_dir_all(&tmp);
    }
    fs::create_dir_all(&tmp)?;
    // World-writable, as runltp makes its TMPDIR: tests that drop root make their own
    // directories in it.
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o777))?;

    let mut command = build_command(job, mode, settings, &tmp);
    command
        .current_dir(&tmp)
        .stdin(Stdio::null())
        .process_group(0);
    // The tag marks every process the test starts (see `procs`); under the sandbox it marks
    // the sandbox's own host processes.
    command.env(procs::TAG_VAR, tag);

    let mut log = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(log_path)?;
    writeln!(log, "# ltp: {}: {}", job.entry.name, job.entry.command)?;
    let argv: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    writeln!(log, "# {}: {}", mode.label(), shell_words(&argv))?;
    let since_epoch = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    writeln!(
        log,
        "# started at {:.3} (seconds since the epoch)",
        since_epoch.as_secs_f64()
    )?;
    writeln!(log, "#")?;
    log.flush()?;
    let output_start = log.stream_position()?;
    drop(log);
    // Stdout and stderr share one description, appended to, as on a terminal.
    let out = OpenOptions::new().append(true).open(log_path)?;
    command.stdout(out.try_clone()?).stderr(out);

    let clock_before = (Instant::now(), SystemTime::now());
    let start = Instant::now();
    let spawned = command.spawn();
    drop(command); // Closes our copies of the log descriptors.
    let (termination, survivors) = match spawned {
        Ok(child) => wait_with_timeout(child, settings.timeout, tag)?,
        Err(e) => (Termination::SpawnFailed(e.to_string()), Vec::new()),
    };
    let seconds = start.elapsed().as_secs_f64();
    let clock_drift = job.clock_setter.then(|| wall_clock_drift(clock_before));

    let output = read_from(log_path, output_start)?;
    let sandboxed = matches!(mode, Mode::Sandbox(_));
    let mut outcome = classify::classify(&termination, &output, sandboxed);
    let mut hint = match &termination {
        Termination::SpawnFailed(e) => Some(format!("cannot start: {e}")),
        Termination::TimedOut => Some(format!("killed after {}s", settings.timeout.as_secs())),
        term => classify::hint(outcome, &output)
            .or_else(|| classify::fallback_hint(outcome, term, &output)),
    };
    if let Some(drift) = clock_drift.filter(|d| d.abs() > CLOCK_TOLERANCE.as_secs_f64()) {
        let msg = format!("the host's wall clock moved by {drift:+.3}s during the test");
        if sandboxed {
            outcome = Outcome::SandboxError;
        }
        hint = Some(msg);
    }

    let mut log = OpenOptions::new().append(true).open(log_path)?;
    writeln!(
        log,
        "\n# ltp: {outcome} (exit {termination}) in {seconds:.2}s"
    )?;
    if let Some(h) = &hint {
        writeln!(log, "# ltp: {h}")?;
    }
    if !survivors.is_empty() {
        writeln!(
            log,
            "# ltp: processes of the test that would not die: {survivors:?}"
        )?;
    }
    let released = leftovers::release(&tmp);
    if !released.is_empty() {
        writeln!(log, "# ltp: undone after the test: {}", released.join(", "))?;
    }
    let _ = fs::remove_dir_all(&tmp);
    Ok(TestResult {
        outcome,
        termination: Some(termination),
        seconds,
        hint,
    })
}

/// How far the host's wall clock moved against the monotonic clock since `before`.
fn wall_clock_drift(before: (Instant, SystemTime)) -> f64 {
    let mono = before.0.elapsed().as_secs_f64();
    let wall = match SystemTime::now().duration_since(before.1) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    wall - mono
}

/// Waits for `child`, killing it and every process of the test (see `procs`) at `timeout`;
/// kills whatever of the test is left either way. That happens before `child` is reaped, so
/// its id cannot have been reused by then. Returns how it ended and the processes that would
/// not die.
fn wait_with_timeout(
    mut child: Child,
    timeout: Duration,
    tag: &str,
) -> io::Result<(Termination, Vec<libc::pid_t>)> {
    let pid = child.id() as libc::pid_t;
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pid);
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    let mut timed_out = false;
    loop {
        // An error here (there is none to expect) ends the wait: kill, then reap.
        if exited_unreaped(pid).unwrap_or(true) {
            break;
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            timed_out = true;
            break;
        }
        std::thread::sleep(pause.min(timeout - elapsed));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    let survivors = procs::kill_all(Some(pid), tag);
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&pid);
    let status = child.wait()?;
    let termination = if timed_out {
        Termination::TimedOut
    } else if let Some(code) = status.code() {
        Termination::Exited(code)
    } else {
        Termination::Signaled(status.signal().unwrap_or(0))
    };
    Ok((termination, survivors))
}

/// Runs `command` with a timeout and returns its standard output (written to `scratch`), or
/// `None` if it could not start, failed, or timed out. For probes such as `uname -r`.
pub fn capture(mut command: Command, timeout: Duration, scratch: &Path) -> Option<String> {
    let out = File::create(scratch).ok()?;
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .process_group(0);
    let tag = procs::tag(usize::MAX, "probe");
    command.env(procs::TAG_VAR, &tag);
    let child = command.spawn().ok()?;
    drop(command);
    let (term, _) = wait_with_timeout(child, timeout, &tag).ok()?;
    let text = fs::read_to_string(scratch).ok();
    let _ = fs::remove_file(scratch);
    (term == Termination::Exited(0)).then_some(text?)
}

/// True once `pid` has exited, without reaping it (`waitid(WNOWAIT)`).
fn exited_unreaped(pid: libc::pid_t) -> io::Result<bool> {
    // SAFETY: siginfo_t is plain data for which all-zero bytes are a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable siginfo_t that outlives the call.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    // SAFETY: waitid filled `info` in (or left it zeroed, WNOHANG with nothing to report);
    // si_pid is valid for SIGCHLD-style records, the only kind waitid writes.
    Ok(unsafe { info.si_pid() } != 0)
}

/// Reads a log from `offset`, at most 64 MiB of it, as text.
fn read_from(path: &Path, offset: u64) -> io::Result<String> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    f.take(64 << 20).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Quotes an argv for display.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, exclusivity: Exclusivity) -> Job {
        Job {
            entry: Entry {
                name: name.into(),
                command: name.into(),
                line: 1,
            },
            exclusivity,
            clock_setter: false,
            skip: None,
        }
    }

    /// Drains the scheduler with `slots` parallel workers, finishing jobs oldest first;
    /// returns the sets of jobs that ran together.
    fn simulate(jobs: &[Job], slots: usize) -> Vec<Vec<usize>> {
        let mut s = Scheduler::new(jobs);
        let mut running: Vec<usize> = Vec::new();
        let mut snapshots = Vec::new();
        loop {
            let mut done = false;
            while running.len() < slots {
                match s.pick() {
                    Pick::Run(i) => running.push(i),
                    Pick::Wait => break,
                    Pick::Done => {
                        done = true;
                        break;
                    }
                }
            }
            if running.is_empty() {
                assert!(done, "scheduler stalled");
                return snapshots;
            }
            snapshots.push(running.clone());
            let i = running.remove(0);
            s.finish(i);
        }
    }

    #[test]
    fn alone_jobs_run_alone() {
        use Exclusivity::*;
        let jobs = [
            job("a", Shared),
            job("b", Shared),
            job("clock", Alone),
            job("c", Shared),
            job("d", Shared),
        ];
        let snaps = simulate(&jobs, 2);
        for snap in &snaps {
            if snap.contains(&2) {
                assert_eq!(snap, &vec![2], "{snaps:?}");
            }
        }
        // Nothing after the alone job started before it.
        let first_c = snaps.iter().position(|s| s.contains(&3)).unwrap();
        let clock = snaps.iter().position(|s| s.contains(&2)).unwrap();
        assert!(clock < first_c);
        let all: std::collections::BTreeSet<_> = snaps.iter().flatten().collect();
        assert_eq!(all.len(), 5);
    }

    #[test]
    fn resource_jobs_never_overlap_but_others_overtake() {
        use crate::policy::{DEVICE, HUGEPAGES};
        use Exclusivity::*;
        let jobs = [
            job("m1", Resources(DEVICE)),
            job("m2", Resources(DEVICE)),
            job("x", Shared),
            job("h", Resources(HUGEPAGES)),
            job("m3", Resources(DEVICE | HUGEPAGES)),
        ];
        let snaps = simulate(&jobs, 3);
        for snap in &snaps {
            for bit in [DEVICE, HUGEPAGES] {
                let holders = snap
                    .iter()
                    .filter(|&&i| matches!(jobs[i].exclusivity, Resources(r) if r & bit != 0))
                    .count();
                assert!(holders <= 1, "{snaps:?}");
            }
        }
        // x and h started while m1 ran.
        assert_eq!(snaps[0], vec![0, 2, 3], "{snaps:?}");
    }

    #[test]
    fn skipped_jobs_need_no_room() {
        let mut j = job("clock", Exclusivity::Alone);
        j.skip = Some("host clock".into());
        let jobs = [
            job("a", Exclusivity::Shared),
            j,
            job("b", Exclusivity::Shared),
        ];
        let snaps = simulate(&jobs, 3);
        assert_eq!(snaps[0], vec![0, 1, 2]);
    }

    #[test]
    fn quoting() {
        let argv = [
            "sh".to_string(),
            "-c".into(),
            "a b".into(),
            "it's".into(),
            "".into(),
        ];
        assert_eq!(shell_words(&argv), r#"sh -c 'a b' 'it'\''s' ''"#);
    }
}
