#include "loadgen/engine.h"

namespace fb {

EngineRegistry& EngineRegistry::Global() {
  static EngineRegistry registry;
  return registry;
}

std::unique_ptr<Engine> EngineRegistry::Create(const std::string& name) const {
  const EngineEntry* e = Find(name);
  return e ? e->factory() : nullptr;
}

Result<TargetInfo> EngineRegistry::Probe(const Workload& w) const {
  const EngineEntry* e = Find(w.engine);
  if (!e) return Status::InvalidInput(UnknownMessage(w.engine));
  return e->prober(w);
}

}  // namespace fb
