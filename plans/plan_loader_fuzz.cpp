// libFuzzer target for the plan loader (scripts/fuzz-plan builds and runs it).
// Properties: no crash or hang on any input; every problem has a location (a
// line in the file, or the --set flag); a plan that loads writes back to text
// that loads to the same canonical text.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "plans/plan_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  fb::LoadedPlan lp = fb::LoadPlanText(text, "fuzz.yaml");
  for (const auto& p : lp.problems) {
    if (p.loc.file.empty() || (p.loc.line <= 0 && p.loc.file.rfind("--set", 0) != 0)) {
      fprintf(stderr, "problem without a location: %s\n", p.ToString().c_str());
      abort();
    }
  }
  if (lp.ok()) {
    std::string written = fb::WritePlan(lp.plan);
    fb::LoadedPlan again = fb::LoadPlanText(written, "written.yaml");
    if (!again.ok() || fb::WritePlan(again.plan) != written) {
      fprintf(stderr, "round trip failed:\n%s\n%s\n", written.c_str(), again.ToStatus().message().c_str());
      abort();
    }
  }
  return 0;
}
