// Each subcommand lives in its own file and registers itself on the app. The
// callback it installs stores the command's exit code in *exit_code; main()
// returns it. Commands stay thin: parse, then call the libraries.
#pragma once

#include <CLI/CLI.hpp>

namespace fb::cli {

void RegisterLoadCommand(CLI::App& app, int* exit_code);
void RegisterLabCommand(CLI::App& app, int* exit_code);
void RegisterValidateCommand(CLI::App& app, int* exit_code);
void RegisterRunCommand(CLI::App& app, int* exit_code);
void RegisterFaultsCommand(CLI::App& app, int* exit_code);
void RegisterReportCommand(CLI::App& app, int* exit_code);  // report and compare
void RegisterVerifyCommand(CLI::App& app, int* exit_code);
void RegisterWatchCommand(CLI::App& app, int* exit_code);
void RegisterAgentCommand(CLI::App& app, int* exit_code);
void RegisterDiscoverCommand(CLI::App& app, int* exit_code);  // qualify/inventory.h
void RegisterPlanCommand(CLI::App& app, int* exit_code);      // qualify/plan_new.h
void RegisterPreflightCommand(CLI::App& app, int* exit_code); // qualify/preflight.h
void RegisterDeployCommand(CLI::App& app, int* exit_code);    // qualify/deploy.h

// Prints "faultbench: <message>" to stderr.
void PrintError(const std::string& message);

}  // namespace fb::cli
