#include "agent/workload_json.h"

#include <algorithm>

#include "core/units.h"

namespace fb {

const std::vector<std::string>& WorkloadKeys() {
  static const std::vector<std::string> keys = {"engine",
                                                "size",
                                                "offset",
                                                "access_specs",
                                                "bs",
                                                "rw",
                                                "rwmixread",
                                                "jobs",
                                                "queue_depth",
                                                "duration",
                                                "ramp",
                                                "rate_iops",
                                                "catch_up",
                                                "interval",
                                                "stall_threshold",
                                                "stuck_threshold",
                                                "dedupe",
                                                "compress",
                                                "max_errors",
                                                "direct",
                                                "allow_destroy",
                                                "seed",
                                                "verify",
                                                "verify_block",
                                                "ack_log",
                                                "path_policy",
                                                "io_timeout",
                                                "checker_interval",
                                                "no_path_timeout",
                                                "sessions_per_path"};
  return keys;
}

namespace {

std::string Text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

class Reader {
 public:
  explicit Reader(const nlohmann::json& j) : j_(j) {}
  Status status;
  bool Has(const char* k) const { return j_.contains(k); }
  const nlohmann::json& At(const char* k) const { return j_.at(k); }
  void Fail(const std::string& key, const std::string& msg) {
    if (status.ok()) status = Status::InvalidInput("workload." + key + ": " + msg);
  }
  void Str(const char* k, std::string* out) {
    if (!Has(k)) return;
    if (!At(k).is_string()) return Fail(k, "must be a string");
    *out = At(k).get<std::string>();
  }
  void Size(const char* k, uint64_t* out) {
    if (!Has(k)) return;
    if (At(k).is_number_unsigned()) {
      *out = At(k).get<uint64_t>();
      return;
    }
    auto r = ParseSize(Text(At(k)));
    if (!r.ok()) return Fail(k, r.status().message());
    *out = *r;
  }
  void Duration(const char* k, int64_t* out) {
    if (!Has(k)) return;
    auto r = ParseDuration(Text(At(k)));
    if (!r.ok()) return Fail(k, r.status().message());
    *out = *r;
  }
  void Percent(const char* k, double* out) {
    if (!Has(k)) return;
    auto r = ParsePercent(Text(At(k)));
    if (!r.ok()) return Fail(k, r.status().message());
    *out = *r;
  }
  template <typename T>
  void Integer(const char* k, T* out, int64_t lo, int64_t hi) {
    if (!Has(k)) return;
    if (!At(k).is_number_integer()) return Fail(k, "must be an integer");
    int64_t v = At(k).get<int64_t>();
    if (v < lo || v > hi) return Fail(k, "must be " + std::to_string(lo) + ".." + std::to_string(hi));
    *out = T(v);
  }
  void Bool(const char* k, bool* out) {
    if (!Has(k)) return;
    if (!At(k).is_boolean()) return Fail(k, "must be true or false");
    *out = At(k).get<bool>();
  }

 private:
  const nlohmann::json& j_;
};

void ReadTarget(Reader& r, const nlohmann::json& t, Workload* w) {
  auto add_list = [&](const nlohmann::json& l, const std::string& key) {
    if (!l.is_array()) return r.Fail(key, "must be a list");
    for (const auto& p : l) {
      if (!p.is_string()) return r.Fail(key, "must be a list of strings");
      w->targets.push_back(p.get<std::string>());
    }
  };
  if (t.is_string()) {
    w->targets = {t.get<std::string>()};
  } else if (t.is_array()) {
    add_list(t, "target");
  } else if (t.is_object()) {
    for (const auto& [k, v] : t.items()) {
      if (k == "path" && v.is_string())
        w->targets.push_back(v.get<std::string>());
      else if (k == "paths")
        add_list(v, "target.paths");
      else if (k == "create_size") {
        auto s = v.is_number_unsigned() ? Result<uint64_t>(v.get<uint64_t>()) : ParseSize(Text(v));
        if (!s.ok()) return r.Fail("target.create_size", s.status().message());
        w->create_size_bytes = *s;
      } else
        return r.Fail("target." + k, "unknown key (path, paths, create_size)");
    }
  } else {
    r.Fail("target", "must be a path, a list of paths or {path|paths, create_size}");
  }
  if (r.status.ok() && w->targets.empty()) r.Fail("target", "names no target");
}

}  // namespace

Result<Workload> WorkloadFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::InvalidInput("workload: must be a JSON object");
  for (const auto& [k, v] : j.items()) {
    if (k != "target" && std::find(WorkloadKeys().begin(), WorkloadKeys().end(), k) == WorkloadKeys().end()) {
      return Status::InvalidInput("workload." + k + ": unknown key");
    }
  }
  Workload w;
  Reader r(j);
  if (!r.Has("target")) return Status::InvalidInput("workload.target: missing");
  ReadTarget(r, r.At("target"), &w);
  r.Str("engine", &w.engine);
  r.Size("size", &w.size_bytes);
  r.Size("offset", &w.offset_bytes);
  if (r.Has("access_specs")) {
    if (r.Has("bs") || r.Has("rw") || r.Has("rwmixread"))
      r.Fail("access_specs", "use either access_specs or bs/rw/rwmixread");
    const auto& l = r.At("access_specs");
    if (!l.is_array() || l.empty())
      r.Fail("access_specs", "must be a non-empty list of \"weight:bs:read%:random%[:align]\"");
    w.specs.clear();
    for (size_t i = 0; r.status.ok() && i < l.size(); ++i) {
      auto s = ParseAccessSpec(Text(l[i]));
      if (!s.ok())
        r.Fail("access_specs[" + std::to_string(i) + "]", s.status().message());
      else
        w.specs.push_back(*s);
    }
  } else {
    AccessSpec spec;
    uint64_t bs = spec.block_size;
    r.Size("bs", &bs);
    if (bs == 0 || bs > UINT32_MAX) r.Fail("bs", "out of range");
    spec.block_size = uint32_t(bs);
    double mix = 0.7;
    r.Percent("rwmixread", &mix);
    std::string rw = "randread";
    r.Str("rw", &rw);
    Status st = ApplyFioRw(rw, mix, &spec);
    if (!st.ok()) r.Fail("rw", st.message());
    w.specs = {spec};
  }
  r.Integer("jobs", &w.jobs, 1, 256);
  r.Integer("queue_depth", &w.queue_depth, 1, 4096);
  r.Integer("sessions_per_path", &w.iscsi.sessions_per_path, 1, kMaxSessionsPerPath);
  r.Duration("duration", &w.duration_ns);
  r.Duration("ramp", &w.ramp_ns);
  r.Duration("interval", &w.interval_ns);
  r.Duration("stall_threshold", &w.stall_threshold_ns);
  r.Duration("stuck_threshold", &w.stuck_threshold_ns);
  r.Duration("io_timeout", &w.iscsi.io_timeout_ns);
  r.Duration("checker_interval", &w.iscsi.checker_interval_ns);
  r.Duration("no_path_timeout", &w.iscsi.no_path_timeout_ns);
  if (r.Has("rate_iops")) {
    if (!r.At("rate_iops").is_number() || r.At("rate_iops").get<double>() < 0)
      r.Fail("rate_iops", "must be a number >= 0");
    else
      w.rate_iops = r.At("rate_iops").get<double>();
  }
  r.Percent("dedupe", &w.dedupe_fraction);
  r.Percent("compress", &w.compress_fraction);
  r.Integer("max_errors", &w.max_errors, 0, INT64_MAX / 2);
  r.Integer("seed", &w.seed, 0, INT64_MAX / 2);
  std::string policy;
  r.Str("path_policy", &policy);
  if (policy == "failover")
    w.iscsi.path_policy = PathPolicy::kFailover;
  else if (!policy.empty() && policy != "round-robin")
    r.Fail("path_policy", "must be \"round-robin\" or \"failover\"");
  uint64_t vb = 0;
  r.Size("verify_block", &vb);
  w.verify_block_bytes = uint32_t(std::min<uint64_t>(vb, UINT32_MAX));
  r.Str("ack_log", &w.ack_log);
  if (!w.ack_log.empty()) w.verify = true;
  r.Bool("catch_up", &w.rate_catch_up);
  r.Bool("direct", &w.direct);
  r.Bool("allow_destroy", &w.allow_destroy);
  r.Bool("verify", &w.verify);
  if (!r.status.ok()) return r.status;
  Status st = ValidateWorkload(w);
  if (!st.ok()) return st.With("workload");
  return w;
}

}  // namespace fb
