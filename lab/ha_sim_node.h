// One pool host of the HA simulator (fb-ha-sim): the HA rules (ha_rules.h) fed
// with this host's heartbeats and statefile reads, and their actions carried out
// on the pool (HaActions) and on the pool's XAPI database (XapiService), which
// the master owns and persists (atomically) to db_path after each change so a
// new master continues it. No I/O of its own besides that file: the caller moves
// the heartbeats (HeartbeatText / OnHeartbeat) and the statefile slots
// (SlotText / OnSlotWritten / OnSlot) and calls Tick each interval, with
// CLOCK_MONOTONIC times (any clock in tests). Not thread-safe: one thread drives it.
//
// The database, as XAPI shows a failover (docs/platform.md): pool (master),
// host "host-i" (address, metrics), host_metrics (live), VM "vm-k" (power_state,
// resident_on, ha_always_run, ha_restart_priority "restart"), messages; refs
// "OpaqueRef:<uuid>" and uuids derived from the names, so they are the same in
// every process. A dead host: host_metrics.live false, HA_HOST_FAILED (body
// `Server '<name>' has failed`), its VMs Halted with resident_on OpaqueRef:NULL,
// then each restarted (HaActions::StartVm) on the alive host with the fewest VMs
// and Running there. Only a Halted VM with ha_always_run is restarted, so a VM is
// restarted once per failure even across a master failover.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "fakes/xapi_service.h"
#include "lab/pool_db.h"
#include "lab/ha_rules.h"

namespace fb::lab {

// What the HA simulator does to the pool (lab/pool.h in fb-ha-sim, a fake in tests).
class HaActions {
 public:
  virtual ~HaActions() = default;
  virtual Status StartVm(int vm, int host) = 0;
  virtual Status StopVm(int vm) = 0;
  virtual std::vector<int> ResidentVms(int host) = 0;
};

// Receives each decision: when it happened (UTC), kind (heartbeat_lost,
// statefile_lost, host_declared_dead, host_fenced, master_changed, vm_stopped,
// vm_started, host_rejoined, host_up), severity, message, attrs (host, vm, ...).
using HaLogFn = std::function<void(int64_t t_utc_ns, const std::string& kind, Severity severity,
                                   const std::string& message, nlohmann::json attrs)>;

struct HaNodeConfig {
  int self = 0;                         // 1-based
  std::vector<std::string> mgmt_addrs;  // [i-1]: host i's XAPI / heartbeat address
  int vms = 0;
  std::map<int, int> initial_placement;  // vm -> host, for a database made from scratch
  // The rest of a database made from scratch (VM addresses, the LUNs, defects:
  // lab/pool_db.h); hosts, mgmt_addrs, vms and placement come from the fields above.
  PoolDbSpec db;
  int64_t ha_timeout_ns = 0;
  int64_t reboot_ns = 0;         // a fenced host's "reboot" once its network is back
  std::string db_path;           // <state>/pool/xapi-db.json
  int64_t settle_ns = 0;         // a new master's pause before it declares anyone dead
  int64_t restart_delay_ns = 0;  // between a VM's Halted and its restart
  // A failed restart is tried again after restart_delay_ns, doubling up to
  // retry_max_ns, until it succeeds; HA_PROTECTED_VM_RESTART_FAILED is raised
  // for the first restart_messages failures of a VM.
  int64_t retry_max_ns = 10'000'000'000;
  int restart_messages = 3;
};

std::string HaHostName(int host);             // "host-1"
std::string HaVmName(int vm);                 // "vm-1"
std::string HaUuid(const std::string& name);  // stable, uuid-shaped
std::string HaRef(const std::string& name);   // "OpaqueRef:" + HaUuid(name)
// The pool database made from scratch (lab/pool_db.h, without LUNs, addresses
// or defects): every host live, VMs Running where placed (Halted when not), host 1 the master.
nlohmann::json HaInitialDatabase(int hosts, const std::vector<std::string>& mgmt_addrs, int vms,
                                 const std::map<int, int>& placement);
// The master named in a database (from pool.master) and its generation; {0, 0} when none.
std::pair<int, int64_t> HaDatabaseMaster(const nlohmann::json& dump);

class HaNode {
 public:
  HaNode(HaNodeConfig config, XapiService* xapi, HaActions* actions, HaLogFn log);

  // Loads db_path (a master makes it from scratch when missing) and tells the
  // XAPI service who answers. Errors name the file.
  Status Start(int64_t now_ns);

  std::string HeartbeatText() const;
  void OnHeartbeat(const std::string& text, int64_t now_ns);
  // This host's slot (JSON, at most kSlotBytes); its seq advances while the host is up.
  std::string SlotText(int64_t now_ns);
  // The slot without its seq ({host, fenced, hears}), for a writer that keeps
  // the seq itself (advancing it only while "fenced" is false).
  nlohmann::json SlotRecord(int64_t now_ns) const;
  bool fenced() const { return rules_->fenced(); }
  void OnSlotWritten(int64_t now_ns);
  // One read slot of `host` (a never-written slot, all zeros, is skipped).
  void OnSlot(int host, const std::string& bytes, int64_t now_ns);
  // Also persists the database when something changed it since (an XAPI
  // operation: fakes/xapi_ops.h).
  void Tick(int64_t now_ns);
  // pool.designate_new_master, on the master: the database persisted, `host`
  // master from now on (HOST_IS_SLAVE names it; the heartbeats carry its claim,
  // and it takes over when it hears one). Unavailable when this host is
  // not the master, InvalidInput for a host outside the pool.
  Status Handover(int host);

  // After Start.
  const HaRules& rules() const { return *rules_; }
  static constexpr int kSlotBytes = 512;

 private:
  int hosts() const { return int(config_.mgmt_addrs.size()); }
  void Apply(const HaAction& a, int64_t now_ns);
  void Log(const std::string& kind, Severity sev, const std::string& message, nlohmann::json attrs);
  Status LoadDatabase();
  void Persist();
  void BecomeMaster(int previous);
  void DeclareDead(int host, const std::string& reason);
  void HostBack(int host, const std::string& reason);
  void Fence(const std::string& reason);
  void RestartHalted(int64_t now_ns);
  std::set<int> AliveHosts(const HaInput& in) const;

  HaNodeConfig config_;
  XapiService* xapi_;
  HaActions* actions_;
  HaLogFn log_;
  std::unique_ptr<HaRules> rules_;
  std::unique_ptr<HaLiveness> live_;
  int64_t seq_ = 0;
  HaInput last_input_;
  std::map<int, bool> peer_statefile_ok_;
  struct Retry {
    int failures = 0;
    int64_t next_ns = 0;
  };
  std::map<int, Retry> retries_;           // vm -> its failed restarts
  std::map<std::string, int64_t> halted_;  // VM ref -> when this master saw it Halted
  int64_t persisted_change_ = -1;          // XapiService::LastChange at the last Persist
};

}  // namespace fb::lab
