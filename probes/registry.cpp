#include "probes/probe.h"

namespace fb {

ProbeRegistry& ProbeRegistry::Global() {
  static ProbeRegistry registry;
  return registry;
}

}  // namespace fb
