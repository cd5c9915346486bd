// How a test says it cannot run here: ctest counts it as skipped, never as
// passed (cmake/FbDiscoverTests.cmake sets SKIP_REGULAR_EXPRESSION on the
// marker printed here).
#pragma once

#include <string>

namespace fb {

// Reports the running test as skipped, naming what is missing; the caller
// returns right after. With FB_NO_SKIP=1 in the environment (scripts/test as
// root: setup installed everything, so a skip can only be a defect) it fails
// the test instead.
void Skip(const std::string& why);

}  // namespace fb
