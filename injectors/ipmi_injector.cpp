#include "injectors/ipmi_injector.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "core/clock.h"
#include "core/subprocess.h"
#include "core/units.h"

namespace fb {

namespace {

class IpmiInjector : public Injector, public FaultChecker {
 public:
  struct Config {
    std::string host, user, password_env, password_file, interface, cipher_suite;
    bool reset = false;
    int64_t timeout_ns = 0, settle_ns = 0;
  };
  IpmiInjector(std::string name, Config c) : name_(std::move(name)), c_(std::move(c)) {}

  Status Inject() override {
    if (c_.reset) return Power("inject", "reset").status();
    return PowerAndWait("inject", "off", "Chassis Power is off");
  }
  Status Revert() override { return c_.reset ? Status::Ok() : PowerAndWait("revert", "on", "Chassis Power is on"); }
  FaultChecker* checker() override { return c_.reset ? nullptr : this; }
  std::string where() const override { return "bmc " + c_.host; }

  // "Chassis Power is off"
  Result<bool> InEffect() override {
    auto out = Power("check", "status");
    if (!out.ok()) return out.status();
    return out->find("Chassis Power is off") != std::string::npos;
  }

 private:
  // `chassis power what`, then `status` until it says `want`: a BMC answers
  // the command at once and switches the power a moment later.
  Status PowerAndWait(const char* action, const char* what, const std::string& want) {
    auto done = Power(action, what);
    if (!done.ok()) return done.status();
    int64_t deadline = MonoNs() + c_.settle_ns;
    std::string last;
    while (true) {
      auto st = Power(action, "status");
      if (st.ok() && st->find(want) != std::string::npos) return Status::Ok();
      last = st.ok() ? *st : st.status().message();
      while (!last.empty() && last.back() == '\n') last.pop_back();
      if (MonoNs() >= deadline)
        return Status::Unavailable("injector " + name_ + " on " + where() + ": " + action + ": power " + what +
                                   " accepted, but after " + FormatDuration(c_.settle_ns) + " the BMC says \"" + last +
                                   "\"");
      SleepUntilMono(std::min(deadline, MonoNs() + 200 * kNsPerMs));
    }
  }

  Result<std::string> Power(const char* action, const char* what) {
    std::vector<std::string> tool = {"ipmitool", "-I", c_.interface};
    if (!c_.cipher_suite.empty()) tool.insert(tool.end(), {"-C", c_.cipher_suite});
    tool.insert(tool.end(), {"-H", c_.host, "-U", c_.user});
    if (!c_.password_file.empty()) {
      tool.insert(tool.end(), {"-f", c_.password_file});
    } else {
      tool.push_back("-E");
    }
    tool.insert(tool.end(), {"chassis", "power", what});
    std::string prefix = "injector " + name_ + " on " + where() + ": " + action + " `" + JoinArgv(tool) + "`";
    std::vector<std::string> argv = tool;
    if (c_.password_file.empty()) {
      if (!getenv(c_.password_env.c_str())) {
        return Status::InvalidInput(prefix + ": environment variable " + c_.password_env +
                                    " (the BMC password) is not set");
      }
      // sh copies the variable into IPMI_PASSWORD for ipmitool alone.
      argv = {"sh", "-c", "IPMI_PASSWORD=\"$" + c_.password_env + "\" exec \"$@\"", "sh"};
      argv.insert(argv.end(), tool.begin(), tool.end());
    }
    auto r = RunCommand(argv, {.timeout_ns = c_.timeout_ns});
    if (!r.ok()) return r.status().With(prefix);
    if (!r->success()) return Status::Unavailable(prefix + ": " + r->Describe());
    return r->out;
  }

  std::string name_;
  Config c_;
};

bool IsEnvName(const std::string& s) {
  if (s.empty() || isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<Injector> NewIpmiInjector(const std::string& name, Settings* s) {
  IpmiInjector::Config c;
  c.host = s->String("host", true);
  c.user = s->String("user", true);
  c.password_env = s->String("password_env", false, "IPMI_PASSWORD");
  if (!IsEnvName(c.password_env))
    s->Problem("password_env", "not an environment variable name: \"" + c.password_env + "\"");
  c.password_file = s->String("password_file", false);
  if (!c.password_file.empty() && access(c.password_file.c_str(), R_OK) != 0)
    s->Problem("password_file", "cannot read \"" + c.password_file + "\"");
  std::string action = s->String("action", false, "off");
  if (action != "off" && action != "reset") s->Problem("action", "must be off or reset");
  c.reset = action == "reset";
  c.interface = s->String("interface", false, "lanplus");
  c.cipher_suite = s->String("cipher_suite", false);
  if (!c.cipher_suite.empty() && c.cipher_suite.find_first_not_of("0123456789") != std::string::npos)
    s->Problem("cipher_suite", "must be a number (ipmitool -C)");
  c.timeout_ns = s->DurationNs("timeout", 30'000'000'000LL);
  if (c.timeout_ns <= 0) s->Problem("timeout", "must be more than 0");
  c.settle_ns = s->DurationNs("settle", 60'000'000'000LL);
  if (c.settle_ns <= 0) s->Problem("settle", "must be more than 0");
  return std::make_unique<IpmiInjector>(name, std::move(c));
}

}  // namespace fb
