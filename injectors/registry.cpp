#include "injectors/injector.h"

namespace fb {

InjectorRegistry& InjectorRegistry::Global() {
  static InjectorRegistry registry;
  return registry;
}

}  // namespace fb
