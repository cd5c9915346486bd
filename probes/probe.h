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
#include "plugin/registry.h"
#include "plugin/settings.h"

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
  // Every kind of event this probe can emit (its rules' or parser's, and its
  // own: probe_error, ...), known from its settings before it starts. The
  // metrics exporter creates one counter per kind at 0 with it, so the first
  // event of a kind is a change Prometheus sees.
  virtual std::vector<std::string> EventKinds() const { return {}; }
};

using ProbeFactory = KindFactory<Probe>;

// The probe kinds (plugin/registry.h): Register, Has, Kinds, Create.
class ProbeRegistry : public KindRegistry<Probe> {
 public:
  ProbeRegistry() : KindRegistry("probe kind") {}
  static ProbeRegistry& Global();
};

// Fills ProbeRegistry::Global() with the built-in kinds, one line each. Idempotent.
void RegisterBuiltinProbes();

}  // namespace fb
