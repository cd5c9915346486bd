// The plan loader (plan_loader.h): LoadPlanText applies the --set overrides,
// walks the document's top-level keys and hands each section to its file:
// plan_workload.cpp (target, workload), plan_plugins.cpp (injectors, probes),
// plan_agents.cpp (agents), plan_timeline.cpp (steps, expectations, the checks
// over the whole timeline); the YAML walker is plan_parser.cpp. Here too: the
// check for literal secrets, platform: and metrics:.
#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/jsonl_writer.h"
#include "core/units.h"
#include "injectors/injector.h"
#include "metrics/metrics_exporter.h"
#include "plans/plan_parser.h"
#include "probes/probe.h"

namespace fb {

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

namespace {

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
      {"ha", {"timeout"}},
      {"array", {"pause"}}};
  if (!p.CheckMap(node, "platform", {"iscsi", "multipath", "ha", "array"})) return;
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
