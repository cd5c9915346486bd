// faultbench lab up | status | down: the local two-site metro lab (root only).
#include <cstdio>

#include "cli/commands.h"
#include "core/clock.h"
#include "core/units.h"
#include "lab/lab.h"
#include "lab/topology.h"

namespace fb::cli {

namespace {

struct LabFlags {
  std::string state_dir = lab::kDefaultStateDir;
  std::string lun_size = "256MiB";
  std::string race_winner = "race";
  std::string suspend_mode = "hang";
  std::string heartbeat_interval = "100ms";
  std::string heartbeat_timeout = "1s";
  std::string resync_time = "1s";
  bool json = false;
};

Status ParseOptions(const LabFlags& f, lab::LabOptions* o) {
  auto size = ParseSize(f.lun_size);
  if (!size.ok()) return size.status().With("--lun-size");
  o->lun_size_bytes = *size;
  o->race_winner = f.race_winner;
  auto mode = lab::ParseSuspendMode(f.suspend_mode);
  if (!mode.ok()) return mode.status().With("--suspend-mode");
  o->suspend_mode = *mode;
  auto interval = ParseDuration(f.heartbeat_interval);
  if (!interval.ok()) return interval.status().With("--heartbeat-interval");
  o->heartbeat_interval_ns = *interval;
  auto timeout = ParseDuration(f.heartbeat_timeout);
  if (!timeout.ok()) return timeout.status().With("--heartbeat-timeout");
  o->heartbeat_timeout_ns = *timeout;
  auto resync = ParseDuration(f.resync_time);
  if (!resync.ok()) return resync.status().With("--resync-time");
  o->resync_ns = *resync;
  return o->Validate();
}

void PrintInfo(const lab::LabInfo& info) {
  if (info.already_up) {
    std::printf("lab is already up (state in %s); nothing changed\n", info.state_dir.c_str());
  } else {
    std::printf("lab is up (%s)\n", FormatDuration(info.up_ns).c_str());
  }
  const lab::LabOptions& o = info.options;
  std::printf("target %s, LUN %d (%s, the same file behind both portals)\n", info.iqn.c_str(), info.lun,
              FormatSize(o.lun_size_bytes).c_str());
  for (const lab::LabSiteInfo& s : info.sites) std::printf("  %s portal %s\n", s.name.c_str(), s.url.c_str());
  std::printf("array API (REST 2.42 shapes): POST /api/2.42/login with header api-token: %s (in %s)\n",
              info.api_token.c_str(), info.token_file.c_str());
  for (const lab::LabSiteInfo& s : info.sites) std::printf("  %s %s\n", s.name.c_str(), s.api_url.c_str());
  std::printf("mediator %s; race winner %s; suspend mode %s; heartbeat %s, timeout %s; resync %s\n",
              info.mediator.c_str(), o.race_winner.c_str(), lab::SuspendModeName(o.suspend_mode),
              FormatDuration(o.heartbeat_interval_ns).c_str(), FormatDuration(o.heartbeat_timeout_ns).c_str(),
              FormatDuration(o.resync_ns).c_str());
  std::printf("events %s\n", info.events_file.c_str());
  std::printf("cut links:\n");
  for (const lab::LabSiteInfo& s : info.sites) {
    std::printf("  path to %s:    %s\n  restore:           %s\n", s.name.c_str(), s.cut_path.c_str(),
                s.restore_path.c_str());
  }
  const lab::LabSiteInfo& a = info.sites[0];
  std::printf("  replication link: %s\n  restore:           %s\n", a.cut_replication.c_str(),
              a.restore_replication.c_str());
  std::printf("  or via the API:   PATCH %s/api/2.42/network-interfaces?names=%s {\"enabled\":false}\n",
              a.api_url.c_str(), lab::kReplicationIf);
}

void PrintStatus(const lab::LabStatus& st) {
  std::printf("lab: %s\n", st.up ? "up" : st.any ? "partly there (run faultbench lab down)" : "down");
  if (!st.any) return;
  std::printf("namespaces:");
  for (const std::string& ns : st.namespaces) std::printf(" %s", ns.c_str());
  std::printf("\nprocesses:\n");
  for (const lab::LabProcess& p : st.processes) {
    std::printf("  %-24s pid %-8d %s\n", p.name.c_str(), int(p.pid), lab::ProcStateName(p.state));
  }
  std::printf("links:\n");
  for (const lab::LabLink& l : st.links) {
    std::string where = (l.ns.empty() ? std::string("host") : l.ns) + "/" + l.name;
    std::printf("  %-20s %-28s %s%s\n", where.c_str(), l.role.c_str(), l.oper_state.c_str(),
                l.cut_rules.empty() ? "" : ", cut by nft rule");
  }
  std::printf("sites:\n");
  for (const auto& [name, s] : st.sites.items()) {
    std::printf("  %s: %s, replication %s, mediator %s, I/O %s, epoch %lld\n", name.c_str(),
                s.value("role", "?").c_str(), s.value("peer_heard", false) ? "connected" : "down",
                s.value("mediator_status", "?").c_str(),
                s.value("io_refused", false)  ? "refused"
                : s.value("io_paused", false) ? "paused"
                                              : "served",
                static_cast<long long>(s.value("epoch", int64_t(0))));
  }
  for (const std::string& p : st.problems) std::printf("problem: %s\n", p.c_str());
}

nlohmann::json StatusJson(const lab::LabStatus& st) {
  nlohmann::json procs = nlohmann::json::array(), links = nlohmann::json::array();
  for (const lab::LabProcess& p : st.processes) {
    procs.push_back({{"name", p.name}, {"pid", p.pid}, {"state", lab::ProcStateName(p.state)}});
  }
  for (const lab::LabLink& l : st.links) {
    links.push_back({{"ns", l.ns},
                     {"name", l.name},
                     {"role", l.role},
                     {"oper_state", l.oper_state},
                     {"cut_rules", l.cut_rules}});
  }
  return {{"up", st.up},    {"any", st.any},     {"namespaces", st.namespaces}, {"processes", procs},
          {"links", links}, {"sites", st.sites}, {"problems", st.problems}};
}

int Fail(const Status& s) {
  PrintError(s.message());
  return s.exit_code();
}

}  // namespace

void RegisterLabCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<LabFlags>();
  CLI::App* lab = app.add_subcommand("lab", "The local two-site metro lab in network namespaces (root only)");
  lab->require_subcommand(1);
  lab->add_option("--state-dir", flags->state_dir, "Where the lab keeps its files")->capture_default_str();

  CLI::App* up = lab->add_subcommand("up", "Build the lab (harmless if it is up)");
  up->add_option("--lun-size", flags->lun_size, "Size of the stretched LUN")->capture_default_str();
  up->add_option("--race-winner", flags->race_winner, "race | site-a | site-b")->capture_default_str();
  up->add_option("--suspend-mode", flags->suspend_mode, "How the loser suspends: hang | refuse")
      ->capture_default_str();
  up->add_option("--heartbeat-interval", flags->heartbeat_interval, "Replication heartbeat period")
      ->capture_default_str();
  up->add_option("--heartbeat-timeout", flags->heartbeat_timeout, "Silence that counts as a cut")
      ->capture_default_str();
  up->add_option("--resync-time", flags->resync_time, "Simulated resync duration")->capture_default_str();
  up->callback([flags, exit_code] {
    lab::LabOptions options;
    Status s = lab::RequireRoot();
    if (s.ok()) s = ParseOptions(*flags, &options);
    if (!s.ok()) {
      *exit_code = Fail(s);
      return;
    }
    auto info = lab::Lab(flags->state_dir).Up(options);
    if (!info.ok()) {
      *exit_code = Fail(info.status());
      return;
    }
    PrintInfo(*info);
    *exit_code = kExitOk;
  });

  CLI::App* status = lab->add_subcommand("status", "Show namespaces, processes, links and pod state");
  status->add_flag("--json", flags->json, "Print JSON");
  status->callback([flags, exit_code] {
    auto st = lab::Lab(flags->state_dir).Status();
    if (!st.ok()) {
      *exit_code = Fail(st.status());
      return;
    }
    if (flags->json) {
      std::printf("%s\n", StatusJson(*st).dump(2).c_str());
    } else {
      PrintStatus(*st);
    }
    *exit_code = kExitOk;
  });

  CLI::App* down = lab->add_subcommand("down", "Remove everything the lab made");
  down->callback([flags, exit_code] {
    Status s = lab::Lab(flags->state_dir).Down();
    if (!s.ok()) {
      *exit_code = Fail(s);
      return;
    }
    std::printf("lab is down\n");
    *exit_code = kExitOk;
  });
}

}  // namespace fb::cli
