// `faultbench deploy PLAN`: this build's agent on every agent host of a plan,
// over the plan's own ssh settings (its key, its known_hosts: host keys
// checked, BatchMode). Per agent, in parallel:
//   1. the version the plan's agent command answers (`<command's binary> --version`),
//   2. unless --check or it is this build's already: the package copied over
//      the ssh connection (stdin, to /tmp) and installed: a .deb with
//      `dpkg -i` (its postinst makes the state directory and enables the unit),
//      a .tar.gz (the self-contained agent tarball) unpacked into / and the
//      unit enabled; with a prefix, either one only unpacked under it (no
//      unit: a test root, a host without dpkg),
//   3. the version again, the unit's state (`systemctl is-enabled`), the
//      state directory, and the hello of a real agent session (its version
//      checked as a run checks it: agent/protocol.h).
// Re-running is harmless: an agent of this version is not touched.
#pragma once

#include <string>
#include <vector>

#include "plans/plan.h"

namespace fb {

struct DeployOptions {
  std::string package;  // faultbench-agent_<version>_<arch>.deb or faultbench-agent-<version>-<arch>.tar.gz
  std::string prefix;   // "" = install for real; else unpack under this directory only
  bool check = false;   // report only
};

struct DeployRow {
  std::string agent, host;
  std::string before, after;  // versions; "none" when the command does not answer
  std::string unit;           // enabled | disabled | not-found | no systemd | - (under a prefix)
  std::string state_dir;      // "<dir> (present)" or "<dir> (made at the first run)"
  std::string result;         // "ok", "ok (already <version>)", or what failed
  bool ok = false;
};

// The package's kind from its name; InvalidInput naming the file otherwise,
// or when it is missing (checked before any host is touched).
Status CheckDeployPackage(const DeployOptions& options);

std::vector<DeployRow> Deploy(const Plan& plan, const DeployOptions& options);

// agent | host | version | unit | state dir | result, one line per agent.
std::string DeployTable(const std::vector<DeployRow>& rows);

}  // namespace fb
