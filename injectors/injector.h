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
#include "injectors/settings.h"

namespace fb {

// What the runner (or the guard) tells an instance about the fault it is about to
// apply: the run it belongs to and its lease. Names derived from it (an nftables
// table, an ssh control socket) must be the same when the guard rebuilds the
// instance from the same settings and context, so the guard reverts exactly
// what this run added.
struct FaultContext {
  std::string run_id = "manual";  // [A-Za-z0-9._-]
  int64_t lease_ns = 0;           // 0 = unknown
};

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

// Reads its settings (recording problems in `settings`); returns null when the
// settings are unusable. `name` is the instance's name in the plan.
using InjectorFactory = std::function<std::unique_ptr<Injector>(const std::string& name, Settings* settings)>;

class InjectorRegistry {
 public:
  static InjectorRegistry& Global();
  void Register(const std::string& kind, InjectorFactory factory);
  bool Has(const std::string& kind) const { return factories_.count(kind) != 0; }
  std::vector<std::string> Kinds() const;
  // Builds an instance; every problem with the settings is in settings->problems()
  // (unknown keys included). Null if there was any problem or the kind is unknown.
  std::unique_ptr<Injector> Create(const std::string& kind, const std::string& name, Settings* settings) const;

 private:
  std::map<std::string, InjectorFactory> factories_;
};

// Fills InjectorRegistry::Global() with the built-in kinds, one line each.
// Idempotent.
void RegisterBuiltinInjectors();

}  // namespace fb
