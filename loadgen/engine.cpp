#include "loadgen/engine.h"

namespace fb {

EngineRegistry& EngineRegistry::Global() {
  static EngineRegistry registry;
  return registry;
}

void EngineRegistry::Register(const std::string& name, Factory factory, Prober prober) {
  entries_[name] = Entry{std::move(factory), std::move(prober)};
}

std::unique_ptr<Engine> EngineRegistry::Create(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.factory();
}

Result<TargetInfo> EngineRegistry::Probe(const Workload& w) const {
  auto it = entries_.find(w.engine);
  if (it == entries_.end()) {
    std::string known;
    for (const auto& n : Names()) known += (known.empty() ? "" : ", ") + n;
    return Status::InvalidInput("unknown engine \"" + w.engine + "\" (known: " + known + ")");
  }
  return it->second.prober(w);
}

std::vector<std::string> EngineRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;
}

}  // namespace fb
