#!/usr/bin/env bash
# The OCI runtime beside runc and crun (issue 13), in one run, on the same busybox bundle:
#   bench/oci.sh [RUNS]     (default 20 hyperfine runs per command)
# 1. `RUNTIME run -b BUNDLE ID` of /bin/true: create, start, wait and delete;
# 2. `podman run --rm IMAGE true` with each runtime (needs podman; a local image made with
#    `podman import`, storage of the script's own);
# 3. the memory of an idle container's sandbox: the RSS of the sandbox's own processes (the
#    sentry and the gofer; the program's stub is the program's) with `sleep` as its process.
# Needs hyperfine, busybox-static, runc; crun where it accepts the host's cgroup layout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
runs=${1:-20}
mkdir -p "$root/target"
work=$(mktemp -d -p "$root/target" oci-bench.XXXXXX)
prun="/run/sbx-oci-bench-$$"
cleanup() {
    podman --root "$work/storage" --runroot "$prun/run" --tmpdir "$prun/tmp" rm -a -f >/dev/null 2>&1 || true
    rm -rf "$work" "$prun"
}
trap cleanup EXIT

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
sb="$root/target/release/sandbox"
bundle="$work/bundle"
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$bundle/rootfs/bin/$a"; done
(cd "$bundle" && "$sb" spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(p, "w"))
PY

cmds=()
names=()
for rt in "$sb" runc crun; do
    command -v "$rt" >/dev/null || continue
    r="$work/root-$(basename "$rt")"
    # crun refuses some cgroup layouts: only what runs here is measured.
    if ! "$rt" --root "$r" run -b "$bundle" probe >/dev/null 2>&1; then
        echo "$(basename "$rt"): cannot run the bundle on this host; left out"
        continue
    fi
    cmds+=("$rt --root $r run -b $bundle bench")
    names+=("$(basename "$rt")")
done
echo "== create+start+wait+delete of /bin/true"
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N -w 3 -r "$runs" "${args[@]}"

if command -v podman >/dev/null; then
    echo "== podman run --rm IMAGE true"
    tar -C "$bundle/rootfs" -cf "$work/root.tar" .
    pm="podman --root $work/storage --runroot $prun/run --tmpdir $prun/tmp"
    $pm import "$work/root.tar" localhost/oci-bench:latest >/dev/null
    ul="--ulimit nofile=1024:1024 --ulimit nproc=4096:4096"
    hyperfine -N -w 2 -r "$runs" \
        -n sandbox "$pm --runtime $sb run --rm $ul --network none localhost/oci-bench true" \
        -n runc "$pm --runtime runc run --rm $ul --network none localhost/oci-bench true"
fi

echo "== idle container: the sandbox's own memory"
python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["sleep", "1000"]
json.dump(c, open(p, "w"))
PY
r="$work/root-idle"
(cd "$bundle" && "$sb" --root "$r" create idle >/dev/null 2>&1 && "$sb" --root "$r" start idle)
# The sandbox gives back what start-up left resident once its program has run a second.
sleep 3
pid=$("$sb" --root "$r" state idle | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# PSS counts the pages the two share (the same binary, the C library) once between them.
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
gofer_pid=""
for c in $(cat /proc/"$pid"/task/*/children); do
    if tr '\0' ' ' <"/proc/$c/cmdline" | grep -q " gofer"; then gofer_pid=$c; fi
done
echo "RSS: sentry $(rss "$pid") kB + gofer $(rss "$gofer_pid") kB = $(($(rss "$pid") + $(rss "$gofer_pid"))) kB"
echo "PSS: sentry $(pss "$pid") kB + gofer $(pss "$gofer_pid") kB = $(($(pss "$pid") + $(pss "$gofer_pid"))) kB"
"$sb" --root "$r" delete -f idle
