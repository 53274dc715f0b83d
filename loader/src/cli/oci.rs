// SPDX-License-Identifier: Apache-2.0
//! runc's command surface (the OCI runtime): one function per command, over the lifecycle in
//! `crate::oci`. Errors are one line on stderr and status 1, as runc's.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use nix::sys::signal::Signal;

use crate::oci::cgroup::Cgroup;
use crate::oci::state::{self, Container, Saved, Status};
use crate::oci::{bundle, hooks};

/// The global options runc takes before the command.
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Where containers' state lives (default /run/sandbox, or $XDG_RUNTIME_DIR/sandbox).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Where to log (accepted; errors go to stderr as well).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// The log's format: text or json.
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// More logging (accepted).
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd for cgroups (accepted: the sandbox's limits are its own).
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
}

/// `create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The bundle directory (config.json and the root file system).
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's pid here.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to send the terminal's master to (process.terminal).
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Accepted (the sandbox never pivots the host's root).
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted (the sandbox has no session keyring of the host's).
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Descriptors beyond stdio passed to the container (only 0 is supported).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// The container's id.
    pub id: String,
}

/// `run` in runc's form (`sandbox run -b BUNDLE ID`).
#[derive(Args, Debug)]
pub struct OciRunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once started, without waiting.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
}

/// Commands that take only an id.
#[derive(Args, Debug)]
pub struct IdArgs {
    /// The container's id.
    pub id: String,
}

/// `kill`.
#[derive(Args, Debug)]
pub struct KillArgs {
    /// Send to every process of the container (the same here: the sandbox forwards it).
    #[arg(short, long)]
    pub all: bool,
    /// The container's id.
    pub id: String,
    /// The signal, by name (TERM, SIGTERM) or number (default SIGTERM).
    pub signal: Option<String>,
}

/// `delete`.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill the container first if it still runs.
    #[arg(short, long)]
    pub force: bool,
    /// The container's id.
    pub id: String,
}

/// `list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// table or json.
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Only the ids.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `ps`.
#[derive(Args, Debug)]
pub struct PsArgs {
    /// table or json.
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// The container's id.
    pub id: String,
    /// Options for ps(1) (table format).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// `spec`.
#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Where to write config.json.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for a container started without root.
    #[arg(long)]
    pub rootless: bool,
}

/// `exec`.
#[derive(Args, Debug)]
pub struct ExecArgs {
    /// The process as JSON (config.json's `process`), instead of the arguments.
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Allocate a terminal (not supported yet).
    #[arg(short, long)]
    pub tty: bool,
    /// A unix socket to send the terminal's master to.
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Return once the process has started; its status goes to a host process whose pid is
    /// written to --pid-file.
    #[arg(short, long)]
    pub detach: bool,
    /// Write the pid of the host process that ends with the exec'd process here.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// The working directory in the container.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Set a variable (repeatable).
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The user, UID[:GID].
    #[arg(short, long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Supplementary groups (repeatable).
    #[arg(short = 'g', long, value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Set no_new_privs for the process.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Accepted (no SELinux labels in the sandbox).
    #[arg(long, value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Accepted (no AppArmor profiles in the sandbox).
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// Capabilities to add (accepted: the container's set applies).
    #[arg(short, long, value_name = "CAP")]
    pub cap: Vec<String>,
    /// Descriptors beyond stdio passed to the process (only 0 is supported).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted (the sandbox's limits are its own).
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,
    /// Accepted (a container is never paused).
    #[arg(long)]
    pub ignore_paused: bool,
    /// The container's id.
    pub id: String,
    /// The program and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Commands runc has that the sandbox does not honour (yet).
#[derive(Args, Debug)]
pub struct UnsupportedArgs {
    /// Whatever they take.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

fn error(msg: impl std::fmt::Display) -> i32 {
    eprintln!("sandbox: {msg}");
    1
}

/// A warning: to `--log` when given (as runc logs, in `--log-format`), else to stderr. (A
/// container's stderr is its engine's log of the program: runtime warnings stay out of it.)
fn warn(g: &Global, msg: &str) {
    let Some(path) = &g.log else {
        eprintln!("sandbox: warning: {msg}");
        return;
    };
    let line = if g.log_format.as_deref() == Some("json") {
        serde_json::json!({"level": "warning", "msg": msg, "time": state::now_rfc3339()})
            .to_string()
    } else {
        format!(
            "time=\"{}\" level=warning msg={msg:?}",
            state::now_rfc3339()
        )
    };
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    if let Ok(mut f) = f {
        use std::io::Write;
        let _ = writeln!(f, "{line}");
    }
}

fn root(g: &Global) -> PathBuf {
    state::root_dir(g.root.as_deref())
}

fn absolute(p: &Path) -> Result<PathBuf, String> {
    std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// `create`: boots the container's sandbox, which waits for `start`.
pub fn create(g: &Global, a: &CreateArgs) -> i32 {
    match do_create(g, a) {
        Ok(_) => 0,
        Err(e) => error(e),
    }
}

/// Creates the container; returns its process, a child of this one.
fn do_create(g: &Global, a: &CreateArgs) -> Result<std::process::Child, String> {
    state::check_id(&a.id)?;
    if a.preserve_fds != 0 {
        return Err("--preserve-fds is not supported".into());
    }
    let root = root(g);
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let dir = root.join(&a.id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(format!("container with id exists: {}", a.id))
        }
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    let _lock = state::lock_dir(&dir)?;
    let r = create_in(&dir, g, a);
    if r.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    r
}

fn create_in(dir: &Path, g: &Global, a: &CreateArgs) -> Result<std::process::Child, String> {
    let bundle = absolute(&a.bundle)?;
    let plan = bundle::plan(&bundle)?;
    for w in &plan.warnings {
        warn(g, w);
    }
    let terminal = plan
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && a.console_socket.is_none() {
        return Err(
            "cannot allocate tty if runc will detach without setting console socket".into(),
        );
    }
    // process.terminal: a host pty whose master goes to the engine's console socket (as
    // runc sends it); its replica is the sandbox's stdio, which `sandbox run -t` bridges to
    // the program's own pty of the sentry's.
    let replica = match (terminal, &a.console_socket) {
        (true, Some(sock)) => Some(console(sock, &plan.spec)?),
        _ => None,
    };
    // The container's host cgroup, which the sandbox joins before it starts anything (so the
    // gofer and every process of the program's are in it too).
    let linux = plan.spec.linux().as_ref();
    let cgroup = Cgroup::locate(
        linux
            .and_then(|l| l.cgroups_path().as_deref())
            .and_then(Path::to_str),
        &a.id,
        g.systemd_cgroup,
    )?;
    let (cgroup, procs) = match cgroup.create(linux.and_then(|l| l.resources().as_ref())) {
        Ok(procs) => (Some(cgroup), procs),
        Err(e) if !nix::unistd::geteuid().is_root() => {
            // Rootless, as runc's: no cgroup unless one was delegated; the sandbox's own
            // limits still hold.
            warn(g, &format!("no host cgroup for the container: {e}"));
            let _ = cgroup.remove();
            (None, Vec::new())
        }
        Err(e) => {
            let _ = cgroup.remove();
            return Err(e);
        }
    };
    let r = spawn_sandbox(dir, g, a, bundle, plan, replica, cgroup.as_ref(), procs);
    if r.is_err() {
        if let Some(c) = &cgroup {
            let _ = c.remove();
        }
    }
    r
}

/// [`create_in`] once the cgroup is made: starts the sandbox, waits for it to be ready, saves
/// the state and runs the creation hooks.
#[allow(clippy::too_many_arguments)]
fn spawn_sandbox(
    dir: &Path,
    g: &Global,
    a: &CreateArgs,
    bundle: PathBuf,
    plan: bundle::Plan,
    replica: Option<OwnedFd>,
    cgroup: Option<&Cgroup>,
    procs: Vec<OwnedFd>,
) -> Result<std::process::Child, String> {
    let fifo = dir.join("exec.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| format!("{}: {}", fifo.display(), e.desc()))?;
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| format!("pipe: {}", e.desc()))?;
    // The write end goes to the sandbox process (and only there).
    nix::fcntl::fcntl(
        ready_w.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .map_err(|e| format!("pipe: {}", e.desc()))?;
    // process.oomScoreAdj on the host too, as runc sets it: the sandbox's processes inherit
    // it from this one (which ends soon), so the host's OOM killer weighs them as asked.
    if let Some(adj) = plan.spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        if let Err(e) = std::fs::write("/proc/self/oom_score_adj", adj.to_string()) {
            warn(g, &format!("process.oomScoreAdj {adj} on the host: {e}"));
        }
    }
    let exe = std::env::current_exe().map_err(|e| format!("the sandbox binary: {e}"))?;
    let mut cmd = Command::new(exe);
    crate::host_unsafe::join_cgroups_at_exec(&mut cmd, procs);
    cmd.arg("run");
    if let Some(r) = &replica {
        let dup = |f: &OwnedFd| f.try_clone().map_err(|e| format!("console: {e}"));
        cmd.arg("--tty")
            .stdin(Stdio::from(dup(r)?))
            .stdout(Stdio::from(dup(r)?))
            .stderr(Stdio::from(dup(r)?));
    }
    cmd.arg("--oci-ready-fd")
        .arg(ready_w.as_raw_fd().to_string())
        .arg("--oci-fifo")
        .arg(&fifo)
        .arg("--oci-control")
        .arg(dir.join("control.sock"))
        .args(&plan.args)
        .current_dir("/")
        .process_group(0);
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting the container's sandbox: {e}"))?;
    drop(ready_w);
    let ready = read_all(ready_r);
    if ready.trim() != "ok" {
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        return Err("the container's sandbox did not start (see above)".into());
    }
    let pid = child.id() as i32;
    let saved = Saved {
        id: a.id.clone(),
        pid,
        start_time: state::start_time(pid).unwrap_or(0),
        bundle,
        rootfs: plan.rootfs.clone(),
        created: state::now_rfc3339(),
        owner: owner(),
        annotations: plan
            .spec
            .annotations()
            .clone()
            .map(|a| a.into_iter().collect())
            .unwrap_or_default(),
        hooks: plan.spec.hooks().clone(),
        cgroups: cgroup.map(Cgroup::dirs).unwrap_or_default(),
    };
    let fail = |child: std::process::Child, e: String| -> Result<std::process::Child, String> {
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        Err(e)
    };
    if let Err(e) = Container::save(dir, &saved) {
        return fail(child, e);
    }
    if let Some(f) = &a.pid_file {
        if let Err(e) = write_pid_file(f, pid) {
            return fail(child, e);
        }
    }
    if let Some(h) = &saved.hooks {
        let st = state_json(&saved, "creating");
        for (name, list) in [
            ("prestart", h.prestart()),
            ("createRuntime", h.create_runtime()),
            ("createContainer", h.create_container()),
        ] {
            if let Err(e) = hooks::run_all(name, list.as_deref().unwrap_or_default(), &st) {
                return fail(child, e);
            }
        }
    }
    Ok(child)
}

/// Makes the container's host pty (its size from process.consoleSize), sends its master to
/// the console socket at `sock`, and returns the replica.
fn console(sock: &Path, spec: &oci_spec::runtime::Spec) -> Result<OwnedFd, String> {
    console_for(sock, spec.process().as_ref())
}

/// [`console`] for `process`.
fn console_for(
    sock: &Path,
    process: Option<&oci_spec::runtime::Process>,
) -> Result<OwnedFd, String> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let size = process
        .and_then(|p| p.console_size())
        .map(|b| nix::pty::Winsize {
            ws_row: b.height() as u16,
            ws_col: b.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        });
    let pty =
        nix::pty::openpty(size.as_ref(), None).map_err(|e| format!("openpty: {}", e.desc()))?;
    // The program's line discipline is the sentry's pty's: the host pty only carries bytes.
    let mut t = nix::sys::termios::tcgetattr(&pty.slave)
        .map_err(|e| format!("console: tcgetattr: {}", e.desc()))?;
    nix::sys::termios::cfmakeraw(&mut t);
    nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &t)
        .map_err(|e| format!("console: tcsetattr: {}", e.desc()))?;
    let stream = std::os::unix::net::UnixStream::connect(sock)
        .map_err(|e| format!("console socket {}: {e}", sock.display()))?;
    let fds = [pty.master.as_raw_fd()];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[std::io::IoSlice::new(b"/dev/ptmx")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("console socket {}: {}", sock.display(), e.desc()))?;
    Ok(pty.slave)
}

/// Reads the sandbox's readiness: its first line, or what came before the end.
fn read_all(fd: OwnedFd) -> String {
    let mut f = std::fs::File::from(fd);
    let mut s = Vec::new();
    let mut b = [0u8; 64];
    while let Ok(n) = f.read(&mut b) {
        if n == 0 {
            break;
        }
        s.extend_from_slice(&b[..n]);
        if s.contains(&b'\n') {
            break;
        }
    }
    String::from_utf8_lossy(&s).into_owned()
}

fn write_pid_file(path: &Path, pid: i32) -> Result<(), String> {
    let tmp = path.with_extension("tmp-sandbox");
    std::fs::write(&tmp, pid.to_string()).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

fn owner() -> String {
    let uid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

/// The OCI state of `saved` with status `status` (`creating` for the hooks of `create`), for
/// hooks.
fn state_json(saved: &Saved, status: &str) -> String {
    serde_json::json!({
        "ociVersion": state::OCI_VERSION,
        "id": saved.id,
        "status": status,
        "pid": saved.pid,
        "bundle": saved.bundle,
        "annotations": saved.annotations,
    })
    .to_string()
}

/// `start`: lets a created container's program begin.
pub fn start(g: &Global, a: &IdArgs) -> i32 {
    match do_start(g, &a.id) {
        Ok(()) => 0,
        Err(e) => error(e),
    }
}

fn do_start(g: &Global, id: &str) -> Result<(), String> {
    let c = Container::load(&root(g), id)?;
    match c.status() {
        Status::Created => {}
        Status::Running | Status::Paused => {
            return Err("cannot start an already running container".into())
        }
        Status::Stopped => return Err("cannot start a container that has stopped".into()),
    }
    if let Some(h) = &c.saved.hooks {
        let st = state_json(&c.saved, "created");
        hooks::run_all(
            "startContainer",
            h.start_container().as_deref().unwrap_or_default(),
            &st,
        )?;
    }
    use nix::fcntl::OFlag;
    let fifo = c.fifo();
    let fd = nix::fcntl::open(
        &fifo,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("{}: {}", fifo.display(), e.desc()))?;
    // SAFETY-free: `open` returned a fresh descriptor this function owns.
    let f = std::fs::File::from(crate::host_unsafe::own_fd(fd)?);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&f),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
        let mut b = [0u8; 1];
        // The byte first: a program that ends at once has still been started.
        match nix::unistd::read(f.as_raw_fd(), &mut b) {
            Ok(1) => break,
            _ if !c.alive() => return Err("container not running".into()),
            Ok(_) | Err(nix::Error::EAGAIN) if Instant::now() < deadline => continue,
            Ok(_) | Err(_) => return Err("the container did not take the start".into()),
        }
    }
    let _ = std::fs::remove_file(&fifo);
    if let Some(h) = &c.saved.hooks {
        let st = state_json(&c.saved, "running");
        // A poststart hook's failure is logged, not fatal (as the spec says).
        if let Err(e) = hooks::run_all(
            "poststart",
            h.poststart().as_deref().unwrap_or_default(),
            &st,
        ) {
            eprintln!("sandbox: warning: {e}");
        }
    }
    Ok(())
}

/// `state`.
pub fn state(g: &Global, a: &IdArgs) -> i32 {
    match Container::load(&root(g), &a.id) {
        Ok(c) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&c.oci_state()).unwrap_or_default()
            );
            0
        }
        Err(e) => error(e),
    }
}

/// A signal by name (TERM, SIGTERM, term) or number.
pub fn parse_signal(s: &str) -> Result<Signal, String> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| format!("unknown signal {s:?}"));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>()
        .map_err(|_| format!("unknown signal {s:?}"))
}

/// `kill`.
pub fn kill(g: &Global, a: &KillArgs) -> i32 {
    let sig = match parse_signal(a.signal.as_deref().unwrap_or("SIGTERM")) {
        Ok(s) => s,
        Err(e) => return error(e),
    };
    let c = match Container::load(&root(g), &a.id) {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    // A created container has not started its program: as under runc (whose init waits with
    // default dispositions), a signal that ends a process ends it.
    let sig = match c.status() {
        Status::Created
            if !matches!(
                sig,
                Signal::SIGCHLD | Signal::SIGCONT | Signal::SIGWINCH | Signal::SIGURG
            ) =>
        {
            Signal::SIGKILL
        }
        _ => sig,
    };
    match c.signal(sig) {
        Ok(()) => 0,
        Err(e) => error(e),
    }
}

/// `delete`.
pub fn delete(g: &Global, a: &DeleteArgs) -> i32 {
    match do_delete(g, &a.id, a.force) {
        Ok(()) => 0,
        Err(e) => error(e),
    }
}

fn do_delete(g: &Global, id: &str, force: bool) -> Result<(), String> {
    let c = Container::load(&root(g), id)?;
    let status = c.status();
    if status != Status::Stopped {
        if !force {
            return Err(format!(
                "cannot delete container {id} that is not stopped: {}",
                status.name()
            ));
        }
        let _ = c.signal(Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if c.alive() {
            return Err(format!("container {id} did not die"));
        }
    }
    // The host cgroup goes once its last process has (as runc, only its own directory).
    Cgroup::from_saved(&c.saved.cgroups).remove()?;
    if let Some(h) = &c.saved.hooks {
        let st = state_json(&c.saved, "stopped");
        if let Err(e) = hooks::run_all("poststop", h.poststop().as_deref().unwrap_or_default(), &st)
        {
            eprintln!("sandbox: warning: {e}");
        }
    }
    std::fs::remove_dir_all(&c.dir).map_err(|e| format!("{}: {e}", c.dir.display()))
}

/// `run` in runc's form: create, start, and (unless --detach) wait and delete.
pub fn run(g: &Global, a: &OciRunArgs) -> i32 {
    if !a.detach {
        crate::signals::block();
    }
    let child = match do_create(g, &a.create) {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    if let Err(e) = do_start(g, &a.create.id) {
        let _ = do_delete(g, &a.create.id, true);
        return error(e);
    }
    if a.detach {
        return 0;
    }
    // Signals to `run` go to the container (which forwards them to its program).
    let pid = child.id() as i32;
    crate::signals::relay_to(pid);
    let mut child = child;
    let code = match child.wait() {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
        }
        Err(e) => error(format!("waiting for the container: {e}")),
    };
    if !a.keep {
        let _ = do_delete(g, &a.create.id, true);
    }
    code
}

/// `exec`: runs a process in a running container (through its control socket, see
/// `oci::control`) and exits with its status; with --detach, returns once it has started and
/// leaves a host process that ends with it (its pid in --pid-file), as runc does.
pub fn exec(g: &Global, a: &ExecArgs) -> i32 {
    match do_exec(g, a) {
        Ok(code) => code,
        Err(e) => error(e),
    }
}

fn do_exec(g: &Global, a: &ExecArgs) -> Result<i32, String> {
    use crate::oci::control;
    let c = Container::load(&root(g), &a.id)?;
    match c.status() {
        Status::Running => {}
        Status::Paused if a.ignore_paused => {}
        Status::Paused => return Err("cannot exec in a paused container".into()),
        Status::Created => return Err("cannot exec in a container that has not started".into()),
        Status::Stopped => return Err("cannot exec in a stopped container".into()),
    }
    if a.preserve_fds != 0 {
        return Err("--preserve-fds is not supported".into());
    }
    let (req, process) = exec_request(&c, a)?;
    // A terminal: the replica of a host pty whose master goes to the engine's console socket
    // (bridged in the sandbox to a pty of its own); without a socket, this process's own
    // terminal, raw while the process runs.
    let mut replica = None;
    let mut restore = None;
    if req.terminal {
        match &a.console_socket {
            Some(sock) => replica = Some(console_for(sock, Some(&process))?),
            None if a.detach => {
                return Err(
                    "cannot allocate tty if runc will detach without setting console socket".into(),
                )
            }
            None => restore = crate::tty::make_raw(),
        }
    }
    let stdio = match &replica {
        Some(r) => [r.as_raw_fd(); 3],
        None => [0, 1, 2],
    };
    // Signals for the process are relayed from a thread of ours: blocked before it exists.
    crate::signals::block();
    let started = control::request(&c.control_socket(), &req, stdio);
    drop(replica);
    let (_pid, mut reader) = match started {
        Ok(x) => x,
        Err(e) => {
            crate::tty::restore(restore);
            return Err(e);
        }
    };
    // The container's lock is for the start only: other commands (another exec, kill, state)
    // go on while the process runs, and the host process --detach leaves must not hold it.
    drop(c);
    let relay = |reader: &std::io::BufReader<std::os::unix::net::UnixStream>| {
        if let Ok(w) = reader.get_ref().try_clone() {
            crate::signals::relay_lines(w);
        }
    };
    if !a.detach {
        if let Some(f) = &a.pid_file {
            write_pid_file(f, std::process::id() as i32)?;
        }
        relay(&reader);
        let code = control::wait_exit(&mut reader);
        crate::tty::restore(restore);
        return Ok(code);
    }
    match crate::host_unsafe::fork().map_err(|e| format!("fork: {}", e.desc()))? {
        None => {
            // The host process that stands for the exec'd one: it ends with its status.
            relay(&reader);
            std::process::exit(control::wait_exit(&mut reader));
        }
        Some(child) => {
            if let Some(f) = &a.pid_file {
                write_pid_file(f, child.as_raw())?;
            }
            Ok(0)
        }
    }
}

/// The exec's process: --process's JSON, or the container's own process (config.json) with
/// the arguments and options given, as runc builds it.
fn exec_request(
    c: &Container,
    a: &ExecArgs,
) -> Result<(crate::oci::control::Request, oci_spec::runtime::Process), String> {
    use oci_spec::runtime::{Process, Spec};
    let process: Process = match &a.process {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?
        }
        None => {
            if a.command.is_empty() {
                return Err("exec: no command given (arguments or --process)".into());
            }
            let config = c.saved.bundle.join("config.json");
            let spec = Spec::load(&config).map_err(|e| format!("{}: {e}", config.display()))?;
            spec.process().clone().unwrap_or_default()
        }
    };
    let mut args = process.args().clone().unwrap_or_default();
    if !a.command.is_empty() {
        args = a.command.clone();
    }
    if args.is_empty() {
        return Err("exec: no command given (arguments or --process)".into());
    }
    let mut env = process.env().clone().unwrap_or_default();
    for kv in &a.env {
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    let user = process.user();
    let (mut uid, mut gid) = (user.uid(), user.gid());
    let mut groups = user.additional_gids().clone().unwrap_or_default();
    if let Some(u) = &a.user {
        let (us, gs) = u.split_once(':').unwrap_or((u, ""));
        uid = us
            .parse()
            .map_err(|_| format!("--user {u}: not UID[:GID]"))?;
        if !gs.is_empty() {
            gid = gs
                .parse()
                .map_err(|_| format!("--user {u}: not UID[:GID]"))?;
        }
    }
    groups.extend(&a.additional_gids);
    let cwd = a
        .cwd
        .clone()
        .unwrap_or_else(|| process.cwd().to_string_lossy().into_owned());
    let names = [0, 1, 2].map(|fd| {
        std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("host:[{fd}]"))
    });
    let terminal = a.tty || (a.process.is_some() && process.terminal().unwrap_or(false));
    let req = crate::oci::control::Request {
        op: crate::oci::control::Op::Exec,
        args,
        env,
        cwd: if cwd.is_empty() { "/".into() } else { cwd },
        uid,
        gid,
        groups,
        no_new_privs: a.no_new_privs || process.no_new_privileges().unwrap_or(false),
        stdio_names: names,
        terminal,
        ..crate::oci::control::Request::default()
    };
    Ok((req, process))
}

/// `events`.
#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print the statistics once and exit.
    #[arg(long)]
    pub stats: bool,
    /// How often to print statistics while streaming.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub interval: String,
    /// The container's id.
    pub id: String,
}

/// `update`, with runc's flags.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// A JSON file of linux.resources to apply ("-": standard input); the flags override it.
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Per-cgroup block I/O weight (10 to 1000).
    #[arg(long, value_name = "N")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period in microseconds (0: the system's default).
    #[arg(long, value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds per period.
    #[arg(long, value_name = "US", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long, value_name = "N")]
    pub cpu_share: Option<u64>,
    /// Real-time period in microseconds.
    #[arg(long, value_name = "US")]
    pub cpu_rt_period: Option<u64>,
    /// Real-time runtime in microseconds per period.
    #[arg(long, value_name = "US", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// The CPUs to use (cpuset: 0-3,5).
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// The memory nodes to use.
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// (obsolete, ignored as runc ignores it) Kernel memory limit.
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// (obsolete, ignored as runc ignores it) Kernel TCP memory limit.
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// The memory limit in bytes (k, m, g suffixes; -1: none).
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// The memory reservation (soft limit) in bytes.
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap in bytes (-1: unlimited swap).
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// The most processes and threads (0 or less: none).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (not supported).
    #[arg(long, value_name = "SCHEMA")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported).
    #[arg(long, value_name = "SCHEMA")]
    pub mem_bw_schema: Option<String>,
    /// The container's id.
    pub id: String,
}

/// A size as runc's `update` takes it (docker's RAMInBytes: 512, 64k, 128m, 1g, 2GiB; -1).
fn parse_bytes(flag: &str, s: &str) -> Result<i64, String> {
    let bad = || format!("invalid value {s:?} for --{flag}: expected a size such as 128m");
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.to_ascii_lowercase();
    let t = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (num, mult) = match t.as_bytes().last() {
        Some(b'k') => (&t[..t.len() - 1], 1i64 << 10),
        Some(b'm') => (&t[..t.len() - 1], 1 << 20),
        Some(b'g') => (&t[..t.len() - 1], 1 << 30),
        Some(b't') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    if !(0.0..9.0e18).contains(&n) {
        return Err(bad());
    }
    let v = n * mult as f64;
    if v >= 9.2e18 {
        return Err(bad());
    }
    Ok(v as i64)
}

/// `update`: writes new resources to the container's host cgroup and gives the sandbox its new
/// memory and task limits.
pub fn update(g: &Global, a: &UpdateArgs) -> i32 {
    match do_update(g, a) {
        Ok(()) => 0,
        Err(e) => error(e),
    }
}

fn do_update(g: &Global, a: &UpdateArgs) -> Result<(), String> {
    use crate::oci::control::{self, Op, Request};
    use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        return Err("Intel RDT is not supported".into());
    }
    let mut r: LinuxResources = match &a.resources {
        None => LinuxResources::default(),
        Some(p) => {
            let text = if p.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| format!("reading the resources: {e}"))?;
                s
            } else {
                std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?
            };
            serde_json::from_str(&text).map_err(|e| format!("decoding the resources: {e}"))?
        }
    };
    let mut mem = r.memory().unwrap_or_default();
    for (flag, value, set) in [
        (
            "memory",
            &a.memory,
            LinuxMemory::set_limit as fn(&mut LinuxMemory, Option<i64>) -> &mut LinuxMemory,
        ),
        (
            "memory-reservation",
            &a.memory_reservation,
            LinuxMemory::set_reservation,
        ),
        ("memory-swap", &a.memory_swap, LinuxMemory::set_swap),
    ] {
        if let Some(v) = value {
            set(&mut mem, Some(parse_bytes(flag, v)?));
        }
    }
    if mem != LinuxMemory::default() {
        r.set_memory(Some(mem));
    }
    let mut cpu = r.cpu().clone().unwrap_or_default();
    if let Some(v) = a.cpu_share {
        cpu.set_shares(Some(v));
    }
    if let Some(v) = a.cpu_quota {
        cpu.set_quota(Some(v));
    }
    if let Some(v) = a.cpu_period {
        cpu.set_period(Some(v));
    }
    if let Some(v) = a.cpu_rt_runtime {
        cpu.set_realtime_runtime(Some(v));
    }
    if let Some(v) = a.cpu_rt_period {
        cpu.set_realtime_period(Some(v));
    }
    if let Some(v) = &a.cpuset_cpus {
        cpu.set_cpus(Some(v.clone()));
    }
    if let Some(v) = &a.cpuset_mems {
        cpu.set_mems(Some(v.clone()));
    }
    if cpu != LinuxCpu::default() {
        r.set_cpu(Some(cpu));
    }
    if let Some(v) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(v);
        r.set_pids(Some(p));
    }
    if let Some(v) = a.blkio_weight {
        if !(10..=1000).contains(&v) {
            return Err(format!("--blkio-weight {v}: the range is 10 to 1000"));
        }
        let mut b = r.block_io().clone().unwrap_or_default();
        b.set_weight(Some(v));
        r.set_block_io(Some(b));
    }
    let c = Container::load(&root(g), &a.id)?;
    if c.status() == Status::Stopped {
        return Err(format!("cannot update container {}: it is stopped", a.id));
    }
    Cgroup::from_saved(&c.saved.cgroups).apply(&r)?;
    let req = Request {
        op: Op::Update,
        memory: r.memory().as_ref().and_then(|m| m.limit()),
        pids: r.pids().as_ref().map(|p| p.limit()),
        ..Request::default()
    };
    if req.memory.is_some() || req.pids.is_some() {
        control::admin_request(&c.control_socket(), &req)?;
    }
    Ok(())
}

/// `pause`: freezes the container's sandbox (no task runs application code until `resume`;
/// the program sees only time passing, as under the cgroup freezer).
pub fn pause(g: &Global, a: &IdArgs) -> i32 {
    match freeze(g, &a.id, true) {
        Ok(()) => 0,
        Err(e) => error(e),
    }
}

/// `resume`: thaws a paused container.
pub fn resume(g: &Global, a: &IdArgs) -> i32 {
    match freeze(g, &a.id, false) {
        Ok(()) => 0,
        Err(e) => error(e),
    }
}

fn freeze(g: &Global, id: &str, pause: bool) -> Result<(), String> {
    use crate::oci::control::{self, Op};
    let c = Container::load(&root(g), id)?;
    match (c.status(), pause) {
        (Status::Running, true) | (Status::Paused, false) => {}
        (_, true) => return Err("container not running".into()),
        (_, false) => return Err("container not paused".into()),
    }
    let op = if pause { Op::Pause } else { Op::Resume };
    control::admin(&c.control_socket(), op)?;
    let marker = c.paused_marker();
    if pause {
        std::fs::write(&marker, b"").map_err(|e| format!("{}: {e}", marker.display()))
    } else {
        std::fs::remove_file(&marker).map_err(|e| format!("{}: {e}", marker.display()))
    }
}

/// `events`: the container's statistics as runc prints them (`{"type":"stats","id":..,
/// "data":{..}}`), once with --stats, else every --interval until the container stops.
pub fn events(g: &Global, a: &EventsArgs) -> i32 {
    match do_events(g, a) {
        Ok(()) => 0,
        Err(e) => error(e),
    }
}

fn do_events(g: &Global, a: &EventsArgs) -> Result<(), String> {
    use crate::oci::control::{self, Op};
    let interval = parse_duration(&a.interval)
        .ok_or_else(|| format!("--interval {}: not a duration (5s, 500ms)", a.interval))?;
    loop {
        let (sock, cgroup) = {
            let c = Container::load(&root(g), &a.id)?;
            match c.status() {
                Status::Stopped => return Err("container is not running".into()),
                Status::Created => return Err("container is not running".into()),
                _ => (c.control_socket(), Cgroup::from_saved(&c.saved.cgroups)),
            }
        };
        let data = control::admin(&sock, Op::Stats)?;
        let mut data: serde_json::Value =
            serde_json::from_str(&data).map_err(|e| format!("the container's stats: {e}"))?;
        // What the host cgroup counts: CPU time, memory, the task limit.
        for (k, v) in cgroup.stats() {
            match k {
                "pids_limit" => data["pids"]["limit"] = v,
                _ => data[k] = v,
            }
        }
        let line = serde_json::json!({"type": "stats", "id": a.id, "data": data});
        use std::io::Write;
        if writeln!(std::io::stdout(), "{line}").is_err() {
            return Ok(());
        }
        if a.stats {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

/// A Go-style duration: `5s`, `500ms`, `1m`, `2h`.
fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let ms = match unit {
        "ms" => n,
        "s" => n.checked_mul(1000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// `list`.
pub fn list(g: &Global, a: &ListArgs) -> i32 {
    let root = root(g);
    let ids = state::list_ids(&root);
    let containers: Vec<Container> = ids
        .iter()
        .filter_map(|id| Container::load(&root, id).ok())
        .collect();
    if a.quiet {
        for c in &containers {
            println!("{}", c.saved.id);
        }
        return 0;
    }
    match a.format.as_str() {
        "json" => {
            let v: Vec<serde_json::Value> = containers.iter().map(Container::oci_state).collect();
            println!("{}", serde_json::Value::Array(v));
            0
        }
        "table" => {
            let rows: Vec<[String; 6]> = containers
                .iter()
                .map(|c| {
                    let st = c.status();
                    [
                        c.saved.id.clone(),
                        if st == Status::Stopped {
                            "0".into()
                        } else {
                            c.saved.pid.to_string()
                        },
                        st.name().into(),
                        c.saved.bundle.display().to_string(),
                        c.saved.created.clone(),
                        c.saved.owner.clone(),
                    ]
                })
                .collect();
            let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut w = [0usize; 6];
            for r in std::iter::once(&head).chain(&rows) {
                for (i, f) in r.iter().enumerate() {
                    w[i] = w[i].max(f.len());
                }
            }
            for r in std::iter::once(&head).chain(&rows) {
                let line: Vec<String> = r
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        if i == 5 {
                            f.clone()
                        } else {
                            format!("{f:<w$}", w = w[i])
                        }
                    })
                    .collect();
                println!("{}", line.join("   "));
            }
            0
        }
        other => error(format!("invalid format option {other:?}")),
    }
}

/// The host processes of a container: its sandbox process and everything below it.
fn host_pids(root_pid: i32) -> Vec<i32> {
    let mut parent = std::collections::HashMap::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat[i + 2..].split(' ').nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if let Some(pp) = ppid {
                parent.insert(pid, pp);
            }
        }
    }
    let mut out = vec![root_pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        let mut kids: Vec<i32> = parent
            .iter()
            .filter(|(_, pp)| **pp == p)
            .map(|(c, _)| *c)
            .collect();
        kids.sort_unstable();
        out.extend(kids);
        i += 1;
    }
    out
}

/// `ps`: the container's host processes.
pub fn ps(g: &Global, a: &PsArgs) -> i32 {
    let c = match Container::load(&root(g), &a.id) {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    if !c.alive() {
        return error("container not running");
    }
    let pids = host_pids(c.saved.pid);
    match a.format.as_str() {
        "json" => {
            println!("{}", serde_json::json!(pids));
            0
        }
        "table" => {
            let args: Vec<String> = if a.ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                a.ps_args.clone()
            };
            let out = match Command::new("ps")
                .args(&args)
                .stderr(Stdio::inherit())
                .output()
            {
                Ok(o) => o,
                Err(e) => return error(format!("ps: {e}")),
            };
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let Some(head) = lines.next() else {
                return error("ps printed nothing");
            };
            let col = head.split_whitespace().position(|h| h == "PID");
            let Some(col) = col else {
                return error("ps's output has no PID column");
            };
            println!("{head}");
            for l in lines {
                let pid = l
                    .split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    println!("{l}");
                }
            }
            0
        }
        other => error(format!("invalid format option {other:?}")),
    }
}

/// `spec`: a default config.json, as runc's.
pub fn spec(a: &SpecArgs) -> i32 {
    let path = a.bundle.join("config.json");
    if path.exists() {
        return error("File config.json exists. Remove it first or use a different bundle.");
    }
    let mut spec = if a.rootless {
        oci_spec::runtime::Spec::rootless(
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    } else {
        oci_spec::runtime::Spec::default()
    };
    spec.set_hostname(Some("sandbox".into()));
    match spec.save(&path) {
        Ok(()) => 0,
        Err(e) => error(format!("{}: {e}", path.display())),
    }
}

/// `features`: what this runtime supports, as runc prints it.
pub fn features() -> i32 {
    let v = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": state::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "size"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "cgroup": {"v1": false, "v2": false, "systemd": false, "systemdUser": false},
            "seccomp": {"enabled": false},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.sandbox": "a user-space kernel (the sentry) runs the container",
        },
    });
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    0
}

/// runc's commands the sandbox does not honour.
pub fn unsupported(what: &str) -> i32 {
    error(format!("{what} is not supported by this runtime"))
}

/// Whether `sandbox run ARGS` is runc's form (`run [-b BUNDLE] [-d] ... ID`) rather than the
/// sandbox's own (`run [OPTIONS] PROGRAM [ARGS]`): an OCI-only option, or a lone argument
/// naming no program while the working directory is a bundle.
pub fn is_oci_run(args: &[OsString]) -> bool {
    let oci_only = [
        "-b",
        "--bundle",
        "-d",
        "--detach",
        "--pid-file",
        "--console-socket",
        "--no-pivot",
        "--no-new-keyring",
        "--keep",
        "--preserve-fds",
    ];
    for a in args {
        let s = a.to_string_lossy();
        if s == "--" || !s.starts_with('-') {
            break;
        }
        if oci_only
            .iter()
            .any(|o| s == *o || s.starts_with(&format!("{o}=")))
        {
            return true;
        }
    }
    if let [only] = args {
        let s = only.to_string_lossy();
        let in_path = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(only).exists()));
        return !s.starts_with('-')
            && !s.contains('/')
            && Path::new("config.json").is_file()
            && !in_path
            && state::check_id(&s).is_ok();
    }
    false
}
