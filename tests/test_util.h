// Helpers shared by the tests: temporary directories and running the CLI.
#pragma once

#include <string>
#include <vector>

#include "core/subprocess.h"

namespace fb {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& base = "/tmp");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs the faultbench binary built with the tests.
CommandResult RunCli(const std::vector<std::string>& args, int64_t timeout_ns = 120'000'000'000);

bool IsRoot();

}  // namespace fb
