#include "injectors/iscsi_session_injector.h"

#include <sstream>

#include "plugin/command_target.h"

namespace fb {

namespace {

class IscsiSessionInjector : public Injector, public FaultChecker {
 public:
  IscsiSessionInjector(CommandTarget target, std::string iqn, std::string portal)
      : target_(std::move(target)), iqn_(std::move(iqn)), portal_(std::move(portal)) {}

  void Bind(const FaultContext& c) override { target_.Bind(c); }
  Status Prepare() override { return target_.Prepare(); }
  Status Inject() override { return target_.RunOk("inject", Node("-u")).status(); }
  Status Revert() override { return target_.RunOk("revert", Node("-l")).status(); }
  FaultChecker* checker() override { return this; }
  std::string where() const override { return target_.where(); }

  // Lines: "tcp: [1] 198.18.0.1:3260,1 iqn.2003-01.org.example:disk1 (non-flash)";
  // exit 21 with "No active sessions" when there are none.
  Result<bool> InEffect() override {
    std::vector<std::string> argv = {"iscsiadm", "-m", "session"};
    auto r = target_.Run(argv);
    if (!r.ok()) return r.status().With(target_.Describe("check", argv));
    if (r->exit_code == 21) return true;
    if (!r->success()) return Status::Unavailable(target_.Describe("check", argv) + ": " + r->Describe());
    std::istringstream in(r->out);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string w;
      bool portal = false, iqn = false;
      while (words >> w) {
        portal |= w == portal_ || w.rfind(portal_ + ",", 0) == 0;
        iqn |= w == iqn_;
      }
      if (portal && iqn) return false;
    }
    return true;
  }

 private:
  std::vector<std::string> Node(const char* op) const {
    return {"iscsiadm", "-m", "node", "-T", iqn_, "-p", portal_, op};
  }
  CommandTarget target_;
  std::string iqn_, portal_;
};

}  // namespace

std::unique_ptr<Injector> NewIscsiSessionInjector(const std::string& name, Settings* s) {
  CommandTarget target = CommandTarget::FromSettings(name, s);
  std::string iqn = s->String("target", true);
  std::string portal = s->String("portal", true);
  if (!portal.empty() && portal.find(':') == std::string::npos) s->Problem("portal", "must be IP:PORT");
  return std::make_unique<IscsiSessionInjector>(std::move(target), iqn, portal);
}

}  // namespace fb
