#include "injectors/fault_lifecycle.h"

#include "core/clock.h"

namespace fb {

Result<std::unique_ptr<Injector>> BuildInjector(const FaultSpec& spec) {
  RegisterBuiltinInjectors();
  Settings settings(spec.settings);
  auto injector = InjectorRegistry::Global().Create(spec.kind, spec.injector, &settings);
  if (injector) return injector;
  std::string why;
  if (!InjectorRegistry::Global().Has(spec.kind)) {
    why = InjectorRegistry::Global().UnknownMessage(spec.kind);
  } else if (!settings.problems().empty()) {
    const SettingProblem& first = settings.problems()[0];
    why = (first.key.empty() ? "" : first.key + ": ") + first.message;
  } else {
    why = "its settings are unusable";
  }
  return Status::InvalidInput("cannot build injector " + spec.injector + " (" + spec.kind + "): " + why);
}

Result<std::string> ArmFault(Injector& injector, GuardClient& guard, const FaultSpec& spec,
                             const FaultContext& context) {
  injector.Bind(context);
  Status prepared = injector.Prepare();
  if (!prepared.ok()) return prepared;
  FaultSpec armed = spec;
  armed.where = injector.where();
  armed.lease_ns = context.lease_ns;
  return guard.Arm(armed);
}

nlohmann::json CheckResult::Json() const {
  switch (kind) {
    case Kind::kNoCheck:
      return nullptr;
    case Kind::kInEffect:
      return true;
    case Kind::kNotInEffect:
      return false;
    case Kind::kFailed:
      return error;
  }
  return nullptr;
}

CheckResult CheckFault(Injector& injector) {
  CheckResult r;
  FaultChecker* checker = injector.checker();
  if (!checker) return r;
  auto in = checker->InEffect();
  if (!in.ok()) {
    r.kind = CheckResult::Kind::kFailed;
    r.error = in.status().message();
  } else {
    r.kind = *in ? CheckResult::Kind::kInEffect : CheckResult::Kind::kNotInEffect;
  }
  return r;
}

Applied ApplyFault(Injector& injector) {
  Applied a;
  a.start_mono_ns = MonoNs();
  a.status = injector.Inject();
  a.end_mono_ns = MonoNs();
  if (a.status.ok()) a.check = CheckFault(injector);
  return a;
}

bool Reverted::confirmed() const {
  return status.ok() &&
         (check.kind == CheckResult::Kind::kNoCheck || check.kind == CheckResult::Kind::kNotInEffect);
}

bool Reverted::still_in_effect() const { return status.ok() && check.kind == CheckResult::Kind::kInEffect; }

std::string Reverted::Detail() const {
  if (!status.ok()) return status.message();
  switch (check.kind) {
    case CheckResult::Kind::kNoCheck:
      return "revert succeeded (this kind has no check)";
    case CheckResult::Kind::kNotInEffect:
      return "reverted, check confirms";
    case CheckResult::Kind::kInEffect:
      return "revert ran but the check says the fault is still in effect";
    case CheckResult::Kind::kFailed:
      return "revert ran but the check failed: " + check.error;
  }
  return "";
}

Reverted RevertFault(Injector& injector) {
  Reverted r;
  r.start_mono_ns = MonoNs();
  r.status = injector.Revert();
  r.end_mono_ns = MonoNs();
  if (r.status.ok()) r.check = CheckFault(injector);
  return r;
}

Status DisarmFault(GuardClient& guard, const std::string& fault_id, const Reverted& reverted) {
  return guard.Disarm(fault_id, reverted.confirmed() ? "reverted" : "unknown");
}

}  // namespace fb
