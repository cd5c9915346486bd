// `iscsi_session`: logs one iSCSI node out (inject) and back in (revert) with
// open-iscsi's iscsiadm, on this host or over ssh (command_target.h):
//   iscsiadm -m node -T <target> -p <portal> -u   /   ... -l
// Settings: target (IQN), portal (IP:PORT). Check: `iscsiadm -m session` lists
// no session for that target and portal. A logout stops iscsid's retries.
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewIscsiSessionInjector(const std::string& name, Settings* settings);

}  // namespace fb
