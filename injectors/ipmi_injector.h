// `ipmi`: pulls a host's power through its BMC with ipmitool, run on this host:
//   ipmitool -I lanplus -H <host> -U <user> -E chassis power off   (revert: on)
// or `reset` (no revert: the host comes back by itself). The password reaches
// ipmitool only through its environment (IPMI_PASSWORD, read by -E), copied from
// the variable named by password_env; it is never on a command line.
// Settings: host, user, password_env (IPMI_PASSWORD), action (off | reset),
// interface (lanplus), timeout (30s). Check (off): `chassis power status` says off.
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewIpmiInjector(const std::string& name, Settings* settings);

}  // namespace fb
