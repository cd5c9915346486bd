# What the bench scripts share (sourced from the project root): the binaries,
# a work directory removed at exit unless KEEP=1 (the processes in `pids` and
# `daemons` killed first), a free loopback port, a token file, a TCP agent.
fb=$PWD/build/cli/faultbench
agent=$PWD/build/cli/faultbench-agent
[ -x "$fb" ] && [ -x "$agent" ] || { echo "build first: cmake --build build" >&2; exit 2; }
pids=()
daemons=()
work=""

bench_cleanup() {
  for p in "${pids[@]}" "${daemons[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}" "${daemons[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$work" ] || return 0
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}

# bench_work TEMPLATE: the work directory (mktemp -d TEMPLATE) in $work.
bench_work() {
  work=$(mktemp -d "$1")
  trap bench_cleanup EXIT INT TERM
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# make_token FILE: a random agent token, readable by its owner only.
make_token() {
  (umask 077 && head -c 32 /dev/urandom | base64 > "$1")
}

# tcp_agent TOKEN STATE_DIR LOG: a `faultbench-agent --listen` on a free
# loopback port, its port in $agent_port, its pid added to pids.
tcp_agent() {
  agent_port=$(free_port)
  "$agent" --listen "127.0.0.1:$agent_port" --token-file "$1" --state-dir "$2" > "$3" 2>&1 &
  pids+=($!)
}
