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
mod signals;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Run(args) => boot::run(*args),
        cli::Command::Syscalls(args) => cli::syscalls::print(&args),
        cli::Command::Gofer(args) => cli::gofer::run(&args),
    };
    std::process::exit(code);
}
