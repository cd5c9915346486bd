// `scsi_device`: writes `offline` (inject) and `running` (revert) to a SCSI
// device's sysfs state, <sysfs_root>/block/<device>/device/state, on this host
// or over ssh (command_target.h). `offline` fails every I/O at once until
// `running` is written back. Settings: device (e.g. sdc), sysfs_root (/sys; for
// tests). Check: the state reads `offline`.
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewScsiDeviceInjector(const std::string& name, Settings* settings);

}  // namespace fb
