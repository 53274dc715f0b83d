#!/usr/bin/env bash
# AF_UNIX stream throughput beside native, in one run (issue 9, item 7).
#   bench/unix.sh [REPS] [MIB] [WRITE]     (default 5 repetitions, 1024 MiB, 65536-byte writes)
# A parent writes MIB MiB through a socketpair to a child reading in buffers of the same size
# (bench/unix_bench.c). Prints the median seconds and the ratio (native time / sandbox time:
# 1.0x is native speed, higher is better). Runs alternate native and sandboxed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
reps=${1:-5}
mib=${2:-1024}
chunk=${3:-65536}
mkdir -p "$root/target"
work=$(mktemp -d -p "$root/target" bench-unix.XXXXXX)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
sb="$root/target/release/sandbox"
gcc -O2 -static -o "$work/unix_bench" "$here/unix_bench.c"
results="$work/results"
: >"$results"
for r in $(seq "$reps"); do
    echo "native $("$work/unix_bench" "$mib" "$chunk")" >>"$results"
    echo "sandbox $("$sb" run "$work/unix_bench" "$mib" "$chunk")" >>"$results"
done
python3 - "$results" "$mib" "$chunk" <<'PY'
import sys, statistics
d = {}
for line in open(sys.argv[1]):
    mode, s = line.split()
    d.setdefault(mode, []).append(float(s))
mib, chunk = int(sys.argv[2]), int(sys.argv[3])
n, s = statistics.median(d["native"]), statistics.median(d["sandbox"])
print(f"| unix stream, {mib} MiB in {chunk}-byte writes | {n:.3f} s ({mib/n:.0f} MiB/s) | {s:.3f} s ({mib/s:.0f} MiB/s) | {n/s:.2f}x |")
print("native:", " ".join(f"{x:.3f}" for x in d["native"]))
print("sandbox:", " ".join(f"{x:.3f}" for x in d["sandbox"]))
PY
