// Stall budgets: the pause each platform timeout the plan states allows
// (docs/platform.md). A silently lost iSCSI path is noticed after the NOP-Out
// interval plus its timeout, then the session waits replacement_timeout before
// failing the I/O to multipath, which retries it on another path. When every
// path is gone, multipath queues for no_path_retry x polling_interval ("queue":
// for ever). An HA host failure is declared after the HA timeout. faultbench's
// own libiscsi engine fails a path whose I/O is older than io_timeout (checked
// every io_timeout/20, 1..50 ms) and retries it on another; with no path left
// it waits no_path_timeout. An array that loses its peer pauses I/O until the
// mediator race is decided (platform.array.pause, as the site states it).
#include <algorithm>

#include "core/units.h"
#include "reports/correlator.h"

namespace fb::reports {

std::vector<Budget> StallBudgets(const PlatformTimeouts& p) {
  std::vector<Budget> out;
  if (p.iscsi_noop_out_interval_ns || p.iscsi_noop_out_timeout_ns || p.iscsi_replacement_timeout_ns) {
    Budget b{"iscsi_path_loss", "path", "", 0};
    auto add = [&](const char* name, const std::optional<int64_t>& v) {
      if (!v) return;
      b.settings += (b.settings.empty() ? "" : " + ") + std::string(name) + " " + FormatDuration(*v);
      b.allows_ns += *v;
    };
    add("iscsi.noop_out_interval", p.iscsi_noop_out_interval_ns);
    add("iscsi.noop_out_timeout", p.iscsi_noop_out_timeout_ns);
    add("iscsi.replacement_timeout", p.iscsi_replacement_timeout_ns);
    if (p.multipath_polling_interval_ns) {
      // multipath notices the failed path at its next check at the latest.
      add("multipath.polling_interval", p.multipath_polling_interval_ns);
    }
    out.push_back(b);
  } else if (p.multipath_polling_interval_ns) {
    out.push_back({"multipath_path_check", "path",
                   "multipath.polling_interval " + FormatDuration(*p.multipath_polling_interval_ns),
                   *p.multipath_polling_interval_ns});
  }
  if (p.multipath_no_path_retry) {
    int n = *p.multipath_no_path_retry;
    if (n < 0) {
      out.push_back({"multipath_no_path_retry", "no_path",
                     "multipath.no_path_retry queue (I/O queued until a path returns)", -1});
    } else if (p.multipath_polling_interval_ns) {
      out.push_back({"multipath_no_path_retry", "no_path",
                     "multipath.no_path_retry " + std::to_string(n) + " x polling_interval " +
                         FormatDuration(*p.multipath_polling_interval_ns),
                     int64_t(n) * *p.multipath_polling_interval_ns});
    }
  }
  if (p.ha_timeout_ns) {
    out.push_back({"ha_failover", "ha", "ha.timeout " + FormatDuration(*p.ha_timeout_ns), *p.ha_timeout_ns});
  }
  if (p.array_pause_ns) {
    out.push_back({"array_pause", "array", "array.pause " + FormatDuration(*p.array_pause_ns), *p.array_pause_ns});
  }
  if (p.engine_io_timeout_ns) {
    int64_t io = *p.engine_io_timeout_ns;
    int64_t scan = std::clamp<int64_t>(io / 20, 1'000'000, 50'000'000);
    std::string settings = "workload.io_timeout " + FormatDuration(io) + " + the engine's timeout check " +
                           FormatDuration(scan);
    out.push_back({"engine_path_failover", "path", settings, io + scan});
    if (p.engine_no_path_timeout_ns && *p.engine_no_path_timeout_ns > 0) {
      out.push_back({"engine_no_path", "no_path",
                     settings + " + workload.no_path_timeout " + FormatDuration(*p.engine_no_path_timeout_ns),
                     io + scan + *p.engine_no_path_timeout_ns});
    }
  }
  return out;
}

// The family of budgets an explaining event points at: a path's, HA's or an
// array's; "" when its kind says nothing about which setting bounds the stall.
std::string BudgetFamily(const JournalEvent& e) {
  const std::string& k = e.kind;
  auto starts = [&](const char* p) { return k.rfind(p, 0) == 0; };
  // A path that came back ended a wait for any path; a failed one, a failover.
  if (k == "path_reinstated" || k == "session_restored") return "no_path";
  if (starts("path_") || starts("session_") || starts("map_") || e.source == "libiscsi") return "path";
  if (starts("host_") || starts("vm_") || starts("master_") || starts("agent_") || starts("ha_")) return "ha";
  if (starts("replication_") || starts("mediator_") || starts("resync_") || starts("io_paused") ||
      starts("io_resumed") || starts("array_") || starts("pod_"))
    return "array";
  return "";
}

void ApplyBudgets(const std::vector<Budget>& all, StallView* v) {
  if (all.empty()) {
    v->budget_note = "no stated setting bounds it (the plan states no platform timeouts and no io_timeout)";
    return;
  }
  // Held against the settings of what ended it (else what began it) when the
  // plan states any of that family; else against every budget.
  std::vector<Budget> budgets;
  for (const auto* e : {&v->ended_by, &v->started_by}) {
    if (!*e || !budgets.empty()) continue;
    std::string family = BudgetFamily(**e);
    for (const auto& b : all) {
      if (!family.empty() && b.family == family) budgets.push_back(b);
    }
  }
  if (budgets.empty()) budgets = all;
  int64_t len = v->stall.length_ns();
  // -1 (unbounded) sorts above every bound.
  auto less = [](int64_t a, int64_t b) { return b < 0 ? a >= 0 : a >= 0 && a < b; };
  const Budget* smallest_cover = nullptr;
  const Budget* largest = nullptr;
  for (const auto& b : budgets) {
    bool covers = b.allows_ns < 0 || len <= b.allows_ns;
    if (covers && (!smallest_cover || less(b.allows_ns, smallest_cover->allows_ns))) smallest_cover = &b;
    if (!largest || less(largest->allows_ns, b.allows_ns)) largest = &b;
  }
  if (smallest_cover) {
    v->explained_by = smallest_cover->name;
    v->budget_note =
        "within " + smallest_cover->name + " (" +
        (smallest_cover->allows_ns < 0 ? "unbounded" : FormatDuration(smallest_cover->allows_ns)) + ": " +
        smallest_cover->settings + ")";
  } else {
    v->over_budget = true;
    v->explained_by = largest->name;
    v->budget_note = "exceeds " + largest->name + " (" + FormatDuration(largest->allows_ns) + ": " +
                     largest->settings + ") by " + FormatDuration(len - largest->allows_ns);
  }
}

}  // namespace fb::reports
