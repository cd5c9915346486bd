#include "lab/ha_sim_node.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/clock.h"
#include "core/jsonl_writer.h"

namespace fb::lab {

namespace {

using nlohmann::json;

uint64_t Fnv1a(const std::string& s, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

}  // namespace

std::string HaHostName(int host) { return "host-" + std::to_string(host); }
std::string HaVmName(int vm) { return "vm-" + std::to_string(vm); }

std::string HaUuid(const std::string& name) {
  uint64_t a = Fnv1a("faultbench-pool/" + name, 14695981039346656037ull);
  uint64_t b = Fnv1a(name + "/faultbench-pool", a);
  char buf[40];
  snprintf(buf, sizeof buf, "%08x-%04x-4%03x-8%03x-%012llx", unsigned(a >> 32), unsigned((a >> 16) & 0xffff),
           unsigned(a & 0xfff), unsigned((b >> 48) & 0xfff),
           static_cast<unsigned long long>(b & 0xffffffffffffull));
  return buf;
}

std::string HaRef(const std::string& name) { return "OpaqueRef:" + HaUuid(name); }

json HaInitialDatabase(int hosts, const std::vector<std::string>& mgmt_addrs, int vms,
                       const std::map<int, int>& placement) {
  PoolDbSpec spec;
  spec.hosts = hosts;
  spec.mgmt_addrs = mgmt_addrs;
  spec.vms = vms;
  spec.placement = placement;
  return PoolDatabase(spec);
}

std::pair<int, int64_t> HaDatabaseMaster(const json& dump) {
  if (!dump.is_object() || !dump.contains("records")) return {0, 0};
  const json& r = dump["records"];
  if (!r.contains("pool") || !r["pool"].is_object() || !r.contains("host")) return {0, 0};
  for (const auto& [ref, pool] : r["pool"].items()) {
    std::string master = Str(pool, "master");
    int64_t gen = 0;
    if (pool.contains("other_config") && pool["other_config"].is_object())
      gen = std::atoll(Str(pool["other_config"], "ha_master_generation").c_str());
    if (!r["host"].contains(master)) return {0, gen};
    std::string name = Str(r["host"][master], "name_label");
    if (name.rfind("host-", 0) != 0) return {0, gen};
    return {std::atoi(name.c_str() + 5), gen};
  }
  return {0, 0};
}

HaNode::HaNode(HaNodeConfig config, XapiService* xapi, HaActions* actions, HaLogFn log)
    : config_(std::move(config)), xapi_(xapi), actions_(actions), log_(std::move(log)) {}

Status HaNode::Start(int64_t now_ns) {
  int master = 1;
  int64_t gen = 0;
  if (std::filesystem::exists(config_.db_path)) {
    auto text = ReadFile(config_.db_path);
    if (!text.ok()) return text.status();
    json dump = json::parse(*text, nullptr, false);
    if (dump.is_discarded()) return Status::InvalidInput(config_.db_path + ": not JSON");
    auto [m, g] = HaDatabaseMaster(dump);
    if (m >= 1 && m <= hosts()) master = m;
    gen = g;
  }
  rules_ =
      std::make_unique<HaRules>(config_.self, hosts(), config_.reboot_ns, master, gen, config_.settle_ns);
  live_ = std::make_unique<HaLiveness>(config_.self, hosts(), config_.ha_timeout_ns, now_ns);
  if (master == config_.self) {
    FB_RETURN_IF_ERROR(LoadDatabase());
    std::set<int> dead;
    json metrics = xapi_->Records("host_metrics");
    for (int i = 1; i <= hosts(); ++i) {
      const std::string ref = HaRef(HaHostName(i) + "/metrics");
      if (metrics.contains(ref) && metrics[ref].value("live", true) == false) dead.insert(i);
    }
    rules_->AdoptDead(dead);
    Persist();
  }
  xapi_->SetMaster(config_.mgmt_addrs[master - 1]);
  return Status::Ok();
}

Status HaNode::LoadDatabase() {
  json dump;
  if (std::filesystem::exists(config_.db_path)) {
    auto text = ReadFile(config_.db_path);
    if (!text.ok()) return text.status();
    dump = json::parse(*text, nullptr, false);
    if (dump.is_discarded()) return Status::InvalidInput(config_.db_path + ": not JSON");
  } else {
    PoolDbSpec spec = config_.db;
    spec.hosts = hosts();
    spec.mgmt_addrs = config_.mgmt_addrs;
    spec.vms = config_.vms;
    spec.placement = config_.initial_placement;
    dump = PoolDatabase(spec);
  }
  return xapi_->Load(dump).With(config_.db_path);
}

void HaNode::Persist() {
  if (!rules_->is_master()) return;
  persisted_change_ = xapi_->LastChange();
  Status s = WriteFileAtomic(config_.db_path, xapi_->Dump().dump());
  if (!s.ok())
    Log("log", Severity::kError, "cannot persist the pool database: " + s.message(), json::object());
}

void HaNode::Log(const std::string& kind, Severity sev, const std::string& message, json attrs) {
  if (!attrs.contains("host")) attrs["host"] = HaHostName(config_.self);
  attrs["by"] = HaHostName(config_.self);
  log_(UtcNs(), kind, sev, message, std::move(attrs));
}

std::string HaNode::HeartbeatText() const {
  return json({{"op", "ha_heartbeat"},
               {"host", config_.self},
               {"master", rules_->master()},
               {"generation", rules_->generation()},
               {"fenced", rules_->fenced()},
               {"statefile_ok", last_input_.own_slot_ok}})
      .dump();
}

void HaNode::OnHeartbeat(const std::string& text, int64_t now_ns) {
  json m = json::parse(text, nullptr, false);
  if (!m.is_object() || m.value("op", "") != "ha_heartbeat") return;
  int host = m.value("host", 0);
  if (host < 1 || host > hosts() || host == config_.self) return;
  live_->Heard(host, now_ns, m.value("master", 0), m.value("generation", int64_t(0)),
               m.value("fenced", false));
  bool ok = m.value("statefile_ok", true);
  auto it = peer_statefile_ok_.find(host);
  bool was_ok = it == peer_statefile_ok_.end() || it->second;
  peer_statefile_ok_[host] = ok;
  if (was_ok && !ok && rules_->is_master()) {
    xapi_->AddMessage("HA_STATEFILE_LOST", 2, "Host", HaUuid(HaHostName(host)), "");
    Persist();
  }
}

json HaNode::SlotRecord(int64_t now_ns) const {
  json hears = json::array();
  for (int h : live_->Hears(now_ns)) hears.push_back(h);
  return {{"host", config_.self}, {"fenced", rules_->fenced()}, {"hears", hears}};
}

std::string HaNode::SlotText(int64_t now_ns) {
  if (!rules_->fenced()) ++seq_;
  json slot = SlotRecord(now_ns);
  slot["seq"] = seq_;
  return slot.dump();
}

void HaNode::OnSlotWritten(int64_t now_ns) {
  if (!rules_->fenced()) live_->SlotWritten(now_ns);
}

void HaNode::OnSlot(int host, const std::string& bytes, int64_t now_ns) {
  if (host < 1 || host > hosts() || host == config_.self) return;
  std::string text = bytes.substr(0, bytes.find('\0'));
  json s = json::parse(text, nullptr, false);
  if (!s.is_object() || s.value("host", 0) != host) return;
  std::set<int> hears;
  if (s.contains("hears") && s["hears"].is_array())
    for (const json& h : s["hears"])
      if (h.is_number_integer()) hears.insert(h.get<int>());
  live_->SlotRead(host, now_ns, s.value("seq", int64_t(0)), s.value("fenced", false), std::move(hears));
}

void HaNode::Tick(int64_t now_ns) {
  last_input_ = live_->Input(now_ns);
  for (const HaAction& a : rules_->Step(last_input_)) Apply(a, now_ns);
  if (rules_->is_master()) RestartHalted(now_ns);
  if (rules_->is_master() && xapi_->LastChange() != persisted_change_) Persist();
}

Status HaNode::Handover(int host) {
  if (host < 1 || host > hosts()) return Status::InvalidInput(HaHostName(host) + " is not in the pool");
  if (!rules_->is_master())
    return Status::Unavailable(HaHostName(config_.self) + " is not the pool master");
  if (host == config_.self) return Status::Ok();
  Persist();
  int64_t t = UtcNs();
  rules_->Handover(host);
  xapi_->SetMaster(config_.mgmt_addrs[host - 1]);
  log_(t, "master_designated", Severity::kInfo,
       HaHostName(config_.self) + " hands the pool master role to " + HaHostName(host),
       {{"host", HaHostName(config_.self)}, {"by", HaHostName(config_.self)}, {"master", HaHostName(host)}});
  return Status::Ok();
}

std::set<int> HaNode::AliveHosts(const HaInput& in) const {
  std::set<int> alive = {config_.self};
  for (int p = 1; p <= hosts(); ++p) {
    if (p == config_.self || rules_->dead().count(p) || in.fenced.count(p)) continue;
    if (in.net_alive.count(p) || in.slot_alive.count(p)) alive.insert(p);
  }
  return alive;
}

void HaNode::Apply(const HaAction& a, int64_t now_ns) {
  using K = HaAction::Kind;
  switch (a.kind) {
    case K::kHeartbeatLost:
      Log("heartbeat_lost", Severity::kWarning,
          "no network heartbeat from " + HaHostName(a.host) + " for " +
              std::to_string(config_.ha_timeout_ns / kNsPerMs) + " ms",
          {{"peer", HaHostName(a.host)}});
      return;
    case K::kStatefileLost:
      Log("statefile_lost", Severity::kError,
          "cannot write the statefile slot for " + std::to_string(config_.ha_timeout_ns / kNsPerMs) +
              " ms; staying up",
          json::object());
      if (rules_->is_master()) {
        xapi_->AddMessage("HA_STATEFILE_LOST", 2, "Host", HaUuid(HaHostName(config_.self)), "");
        Persist();
      }
      return;
    case K::kStatefileBack:
      Log("statefile_back", Severity::kInfo, "writes its statefile slot again", json::object());
      return;
    case K::kFence:
      Fence(a.reason);
      return;
    case K::kRejoin:
      live_->Reset(now_ns);
      Log("host_rejoined", Severity::kInfo, HaHostName(config_.self) + " rejoins the pool after a fence",
          json::object());
      return;
    case K::kBecomeMaster:
      BecomeMaster(a.host);
      return;
    case K::kMasterIs:
      xapi_->SetMaster(config_.mgmt_addrs[a.host - 1]);
      return;
    case K::kDeclareDead:
      DeclareDead(a.host, a.reason);
      return;
    case K::kHostBack:
      HostBack(a.host, a.reason);
      return;
  }
}

void HaNode::Fence(const std::string& reason) {
  int64_t t = UtcNs();
  json vms = json::array();
  std::string errors;
  for (int vm : actions_->ResidentVms(config_.self)) {
    vms.push_back(HaVmName(vm));
    Status s = actions_->StopVm(vm);
    if (!s.ok()) errors += (errors.empty() ? "" : "; ") + s.message();
  }
  // A master steps down: point callers at the host most likely to take over.
  for (int p = 1; p <= hosts() && rules_->master() == config_.self; ++p) {
    if (p == config_.self) continue;
    xapi_->SetMaster(config_.mgmt_addrs[p - 1]);
    break;
  }
  std::string why = reason == "watchdog"
                        ? "lost both the network heartbeats and the statefile (watchdog)"
                        : "lost every peer's network heartbeat while the statefile shows peers alive";
  log_(t, "host_fenced", Severity::kError, HaHostName(config_.self) + " fenced itself: " + why,
       {{"host", HaHostName(config_.self)},
        {"by", HaHostName(config_.self)},
        {"reason", reason},
        {"vms", vms},
        {"errors", errors}});
}

void HaNode::BecomeMaster(int previous) {
  Status s = LoadDatabase();
  if (!s.ok()) Log("log", Severity::kError, "new master: " + s.message(), json::object());
  std::set<int> dead;
  json metrics = xapi_->Records("host_metrics");
  for (int i = 1; i <= hosts(); ++i) {
    const std::string ref = HaRef(HaHostName(i) + "/metrics");
    if (i != config_.self && metrics.contains(ref) && metrics[ref].value("live", true) == false)
      dead.insert(i);
  }
  rules_->AdoptDead(dead);
  std::string me = HaHostName(config_.self);
  json pool = xapi_->Record("pool", HaRef("pool"));
  if (pool.is_object()) {
    json oc = pool.value("other_config", json::object());
    oc["ha_master_generation"] = std::to_string(rules_->generation());
    xapi_->Put("pool", HaRef("pool"), [&] {
      pool["other_config"] = oc;
      return pool;
    }());
  }
  int64_t t = UtcNs();
  xapi_->SetMaster(config_.mgmt_addrs[config_.self - 1], HaRef("pool"), HaRef(me));
  xapi_->AddMessage("POOL_MASTER_TRANSITION", 4, "Host", HaUuid(me), "");
  Persist();
  log_(t, "master_changed", Severity::kWarning,
       "pool master " + (previous > 0 ? HaHostName(previous) : std::string("(none)")) + " -> " + me,
       {{"host", me},
        {"by", me},
        {"master", me},
        {"previous_master", previous > 0 ? HaHostName(previous) : ""}});
}

void HaNode::DeclareDead(int host, const std::string& reason) {
  std::string name = HaHostName(host);
  int64_t t = UtcNs();
  xapi_->Mod("host_metrics", HaRef(name + "/metrics"), {{"live", false}});
  xapi_->AddMessage("HA_HOST_FAILED", 3, "Host", HaUuid(name), "Server '" + name + "' has failed");
  log_(t, "host_declared_dead", Severity::kError,
       name + " declared dead by " + HaHostName(config_.self) +
           (reason == "fenced" ? " (its statefile slot says fenced)"
                               : " (no heartbeat and no statefile update for " +
                                     std::to_string(config_.ha_timeout_ns / kNsPerMs) + " ms)"),
       {{"host", name}, {"by", HaHostName(config_.self)}, {"reason", reason}});
  json vms = xapi_->Records("vm");
  for (const auto& [ref, vm] : vms.items()) {
    if (Str(vm, "resident_on") != HaRef(name) || Str(vm, "power_state") != "Running") continue;
    int64_t tv = UtcNs();
    xapi_->Mod("vm", ref, {{"power_state", "Halted"}, {"resident_on", kXapiNullRef}});
    log_(tv, "vm_stopped", Severity::kWarning,
         "VM " + Str(vm, "name_label") + " Halted (was Running on " + name + ")",
         {{"host", name}, {"by", HaHostName(config_.self)}, {"vm", Str(vm, "name_label")}});
  }
  Persist();
}

void HaNode::HostBack(int host, const std::string& reason) {
  std::string name = HaHostName(host);
  int64_t t = UtcNs();
  xapi_->Mod("host_metrics", HaRef(name + "/metrics"), {{"live", true}});
  xapi_->AddMessage("HA_HOST_WAS_FENCED", 4, "Host", HaUuid(name), "");
  Persist();
  log_(t, "host_up", Severity::kInfo, name + " is live again",
       {{"host", name}, {"by", HaHostName(config_.self)}, {"reason", reason}});
}

void HaNode::RestartHalted(int64_t now_ns) {
  // A pool with HA disabled (the lab's ha-off defect) restarts nothing.
  json pool = xapi_->Record("pool", HaRef("pool"));
  if (pool.is_object() && !pool.value("ha_enabled", true)) return;
  json vms = xapi_->Records("vm");
  std::set<int> alive = AliveHosts(last_input_);
  for (const auto& [ref, vm] : vms.items()) {
    if (Str(vm, "power_state") != "Halted" || !vm.value("ha_always_run", false)) {
      halted_.erase(ref);
      continue;
    }
    if (now_ns - halted_.emplace(ref, now_ns).first->second < config_.restart_delay_ns) continue;
    std::string vm_name = Str(vm, "name_label");
    if (vm_name.rfind("vm-", 0) != 0) continue;
    int k = std::atoi(vm_name.c_str() + 3);
    auto retry = retries_.find(k);
    if (retry != retries_.end() && now_ns < retry->second.next_ns) continue;
    std::map<int, int> counts;
    for (int h : alive) counts[h] = 0;
    json now_vms = xapi_->Records("vm");  // earlier restarts of this pass count
    for (const auto& [r2, other] : now_vms.items()) {
      if (Str(other, "power_state") != "Running") continue;
      for (int h : alive)
        if (Str(other, "resident_on") == HaRef(HaHostName(h))) ++counts[h];
    }
    int target = PickRestartHost(counts);
    if (target == 0) return;
    Status s = actions_->StartVm(k, target);
    int64_t t = UtcNs();
    if (!s.ok()) {
      Retry& r = retries_[k];
      int64_t wait = std::max<int64_t>(config_.restart_delay_ns, 100 * kNsPerMs) << std::min(r.failures, 16);
      r.next_ns = now_ns + std::min(wait, config_.retry_max_ns);
      if (++r.failures <= config_.restart_messages) {
        xapi_->AddMessage("HA_PROTECTED_VM_RESTART_FAILED", 2, "VM", Str(vm, "uuid"), s.message());
        Persist();
      }
      Log("log", Severity::kError,
          "VM " + vm_name + " restart on " + HaHostName(target) + " failed (attempt " +
              std::to_string(r.failures) + "): " + s.message(),
          {{"vm", vm_name}, {"host", HaHostName(target)}});
      continue;
    }
    retries_.erase(k);
    xapi_->Mod("vm", ref, {{"power_state", "Running"}, {"resident_on", HaRef(HaHostName(target))}});
    Persist();
    log_(t, "vm_started", Severity::kInfo, "VM " + vm_name + " restarted on " + HaHostName(target),
         {{"host", HaHostName(target)}, {"by", HaHostName(config_.self)}, {"vm", vm_name}});
  }
}

}  // namespace fb::lab
