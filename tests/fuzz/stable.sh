#!/usr/bin/env bash
# Runs one fuzz target under libFuzzer, with its coverage feedback, on the stable toolchain:
# the instrumentation cargo-fuzz asks rustc for is made of stable codegen options; only the
# sanitizers (ASan: -Zsanitizer) need nightly, and the targets are safe Rust. Overflow checks
# and debug assertions are on, as cargo-fuzz sets them.
#
#   tests/fuzz/stable.sh elf_load 600            # TARGET SECONDS [libFuzzer options...]
#
# Targets: gofer_decode, gofer_server, elf_load. The corpus starts from the seeds the stable
# driver uses (tests/tests/fuzz_targets.rs) and grows in $FUZZ_WORK/corpus/TARGET; a crash is
# written to $FUZZ_WORK/artifacts/ (FUZZ_WORK defaults to target/fuzz-work).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: tests/fuzz/stable.sh TARGET SECONDS [libFuzzer options]}
seconds=${2:?usage: tests/fuzz/stable.sh TARGET SECONDS [libFuzzer options]}
shift 2
work=${FUZZ_WORK:-$PWD/target/fuzz-work}
triple=x86_64-unknown-linux-gnu
# The instrumented build has a target directory of its own.
build=${FUZZ_TARGET_DIR:-$PWD/target/fuzz-stable}
mkdir -p "$work/corpus/$target" "$work/artifacts"
if [ -z "$(ls -A "$work/corpus/$target")" ]; then
    SANDBOX_FUZZ_SEEDS_OUT="$work/seeds" cargo test --release -p tests --test fuzz_targets \
        -- write_seeds >/dev/null
    cp "$work/seeds/$target"/* "$work/corpus/$target/"
fi
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
    CARGO_TARGET_DIR="$build" cargo build --release --manifest-path tests/fuzz/Cargo.toml --target $triple --bin "$target"
exec "$build/$triple/release/$target" "$work/corpus/$target" \
    -artifact_prefix="$work/artifacts/$target-" -max_total_time="$seconds" -print_final_stats=1 "$@"
