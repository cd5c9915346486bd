#include "tests/test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

namespace fb {

TempDir::TempDir(const std::string& base) {
  std::string tmpl = base + "/faultbench-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp under " + base + " failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult RunCli(const std::vector<std::string>& args, int64_t timeout_ns) {
  std::vector<std::string> argv{FB_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunCommand(argv, {.timeout_ns = timeout_ns});
  if (!r.ok()) throw std::runtime_error(r.status().message());
  return r.value();
}

bool IsRoot() { return geteuid() == 0; }

}  // namespace fb
