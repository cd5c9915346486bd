#!/usr/bin/env bash
# The cost of data verification (--verify: every written block stamped with a
# CRC-32C header, every read checked, the per-block generation map kept): the same
# 4k randrw 70/30 load on the same loop device over a file in /dev/shm with
# verify on and off, alternated, medians and the ratio. The read-back after the
# run is not in the measured time (it is reported apart). Root (losetup).
# Usage: bench/verify_overhead.sh [SECONDS]   (ROUNDS=3, JOBS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
rounds=${ROUNDS:-3}
jobs=${JOBS:-2}
fb=build/cli/faultbench
[ -x "$fb" ] || { echo "build first: cmake --build build" >&2; exit 2; }
work=$(mktemp -d /dev/shm/fb-bench-XXXXXX)
loop=""
cleanup() {
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
truncate -s 1G "$work/disk.img"
loop=$(losetup --find --show "$work/disk.img")
dd if=/dev/urandom of="$loop" bs=1M count=1024 oflag=direct status=none

run() {  # on|off
  rm -rf "$work/runs"
  local extra=()
  [ "$1" = on ] && extra=(--verify)
  "$fb" load --target "$loop" --rw randrw --rwmixread 70 --bs 4k --iodepth 32 --numjobs "$jobs" --runtime "${secs}s" \
    --allow-destroy --out "$work/runs" --quiet "${extra[@]}" >/dev/null || [ $? -eq 1 ]
  python3 - "$work/runs" "$1" >>"$work/results" <<'PY'
import glob, json, sys
s = json.load(open(glob.glob(sys.argv[1] + "/*/run.json")[0]))["load_summary"]
v = s.get("verify", {})
findings = sum(v.get(k, 0) for k in ("lost_writes", "misdirected_writes", "corrupt_blocks", "phantom_writes"))
print(sys.argv[2], s["read"]["iops"] + s["write"]["iops"], s["read"]["lat_p99_us"], findings)
PY
}
echo "4k randrw 70/30, QD32, ${jobs} jobs, ${secs}s per run, verify off vs on, ${rounds} rounds alternated, loop device over /dev/shm"
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then run off; run on; else run on; run off; fi
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for r in rows: print(f"  {r[0]:>3}  {float(r[1]):>10.0f} IOPS  read p99 {float(r[2]):>7.1f} us  findings {r[3]}")
off = statistics.median(float(r[1]) for r in rows if r[0] == "off")
on = statistics.median(float(r[1]) for r in rows if r[0] == "on")
print(f"median off {off:.0f}  on {on:.0f}  on/off {on/off:.4f}  cost {(1 - on/off) * 100:+.2f}%")
PY
