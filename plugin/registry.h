// One registry for every plug-in point: injector kinds, probe kinds, engines.
// A kind is a name and an entry (its factory, and whatever else the point
// needs); lookups of an unknown name answer with the closest known one.
// Registration happens once, before threads start (Register*Builtin*()), so
// reads need no lock.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "plugin/settings.h"

namespace fb {

template <typename Entry>
class Registry {
 public:
  // `what` names the point in messages: "injector kind", "engine".
  explicit Registry(std::string what) : what_(std::move(what)) {}

  void Register(const std::string& kind, Entry entry) { entries_[kind] = std::move(entry); }
  bool Has(const std::string& kind) const { return entries_.count(kind) != 0; }
  // Null when unknown.
  const Entry* Find(const std::string& kind) const {
    auto it = entries_.find(kind);
    return it == entries_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> Kinds() const {
    std::vector<std::string> kinds;
    for (const auto& [k, e] : entries_) kinds.push_back(k);
    return kinds;
  }
  // `unknown injector kind "netfiltre" (did you mean "netfilter"?)`
  std::string UnknownMessage(const std::string& kind) const {
    return "unknown " + what_ + " \"" + kind + "\"" + DidYouMean(kind, Kinds());
  }

 private:
  std::string what_;
  std::map<std::string, Entry> entries_;
};

// Reads its settings (recording problems in `settings`); returns null when the
// settings are unusable. `name` is the instance's name in the plan.
template <typename T>
using KindFactory = std::function<std::unique_ptr<T>(const std::string& name, Settings* settings)>;

// The registry of a kind a plan names with settings (injectors, probes).
template <typename T>
class KindRegistry : public Registry<KindFactory<T>> {
 public:
  using Registry<KindFactory<T>>::Registry;
  // Builds an instance; every problem with the settings is in settings->problems()
  // (unknown keys included). Null if there was any problem or the kind is unknown.
  std::unique_ptr<T> Create(const std::string& kind, const std::string& name, Settings* settings) const {
    const KindFactory<T>* factory = this->Find(kind);
    if (!factory) {
      settings->Problem("kind", this->UnknownMessage(kind));
      return nullptr;
    }
    std::unique_ptr<T> instance = (*factory)(name, settings);
    settings->RejectUnknownKeys();
    if (!settings->problems().empty()) return nullptr;
    return instance;
  }
};

}  // namespace fb
