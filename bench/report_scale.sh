#!/usr/bin/env bash
# The report of a long, wide run: how long `faultbench report` takes and how
# long report.html takes to open in headless Chromium for AGENTS agents over
# DURATION seconds (default 128 agents, one hour, 1 s intervals).
#
# Running 128 agents for an hour is the soak's job (bench/soak.sh); this
# bench builds the journal of such a run instead: it makes a real run of two
# agents for a few seconds with a netfilter-free fault-less plan, then
# writes a run directory whose records are that run's records, cloned per
# agent and per interval (agent name, interval, times and seq changed, every
# other field as the agents wrote it), plus each agent's clock events every
# clock_every (60 s) and the real run's events. Then it times:
#   report     `faultbench report RUN --quiet` (all formats), wall and peak RSS
#   html       report.html's size, and the time to the charts drawn in
#              Chromium (body data-ready-ms: from navigation start), the
#              median of three loads
# Targets (issue "scale and soak"): the report of an hour built in < 10 s,
# report.html open in < 3 s.
#
#   bench/report_scale.sh        AGENTS (default 128), DURATION (s, default 3600),
#                                INTERVAL (s, default 1), KEEP=1 keeps the journal
set -euo pipefail
cd "$(dirname "$0")/.."
n=${AGENTS:-128}
secs=${DURATION:-3600}
interval=${INTERVAL:-1}
source bench/lib.sh
command -v chromium > /dev/null || { echo "needs chromium (apt install chromium)" >&2; exit 2; }
bench_work "${WORK:-/var/tmp}/fb-report-scale-XXXXXX"

# 1. The template: a real run of two agents.
make_token "$work/token"
{
  echo "name: report-scale"
  echo "workload: {bs: 4k, rw: randrw, queue_depth: 1, duration: 6s, interval: ${interval}s, direct: false, rate_iops: 100}"
  echo "agent_defaults: {transport: tcp, token_file: $work/token, share: 0.5}"
  echo "agents:"
} > "$work/plan.yaml"
for i in 1 2; do
  tcp_agent "$work/token" "$work/agent-$i" "$work/agent-$i.log"
  echo "  - {name: t$i, host: 127.0.0.1, port: $agent_port, target: {path: $work/file-$i, create_size: 4MiB}}" >> "$work/plan.yaml"
done
sleep 1
"$fb" run "$work/plan.yaml" --out "$work/template" --quiet --skip-preflight > "$work/template.out" 2>&1 ||
  [ $? -eq 1 ] || { echo "the template run failed:" >&2; tail -5 "$work/template.out" >&2; exit 1; }
template=$(ls -d "$work"/template/*/ | head -1)

# 2. The wide, long journal.
run=$work/run
python3 - "$template" "$run" "$n" "$secs" "$interval" <<'PY'
import copy, json, os, sys
src, dst, n, secs, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
os.makedirs(dst)
info = json.load(open(os.path.join(src, "run.json")))
step = int(interval * 1e9)
load_start = info["load_start"]["t_utc_ns"]
samples = [json.loads(l) for l in open(os.path.join(src, "samples.jsonl"))]
# One steady interval of the template agent t1 (not its first, not its last): job 0 and "all".
t1 = [r for r in samples if r.get("agent") == "t1" and not r.get("drain") and r.get("interval", 0) > 0]
tmpl = {str(r["job"]): r for r in t1 if r["interval"] == t1[0]["interval"]}
events = [json.loads(l) for l in open(os.path.join(src, "events.jsonl"))]
clock = next(e for e in events if e["kind"] == "agent_clock")
names = [f"a{i}" for i in range(1, n + 1)]
intervals = int(secs / interval)
def stamp(r, t):
    d = t - r["t_utc_ns"]
    for k in ("first_completion_utc_ns", "last_completion_utc_ns", "agent_first_completion_utc_ns",
              "agent_last_completion_utc_ns", "agent_t_utc_ns"):
        if isinstance(r.get(k), int):
            r[k] += d
    r["t_utc_ns"] = t
    r["t_rel_s"] = round((t - load_start) / 1e9, 6)
with open(os.path.join(dst, "samples.jsonl"), "w") as out:
    for k in range(intervals):
        t = load_start + (k + 1) * step
        for a in names:
            for job in ("0", "all"):
                r = copy.copy(tmpl[job])
                r["agent"], r["interval"], r["agent_seq"] = a, k, 2 * k + (job == "all")
                stamp(r, t)
                r["t"] = ""  # the ISO time is for readers; the report uses t_utc_ns
                out.write(json.dumps(r, separators=(",", ":")) + "\n")
ev = [e for e in events if e["kind"] not in ("agent_clock",) and e.get("attrs", {}).get("agent") not in ("t1", "t2")]
every = 60 * 10**9
for a in names:
    for t in range(load_start, load_start + secs * 10**9, every):
        e = copy.deepcopy(clock)
        e["source"] = a
        e.setdefault("attrs", {})["agent"] = a
        e["agent"] = a
        e["message"] = e["message"].replace("t1", a)
        e["t_utc_ns"] = t
        ev.append(e)
end = load_start + intervals * step
for e in ev:
    if e["kind"] == "load_finished":
        e["t_utc_ns"] = end
ev.sort(key=lambda e: e["t_utc_ns"])
with open(os.path.join(dst, "events.jsonl"), "w") as out:
    for e in ev:
        out.write(json.dumps(e, separators=(",", ":")) + "\n")
open(os.path.join(dst, "stalls.jsonl"), "w").close()
info["agents"] = [dict(info["agents"][0], name=a) for a in names]
info["agent_results"] = [dict(info["agent_results"][0], name=a) for a in names]
info["load"]["duration_s"] = secs
json.dump(info, open(os.path.join(dst, "run.json"), "w"))
for f in ("plan.yaml",):
    if os.path.exists(os.path.join(src, f)):
        open(os.path.join(dst, f), "w").write(open(os.path.join(src, f)).read())
PY
size=$(du -sm "$run" | cut -f1)

# 3. The report, then the page.
/usr/bin/time -f "%e %M" -o "$work/time" "$fb" report "$run" --quiet > "$work/report.out" 2>&1 ||
  [ $? -eq 1 ] || { echo "faultbench report failed:" >&2; tail -5 "$work/report.out" >&2; exit 1; }
read -r report_s report_kib < <(tail -1 "$work/time")  # after "Command exited ..." on exit 1
html_kib=$(( $(stat -c %s "$run/report.html") / 1024 ))
loads=()
for k in 1 2 3; do
  profile=$(mktemp -d "$work/chromium-XXXXXX")
  start=$(date +%s%N)
  dom=$(timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$profile" \
    --window-size=1280,1700 --dump-dom "file://$run/report.html" 2>/dev/null)
  wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  ready=$(sed -n 's/.*<body[^>]*data-ready-ms="\([0-9]*\)".*/\1/p' <<< "$dom" | head -1)
  [ -n "$ready" ] || { echo "report.html: the charts were not drawn (no data-ready-ms)" >&2; exit 1; }
  loads+=("$ready $wall_ms")
done
printf '%s\n' "${loads[@]}" | sort -n | sed -n 2p > "$work/median"
read -r ready_ms wall_ms < "$work/median"
printf '%-6s %8s %8s %10s %11s %9s %12s %14s\n' agents hours journal_MiB report_s report_MiB html_KiB html_ready_ms chromium_wall_ms
printf '%-6s %8.2f %8s %10s %11.1f %9s %12s %14s\n' "$n" "$(python3 -c "print($secs/3600)")" "$size" "$report_s" \
  "$(python3 -c "print($report_kib/1024)")" "$html_kib" "$ready_ms" "$wall_ms"
ok=1
python3 -c "import sys; sys.exit(0 if $report_s < 10 else 1)" || { echo "MISSED: the report took ${report_s} s (target < 10 s)"; ok=0; }
[ "$ready_ms" -lt 3000 ] || { echo "MISSED: report.html drawn after ${ready_ms} ms (target < 3000 ms)"; ok=0; }
[ "$ok" = 1 ] && echo "targets met"
