// The one place where built-in engines are registered: one line each.
#include "loadgen/aio_engine.h"
#include "loadgen/engine.h"
#include "loadgen/iscsi_engine.h"
#include "loadgen/local_target.h"

namespace fb {

void RegisterBuiltinEngines() {
  static bool done = false;
  if (done) return;
  done = true;
  auto& r = EngineRegistry::Global();
  r.Register("libaio", {NewAioEngine, PrepareLocalTarget});
  r.Register("libiscsi", {NewIscsiEngine, ProbeIscsiTarget});
}

}  // namespace fb
