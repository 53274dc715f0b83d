#!/usr/bin/env bash
# Benchmarks of the sandbox beside native and beside the interception floor, in one run.
#   bench/run.sh [REPS]     (default 5 repetitions, interleaved)
# Prints medians and ratios. Builds everything into a temporary directory; needs gcc, and
# hyperfine (Debian package) for start-up times.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
reps=${1:-5}
# Not under /tmp: inside the sandbox /tmp is its own tmpfs.
mkdir -p "$root/target"
work=$(mktemp -d -p "$root/target" bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
sb="$root/target/release/sandbox"
gcc -O2 -static -o "$work/bench" "$here/syscall_bench.c"
floor="$root/../shared/floor"
have_floor=0
if [ -f "$floor/ptracer.c" ]; then
    gcc -O2 -o "$work/ptracer" "$floor/ptracer.c" && have_floor=1
fi

N_NATIVE=1000000
N_TRAPPED=20000
results="$work/results"
: >"$results"
for r in $(seq "$reps"); do
    for pin in 1 0; do
        pre=""
        [ "$pin" = 1 ] && pre="taskset -c 0"
        for t in getpid openfstat; do
            echo "$pin $t native $($pre "$work/bench" $t $N_NATIVE)" >>"$results"
            [ $have_floor = 1 ] && echo "$pin $t sysemu-floor $($pre "$work/ptracer" sysemu "$work/bench" $t $N_TRAPPED)" >>"$results"
            echo "$pin $t sandbox $($pre "$sb" run "$work/bench" $t $N_TRAPPED)" >>"$results"
        done
    done
done

python3 - "$results" <<'PY'
import sys, statistics
from collections import defaultdict
d = defaultdict(list)
for line in open(sys.argv[1]):
    pin, test, mode, ns = line.split()
    d[(pin, test, mode)].append(float(ns))
print("| test | pinned | native ns | SYSEMU floor ns | sandbox ns | sandbox/native | sandbox/floor |")
print("|---|---|---|---|---|---|---|")
for test in ["getpid", "openfstat"]:
    for pin in ["1", "0"]:
        nat = statistics.median(d[(pin, test, "native")])
        sb = statistics.median(d[(pin, test, "sandbox")])
        fl = d.get((pin, test, "sysemu-floor"))
        fl = statistics.median(fl) if fl else float("nan")
        print(f"| {test} | {'taskset -c 0' if pin == '1' else 'no'} | {nat:.0f} | {fl:.0f} | {sb:.0f} | {sb/nat:.1f}x | {sb/fl:.2f}x |")
PY

if command -v hyperfine >/dev/null; then
    echo
    echo "start-to-exit of /bin/true:"
    hyperfine -N --warmup 5 --runs 100 --export-markdown "$work/startup.md" "/bin/true" "$sb run /bin/true" >/dev/null
    cat "$work/startup.md"
fi
