#include "injectors/redfish_injector.h"

#include "core/clock.h"
#include "core/units.h"
#include "platform/redfish_client.h"

namespace fb {

namespace {

class RedfishInjector : public Injector, public FaultChecker {
 public:
  RedfishInjector(std::string name, RedfishEndpoint e, std::string action, int64_t settle_ns)
      : name_(std::move(name)), e_(std::move(e)), action_(std::move(action)), settle_ns_(settle_ns) {}

  Status Inject() override {
    if (action_ == "restart") return Act("inject", "ForceRestart", "");
    return Act("inject", action_ == "graceful" ? "GracefulShutdown" : "ForceOff", "Off");
  }
  Status Revert() override {
    if (action_ == "restart") return Status::Ok();
    return Act("revert", "On", "On");
  }
  FaultChecker* checker() override { return action_ == "restart" ? nullptr : this; }
  std::string where() const override { return "bmc " + e_.url; }

  Result<bool> InEffect() override {
    RedfishClient c(e_, "injector " + name_);
    auto state = c.PowerState();
    c.Logout();
    if (!state.ok()) return state.status();
    return *state == "Off";
  }

 private:
  // Reset(type), then PowerState polled until `want` (none: "").
  Status Act(const char* what, const std::string& type, const std::string& want) {
    RedfishClient c(e_, "injector " + name_);
    Status s = Run(c, type, want);
    c.Logout();
    return s.ok() ? s : s.With(what);
  }
  Status Run(RedfishClient& c, const std::string& type, const std::string& want) {
    if (!want.empty()) {
      auto now = c.PowerState();
      if (!now.ok()) return now.status();
      if (*now == want) return Status::Ok();  // already there: idempotent
    }
    FB_RETURN_IF_ERROR(c.Reset(type));
    if (want.empty()) return Status::Ok();
    int64_t deadline = MonoNs() + settle_ns_;
    std::string last;
    while (true) {
      auto state = c.PowerState();
      if (state.ok() && *state == want) return Status::Ok();
      if (state.ok()) last = *state;
      if (MonoNs() >= deadline)
        return Status::Unavailable("injector " + name_ + " on " + where() + ": " + type + " accepted, but PowerState is " +
                                   (last.empty() ? "unreadable" : last) + ", not " + want + ", after " +
                                   FormatDuration(settle_ns_));
      SleepUntilMono(std::min(deadline, MonoNs() + 100 * kNsPerMs));
    }
  }

  std::string name_;
  RedfishEndpoint e_;
  std::string action_;
  int64_t settle_ns_;
};

}  // namespace

std::unique_ptr<Injector> NewRedfishInjector(const std::string& name, Settings* s) {
  RedfishEndpoint e = RedfishEndpointFromSettings(s);
  std::string action = s->String("action", false, "off");
  if (action != "off" && action != "graceful" && action != "restart")
    s->Problem("action", "must be off, graceful or restart");
  int64_t settle_ns = s->DurationNs("settle", 60 * kNsPerSec);
  if (settle_ns <= 0) s->Problem("settle", "must be more than 0");
  return std::make_unique<RedfishInjector>(name, std::move(e), action, settle_ns);
}

}  // namespace fb
