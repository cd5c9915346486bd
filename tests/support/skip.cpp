#include "tests/support/skip.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fb {

void Skip(const std::string& why) {
  const char* strict = std::getenv("FB_NO_SKIP");
  if (strict && std::strcmp(strict, "1") == 0) {
    FAIL_CHECK("would be skipped, but FB_NO_SKIP=1 (everything should be installed): " << why);
    return;
  }
  std::printf("FB_SKIPPED: %s\n", why.c_str());
  std::fflush(stdout);
}

}  // namespace fb
