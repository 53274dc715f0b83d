#!/usr/bin/env bash
# TCP benchmarks of the sandbox beside native, in one run (issue 9, item 7): loopback bulk
# throughput with 64 KiB writes, request/response round trip (64 bytes each way),
# connect+accept+close, and bulk throughput to a server on the host (native: over the host's
# loopback; sandboxed: `--network sandbox --allow-host-loopback` to 10.0.2.2, through the
# sentry's host sockets).
#   bench/net.sh [REPS] [MIB]     (default 5 repetitions, interleaved; 1024 MiB per bulk run)
# Prints a markdown table of medians and ratios (throughput: sandbox / native, higher is
# better; times: sandbox / native, lower is better). Builds the workload into a temporary
# directory under target/ (not /tmp: inside the sandbox /tmp is its own tmpfs); needs gcc.
# SANDBOX_BIN picks the sandbox binary (default: build target/release/sandbox).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
reps=${1:-5}
mib=${2:-1024}
mkdir -p "$root/target"
work=$(mktemp -d -p "$root/target" bench-net.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ -n "${SANDBOX_BIN:-}" ]; then
    sb=$SANDBOX_BIN
else
    cargo build --release --quiet --manifest-path "$root/Cargo.toml"
    sb="$root/target/release/sandbox"
fi
gcc -O2 -static -o "$work/net_bench" "$here/net_bench.c"
b="$work/net_bench"
run() { "$sb" run --cwd / -v "$work:/bench:ro" /bench/net_bench "$@"; }

RR=20000
CONN=5000
results="$work/results"
: >"$results"
# The host server for the bulk-to-host runs.
$b sink >"$work/sink.port" &
sink=$!
trap 'kill $sink 2>/dev/null; rm -rf "$work"' EXIT
while ! [ -s "$work/sink.port" ]; do sleep 0.1; done
port=$(cat "$work/sink.port")
for r in $(seq "$reps"); do
    echo "host native $($b send 127.0.0.1 "$port" "$mib")" >>"$results"
    echo "host sandbox $("$sb" run --network sandbox --allow-host-loopback --cwd / -v "$work:/bench:ro" /bench/net_bench send 10.0.2.2 "$port" "$mib")" >>"$results"
    echo "bulk native $($b bulk "$mib")" >>"$results"
    echo "bulk sandbox $(run bulk "$mib")" >>"$results"
    echo "rr native $($b rr $RR)" >>"$results"
    echo "rr sandbox $(run rr $RR)" >>"$results"
    echo "conn native $($b conn $CONN)" >>"$results"
    echo "conn sandbox $(run conn $CONN)" >>"$results"
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m() { grep "^$1 $2 " "$results" | awk '{ print $3 }' | median; }

echo "| benchmark | native | sandbox | ratio |"
echo "|---|---|---|---|"
bn=$(m bulk native); bs=$(m bulk sandbox)
echo "| TCP loopback bulk, 64 KiB writes (MB/s) | $bn | $bs | $(awk "BEGIN { printf \"%.2fx\", $bs / $bn }") |"
rn=$(m rr native); rs=$(m rr sandbox)
echo "| TCP request/response round trip, 64 B (us) | $rn | $rs | $(awk "BEGIN { printf \"%.2fx\", $rs / $rn }") |"
cn=$(m conn native); cs=$(m conn sandbox)
echo "| connect + accept + close (us) | $cn | $cs | $(awk "BEGIN { printf \"%.2fx\", $cs / $cn }") |"
hn=$(m host native); hs=$(m host sandbox)
echo "| bulk to a host server, 64 KiB writes (MB/s) | $hn | $hs | $(awk "BEGIN { printf \"%.2fx\", $hs / $hn }") |"
