// `ssh`: inject / revert / optional check shell lines run on a remote host
// through the OpenSSH client (settings: host (required), inject, revert, check,
// plus CommandTarget's user, ssh_port, identity_file, known_hosts,
// strict_host_key_checking, timeout). BatchMode, host keys checked by default;
// Prepare() opens a ControlMaster connection so the revert needs no handshake.
// The check line's exit status says whether the fault is in effect (0 = yes).
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewSshInjector(const std::string& name, Settings* settings);

}  // namespace fb
