#include "injectors/command_injector.h"

#include "core/subprocess.h"
#include "core/units.h"

namespace fb {

namespace {

class CommandInjector : public Injector, public FaultChecker {
 public:
  CommandInjector(std::string name, std::string inject, std::string revert, std::string check, int64_t timeout_ns)
      : name_(std::move(name)),
        inject_(std::move(inject)),
        revert_(std::move(revert)),
        check_(std::move(check)),
        timeout_ns_(timeout_ns) {}

  Status Inject() override { return Run("inject", inject_); }
  Status Revert() override { return Run("revert", revert_); }
  FaultChecker* checker() override { return check_.empty() ? nullptr : this; }
  std::string where() const override { return "localhost"; }

  Result<bool> InEffect() override {
    auto r = RunShell(check_, {.timeout_ns = timeout_ns_});
    if (!r.ok()) return r.status().With(Prefix("check", check_));
    if (r->timed_out || r->term_signal) return Status::Unavailable(Prefix("check", check_) + ": " + r->Describe());
    return r->exit_code == 0;
  }

 private:
  std::string Prefix(const char* action, const std::string& command) const {
    return "injector " + name_ + " on localhost: " + action + " `" + command + "`";
  }

  Status Run(const char* action, const std::string& command) {
    auto r = RunShell(command, {.timeout_ns = timeout_ns_});
    if (!r.ok()) return r.status().With(Prefix(action, command));
    if (!r->success()) return Status::Unavailable(Prefix(action, command) + ": " + r->Describe());
    return Status::Ok();
  }

  std::string name_, inject_, revert_, check_;
  int64_t timeout_ns_;
};

}  // namespace

std::unique_ptr<Injector> NewCommandInjector(const std::string& name, Settings* s) {
  std::string inject = s->String("inject", true);
  std::string revert = s->String("revert", true);
  std::string check = s->String("check");
  int64_t timeout_ns = s->DurationNs("timeout", 30 * 1'000'000'000LL);
  if (timeout_ns <= 0) s->Problem("timeout", "must be more than 0");
  return std::make_unique<CommandInjector>(name, inject, revert, check, timeout_ns);
}

}  // namespace fb
