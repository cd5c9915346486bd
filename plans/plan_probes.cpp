#include "plans/plan_probes.h"

#include <algorithm>

#include "plugin/settings.h"

namespace fb {

Result<std::vector<NamedProbe>> BuildPlanProbes(const Plan& plan, const std::vector<std::string>& only) {
  std::vector<std::string> names;
  for (const auto& spec : plan.probes) names.push_back(spec.name);
  for (const auto& want : only) {
    if (std::find(names.begin(), names.end(), want) != names.end()) continue;
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    return Status::InvalidInput(plan.file + ": no probe \"" + want + "\"" + DidYouMean(want, names) +
                                (names.empty() ? "; the plan has no probes" : "; probes: " + list));
  }
  RegisterBuiltinProbes();
  std::vector<NamedProbe> out;
  for (const auto& spec : plan.probes) {
    if (!only.empty() && std::find(only.begin(), only.end(), spec.name) == only.end()) continue;
    Settings s(spec.settings);
    auto probe = ProbeRegistry::Global().Create(spec.kind, spec.name, &s);
    if (!probe) {
      return Status::InvalidInput(plan.file + ": probe " + spec.name + " cannot be built" +
                                  (s.problems().empty() ? "" : ": " + s.problems()[0].message));
    }
    out.push_back({spec.name, std::move(probe)});
  }
  return out;
}

}  // namespace fb
