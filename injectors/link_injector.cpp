#include "injectors/link_injector.h"

#include "plugin/command_target.h"

namespace fb {

namespace {

class LinkInjector : public Injector, public FaultChecker {
 public:
  LinkInjector(CommandTarget target, std::string interface)
      : target_(std::move(target)), interface_(std::move(interface)) {}

  void Bind(const FaultContext& c) override { target_.Bind(c); }
  Status Prepare() override { return target_.Prepare(); }
  Status Inject() override {
    return target_.RunOk("inject", {"ip", "link", "set", "dev", interface_, "down"}).status();
  }
  Status Revert() override {
    return target_.RunOk("revert", {"ip", "link", "set", "dev", interface_, "up"}).status();
  }
  FaultChecker* checker() override { return this; }
  std::string where() const override { return target_.where(); }

  // `ip -o link show dev X`: "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu ..."
  Result<bool> InEffect() override {
    auto out = target_.RunOk("check", {"ip", "-o", "link", "show", "dev", interface_});
    if (!out.ok()) return out.status();
    size_t open = out->find('<'), close = out->find('>');
    if (open == std::string::npos || close == std::string::npos || close < open) {
      return Status::Unavailable(target_.Describe("check", {"ip", "-o", "link", "show", "dev", interface_}) +
                                 ": no flags in \"" + *out + "\"");
    }
    std::string flags = "," + out->substr(open + 1, close - open - 1) + ",";
    return flags.find(",UP,") == std::string::npos;
  }

 private:
  CommandTarget target_;
  std::string interface_;
};

}  // namespace

std::unique_ptr<Injector> NewLinkInjector(const std::string& name, Settings* s) {
  CommandTarget target = CommandTarget::FromSettings(name, s);
  std::string interface = s->String("interface", true);
  return std::make_unique<LinkInjector>(std::move(target), interface);
}

}  // namespace fb
