// target: and workload: of a plan, parsed into one Workload, and the check that
// a writing workload may destroy what its target holds.
#include <sys/stat.h>

#include <algorithm>

#include "agent/workload_json.h"
#include "core/units.h"
#include "loadgen/local_target.h"
#include "plans/plan_parser.h"

namespace fb {

void ParseTarget(PlanParser& p, const YAML::Node& node, Workload* w) {
  const std::string path = "target";
  if (node.IsScalar()) {
    w->targets = {node.Scalar()};
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      if (auto s = p.Scalar(node[i], path + "[" + std::to_string(i) + "]")) w->targets.push_back(*s);
    }
  } else if (p.CheckMap(node, path, {"path", "paths", "create_size"})) {
    if (node["path"] && node["paths"]) p.Problem(node, path, "use either \"path\" or \"paths\"");
    if (node["path"]) {
      if (auto s = p.Scalar(node["path"], "target.path")) w->targets = {*s};
    }
    if (node["paths"]) {
      const YAML::Node& l = node["paths"];
      if (!l.IsSequence()) p.Problem(l, "target.paths", "must be a list");
      for (size_t i = 0; l.IsSequence() && i < l.size(); ++i) {
        if (auto s = p.Scalar(l[i], "target.paths[" + std::to_string(i) + "]")) w->targets.push_back(*s);
      }
    }
    if (node["create_size"]) {
      if (auto v = p.Size(node["create_size"], "target.create_size")) w->create_size_bytes = *v;
    }
  }
  if (w->targets.empty()) p.Problem(node, path, "names no target (a file, a block device or iSCSI URLs)");
}

namespace {

void ParseAccessSpecs(PlanParser& p, const YAML::Node& node, Workload* w) {
  const std::string path = "workload.access_specs";
  if (!node.IsSequence() || node.size() == 0) {
    p.Problem(node, path, "must be a non-empty list of \"weight:bs:read%:random%[:align]\" specs");
    return;
  }
  w->specs.clear();
  for (size_t i = 0; i < node.size(); ++i) {
    std::string ip = path + "[" + std::to_string(i) + "]";
    if (auto s = p.Scalar(node[i], ip)) {
      auto spec = ParseAccessSpec(*s);
      if (spec.ok())
        w->specs.push_back(*spec);
      else
        p.Problem(node[i], ip, spec.status().message());
    }
  }
}

}  // namespace

void ParseWorkload(PlanParser& p, const YAML::Node& node, Workload* w) {
  const std::string path = "workload";
  if (!p.CheckMap(node, path, WorkloadKeys())) return;
  auto at = [&](const char* k) { return JoinPath(path, k); };
  if (node["engine"]) {
    if (auto s = p.Scalar(node["engine"], at("engine"))) w->engine = *s;
  }
  if (node["size"]) {
    if (auto v = p.Size(node["size"], at("size"))) w->size_bytes = *v;
  }
  if (node["offset"]) {
    if (auto v = p.Size(node["offset"], at("offset"))) w->offset_bytes = *v;
  }
  bool shortcuts = node["bs"] || node["rw"] || node["rwmixread"];
  if (node["access_specs"]) {
    if (shortcuts)
      p.Problem(node["access_specs"], at("access_specs"), "use either access_specs or bs/rw/rwmixread");
    ParseAccessSpecs(p, node["access_specs"], w);
  } else {
    AccessSpec spec;
    if (node["bs"]) {
      if (auto v = p.Size(node["bs"], at("bs"))) {
        if (*v == 0 || *v > UINT32_MAX)
          p.Problem(node["bs"], at("bs"), "out of range");
        else
          spec.block_size = uint32_t(*v);
      }
    }
    double mix = 0.7;
    if (node["rwmixread"]) {
      if (auto v = p.Percent(node["rwmixread"], at("rwmixread"))) mix = *v;
    }
    std::string rw = "randread";
    if (node["rw"]) {
      if (auto s = p.Scalar(node["rw"], at("rw"))) rw = *s;
    }
    Status st = ApplyFioRw(rw, mix, &spec);
    if (!st.ok()) p.Problem(node["rw"], at("rw"), st.message());
    w->specs = {spec};
  }
  if (node["jobs"]) {
    if (auto v = p.Integer(node["jobs"], at("jobs"), 1, 256)) w->jobs = int(*v);
  }
  if (node["queue_depth"]) {
    if (auto v = p.Integer(node["queue_depth"], at("queue_depth"), 1, 4096)) w->queue_depth = int(*v);
  }
  struct Dur {
    const char* key;
    int64_t* out;
  };
  for (Dur d :
       {Dur{"duration", &w->duration_ns}, Dur{"ramp", &w->ramp_ns}, Dur{"interval", &w->interval_ns},
        Dur{"stall_threshold", &w->stall_threshold_ns}, Dur{"stuck_threshold", &w->stuck_threshold_ns},
        Dur{"io_timeout", &w->iscsi.io_timeout_ns}, Dur{"checker_interval", &w->iscsi.checker_interval_ns},
        Dur{"no_path_timeout", &w->iscsi.no_path_timeout_ns}}) {
    if (node[d.key]) {
      if (auto v = p.Duration(node[d.key], at(d.key))) *d.out = *v;
    }
  }
  if (node["rate_iops"]) {
    if (auto v = p.Number(node["rate_iops"], at("rate_iops"), 0)) w->rate_iops = *v;
  }
  if (node["dedupe"]) {
    if (auto v = p.Percent(node["dedupe"], at("dedupe"))) w->dedupe_fraction = *v;
  }
  if (node["compress"]) {
    if (auto v = p.Percent(node["compress"], at("compress"))) w->compress_fraction = *v;
  }
  if (node["max_errors"]) {
    if (auto v = p.Integer(node["max_errors"], at("max_errors"), 0, INT64_MAX / 2))
      w->max_errors = uint64_t(*v);
  }
  if (node["path_policy"]) {
    if (auto s = p.Scalar(node["path_policy"], at("path_policy"))) {
      if (*s == "round-robin")
        w->iscsi.path_policy = PathPolicy::kRoundRobin;
      else if (*s == "failover")
        w->iscsi.path_policy = PathPolicy::kFailover;
      else
        p.Problem(node["path_policy"], at("path_policy"), "must be \"round-robin\" or \"failover\"");
    }
  }
  if (node["sessions_per_path"]) {
    if (auto v = p.Integer(node["sessions_per_path"], at("sessions_per_path"), 1, kMaxSessionsPerPath))
      w->iscsi.sessions_per_path = int(*v);
  }
  if (node["verify_block"]) {
    if (auto v = p.Size(node["verify_block"], at("verify_block")))
      w->verify_block_bytes = uint32_t(std::min<uint64_t>(*v, UINT32_MAX));
  }
  if (node["ack_log"]) {
    if (auto s = p.Scalar(node["ack_log"], at("ack_log"))) {
      w->ack_log = *s;
      w->verify = true;
    }
  }
  if (node["seed"]) {
    if (auto v = p.Integer(node["seed"], at("seed"), 0, INT64_MAX / 2)) w->seed = uint64_t(*v);
  }
  struct Flag {
    const char* key;
    bool* out;
  };
  for (Flag f : {Flag{"catch_up", &w->rate_catch_up}, Flag{"direct", &w->direct},
                 Flag{"allow_destroy", &w->allow_destroy}, Flag{"verify", &w->verify}}) {
    if (node[f.key]) {
      if (auto v = p.Bool(node[f.key], at(f.key))) *f.out = *v;
    }
  }
}

void CheckDestructive(PlanParser& p, const YAML::Node& target, const Workload& w) {
  if (!w.HasWrites() || w.allow_destroy) return;
  for (const auto& t : w.targets) {
    struct stat st;
    std::string what;
    if (t.rfind("iscsi://", 0) == 0) {
      what = "the iSCSI LUN " + t;
    } else if (stat(t.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) {
      what = "the block device " + t;
      auto sig = FindSignature(t);
      if (sig.ok() && !sig->empty()) what += " (it holds " + *sig + ")";
      std::string use = FindUse(t);
      if (!use.empty()) what += " (" + use + ")";
    } else {
      continue;
    }
    p.Problem(target, "target",
              "the workload writes to " + what +
                  ", destroying its data; set workload.allow_destroy: true if that is intended");
  }
}

}  // namespace fb
