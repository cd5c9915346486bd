#!/usr/bin/env bash
# faultbench's libiscsi engine against the target's limit: iscsi-perf
# (libiscsi-bin) on one tgtd portal on loopback serving a file in /dev/shm,
# 4k random reads, QD32 per iSCSI session.
#   iscsi-perf  1, 2 and 4 processes in parallel (one session each, their own
#               initiator names); the best of the three is the target's limit
#   faultbench  one job with --sessions-per-path 1, 2 and 4 (QD 32 per
#               session), all recording on: the journal with its per-interval
#               histograms, the stall detector, the Prometheus exporter
# Every configuration once per round, rounds alternating the order. Prints
# IOPS and client CPU per I/O of each run, the medians, and each engine
# configuration's median against the limit (goal: >= 0.95). The local tgtd
# runs on CPU 0 and the clients on the others (PIN=0: all share every CPU).
# Root (tgtd).
# Usage: bench/iscsi_vs_iscsi_perf.sh [SECONDS]   (FB=path/to/faultbench, ROUNDS=n, SESSIONS="1 2 4")
# URL=iscsi://PORTAL/IQN/LUN measures an existing target instead, e.g. the metro
# lab's LUN through site A (`faultbench lab up` first):
#   URL=iscsi://198.18.1.2/iqn.2026-11.test.faultbench:lun/1 bench/iscsi_vs_iscsi_perf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
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

# The target on CPU 0, the clients on the others, as an array has its own
# CPUs: the target's limit is then its own, not what the client leaves it
# (PIN=0 shares every CPU).
target_cpus="" client_cpus="" pinned="shared CPUs"
if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  target_cpus="taskset -c 0" client_cpus="taskset -c 1-$(($(nproc) - 1))" pinned="target on CPU 0, clients on CPU 1-$(($(nproc) - 1))"
fi
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
$target_cpus tgtd -f -C "$control" --iscsi "portal=127.0.0.1:$port" >"$work/tgtd.log" 2>&1 &
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
sessions=(${SESSIONS:-1 2 4})
# run_perf P: P iscsi-perf processes in parallel; IOPS summed, CPU per I/O over all.
run_perf() {
  local n=$1 k pids=()
  for k in $(seq "$n"); do
    $client_cpus /usr/bin/time -f "%U %S" -o "$work/cpu.$k" iscsi-perf -i "iqn.2024-01.org.faultbench:perf-$k" -m 32 \
      -b "$blocks" -r -t "$secs" "$url" >"$work/perf.$k" 2>&1 &
    pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k"; done
  python3 - "$work" "$n" "$secs" >>"$results" <<'PY'
import re, sys
work, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
iops = cpu = 0.0
for k in range(1, n + 1):
    out = open(f"{work}/perf.{k}", errors="replace").read().replace("\r", "\n")
    iops += float(re.findall(r"iops average (\d+)", out)[-1])
    cpu += sum(map(float, open(f"{work}/cpu.{k}").read().split()[-2:]))
print(f"iscsi-perf\t{n}\t{iops:.0f}\t{cpu / (iops * secs) * 1e9:.0f}")
PY
}
# run_fb S: the engine with S sessions to the portal, QD 32 per session.
run_fb() {
  local n=$1
  rm -rf "$work/runs"
  $client_cpus /usr/bin/time -f "%U %S" -o "$work/cpu" "$fb" load --engine libiscsi --target "$url" --sessions-per-path "$n" \
    --rw randread --bs 4k --iodepth $((32 * n)) --numjobs 1 --runtime "${secs}s" --metrics 127.0.0.1:0 \
    --out "$work/runs" --quiet >/dev/null
  python3 - "$work/runs" "$work/cpu" "$n" >>"$results" <<'PY'
import glob, json, sys
s = json.load(open(glob.glob(sys.argv[1] + "/*/run.json")[0]))["load_summary"]["read"]
usr, sys_ = map(float, open(sys.argv[2]).read().split()[-2:])
print(f"faultbench\t{sys.argv[3]}\t{s['iops']:.0f}\t{(usr + sys_) / s['ios'] * 1e9:.0f}")
PY
}

echo "4k random read, QD32 per session, ${secs}s per run, ${rounds} rounds alternated, $where, $pinned"
for round in $(seq "$rounds"); do
  # Odd rounds: perf 1, fb 1, perf 2, ...; even rounds the other way round.
  order=()
  for n in "${sessions[@]}"; do
    if [ $((round % 2)) -eq 1 ]; then order+=("perf $n" "fb $n"); else order=("fb $n" "perf $n" "${order[@]}"); fi
  done
  for step in "${order[@]}"; do
    set -- $step
    "run_$1" "$2"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
print(f"{'tool':<12}{'sessions':>9}{'IOPS':>10}{'CPU ns/IO':>11}   (each run, client CPU only)")
for r in rows:
    print(f"{r[0]:<12}{r[1]:>9}{r[2]:>10}{r[3]:>11}")
med = {}
for tool, n in sorted({(r[0], int(r[1])) for r in rows}):
    mine = [r for r in rows if r[0] == tool and int(r[1]) == n]
    med[tool, n] = (statistics.median(float(r[2]) for r in mine), statistics.median(float(r[3]) for r in mine))
limit_n = max((n for t, n in med if t == "iscsi-perf"), key=lambda n: med["iscsi-perf", n][0])
limit = med["iscsi-perf", limit_n][0]
print()
print(f"{'median':<12}{'sessions':>9}{'IOPS':>10}{'CPU ns/IO':>11}{'of limit':>10}")
for (tool, n), (iops, cpu) in sorted(med.items()):
    print(f"{tool:<12}{n:>9}{iops:>10.0f}{cpu:>11.0f}{iops / limit:>10.2f}")
best_n = max((n for t, n in med if t == "faultbench"), key=lambda n: med["faultbench", n][0])
best = med["faultbench", best_n][0]
print()
print(f"the target's limit: {limit:.0f} IOPS (iscsi-perf x{limit_n}); faultbench's best: {best:.0f} IOPS "
      f"({best_n} session(s)), {best / limit:.2f} of the limit (goal >= 0.95): "
      + ("met" if best / limit >= 0.95 else "NOT met"))
PY
