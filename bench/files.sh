#!/usr/bin/env bash
# File benchmarks of the sandbox beside native, in one run (issue 5, item 12).
#   bench/files.sh [REPS] [MIB]     (default 3 repetitions, 1024 MiB files)
# Sequential write (timed without the fsync that follows) and read of a MIB-MiB host file
# through a volume (-v, through the gofer's
# donated descriptor) and on tmpfs (the sandbox's /tmp, memfd-backed; natively /dev/shm), a
# stat-heavy walk (find /usr -type f | wc -l) and create+unlink of 10,000 files (on a volume and
# on tmpfs). Prints medians in seconds and ratios (for throughput, native time / sandbox time,
# so higher is better and 1.0x is native speed; for the others, sandbox time / native time).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
reps=${1:-3}
mib=${2:-1024}
# Not under /tmp: inside the sandbox /tmp is its own tmpfs.
mkdir -p "$root/target"
work=$(mktemp -d -p "$root/target" bench-files.XXXXXX)
shm=$(mktemp -d -p /dev/shm bench-files.XXXXXX)
trap 'rm -rf "$work" "$shm"' EXIT
mkdir -p "$work/vol"

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
sb="$root/target/release/sandbox"
gcc -O2 -static -o "$work/files_bench" "$here/files_bench.c"
b="$work/files_bench"
run() { "$sb" run --cwd / -v "$work/vol:/vol" -v "$work:/bench:ro" "$@"; }
secs() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); awk "BEGIN { printf \"%.4f\", ($t1 - $t0) / 1e9 }"; }

results="$work/results"
: >"$results"
for r in $(seq "$reps"); do
    # Each write starts from no file and no dirty pages, after an untimed write of the same
    # size: the first large write after the other tests (memory freed by the tmpfs runs, the
    # page cache dropped) is seen to take ten times as long, whoever makes it.
    rm -f "$work/vol/big"; "$b" write "$work/vol/big" "$mib" >/dev/null
    rm -f "$work/vol/big"; sync
    echo "write-volume native $($b write "$work/vol/big" "$mib")" >>"$results"
    rm -f "$work/vol/big"; sync
    echo "write-volume sandbox $(run /bench/files_bench write /vol/big "$mib")" >>"$results"
    sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    "$b" read "$work/vol/big" >/dev/null  # warm the page cache for both
    echo "read-volume native $($b read "$work/vol/big")" >>"$results"
    echo "read-volume sandbox $(run /bench/files_bench read /vol/big)" >>"$results"
    rm -f "$work/vol/big"
    echo "write-tmpfs native $($b write "$shm/big" "$mib")" >>"$results"
    echo "read-tmpfs native $($b read "$shm/big")" >>"$results"
    rm -f "$shm/big"
    echo "write-tmpfs sandbox $(run /bench/files_bench write /tmp/big "$mib")" >>"$results"
    echo "read-tmpfs sandbox $(run /bin/sh -c "/bench/files_bench write /tmp/big $mib >/dev/null; /bench/files_bench read /tmp/big")" >>"$results"
    # Warm the dentry and inode caches again (the read test dropped them): a cold walk reads
    # the disk, and would make whichever side runs first look slow.
    find /usr -type f >/dev/null
    echo "find-usr native $(secs sh -c 'find /usr -type f | wc -l')" >>"$results"
    echo "find-usr sandbox $(secs run /bin/sh -c 'find /usr -type f | wc -l')" >>"$results"
    echo "churn-volume native $($b churn "$work/vol" 10000)" >>"$results"
    echo "churn-volume sandbox $(run /bench/files_bench churn /vol 10000)" >>"$results"
    echo "churn-tmpfs native $($b churn "$shm" 10000)" >>"$results"
    echo "churn-tmpfs sandbox $(run /bench/files_bench churn /tmp 10000)" >>"$results"
done
# The walk's file counts must agree.
n_native=$(find /usr -type f | wc -l)
n_sandbox=$(run /bin/sh -c 'find /usr -type f | wc -l')

python3 - "$results" "$mib" "$n_native" "$n_sandbox" <<'PY'
import sys, statistics
from collections import defaultdict
d = defaultdict(list)
for line in open(sys.argv[1]):
    test, mode, s = line.split()
    d[(test, mode)].append(float(s))
mib = int(sys.argv[2])
print(f"| test | native s | sandbox s | ratio |")
print("|---|---|---|---|")
for test, what in [("write-volume", f"write {mib} MiB, volume"), ("read-volume", f"read {mib} MiB, volume"),
                   ("write-tmpfs", f"write {mib} MiB, tmpfs"), ("read-tmpfs", f"read {mib} MiB, tmpfs"),
                   ("find-usr", "find /usr -type f | wc -l"),
                   ("churn-volume", "create+unlink 10,000 files, volume"),
                   ("churn-tmpfs", "create+unlink 10,000 files, tmpfs")]:
    nat = statistics.median(d[(test, "native")])
    sb = statistics.median(d[(test, "sandbox")])
    if test.startswith(("write", "read")):
        ratio = f"{nat / sb:.2f}x native speed ({mib / sb:.0f} vs {mib / nat:.0f} MiB/s)"
    else:
        ratio = f"{sb / nat:.1f}x native time"
    print(f"| {what} | {nat:.3f} | {sb:.3f} | {ratio} |")
print(f"\nfind counted {sys.argv[3]} files natively and {sys.argv[4]} in the sandbox")
PY
