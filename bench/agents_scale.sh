#!/usr/bin/env bash
# How one controller holds up as the agents grow: N real `faultbench-agent
# --listen` processes on loopback TCP, each loading its own small file at a
# modest rate, driven by one `faultbench run` with the exporter on. Per N it
# prints:
#   skew      max - min of the agents' load clock starts (run.json agents[].start_skew_ms):
#             every agent prepares its load, then all start at one time (`go`)
#   first_io  max - min of the agents' first I/O completions (their first samples)
#   cpu       the controller's CPU (user + sys) over its wall time, % of one core
#   rss       the controller's peak RSS
#   journal   the run directory's bytes per agent-minute
#   report    from the last agent's `finished` to report.json written
#   scrape    median time of a /metrics scrape during the run (wall, the
#             scraper's view), the CPU the exporter's HTTP threads spent per
#             scrape (over all of them), and the scrape's size
# and the cost per agent against the smallest N (cpu % / N, rss / N, scrape CPU / N).
# Not part of the tests: the machine is noisy, read it side by side.
#
# TRANSPORT=ssh runs each agent as `faultbench-agent --stdio` over ssh to one
# throwaway sshd on 127.0.0.1 instead (needs root and openssh-server; an ssh
# process per agent on the controller's side, so use smaller N).
#
#   bench/agents_scale.sh [N ...]        default 8 32 128; DURATION (s, default 30), RATE per agent (default 50),
#                                        TRANSPORT (tcp or ssh, default tcp), KEEP=1 keeps the work directory
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(8 32 128)
secs=${DURATION:-30}
rate=${RATE:-50}
source bench/lib.sh
bench_work /dev/shm/fb-scale-XXXXXX
transport=${TRANSPORT:-tcp}
if [ "$transport" = ssh ]; then
  [ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ] || { echo "TRANSPORT=ssh needs root and /usr/sbin/sshd" >&2; exit 2; }
  sshd_dir=$work/sshd
  mkdir -p "$sshd_dir" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -C faultbench-bench -f "$sshd_dir/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C faultbench-bench -f "$sshd_dir/id_ed25519"
  cp "$sshd_dir/id_ed25519.pub" "$sshd_dir/authorized_keys"
  ssh_port=$(free_port)
  echo "[127.0.0.1]:$ssh_port $(cat "$sshd_dir/host_ed25519.pub")" > "$sshd_dir/known_hosts"
  printf '%s\n' "Port $ssh_port" "ListenAddress 127.0.0.1" "HostKey $sshd_dir/host_ed25519" \
    "AuthorizedKeysFile $sshd_dir/authorized_keys" "PidFile $sshd_dir/sshd.pid" "StrictModes no" \
    "PasswordAuthentication no" "KbdInteractiveAuthentication no" "UsePAM no" \
    "PermitRootLogin prohibit-password" "MaxStartups 1000" "LogLevel ERROR" > "$sshd_dir/sshd_config"
  /usr/sbin/sshd -D -e -f "$sshd_dir/sshd_config" 2> "$sshd_dir/sshd.log" &
  daemons+=($!)
  for _ in $(seq 1 100); do (echo > "/dev/tcp/127.0.0.1/$ssh_port") 2>/dev/null && break; sleep 0.05; done
elif [ "$transport" != tcp ]; then
  echo "TRANSPORT must be tcp or ssh" >&2; exit 2
fi

printf '%-5s %9s %11s %7s %9s %14s %9s %9s %10s %10s\n' agents skew_ms first_io_ms cpu_% rss_MiB journal_KiB/am report_ms scrape_ms scrape_cpu scrape_KiB
base_cpu="" base_rss=""
for n in "${counts[@]}"; do
  dir=$work/n$n
  mkdir -p "$dir"
  make_token "$dir/token"
  plan=$dir/plan.yaml
  {
    echo "name: scale-$n"
    echo "workload: {bs: 4k, rw: randrw, queue_depth: 1, duration: ${secs}s, interval: 1s, direct: false, rate_iops: $((n * rate))}"
    if [ "$transport" = ssh ]; then
      echo "agent_defaults: {user: root, ssh_port: $ssh_port, identity_file: $sshd_dir/id_ed25519, known_hosts: $sshd_dir/known_hosts, command: $agent --stdio, clock_every: 60s, share: $(python3 -c "print(1/$n)")}"
    else
      echo "agent_defaults: {transport: tcp, token_file: $dir/token, clock_every: 60s, share: $(python3 -c "print(1/$n)")}"
    fi
    echo "agents:"
  } > "$plan"
  pids=()
  for i in $(seq 1 "$n"); do
    if [ "$transport" = ssh ]; then
      echo "  - {name: a$i, host: 127.0.0.1, state_dir: $dir/agent-$i, target: {path: $dir/file-$i, create_size: 4MiB}}" >> "$plan"
      continue
    fi
    tcp_agent "$dir/token" "$dir/agent-$i" "$dir/agent-$i.log"
    echo "  - {name: a$i, host: 127.0.0.1, port: $agent_port, target: {path: $dir/file-$i, create_size: 4MiB}}" >> "$plan"
  done
  sleep 1  # the listeners bind
  mport=$(free_port)
  /usr/bin/time -f "%U %S %e %M" -o "$dir/time" "$fb" run "$plan" --out "$dir/runs" --quiet \
    --skip-preflight --metrics "127.0.0.1:$mport" > "$dir/run.out" 2>&1 &
  runner=$!
  # Scrape the exporter every second while the load runs: each scrape's wall
  # time and size, then the CPU the exporter's HTTP threads (civetweb-*, where
  # a scrape is collected and written) used per scrape over all of them.
  python3 - "$mport" "$secs" "$runner" > "$dir/scrapes" <<'PY' &
import os, sys, time, urllib.request as u
port, n, timer = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def exporter_cpu_ns():  # schedstat: nanoseconds on a CPU, per thread
    try:
        kids = open(f"/proc/{timer}/task/{timer}/children").read().split()
        ns = 0
        for t in os.listdir(f"/proc/{kids[0]}/task"):
            if open(f"/proc/{kids[0]}/task/{t}/comm").read().startswith("civetweb"):
                ns += int(open(f"/proc/{kids[0]}/task/{t}/schedstat").read().split()[0])
        return ns
    except (OSError, IndexError, ValueError):
        return None
time.sleep(3)
before, count = exporter_cpu_ns(), 0
for _ in range(max(1, n - 4)):
    t = time.monotonic()
    try:
        size = len(u.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read())
        print(f"{(time.monotonic() - t) * 1e3} {size}")
        count += 1
    except Exception:
        pass
    time.sleep(1)
after = exporter_cpu_ns()
if before is not None and after is not None and count:
    print(f"cpu {(after - before) / 1e6 / count}")
PY
  scraper=$!
  rc=0
  wait "$runner" || rc=$?
  wait "$scraper" || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$rc" -gt 1 ]; then echo "N=$n: the run failed (exit $rc), see $dir/run.out:" >&2; tail -5 "$dir/run.out" >&2; continue; fi
  run_dir=$(ls -d "$dir"/runs/*/ | head -1)
  read -r user sys wall rss_kb < <(tail -1 "$dir/time")  # after "Command exited ..." on exit 1
  python3 - "$n" "$secs" "$run_dir" "$user" "$sys" "$wall" "$rss_kb" "$dir/scrapes" "$base_cpu" "$base_rss" <<'PY'
import json, os, statistics, sys
n, secs, run_dir = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
user, sys_, wall, rss_kb = map(float, sys.argv[4:8])
lines = [l.split() for l in open(sys.argv[8]) if l.strip()]
scrapes = [float(l[0]) for l in lines if l[0] != "cpu"]
scrape_kib = statistics.median(float(l[1]) for l in lines if l[0] != "cpu") / 1024 if scrapes else float("nan")
scrape_cpu = next((float(l[1]) for l in lines if l[0] == "cpu"), float("nan"))
run = json.load(open(os.path.join(run_dir, "run.json")))
skews = [a.get("start_skew_ms", 0) for a in run.get("agents", [])]
skew = max(skews) - min(skews) if skews else float("nan")
first = {}
for line in open(os.path.join(run_dir, "samples.jsonl")):
    r = json.loads(line)
    a, t = r.get("agent"), r.get("first_completion_utc_ns")
    if a and t and r.get("interval") == 0:
        first[a] = min(first.get(a, t), t)
first_io = (max(first.values()) - min(first.values())) / 1e6 if len(first) == n else float("nan")
size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(run_dir) for f in fs)
last = 0
for line in open(os.path.join(run_dir, "events.jsonl")):
    e = json.loads(line)
    if e.get("kind") in ("load_finished",) and e.get("source") == "runner":
        last = max(last, e["t_utc_ns"])
report_ms = (os.stat(os.path.join(run_dir, "report.json")).st_mtime_ns - last) / 1e6 if last else float("nan")
cpu = (user + sys_) / wall * 100
print(f"{n:<5d} {skew:9.1f} {first_io:11.1f} {cpu:7.1f} {rss_kb / 1024:9.1f} {size / 1024 / (n * secs / 60):14.1f} "
      f"{report_ms:9.0f} {statistics.median(scrapes) if scrapes else float('nan'):9.2f} {scrape_cpu:10.2f} {scrape_kib:10.0f}")
open(os.path.join(os.path.dirname(run_dir.rstrip('/')), "..", "cost"), "w").write(f"{cpu / n} {rss_kb / n} {scrape_cpu / n}\n")
PY
  read -r cpu_per rss_per scrape_per < "$dir/cost"
  if [ -z "$base_cpu" ]; then
    base_cpu=$cpu_per base_rss=$rss_per base_scrape=$scrape_per
  else
    python3 -c "print(f'      cost per agent vs the first N: cpu x{$cpu_per / $base_cpu:.2f}, rss x{$rss_per / $base_rss:.2f}, scrape cpu x{float(\"$scrape_per\") / (float(\"$base_scrape\") or float(\"nan\")):.2f}')"
  fi
done
