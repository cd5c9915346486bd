#include "injectors/scsi_device_injector.h"

#include "plugin/command_target.h"

namespace fb {

namespace {

class ScsiDeviceInjector : public Injector, public FaultChecker {
 public:
  ScsiDeviceInjector(CommandTarget target, std::string state_path)
      : target_(std::move(target)), state_path_(std::move(state_path)) {}

  void Bind(const FaultContext& c) override { target_.Bind(c); }
  Status Prepare() override { return target_.Prepare(); }
  Status Inject() override { return Write("inject", "offline"); }
  Status Revert() override { return Write("revert", "running"); }
  FaultChecker* checker() override { return this; }
  std::string where() const override { return target_.where(); }

  Result<bool> InEffect() override {
    auto out = target_.RunOk("check", {"cat", state_path_});
    if (!out.ok()) return out.status();
    return out->rfind("offline", 0) == 0;
  }

 private:
  Status Write(const char* action, const char* state) {
    return target_.RunOk(action, {"sh", "-c", std::string("echo ") + state + " > " + ShellQuote(state_path_)})
        .status();
  }
  CommandTarget target_;
  std::string state_path_;
};

}  // namespace

std::unique_ptr<Injector> NewScsiDeviceInjector(const std::string& name, Settings* s) {
  CommandTarget target = CommandTarget::FromSettings(name, s);
  std::string device = s->String("device", true);
  std::string root = s->String("sysfs_root", false, "/sys");
  if (device.find('/') != std::string::npos) s->Problem("device", "a device name such as sdc, not a path");
  return std::make_unique<ScsiDeviceInjector>(std::move(target), root + "/block/" + device + "/device/state");
}

}  // namespace fb
