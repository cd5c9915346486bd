#include "reports/plan_view.h"

#include <yaml-cpp/yaml.h>

#include "core/units.h"

namespace fb::reports {

namespace {

// Collects the first problem with its position; later ones are not needed to
// explain why a report cannot be built.
class ViewParser {
 public:
  explicit ViewParser(std::string origin) : origin_(std::move(origin)) {}

  std::optional<int64_t> Duration(const YAML::Node& n) {
    if (!n.IsScalar()) return Fail(n, "expected a duration");
    auto d = ParseDuration(n.Scalar());
    if (!d.ok()) return Fail(n, d.status().message());
    return *d;
  }
  std::optional<int64_t> Integer(const YAML::Node& n) {
    if (!n.IsScalar()) return Fail(n, "expected a whole number");
    try {
      size_t used = 0;
      long long v = std::stoll(n.Scalar(), &used);
      if (used != n.Scalar().size() || v < 0) return Fail(n, "expected a whole number >= 0, got \"" + n.Scalar() + "\"");
      return int64_t(v);
    } catch (const std::exception&) {
      return Fail(n, "expected a whole number, got \"" + n.Scalar() + "\"");
    }
  }
  LimitSet Limits(const YAML::Node& n) {
    LimitSet l;
    if (!n.IsMap()) return l;
    if (n["max_stall"]) l.max_stall_ns = Duration(n["max_stall"]);
    if (n["max_latency"]) l.max_latency_ns = Duration(n["max_latency"]);
    if (n["io_errors"]) {
      if (auto v = Integer(n["io_errors"])) l.io_errors = uint64_t(*v);
    }
    if (n["lost_writes"]) {
      if (auto v = Integer(n["lost_writes"])) l.lost_writes = uint64_t(*v);
    }
    if (n["max_pause"]) l.max_pause_ns = Duration(n["max_pause"]);
    if (n["all_vms_moved"] && n["all_vms_moved"].IsScalar()) l.all_vms_moved = n["all_vms_moved"].Scalar() == "true";
    if (const YAML::Node r = n["recovery"]; r && r.IsMap()) {
      RecoveryLimit rec;
      if (r["to"] && r["to"].IsScalar()) {
        std::string text = r["to"].Scalar();
        const std::string suffix = " of baseline";
        if (text.size() > suffix.size() && text.ends_with(suffix)) text.resize(text.size() - suffix.size());
        auto pct = ParsePercent(text);
        if (pct.ok()) rec.to_fraction = *pct;
        else Fail(r["to"], pct.status().message());
      }
      if (r["within"]) rec.within_ns = Duration(r["within"]).value_or(0);
      l.recovery = rec;
    }
    return l;
  }
  void Platform(const YAML::Node& n, PlatformTimeouts* p) {
    if (!n.IsMap()) return;
    if (const YAML::Node i = n["iscsi"]; i && i.IsMap()) {
      if (i["noop_out_interval"]) p->iscsi_noop_out_interval_ns = Duration(i["noop_out_interval"]);
      if (i["noop_out_timeout"]) p->iscsi_noop_out_timeout_ns = Duration(i["noop_out_timeout"]);
      if (i["replacement_timeout"]) p->iscsi_replacement_timeout_ns = Duration(i["replacement_timeout"]);
    }
    if (const YAML::Node m = n["multipath"]; m && m.IsMap()) {
      if (m["polling_interval"]) p->multipath_polling_interval_ns = Duration(m["polling_interval"]);
      if (const YAML::Node r = m["no_path_retry"]) {
        if (r.IsScalar() && (r.Scalar() == "queue" || r.Scalar() == "fail")) {
          p->multipath_no_path_retry = r.Scalar() == "queue" ? -1 : 0;
        } else if (auto v = Integer(r)) {
          p->multipath_no_path_retry = int(*v);
        }
      }
    }
    if (const YAML::Node h = n["ha"]; h && h.IsMap() && h["timeout"]) p->ha_timeout_ns = Duration(h["timeout"]);
    if (const YAML::Node a = n["array"]; a && a.IsMap() && a["pause"]) p->array_pause_ns = Duration(a["pause"]);
  }
  void Engine(const YAML::Node& w, PlatformTimeouts* p) {
    if (!w.IsMap() || !w["engine"] || !w["engine"].IsScalar() || w["engine"].Scalar() != "libiscsi") return;
    if (w["io_timeout"]) p->engine_io_timeout_ns = Duration(w["io_timeout"]);
    if (w["no_path_timeout"]) p->engine_no_path_timeout_ns = Duration(w["no_path_timeout"]);
  }
  const Status& status() const { return status_; }

 private:
  std::nullopt_t Fail(const YAML::Node& n, const std::string& msg) {
    if (status_.ok()) {
      YAML::Mark m = n.Mark();
      status_ = Status::InvalidInput(origin_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) +
                                     ": " + msg);
    }
    return std::nullopt;
  }
  std::string origin_;
  Status status_;
};

}  // namespace

Result<PlanView> ParsePlanView(const std::string& text, const std::string& origin) {
  PlanView v;
  if (text.empty()) return v;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidInput(origin + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                                ": " + e.msg);
  }
  if (!root.IsMap()) return Status::InvalidInput(origin + ": not a plan (expected a YAML map)");
  ViewParser p(origin);
  try {
    v.present = true;
    if (root["name"] && root["name"].IsScalar()) v.name = root["name"].Scalar();
    if (root["repeat"]) v.repeat = int(p.Integer(root["repeat"]).value_or(1));
    if (const YAML::Node e = root["expect"]; e && e.IsMap()) {
      v.overall = p.Limits(e);
      for (const char* section : {"faults", "phases"}) {
        const YAML::Node m = e[section];
        if (!m || !m.IsMap()) continue;
        for (const auto& kv : m) {
          (section[0] == 'f' ? v.faults : v.phases)[kv.first.as<std::string>()] = p.Limits(kv.second);
        }
      }
    }
    if (root["platform"]) p.Platform(root["platform"], &v.platform);
    if (root["workload"]) p.Engine(root["workload"], &v.platform);
  } catch (const YAML::Exception& e) {
    return Status::InvalidInput(origin + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!p.status().ok()) return p.status();
  return v;
}

}  // namespace fb::reports
