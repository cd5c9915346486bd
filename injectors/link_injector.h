// `link`: sets an interface down (inject) and up (revert) with `ip link`, on this
// host, in a network namespace or over ssh (settings: interface, plus
// command_target.h's). Check: the interface's UP flag is clear.
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewLinkInjector(const std::string& name, Settings* settings);

}  // namespace fb
