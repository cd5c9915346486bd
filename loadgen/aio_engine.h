// libaio engine: O_DIRECT (unless disabled) on files and block devices,
// io_submit batching, io_getevents reaping.
#pragma once

#include <memory>

#include "loadgen/engine.h"

namespace fb {

std::unique_ptr<Engine> NewAioEngine();

}  // namespace fb
