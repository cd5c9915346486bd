#include "probes/probe.h"

namespace fb {

ProbeRegistry& ProbeRegistry::Global() {
  static ProbeRegistry registry;
  return registry;
}

void ProbeRegistry::Register(const std::string& kind, ProbeFactory factory) { factories_[kind] = std::move(factory); }

std::vector<std::string> ProbeRegistry::Kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [k, f] : factories_) kinds.push_back(k);
  return kinds;
}

std::unique_ptr<Probe> ProbeRegistry::Create(const std::string& kind, const std::string& name, Settings* settings) const {
  auto it = factories_.find(kind);
  if (it == factories_.end()) {
    settings->Problem("kind", "unknown probe kind \"" + kind + "\"" + DidYouMean(kind, Kinds()));
    return nullptr;
  }
  std::unique_ptr<Probe> probe = it->second(name, settings);
  settings->RejectUnknownKeys();
  if (!settings->problems().empty()) return nullptr;
  return probe;
}

}  // namespace fb
