// The agent side of agent/protocol.h: reads requests from `in_fd`, writes
// replies and records to `out_fd`, runs at most one load (a LoadGenerator with
// a JournalSink into a run directory under state_dir, and one thread that turns
// the journal's new lines into records.jsonl) and streams records from it.
// Returns when `in_fd` reaches EOF and the load it started (if any) has ended.
#pragma once

#include <string>

#include "agent/protocol.h"

namespace fb {

struct AgentOptions {
  std::string state_dir = kAgentDefaultStateDir;  // run directories go here
  std::string attach;  // run id (journal dir name, or the name the controller gave) to follow
  // Non-empty (a TCP session, `agent --listen`): the first message must be a
  // `hello` whose "token" equals this; anything else is answered with an
  // `error` and the session ends.
  std::string token;
};

// Returns a process exit code (kExitOk, or kExitUsage when --attach names no run).
int RunAgent(int in_fd, int out_fd, const AgentOptions& options);

// `faultbench agent --boot`: in options.state_dir, every run whose owner is gone
// (its owner.lock can be taken) and whose planned end has passed is marked ended
// (`finished`, status "interrupted"); the newest one still due is resumed in
// this process as a new segment (agent/run_state.h) until its planned end.
// Returns a process exit code (kExitOk also when there was nothing to resume).
int RunAgentBoot(const AgentOptions& options);

// Async-signal-safe: asks the load this process runs, if any, to stop; the run
// ends (`finished`, status "interrupted"). SIGINT.
void AgentRequestStop();
// Async-signal-safe: an orderly shutdown (SIGTERM, as systemd sends when the VM
// shuts down): the load stops, the event `agent_shutdown` is recorded and
// streamed, but the run stays open (no `finished`, agent_state.json "running"),
// so `agent --boot` continues it until its planned end; the process exits once
// the records are sent.
void AgentRequestShutdown();

}  // namespace fb
