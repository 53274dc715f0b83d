// SPDX-License-Identifier: Apache-2.0
//! `sandbox run [OPTIONS] PROGRAM [ARGS...]`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// How application code is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlatformKind {
    /// A seccomp filter traps every system call into a handler of the stub's, which hands it
    /// to the sentry through shared memory (the default; ptrace where seccomp or user-mode
    /// FSGSBASE is missing, with a notice).
    Systrap,
    /// PTRACE_SYSEMU: every system call stops the program and is serviced by the sentry.
    Ptrace,
}

/// The sandbox's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetworkKind {
    /// Loopback only.
    None,
    /// The sandbox's own stack with eth0 and a user-mode NAT to the outside.
    Sandbox,
    /// The host's network, through the sentry.
    Host,
}

/// How the sandbox may assume the host files it shows behave while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileAccess {
    /// Nothing but the sandbox changes the read-only host trees it shows (the root's lower
    /// layer, the working directory, `:ro` volumes): their stats, listings, absent names and
    /// symlink targets are kept (gVisor's default).
    Exclusive,
    /// The host may change them under the sandbox: every look-up and stat asks the gofer.
    Shared,
}

/// Run a program in a new sandbox.
///
/// Options come before PROGRAM; everything after PROGRAM is passed to it untouched (`--` also
/// ends the options). PROGRAM without a slash is looked up in PATH as a shell would. The exit
/// status is the program's own, or 128+N when signal N ended it; 127 when PROGRAM is not found,
/// 126 when it cannot be executed, 125 when the sandbox itself fails.
#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// Print every system call with its arguments and result to stderr, like strace.
    #[arg(long)]
    pub strace: bool,

    /// Write the sandbox's own debug log to FILE.
    #[arg(long, value_name = "FILE")]
    pub debug_log: Option<PathBuf>,

    /// The platform that runs application code (default: systrap, or $SANDBOX_PLATFORM).
    #[arg(long, value_enum, env = "SANDBOX_PLATFORM", default_value_t = PlatformKind::Systrap)]
    pub platform: PlatformKind,

    /// Set an environment variable for the program (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Start the program with an empty environment (before --env).
    #[arg(long)]
    pub clear_env: bool,

    /// Run a minimal init of the sentry's own as PID 1 (it reaps orphans); the program runs as
    /// its child, PID 2, and the sandbox exits with the program's status. Test suites such as
    /// LTP expect this (gVisor puts catatonit in front of them).
    #[arg(long)]
    pub init: bool,

    /// Give the program a terminal of the sandbox's (a pty: its stdin, stdout, stderr and
    /// controlling terminal) bridged to this one's stdin and stdout; the default when stdin
    /// and stdout are terminals (stdin is then put in raw mode until the sandbox exits, and a
    /// stderr that is not a terminal stays the program's stderr).
    #[arg(short = 't', long = "tty", conflicts_with = "no_tty")]
    pub tty: bool,

    /// Pass the host's stdin, stdout and stderr to the program as they are, even when stdin is
    /// a terminal.
    #[arg(long)]
    pub no_tty: bool,

    /// The program's working directory [default: the current directory].
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,

    /// Use the host directory DIR as the sandbox's root instead of the host's `/`. A working
    /// directory that DIR does not have becomes `/` (with a notice).
    #[arg(long, value_name = "DIR", conflicts_with = "host_root")]
    pub rootfs: Option<PathBuf>,

    /// Show the host's whole root (read-only, writes in memory) instead of the default view:
    /// the system trees without their secrets, personal and volatile trees empty, and the
    /// working directory at its own path.
    #[arg(long)]
    pub host_root: bool,

    /// Expose the host directory HOST at GUEST (absolute) in the sandbox; `:ro` refuses writes
    /// (EROFS), `:rw` (the default) writes through to the host (repeatable).
    #[arg(short = 'v', long = "volume", value_name = "HOST:GUEST[:ro|:rw]")]
    pub volumes: Vec<String>,

    /// Where writes to the root go: `memory` (a tmpfs upper layer, gone with the sandbox) or
    /// `none` (the root is read-only).
    #[arg(long, value_name = "memory|none", default_value = "memory")]
    pub overlay: String,

    /// `exclusive` (the default): the read-only host trees the sandbox shows are taken as
    /// unchanging while it runs, so look-ups, stats and listings of them are kept; `shared`:
    /// the host may change them meanwhile (volumes edited while the sandbox runs), so each is
    /// asked again. Read-write volumes are always asked again.
    #[arg(long, value_enum, value_name = "exclusive|shared", default_value_t = FileAccess::Exclusive)]
    pub file_access: FileAccess,

    /// Mount an empty tmpfs at GUEST, limited to N bytes (K, M, G suffixes) (repeatable).
    #[arg(long = "tmpfs", value_name = "GUEST[:size=N]")]
    pub tmpfs: Vec<String>,

    /// The network: `none` (the default: a loopback of the sandbox's own and nothing else),
    /// `sandbox` (also `eth0`, with flows to the outside carried by the sentry's own host
    /// sockets, a user-mode NAT; 10.0.2.2 is the host's loopback with
    /// --allow-host-loopback, 10.0.2.3 the resolver) or `host` (inet sockets carried out on
    /// the host's network by the sentry).
    #[arg(long, value_enum, default_value_t = NetworkKind::None)]
    pub network: NetworkKind,

    /// With `--network sandbox`: make the sandbox's TCP (or UDP) port GUEST_PORT reachable on
    /// the host's loopback at HOST_PORT (repeatable).
    #[arg(
        short = 'p',
        long = "publish",
        value_name = "HOST_PORT:GUEST_PORT[/udp]"
    )]
    pub publish: Vec<String>,

    /// With `--network sandbox`: let the program reach the host's loopback (as 10.0.2.2) and
    /// the host's own addresses, which stay unreachable otherwise.
    #[arg(long)]
    pub allow_host_loopback: bool,

    /// The sandbox's host name (uname, /proc/sys/kernel/hostname).
    #[arg(long, value_name = "NAME", default_value = "sandbox")]
    pub hostname: String,

    /// `open`: a host unix socket reached through a volume may be connected (the gofer
    /// connects it and donates the connection); `none` (the default) refuses it.
    #[arg(long, value_name = "none|open", default_value = "none")]
    pub host_uds: String,

    /// Let a program that holds CAP_NET_RAW in the sandbox make raw sockets.
    #[arg(long)]
    pub net_raw: bool,
    /// The most memory the program may use, in bytes (K, M, G suffixes): what it maps, its
    /// tmpfs files, its pipes and its threads. Past it: ENOMEM (ENOSPC for a tmpfs write)
    /// [default: half of the host's memory].
    #[arg(long, value_name = "BYTES")]
    pub memory: Option<String>,

    /// The most tasks (threads) the program may have at once; past it fork and clone fail
    /// with EAGAIN [default: 4096].
    #[arg(long, value_name = "N")]
    pub pids: Option<u64>,

    /// The number of host CPUs the sandbox runs on (its threads are kept on the first N CPUs
    /// the sandbox may use; the program sees N) [default: all].
    #[arg(long, value_name = "N")]
    pub cpus: Option<usize>,

    /// The program's limit on open descriptors (RLIMIT_NOFILE, soft and hard) [default: the
    /// caller's].
    #[arg(long, value_name = "N")]
    pub open_files: Option<u64>,

    /// A resource limit of the program, as `ulimit` names it (core, cpu, data, fsize, locks,
    /// memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack, as):
    /// soft and hard (the hard one defaults to the soft one), numbers or `unlimited`
    /// (repeatable) [default: the caller's].
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]")]
    pub ulimits: Vec<String>,

    /// Drop the capability CAP (`NET_RAW` or `CAP_NET_RAW`; `ALL`) from those root holds in
    /// the sandbox, and from its bounding set (repeatable; drops are applied before adds).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,

    /// Give root in the sandbox the capability CAP back after `--cap-drop` (repeatable).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,

    /// Start the program with no_new_privs set (PR_SET_NO_NEW_PRIVS; it and its children can
    /// never gain privileges through exec).
    #[arg(long)]
    pub no_new_privs: bool,

    /// Set the sandbox's /proc/sys/KEY (dots or slashes) to VALUE before the program starts
    /// (repeatable); a key the sandbox does not have, or a value it refuses, is an error.
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    pub sysctls: Vec<String>,

    /// The most bytes written to the root may take in memory (the overlay's upper layer; K, M,
    /// G suffixes); past it: ENOSPC [default: a quarter of the host's memory].
    #[arg(long, value_name = "BYTES")]
    pub overlay_size: Option<String>,

    /// Let the gofer serve host files even where it cannot have a mount namespace of its own
    /// (an unprivileged host without user namespaces): it is then confined by its openat2 walks
    /// and seccomp filter alone. Without this the sandbox refuses to start there.
    #[arg(long)]
    pub allow_weak_gofer: bool,

    /// Run the program as UID (and GID, and supplementary groups G1,G2...) instead of the
    /// caller's ids (virtual: the sandbox's credentials).
    #[arg(long, value_name = "UID[:GID[:G1,G2...]]")]
    pub user: Option<String>,

    /// (OCI `create`) A descriptor to write "ok" on once the sandbox is ready.
    #[arg(long, hide = true, value_name = "FD")]
    pub oci_ready_fd: Option<i32>,

    /// (OCI `create`) The FIFO whose opening by `start` lets the program begin.
    #[arg(long, hide = true, value_name = "PATH")]
    pub oci_fifo: Option<PathBuf>,

    /// (OCI) The mount table is config.json's: the `--oci-mount`s in order, instead of the
    /// sandbox's own /dev, /proc, /sys and /tmp.
    #[arg(long, hide = true)]
    pub oci_layout: bool,

    /// (OCI) The root (`--rootfs`) is written through, not kept in memory (root.readonly
    /// false).
    #[arg(long, hide = true)]
    pub oci_writable_root: bool,

    /// (OCI) A mount of config.json, in its order (JSON, as `create` plans it).
    #[arg(long, hide = true, value_name = "JSON")]
    pub oci_mount: Vec<String>,

    /// (OCI) A device node of linux.devices (JSON, as `create` plans it).
    #[arg(long, hide = true, value_name = "JSON")]
    pub oci_device: Vec<String>,

    /// (OCI) The inheritable capabilities, comma-separated (process.capabilities.inheritable).
    #[arg(long, hide = true, value_name = "CAPS")]
    pub oci_cap_inheritable: Option<String>,

    /// (OCI) The ambient capabilities, comma-separated (process.capabilities.ambient).
    #[arg(long, hide = true, value_name = "CAPS")]
    pub oci_cap_ambient: Option<String>,

    /// (OCI) A path to mask (linux.maskedPaths): an empty read-only directory or /dev/null.
    #[arg(long, hide = true, value_name = "PATH")]
    pub oci_mask: Vec<String>,

    /// (OCI) A path to make read-only (linux.readonlyPaths).
    #[arg(long, hide = true, value_name = "PATH")]
    pub oci_readonly: Vec<String>,

    /// (OCI `create`) Where to serve the container's control socket (`exec`).
    #[arg(long, hide = true, value_name = "PATH")]
    pub oci_control: Option<PathBuf>,

    /// (OCI) The network namespace (a path) the sentry's host sockets live in.
    #[arg(long, hide = true, value_name = "PATH")]
    pub oci_netns: Option<PathBuf>,

    /// (OCI) The container has a pid namespace of its own (linux.namespaces): its process is
    /// that namespace's init, which Linux protects from signals it has not asked for.
    #[arg(long, hide = true)]
    pub oci_pid_namespace: bool,

    /// (OCI) process.oomScoreAdj: the program's /proc/self/oom_score_adj, and its floor.
    #[arg(long, hide = true, value_name = "N", allow_hyphen_values = true)]
    pub oci_oom_score_adj: Option<i32>,

    /// The program and its arguments.
    #[arg(value_name = "PROGRAM", required = true, num_args = 1.., allow_hyphen_values = false)]
    pub command: Vec<OsString>,
}
