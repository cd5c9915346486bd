// The JSON form of a workload that a controller sends in an agent's `start`.
// Its keys are the plan's `workload:` keys (plans/README.md), plus `target`
// written as in a plan (a path, a list of paths or {path|paths, create_size}).
// Values are what a plan would hold: sizes and durations as strings with units
// ("4k", "2s") or, for sizes, plain byte counts; percentages as 70 or "70%".
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "loadgen/workload.h"

namespace fb {

// The keys of a plan's `workload:` section, which a `start` takes too (with
// `target`); the plan loader checks a plan against the same list.
const std::vector<std::string>& WorkloadKeys();

// Fills a Workload from `j` and validates it (ValidateWorkload). Errors name the
// key: "workload.bs: ...". Unknown keys are errors.
Result<Workload> WorkloadFromJson(const nlohmann::json& j);

}  // namespace fb
