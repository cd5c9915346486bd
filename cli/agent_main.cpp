// faultbench-agent: the agent alone, for the test VMs (package faultbench-agent):
// `faultbench-agent --stdio | --boot | --listen ...` is `faultbench agent ...`
// (cli/agent_command.cpp), without the controller, the lab and the reports.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/status.h"
#include "core/version.h"

namespace fb::cli {
void PrintError(const std::string& message) {
  std::fprintf(stderr, "faultbench-agent: %s\n", message.c_str());
}
}  // namespace fb::cli

int main(int argc, char** argv) {
  CLI::App app{"faultbench-agent: the load agent a faultbench controller drives (agent/README.md)"};
  app.set_version_flag("--version", std::string("faultbench-agent ") + fb::kVersion);
  int exit_code = fb::kExitOk;
  fb::cli::RegisterAgentCommand(app, &exit_code);
  app.require_subcommand(1);
  // Its help names this binary, not the subcommand it runs.
  app.get_subcommand("agent")->name("faultbench-agent");
  // Its flags are the `agent` command's: the subcommand's name is implied.
  std::vector<std::string> args;
  for (int i = argc - 1; i >= 1; --i) args.emplace_back(argv[i]);
  bool version = argc == 2 && std::string(argv[1]) == "--version";
  if (!version) args.emplace_back("faultbench-agent");
  if (auto rc = fb::cli::ParseCommandLine(app, "faultbench-agent", [&] { app.parse(args); })) return *rc;
  return exit_code;
}
