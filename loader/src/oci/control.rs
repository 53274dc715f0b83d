// SPDX-License-Identifier: Apache-2.0
//! A running container's control socket: how `exec` starts a process in a sandbox that is
//! already running (runsc's control server, reduced to what `exec` needs).
//!
//! The container's sandbox (`sandbox run --oci-control PATH`, started by `create`) binds a unix
//! stream socket at `ROOT/ID/control.sock` (mode 0600, in the state directory only the
//! runtime's user reaches) before it confines itself, and serves it from a thread of its own
//! once the kernel exists. One connection is one exec:
//!
//! 1. the client sends a [`Request`] (a little-endian u32 length, then JSON) with its stdin,
//!    stdout and stderr attached (SCM_RIGHTS), which become the new process's fds 0-2 as
//!    `sandbox run` passes its own;
//! 2. the sandbox answers one line, `pid N` (the process's pid in the sandbox) or
//!    `error MESSAGE` (as `sandbox run` would print it: not found, permission denied);
//! 3. the client may send `signal N` lines, delivered to the process as a kill(2) from
//!    outside (si_pid 0);
//! 4. the sandbox sends `exit S` when the process ends (S as a shell reports it: the code,
//!    or 128+N for signal N), and closes.
//!
//! The exec'd process has no parent in the sandbox (getppid is 0, as for `runc exec` in a
//! container's pid namespace), is reaped by the sentry, and dies with the container.
//!
//! The control thread is started after the sentry is confined and keeps the sentry's union
//! filter (it does not narrow itself to a role): each process it starts runs on a new thread,
//! which narrows itself to the task role as the first task's thread does, and a thread cannot
//! widen the filter it inherited. The policy gains `accept4` only when a control socket exists
//! (`confine::Options::control`). The socket's peer is the runtime, not the program: nothing
//! in the sandbox can reach it.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The most a request may be: its JSON (arguments and environment).
const MAX_REQUEST: usize = 4 << 20;

/// What a connection asks for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Start a process (with three descriptors).
    #[default]
    Exec,
    /// Freeze the sandbox (`pause`).
    Pause,
    /// Thaw it (`resume`).
    Resume,
    /// Its statistics (`events --stats`), as JSON.
    Stats,
    /// New limits for the sandbox's own budgets (`update`): the request's `memory`, `pids`.
    Update,
}

/// What a connection asks for: an exec's process, or another [`Op`] (whose fields but `op`
/// are unused).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Request {
    /// What to do.
    #[serde(default)]
    pub op: Op,
    /// The program and its arguments (PATH is searched for a name without a slash).
    pub args: Vec<String>,
    /// The environment, KEY=VALUE.
    pub env: Vec<String>,
    /// The working directory in the sandbox.
    pub cwd: String,
    /// The user.
    pub uid: u32,
    /// The group.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// prctl's no_new_privs for the process.
    pub no_new_privs: bool,
    /// What /proc/[pid]/fd shows for each of the three descriptors sent (the client's own
    /// names: pipe:[N], /dev/null, a file's path).
    pub stdio_names: [String; 3],
    /// The process gets a terminal of the sandbox's (process.terminal): a pty whose replica
    /// is its stdin, stdout, stderr and controlling terminal, bridged to the first two
    /// descriptors sent (the host pty whose master went to the engine's console socket).
    #[serde(default)]
    pub terminal: bool,
    /// (`update`) The memory limit in bytes, -1 for none.
    #[serde(default)]
    pub memory: Option<i64>,
    /// (`update`) The task limit, 0 or less for none.
    #[serde(default)]
    pub pids: Option<i64>,
}

/// The client's side of an [`Op`] other than exec: its one-line answer (`ok`, or the stats).
pub fn admin(socket: &Path, op: Op) -> Result<String, String> {
    admin_request(
        socket,
        &Request {
            op,
            ..Request::default()
        },
    )
}

/// [`admin`] with a whole request (`update`'s limits).
pub fn admin_request(socket: &Path, req: &Request) -> Result<String, String> {
    let (line, _) = send(socket, req, &[])?;
    match line.strip_prefix("error ") {
        Some(msg) => Err(msg.to_string()),
        None if line.is_empty() => Err("the container's sandbox did not answer".into()),
        None => Ok(line),
    }
}

/// The client's side: sends `req` with `stdio` over a connection to `socket` and returns the
/// connection once the sandbox has said the process's pid.
pub fn request(
    socket: &Path,
    req: &Request,
    stdio: [i32; 3],
) -> Result<(i32, BufReader<UnixStream>), String> {
    let (line, reader) = send(socket, req, &stdio)?;
    let line = line.as_str();
    if let Some(pid) = line.strip_prefix("pid ").and_then(|p| p.parse().ok()) {
        return Ok((pid, reader));
    }
    match line.strip_prefix("error ") {
        Some(msg) => Err(msg.to_string()),
        None if line.is_empty() => {
            Err("exec: the container ended before the process started".into())
        }
        None => Err(format!("exec: unexpected answer {line:?}")),
    }
}

/// Sends `req` with `fds` and reads the first line of the answer.
fn send(
    socket: &Path,
    req: &Request,
    fds: &[i32],
) -> Result<(String, BufReader<UnixStream>), String> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let stream = UnixStream::connect(socket).map_err(|e| {
        format!(
            "the container's control socket {}: {e} (is it running?)",
            socket.display()
        )
    })?;
    let json = serde_json::to_vec(req).map_err(|e| format!("exec request: {e}"))?;
    let mut msg = (json.len() as u32).to_le_bytes().to_vec();
    msg.extend_from_slice(&json);
    // The descriptors go with the first bytes; the rest follows as plain writes.
    let first = msg.len().min(4096);
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
    let sent = sendmsg::<()>(
        stream.as_raw_fd(),
        &[std::io::IoSlice::new(&msg[..first])],
        cmsgs,
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("request to the container: {}", e.desc()))?;
    (&stream)
        .write_all(&msg[sent..])
        .map_err(|e| format!("request to the container: {e}"))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| format!("the container's answer: {e}"))?;
    Ok((line.trim_end().to_string(), reader))
}

/// The client's side, after [`request`]: the process's exit status as a shell reports it
/// (the sandbox's end without one counts as SIGKILL's, 137).
pub fn wait_exit(reader: &mut BufReader<UnixStream>) -> i32 {
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return 137,
            Ok(_) => {
                if let Some(s) = line.trim_end().strip_prefix("exit ") {
                    return s.parse().unwrap_or(137);
                }
            }
        }
    }
}

/// Binds the control socket at `path` (before the sentry confines itself).
pub fn bind(path: &Path) -> Result<UnixListener, String> {
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path).map_err(|e| format!("{}: {e}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(l)
}

/// What starts a process for a request: the sandbox's side (boot.rs), on a new thread of its
/// own; returns the pid, or the message for the client.
pub type Starter = Arc<dyn Fn(Request, [OwnedFd; 3]) -> Result<i32, String> + Send + Sync>;

/// What answers a request other than exec: the answer line, or the message for the client.
pub type Admin = Arc<dyn Fn(&Request) -> Result<String, String> + Send + Sync>;

/// What the sandbox does for each request.
#[derive(Clone)]
pub struct Handlers {
    /// Starts an exec's process.
    pub start: Starter,
    /// Sends signal `sig` to process `pid`.
    pub signal: Arc<dyn Fn(i32, i32) + Send + Sync>,
    /// Waits for process `pid` to end: its status as a shell reports it.
    pub wait: Arc<dyn Fn(i32) -> Option<i32> + Send + Sync>,
    /// Pause, resume, stats, update: the answer line.
    pub admin: Admin,
}

/// Serves `listener` for ever on a thread of its own, each connection on a thread of its own.
pub fn serve(listener: UnixListener, h: Handlers) -> Result<(), String> {
    std::thread::Builder::new()
        .name("oci-control".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let h = h.clone();
                let _ = std::thread::Builder::new()
                    .name("oci-exec".into())
                    .spawn(move || one(conn, &h));
            }
        })
        .map(|_| ())
        .map_err(|e| format!("starting the control thread: {e}"))
}

/// One connection: read the request; an exec is started, answered, its signals relayed and
/// its end reported; anything else answered in a line.
fn one(conn: UnixStream, h: &Handlers) {
    // Plain read(2) and write(2) on the connection: the sentry's policy has no send/recv
    // (std's socket I/O is sendto/recvfrom).
    let mut conn = std::fs::File::from(OwnedFd::from(conn));
    let (signal, wait) = (&h.signal, &h.wait);
    let answer = match read_request(&conn) {
        Ok((req, _)) if req.op != Op::Exec => {
            let line = match (h.admin)(&req) {
                Ok(line) => line,
                Err(msg) => format!("error {}", msg.replace('\n', " ")),
            };
            let _ = writeln!(conn, "{line}");
            return;
        }
        Ok((req, Some(fds))) => (h.start)(req, fds),
        Ok((_, None)) => Err("exec request: not three descriptors".to_string()),
        Err(e) => Err(e),
    };
    let pid = match answer {
        Ok(pid) => pid,
        Err(msg) => {
            let _ = writeln!(conn, "error {}", msg.replace('\n', " "));
            return;
        }
    };
    if writeln!(conn, "pid {pid}").is_err() {
        // The client is gone: the process runs on, unwatched.
    }
    // Signals from the client, until it closes its side.
    if let Ok(rd) = conn.try_clone() {
        let signal = signal.clone();
        let _ = std::thread::Builder::new()
            .name("oci-exec-signals".into())
            .spawn(move || {
                for line in BufReader::new(rd).lines() {
                    let Ok(line) = line else { break };
                    if let Some(sig) = line.strip_prefix("signal ").and_then(|s| s.parse().ok()) {
                        signal(pid, sig);
                    }
                }
            });
    }
    let status = wait(pid).unwrap_or(137);
    let _ = writeln!(conn, "exit {status}");
}

/// Reads a request and the three descriptors that came with it, if any.
fn read_request(conn: &std::fs::File) -> Result<(Request, Option<[OwnedFd; 3]>), String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut head = [0u8; 4096];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 3]);
    let (n, fds) = {
        let mut iov = [std::io::IoSliceMut::new(&mut head)];
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| format!("exec request: {}", e.desc()))?;
        let mut fds = Vec::new();
        for c in msg
            .cmsgs()
            .map_err(|e| format!("exec request: {}", e.desc()))?
        {
            if let ControlMessageOwned::ScmRights(r) = c {
                for fd in r {
                    fds.push(crate::host_unsafe::own_fd(fd)?);
                }
            }
        }
        (msg.bytes, fds)
    };
    let fds: Option<[OwnedFd; 3]> = fds.try_into().ok();
    if n < 4 {
        return Err("exec request: too short".into());
    }
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if len > MAX_REQUEST {
        return Err("exec request: too long".into());
    }
    let mut json = head[4..n].to_vec();
    if json.len() < len {
        let mut rest = vec![0u8; len - json.len()];
        (&*conn)
            .read_exact(&mut rest)
            .map_err(|e| format!("exec request: {e}"))?;
        json.extend_from_slice(&rest);
    }
    json.truncate(len);
    let req: Request = serde_json::from_slice(&json).map_err(|e| format!("exec request: {e}"))?;
    if req.op == Op::Exec && req.args.is_empty() {
        return Err("exec: no program given".into());
    }
    Ok((req, fds))
}
