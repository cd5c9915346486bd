// faultbench verify: check a target against the ack log of a run whose
// generator died (kill -9, a crashed host, an HA restart).
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/units.h"
#include "loadgen/offline_verify.h"

namespace fb::cli {

namespace {

struct VerifyFlags {
  std::string target, ack_log;
  int direct = 1;
  int show = 20;
};

int RunVerify(const VerifyFlags& f) {
  auto log = ReadAckLog(f.ack_log);
  if (!log.ok()) {
    PrintError(log.status().message());
    return kExitUsage;
  }
  bool tty = isatty(STDERR_FILENO);
  auto progress = [tty](uint64_t done, uint64_t total) {
    if (tty && (done % 4096 == 0 || done == total)) fprintf(stderr, "\rverifying: %llu of %llu blocks", (unsigned long long)done, (unsigned long long)total);
  };
  auto r = VerifyAgainstAckLog(f.target, *log, f.direct != 0, progress);
  if (tty) fprintf(stderr, "\r\033[K");
  if (!r.ok()) {
    PrintError(r.status().message());
    return r.status().exit_code();
  }
  const auto& rep = *r;
  printf("ack log %s: %llu acknowledgements, %zu blocks%s\n", f.ack_log.c_str(), (unsigned long long)log->records,
         log->last.size(), log->truncated ? " (last record cut short: the writer died mid-record)" : "");
  printf("checked %llu blocks of %s: %llu hold the acknowledged generation, %llu a newer one (in flight at the end)\n",
         (unsigned long long)rep.blocks_checked, f.target.c_str(),
         (unsigned long long)(rep.by_verdict[size_t(BlockVerdict::kOk)] - rep.newer_than_acked),
         (unsigned long long)rep.newer_than_acked);
  printf("lost %llu, misdirected %llu, corrupt %llu\n", (unsigned long long)rep.by_verdict[size_t(BlockVerdict::kLost)],
         (unsigned long long)rep.by_verdict[size_t(BlockVerdict::kMisdirected)],
         (unsigned long long)rep.by_verdict[size_t(BlockVerdict::kCorrupt)]);
  int shown = 0;
  for (const auto& x : rep.findings) {
    if (shown++ >= f.show) {
      printf("  ... and %zu more\n", rep.findings.size() - size_t(f.show));
      break;
    }
    printf("  %s at offset %llu: acknowledged generation %u (at +%.3fs), found %u", VerdictName(x.check.verdict),
           (unsigned long long)x.offset, x.acked_generation, x.ack_ms / 1e3, x.check.found_generation);
    if (x.check.verdict == BlockVerdict::kMisdirected) printf(" written for offset %llu", (unsigned long long)x.check.found_offset);
    printf("\n");
  }
  return rep.findings.empty() ? kExitOk : kExitExpectationFailed;
}

}  // namespace

void RegisterVerifyCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<VerifyFlags>();
  CLI::App* cmd = app.add_subcommand("verify", "Check a target against a run's ack log (after a crash or HA restart)");
  cmd->add_option("--target", f->target, "File or block device the run wrote")->required();
  cmd->add_option("--ack-log", f->ack_log, "The run's ack log (load --ack-log)")->required();
  cmd->add_option("--direct", f->direct, "1: O_DIRECT, 0: page cache")->capture_default_str();
  cmd->add_option("--show", f->show, "Findings to list")->capture_default_str();
  cmd->callback([f, exit_code] { *exit_code = RunVerify(*f); });
}

}  // namespace fb::cli
