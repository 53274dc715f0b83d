// SPDX-License-Identifier: Apache-2.0
//! Differential test harness: one program, two runs.
//!
//! A program runs natively and under `sandbox run`, with the same arguments, working directory
//! and a fixed, clean environment; exit status and stdout must match. The programs are either
//! C guests from `tests/guests/` (compiled here with gcc, `-static` and dynamic) or host
//! programs such as `/bin/echo`.
//!
//! - [`guest_tests!`] turns a list of guest names into four `#[test]`s each: `static_native`,
//!   `static_sandbox`, `dynamic_native`, `dynamic_sandbox`, in a module named after the guest
//!   (gVisor's `syscall_test` expansion). The `*_native` tests check that the guest passes on
//!   Linux, so that a wrong guest is caught as wrong; the `*_sandbox` tests compare the sandbox
//!   against Linux.
//! - [`Run`] describes one invocation; [`Run::compare`] runs it both ways and panics with both
//!   transcripts when they differ.
//!
//! The only deliberate difference between the runs is `SANDBOX=1` in the sandboxed
//! environment, which a guest may read to document a known divergence (see `guest.h`).
//!
//! Environment variables:
//! - `SANDBOX_BIN`: the `sandbox` binary (default: the newer of the workspace's
//!   `target/release/sandbox` and `target/debug/sandbox`).
//! - `SANDBOX_TEST_STRACE=1`: pass `--strace` to every sandboxed run (shown on mismatch).
//! - `SANDBOX_TEST_TIMEOUT`: seconds before a run is killed (default 120).
//! - `GUEST_CACHE_DIR`: where compiled guests are kept (default: `guests/` beside the test
//!   binary's `deps/`, i.e. `target/debug/guests`).
//! - `CC`: the C compiler (default `gcc`).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

pub mod mutate;

/// `PATH` inside both runs.
pub const FIXED_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// Working directory of both runs unless a test picks another.
pub const DEFAULT_CWD: &str = "/";

/// Flags every guest is compiled with, besides `-static` for the static variant.
const CFLAGS: &[&str] = &["-O1", "-Wall", "-U_FORTIFY_SOURCE"];

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The directory holding the guests' C sources and `guest.h`.
pub fn guests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("guests")
}

/// The `sandbox` binary: `$SANDBOX_BIN`, else the newer of the workspace's release and debug
/// builds. Panics with instructions when there is none. (`cargo test -p tests` does not build
/// it: run `cargo build --release -p loader` first.)
pub fn sandbox_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("SANDBOX_BIN") {
            let bin = PathBuf::from(bin);
            return if bin.is_file() {
                Ok(bin)
            } else {
                Err(format!("SANDBOX_BIN={} is not a file", bin.display()))
            };
        }
        // The newer of the release and debug builds, so a stale one is not picked by accident.
        let target = workspace_root().join("target");
        let newest = ["release", "debug"]
            .iter()
            .map(|profile| target.join(profile).join("sandbox"))
            .filter_map(|bin| Some((bin.metadata().ok()?.modified().ok()?, bin)))
            .max();
        if let Some((_, bin)) = newest {
            return Ok(bin);
        }
        Err(format!(
            "no sandbox binary: build it with `cargo build --release -p loader` (looked in {}/{{release,debug}}) or set SANDBOX_BIN",
            target.display()
        ))
    });
    match found {
        Ok(bin) => bin.clone(),
        Err(msg) => panic!("{msg}"),
    }
}

fn timeout() -> Duration {
    let secs = std::env::var("SANDBOX_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

/// How a guest is linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Linkage {
    /// `gcc -static`: no dynamic loader, glibc's static start-up.
    Static,
    /// The default: a PIE started by `ld-linux-x86-64.so.2`.
    Dynamic,
}

impl Linkage {
    fn name(self) -> &'static str {
        match self {
            Linkage::Static => "static",
            Linkage::Dynamic => "dynamic",
        }
    }

    fn flags(self) -> &'static [&'static str] {
        match self {
            Linkage::Static => &["-static"],
            Linkage::Dynamic => &[],
        }
    }
}

fn cc() -> OsString {
    std::env::var_os("CC").unwrap_or_else(|| "gcc".into())
}

/// The compiler's identity (`gcc --version`), part of the cache key.
fn cc_identity() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| match Command::new(cc()).arg("--version").output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        Err(e) => panic!("cannot run the C compiler {:?}: {e}", cc()),
    })
}

/// Volumes that show the workspace and the guests' cache at their own paths when they lie under
/// /tmp (a clone in /tmp): the sandbox always gives /tmp a tmpfs of its own, so `--host-root`
/// alone would not show them. Read-only; nothing elsewhere needs them.
pub fn tmp_volumes() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for dir in [workspace_root(), cache_dir()] {
        if dir.starts_with("/tmp")
            && !out
                .iter()
                .any(|v| dir.starts_with(v.split(':').next().unwrap_or("")))
        {
            let _ = std::fs::create_dir_all(&dir);
            out.push(format!("{0}:{0}:ro", dir.display()));
        }
    }
    out.iter()
        .flat_map(|v| ["-v".to_string(), v.clone()])
        .collect()
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GUEST_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    // The test binary is <target>/<profile>/deps/<name>-<hash>.
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("guests")))
        .unwrap_or_else(|| std::env::temp_dir().join("sandbox-guests"))
}

/// Compiles guest `name` (`tests/guests/<name>.c`) and returns the binary's path.
///
/// Each variant is built once per source content, compiler and flags: within a process the
/// first caller compiles while the others wait; across processes the binary is cached under
/// `target/debug/guests/` (see `GUEST_CACHE_DIR`) by a hash of its inputs and published with an
/// atomic rename.
pub fn guest(name: &str, linkage: Linkage) -> PathBuf {
    type Cell = Arc<OnceLock<Result<PathBuf, String>>>;
    static BUILT: OnceLock<Mutex<HashMap<(String, Linkage), Cell>>> = OnceLock::new();
    let cell = {
        let mut built = BUILT
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        built
            .entry((name.to_string(), linkage))
            .or_default()
            .clone()
    };
    match cell.get_or_init(|| compile(name, linkage)) {
        Ok(path) => path.clone(),
        Err(msg) => panic!("{msg}"),
    }
}

fn compile(name: &str, linkage: Linkage) -> Result<PathBuf, String> {
    let dir = guests_dir();
    let source = dir.join(format!("{name}.c"));
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()));
    let mut hasher = DefaultHasher::new();
    read(&source)?.hash(&mut hasher);
    read(&dir.join("guest.h"))?.hash(&mut hasher);
    cc_identity().hash(&mut hasher);
    CFLAGS.hash(&mut hasher);
    linkage.flags().hash(&mut hasher);
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).map_err(|e| format!("creating {}: {e}", cache.display()))?;
    let binary = cache.join(format!(
        "{name}-{}-{:016x}",
        linkage.name(),
        hasher.finish()
    ));
    if binary.is_file() {
        return Ok(binary);
    }

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = cache.join(format!(
        ".{name}-{}.tmp-{}-{}",
        linkage.name(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let out = Command::new(cc())
        .args(CFLAGS)
        .args(linkage.flags())
        .arg("-I")
        .arg(&dir)
        .arg("-o")
        .arg(&tmp)
        .arg(&source)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {:?}: {e}", cc()))?;
    let diagnostics = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "compiling guest {name} ({}) failed:\n{diagnostics}",
            linkage.name()
        ));
    }
    if !diagnostics.trim().is_empty() {
        eprintln!(
            "warnings compiling guest {name} ({}):\n{diagnostics}",
            linkage.name()
        );
    }
    // Atomic: a concurrent process either sees no binary or a complete one.
    std::fs::rename(&tmp, &binary)
        .map_err(|e| format!("renaming {} to {}: {e}", tmp.display(), binary.display()))?;
    prune_stale(&cache, &format!("{name}-{}-", linkage.name()), &binary);
    Ok(binary)
}

/// Removes the builds of older versions of a guest (same prefix, other hash).
fn prune_stale(cache: &Path, prefix: &str, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let hash = name.strip_prefix(prefix).unwrap_or("");
        if path != keep && hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// What one run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The command line, for messages.
    pub command: String,
    /// The exit code, or 128 + N when signal N killed the process (as a shell reports it).
    pub status: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
    /// Whether the run was killed for taking longer than the timeout.
    pub timed_out: bool,
    /// Whether stdout or stderr stayed open after the process exited (a leaked process).
    pub pipes_left_open: bool,
}

impl Outcome {
    /// stdout's lines starting with `FAIL`: a guest's failed checks.
    pub fn failures(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("FAIL"))
            .collect()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ {}", self.command)?;
        write!(f, "status {}", self.status)?;
        if self.timed_out {
            write!(f, " (killed: timed out)")?;
        }
        if self.pipes_left_open {
            write!(f, " (stdout/stderr still open after exit)")?;
        }
        writeln!(f)?;
        writeln!(f, "--- stdout ---")?;
        f.write_str(&self.stdout)?;
        if !self.stdout.is_empty() && !self.stdout.ends_with('\n') {
            writeln!(f, "\\ no newline at end")?;
        }
        writeln!(f, "--- stderr ---")?;
        f.write_str(&self.stderr)?;
        if !self.stderr.is_empty() && !self.stderr.ends_with('\n') {
            writeln!(f)?;
        }
        writeln!(f, "--------------")
    }
}

/// One invocation of a program, to be run natively, sandboxed, or both.
#[derive(Clone, Debug)]
pub struct Run {
    program: OsString,
    args: Vec<OsString>,
    cwd: PathBuf,
    sandbox_options: Vec<OsString>,
}

impl Run {
    /// `program` with no arguments, in [`DEFAULT_CWD`]. A name without a slash is looked up
    /// in [`FIXED_PATH`] (natively by the standard library, in the sandbox by `sandbox run`).
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Run {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            cwd: PathBuf::from(DEFAULT_CWD),
            sandbox_options: Vec::new(),
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Sets the working directory of both runs.
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = dir.as_ref().to_path_buf();
        self
    }

    /// Adds an option for `sandbox run` (before the program), e.g. `--strace`.
    pub fn sandbox_option(mut self, option: impl AsRef<OsStr>) -> Self {
        self.sandbox_options.push(option.as_ref().to_os_string());
        self
    }

    /// Runs the program natively, with the clean environment.
    pub fn native(&self) -> Outcome {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .env("PATH", FIXED_PATH)
            .env("LANG", "C")
            .current_dir(&self.cwd);
        execute(cmd)
    }

    /// Runs the program under `sandbox run`, with the same environment plus `SANDBOX=1`.
    pub fn sandboxed(&self) -> Outcome {
        let mut cmd = Command::new(sandbox_bin());
        // The guest is compared with its native run, which sees the host's whole root: so does
        // the sandboxed one (the default view has tests of its own, tests/tests/view.rs).
        cmd.arg("run")
            .arg("--host-root")
            .args(tmp_volumes())
            .arg("--clear-env")
            .arg("--env")
            .arg(format!("PATH={FIXED_PATH}"))
            .arg("--env")
            .arg("LANG=C")
            .arg("--env")
            .arg("SANDBOX=1")
            .arg("--cwd")
            .arg(&self.cwd);
        if std::env::var_os("SANDBOX_TEST_STRACE").is_some_and(|v| v == "1") {
            cmd.arg("--strace");
        }
        cmd.args(&self.sandbox_options)
            .arg("--")
            .arg(&self.program)
            .args(&self.args);
        execute(cmd)
    }

    /// Runs both ways and panics, printing both transcripts, unless exit status and stdout
    /// are the same. Returns `(native, sandboxed)`.
    pub fn compare(&self) -> (Outcome, Outcome) {
        let native = self.native();
        let sandboxed = self.sandboxed();
        assert_same(&native, &sandboxed);
        (native, sandboxed)
    }
}

/// Panics with both transcripts unless `native` and `sandboxed` have the same exit status and
/// stdout.
pub fn assert_same(native: &Outcome, sandboxed: &Outcome) {
    let mut problems = Vec::new();
    if native.status != sandboxed.status {
        problems.push(format!(
            "exit status: native {}, sandboxed {}",
            native.status, sandboxed.status
        ));
    }
    if native.stdout != sandboxed.stdout {
        problems.push(first_difference(&native.stdout, &sandboxed.stdout));
    }
    if sandboxed.timed_out {
        problems.push("the sandboxed run timed out".to_string());
    }
    if problems.is_empty() {
        return;
    }
    let failures = sandboxed.failures();
    if !failures.is_empty() && native.failures().is_empty() {
        problems.push(format!(
            "failed checks in the sandbox:\n    {}",
            failures.join("\n    ")
        ));
    }
    panic!(
        "native and sandboxed runs differ\n\n=== native ===\n{native}\n=== sandboxed ===\n{sandboxed}\n{}",
        problems.join("\n")
    );
}

fn first_difference(native: &str, sandboxed: &str) -> String {
    let mut a = native.lines();
    let mut b = sandboxed.lines();
    for line in 1.. {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (None, None) => {
                return "stdout differs only in its final newline".to_string();
            }
            (x, y) => {
                let show =
                    |l: Option<&str>| l.map_or("<end of output>".to_string(), |l| format!("{l:?}"));
                return format!(
                    "stdout differs from line {line}:\n  native:    {}\n  sandboxed: {}",
                    show(x),
                    show(y)
                );
            }
        }
    }
    unreachable!("the loop returns")
}

/// Runs `sandbox` itself with `args` (e.g. `["syscalls"]` or `["run", "/bin/true"]`), for the
/// checks that have no native counterpart.
pub fn sandbox_command<I, S>(args: I) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(sandbox_bin());
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
    // A --rootfs is a root of its own: nothing of the host's is added to it.
    if args.first().is_some_and(|a| a == "run") && !args.iter().any(|a| a == "--rootfs") {
        cmd.arg("run").args(tmp_volumes()).args(&args[1..]);
    } else {
        cmd.args(&args);
    }
    execute(cmd)
}

/// Where a test's scratch trees go that the sandbox must see through the host's root: the
/// build's temporary directory, unless it is under /tmp (a clone in /tmp), which the sandbox
/// always replaces with a tmpfs of its own: /var/tmp then, which `--host-root` shows.
/// `target` is the test's `CARGO_TARGET_TMPDIR`.
pub fn host_visible_tmp(target: &Path) -> PathBuf {
    if target.starts_with("/tmp") {
        PathBuf::from("/var/tmp")
    } else {
        target.to_path_buf()
    }
}

/// Runs `cmd` with stdin from /dev/null, stdout and stderr captured, no descriptors above 2
/// inherited, and a timeout.
pub fn execute(mut cmd: Command) -> Outcome {
    let command = describe(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Descriptors the test process inherited without close-on-exec would otherwise reach the
    // native program but not the sandboxed one (whose descriptor table is its own).
    // SAFETY: the closure runs between fork and exec and makes one async-signal-safe raw
    // system call; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            // CLOSE_RANGE_CLOEXEC: mark, don't close, so the standard library's own
            // close-on-exec error pipe keeps working. Errors (an old kernel) are ignored.
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => panic!("cannot start `{command}`: {e}"),
    };
    let stdout = Collector::start(child.stdout.take());
    let stderr = Collector::start(child.stderr.take());
    let (status, timed_out) = wait_with_timeout(&mut child, timeout());
    // The pipes close when the process and anything it left behind have exited.
    let grace = Instant::now() + Duration::from_secs(10);
    let stdout_closed = stdout.wait_until(grace);
    let stderr_closed = stderr.wait_until(grace);
    let status = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Outcome {
        command,
        status,
        stdout: stdout.take(),
        stderr: stderr.take(),
        timed_out,
        pipes_left_open: !(stdout_closed && stderr_closed),
    }
}

fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if !arg.is_empty()
            && arg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+".contains(c))
        {
            words.push(arg.into_owned());
        } else {
            words.push(format!("'{}'", arg.replace('\'', r"'\''")));
        }
    }
    words.join(" ")
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> (std::process::ExitStatus, bool) {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (status, false),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                let _ = child.kill();
                let status = child.wait().expect("waiting for a killed child");
                return (status, true);
            }
            Err(e) => panic!("waiting for a child: {e}"),
        }
    }
}

/// Reads a pipe to its end on a thread, keeping what arrived so far available.
struct Collector {
    data: Arc<Mutex<Vec<u8>>>,
    done: Arc<AtomicBool>,
}

impl Collector {
    fn start(pipe: Option<impl Read + Send + 'static>) -> Self {
        let data = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        if let Some(mut pipe) = pipe {
            let (data, done) = (data.clone(), done.clone());
            thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    data.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&buf[..n]);
                }
                done.store(true, Ordering::Release);
            });
        } else {
            done.store(true, Ordering::Release);
        }
        Collector { data, done }
    }

    /// Waits for end of file until `deadline`; true if it came.
    fn wait_until(&self, deadline: Instant) -> bool {
        while !self.done.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(2));
        }
        true
    }

    fn take(&self) -> String {
        let data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&data).into_owned()
    }
}

/// A [`Run`] of guest `name`, compiled with `linkage`.
pub fn guest_run(name: &str, linkage: Linkage) -> Run {
    Run::new(guest(name, linkage))
}

/// Checks that a guest passes on Linux: exit status 0 and no `FAIL` line.
pub fn check_guest_native(run: &Run) {
    let native = run.native();
    let failures = native.failures();
    let finished = native
        .stdout
        .lines()
        .last()
        .is_some_and(|l| l.ends_with(" checks, 0 failed"));
    if native.status != 0 || !failures.is_empty() || !finished {
        panic!(
            "the guest does not pass natively: fix the guest, not the sandbox\n\n{native}\nfailed checks:\n    {}",
            failures.join("\n    ")
        );
    }
}

/// Checks that a guest behaves the same sandboxed as natively.
pub fn check_guest_sandboxed(run: &Run) {
    run.compare();
}

/// Fails the calling test unless the host program or file at `path` exists. A test never
/// passes by skipping what it needs: `.ci/run` installs every tool the tests use (add the
/// package there when a test needs a new one).
pub fn require_tool(path: impl AsRef<Path>) {
    let path = path.as_ref();
    assert!(
        path.exists(),
        "{} is not installed on this host: this test needs it (.ci/run installs it)",
        path.display()
    );
}

/// Generates the four differential tests of each guest.
///
/// ```ignore
/// tests::guest_tests! {
///     file_io,
///     startup => |run: tests::Run| run.args(["one", "two"]).cwd("/usr"),
/// }
/// ```
///
/// For guest `file_io` this makes the module `file_io` with the tests `static_native`,
/// `static_sandbox`, `dynamic_native` and `dynamic_sandbox` (so `cargo test -p tests native`
/// runs every native check). The optional closure adjusts the [`Run`] (arguments, working
/// directory) for all four.
#[macro_export]
macro_rules! guest_tests {
    ($($name:ident $(=> $customize:expr)?),* $(,)?) => {
        $(
            mod $name {
                fn run(linkage: $crate::Linkage) -> $crate::Run {
                    let run = $crate::guest_run(stringify!($name), linkage);
                    $(let run = ($customize)(run);)?
                    run
                }

                #[test]
                fn static_native() {
                    $crate::check_guest_native(&run($crate::Linkage::Static));
                }

                #[test]
                fn static_sandbox() {
                    $crate::check_guest_sandboxed(&run($crate::Linkage::Static));
                }

                #[test]
                fn dynamic_native() {
                    $crate::check_guest_native(&run($crate::Linkage::Dynamic));
                }

                #[test]
                fn dynamic_sandbox() {
                    $crate::check_guest_sandboxed(&run($crate::Linkage::Dynamic));
                }
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_names_the_line() {
        let d = first_difference("a\nb\nc\n", "a\nx\nc\n");
        assert!(d.contains("line 2"), "{d}");
        assert!(d.contains("\"b\"") && d.contains("\"x\""), "{d}");
        let d = first_difference("a\n", "a\nmore\n");
        assert!(d.contains("<end of output>"), "{d}");
    }

    #[test]
    fn signal_deaths_become_128_plus_n() {
        let out = execute({
            let mut c = Command::new("/bin/sh");
            c.args(["-c", "kill -SEGV $$"]);
            c
        });
        assert_eq!(out.status, 139, "{out}");
    }

    #[test]
    fn inherited_descriptors_do_not_leak() {
        let out = execute({
            let mut c = Command::new("/bin/sh");
            c.args(["-c", "ls /proc/self/fd"]);
            c
        });
        // 0, 1, 2 and the one ls opens to read the directory.
        let fds: Vec<&str> = out.stdout.lines().collect();
        assert!(fds.len() <= 4, "{out}");
    }
}
