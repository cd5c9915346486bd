// `process`: freezes a process (SIGSTOP, revert SIGCONT) or kills it (SIGKILL,
// revert = the `restart` command through /bin/sh) on this host. The process is
// found at each step by exactly one of: pid_file, unit (systemd MainPID) or name
// (exact name, every match). Settings: pid_file | unit | name, action
// (stop | kill, default stop), restart (required for kill), timeout (30s).
// Check: stop = every found process is in state T; kill = none is running.
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewProcessInjector(const std::string& name, Settings* settings);

}  // namespace fb
