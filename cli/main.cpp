#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "core/status.h"
#include "core/version.h"

namespace fb::cli {
void PrintError(const std::string& message) { std::fprintf(stderr, "faultbench: %s\n", message.c_str()); }
}  // namespace fb::cli

int main(int argc, char** argv) {
  CLI::App app{"faultbench: storage resilience test harness"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("faultbench ") + fb::kVersion);
  int exit_code = fb::kExitOk;
  fb::cli::RegisterLoadCommand(app, &exit_code);
  fb::cli::RegisterLabCommand(app, &exit_code);
  fb::cli::RegisterValidateCommand(app, &exit_code);
  fb::cli::RegisterRunCommand(app, &exit_code);
  fb::cli::RegisterFaultsCommand(app, &exit_code);
  fb::cli::RegisterReportCommand(app, &exit_code);
  fb::cli::RegisterVerifyCommand(app, &exit_code);
  fb::cli::RegisterWatchCommand(app, &exit_code);
  fb::cli::RegisterAgentCommand(app, &exit_code);
  fb::cli::RegisterDiscoverCommand(app, &exit_code);
  fb::cli::RegisterPlanCommand(app, &exit_code);
  fb::cli::RegisterPreflightCommand(app, &exit_code);
  fb::cli::RegisterDeployCommand(app, &exit_code);
  if (auto rc = fb::cli::ParseCommandLine(app, "faultbench", [&] { app.parse(argc, argv); })) return *rc;
  return exit_code;
}
