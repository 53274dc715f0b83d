// SPDX-License-Identifier: Apache-2.0
//! `sandbox syscalls`: the system call table (gVisor `runsc syscalls`).

use clap::Args;
use sentry::syscalls::table::{self, Support};

/// Print the system call table.
#[derive(Args, Debug)]
pub struct SyscallsArgs {
    /// Only list calls of this support level (full, partial, refused, unimplemented).
    #[arg(long, value_name = "LEVEL")]
    pub support: Option<String>,
}

/// Prints the table and the counts by support level; returns the exit status.
pub fn print(args: &SyscallsArgs) -> i32 {
    let levels = [
        Support::Full,
        Support::Partial,
        Support::Refused,
        Support::Unimplemented,
    ];
    if let Some(want) = &args.support {
        if !levels.iter().any(|l| l.label() == want) {
            eprintln!("sandbox syscalls: unknown support level '{want}' (full, partial, refused, unimplemented)");
            return 2;
        }
    }
    let mut counts = [0usize; 4];
    let mut text = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(text, "{:<5} {:<24} {:<14} NOTE", "NR", "NAME", "SUPPORT");
    for (nr, e) in table::all().iter().enumerate() {
        if e.name.is_empty() {
            continue;
        }
        let i = levels.iter().position(|l| *l == e.support).unwrap_or(3);
        counts[i] += 1;
        if args
            .support
            .as_deref()
            .is_some_and(|w| w != e.support.label())
        {
            continue;
        }
        let _ = writeln!(
            text,
            "{:<5} {:<24} {:<14} {}",
            nr,
            e.name,
            e.support.label(),
            e.note
        );
    }
    let _ = writeln!(text);
    for (l, c) in levels.iter().zip(counts) {
        let _ = writeln!(text, "{:<14} {c}", l.label());
    }
    let _ = writeln!(text, "{:<14} {}", "total", counts.iter().sum::<usize>());
    // A reader that stops early (`| head`) is not an error.
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("sandbox syscalls: {e}");
            1
        }
        _ => 0,
    }
}
