// One line per built-in probe kind.
#include "probes/array_probe.h"
#include "probes/log_probe.h"
#include "probes/poll_probe.h"
#include "probes/probe.h"
#include "probes/reach_probe.h"
#include "probes/xapi_probe.h"

namespace fb {

void RegisterBuiltinProbes() {
  ProbeRegistry& r = ProbeRegistry::Global();
  r.Register("array", NewArrayProbe);
  r.Register("log", NewLogProbe);
  r.Register("poll", NewPollProbe);
  r.Register("reach", NewReachProbe);
  r.Register("xapi", NewXapiProbe);
}

}  // namespace fb
