// One line per built-in injector kind.
#include "injectors/command_injector.h"
#include "injectors/injector.h"

namespace fb {

void RegisterBuiltinInjectors() {
  InjectorRegistry& r = InjectorRegistry::Global();
  r.Register("command", NewCommandInjector);
}

}  // namespace fb
