// `redfish`: a host's power through its BMC's Redfish service
// (platform/redfish_client.h; docs/platform.md "BMCs"): a session per
// operation (logged in, then out), ComputerSystem.Reset, and PowerState polled
// until the machine is where the action puts it.
// Settings: url (https://BMC), user, password_env (FB_BMC_PASSWORD) |
// password_file, system (the Systems member's Id; default: the only one),
// tls_verify (true), ca_file, timeout (10s per request), action, settle (60s:
// how long PowerState may take to follow).
// Actions:
//   off        ForceOff until PowerState Off; revert: On until On
//   graceful   GracefulShutdown until Off; revert: On until On
//   restart    ForceRestart (no revert: the machine comes back by itself)
// Check: PowerState is Off (off, graceful).
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewRedfishInjector(const std::string& name, Settings* settings);

}  // namespace fb
