// The probe instances of a plan, built the way the runner starts them; shared by
// the runner and `faultbench watch`. Building touches nothing (probe.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "plans/plan.h"
#include "probes/probe.h"

namespace fb {

struct NamedProbe {
  std::string name;
  std::unique_ptr<Probe> probe;
};

// Every probe of `plan` in plan order, or only those named in `only` (in the
// plan's order). An unknown name, or a probe whose settings are refused, is
// InvalidInput naming the plan file and the probe: "plan.yaml: no probe
// \"mpth\" (did you mean \"mpath\"?); probes: mpath, xapi".
Result<std::vector<NamedProbe>> BuildPlanProbes(const Plan& plan, const std::vector<std::string>& only = {});

}  // namespace fb
