// Every ready plan in plans/examples/ loads with zero problems, so they stay
// valid as the plan format and the plug-ins' settings change. The secrets the
// examples name by environment variable are set to stand-ins for the check.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "plans/plan_loader.h"
#include "tests/support/rigs.h"

namespace fb {

TEST_CASE("plans: every file in plans/examples loads with zero problems" * doctest::test_suite("unit")) {
  ScopedEnv array_a("FB_ARRAY_A_TOKEN", "example-token-a");
  ScopedEnv array_b("FB_ARRAY_B_TOKEN", "example-token-b");
  ScopedEnv xapi("FB_XAPI_PASSWORD", "example-password");
  ScopedEnv ipmi("FB_IPMI_PASSWORD", "example-password");
  const std::filesystem::path dir = std::filesystem::path(FB_SOURCE_DIR) / "plans" / "examples";
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  // Guards against a moved folder passing with nothing checked.
  REQUIRE(files.size() >= 7);
  for (const auto& file : files) {
    CAPTURE(file);
    CHECK(std::filesystem::path(file).extension() == ".yaml");
    LoadedPlan loaded = LoadPlanFile(file);
    std::string problems;
    for (const auto& p : loaded.problems) problems += p.ToString() + "\n";
    CHECK_MESSAGE(loaded.problems.empty(), problems);
    // The plan's name is its file's name, so runs/<name>-... points back to it.
    CHECK(loaded.plan.name == std::filesystem::path(file).stem().string());
    // Each example says what to fill in or how to run it, and what to expect.
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    CHECK(text.str().find("Expected") != std::string::npos);
  }
}

}  // namespace fb
