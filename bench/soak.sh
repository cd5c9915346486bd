#!/usr/bin/env bash
# Soak: one local load plus AGENTS (default 8) `faultbench-agent --listen`
# processes on loopback TCP, driven by one `faultbench run` for DURATION
# (default 3600 s) at 100 ms intervals, the exporter on and scraped every 10 s.
# Every minute it samples the RSS (VmRSS) and the open file descriptors of each
# faultbench process: the controller, each agent listener and the session
# process it forked for the run. At the end it prints, per kind of process, the
# RSS growth from minute 5 to the end and the descriptor growth from minute 1 to
# the end, then the time from the load's end to report.json and the time of a
# second `faultbench report` of the whole run and its peak RSS. Exit 1 when a target is missed
# (RSS growth >= 5 %, any descriptor growth, the report >= 10 s).
# Not part of the tests: an hour, and the machine is noisy.
#
#   bench/soak.sh          DURATION (s, default 3600), AGENTS (default 8),
#                          RATE per load (IOPS, default 200), WORK (default /var/tmp:
#                          the journal of an hour is about 1 GiB), KEEP=1 keeps it
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${DURATION:-3600}
n=${AGENTS:-8}
rate=${RATE:-200}
source bench/lib.sh
[ "$secs" -ge 120 ] || { echo "DURATION must be at least 120 s (the growth counts from minute 5)" >&2; exit 2; }
bench_work "${WORK:-/var/tmp}/fb-soak-XXXXXX"

make_token "$work/token"
plan=$work/plan.yaml
{
  echo "name: soak"
  echo "target: {path: $work/local, create_size: 64MiB}"
  echo "workload: {bs: 4k, rw: randrw, queue_depth: 4, duration: ${secs}s, interval: 100ms, direct: false, rate_iops: $rate}"
  echo "agent_defaults: {transport: tcp, token_file: $work/token, clock_every: 60s}"
  echo "agents:"
} > "$plan"
for i in $(seq 1 "$n"); do
  tcp_agent "$work/token" "$work/agent-$i" "$work/agent-$i.log"
  echo "  - {name: a$i, host: 127.0.0.1, port: $agent_port, target: {path: $work/file-$i, create_size: 16MiB}}" >> "$plan"
done
listeners=("${pids[@]}")
sleep 1  # the listeners bind
mport=$(free_port)
"$fb" run "$plan" --out "$work/runs" --quiet --skip-preflight --metrics "127.0.0.1:$mport" > "$work/run.out" 2>&1 &
runner=$!
pids+=($runner)
( while kill -0 "$runner" 2>/dev/null; do
    python3 -c "import urllib.request as u; u.urlopen(\"http://127.0.0.1:$mport/metrics\", timeout=5).read()" 2>/dev/null || true
    sleep 10
  done ) &
pids+=($!)

# kind pid -> "rss_kib fds" of that process, or nothing once it is gone.
sample() {
  local rss fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 0
  fds=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
  [ -n "$rss" ] && echo "$rss $fds"
}
samples=$work/samples
echo "minute  per kind of process: count, summed RSS and descriptors"
# While the load runs (the last sample a minute before its end: after it the
# controller builds the report, measured on its own below).
for ((m = 1; m * 60 < secs; m++)); do
  sleep 60 & wait $! || true
  kill -0 "$runner" 2>/dev/null || break
  if s=$(sample "$runner"); [ -n "$s" ]; then echo "$m controller $runner $s" >> "$samples"; fi
  for l in "${listeners[@]}"; do
    if s=$(sample "$l"); [ -n "$s" ]; then echo "$m listener $l $s" >> "$samples"; fi
    for c in $(ps -o pid= --ppid "$l" 2>/dev/null); do
      if s=$(sample "$c"); [ -n "$s" ]; then echo "$m session $c $s" >> "$samples"; fi
    done
  done
  awk -v m="$m" '$1 == m { rss[$2] += $4; fds[$2] += $5; cnt[$2]++ }
    END { printf "%-6s", m
          for (k in rss) printf "  %s x%d: %d KiB %d fds", k, cnt[k], rss[k], fds[k]
          printf "\n" }' "$samples"
done
rc=0
wait "$runner" || rc=$?
[ "$rc" -le 1 ] || { echo "the run failed (exit $rc), see $work/run.out:" >&2; tail -5 "$work/run.out" >&2; exit 1; }
run_dir=$(ls -d "$work"/runs/*/ | head -1)
# (exit 1 is a verdict, not a failure: /usr/bin/time then writes a line first)
/usr/bin/time -f "%e %M" -o "$work/report-time" "$fb" report "$run_dir" --out "$work/report-again" --quiet || true
read -r rebuild rebuild_kib < <(tail -1 "$work/report-time")
python3 - "$samples" "$run_dir" "$rebuild" "$n" "$secs" "$rebuild_kib" <<'PY'
import collections, json, os, sys
path, run_dir, rebuild, n, secs = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rebuild_mib = int(sys.argv[6]) / 1024
by = collections.defaultdict(dict)  # (kind, pid) -> minute -> (rss, fds)
for line in open(path):
    m, kind, pid, rss, fds = line.split()
    by[(kind, pid)][int(m)] = (int(rss), int(fds))
ok = True
print()
print(f"{'process':<10} {'count':>5} {'rss@5_KiB':>10} {'rss_end_KiB':>12} {'rss_growth':>10} {'fds@1':>6} {'fds_end':>7}")
for kind in ("controller", "listener", "session"):
    procs = [v for (k, _), v in by.items() if k == kind and v]
    if not procs:
        continue
    worst_growth, worst = -1.0, None
    fd_growth = 0
    for v in procs:
        ms = sorted(v)
        base = v[5] if 5 in v else v[ms[0]]
        end = v[ms[-1]]
        growth = (end[0] - base[0]) / base[0] if base[0] else 0.0
        if growth > worst_growth:
            worst_growth, worst = growth, (base, end, v[ms[0]])
        fd_growth = max(fd_growth, end[1] - v[ms[0]][1])
    base, end, first = worst
    print(f"{kind:<10} {len(procs):5d} {base[0]:10d} {end[0]:12d} {worst_growth * 100:9.1f}% {first[1]:6d} {end[1]:7d}")
    if worst_growth >= 0.05 or fd_growth > 0:
        ok = False
last = 0
for line in open(os.path.join(run_dir, "events.jsonl")):
    e = json.loads(line)
    if e.get("kind") == "load_finished" and e.get("source") in ("runner", "loadgen"):
        last = max(last, e["t_utc_ns"])
report_s = (os.stat(os.path.join(run_dir, "report.json")).st_mtime_ns - last) / 1e9 if last else float("nan")
size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(run_dir) for f in fs)
print(f"\njournal {size / 2**20:.0f} MiB for {n} agents + 1 local load over {secs} s")
print(f"report after the load's end: {report_s:.2f} s; faultbench report of the run again: {rebuild:.2f} s, "
      f"peak RSS {rebuild_mib:.0f} MiB")
if not report_s < 10 or rebuild >= 10:
    ok = False
print("targets met" if ok else "TARGET MISSED (RSS growth < 5 %, no descriptor growth, report < 10 s)")
sys.exit(0 if ok else 1)
PY
