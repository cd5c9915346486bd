#!/usr/bin/env bash
# The cost of the Prometheus exporter: the same load on the same loop device with
# --metrics on (scraped every second) and off, alternated, medians and the ratio.
# Root (losetup). Usage: bench/metrics_overhead.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
rounds=${ROUNDS:-3}
fb=build/cli/faultbench
[ -x "$fb" ] || { echo "build first: cmake --build build" >&2; exit 2; }
work=$(mktemp -d /dev/shm/fb-bench-XXXXXX)
loop=""
scraper=""
cleanup() {
  [ -n "$scraper" ] && kill "$scraper" 2>/dev/null
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
truncate -s 1G "$work/disk.img"
loop=$(losetup --find --show "$work/disk.img")
dd if=/dev/urandom of="$loop" bs=1M count=1024 oflag=direct status=none
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

run() {  # on|off
  rm -rf "$work/runs"
  local extra=()
  [ "$1" = on ] && extra=(--metrics "127.0.0.1:$port")
  # One long-lived scraper in both modes (as a Prometheus server would be), so
  # only the exporter's own cost differs: a scrape every second; with the
  # exporter off it finds the port closed.
  python3 - "$port" "$((secs + 5))" <<'PY' &
import sys, time, urllib.request as u
port, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    time.sleep(1)
    try:
        u.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read()
    except Exception:
        pass
PY
  scraper=$!
  /usr/bin/time -f "%U %S" -o "$work/cpu" "$fb" load --target "$loop" --rw randrw --bs 4k --iodepth 32 --numjobs 2 \
    --runtime "${secs}s" --out "$work/runs" --quiet "${extra[@]}" >/dev/null &
  local timer=$!
  if [ "$1" = on ]; then
    # The exporter's own threads (HTTP server, gauge ticker) against the whole
    # process, read a second before the load ends: a share the machine's noise
    # does not blur. (Its per-interval counter updates run on the sampler thread
    # and are not in it.)
    sleep $((secs - 1))
    local pid
    pid=$(pgrep -P "$timer" -x faultbench | head -1)
    python3 - "$pid" >>"$work/threads" <<'PY'
import glob, sys
pid = sys.argv[1]
def ticks(stat):
    f = open(stat).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
total = ticks(f"/proc/{pid}/stat")
exp = sum(ticks(t + "/stat") for t in glob.glob(f"/proc/{pid}/task/*")
          if open(t + "/comm").read().strip() in ("fb-metrics", "civetweb-worker", "civetweb-master"))
print(exp, total)
PY
  fi
  wait "$timer"
  [ -n "$scraper" ] && { kill "$scraper" 2>/dev/null; wait "$scraper" 2>/dev/null || true; scraper=""; }
  python3 - "$work/runs" "$1" "$work/cpu" >>"$work/results" <<'PY'
import glob, json, sys
s = json.load(open(glob.glob(sys.argv[1] + "/*/run.json")[0]))["load_summary"]
usr, sys_ = map(float, open(sys.argv[3]).read().split()[-2:])
ios = s["read"]["ios"] + s["write"]["ios"]
print(sys.argv[2], s["read"]["iops"] + s["write"]["iops"], (usr + sys_) / ios * 1e9)
PY
}
echo "4k randrw 70/30, QD32, 2 jobs, ${secs}s per run, exporter off vs on (one scraper process, every 1 s, in both), ${rounds} rounds alternated"
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then run off; run on; else run on; run off; fi
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for r in rows: print(f"  {r[0]:>3}  {float(r[1]):>10.0f} IOPS  {float(r[2]):>6.0f} ns CPU/IO")
med = lambda mode, i: statistics.median(float(r[i]) for r in rows if r[0] == mode)
off, on = med("off", 1), med("on", 1)
print(f"median IOPS off {off:.0f}  on {on:.0f}  on/off {on/off:.4f}  cost {(1 - on/off) * 100:+.2f}%")
coff, con = med("off", 2), med("on", 2)
print(f"median CPU per I/O (faultbench process) off {coff:.0f} ns  on {con:.0f} ns  cost {(con / coff - 1) * 100:+.2f}%")
PY
python3 - "$work/threads" <<'PY'
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
exp, total = sum(r[0] for r in rows), sum(r[1] for r in rows)
print(f"exporter threads: {exp} of {total} CPU ticks of the process over the 'on' runs = {100 * exp / max(total, 1):.3f}%")
PY
