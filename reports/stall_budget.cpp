// Stall budgets: the pause each platform timeout the plan states allows
// (docs/platform.md). A silently lost iSCSI path is noticed after the NOP-Out
// interval plus its timeout, then the session waits replacement_timeout before
// failing the I/O to multipath, which retries it on another path. When every
// path is gone, multipath queues for no_path_retry x polling_interval ("queue":
// for ever). An HA host failure is declared after the HA timeout.
#include "core/units.h"
#include "reports/correlator.h"

namespace fb::reports {

std::vector<Budget> StallBudgets(const PlatformTimeouts& p) {
  std::vector<Budget> out;
  if (p.iscsi_noop_out_interval_ns || p.iscsi_noop_out_timeout_ns || p.iscsi_replacement_timeout_ns) {
    Budget b{"iscsi_path_loss", "", 0};
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
    out.push_back({"multipath_path_check",
                   "multipath.polling_interval " + FormatDuration(*p.multipath_polling_interval_ns),
                   *p.multipath_polling_interval_ns});
  }
  if (p.multipath_no_path_retry) {
    int n = *p.multipath_no_path_retry;
    if (n < 0) {
      out.push_back(
          {"multipath_no_path_retry", "multipath.no_path_retry queue (I/O queued until a path returns)", -1});
    } else if (p.multipath_polling_interval_ns) {
      out.push_back({"multipath_no_path_retry",
                     "multipath.no_path_retry " + std::to_string(n) + " x polling_interval " +
                         FormatDuration(*p.multipath_polling_interval_ns),
                     int64_t(n) * *p.multipath_polling_interval_ns});
    }
  }
  if (p.ha_timeout_ns) {
    out.push_back({"ha_failover", "ha.timeout " + FormatDuration(*p.ha_timeout_ns), *p.ha_timeout_ns});
  }
  return out;
}

void ApplyBudgets(const std::vector<Budget>& budgets, StallView* v) {
  if (budgets.empty()) return;
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
