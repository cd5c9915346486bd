// fb-array-sim: the lab's array simulator, started by `faultbench lab up`
// inside a lab namespace.
//   fb-array-sim site CONFIG.json      one array: heartbeat, race, HTTP API
//   fb-array-sim mediator CONFIG.json  the mediator
// Runs until SIGTERM or SIGINT. Exit 2 on a bad config, 3 on a start failure.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/status.h"
#include "lab/array_site.h"
#include "lab/io_suspender.h"
#include "lab/lab_event_log.h"
#include "lab/mediator.h"
#include "lab/process.h"
#include "lab/sim_config.h"
#include "lab/site_api.h"

namespace fb::lab {
namespace {

int Fail(const Status& s) {
  std::fprintf(stderr, "fb-array-sim: %s\n", s.message().c_str());
  return s.exit_code();
}

// Blocks SIGTERM and SIGINT in every thread started after it; WaitForStop
// then takes them synchronously.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void WaitForStop(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
}

int RunMediator(const std::string& config_path) {
  sigset_t stop_signals = BlockStopSignals();
  auto config = ReadMediatorConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  MediatorServer server;
  Status s = server.Bind(config->listen_addr, config->port);
  if (!s.ok()) return Fail(s.With("mediator"));
  std::atomic<bool> stop{false};
  std::thread serve([&] { server.Serve(&stop); });
  s = WriteFileAtomic(config->ready_path, "ready\n");
  if (s.ok()) WaitForStop(stop_signals);
  stop = true;
  serve.join();
  return s.ok() ? 0 : Fail(s);
}

int RunSite(const std::string& config_path) {
  sigset_t stop_signals = BlockStopSignals();
  auto config = ReadSiteConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  pid_t tgtd = ReadPidFile(config->tgtd_pid_file);
  if (tgtd <= 0) return Fail(Status::InvalidInput("no tgtd pid in " + config->tgtd_pid_file));
  auto token = ReadFile(config->token_path);
  if (!token.ok()) return Fail(token.status());
  std::string api_token = *token;
  while (!api_token.empty() && (api_token.back() == '\n' || api_token.back() == ' ')) api_token.pop_back();

  LabEventLog log;
  Status s = log.Open(config->events_path, config->site);
  if (!s.ok()) return Fail(s);
  IoSuspender io(tgtd, config->tgtd_control_port,
                 {config->iqn, config->portal_addr, config->tgtd_log, config->lun_file, config->tgtd_pid_file});
  ArraySite site(*config, &io, &log);
  s = site.Start();
  if (!s.ok()) return Fail(s.With(config->site));
  SiteApi api(&site, api_token);
  s = api.Start(config->api_addr, config->api_port);
  if (s.ok()) s = WriteFileAtomic(config->ready_path, "ready\n");
  if (s.ok()) WaitForStop(stop_signals);
  api.Stop();
  site.Stop();
  // Leave tgtd serving: whoever stops the simulator decides about tgtd.
  if (io.paused() || io.refusing()) {
    auto resumed = io.Resume();
    if (!resumed.ok()) std::fprintf(stderr, "fb-array-sim: %s\n", resumed.status().message().c_str());
  }
  return s.ok() ? 0 : Fail(s.With(config->site));
}

}  // namespace
}  // namespace fb::lab

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "site") return fb::lab::RunSite(argv[2]);
  if (argc == 3 && std::string(argv[1]) == "mediator") return fb::lab::RunMediator(argv[2]);
  std::fprintf(stderr, "usage: fb-array-sim site CONFIG.json | fb-array-sim mediator CONFIG.json\n");
  return fb::kExitUsage;
}
