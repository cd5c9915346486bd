// What the runner (or the guard) tells a plug-in instance about the fault it is
// about to apply.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/event.h"

namespace fb {

// The run it belongs to and its lease. Names derived from it (an nftables table,
// an ssh control socket) must be the same when the guard rebuilds the instance
// from the same settings and context, so the guard reverts exactly what this run
// added.
struct FaultContext {
  std::string run_id = "manual";  // [A-Za-z0-9._-]
  int64_t lease_ns = 0;           // 0 = unknown
  // The run's timeline, for what an injector sees while it works (an XAPI
  // task's start and end): source = the injector's name. Empty outside a run
  // (the guard, `faultbench inject`): nothing is recorded then.
  std::function<void(Event)> emit;
};

}  // namespace fb
