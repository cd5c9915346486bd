// The one recording EventSink of the tests: keeps every event a probe (or
// anything else) emits, thread-safe, with bounded waits for what a test needs.
// Every wait returns as soon as its event is there and gives up only at its
// deadline (a busy machine makes it slower, never wrong).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/event.h"

namespace fb {

class RecordingSink : public EventSink {
 public:
  // `delay_ms`: each Emit() takes that long (a sink that cannot keep up).
  explicit RecordingSink(int delay_ms = 0) : delay_ms_(delay_ms) {}

  void Emit(Event e) override {
    if (delay_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }

  std::vector<Event> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }
  // Every event of `kind`, in arrival order.
  std::vector<Event> Of(const std::string& kind) {
    std::vector<Event> out;
    for (Event& e : events())
      if (e.kind == kind) out.push_back(std::move(e));
    return out;
  }
  // Events of `kind` (whose attrs[key] is the string `value`, when key is given).
  size_t Count(const std::string& kind, const std::string& key = "", const std::string& value = "") {
    size_t n = 0;
    for (const Event& e : events()) n += Matches(e, kind, key, value);
    return n;
  }
  // The first event of `kind` (whose attrs[key] is the string `value`, when key is given).
  std::optional<Event> First(const std::string& kind, const std::string& key = "",
                             const std::string& value = "") {
    for (Event& e : events())
      if (Matches(e, kind, key, value)) return std::move(e);
    return std::nullopt;
  }
  // First(), waiting at most `ms` for it.
  std::optional<Event> Wait(const std::string& kind, const std::string& key = "",
                            const std::string& value = "", int ms = 5000) {
    std::optional<Event> e;
    Until([&] { return (e = First(kind, key, value)).has_value(); }, ms);
    return e;
  }
  // Whether `n` events of `kind` came within `ms`.
  bool WaitCount(const std::string& kind, size_t n, int ms = 5000) {
    return Until([&] { return Count(kind) >= n; }, ms);
  }
  // Whether `n` events of any kind came within `ms`.
  bool WaitSize(size_t n, int ms = 5000) {
    return Until([&] { return size() >= n; }, ms);
  }
  // Every kind in arrival order, for a failed check's message.
  std::vector<std::string> kinds() {
    std::vector<std::string> k;
    for (const Event& e : events()) k.push_back(e.kind);
    return k;
  }
  std::string Kinds() {
    std::string k;
    for (const std::string& s : kinds()) k += s + " ";
    return k;
  }

 private:
  static bool Matches(const Event& e, const std::string& kind, const std::string& key,
                      const std::string& value) {
    if (e.kind != kind) return false;
    if (key.empty()) return true;
    return e.attrs.contains(key) && e.attrs[key].is_string() && e.attrs[key].get<std::string>() == value;
  }
  template <typename Pred>
  static bool Until(Pred pred, int ms) {
    int64_t deadline = MonoNs() + int64_t(ms) * kNsPerMs;
    while (!pred()) {
      if (MonoNs() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  int delay_ms_;
  std::mutex mu_;
  std::vector<Event> events_;
};

}  // namespace fb
