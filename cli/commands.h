// Each subcommand lives in its own file and registers itself on the app. The
// callback it installs stores the command's exit code in *exit_code; main()
// returns it. Commands stay thin: parse, then call the libraries.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <optional>

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
void RegisterDiscoverCommand(CLI::App& app, int* exit_code);   // qualify/inventory.h
void RegisterPlanCommand(CLI::App& app, int* exit_code);       // qualify/plan_new.h
void RegisterPreflightCommand(CLI::App& app, int* exit_code);  // qualify/preflight.h
void RegisterDeployCommand(CLI::App& app, int* exit_code);     // qualify/deploy.h

// Prints "faultbench: <message>" to stderr.
void PrintError(const std::string& message);

// Runs `parse` (app.parse(...)) and turns CLI11's outcome into an exit code:
// --help and --version print and give 0; a usage error gives one line naming
// `program`, a pointer to --help and exit 2. Empty when the command line parsed.
inline std::optional<int> ParseCommandLine(CLI::App& app, const char* program,
                                           const std::function<void()>& parse) {
  try {
    parse();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Usage errors: one clear line and exit 2, before anything is touched.
    std::fprintf(stderr, "%s: %s\nRun with --help for usage.\n", program, e.what());
    return 2;  // kExitUsage
  }
  return std::nullopt;
}

}  // namespace fb::cli
