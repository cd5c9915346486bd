// `ipmi`: pulls a host's power through its BMC with ipmitool, run on this host:
//   ipmitool -I lanplus [-C N] -H <host> -U <user> -E chassis power off   (revert: on)
// then `chassis power status` until the BMC says the power is where it was
// asked to be (a BMC answers at once and switches a moment later), or `reset`
// (no revert: the host comes back by itself). The password reaches ipmitool
// only through its environment (IPMI_PASSWORD, read by -E), copied from the
// variable named by password_env, or as a file (-f password_file); it is never
// on a command line.
// Settings: host, user, password_env (IPMI_PASSWORD) | password_file, action
// (off | reset), interface (lanplus), cipher_suite (ipmitool -C; some BMCs,
// OpenIPMI's ipmi_sim among them, answer only with 3 or take 10 s without it),
// timeout (30s per command), settle (60s). Check (off): `chassis power status`
// says off.
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewIpmiInjector(const std::string& name, Settings* settings);

}  // namespace fb
