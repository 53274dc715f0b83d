// SPDX-License-Identifier: Apache-2.0
//! `sandbox`: runs untrusted Linux x86_64 programs on a user-space kernel (the sentry).
//!
//! `main` only parses the command line and dispatches; each command lives in its own module.
#![deny(unsafe_code)]

mod boot;
mod cli;
mod host_unsafe;
mod jail;
mod limits;
mod network;
mod signals;
mod tty;

use clap::error::ErrorKind;
use clap::Parser;

/// A bad command line: one line on stderr and status 2 (help and version print as clap
/// prints them).
fn usage_error(e: clap::Error) -> ! {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.to_string();
    let line: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:")
        })
        .map(|l| l.trim_start_matches("error: "))
        .collect();
    eprintln!("sandbox: {}", line.join(" "));
    std::process::exit(2);
}

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => usage_error(e),
    };
    let code = match cli.command {
        cli::Command::Run(args) => boot::run(*args),
        cli::Command::Syscalls(args) => cli::syscalls::print(&args),
        cli::Command::Gofer(args) => cli::gofer::run(&args),
    };
    std::process::exit(code);
}
