// An injector breaks one thing and repairs it: Inject() applies the fault,
// Revert() removes it. Both block until done (bounded by the injector's own
// timeouts) and return an error that names the host, the command or request, and
// its stderr. Optional capability: FaultChecker, which says whether the fault is
// in effect now. Construction reads the plan's settings and touches nothing, so
// the plan loader can build instances just to validate them.
//
// Thread-safety: the runner calls one instance from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "plugin/fault_context.h"
#include "plugin/registry.h"
#include "plugin/settings.h"

namespace fb {

// Optional capability: is the fault in effect right now?
class FaultChecker {
 public:
  virtual ~FaultChecker() = default;
  virtual Result<bool> InEffect() = 0;
};

class Injector {
 public:
  virtual ~Injector() = default;
  virtual Status Inject() = 0;
  virtual Status Revert() = 0;
  // Called before Prepare()/Inject()/Revert() when a run is known; the default
  // ignores it. Touches nothing.
  virtual void Bind(const FaultContext& context) { (void)context; }
  // Called before Inject(), outside the fault window: opens what the revert must
  // not wait for (an ssh ControlMaster connection). Idempotent; default no-op.
  virtual Status Prepare() { return Status::Ok(); }
  // nullptr when the kind cannot tell.
  virtual FaultChecker* checker() { return nullptr; }
  // Where it acts, for messages and the journal: "localhost", "root@host-a".
  virtual std::string where() const = 0;
};

using InjectorFactory = KindFactory<Injector>;

// The injector kinds (plugin/registry.h): Register, Has, Kinds, Create.
class InjectorRegistry : public KindRegistry<Injector> {
 public:
  InjectorRegistry() : KindRegistry("injector kind") {}
  static InjectorRegistry& Global();
};

// Fills InjectorRegistry::Global() with the built-in kinds, one line each.
// Idempotent.
void RegisterBuiltinInjectors();

}  // namespace fb
