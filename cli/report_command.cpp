// faultbench report RUN_DIR [--format summary|json|junit|html|all]: rebuilds the
// reports from the run's journal alone and prints the summary.
// faultbench compare RUN_A RUN_B: two runs' fault metrics side by side.
// Exit: 0 pass, 1 an expectation failed, 2 bad input (not a run directory, bad
// flag), 3 the run did not complete or a report could not be written.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "core/units.h"
#include "reports/correlator.h"
#include "reports/report.h"

namespace fb::cli {

namespace {

struct ReportFlags {
  std::string run_dir, format = "all", out_dir;
  bool quiet = false;
  reports::AnalyzeOptions analyze;
  std::string trickle_share = "10%";
};

int RunReport(const ReportFlags& f) {
  auto formats = reports::ParseFormats(f.format);
  if (!formats.ok()) {
    PrintError(formats.status().message());
    return kExitUsage;
  }
  reports::AnalyzeOptions opt = f.analyze;
  auto share = ParsePercent(f.trickle_share);
  if (!share.ok() || *share < 0 || *share > 1) {
    PrintError("--trickle-share \"" + f.trickle_share +
               "\": expected a share of the normal rate, 0% to 100%");
    return kExitUsage;
  }
  opt.episodes.trickle_share = *share;
  auto a = reports::AnalyzeRun(f.run_dir, opt);
  if (!a.ok()) {
    PrintError(a.status().message());
    return a.status().exit_code();
  }
  std::string out = f.out_dir.empty() ? f.run_dir : f.out_dir;
  if (!f.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) {
      PrintError("--out " + out + ": cannot create it: " + ec.message());
      return kExitUsage;
    }
  }
  Status st = reports::WriteReports(*a, out, *formats);
  if (!st.ok()) {
    PrintError(st.message());
    return kExitRunFailed;
  }
  if (!f.quiet) {
    std::fputs(reports::FormatSummary(*a, isatty(fileno(stdout))).c_str(), stdout);
    for (auto fmt : *formats) std::printf("wrote %s/%s\n", out.c_str(), reports::FileNameOf(fmt));
  }
  return a->ExitCode();
}

}  // namespace

void RegisterReportCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ReportFlags>();
  CLI::App* cmd = app.add_subcommand("report", "Rebuild a run's reports from its journal");
  cmd->add_option("run_dir", flags->run_dir, "Run directory (runs/<name>-<time>)")->required();
  cmd->add_option("--format", flags->format, "summary, json, junit, html or all")->capture_default_str();
  cmd->add_option("--out", flags->out_dir,
                  "Write the reports here instead of the run directory (created if missing)");
  cmd->add_flag("-q,--quiet", flags->quiet, "Do not print the summary");
  cmd->add_option("--trickle-completions", flags->analyze.episodes.trickle_completions,
                  "Two stalls of a job separated by fewer completions than this (within the stall threshold) "
                  "are one episode")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--trickle-share", flags->trickle_share,
                  "... or separated by less than this share of the job's normal completion rate")
      ->capture_default_str();
  cmd->callback([flags, exit_code] { *exit_code = RunReport(*flags); });

  auto runs = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* cmp = app.add_subcommand("compare", "Two runs' fault metrics side by side");
  cmp->add_option("run_a", runs->first, "First run directory")->required();
  cmp->add_option("run_b", runs->second, "Second run directory")->required();
  cmp->callback([runs, exit_code] {
    auto a = reports::AnalyzeRun(runs->first);
    auto b = a.ok() ? reports::AnalyzeRun(runs->second) : a;
    if (!a.ok() || !b.ok()) {
      const Status& st = !a.ok() ? a.status() : b.status();
      PrintError(st.message());
      *exit_code = st.exit_code();
      return;
    }
    std::fputs(reports::FormatCompare(*a, *b).c_str(), stdout);
    *exit_code = kExitOk;
  });
}

}  // namespace fb::cli
