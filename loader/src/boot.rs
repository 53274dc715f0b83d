// SPDX-License-Identifier: Apache-2.0
//! Booting a sandbox for `sandbox run`: build the kernel (mounts, platform), create the first
//! task with the host's stdio, load the program, run it, and turn its end into an exit status.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::Arc;
use std::sync::Mutex;

use sentry::fsimpl::host::HostStream;
use sentry::kernel::{self, Credentials, ExitStatus, FsContext, Kernel, Task};
use sentry::platform::ptrace::PtracePlatform;
use sentry::platform::systrap::SystrapPlatform;
use sentry::platform::Platform;
use sentry::vfs::path::Mounts;
use sentry::vfs::{FdTable, File};
use syscalls::abi::*;
use syscalls::Errno;

use crate::cli::run::{PlatformKind, RunArgs};

/// Exit status when the sandbox itself fails.
pub const EXIT_SANDBOX_ERROR: i32 = 125;
/// Exit status when the program cannot be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit status when the program is not found.
pub const EXIT_NOT_FOUND: i32 = 127;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn init_logging(args: &RunArgs) -> Result<(), String> {
    use tracing_subscriber::fmt;
    match &args.debug_log {
        Some(path) => {
            let f = std::fs::File::create(path)
                .map_err(|e| format!("--debug-log {}: {e}", path.display()))?;
            fmt()
                .with_writer(Mutex::new(f))
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .init();
        }
        None => {
            fmt()
                .with_writer(std::io::stderr)
                .with_max_level(tracing::Level::ERROR)
                .without_time()
                .init();
        }
    }
    Ok(())
}

fn environment(args: &RunArgs) -> Result<Vec<Vec<u8>>, String> {
    let mut env: Vec<(Vec<u8>, Vec<u8>)> = if args.clear_env {
        Vec::new()
    } else {
        std::env::vars_os()
            .map(|(k, v)| (k.into_vec(), v.into_vec()))
            .collect()
    };
    for kv in &args.env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--env {kv}: expected KEY=VALUE"))?;
        if k.is_empty() {
            return Err(format!("--env {kv}: empty KEY"));
        }
        env.retain(|(ek, _)| ek != k.as_bytes());
        env.push((k.as_bytes().to_vec(), v.as_bytes().to_vec()));
    }
    Ok(env
        .into_iter()
        .map(|(mut k, v)| {
            k.push(b'=');
            k.extend(v);
            k
        })
        .collect())
}

fn host_limits() -> [Rlimit; RLIM_NLIMITS as usize] {
    let mut limits = [Rlimit {
        rlim_cur: RLIM_INFINITY,
        rlim_max: RLIM_INFINITY,
    }; RLIM_NLIMITS as usize];
    for (i, l) in limits.iter_mut().enumerate() {
        if let Some(r) = crate::host_unsafe::getrlimit(i as u32) {
            *l = r;
        }
    }
    limits
}

#[path = "mount_opts.rs"]
mod mount_opts;

/// Starts the gofer (before any sentry thread) to serve the host directories of the file
/// options (`--rootfs`, `--volume`, `--overlay`, `--tmpfs`); `host_uds`: it may connect host
/// unix sockets (`--host-uds open`).
fn start_gofer(
    args: &RunArgs,
    host_uds: bool,
) -> Result<(sentry::fsimpl::setup::MountSpec, gofer::spawn::Gofer), String> {
    let spec = mount_opts::spec(args)?;
    let g = gofer::spawn::start(
        &sentry::fsimpl::setup::exports(&spec),
        args.allow_weak_gofer,
        host_uds,
    )?;
    Ok((spec, g))
}

/// The mount table over the gofer `g` serves. The gofer's death ends the sandbox with status
/// 125. When this returns the gofer has answered: it has confined itself.
fn mounts(
    spec: &sentry::fsimpl::setup::MountSpec,
    g: gofer::spawn::Gofer,
) -> Result<(Mounts, Arc<sentry::fsimpl::gofer::GoferClient>), String> {
    use sentry::fsimpl::{gofer::GoferClient, setup};
    let pid = g.pid;
    let on_death = Box::new(move |what: &str| {
        let how = match nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        ) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => format!(" (exit status {c})"),
            Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => format!(" (killed by {s})"),
            _ => String::new(),
        };
        eprintln!("sandbox: {what}{how}; stopping the sandbox");
        std::process::exit(EXIT_SANDBOX_ERROR);
    });
    let client = GoferClient::new(g.sock, on_death)
        .map_err(|e| format!("connecting to the gofer: {}", e.description()))?;
    Ok((setup::build(spec, &client)?, client))
}

/// What /proc shows of the host's stdio (`readlink /proc/self/fd/N` of the sandbox process,
/// as natively: /dev/null, pipe:[N], socket:[N], a file's path), read while the host's /proc
/// is in view.
fn stdio_names() -> [String; 3] {
    [0, 1, 2].map(|fd| {
        std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .ok()
            .and_then(|p| p.into_os_string().into_string().ok())
            .unwrap_or_else(|| format!("host:[{fd}]"))
    })
}

/// The host's stdio, passed through as the sandbox's fds 0, 1 and 2.
fn stdio(names: &[String; 3]) -> FdTable {
    let mut fds = FdTable::default();
    for fd in 0..3 {
        // SAFETY-free: borrow the host's stdio only long enough to duplicate it.
        let Ok(flags) = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL) else {
            continue;
        };
        let Ok(dup) = crate::host_unsafe::borrow_fd(fd).try_clone_to_owned() else {
            continue;
        };
        let keep = O_ACCMODE | O_APPEND | O_NONBLOCK | O_LARGEFILE;
        let file = File::new(
            Box::new(HostStream::new(dup)),
            flags as u32 & keep,
            names[fd as usize].clone(),
        );
        let _ = fds.install(fd, file, false, 1 << 20);
    }
    fds
}

/// Descriptors received from outside as a new process's fds 0, 1 and 2 (named as their sender
/// sees them).
fn stdio_from(fds: [OwnedFd; 3], names: [String; 3]) -> FdTable {
    let mut table = FdTable::default();
    for (fd, (host, name)) in fds.into_iter().zip(names).enumerate() {
        let Ok(flags) = nix::fcntl::fcntl(host.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL) else {
            continue;
        };
        let keep = O_ACCMODE | O_APPEND | O_NONBLOCK | O_LARGEFILE;
        let file = File::new(Box::new(HostStream::new(host)), flags as u32 & keep, name);
        let _ = table.install(fd as i32, file, false, 1 << 20);
    }
    table
}

/// Serves an OCI container's control socket (see `oci::control`): each exec is a new process
/// with no parent in the sandbox, run by a sentry thread of its own, with the container's
/// capabilities and limits and the request's ids, environment and directory.
fn serve_control(
    listener: std::os::unix::net::UnixListener,
    k: &Arc<Kernel>,
    creds: &Credentials,
    limits: [Rlimit; RLIM_NLIMITS as usize],
) -> Result<(), String> {
    use crate::oci::control::{self, Request};
    let (k1, k2, k3) = (k.clone(), k.clone(), k.clone());
    let template = creds.clone();
    // The terminals of exec'd processes, until they end.
    let consoles: Arc<Mutex<std::collections::HashMap<i32, crate::tty::Console>>> = Arc::default();
    let consoles2 = consoles.clone();
    let start: control::Starter = Arc::new(move |req: Request, fds: [OwnedFd; 3]| {
        let consoles = consoles.clone();
        let k = k1.clone();
        let mut creds = Credentials::new(req.uid, req.gid, req.groups.clone());
        // An exec'd process joins the container's session keyring.
        creds.keys.session = template.keys.session.clone();
        creds.caps_bounding = template.caps_bounding;
        creds.caps_inheritable = template.caps_inheritable;
        if req.uid != 0 {
            // A non-root user's capabilities go as at setuid(2) from root.
            creds.caps = 0;
            creds.caps_permitted = 0;
        } else {
            creds.caps = template.caps;
            creds.caps_permitted = template.caps_permitted;
        }
        let (tx, rx) = std::sync::mpsc::channel::<Result<i32, String>>();
        std::thread::Builder::new()
            .name("task-exec".into())
            .spawn(move || {
                sentry::confine::enter(sentry::confine::policy::TASK);
                let mut console = None;
                let table = if req.terminal {
                    let [input, output, _] = fds;
                    match crate::tty::Console::bridged(&k, creds.uid.0, input, output) {
                        Ok(c) => {
                            let t = c.replica_fds();
                            console = Some(c);
                            t
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                } else {
                    stdio_from(fds, req.stdio_names.clone())
                };
                let term = console.as_ref().map(crate::tty::Console::terminal);
                match start_exec(&k, req, table, term, creds, limits) {
                    Ok(t) => {
                        let pid = t.tgid();
                        if let Some(mut c) = console {
                            if let Err(e) = c.start_polling_size() {
                                let _ = tx.send(Err(e));
                                kernel::discard_unstarted(t);
                                return;
                            }
                            kernel::lock(&consoles).insert(pid, c);
                        }
                        let _ = tx.send(Ok(pid));
                        kernel::run(t);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| format!("starting a sentry thread: {e}"))?;
        rx.recv()
            .unwrap_or_else(|_| Err("the exec's sentry thread ended early".into()))
    });
    let signal = Arc::new(move |pid: i32, sig: i32| {
        let tg = kernel::lock(&k2.tree).procs.get(&pid).map(|p| p.tg.clone());
        if let (Some(tg), 1..=64) = (tg, sig) {
            kernel::send_process_signal(&k2, &tg, kernel::signal::user_info(sig, 0, 0, 0));
        }
    });
    let wait = Arc::new(move |pid: i32| {
        let status = k3.wait_detached(pid).map(ExitStatus::shell_status);
        // What the process wrote to its terminal goes out before its end is told.
        let console = kernel::lock(&consoles2).remove(&pid);
        if let Some(mut c) = console {
            c.finish();
        }
        status
    });
    let k4 = k.clone();
    let admin = Arc::new(move |req: &control::Request| match req.op {
        control::Op::Pause => {
            k4.set_frozen(true);
            Ok("ok".to_string())
        }
        control::Op::Resume => {
            k4.set_frozen(false);
            Ok("ok".to_string())
        }
        control::Op::Stats => Ok(stats(&k4).to_string()),
        control::Op::Update => {
            crate::limits::update(req.memory, req.pids);
            Ok("ok".to_string())
        }
        control::Op::Exec => Err("exec: no program given".into()),
    });
    control::serve(
        listener,
        control::Handlers {
            start,
            signal,
            wait,
            admin,
        },
    )
}

/// An OCI container's statistics (`events --stats`): runc's `data` object as far as the
/// sandbox counts it (its processes; the sentry has no cgroup of its own to read memory and
/// CPU from).
fn stats(k: &Kernel) -> serde_json::Value {
    let (procs, threads) = {
        let tree = kernel::lock(&k.tree);
        (
            tree.procs.values().filter(|p| p.zombie.is_none()).count(),
            tree.threads.len(),
        )
    };
    serde_json::json!({
        "pids": { "current": procs },
        "threads": threads,
        "frozen": k.frozen(),
    })
}

/// The process of an exec: its task, loaded and ready to run.
fn start_exec(
    k: &Arc<Kernel>,
    req: crate::oci::control::Request,
    table: FdTable,
    terminal: Option<Arc<sentry::fsimpl::tty::Terminal>>,
    creds: Credentials,
    limits: [Rlimit; RLIM_NLIMITS as usize],
) -> Result<Task, String> {
    let cwd = match k.resolve("/", req.cwd.as_bytes(), true) {
        Ok(r) if r.stat.is_some_and(|s| s.st_mode & S_IFMT == S_IFDIR) => r.path,
        Ok(_) => return Err(format!("cwd {}: Not a directory", req.cwd)),
        Err(e) => return Err(format!("cwd {}: {}", req.cwd, e.description())),
    };
    let env: Vec<Vec<u8>> = req.env.iter().map(|e| e.as_bytes().to_vec()).collect();
    let argv: Vec<Vec<u8>> = req.args.iter().map(|a| a.as_bytes().to_vec()).collect();
    let name = argv[0].clone();
    let path_env = env
        .iter()
        .find_map(|e| e.strip_prefix(b"PATH=").map(<[u8]>::to_vec))
        .unwrap_or_else(|| DEFAULT_PATH.as_bytes().to_vec());
    let shown = &req.args[0];
    let program = match find_program(k, &creds, &cwd, &name, &path_env) {
        Ok(p) => p,
        Err(Errno::EACCES) => return Err(format!("{shown}: Permission denied")),
        Err(Errno::ENOENT) if !name.contains(&b'/') => {
            return Err(format!("{shown}: executable file not found in $PATH"))
        }
        Err(e) => return Err(format!("{shown}: {}", e.description())),
    };
    let ctx = k
        .platform
        .new_process()
        .map_err(|e| format!("starting the process: {e}"))?;
    let base = program
        .rsplit(|b| *b == b'/')
        .next()
        .unwrap_or(&program)
        .to_vec();
    let fs = FsContext::new(cwd, 0o022, k.mnt.clone());
    let mut t = Task::new_process(
        k.clone(),
        ctx,
        table,
        fs,
        creds,
        limits,
        &base,
        kernel::Origin::Detached,
    );
    t.no_new_privs = req.no_new_privs;
    t.publish();
    if let Some(term) = &terminal {
        // A session leader with the pty as its controlling terminal, as a login shell.
        crate::tty::Console::attach(k, term, t.tgid());
    }
    if let Err(e) = kernel::load_initial(&mut t, &program, argv, env) {
        kernel::discard_unstarted(t);
        return Err(format!("{shown}: cannot execute: {}", e.description()));
    }
    Ok(t)
}

/// Finds PROGRAM as a shell would: as a path when it has a slash, else in PATH.
fn find_program(
    k: &Kernel,
    creds: &Credentials,
    cwd: &str,
    name: &[u8],
    path_env: &[u8],
) -> Result<Vec<u8>, Errno> {
    let check = |p: &[u8]| -> Result<(), Errno> {
        let r = k.resolve(cwd, p, true)?;
        let st = r.stat.ok_or(Errno::ENOENT)?;
        if st.st_mode & S_IFMT != S_IFREG || !creds.may(st.st_mode, st.st_uid, st.st_gid, X_OK) {
            return Err(Errno::EACCES);
        }
        Ok(())
    };
    if name.contains(&b'/') {
        check(name)?;
        return Ok(name.to_vec());
    }
    let mut denied = false;
    for dir in path_env.split(|b| *b == b':') {
        let mut p = if dir.is_empty() {
            b".".to_vec()
        } else {
            dir.to_vec()
        };
        p.push(b'/');
        p.extend_from_slice(name);
        match check(&p) {
            Ok(()) => return Ok(p),
            Err(Errno::EACCES) => denied = true,
            Err(_) => {}
        }
    }
    Err(if denied { Errno::EACCES } else { Errno::ENOENT })
}

fn start_platform(kind: PlatformKind) -> Result<Arc<dyn Platform>, String> {
    if kind == PlatformKind::Systrap {
        match SystrapPlatform::new() {
            Ok(p) => return Ok(Arc::new(p)),
            Err(e) => eprintln!("sandbox: systrap platform unavailable ({e}); using ptrace"),
        }
    }
    match PtracePlatform::new() {
        Ok(p) => Ok(Arc::new(p)),
        Err(e) => Err(format!("ptrace platform: {e}")),
    }
}

/// `--user UID[:GID[:G1,G2...]]`.
fn parse_user(u: &str) -> Result<(u32, u32, Vec<u32>), String> {
    let bad = || format!("--user {u}: expected UID[:GID[:G1,G2...]]");
    let mut parts = u.splitn(3, ':');
    let uid: u32 = parts.next().unwrap_or("").parse().map_err(|_| bad())?;
    let gid: u32 = match parts.next() {
        Some(g) => g.parse().map_err(|_| bad())?,
        None => uid,
    };
    let groups = match parts.next() {
        Some("") | None => Vec::new(),
        Some(g) => g
            .split(',')
            .map(|x| x.parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?,
    };
    Ok((uid, gid, groups))
}

fn fail(msg: impl std::fmt::Display, code: i32) -> i32 {
    eprintln!("sandbox: {msg}");
    code
}

/// `sandbox run`.
pub fn run(args: RunArgs) -> i32 {
    // An interactive sandbox: a parent outside it keeps the host terminal's modes. An OCI
    // container's sandbox (--oci-ready-fd) has a terminal only when `create` gave it one (-t:
    // process.terminal, stdio the replica of a pty whose master went to the console socket,
    // already raw) and never forks the supervisor: its process is the one the engine knows.
    let oci = args.oci_ready_fd.is_some();
    let interactive = if oci {
        args.tty
    } else {
        crate::tty::wanted(args.tty, args.no_tty)
    };
    if interactive && !oci && crate::tty::stdin_is_tty() {
        crate::tty::supervise();
    }
    // Before any thread or helper process exists, so that every sentry thread blocks them.
    crate::signals::block();
    // The OCI ready descriptor is this process's alone: the gofer must not inherit it.
    if let Some(fd) = args.oci_ready_fd {
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
    let stdio_names = stdio_names();
    if let Err(e) = init_logging(&args) {
        return fail(e, EXIT_SANDBOX_ERROR);
    }
    // The program's limits are the host's as they were given; then the sentry takes all the
    // descriptors it may have: it holds a host descriptor for each host file the program has
    // open, besides its own (a soft limit of 1,024 would run out before the program's does).
    let mut limits = host_limits();
    if let Err(e) = crate::limits::apply(&args, &mut limits) {
        return fail(e, EXIT_SANDBOX_ERROR);
    }
    if let Ok((_, hard)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
    {
        // As root, as many as the host allows (fs.nr_open): besides the descriptors it holds,
        // the limit is what the kernel measures the descriptors in flight of the sentry's
        // user against when the sentry donates one to a stub (too_many_unix_fds), and the
        // confined sentry has no CAP_SYS_RESOURCE to pass that check: other processes of the
        // same user with many descriptors in flight (a collector that has not run yet) would
        // otherwise stop the sandbox from starting programs.
        let most = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(hard)
            .max(hard);
        let r = nix::sys::resource::Resource::RLIMIT_NOFILE;
        if nix::sys::resource::setrlimit(r, most, most).is_err() {
            let _ = nix::sys::resource::setrlimit(r, hard, hard);
        }
        // What the sentry could take is what its programs may have, less what it keeps for
        // its own: past it a program meets the sandbox's EMFILE, never the sentry's (a
        // process that filled its table could otherwise leave no host descriptor for the
        // open its fork then makes, or for a new stub).
        let held = nix::sys::resource::getrlimit(r).map_or(hard, |(soft, _)| soft);
        let ceiling = sentry::limits::set_open_files(held);
        let nofile = &mut limits[syscalls::abi::RLIMIT_NOFILE as usize];
        if nofile.rlim_max > ceiling {
            tracing::debug!(
                "RLIMIT_NOFILE {} lowered to {ceiling}: the sentry holds {held}",
                nofile.rlim_max
            );
            nofile.rlim_max = ceiling;
        }
        nofile.rlim_cur = nofile.rlim_cur.min(nofile.rlim_max);
    }
    crate::host_unsafe::ignore_sigpipe();
    // An OCI container's network namespace, before anything reads the host's network.
    if let Some(ns) = &args.oci_netns {
        if let Err(e) = crate::oci::enter_netns(ns) {
            return fail(e, EXIT_SANDBOX_ERROR);
        }
    }
    // The network options, and what they need of the host (its resolvers, interfaces), read
    // while the host is still in view.
    let net = match crate::network::configure(&args) {
        Ok(n) => n,
        Err(e) => return fail(e, 2),
    };
    let env = match environment(&args) {
        Ok(e) => e,
        Err(e) => return fail(e, EXIT_SANDBOX_ERROR),
    };
    let cwd = match &args.cwd {
        Some(d) => d.clone(),
        None => match std::env::current_dir() {
            Ok(d) => d,
            Err(e) => return fail(format!("current directory: {e}"), EXIT_SANDBOX_ERROR),
        },
    };
    // The program's ids are the caller's, as they were before any user namespace, or those
    // --user names.
    let mut creds = match &args.user {
        Some(u) => match parse_user(u) {
            Ok((uid, gid, groups)) => Credentials::new(uid, gid, groups),
            Err(e) => return fail(e, 2),
        },
        None => Credentials::new(
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
            nix::unistd::getgroups()
                .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
                .unwrap_or_default(),
        ),
    };
    // The program's own session keyring, as runc gives each container one.
    if let Err(e) = sentry::kernel::keys::new_session(&mut creds) {
        return fail(format!("the session keyring: {e:?}"), EXIT_SANDBOX_ERROR);
    }
    match crate::limits::capabilities(&args) {
        Ok(keep) => {
            creds.caps &= keep;
            creds.caps_permitted &= keep;
            creds.caps_bounding &= keep;
            let set = |list: &Option<String>| list.as_deref().map(crate::limits::cap_list);
            match (set(&args.oci_cap_inheritable), set(&args.oci_cap_ambient)) {
                (Some(Err(e)), _) | (_, Some(Err(e))) => return fail(e, EXIT_SANDBOX_ERROR),
                (inh, amb) => {
                    if inh.is_some() || amb.is_some() {
                        // An OCI process holds config.json's capabilities whatever its uid, as
                        // runc sets them before the exec; the exec then keeps what Linux
                        // keeps (for a uid other than 0: the ambient ones).
                        creds.caps = keep & creds.caps_bounding;
                        creds.caps_permitted = creds.caps;
                    }
                    if let Some(Ok(i)) = inh {
                        creds.caps_inheritable = i & creds.caps_bounding;
                    }
                    if let Some(Ok(a)) = amb {
                        // Ambient only within permitted and inheritable, as PR_CAP_AMBIENT_RAISE.
                        creds.caps_ambient = a & creds.caps_permitted & creds.caps_inheritable;
                    }
                }
            }
        }
        Err(e) => return fail(e, EXIT_SANDBOX_ERROR),
    }

    // The gofer starts now (an exec and its own confinement: milliseconds) while this process
    // goes on with its own start-up; it makes namespaces of its own, so it needs only the user
    // namespace (without root) from this one. (The credentials above were read outside it.)
    if let Err(e) = crate::jail::enter_user_namespace() {
        return fail(e, EXIT_SANDBOX_ERROR);
    }
    let (spec, g) = match start_gofer(&args, net.host_uds) {
        Ok(x) => x,
        Err(e) => return fail(e, EXIT_SANDBOX_ERROR),
    };
    // The sentry's own namespaces, while this is the only thread: a network namespace of its
    // own too unless it carries the program's flows on the host's network.
    let host_network = net.mode != sentry::net::stack::Mode::None;
    if let Err(e) = crate::jail::enter_namespaces(host_network) {
        return fail(e, EXIT_SANDBOX_ERROR);
    }
    let shared: Arc<dyn Platform> = match start_platform(args.platform) {
        Ok(p) => p,
        Err(e) => return fail(e, EXIT_SANDBOX_ERROR),
    };
    let platform: Box<dyn Platform> = Box::new(shared.clone());
    // The first stub starts on its own thread (its tracer, which will run the first task)
    // while this one starts the gofer and builds the mounts: each takes milliseconds. The stub
    // teaches the platform the host layout every later one starts with (read from /proc, so
    // before the confinement below, which waits for it).
    type Job =
        Box<dyn FnOnce(Box<dyn sentry::platform::Context>) -> Result<(), (String, i32)> + Send>;
    let (job_tx, job_rx) = std::sync::mpsc::channel::<Job>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    // Dropped when the first task's thread ends, whichever way.
    let (ended_tx, ended_rx) = std::sync::mpsc::channel::<()>();
    let first = std::thread::Builder::new().name("task-1".into()).spawn(
        move || -> Result<(), (String, i32)> {
            let _ended = ended_tx;
            let ctx = shared
                .new_process()
                .map_err(|e| (format!("starting the program: {e}"), EXIT_SANDBOX_ERROR));
            // Capabilities are per thread: this one drops its own (the main thread drops its
            // when it confines the sentry; the threads started after inherit none).
            let ready = match &ctx {
                Ok(_) => crate::host_unsafe::drop_capabilities().map_err(|e| {
                    format!("dropping the sentry's capabilities: {}", e.description())
                }),
                Err((msg, _)) => Err(msg.clone()),
            };
            let _ = ready_tx.send(ready);
            let Ok(job) = job_rx.recv() else {
                if let Ok(mut c) = ctx {
                    c.kill_process();
                }
                return Ok(());
            };
            sentry::confine::enter(sentry::confine::policy::TASK);
            job(ctx?)
        },
    );
    let first = match first {
        Ok(h) => h,
        Err(e) => return fail(format!("starting a sentry thread: {e}"), EXIT_SANDBOX_ERROR),
    };
    // While the gofer starts: what the sentry must read of the host, and its filters.
    sentry::host::learn();
    // An OCI container's control socket (`exec`), bound while the host is in view.
    let control = match &args.oci_control {
        Some(path) => match crate::oci::control::bind(path) {
            Ok(l) => Some(l),
            Err(e) => return fail(e, EXIT_SANDBOX_ERROR),
        },
        None => None,
    };
    let filters = match sentry::confine::prepare(sentry::confine::Options {
        host_network,
        host_uds: net.host_uds,
        control: control.is_some(),
    }) {
        Ok(f) => f,
        Err(e) => return fail(e, EXIT_SANDBOX_ERROR),
    };
    let (mounts, gofer) = match mounts(&spec, g) {
        Ok(m) => m,
        Err(e) => return fail(e, EXIT_SANDBOX_ERROR),
    };
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return fail(e, EXIT_SANDBOX_ERROR),
        Err(_) => return fail("the sentry's task thread ended early", EXIT_SANDBOX_ERROR),
    }
    // Published ports listen on the host before the sentry gives up making host sockets (their
    // threads keep the policy's union filter, network rules included).
    if let Err(e) = crate::network::publish(&net) {
        return fail(e, EXIT_SANDBOX_ERROR);
    }
    // An OCI container is ready now; it waits for `start` (while it may still open the FIFO).
    if let Err(e) = crate::oci::ready_and_wait(args.oci_ready_fd, args.oci_fifo.as_deref()) {
        return fail(e, EXIT_SANDBOX_ERROR);
    }
    // Start-up is over (the gofer has answered, so it is confined; the first stub waits at its
    // first instruction): the sentry is confined before any other thread starts and before
    // anything of the program is read or run.
    if let Err(e) = crate::jail::confine(filters) {
        return fail(e, EXIT_SANDBOX_ERROR);
    }
    tracing::debug!("the sentry is confined (namespaces, empty root, no capabilities, seccomp)");
    #[cfg(debug_assertions)]
    sentry::confine::debug_forbidden_call_hook();
    if let Err(e) = gofer.start_watch() {
        return fail(
            format!("starting a sentry thread: {}", e.description()),
            EXIT_SANDBOX_ERROR,
        );
    }
    let k = Kernel::new(platform, mounts, args.strace);
    k.init_protected.store(
        args.oci_pid_namespace && !args.init,
        std::sync::atomic::Ordering::Release,
    );
    crate::network::apply(&k, &args, net);
    for kv in &args.sysctls {
        if let Err(e) = crate::network::sysctl(&k, kv) {
            return fail(e, EXIT_SANDBOX_ERROR);
        }
    }
    // An OCI bundle's masked and read-only paths, after its sysctls are written.
    for p in &args.oci_mask {
        if let Err(e) = sentry::syscalls::mask_path(&k, p) {
            return fail(
                format!("masking {p}: {}", e.description()),
                EXIT_SANDBOX_ERROR,
            );
        }
    }
    for p in &args.oci_readonly {
        if let Err(e) = sentry::syscalls::readonly_path(&k, p) {
            return fail(
                format!("read-only {p}: {}", e.description()),
                EXIT_SANDBOX_ERROR,
            );
        }
    }
    let mut console = if interactive {
        match crate::tty::Console::new(&k, creds.uid.0) {
            Ok(c) => Some(c),
            Err(e) => return fail(e, EXIT_SANDBOX_ERROR),
        }
    } else {
        None
    };
    // An OCI container's /dev is config.json's: the console is bound there, as runc does.
    if args.oci_layout {
        if let Err(e) = sentry::fsimpl::setup::mount_console(&k) {
            return fail(e, EXIT_SANDBOX_ERROR);
        }
    }
    let winch = console
        .as_ref()
        .map(|_| Arc::new(std::sync::atomic::AtomicBool::new(false)));
    crate::signals::forward(k.clone(), winch.clone());
    // The working directory, resolved in the sandbox's view.
    let cwd_bytes = cwd.as_os_str().as_bytes().to_vec();
    let cwd = match k.resolve("/", &cwd_bytes, true) {
        Ok(r) if r.stat.is_some_and(|s| s.st_mode & S_IFMT == S_IFDIR) => r.path,
        // A root of another tree may not have the caller's directory: start at its root, as
        // runc does with a bundle's missing cwd.
        _ if args.cwd.is_none() && args.rootfs.is_some() => {
            eprintln!(
                "sandbox: {} is not a directory in --rootfs: starting in /",
                cwd.display()
            );
            "/".into()
        }
        Ok(_) => {
            return fail(
                format!("--cwd {}: Not a directory", cwd.display()),
                EXIT_SANDBOX_ERROR,
            )
        }
        Err(e) => {
            return fail(
                format!("--cwd {}: {}", cwd.display(), e.description()),
                EXIT_SANDBOX_ERROR,
            )
        }
    };
    if let Some(listener) = control {
        if let Err(e) = serve_control(listener, &k, &creds, limits) {
            return fail(e, EXIT_SANDBOX_ERROR);
        }
    }
    let argv: Vec<Vec<u8>> = args.command.iter().map(|a| a.as_bytes().to_vec()).collect();
    let name = argv[0].clone();
    let path_env = env
        .iter()
        .find_map(|e| e.strip_prefix(b"PATH=").map(<[u8]>::to_vec))
        .unwrap_or_else(|| DEFAULT_PATH.as_bytes().to_vec());
    let shown = OsString::from_vec(name.clone())
        .to_string_lossy()
        .into_owned();
    let program = match find_program(&k, &creds, &cwd, &name, &path_env) {
        Ok(p) => p,
        Err(Errno::EACCES) => {
            return fail(format!("{shown}: Permission denied"), EXIT_CANNOT_EXECUTE)
        }
        Err(Errno::ENOENT) if !name.contains(&b'/') => {
            return fail(format!("{shown}: command not found"), EXIT_NOT_FOUND)
        }
        Err(e) => return fail(format!("{shown}: {}", e.description()), EXIT_NOT_FOUND),
    };

    let with_init = args.init;
    let no_new_privs = args.no_new_privs;
    let oom_score_adj = args.oci_oom_score_adj;
    let k2 = k.clone();
    let (fds, terminal) = match &console {
        Some(c) => (
            c.fds(args.tty, || stdio(&stdio_names).file(2).ok()),
            Some(c.terminal()),
        ),
        None => (stdio(&stdio_names), None),
    };
    let job: Job = Box::new(move |ctx| {
        let base = program
            .rsplit(|b| *b == b'/')
            .next()
            .unwrap_or(&program)
            .to_vec();
        let fs = FsContext::new(cwd, 0o022, k2.mnt.clone());
        if with_init {
            Task::start_virtual_init(&k2, creds.uid.0);
        }
        let mut t = Task::new_process(
            k2.clone(),
            ctx,
            fds,
            fs,
            creds,
            limits,
            &base,
            kernel::Origin::Main,
        );
        t.no_new_privs = no_new_privs;
        if let Some(adj) = oom_score_adj {
            // As runc writes it before the program runs, with CAP_SYS_RESOURCE: the floor too.
            let tg = &t.shared.tg;
            tg.oom_score_adj
                .store(adj, std::sync::atomic::Ordering::Relaxed);
            tg.oom_score_adj_min
                .store(adj, std::sync::atomic::Ordering::Relaxed);
        }
        t.publish();
        if let Some(term) = &terminal {
            crate::tty::Console::attach(&k2, term, t.tgid());
        }
        if let Err(e) = kernel::load_initial(&mut t, &program, argv, env) {
            t.ctx.kill_process();
            return Err(match e {
                Errno::ENOEXEC => (
                    format!("{shown}: cannot execute: not an ELF executable or script it can load"),
                    EXIT_CANNOT_EXECUTE,
                ),
                Errno::EACCES => (format!("{shown}: Permission denied"), EXIT_CANNOT_EXECUTE),
                Errno::ENOENT => (
                    format!("{shown}: No such file or directory (its interpreter?)"),
                    EXIT_NOT_FOUND,
                ),
                e => (
                    format!("{shown}: cannot execute: {}", e.description()),
                    EXIT_CANNOT_EXECUTE,
                ),
            });
        }
        tracing::debug!("running the program");
        kernel::run(t);
        Ok(())
    });
    if let (Some(c), Some(w)) = (console.as_mut(), winch) {
        if let Err(e) = c.start(w) {
            return fail(e, EXIT_SANDBOX_ERROR);
        }
    }
    if job_tx.send(job).is_err() {
        return fail("the sentry's task thread ended early", EXIT_SANDBOX_ERROR);
    }
    sentry::confine::enter(sentry::confine::policy::MAIN);
    // A program still running after a second is likely to run a while (a service, a
    // container's process): what start-up left resident goes back (issue 13's idle memory).
    if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
        ended_rx.recv_timeout(std::time::Duration::from_secs(1))
    {
        gofer::trim_resident();
    }
    match first.join() {
        Ok(Ok(())) => {}
        Ok(Err((msg, code))) => return fail(msg, code),
        Err(_) => return fail("the sentry's task thread panicked", EXIT_SANDBOX_ERROR),
    }
    // PID 1's end is the sandbox's; its thread may have ended before its other threads.
    let mut done = kernel::lock(&k.init_exit);
    while done.is_none() {
        done = k.init_cond.wait(done).unwrap_or_else(|e| e.into_inner());
    }
    let status = *done;
    drop(done);
    if let Some(c) = console.as_mut() {
        c.finish();
    }
    status
        .map(ExitStatus::shell_status)
        .unwrap_or(EXIT_SANDBOX_ERROR)
}
