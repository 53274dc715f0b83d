// SPDX-License-Identifier: Apache-2.0
//! The command line: one struct per command.

pub mod gofer;
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
    /// The gofer process (started by `run`; not for direct use).
    #[command(hide = true)]
    Gofer(gofer::GoferArgs),
}
