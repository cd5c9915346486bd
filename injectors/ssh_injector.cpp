#include "injectors/ssh_injector.h"

#include "plugin/command_target.h"

namespace fb {

namespace {

class SshInjector : public Injector, public FaultChecker {
 public:
  SshInjector(CommandTarget target, std::string inject, std::string revert, std::string check)
      : target_(std::move(target)),
        inject_(std::move(inject)),
        revert_(std::move(revert)),
        check_(std::move(check)) {}

  void Bind(const FaultContext& c) override { target_.Bind(c); }
  Status Prepare() override { return target_.Prepare(); }
  Status Inject() override { return target_.RunOk("inject", {"sh", "-c", inject_}).status(); }
  Status Revert() override { return target_.RunOk("revert", {"sh", "-c", revert_}).status(); }
  FaultChecker* checker() override { return check_.empty() ? nullptr : this; }
  std::string where() const override { return target_.where(); }

  Result<bool> InEffect() override {
    std::vector<std::string> argv = {"sh", "-c", check_};
    auto r = target_.Run(argv);
    if (!r.ok()) return r.status().With(target_.Describe("check", argv));
    // 255 is ssh's own failure (connection, host key): not an answer.
    if (r->timed_out || r->term_signal || r->exit_code == 255) {
      return Status::Unavailable(target_.Describe("check", argv) + ": " + r->Describe());
    }
    return r->exit_code == 0;
  }

 private:
  CommandTarget target_;
  std::string inject_, revert_, check_;
};

}  // namespace

std::unique_ptr<Injector> NewSshInjector(const std::string& name, Settings* s) {
  if (!s->Has("host")) s->Problem("", "missing required setting \"host\"");
  CommandTarget target = CommandTarget::FromSettings(name, s);
  std::string inject = s->String("inject", true);
  std::string revert = s->String("revert", true);
  std::string check = s->String("check");
  return std::make_unique<SshInjector>(std::move(target), inject, revert, check);
}

}  // namespace fb
