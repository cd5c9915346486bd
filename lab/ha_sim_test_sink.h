// An EventSink for the HA simulator's tests (ha_sim_node_test, pool_ha_test):
// keeps what the xapi probe emits, thread-safe.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace fb::lab {

class HaTestSink : public EventSink {
 public:
  void Emit(Event e) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  std::vector<Event> Of(const std::string& kind) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Event> out;
    for (const Event& e : events_)
      if (e.kind == kind) out.push_back(e);
    return out;
  }
  // The first event of `kind` whose attrs[key] is `value`.
  std::optional<Event> First(const std::string& kind, const std::string& key, const std::string& value) {
    for (const Event& e : Of(kind))
      if (e.attrs.value(key, "") == value) return e;
    return std::nullopt;
  }
  // Every kind in arrival order, for a failed check's message.
  std::string Kinds() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string k;
    for (const Event& e : events_) k += e.kind + " ";
    return k;
  }

 private:
  std::mutex mu_;
  std::vector<Event> events_;
};

}  // namespace fb::lab
