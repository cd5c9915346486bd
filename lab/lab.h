// The local two-site metro lab: two simulated arrays (site-a, site-b) in network
// namespaces, each a tgtd serving the same stretched LUN, a replication link
// between them, a mediator, and an array simulator per site that pauses I/O,
// races to the mediator and resyncs (see topology.h and README.md).
//
// Root only. Every call is synchronous and bounded in time; none is
// thread-safe against another call on the same state directory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "lab/pool.h"
#include "lab/process.h"
#include "lab/sim_config.h"

namespace fb::lab {

inline constexpr const char* kDefaultStateDir = "/run/faultbench-lab";
inline constexpr const char* kDefaultIqn = "iqn.2026-11.test.faultbench:lun";
inline constexpr int kDefaultControlPortBase = 4700;  // site i uses base + 1 + i
inline constexpr const char* kSimExecutable = "fb-array-sim";

struct LabOptions {
  uint64_t lun_size_bytes = 256ull << 20;
  std::string race_winner = "race";  // race | site-a | site-b
  SuspendMode suspend_mode = SuspendMode::kHang;
  int64_t heartbeat_interval_ns = 100'000'000;
  int64_t heartbeat_timeout_ns = 1'000'000'000;
  int64_t resync_ns = 1'000'000'000;     // simulated resync time
  int64_t claim_delay_ns = 300'000'000;  // head start of the preferred site
  std::string iqn = kDefaultIqn;
  int tgtd_control_port_base = kDefaultControlPortBase;
  // fb-array-sim to run; "" = the one beside this executable.
  std::string sim_path;

  // The pool (lab/pool.h): 0 hosts = none, else kMinPoolHosts..kMaxPoolHosts.
  int pool_hosts = 0;
  int pool_vms = 0;                                  // kMinPoolVms..kMaxPoolVms; 0 = one per host
  int64_t ha_timeout_ns = 10'000'000'000;            // host silence that HA declares a failure
  int64_t ha_heartbeat_interval_ns = 1'000'000'000;  // HA network and statefile heartbeat
  int64_t migration_downtime_ns = kDefaultMigrationDowntimeNs;  // a live migration's freeze (MigrateVm)
  // faultbench the VMs run (agent, ssh sessions); "" = this executable.
  std::string faultbench_path;
  // fb-ha-sim to run; "" = the one beside faultbench_path, if it is built.
  std::string ha_sim_path;
  // false: no fb-ha-sim even if built (tests of the pool's own controls).
  bool start_ha_sim = true;

  // What the pool's XAPI database gets wrong on purpose (lab/pool_db.h), for preflight's tests.
  std::vector<std::string> pool_defects;

  int PoolVmCount() const { return pool_vms > 0 ? pool_vms : pool_hosts; }

  // Checks ranges; errors are InvalidInput naming the setting.
  fb::Status Validate() const;
};

struct LabSiteInfo {
  std::string name;      // "site-a"
  std::string ns;        // "fb-site-a"
  std::string portal;    // "198.18.1.2:3260"
  std::string url;       // "iscsi://198.18.1.2/<iqn>/1"
  std::string api_url;   // "http://198.18.1.2:8080"
  std::string cut_path;  // shell commands to cut and restore this site's path
  std::string restore_path;
  std::string cut_replication;  // ... and its end of the replication link
  std::string restore_replication;
};

struct LabInfo {
  bool already_up = false;  // Up found a running lab and left it alone
  std::string iqn;
  int lun = 0;
  std::vector<LabSiteInfo> sites;
  std::string mediator;  // "198.18.4.2:7100 (site-a), 198.18.5.2:7100 (site-b)"
  std::string state_dir;
  std::string token_file;   // the API token for POST /api/2.42/login (header api-token)
  std::string api_token;    // its content
  std::string events_file;  // the simulators' events.jsonl
  int64_t up_ns = 0;        // how long Up took
  LabOptions options;       // the settings the running lab was made with
  bool has_pool = false;    // options.pool_hosts > 0 and pool.json is there
  PoolConfig pool;
  std::string ha_sim_note;  // why no fb-ha-sim runs ("" when they do)
};

struct LabProcess {
  std::string name;  // "tgtd site-a", "fb-array-sim site-a", "fb-array-sim mediator"
  pid_t pid = 0;
  ProcState state = ProcState::kGone;
};

struct LabLink {
  std::string ns;  // "" = root namespace
  std::string name;
  std::string role;                    // "path site-a", "replication", "mediator site-b"
  std::string oper_state;              // "up", "down", "lowerlayerdown", "absent", ...
  std::vector<std::string> cut_rules;  // nft rules of the lab's cut table naming it
};

struct LabStatus {
  bool up = false;   // every namespace, link end and process is there and alive
  bool any = false;  // anything of a lab is there (up, or leftovers of a crash)
  std::vector<std::string> namespaces;
  std::vector<LabProcess> processes;
  std::vector<LabLink> links;
  nlohmann::json sites = nlohmann::json::object();  // site -> simulator state
  std::vector<std::string> problems;
  // The pool's hosts and VMs (pool_net.h PoolStatusJson); null without a pool.
  nlohmann::json pool = nullptr;
};

class Lab {
 public:
  explicit Lab(std::string state_dir = kDefaultStateDir) : state_dir_(std::move(state_dir)) {}

  // Builds the lab, or returns the running one's info (already_up) if it is up.
  // Leftovers of a crashed lab are removed first. On failure, removes what it made.
  Result<LabInfo> Up(const LabOptions& options);
  Result<LabStatus> Status() const;
  // Removes every namespace, link, nft table, process and file of the lab, also
  // without a state directory. Ok if there was nothing to remove.
  fb::Status Down();

  const std::string& state_dir() const { return state_dir_; }

 private:
  fb::Status Build(const LabOptions& options, const std::string& sim, const std::string& faultbench,
                   const std::string& ha_sim);
  LabInfo Describe(const LabOptions& options) const;
  std::string Path(const std::string& file) const { return state_dir_ + "/" + file; }

  std::string state_dir_;
};

// Fails with InvalidInput (exit 2) unless running as root.
fb::Status RequireRoot();

}  // namespace fb::lab
