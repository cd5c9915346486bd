// A probe watches one source (a log, a command, an API) and emits normalized
// events (core/event.h) onto the run's timeline. Start() returns at once: the
// probe works on its own thread and never blocks the load. Stop() ends that
// thread and returns once no more events will be emitted. Construction reads
// the plan's settings and touches nothing (the plan loader builds instances to
// validate them).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "injectors/settings.h"

namespace fb {

// Receives a probe's events. Emit() may be called from any probe thread and must
// return quickly (it appends to the journal and wakes waiters; nothing more).
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Emit(Event event) = 0;
};

class Probe {
 public:
  virtual ~Probe() = default;
  // Starts watching. An error means the probe could not start (the source cannot
  // be opened or run); later failures are emitted as events of kind "probe_error".
  virtual Status Start(EventSink* sink) = 0;
  // Idempotent; safe to call without Start().
  virtual void Stop() = 0;
};

using ProbeFactory = std::function<std::unique_ptr<Probe>(const std::string& name, Settings* settings)>;

class ProbeRegistry {
 public:
  static ProbeRegistry& Global();
  void Register(const std::string& kind, ProbeFactory factory);
  bool Has(const std::string& kind) const { return factories_.count(kind) != 0; }
  std::vector<std::string> Kinds() const;
  // Null if the kind is unknown or there was any problem (all in settings->problems()).
  std::unique_ptr<Probe> Create(const std::string& kind, const std::string& name, Settings* settings) const;

 private:
  std::map<std::string, ProbeFactory> factories_;
};

// Fills ProbeRegistry::Global() with the built-in kinds, one line each. Idempotent.
void RegisterBuiltinProbes();

}  // namespace fb
