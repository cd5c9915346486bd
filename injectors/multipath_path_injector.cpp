#include "injectors/multipath_path_injector.h"

#include <sstream>

#include "plugin/command_target.h"

namespace fb {

namespace {

class MultipathPathInjector : public Injector, public FaultChecker {
 public:
  MultipathPathInjector(CommandTarget target, std::string path)
      : target_(std::move(target)), path_(std::move(path)) {}

  void Bind(const FaultContext& c) override { target_.Bind(c); }
  Status Prepare() override { return target_.Prepare(); }
  Status Inject() override { return Run("inject", {"multipathd", "fail", "path", path_}); }
  Status Revert() override { return Run("revert", {"multipathd", "reinstate", "path", path_}); }
  FaultChecker* checker() override { return this; }
  std::string where() const override { return target_.where(); }

  Result<bool> InEffect() override {
    auto out = target_.RunOk("check", {"multipathd", "show", "paths", "format", "%d %t"});
    if (!out.ok()) return out.status();
    std::istringstream in(*out);
    std::string dev, state;
    while (in >> dev >> state) {
      if (dev == path_) return state == "failed";
    }
    return Status::Unavailable(target_.Describe("check", {"multipathd", "show", "paths", "format", "%d %t"}) +
                               ": no path " + path_ + " in the output");
  }

 private:
  // multipathd answers "ok" or "fail" on stdout, with exit 0 either way (0.4.9).
  Status Run(const char* action, const std::vector<std::string>& argv) {
    auto out = target_.RunOk(action, argv);
    if (!out.ok()) return out.status();
    std::string answer = *out;
    while (!answer.empty() && isspace(static_cast<unsigned char>(answer.back()))) answer.pop_back();
    if (answer == "fail")
      return Status::Unavailable(target_.Describe(action, argv) + ": multipathd answered \"fail\"");
    return Status::Ok();
  }
  CommandTarget target_;
  std::string path_;
};

}  // namespace

std::unique_ptr<Injector> NewMultipathPathInjector(const std::string& name, Settings* s) {
  CommandTarget target = CommandTarget::FromSettings(name, s);
  std::string path = s->String("path", true);
  if (path.find('/') != std::string::npos) s->Problem("path", "a device name such as sdc, not a path");
  return std::make_unique<MultipathPathInjector>(std::move(target), path);
}

}  // namespace fb
