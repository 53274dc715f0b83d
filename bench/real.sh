#!/usr/bin/env bash
# Real work, timed natively, under bwrap (a namespace sandbox: the cost of isolation without
# interception) and under `sandbox run` on both platforms, in one run (issue 11's workloads),
# plus the interception floor of ../shared/floor beside getpid.
#   bench/real.sh [RUNS]      (hyperfine runs per command, default 5)
# Needs gcc, hyperfine, python3, make, git, sqlite3 (Debian packages; bwrap optional). Prints
# a Markdown table: mean ms per command and the ratio to native.
set -euo pipefail
# The system's own programs on both sides: a PATH of the invoking user's (pyenv shims, ~/.cargo)
# would run wrappers natively that the sandbox, which hides /root and /home, never sees.
cargo=$(command -v cargo)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
runs=${1:-5}
for tool in hyperfine gcc python3 make git sqlite3; do
    command -v "$tool" >/dev/null || { echo "bench/real.sh: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done
# Not under /tmp: inside the sandbox /tmp is its own tmpfs.
mkdir -p "$root/target"
work=$(mktemp -d -p "$root/target" real.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$cargo" build --release --quiet --manifest-path "$root/Cargo.toml"
sb="$root/target/release/sandbox"

# The workloads' inputs.
mkdir -p "$work/proj"
for i in $(seq 1 17); do
    printf 'int f%d(int x) { int s = 0; for (int i = 0; i < x; i++) s += i * %d; return s; }\n' "$i" "$i" >"$work/proj/f$i.c"
done
{
    printf 'OBJS = %s\n' "$(for i in $(seq 1 17); do printf 'f%d.o ' "$i"; done)"
    printf 'all: $(OBJS)\n%%.o: %%.c\n\tgcc -O1 -c $< -o $@\nclean:\n\trm -f *.o\n'
} >"$work/proj/Makefile"
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >"$work/hello.c"
cat >"$work/sqlite.sql" <<'EOF'
CREATE TABLE t(a INTEGER, b TEXT);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 200000)
INSERT INTO t SELECT x, 'row' || x FROM c;
COMMIT;
SELECT count(*) FROM t;
EOF
gcc -O2 -static -o "$work/bench" "$here/syscall_bench.c"
floor="$root/../shared/floor"
have_floor=0
if [ -f "$floor/bench.c" ]; then
    gcc -O2 -o "$work/floorbench" "$floor/bench.c" && have_floor=1
fi

declare -a names cmds
add() { names+=("$1"); cmds+=("$2"); }
add "getpid x100000 (syscall_bench)" "$work/bench getpid 100000"
add "python3 import json,email,http.client,asyncio,decimal" "python3 -c 'import json,email,http.client,asyncio,decimal'"
add "gcc -O1 -c hello.c" "gcc -O1 -c $work/hello.c -o /dev/null"
add "make -j2 of 17 small C files" "make -s -C $work/proj -B -j2 >/dev/null"
add "git status" "git -C $root status --short >/dev/null"
add "git log" "git -C $root log --oneline -200 >/dev/null"
add "find /usr/include -type f" "find /usr/include -type f >/dev/null"
add "tar cf /dev/null -C /usr include" "tar cf /dev/null -C /usr include"
add "sh loop: 100 x fork+exec /bin/true" "sh -c 'for i in \$(seq 100); do /bin/true; done'"
add "sqlite3 200,000 inserts in memory" "sqlite3 :memory: < $work/sqlite.sql >/dev/null"
add "python3 loop (CPU-bound)" "python3 -c 'sum(i*i for i in range(3000000))'"
add "/bin/true (start to exit)" "/bin/true"

have_bwrap=0
if command -v bwrap >/dev/null && bwrap --ro-bind / / --dev /dev --proc /proc --bind "$work" "$work" true 2>/dev/null; then
    have_bwrap=1
fi

ms() { # the mean of a hyperfine JSON export, in ms
    python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["mean"]*1000))' "$1"
}
run() { # NAME-INDEX MODE COMMAND
    local out="$work/r.$1.$2.json"
    hyperfine -N --warmup 1 --runs "$runs" --export-json "$out" -- "$3" >/dev/null 2>&1 || { echo "-"; return; }
    ms "$out"
}

echo "| workload | native ms | bwrap/native | systrap ms | systrap/native | ptrace ms | ptrace/native |"
echo "|---|---|---|---|---|---|---|"
for i in "${!names[@]}"; do
    c=${cmds[$i]}
    n=$(run "$i" native "sh -c $(printf %q "$c")")
    b="-"
    if [ "$have_bwrap" = 1 ]; then
        b=$(run "$i" bwrap "bwrap --ro-bind / / --dev /dev --proc /proc --bind $work $work --chdir $root sh -c $(printf %q "$c")")
    fi
    s=$(run "$i" systrap "$sb run --platform systrap --cwd $root -- sh -c $(printf %q "$c")")
    p=$(run "$i" ptrace "$sb run --platform ptrace --cwd $root -- sh -c $(printf %q "$c")")
    ratio() { [ "$1" = "-" ] || [ "$2" = "-" ] && { echo "-"; return; }; python3 -c "print('%.2fx' % ($1/$2))"; }
    echo "| ${names[$i]} | $n | $(ratio "$b" "$n") | $s | $(ratio "$s" "$n") | $p | $(ratio "$p" "$n") |"
done
if [ "$have_floor" = 1 ]; then
    # ns per getpid: native, the bare SIGSYS+spin handoff systrap is built on, and both
    # platforms (the workloads above run `sh -c`; these run the benchmark directly).
    g() { "$@" 2>&1 | awk '{print $2}'; }  # floor's bench prints "getpid NS N"
    b() { "$@" 2>&1 | awk '{print $1}'; }  # syscall_bench prints "NS"
    echo
    echo "| getpid ns (one run) | native | SIGSYS in-process | SIGSYS+spin handoff floor | SIGSYS+futex handoff floor | systrap | ptrace |"
    echo "|---|---|---|---|---|---|---|"
    echo "| | $(g "$work/floorbench" getpid 200000) | $(g "$work/floorbench" --seccomp-trap-getpid getpid 200000) | $(g "$work/floorbench" --seccomp-trap-futex=100000 getpid 100000) | $(g "$work/floorbench" --seccomp-trap-futex=0 getpid 20000) | $(b "$sb" run --platform systrap "$work/bench" getpid 100000) | $(b "$sb" run --platform ptrace "$work/bench" getpid 100000) |"
fi
