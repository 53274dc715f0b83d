// SPDX-License-Identifier: Apache-2.0
//! The system call fuzzer (tests/guests/fuzz.c) inside the sandbox: random and
//! structure-aware calls from racing threads must never panic, hang or kill the sentry. CI runs
//! a short bounded round (fixed seeds); `SANDBOX_FUZZ_SECONDS=600 cargo test --release -p tests
//! --test fuzz -- --nocapture` runs seed after seed for that long (docs/security.md).

use std::process::Command;
use std::time::{Duration, Instant};

use tests::{guest, Linkage};

fn round(seed: u64, workers: u32, calls: u32) -> Result<(), String> {
    let g = guest("fuzz", Linkage::Static);
    let mut cmd = Command::new(tests::sandbox_bin());
    cmd.args([
        "run",
        "--host-root",
        "--cwd",
        "/",
        "--pids",
        "256",
        "--memory",
        "2G",
    ])
    .args(tests::tmp_volumes())
    .arg(&g)
    .args([seed.to_string(), workers.to_string(), calls.to_string()]);
    let start = Instant::now();
    let out = tests::execute(cmd);
    let took = start.elapsed();
    let summary = format!("fuzz: {workers} of {workers} workers ended\n");
    if out.timed_out || out.status != 0 || out.stdout != summary || out.stderr.contains("panicked")
    {
        return Err(format!("seed {seed} ({took:?}):\n{out}"));
    }
    Ok(())
}

#[test]
fn a_bounded_fuzz_round_leaves_the_sandbox_standing() {
    for seed in [1, 2, 3] {
        if let Err(e) = round(seed, 4, 2000) {
            panic!("{e}");
        }
    }
}

#[test]
fn a_long_fuzz_run_when_asked() {
    let Some(secs) = std::env::var("SANDBOX_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        // The bounded round above is CI's; this one runs only when asked.
        return;
    };
    let end = Instant::now() + Duration::from_secs(secs);
    let mut seed = 1000;
    let mut failures = Vec::new();
    while Instant::now() < end {
        if let Err(e) = round(seed, 8, 5000) {
            failures.push(e);
        }
        seed += 1;
    }
    println!(
        "fuzz: {} seeds from 1000, {} failed",
        seed - 1000,
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
