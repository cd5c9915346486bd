#include "injectors/injector.h"

namespace fb {

InjectorRegistry& InjectorRegistry::Global() {
  static InjectorRegistry registry;
  return registry;
}

void InjectorRegistry::Register(const std::string& kind, InjectorFactory factory) { factories_[kind] = std::move(factory); }

std::vector<std::string> InjectorRegistry::Kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [k, f] : factories_) kinds.push_back(k);
  return kinds;
}

std::unique_ptr<Injector> InjectorRegistry::Create(const std::string& kind, const std::string& name,
                                                   Settings* settings) const {
  auto it = factories_.find(kind);
  if (it == factories_.end()) {
    settings->Problem("kind", "unknown injector kind \"" + kind + "\"" + DidYouMean(kind, Kinds()));
    return nullptr;
  }
  std::unique_ptr<Injector> injector = it->second(name, settings);
  settings->RejectUnknownKeys();
  if (!settings->problems().empty()) return nullptr;
  return injector;
}

}  // namespace fb
