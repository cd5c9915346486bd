// The lab pool's XAPI database, served as fb-ha-sim serves it and read by the
// same inventory code `faultbench discover` runs against a real pool: what it
// reads is a pool that can pass preflight, and each defect shows where a real
// one would.
#include "lab/pool_db.h"

#include <doctest/doctest.h>

#include "lab/pool.h"
#include "qualify/test_pool.h"

namespace fb::lab {

namespace {

using nlohmann::json;

// Served on 127.0.0.1 and read back through discover's code (qualify/test_pool.h).
json Discover(const PoolDbSpec& spec) { return testing::ServedPool(spec).inventory["xapi"]; }

PoolDbSpec Spec(std::vector<std::string> defects = {}) {
  PoolDbSpec s = testing::PoolSpec(std::move(defects));
  s.ha_timeout_ns = 2'500'000'000;
  return s;
}

const json& Find(const json& list, const std::string& name) {
  for (const json& e : list)
    if (e["name"] == name) return e;
  static const json kNull;
  FAIL("no " << name);
  return kNull;
}

}  // namespace

TEST_CASE("lab pool database: discover reads an HA pool with agile, protected VMs on two paths" *
          doctest::test_suite("unit")) {
  json inv = Discover(Spec());
  const json& pool = inv["pool"];
  CHECK(pool["master"] == "host-1");
  CHECK(pool["ha_enabled"] == true);
  CHECK(pool["ha_host_failures_to_tolerate"] == 1);
  CHECK(pool["ha_plan_exists_for"] == 1);
  CHECK(pool["ha_timeout_s"] == 3);  // 2.5 s, rounded up as XAPI keeps whole seconds
  CHECK(pool["ha_timeout_from"] == "ha_configuration:timeout");
  CHECK(pool["heartbeat_srs"] == json::array({"fb-ha-heartbeat"}));
  REQUIRE(inv["hosts"].size() == 3);
  const json& h2 = Find(inv["hosts"], "host-2");
  CHECK(h2["address"] == "198.18.10.12");
  CHECK(h2["live"] == true);
  CHECK(h2["management"]["mode"] == "Static");
  CHECK(h2["management"]["device"] == "mgmt0");
  CHECK(h2["other_ips"].size() == 2);
  CHECK(h2["other_ips"][0]["ip"] == "198.18.22.2");
  const json& data = Find(inv["srs"], "fb-metro-lun");
  CHECK(data["type"] == "lvmoiscsi");
  CHECK(data["shared"] == true);
  CHECK(data["size_bytes"] == 1ull << 30);
  CHECK(data["heartbeat"] == false);
  REQUIRE(data["pbds"].size() == 3);
  for (const json& pbd : data["pbds"]) {
    CHECK(pbd["paths_active"] == 2);
    CHECK(pbd["paths_total"] == 2);
    CHECK(pbd["multipathed"] == true);
    CHECK(pbd["iqn"] == "iqn.2026-11.test.faultbench:lun");
    CHECK(pbd["portals"] == "198.18.1.2:3260,198.18.2.2:3260");
  }
  CHECK(Find(inv["srs"], "fb-ha-heartbeat")["size_bytes"] == kStatefileBytes);
  const json& vm1 = Find(inv["vms"], "vm-1");
  CHECK(vm1["host"] == "host-1");
  CHECK(vm1["address"] == "198.18.51.2");
  CHECK(vm1["protected"] == true);
  CHECK(vm1["agile"] == true);
  CHECK(vm1["disks"][0]["sr"] == "fb-metro-lun");
  CHECK(vm1["cds"][0]["empty"] == true);
  CHECK(vm1["vifs"][0]["network"] == "fb-mgmt");
}

TEST_CASE("lab pool database: each defect shows where a real pool's would" * doctest::test_suite("unit")) {
  json inv =
      Discover(Spec({"ha-off", "unprotected:vm-2", "local-cd:vm-1", "one-path:host-2", "dhcp-mgmt:host-3"}));
  CHECK(inv["pool"]["ha_enabled"] == false);
  CHECK(inv["pool"]["ha_plan_exists_for"] == 0);
  CHECK(inv["pool"]["heartbeat_srs"].empty());
  CHECK(Find(inv["vms"], "vm-2")["protected"] == false);
  const json& vm1 = Find(inv["vms"], "vm-1");
  CHECK(vm1["agile"] == false);
  REQUIRE(!vm1["not_agile"].empty());
  CHECK(vm1["not_agile"][0].get<std::string>().find("Local ISO library on host-1") != std::string::npos);
  for (const json& pbd : Find(inv["srs"], "fb-metro-lun")["pbds"])
    CHECK(pbd["paths_active"] == (pbd["host"] == "host-2" ? 1 : 2));
  CHECK(Find(inv["hosts"], "host-3")["management"]["mode"] == "DHCP");
  CHECK(Find(inv["hosts"], "host-1")["management"]["mode"] == "Static");

  CHECK(CheckPoolDefects({"ha-off", "one-path:host-3", "local-cd:vm-2"}, 3, 2).ok());
  Status bad = CheckPoolDefects({"one-path:host-4"}, 3, 2);
  CHECK(bad.message().find("no host \"host-4\"") != std::string::npos);
  CHECK(CheckPoolDefects({"no-disk:vm-1"}, 3, 2).message().find("not one of") != std::string::npos);
}

}  // namespace fb::lab
