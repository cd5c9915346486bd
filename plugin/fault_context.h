// What the runner (or the guard) tells a plug-in instance about the fault it is
// about to apply.
#pragma once

#include <cstdint>
#include <string>

namespace fb {

// The run it belongs to and its lease. Names derived from it (an nftables table,
// an ssh control socket) must be the same when the guard rebuilds the instance
// from the same settings and context, so the guard reverts exactly what this run
// added.
struct FaultContext {
  std::string run_id = "manual";  // [A-Za-z0-9._-]
  int64_t lease_ns = 0;           // 0 = unknown
};

}  // namespace fb
