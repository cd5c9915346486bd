// faultbench lab up | status | down: the local two-site metro lab (root only),
// and the controls of its pool (lab/pool.h): lab host ACTION HOST, lab vm start|stop.
#include <cstdio>

#include "cli/commands.h"
#include "core/clock.h"
#include "core/units.h"
#include "lab/bmc.h"
#include "lab/lab.h"
#include "lab/pool.h"
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
  int pool = 0;
  int vms = 0;
  std::vector<std::string> pool_defects;
  std::string ha_timeout = "10s";
  std::string ha_heartbeat = "1s";
  std::string migration_downtime = "150ms";
  std::string target;  // HOST or VM of lab host / lab vm
  std::string on_host;
  std::string downtime;  // lab vm migrate; "" = the pool's
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
  o->pool_hosts = f.pool;
  o->pool_vms = f.vms;
  o->pool_defects = f.pool_defects;
  auto ha_timeout = ParseDuration(f.ha_timeout);
  if (!ha_timeout.ok()) return ha_timeout.status().With("--ha-timeout");
  o->ha_timeout_ns = *ha_timeout;
  auto ha_heartbeat = ParseDuration(f.ha_heartbeat);
  if (!ha_heartbeat.ok()) return ha_heartbeat.status().With("--heartbeat");
  o->ha_heartbeat_interval_ns = *ha_heartbeat;
  auto downtime = ParseDuration(f.migration_downtime);
  if (!downtime.ok()) return downtime.status().With("--migration-downtime");
  o->migration_downtime_ns = *downtime;
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
  if (!info.has_pool) return;
  const lab::PoolConfig& p = info.pool;
  std::printf("pool: %zu hosts, %zu VMs; HA timeout %s, heartbeat %s; statefile %s (and site-b's)\n",
              p.hosts.size(), p.vms.size(), FormatDuration(p.ha_timeout_ns).c_str(),
              FormatDuration(p.heartbeat_interval_ns).c_str(),
              p.statefile_urls.empty() ? "" : p.statefile_urls[0].c_str());
  for (const lab::PoolHost& h : p.hosts) {
    std::printf("  %s (%s) management %s, XAPI %s\n", h.name.c_str(), h.ns.c_str(), h.mgmt_addr.c_str(),
                h.xapi_url.c_str());
  }
  for (const lab::PoolVm& v : p.vms) {
    auto at = lab::VmPlacement(info.state_dir, v.index);
    std::string host = at.ok() && *at > 0 ? lab::PoolHostName(*at) : "halted";
    std::printf("  %s on %s: %s\n", v.name.c_str(), host.c_str(), v.ssh.c_str());
  }
  if (!info.ha_sim_note.empty()) std::printf("%s\n", info.ha_sim_note.c_str());
  std::printf(
      "controls: faultbench lab host power-off|power-on|cut-mgmt|restore-mgmt|cut-storage|"
      "restore-storage HOST; faultbench lab vm start VM --host HOST | stop VM\n");
}

void PrintPoolStatus(const nlohmann::json& pool) {
  if (pool.is_null()) return;
  std::printf("pool hosts:\n");
  for (const auto& h : pool["hosts"]) {
    std::string links;
    for (const auto& [name, state] : h["links"].items()) links += " " + name + " " + state.get<std::string>();
    std::string cuts;
    for (const auto& c : h["cuts"]) cuts += " " + c.get<std::string>();
    std::string sim = h["ha_sim"].is_null() ? "not built"
                                            : "pid " + std::to_string(h["ha_sim"].value("pid", 0)) + " " +
                                                  h["ha_sim"].value("state", "?");
    std::printf("  %-7s power %-3s links%s; fb-ha-sim %s%s%s\n", h.value("name", "?").c_str(),
                h.value("power", "?").c_str(), links.c_str(), sim.c_str(),
                cuts.empty() ? "" : "; cut:", cuts.c_str());
  }
  std::printf("pool VMs:\n");
  for (const auto& v : pool["vms"]) {
    std::string host = v.value("host", "");
    std::printf("  %-5s on %-7s sshd pid %d %s, agent pid %d %s\n", v.value("name", "?").c_str(),
                host.empty() ? "(halted)" : host.c_str(), v["sshd"].value("pid", 0),
                v["sshd"].value("state", "?").c_str(), v["agent"].value("pid", 0),
                v["agent"].value("state", "?").c_str());
  }
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
  PrintPoolStatus(st.pool);
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
          {"links", links}, {"sites", st.sites}, {"problems", st.problems},     {"pool", st.pool}};
}

int Fail(const Status& s) {
  PrintError(s.message());
  return s.exit_code();
}

// The pool's host or VM number for a name, checked against pool.json.
Result<int> PoolMember(const std::string& state_dir, const std::string& name, bool vm) {
  auto pool = lab::LoadPool(state_dir);
  if (!pool.ok()) return pool.status();
  auto n = vm ? lab::ParsePoolVmName(name) : lab::ParsePoolHostName(name);
  size_t count = vm ? pool->vms.size() : pool->hosts.size();
  if (!n.ok() || *n < 1 || size_t(*n) > count) {
    return Status::InvalidInput(std::string(vm ? "VM" : "host") + " \"" + name + "\" is not in the pool (" +
                                (vm ? "vm-1..vm-" : "host-1..host-") + std::to_string(count) + ")");
  }
  return *n;
}

struct HostAction {
  const char* name;
  const char* help;
  Status (*act)(const std::string&, int);
};

void RegisterPoolCommands(CLI::App* lab, std::shared_ptr<LabFlags> flags, int* exit_code) {
  CLI::App* host = lab->add_subcommand("host", "Power, management and storage controls of a pool host");
  host->require_subcommand(1);
  static const HostAction kActions[] = {
      {"power-off", "Kill the host and its VMs at once, links down", lab::PowerOffHost},
      {"power-on", "Links up, the HA simulator started again (VMs stay down)", lab::PowerOnHost},
      {"cut-mgmt", "Drop everything on the host's management network", lab::CutManagement},
      {"restore-mgmt", "Undo cut-mgmt", lab::RestoreManagement},
      {"cut-storage", "Drop the host's (and its VMs') storage traffic to both sites", lab::CutStorage},
      {"restore-storage", "Undo cut-storage", lab::RestoreStorage},
  };
  for (const HostAction& a : kActions) {
    CLI::App* cmd = host->add_subcommand(a.name, a.help);
    cmd->add_option("HOST", flags->target, "host-1, host-2, ...")->required();
    cmd->callback([flags, exit_code, &a] {
      Status s = lab::RequireRoot();
      auto n = s.ok() ? PoolMember(flags->state_dir, flags->target, false) : Result<int>(s);
      if (n.ok()) s = a.act(flags->state_dir, *n);
      if (!n.ok()) s = n.status();
      if (!s.ok()) {
        *exit_code = Fail(s);
        return;
      }
      std::printf("%s %s: done\n", flags->target.c_str(), a.name);
      *exit_code = kExitOk;
    });
  }

  // The BMCs' own processes (lab/bmc.h), started by lab up inside fb-pool-net.
  CLI::App* power = lab->add_subcommand("bmc-power", "(internal) a BMC's power: ipmi_sim's chassis control");
  power->group("");
  power->add_option("HOST", flags->target, "host-1, host-2, ...")->required();
  power->callback([flags, exit_code] {
    auto n = PoolMember(flags->state_dir, flags->target, false);
    *exit_code = n.ok() ? lab::RunBmcPower(flags->state_dir, *n) : Fail(n.status());
  });
  CLI::App* redfish = lab->add_subcommand("bmc-redfish", "(internal) the BMCs' Redfish service");
  redfish->group("");
  redfish->callback([flags, exit_code] { *exit_code = lab::RunBmcRedfish(flags->state_dir); });

  CLI::App* vm = lab->add_subcommand("vm", "Start, stop or live-migrate a pool VM");
  vm->require_subcommand(1);
  CLI::App* start = vm->add_subcommand("start", "Start the VM on a host (moving it if it runs elsewhere)");
  start->add_option("VM", flags->target, "vm-1, vm-2, ...")->required();
  start->add_option("--host", flags->on_host, "Host to run it on")->required();
  start->callback([flags, exit_code] {
    Status s = lab::RequireRoot();
    auto n = s.ok() ? PoolMember(flags->state_dir, flags->target, true) : Result<int>(s);
    auto h = n.ok() ? PoolMember(flags->state_dir, flags->on_host, false) : Result<int>(n.status());
    s = h.ok() ? lab::StartVm(flags->state_dir, *n, *h) : h.status();
    if (!s.ok()) {
      *exit_code = Fail(s);
      return;
    }
    std::printf("%s started on %s\n", flags->target.c_str(), flags->on_host.c_str());
    *exit_code = kExitOk;
  });
  CLI::App* migrate =
      vm->add_subcommand("migrate", "Live-migrate a running VM to a host (frozen for the migration downtime)");
  migrate->add_option("VM", flags->target, "vm-1, vm-2, ...")->required();
  migrate->add_option("--host", flags->on_host, "Host to move it to")->required();
  migrate->add_option("--downtime", flags->downtime, "Its freeze (default: lab up --migration-downtime)");
  migrate->callback([flags, exit_code] {
    Status s = lab::RequireRoot();
    auto n = s.ok() ? PoolMember(flags->state_dir, flags->target, true) : Result<int>(s);
    auto h = n.ok() ? PoolMember(flags->state_dir, flags->on_host, false) : Result<int>(n.status());
    int64_t downtime = 0;
    if (h.ok() && !flags->downtime.empty()) {
      auto d = ParseDuration(flags->downtime);
      if (d.ok() && (*d < kNsPerMs || *d > 10 * kNsPerSec))
        d = Status::InvalidInput(flags->downtime + ": a live migration's freeze must be 1ms..10s");
      if (!d.ok()) h = d.status().With("--downtime");
      downtime = d.ok() ? *d : 0;
    }
    s = h.ok() ? lab::MigrateVm(flags->state_dir, *n, *h, downtime) : h.status();
    if (!s.ok()) {
      *exit_code = Fail(s);
      return;
    }
    std::printf("%s migrated to %s\n", flags->target.c_str(), flags->on_host.c_str());
    *exit_code = kExitOk;
  });
  CLI::App* stop = vm->add_subcommand("stop", "Stop the VM (kill its processes, unwire it)");
  stop->add_option("VM", flags->target, "vm-1, vm-2, ...")->required();
  stop->callback([flags, exit_code] {
    Status s = lab::RequireRoot();
    auto n = s.ok() ? PoolMember(flags->state_dir, flags->target, true) : Result<int>(s);
    s = n.ok() ? lab::StopVm(flags->state_dir, *n) : n.status();
    if (!s.ok()) {
      *exit_code = Fail(s);
      return;
    }
    std::printf("%s stopped\n", flags->target.c_str());
    *exit_code = kExitOk;
  });
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
  up->add_option("--pool", flags->pool, "Pool hosts (2..4; 0 = no pool)")->capture_default_str();
  up->add_option("--vms", flags->vms, "Pool VMs (1..8; default one per host)");
  up->add_option("--pool-defect", flags->pool_defects,
                 "Make the pool's XAPI database wrong on purpose, for preflight: ha-off, unprotected:vm-K, "
                 "local-cd:vm-K, one-path:host-I, dhcp-mgmt:host-I (repeatable)");
  up->add_option("--ha-timeout", flags->ha_timeout, "HA: host silence that counts as a failure")
      ->capture_default_str();
  up->add_option("--heartbeat", flags->ha_heartbeat, "HA heartbeat interval (network and statefile)")
      ->capture_default_str();
  up->add_option("--migration-downtime", flags->migration_downtime,
                 "How long a live-migrated VM is frozen (its stop-and-copy)")
      ->capture_default_str();
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

  RegisterPoolCommands(lab, flags, exit_code);
}

}  // namespace fb::cli
