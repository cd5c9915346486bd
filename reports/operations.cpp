// Platform operations as faults (the xapi injector: a live migration, an
// evacuation, a reboot, a master change). The injector's task events
// (xapi_task_started / xapi_task_done, and xapi_host_vms for an evacuation)
// are dated while it works, so an inject task precedes the fault_injected it
// leads to. Each fault of an injector takes that injector's tasks after its
// previous fault ended, up to its own revert.
#include <algorithm>
#include <set>

#include "reports/correlator.h"

namespace fb::reports {

namespace {

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool XapiEvent(const JournalEvent& e) {
  static const std::set<std::string> kKinds = {"vm_moved",  "vm_started", "vm_stopped",
                                               "host_up",   "host_down",  "master_changed"};
  return kKinds.count(e.kind) > 0;
}

// The xapi probe's own word that the pool master answers again (probes/xapi_probe.cpp).
bool XapiBackEvent(const JournalEvent& e) {
  return e.kind == "probe_recovered" && e.attrs.contains("blind_ms") && e.message.find("pool master") != std::string::npos;
}

constexpr int64_t kMasterChangeTailNs = 10'000'000'000;

}  // namespace

void ComputeOperations(const RunJournal& j, std::vector<FaultWindow>* faults) {
  const bool saw_xapi = std::any_of(j.events.begin(), j.events.end(), XapiEvent);
  std::map<std::string, int64_t> after;  // injector -> end of its previous fault
  for (FaultWindow& f : *faults) {
    int64_t from = after.count(f.injector) ? after[f.injector] : INT64_MIN;
    int64_t to = f.revert_utc_ns.value_or(f.settle_end_utc_ns);
    after[f.injector] = to;
    OperationView op;
    std::map<std::string, size_t> by_ref;
    for (const auto& e : j.events) {
      if (e.source != f.injector || e.t_utc_ns <= from || e.t_utc_ns > to) continue;
      if (e.kind == "xapi_task_started") {
        OperationTask t;
        t.method = Str(e.attrs, "method");
        t.about = Str(e.attrs, "about");
        t.step = Str(e.attrs, "step");
        t.start_utc_ns = e.t_utc_ns;
        if (op.action.empty()) op.action = Str(e.attrs, "action");
        by_ref[Str(e.attrs, "task")] = op.tasks.size();
        op.tasks.push_back(t);
      } else if (e.kind == "xapi_task_done") {
        auto it = by_ref.find(Str(e.attrs, "task"));
        if (it == by_ref.end()) continue;
        OperationTask& t = op.tasks[it->second];
        t.end_utc_ns = e.t_utc_ns;
        t.status = Str(e.attrs, "status");
        t.error = Str(e.attrs, "error");
        if (e.attrs.contains("duration_ms") && e.attrs["duration_ms"].is_number())
          t.duration_ms = e.attrs["duration_ms"].get<double>();
      } else if (e.kind == "xapi_host_vms") {
        op.host = Str(e.attrs, "host");
        if (e.attrs.contains("vms") && e.attrs["vms"].is_array()) {
          for (const auto& v : e.attrs["vms"])
            if (v.is_string()) op.host_vms.push_back(v.get<std::string>());
        }
      }
    }
    if (op.tasks.empty()) continue;
    // The operation: the inject tasks, from the first start to the last end.
    op.start_utc_ns = INT64_MAX;
    op.end_utc_ns = INT64_MIN;
    for (const auto& t : op.tasks) {
      if (t.step == "revert") continue;
      op.start_utc_ns = std::min(op.start_utc_ns, t.start_utc_ns);
      op.end_utc_ns = std::max(op.end_utc_ns, t.end_utc_ns.value_or(f.inject_utc_ns));
    }
    if (op.start_utc_ns == INT64_MAX) op.start_utc_ns = op.end_utc_ns = f.inject_utc_ns;
    // Every load's longest pause around it (a stall ends at the completion
    // after the switchover: up to 1 s after the task says done).
    bool local = j.agents.empty() || j.run_info.contains("load_summary");
    if (local) op.pause_ms["local"] = 0;
    for (const auto& a : j.agents) op.pause_ms[a] = 0;
    for (const auto& s : j.stalls) {
      if (s.end_utc_ns <= op.start_utc_ns || s.start_utc_ns > op.end_utc_ns + 1'000'000'000) continue;
      double& p = op.pause_ms[s.agent.empty() ? "local" : s.agent];
      p = std::max(p, double(s.length_ns()) / 1e6);
    }
    // What XAPI said moved, until the fault was reverted.
    op.saw_moves = saw_xapi;
    std::set<std::string> moved_off;
    for (const auto& e : j.events) {
      if (e.kind != "vm_moved" || e.t_utc_ns < op.start_utc_ns || e.t_utc_ns > to) continue;
      std::string vm = Str(e.attrs, "vm"), prev = Str(e.attrs, "previous_host");
      op.moved.push_back(vm + ": " + prev + " -> " + Str(e.attrs, "host"));
      if (op.host.empty() || prev == op.host) moved_off.insert(vm);
    }
    for (const auto& vm : op.host_vms)
      if (!moved_off.count(vm)) op.not_moved.push_back(vm);
    if (op.action == "designate_master") {
      bool watched = saw_xapi;
      double blind = 0;
      for (const auto& e : j.events) {
        if (e.t_utc_ns < op.start_utc_ns || e.t_utc_ns > to + kMasterChangeTailNs) continue;
        if (e.kind == "master_changed" && op.new_master.empty() && e.source != f.injector) {
          op.new_master = Str(e.attrs, "master");
          if (op.new_master.empty()) op.new_master = Str(e.attrs, "host");
        }
        if (e.kind == "xapi_master_ready" && e.source == f.injector && Str(e.attrs, "step") == "inject" &&
            e.attrs.contains("wait_ms") && e.attrs["wait_ms"].is_number() && !op.master_ready_ms) {
          op.master_ready_ms = e.attrs["wait_ms"].get<double>();
          if (op.new_master.empty()) op.new_master = Str(e.attrs, "master");
        }
        if (XapiBackEvent(e)) {
          watched = true;
          if (e.attrs["blind_ms"].is_number()) blind = std::max(blind, e.attrs["blind_ms"].get<double>());
        }
      }
      if (watched) op.xapi_unavailable_ms = blind;
    }
    f.operation = std::move(op);
  }
}

}  // namespace fb::reports
