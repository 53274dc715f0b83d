// SPDX-License-Identifier: Apache-2.0
//! The command line: one struct per command.

pub mod gofer;
pub mod oci;
pub mod run;
pub mod syscalls;

use clap::{Parser, Subcommand};

/// Run untrusted Linux programs in a user-space kernel.
#[derive(Parser, Debug)]
#[command(
    name = "sandbox",
    version,
    about = "Run untrusted Linux x86_64 programs in a user-space kernel (the sentry)",
    long_about = None
)]
pub struct Cli {
    /// runc's global options (for the OCI commands).
    #[command(flatten)]
    pub global: oci::Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a program in a new sandbox and exit with its status.
    Run(Box<run::RunArgs>),
    /// Print the system call table: every x86_64 system call with its support level.
    Syscalls(syscalls::SyscallsArgs),
    /// (OCI) Create a container from a bundle; it waits for `start`.
    Create(oci::CreateArgs),
    /// (OCI) Start a created container.
    Start(oci::IdArgs),
    /// (OCI) Print a container's state (JSON).
    State(oci::IdArgs),
    /// (OCI) Send a signal to a container.
    Kill(oci::KillArgs),
    /// (OCI) Delete a container and its state.
    Delete(oci::DeleteArgs),
    /// (OCI) List containers.
    List(oci::ListArgs),
    /// (OCI) The host processes of a container.
    Ps(oci::PsArgs),
    /// (OCI) Write a default config.json.
    Spec(oci::SpecArgs),
    /// (OCI) What this runtime supports (JSON).
    Features,
    /// (OCI) runc's `run`: create, start, wait and delete (chosen when `run` is given -b/-d or
    /// a lone container id in a bundle directory).
    #[command(name = "oci-run", hide = true)]
    OciRun(oci::OciRunArgs),
    /// (OCI) Run a process in a running container.
    Exec(Box<oci::ExecArgs>),
    /// (OCI) Freeze a container.
    Pause(oci::IdArgs),
    /// (OCI) Thaw a paused container.
    Resume(oci::IdArgs),
    /// (OCI) A container's statistics (--stats once, else every --interval).
    Events(oci::EventsArgs),
    /// (OCI) Change a container's resources (its host cgroup and the sandbox's own limits).
    Update(Box<oci::UpdateArgs>),
    /// (OCI, not supported) Checkpoint a container.
    Checkpoint(oci::UnsupportedArgs),
    /// (OCI, not supported) Restore a container.
    Restore(oci::UnsupportedArgs),
    /// The gofer process (started by `run`; not for direct use).
    #[command(hide = true)]
    Gofer(gofer::GoferArgs),
}
