// `faultbench agent --listen HOST:PORT --token-file FILE`: the agent's TCP
// transport (agent/protocol.h), beside ssh. A long-lived listener; every
// accepted connection is served by a forked child running exactly the session
// `agent --stdio` runs (RunAgent on the socket), which first requires a
// `hello` carrying the file's token. A session's load outlives its connection
// as under ssh; the listener reaps its children, and SIGTERM/SIGINT to it only
// stop listening (the children keep their loads).
#pragma once

#include <string>

#include "agent/agent_server.h"
#include "core/status.h"

namespace fb {

struct AgentListenOptions {
  std::string address;     // "HOST:PORT" (IPv4 address or name; PORT 0 = any free one)
  std::string token_file;  // agent/agent_token.h
  AgentOptions agent;      // state_dir for every session (token is filled in from token_file)
};

// Splits "HOST:PORT" ("[v6]:PORT" too). Errors name the text.
Status ParseHostPort(const std::string& text, std::string* host, int* port);

// Returns a process exit code: kExitUsage for a bad address or token file (the
// path named on stderr), kExitRunFailed when the address cannot be bound,
// kExitOk after a stop request. Prints "faultbench: agent: listening on
// HOST:PORT" (the bound port) to stderr once it accepts.
int RunAgentListener(const AgentListenOptions& options);

// Async-signal-safe: the listener stops accepting and returns.
void AgentListenerRequestStop();

}  // namespace fb
