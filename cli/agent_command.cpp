// faultbench agent --stdio: the load generator as an agent a controller drives
// over ssh (protocol: agent/protocol.h). faultbench agent --boot: resumes the
// run a dead agent process left (agent/run_state.h), run by the systemd unit.
// faultbench agent --listen HOST:PORT --token-file FILE: the same sessions over
// TCP, one forked child per connection (agent/agent_listener.h).
#include <signal.h>
#include <unistd.h>

#include <memory>

#include "agent/agent_listener.h"
#include "agent/agent_server.h"
#include "agent/protocol.h"
#include "cli/commands.h"
#include "core/status.h"

namespace fb::cli {

namespace {

struct AgentFlags {
  bool stdio = false;
  bool boot = false;
  std::string state_dir = kAgentDefaultStateDir;
  std::string attach;
  std::string listen;      // HOST:PORT
  std::string token_file;  // with --listen
};

void OnStopSignal(int) { AgentRequestStop(); }
void OnShutdownSignal(int) { AgentRequestShutdown(); }
void OnListenerSignal(int) { AgentListenerRequestStop(); }

int RunListenCommand(const AgentFlags& f) {
  if (f.stdio || f.boot || !f.attach.empty()) {
    PrintError("agent: --listen goes alone (not with --stdio, --boot or --attach: a hello attaches)");
    return kExitUsage;
  }
  if (f.token_file.empty()) {
    PrintError("agent: --listen needs --token-file FILE (the shared token a controller's hello carries)");
    return kExitUsage;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = OnListenerSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  AgentListenOptions o;
  o.address = f.listen;
  o.token_file = f.token_file;
  o.agent.state_dir = f.state_dir;
  return RunAgentListener(o);
}

int RunAgentCommand(const AgentFlags& f) {
  if (!f.listen.empty()) return RunListenCommand(f);
  if (!f.token_file.empty()) {
    PrintError("agent: --token-file goes with --listen");
    return kExitUsage;
  }
  if (f.stdio == f.boot) {
    PrintError(
        "agent: give --stdio (run it as `ssh host faultbench agent --stdio`), --boot (the systemd unit's "
        "command) or --listen HOST:PORT --token-file FILE");
    return kExitUsage;
  }
  if (f.boot && !f.attach.empty()) {
    PrintError("agent: --attach goes with --stdio, not --boot");
    return kExitUsage;
  }
  // The controller going away (its ssh session closing) must not end the load.
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = OnShutdownSignal;
  sigaction(SIGTERM, &sa, nullptr);
  AgentOptions o;
  o.state_dir = f.state_dir;
  o.attach = f.attach;
  if (f.boot) return RunAgentBoot(o);
  return RunAgent(STDIN_FILENO, STDOUT_FILENO, o);
}

}  // namespace

void RegisterAgentCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<AgentFlags>();
  CLI::App* cmd =
      app.add_subcommand("agent", "Run as a load agent driven by a controller (JSON lines on stdin/stdout)");
  cmd->add_flag("--stdio", f->stdio, "Speak the agent protocol on stdin/stdout (for ssh)");
  cmd->add_flag("--boot", f->boot,
                "Resume the run a dead agent process left in --state-dir, if its planned end is still ahead "
                "(what the systemd unit runs at boot)");
  cmd->add_option("--listen", f->listen,
                  "Serve controllers over TCP on HOST:PORT (one process per connection; with --token-file)");
  cmd->add_option("--token-file", f->token_file,
                  "With --listen: the file holding the shared token (not readable by others)");
  cmd->add_option("--state-dir", f->state_dir, "Where the agent keeps its run journals")
      ->capture_default_str();
  cmd->add_option("--attach", f->attach,
                  "Follow this run (a controller reconnecting after a lost connection)");
  cmd->callback([f, exit_code] { *exit_code = RunAgentCommand(*f); });
}

}  // namespace fb::cli
