// Internal to plans/: the YAML walker the loader is built on. It turns yaml-cpp
// nodes into model values, recording every problem with the node's position and
// key path; values that came from a --set override are located at that flag.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "plans/plan_loader.h"
#include "plugin/settings.h"

namespace fb {

class PlanParser {
 public:
  explicit PlanParser(std::string file) : file_(std::move(file)) {}

  void AddOverride(const std::string& path, const std::string& text) { overrides_.push_back({path, text}); }

  SourceLoc Loc(const YAML::Node& node, const std::string& path) const;
  void Problem(const YAML::Node& node, const std::string& path, const std::string& message);
  void Problem(const SourceLoc& loc, const std::string& path, const std::string& message);

  // A map whose keys are all in `known` (unknown ones reported at the key, with a
  // "did you mean"). False (and a problem) when `node` is not a map.
  bool CheckMap(const YAML::Node& node, const std::string& path, const std::vector<std::string>& known);

  std::optional<std::string> Scalar(const YAML::Node& node, const std::string& path);
  std::optional<int64_t> Duration(const YAML::Node& node, const std::string& path);
  std::optional<uint64_t> Size(const YAML::Node& node, const std::string& path);
  std::optional<double> Percent(const YAML::Node& node, const std::string& path);
  std::optional<int64_t> Integer(const YAML::Node& node, const std::string& path, int64_t min, int64_t max);
  std::optional<double> Number(const YAML::Node& node, const std::string& path, double min);
  std::optional<bool> Bool(const YAML::Node& node, const std::string& path);

  // Settings as JSON (scalars as strings), with each key's location.
  nlohmann::json ToJson(const YAML::Node& node, const std::string& path, const std::string& rel,
                        std::map<std::string, SourceLoc>* key_locs);

  void ParseSteps(const YAML::Node& node, Plan* plan);
  void ParseExpect(const YAML::Node& node, Plan* plan);
  void CheckTimeline(const Plan& plan);
  // agents: and agent_defaults: (plan_agents.cpp); `workload` is the plan's
  // workload: node (may be undefined), already parsed into plan->workload.
  void ParseAgents(const YAML::Node& agents, const YAML::Node& defaults, const YAML::Node& workload,
                   Plan* plan);

  // Where the top-level keys are, for checks that run after parsing.
  std::map<std::string, SourceLoc> top_locs;

  const std::string& file() const { return file_; }
  std::vector<PlanProblem>& problems() { return problems_; }

 private:
  std::optional<Limits> ParseLimits(const YAML::Node& node, const std::string& path, bool allow_recovery);

  struct Override {
    std::string path, text;
  };
  std::string file_;
  std::vector<Override> overrides_;
  std::vector<PlanProblem> problems_;
};

// "a.b[2].c" + key.
inline std::string JoinPath(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// plan_workload.cpp: target: and workload: into `w`.
void ParseTarget(PlanParser& p, const YAML::Node& node, Workload* w);
void ParseWorkload(PlanParser& p, const YAML::Node& node, Workload* w);
// Writes to a block device or a LUN destroy what is on it: the plan must say so.
void CheckDestructive(PlanParser& p, const YAML::Node& target, const Workload& w);

// plan_plugins.cpp: injectors: (`injectors` true) or probes:, one PluginSpec
// per name, each checked by its kind's registry.
void ParsePlugins(PlanParser& p, const YAML::Node& node, const std::string& section, bool injectors,
                  std::vector<PluginSpec>* out);

}  // namespace fb
