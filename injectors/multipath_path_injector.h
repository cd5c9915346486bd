// `multipath_path`: fails one path of a dm-multipath map (inject) and reinstates
// it (revert) through multipathd, on this host or over ssh (command_target.h):
//   multipathd fail path <dev>   /   multipathd reinstate path <dev>
// Settings: path (device name, e.g. sdc). A failed path stays failed until
// reinstated (the checker stops). Check: `multipathd show paths format "%d %t"`
// shows the path's dm state `failed`.
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewMultipathPathInjector(const std::string& name, Settings* settings);

}  // namespace fb
