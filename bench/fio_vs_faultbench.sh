#!/usr/bin/env bash
# faultbench (libaio engine, all recording on) against fio on the same loop
# device over a file in /dev/shm: 4k random reads, QD32, 1 and 2 jobs, runs
# alternated A/B three times. Prints IOPS, p99 and CPU per I/O for both, the
# medians and the ratios. Root (losetup). Usage: bench/fio_vs_faultbench.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
rounds=${ROUNDS:-3}
fb=build/cli/faultbench
[ -x "$fb" ] || { echo "build first: cmake --build build" >&2; exit 2; }
for tool in fio losetup python3 /usr/bin/time; do command -v "$tool" >/dev/null || { echo "missing $tool (scripts/setup)" >&2; exit 2; }; done

work=$(mktemp -d /dev/shm/fb-bench-XXXXXX)
loop=""
cleanup() { [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM
truncate -s 1G "$work/disk.img"
loop=$(losetup --find --show "$work/disk.img")
# Fill once so reads hit real pages.
dd if=/dev/urandom of="$loop" bs=1M count=1024 oflag=direct status=none

results="$work/results.tsv"
run_fio() {  # jobs
  /usr/bin/time -f "%U %S" -o "$work/cpu" fio --name=bench --filename="$loop" --ioengine=libaio --direct=1 \
    --rw=randread --bs=4k --iodepth=32 --numjobs="$1" --group_reporting --time_based --runtime="${secs}s" \
    --lat_percentiles=1 --output-format=json --output="$work/fio.json" >/dev/null
  python3 - "$work/fio.json" "$work/cpu" "$1" >>"$results" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]["read"]
usr, sys_ = map(float, open(sys.argv[2]).read().split()[-2:])
ios = j["total_ios"]
p99 = j["lat_ns"]["percentile"]["99.000000"] / 1e3
print(f"fio\t{sys.argv[3]}\t{j['iops']:.0f}\t{p99:.1f}\t{(usr + sys_) / ios * 1e9:.0f}")
PY
}
run_fb() {  # jobs
  rm -rf "$work/runs"
  /usr/bin/time -f "%U %S" -o "$work/cpu" "$fb" load --target "$loop" --rw randread --bs 4k --iodepth 32 \
    --numjobs "$1" --runtime "${secs}s" --out "$work/runs" --quiet >/dev/null
  python3 - "$work/runs" "$work/cpu" "$1" >>"$results" <<'PY'
import glob, json, sys
info = json.load(open(glob.glob(sys.argv[1] + "/*/run.json")[0]))
s = info["load_summary"]["read"]
usr, sys_ = map(float, open(sys.argv[2]).read().split()[-2:])
print(f"faultbench\t{sys.argv[3]}\t{s['iops']:.0f}\t{s['lat_p99_us']:.1f}\t{(usr + sys_) / s['ios'] * 1e9:.0f}")
PY
}

echo "4k random read, QD32, ${secs}s per run, ${rounds} rounds alternated, loop device over /dev/shm"
for jobs in 1 2; do
  for round in $(seq "$rounds"); do
    if [ $((round % 2)) -eq 1 ]; then run_fio "$jobs"; run_fb "$jobs"; else run_fb "$jobs"; run_fio "$jobs"; fi
  done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
print(f"{'tool':<11}{'jobs':>5}{'IOPS':>10}{'p99 us':>9}{'CPU ns/IO':>11}   (each run)")
for r in rows:
    print(f"{r[0]:<11}{r[1]:>5}{r[2]:>10}{r[3]:>9}{r[4]:>11}")
print()
print(f"{'jobs':>4} {'fio IOPS':>10} {'fb IOPS':>10} {'ratio':>6}   {'fio p99':>8} {'fb p99':>8}   {'fio ns/IO':>9} {'fb ns/IO':>9} {'ratio':>6}  (medians)")
for jobs in ("1", "2"):
    med = {}
    for tool in ("fio", "faultbench"):
        sel = [r for r in rows if r[0] == tool and r[1] == jobs]
        med[tool] = [statistics.median(float(r[i]) for r in sel) for i in (2, 3, 4)]
    f, b = med["fio"], med["faultbench"]
    print(f"{jobs:>4} {f[0]:>10.0f} {b[0]:>10.0f} {b[0]/f[0]:>6.2f}   {f[1]:>8.1f} {b[1]:>8.1f}   {f[2]:>9.0f} {b[2]:>9.0f} {b[2]/f[2]:>6.2f}")
PY
