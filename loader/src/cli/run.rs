// SPDX-License-Identifier: Apache-2.0
//! `sandbox run [OPTIONS] PROGRAM [ARGS...]`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// How application code is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlatformKind {
    /// PTRACE_SYSEMU: every system call stops the program and is serviced by the sentry.
    Ptrace,
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

    /// The platform that runs application code.
    #[arg(long, value_enum, default_value_t = PlatformKind::Ptrace)]
    pub platform: PlatformKind,

    /// Set an environment variable for the program (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Start the program with an empty environment (before --env).
    #[arg(long)]
    pub clear_env: bool,

    /// The program's working directory [default: the current directory].
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,

    /// The program and its arguments.
    #[arg(value_name = "PROGRAM", required = true, num_args = 1.., allow_hyphen_values = false)]
    pub command: Vec<OsString>,
}
