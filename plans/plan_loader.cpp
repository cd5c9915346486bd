// The plan loader: YAML -> Plan, every problem at once (plan_loader.h). The
// document, target, workload and plug-ins are here; steps and expectations are in
// plan_timeline.cpp.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "agent/workload_json.h"
#include "core/jsonl_writer.h"
#include "core/units.h"
#include "injectors/injector.h"
#include "loadgen/local_target.h"
#include "metrics/metrics_exporter.h"
#include "plans/plan_parser.h"
#include "probes/probe.h"

namespace fb {

std::string SourceLoc::ToString() const {
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

std::string PlanProblem::ToString() const {
  return loc.ToString() + ": " + (path.empty() ? "" : path + ": ") + message;
}

Status LoadedPlan::ToStatus() const {
  if (problems.empty()) return Status::Ok();
  std::string all;
  for (const auto& p : problems) all += (all.empty() ? "" : "\n") + p.ToString();
  return Status::InvalidInput(all);
}

const char* StepActionName(StepAction a) {
  switch (a) {
    case StepAction::kNone:
      return "phase";
    case StepAction::kInject:
      return "inject";
    case StepAction::kRevert:
      return "revert";
    case StepAction::kMark:
      return "mark";
    case StepAction::kWaitFor:
      return "wait_for";
    case StepAction::kEnd:
      return "end";
  }
  return "?";
}

const PluginSpec* Plan::FindInjector(const std::string& n) const {
  for (const auto& i : injectors) {
    if (i.name == n) return &i;
  }
  return nullptr;
}

bool IsSecretKey(const std::string& key) {
  std::string k;
  for (char c : key) k += char(std::tolower(static_cast<unsigned char>(c)));
  for (const char* word :
       {"password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "credential"}) {
    if (k.find(word) != std::string::npos) return true;
  }
  return false;
}

bool IsSecretReference(const std::string& key) {
  auto ends = [&](const char* s) {
    size_t n = strlen(s);
    return key.size() > n && key.compare(key.size() - n, n, s) == 0;
  };
  return ends("_env") || ends("_file");
}

// ---- PlanParser: positions and typed scalars ----

SourceLoc PlanParser::Loc(const YAML::Node& node, const std::string& path) const {
  for (const auto& o : overrides_) {
    if (path == o.path || path.rfind(o.path + ".", 0) == 0 || path.rfind(o.path + "[", 0) == 0) {
      return {"--set " + o.path + "=" + o.text, 0, 0};
    }
  }
  // Nodes without a position (an empty document) are placed at its start.
  if (!node.IsDefined()) return {file_, 1, 1};
  YAML::Mark m = node.Mark();
  if (m.line < 0) return {file_, 1, 1};
  return {file_, m.line + 1, m.column + 1};
}

void PlanParser::Problem(const YAML::Node& node, const std::string& path, const std::string& message) {
  problems_.push_back({Loc(node, path), path, message});
}

void PlanParser::Problem(const SourceLoc& loc, const std::string& path, const std::string& message) {
  problems_.push_back({loc, path, message});
}

bool PlanParser::CheckMap(const YAML::Node& node, const std::string& path,
                          const std::vector<std::string>& known) {
  if (!node.IsMap()) {
    Problem(node, path, "must be a map (key: value lines)");
    return false;
  }
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      Problem(kv.first, path, "keys must be plain words");
      continue;
    }
    const std::string& k = kv.first.Scalar();
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      Problem(kv.first, JoinPath(path, k), "unknown key \"" + k + "\"" + DidYouMean(k, known));
    }
  }
  return true;
}

std::optional<std::string> PlanParser::Scalar(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) {
    Problem(node, path,
            node.IsNull()
                ? "needs a value"
                : std::string("must be a single value, not a ") + (node.IsSequence() ? "list" : "map"));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<int64_t> PlanParser::Duration(const YAML::Node& node, const std::string& path) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  auto d = ParseDuration(*s);
  if (!d.ok()) {
    Problem(node, path, d.status().message());
    return std::nullopt;
  }
  return *d;
}

std::optional<uint64_t> PlanParser::Size(const YAML::Node& node, const std::string& path) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  auto v = ParseSize(*s);
  if (!v.ok()) {
    Problem(node, path, v.status().message());
    return std::nullopt;
  }
  return *v;
}

std::optional<double> PlanParser::Percent(const YAML::Node& node, const std::string& path) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  auto v = ParsePercent(*s);
  if (!v.ok()) {
    Problem(node, path, v.status().message());
    return std::nullopt;
  }
  return *v;
}

std::optional<int64_t> PlanParser::Integer(const YAML::Node& node, const std::string& path, int64_t min,
                                           int64_t max) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  int64_t v = 0;
  bool digits = !s->empty() && s->size() < 19;
  for (char c : *s) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (digits) v = std::stoll(*s);
  if (!digits || v < min || v > max) {
    Problem(node, path,
            "expected a whole number " + std::to_string(min) + ".." + std::to_string(max) + ", got \"" + *s +
                "\"");
    return std::nullopt;
  }
  return v;
}

std::optional<double> PlanParser::Number(const YAML::Node& node, const std::string& path, double min) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  char* end = nullptr;
  double v = strtod(s->c_str(), &end);
  if (s->empty() || *end != '\0' || !(v >= min) || v > 1e15) {
    Problem(node, path, "expected a number >= " + std::to_string(int64_t(min)) + ", got \"" + *s + "\"");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> PlanParser::Bool(const YAML::Node& node, const std::string& path) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  if (*s == "true" || *s == "yes" || *s == "on") return true;
  if (*s == "false" || *s == "no" || *s == "off") return false;
  Problem(node, path, "expected true or false, got \"" + *s + "\"");
  return std::nullopt;
}

nlohmann::json PlanParser::ToJson(const YAML::Node& node, const std::string& path, const std::string& rel,
                                  std::map<std::string, SourceLoc>* key_locs) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsSequence()) {
    nlohmann::json a = nlohmann::json::array();
    for (size_t i = 0; i < node.size(); ++i) {
      std::string idx = "[" + std::to_string(i) + "]";
      (*key_locs)[rel + idx] = Loc(node[i], path + idx);
      a.push_back(ToJson(node[i], path + idx, rel + idx, key_locs));
    }
    return a;
  }
  if (node.IsMap()) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& kv : node) {
      std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      (*key_locs)[JoinPath(rel, k)] = Loc(kv.first, JoinPath(path, k));
      o[k] = ToJson(kv.second, JoinPath(path, k), JoinPath(rel, k), key_locs);
    }
    return o;
  }
  return nullptr;
}

// ---- The document ----

namespace {

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

}  // namespace

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

// Writes to a block device or a LUN destroy what is on it: the plan must say so.
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

void ParsePlugins(PlanParser& p, const YAML::Node& node, const std::string& section, bool injectors,
                  std::vector<PluginSpec>* out) {
  if (!node.IsMap()) {
    p.Problem(node, section, "must be a map of name: {kind: ..., settings}");
    return;
  }
  for (const auto& kv : node) {
    std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
    std::string path = JoinPath(section, name);
    PluginSpec spec;
    spec.name = name;
    spec.loc = p.Loc(kv.first, path);
    if (name.empty()) {
      p.Problem(kv.first, section, "needs a name");
      continue;
    }
    if (!kv.second.IsMap()) {
      p.Problem(kv.second, path, "must be a map with \"kind\" and its settings");
      continue;
    }
    if (!kv.second["kind"]) {
      p.Problem(
          kv.second, path, "needs \"kind\" (one of: " + [&] {
            std::string k;
            for (const auto& s :
                 injectors ? InjectorRegistry::Global().Kinds() : ProbeRegistry::Global().Kinds()) {
              k += (k.empty() ? "" : ", ") + s;
            }
            return k;
          }() + ")");
      continue;
    }
    auto kind = p.Scalar(kv.second["kind"], JoinPath(path, "kind"));
    if (!kind) continue;
    spec.kind = *kind;
    nlohmann::json all = p.ToJson(kv.second, path, "", &spec.key_locs);
    all.erase("kind");
    spec.settings = all;
    Settings settings(spec.settings);
    if (injectors)
      (void)InjectorRegistry::Global().Create(spec.kind, name, &settings);
    else
      (void)ProbeRegistry::Global().Create(spec.kind, name, &settings);
    for (const auto& problem : settings.problems()) {
      auto it = spec.key_locs.find(problem.key);
      SourceLoc loc = it != spec.key_locs.end() ? it->second : spec.loc;
      p.Problem(loc, problem.key.empty() ? path : JoinPath(path, problem.key), problem.message);
    }
    out->push_back(std::move(spec));
  }
}

void CheckSecrets(PlanParser& p, const YAML::Node& node, const std::string& path) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) CheckSecrets(p, node[i], path + "[" + std::to_string(i) + "]");
  } else if (node.IsMap()) {
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) continue;
      const std::string& k = kv.first.Scalar();
      if (IsSecretKey(k) && !IsSecretReference(k)) {
        p.Problem(kv.first, JoinPath(path, k),
                  "a literal secret in the plan; name where it comes from instead: " + k +
                      "_env: VARIABLE or " + k + "_file: PATH");
      }
      CheckSecrets(p, kv.second, JoinPath(path, k));
    }
  }
}

// "a.b[2].c" -> {"a", "b", "[2]", "c"}
std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : path) {
    if (c == '.' || c == '[') {
      if (!cur.empty()) parts.push_back(cur);
      cur = c == '[' ? "[" : "";
    } else if (c == ']') {
      parts.push_back(cur + "]");
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

// Applies one "key.path=value"; false when the path cannot be followed.
bool ApplyOverride(YAML::Node root, const std::string& path, const std::string& text, std::string* why) {
  std::vector<std::string> parts = SplitPath(path);
  if (parts.empty()) {
    *why = "empty key path";
    return false;
  }
  YAML::Node value = YAML::Load(text);
  YAML::Node cur = root;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    bool last = i + 1 == parts.size();
    if (part.front() == '[') {
      if (!cur.IsSequence()) {
        *why = "not a list before " + part;
        return false;
      }
      size_t idx = 0;
      try {
        idx = std::stoul(part.substr(1, part.size() - 2));
      } catch (const std::exception&) {
        *why = "bad index " + part;
        return false;
      }
      if (idx >= cur.size()) {
        *why = "index " + part + " is beyond the list's " + std::to_string(cur.size()) + " items";
        return false;
      }
      if (last)
        cur[idx] = value;
      else
        cur.reset(cur[idx]);
    } else {
      if (!cur.IsMap() && !cur.IsNull()) {
        *why = "not a map before \"" + part + "\"";
        return false;
      }
      if (last)
        cur[part] = value;
      else
        cur.reset(cur[part]);
    }
  }
  return true;
}

// platform: the timeouts the platform is set up with (docs/platform.md), kept as
// written for the report's stall budgets (reports/plan_view.h).
void ParsePlatform(PlanParser& p, const YAML::Node& node, Plan* plan) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> keys = {
      {"iscsi", {"noop_out_interval", "noop_out_timeout", "replacement_timeout"}},
      {"multipath", {"polling_interval", "no_path_retry"}},
      {"ha", {"timeout"}}};
  if (!p.CheckMap(node, "platform", {"iscsi", "multipath", "ha"})) return;
  for (const auto& [section, names] : keys) {
    const YAML::Node s = node[section];
    if (!s || !p.CheckMap(s, "platform." + section, names)) continue;
    for (const auto& name : names) {
      if (!s[name]) continue;
      std::string path = "platform." + section + "." + name;
      auto text = p.Scalar(s[name], path);
      if (!text) continue;
      bool ok = name == "no_path_retry"
                    ? (*text == "queue" || *text == "fail" || p.Integer(s[name], path, 0, 1000000))
                    : p.Duration(s[name], path).has_value();
      if (ok) plan->platform[section][name] = *text;
    }
  }
}

// metrics: {listen: HOST:PORT, push: http://HOST:PORT}
void ParseMetrics(PlanParser& p, const YAML::Node& node, Plan* plan) {
  if (!p.CheckMap(node, "metrics", {"listen", "push"})) return;
  if (node["listen"]) {
    if (auto s = p.Scalar(node["listen"], "metrics.listen")) {
      Status st = ValidateListenAddress(*s);
      if (st.ok())
        plan->metrics_listen = *s;
      else
        p.Problem(node["listen"], "metrics.listen", st.message());
    }
  }
  if (node["push"]) {
    if (auto s = p.Scalar(node["push"], "metrics.push")) {
      if (s->rfind("http://", 0) != 0)
        p.Problem(node["push"], "metrics.push", "expected http://HOST:PORT of a Pushgateway");
      else
        plan->metrics_push = *s;
    }
    if (!node["listen"]) p.Problem(node["push"], "metrics.push", "push needs metrics.listen");
  }
}

}  // namespace

LoadedPlan LoadPlanText(const std::string& text, const std::string& file_label,
                        const std::vector<std::string>& overrides) {
  RegisterBuiltinInjectors();
  RegisterBuiltinProbes();
  LoadedPlan out;
  Plan& plan = out.plan;
  plan.file = file_label;
  PlanParser p(file_label);
  try {
    YAML::Node root = YAML::Load(text);
    for (const auto& o : overrides) {
      size_t eq = o.find('=');
      if (eq == std::string::npos || eq == 0) {
        p.Problem(SourceLoc{"--set " + o}, "", "expected key.path=value");
        continue;
      }
      std::string key = o.substr(0, eq), why;
      try {
        if (!root.IsMap()) root = YAML::Node(YAML::NodeType::Map);
        if (!ApplyOverride(root, key, o.substr(eq + 1), &why))
          p.Problem(SourceLoc{"--set " + o}, key, why);
        else
          p.AddOverride(key, o.substr(eq + 1));
      } catch (const YAML::Exception& e) {
        p.Problem(SourceLoc{"--set " + o}, key, "the value is not valid YAML: " + e.msg);
      }
    }
    const std::vector<std::string> top = {"name",     "description", "target",  "workload", "injectors",
                                          "probes",   "steps",       "expect",  "repeat",   "repeat_every",
                                          "on_error", "platform",    "metrics", "agents",   "agent_defaults"};
    if (!p.CheckMap(root, "", top)) {
      out.problems = p.problems();
      return out;
    }
    CheckSecrets(p, root, "");
    for (const auto& kv : root) {
      if (kv.first.IsScalar()) p.top_locs[kv.first.Scalar()] = p.Loc(kv.first, kv.first.Scalar());
    }
    if (root["name"]) {
      if (auto s = p.Scalar(root["name"], "name")) plan.name = *s;
    } else {
      p.Problem(root, "", "missing \"name\"");
    }
    if (root["description"]) {
      if (auto s = p.Scalar(root["description"], "description")) plan.description = *s;
    }
    // With agents, the plan's own target (the local load) is optional, and so is
    // its workload when every agent has one (plan_agents.cpp says which is missing).
    const bool agents = root["agents"].IsDefined();
    if (root["workload"])
      ParseWorkload(p, root["workload"], &plan.workload);
    else if (!agents)
      p.Problem(root, "", "missing \"workload\"");
    if (root["target"])
      ParseTarget(p, root["target"], &plan.workload);
    else if (!agents)
      p.Problem(root, "", "missing \"target\"");
    if (root["workload"] && root["target"] && !plan.workload.targets.empty()) {
      Status st = ValidateWorkload(plan.workload);
      if (!st.ok()) p.Problem(root["workload"], "workload", st.message());
      CheckDestructive(p, root["target"], plan.workload);
    }
    if (root["injectors"]) ParsePlugins(p, root["injectors"], "injectors", true, &plan.injectors);
    if (root["probes"]) ParsePlugins(p, root["probes"], "probes", false, &plan.probes);
    if (agents || root["agent_defaults"])
      p.ParseAgents(root["agents"], root["agent_defaults"], root["workload"], &plan);
    if (root["repeat"]) {
      if (auto v = p.Integer(root["repeat"], "repeat", 1, 10000)) plan.repeat = int(*v);
    }
    if (root["repeat_every"]) {
      if (auto v = p.Duration(root["repeat_every"], "repeat_every")) plan.repeat_every_ns = *v;
    }
    if (root["on_error"]) {
      if (auto s = p.Scalar(root["on_error"], "on_error")) {
        if (*s == "stop")
          plan.on_error = OnError::kStop;
        else if (*s == "continue")
          plan.on_error = OnError::kContinue;
        else
          p.Problem(
              root["on_error"], "on_error",
              "must be \"stop\" (revert and stop) or \"continue\"" + DidYouMean(*s, {"stop", "continue"}));
      }
    }
    if (root["steps"]) p.ParseSteps(root["steps"], &plan);
    if (root["expect"]) p.ParseExpect(root["expect"], &plan);
    if (root["platform"]) ParsePlatform(p, root["platform"], &plan);
    if (root["metrics"]) ParseMetrics(p, root["metrics"], &plan);
    p.CheckTimeline(plan);
  } catch (const YAML::Exception& e) {
    p.Problem(SourceLoc{file_label, e.mark.line + 1, e.mark.column + 1}, "", "YAML: " + e.msg);
  }
  out.problems = p.problems();
  std::stable_sort(out.problems.begin(), out.problems.end(), [](const PlanProblem& a, const PlanProblem& b) {
    return a.loc.file < b.loc.file || (a.loc.file == b.loc.file && a.loc.line < b.loc.line);
  });
  return out;
}

LoadedPlan LoadPlanFile(const std::string& path, const std::vector<std::string>& overrides) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    LoadedPlan out;
    out.plan.file = path;
    out.problems.push_back({SourceLoc{path}, "", text.status().message()});
    return out;
  }
  return LoadPlanText(*text, path, overrides);
}

}  // namespace fb
