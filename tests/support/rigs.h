// Rigs for the injector and guard tests: two network namespaces joined by a veth
// pair (198.18.0.0/15 only), a background process, an environment variable and
// stand-in binaries on PATH. Each undoes itself on destruction, also when a
// test fails; every wait is bounded.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "tests/support/test_util.h"

namespace fb {

// Namespaces `<prefix>a-<pid>` and `<prefix>b-<pid>`, veth `fbva`/`fbvb`,
// addresses 198.18.<net>.1 (a) and 198.18.<net>.2 (b).
class NetnsPair {
 public:
  explicit NetnsPair(int net);
  ~NetnsPair();
  NetnsPair(const NetnsPair&) = delete;
  NetnsPair& operator=(const NetnsPair&) = delete;
  bool ok() const { return ok_; }
  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }
  std::string addr_a() const { return "198.18." + std::to_string(net_) + ".1"; }
  std::string addr_b() const { return "198.18." + std::to_string(net_) + ".2"; }
  // Whether a TCP connect from a to b gets an answer within 300 ms.
  bool Reachable() const;

 private:
  int net_;
  std::string a_, b_;
  bool ok_ = false;
};

// A process started with fork/exec (own process group); killed and reaped on
// destruction.
class Background {
 public:
  explicit Background(const std::vector<std::string>& argv, const std::string& stdout_file = "");
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  int pid() const { return pid_; }
  // SIGKILL and reap (bounded).
  void Kill();

 private:
  int pid_ = -1;
};

// Sets (or unsets) an environment variable; restores it on destruction.
class ScopedEnv {
 public:
  ScopedEnv(const std::string& name, const std::string& value);
  ~ScopedEnv();

 private:
  std::string name_, old_;
  bool had_;
};

// Writes executable scripts to dir/name.
void WriteScript(const std::string& path, const std::string& text);

// Whether an nftables table `inet NAME` exists in namespace `ns` ("" = here).
bool NftTableExists(const std::string& ns, const std::string& table);

}  // namespace fb
