#!/usr/bin/env bash
# faultbench's libiscsi engine (1 job, all recording on) against iscsi-perf
# (libiscsi-bin) on one tgtd portal on loopback serving a file in /dev/shm:
# 4k random reads, QD32, runs alternated three times. Prints IOPS and client
# CPU per I/O of each run, the medians and the ratio. Root (tgtd).
# Usage: bench/iscsi_vs_iscsi_perf.sh [SECONDS]   (FB=path/to/faultbench, ROUNDS=n)
# URL=iscsi://PORTAL/IQN/LUN measures an existing target instead, e.g. the metro
# lab's LUN through site A (`faultbench lab up` first):
#   URL=iscsi://198.18.1.2/iqn.2026-11.test.faultbench:lun/1 bench/iscsi_vs_iscsi_perf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
rounds=${ROUNDS:-3}
fb=${FB:-build/cli/faultbench}
port=${PORT:-3263}          # iSCSI portal on 127.0.0.1
control=${CONTROL_PORT:-73}  # tgtd's control port (tgtadm -C)
iqn=iqn.2024-01.org.faultbench:bench
[ -x "$fb" ] || { echo "build first: cmake --build build (or set FB)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (tgtd)" >&2; exit 2; }
for tool in tgtd tgtadm iscsi-perf python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool (scripts/setup)" >&2; exit 2; }
done

work=$(mktemp -d /dev/shm/fb-iscsi-bench-XXXXXX)
tgtd_pid=""
cleanup() {
  if [ -n "$tgtd_pid" ]; then
    kill -CONT "$tgtd_pid" 2>/dev/null || true
    tgtadm -C "$control" --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1 || true
    kill "$tgtd_pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$tgtd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$tgtd_pid" 2>/dev/null || true
    wait "$tgtd_pid" 2>/dev/null || true
    rm -f "/var/run/tgtd/socket.$control" "/var/run/tgtd/socket.$control.lock"  # tgtd leaves them behind
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ -n "${URL:-}" ]; then
  url=$URL
  where="$URL"
else
# A 512 MiB LUN filled with random data, so reads hit real pages.
dd if=/dev/urandom of="$work/lun.img" bs=1M count=512 status=none
tgtd -f -C "$control" --iscsi "portal=127.0.0.1:$port" >"$work/tgtd.log" 2>&1 &
tgtd_pid=$!
for _ in $(seq 50); do tgtadm -C "$control" --op show --mode target >/dev/null 2>&1 && break; sleep 0.1; done
tgtadm -C "$control" --lld iscsi --op new --mode target --tid 1 -T "$iqn"
tgtadm -C "$control" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$work/lun.img"
tgtadm -C "$control" --lld iscsi --op bind --mode target --tid 1 -I ALL
url="iscsi://127.0.0.1:$port/$iqn/1"
where="one tgtd portal on loopback"
fi
blocks=$((4096 / 512))  # iscsi-perf -b counts LUN blocks; tgtd's file LUNs have 512-byte blocks

results="$work/results.tsv"
run_perf() {
  /usr/bin/time -f "%U %S" -o "$work/cpu" iscsi-perf -m 32 -b "$blocks" -r -t "$secs" "$url" >"$work/perf.out" 2>&1
  python3 - "$work/perf.out" "$work/cpu" "$secs" >>"$results" <<'PY'
import re, sys
out = open(sys.argv[1], errors="replace").read().replace("\r", "\n")
iops = float(re.findall(r"iops average (\d+)", out)[-1])
usr, sys_ = map(float, open(sys.argv[2]).read().split()[-2:])
print(f"iscsi-perf\t{iops:.0f}\t{(usr + sys_) / (iops * float(sys.argv[3])) * 1e9:.0f}")
PY
}
run_fb() {
  rm -rf "$work/runs"
  /usr/bin/time -f "%U %S" -o "$work/cpu" "$fb" load --engine libiscsi --target "$url" --rw randread --bs 4k \
    --iodepth 32 --numjobs 1 --runtime "${secs}s" --out "$work/runs" --quiet >/dev/null
  python3 - "$work/runs" "$work/cpu" >>"$results" <<'PY'
import glob, json, sys
s = json.load(open(glob.glob(sys.argv[1] + "/*/run.json")[0]))["load_summary"]["read"]
usr, sys_ = map(float, open(sys.argv[2]).read().split()[-2:])
print(f"faultbench\t{s['iops']:.0f}\t{(usr + sys_) / s['ios'] * 1e9:.0f}")
PY
}

echo "4k random read, QD32, ${secs}s per run, ${rounds} rounds alternated, $where"
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then run_perf; run_fb; else run_fb; run_perf; fi
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
print(f"{'tool':<12}{'IOPS':>10}{'CPU ns/IO':>11}   (each run, client CPU only)")
for r in rows:
    print(f"{r[0]:<12}{r[1]:>10}{r[2]:>11}")
med = {t: [statistics.median(float(r[i]) for r in rows if r[0] == t) for i in (1, 2)] for t in ("iscsi-perf", "faultbench")}
p, f = med["iscsi-perf"], med["faultbench"]
print()
print(f"median IOPS: iscsi-perf {p[0]:.0f}, faultbench {f[0]:.0f}, ratio faultbench/iscsi-perf {f[0] / p[0]:.2f}")
print(f"median client CPU per I/O: iscsi-perf {p[1]:.0f} ns, faultbench {f[1]:.0f} ns")
PY
