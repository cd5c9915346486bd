#include "injectors/ipmi_injector.h"

#include <cstdlib>

#include "core/subprocess.h"

namespace fb {

namespace {

class IpmiInjector : public Injector, public FaultChecker {
 public:
  IpmiInjector(std::string name, std::string host, std::string user, std::string password_env, bool reset,
               std::string interface, int64_t timeout_ns)
      : name_(std::move(name)), host_(std::move(host)), user_(std::move(user)), password_env_(std::move(password_env)),
        reset_(reset), interface_(std::move(interface)), timeout_ns_(timeout_ns) {}

  Status Inject() override { return Power("inject", reset_ ? "reset" : "off").status(); }
  Status Revert() override { return reset_ ? Status::Ok() : Power("revert", "on").status(); }
  FaultChecker* checker() override { return reset_ ? nullptr : this; }
  std::string where() const override { return "bmc " + host_; }

  // "Chassis Power is off"
  Result<bool> InEffect() override {
    auto out = Power("check", "status");
    if (!out.ok()) return out.status();
    return out->find("Chassis Power is off") != std::string::npos;
  }

 private:
  Result<std::string> Power(const char* action, const char* what) {
    std::vector<std::string> tool = {"ipmitool", "-I", interface_, "-H", host_, "-U", user_, "-E",
                                     "chassis", "power", what};
    std::string prefix = "injector " + name_ + " on " + where() + ": " + action + " `" + JoinArgv(tool) + "`";
    if (!getenv(password_env_.c_str())) {
      return Status::InvalidInput(prefix + ": environment variable " + password_env_ + " (the BMC password) is not set");
    }
    // sh copies the variable into IPMI_PASSWORD for ipmitool alone.
    std::vector<std::string> argv = {"sh", "-c", "IPMI_PASSWORD=\"$" + password_env_ + "\" exec \"$@\"", "sh"};
    argv.insert(argv.end(), tool.begin(), tool.end());
    auto r = RunCommand(argv, {.timeout_ns = timeout_ns_});
    if (!r.ok()) return r.status().With(prefix);
    if (!r->success()) return Status::Unavailable(prefix + ": " + r->Describe());
    return r->out;
  }

  std::string name_, host_, user_, password_env_;
  bool reset_;
  std::string interface_;
  int64_t timeout_ns_;
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
  std::string host = s->String("host", true);
  std::string user = s->String("user", true);
  std::string password_env = s->String("password_env", false, "IPMI_PASSWORD");
  if (!IsEnvName(password_env)) s->Problem("password_env", "not an environment variable name: \"" + password_env + "\"");
  std::string action = s->String("action", false, "off");
  if (action != "off" && action != "reset") s->Problem("action", "must be off or reset");
  std::string interface = s->String("interface", false, "lanplus");
  int64_t timeout_ns = s->DurationNs("timeout", 30'000'000'000LL);
  if (timeout_ns <= 0) s->Problem("timeout", "must be more than 0");
  return std::make_unique<IpmiInjector>(name, host, user, password_env, action == "reset", interface, timeout_ns);
}

}  // namespace fb
