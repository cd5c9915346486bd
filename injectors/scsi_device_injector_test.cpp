// scsi_device against a sysfs-shaped directory (sysfs_root), since these
// machines have no SCSI disk to offline.
#include "injectors/scsi_device_injector.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "core/jsonl_writer.h"
#include "tests/support/test_util.h"

namespace fb {

TEST_CASE("scsi_device injector: writes offline / running to block/<dev>/device/state" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() + "/block/sdc/device");
  const std::string state = tmp.path() + "/block/sdc/device/state";
  std::ofstream(state) << "running\n";
  Settings s(nlohmann::json{{"device", "sdc"}, {"sysfs_root", tmp.path()}});
  auto inj = NewScsiDeviceInjector("disk", &s);
  REQUIRE(s.problems().empty());
  CHECK(inj->checker()->InEffect().value() == false);
  REQUIRE(inj->Inject().ok());
  CHECK(ReadFile(state).value() == "offline\n");
  CHECK(inj->checker()->InEffect().value() == true);
  REQUIRE(inj->Revert().ok());
  CHECK(ReadFile(state).value() == "running\n");
  CHECK(inj->checker()->InEffect().value() == false);

  Settings missing(nlohmann::json{{"device", "sdz"}, {"sysfs_root", tmp.path()}});
  Status st = NewScsiDeviceInjector("ghost", &missing)->Inject();
  CHECK(!st.ok());
  CHECK(st.message().find("injector ghost on localhost: inject `sh -c 'echo offline > ") !=
        std::string::npos);
  CHECK(st.message().find("sdz/device/state") != std::string::npos);
}

}  // namespace fb
