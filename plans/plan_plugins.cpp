// injectors: and probes: of a plan: one PluginSpec per name, its settings kept
// with each key's location and checked by creating the plug-in from its kind's
// registry (plug-ins validate their own settings, plugin/settings.h).
#include "injectors/injector.h"
#include "plans/plan_parser.h"
#include "probes/probe.h"

namespace fb {

const PluginSpec* Plan::FindInjector(const std::string& n) const {
  for (const auto& i : injectors) {
    if (i.name == n) return &i;
  }
  return nullptr;
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

}  // namespace fb
