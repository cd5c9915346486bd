// `command`: inject / revert / optional check shell commands run locally through
// /bin/sh with a timeout (settings: inject, revert, check, timeout = 30s). The
// check command's exit status says whether the fault is in effect (0 = yes).
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewCommandInjector(const std::string& name, Settings* settings);

}  // namespace fb
