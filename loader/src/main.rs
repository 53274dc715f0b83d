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
mod oci;
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

/// Where the command is in `argv`: after the program and runc's global options.
fn command_index(argv: &[std::ffi::OsString]) -> Option<usize> {
    let with_value = ["--root", "--log", "--log-format"];
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].to_string_lossy();
        if !a.starts_with('-') {
            return Some(i);
        }
        if with_value.contains(&a.as_ref()) {
            i += 1;
        }
        i += 1;
    }
    None
}

fn main() {
    // runc's `run BUNDLE-ID` shares its name with the sandbox's own `run PROGRAM`.
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(i) = command_index(&argv) {
        if argv[i] == "run" && cli::oci::is_oci_run(&argv[i + 1..]) {
            argv[i] = "oci-run".into();
        }
    }
    let cli = match cli::Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => usage_error(e),
    };
    if matches!(
        cli.command,
        cli::Command::Syscalls(_)
            | cli::Command::State(_)
            | cli::Command::List(_)
            | cli::Command::Ps(_)
            | cli::Command::Features
            | cli::Command::Events(_)
    ) {
        host_unsafe::default_sigpipe();
    }
    let code = match cli.command {
        cli::Command::Run(args) => boot::run(*args),
        cli::Command::Syscalls(args) => cli::syscalls::print(&args),
        cli::Command::Gofer(args) => cli::gofer::run(&args),
        cli::Command::Create(a) => cli::oci::create(&cli.global, &a),
        cli::Command::Start(a) => cli::oci::start(&cli.global, &a),
        cli::Command::State(a) => cli::oci::state(&cli.global, &a),
        cli::Command::Kill(a) => cli::oci::kill(&cli.global, &a),
        cli::Command::Delete(a) => cli::oci::delete(&cli.global, &a),
        cli::Command::List(a) => cli::oci::list(&cli.global, &a),
        cli::Command::Ps(a) => cli::oci::ps(&cli.global, &a),
        cli::Command::Spec(a) => cli::oci::spec(&a),
        cli::Command::Features => cli::oci::features(),
        cli::Command::OciRun(a) => cli::oci::run(&cli.global, &a),
        cli::Command::Exec(a) => cli::oci::exec(&cli.global, &a),
        cli::Command::Pause(a) => cli::oci::pause(&cli.global, &a),
        cli::Command::Resume(a) => cli::oci::resume(&cli.global, &a),
        cli::Command::Events(a) => cli::oci::events(&cli.global, &a),
        cli::Command::Update(a) => cli::oci::update(&cli.global, &a),
        cli::Command::Checkpoint(_) => cli::oci::unsupported("checkpoint"),
        cli::Command::Restore(_) => cli::oci::unsupported("restore"),
    };
    std::process::exit(code);
}
