// Loads and validates a plan. Every problem is collected (never only the first)
// as "plan.yaml:LINE:COL: key.path: message"; a plan with any problem must not
// be run. Loading touches nothing: it reads the file, stats the target, and
// builds injector/probe instances only to validate their settings.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "plans/plan.h"

namespace fb {

struct PlanProblem {
  SourceLoc loc;
  std::string path;  // "steps[2].inject"; "" for the document
  std::string message;
  std::string ToString() const;  // "plan.yaml:12:5: steps[2].inject: unknown injector ..."
};

struct LoadedPlan {
  Plan plan;
  std::vector<PlanProblem> problems;  // in file order
  bool ok() const { return problems.empty(); }
  // All problems, one per line, as a Status (InvalidInput), or Ok.
  Status ToStatus() const;
};

// `overrides`: "key.path=value" (value parsed as YAML), applied before checking,
// e.g. "workload.duration=30s", "steps[1].at=45s", "injectors.cut.host=h1".
LoadedPlan LoadPlanFile(const std::string& path, const std::vector<std::string>& overrides = {});
LoadedPlan LoadPlanText(const std::string& text, const std::string& file_label,
                        const std::vector<std::string>& overrides = {});

// The YAML text of a plan, in canonical form: LoadPlanText(WritePlan(p)) gives
// an equal plan. Secrets are never written: a settings key that looks like a
// secret and is not a reference (*_env, *_file) is written as "<redacted>".
std::string WritePlan(const Plan& plan);

// Whether `key` names a secret ("password", "api_token", ...) and whether it is
// a reference to one ("password_env", "token_file").
bool IsSecretKey(const std::string& key);
bool IsSecretReference(const std::string& key);

}  // namespace fb
