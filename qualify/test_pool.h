// Test code only: the lab pool's XAPI database (lab/pool_db.h) served on
// 127.0.0.1 by the XapiService fb-ha-sim runs, and the inventory discover reads
// from it, for plan new's and preflight's tests.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fakes/xapi_service.h"
#include "lab/pool.h"
#include "lab/pool_db.h"
#include "qualify/inventory.h"

namespace fb::testing {

// 3 hosts, vm-1 on host-1 (the master), vm-2 on host-2, two portals, HA timeout 2 s.
inline lab::PoolDbSpec PoolSpec(std::vector<std::string> defects = {}) {
  lab::PoolDbSpec s;
  s.hosts = 3;
  s.mgmt_addrs = {"198.18.10.11", "198.18.10.12", "198.18.10.13"};
  s.vms = 2;
  s.placement = {{1, 1}, {2, 2}};
  s.vm_addrs = {"198.18.51.2", "198.18.52.2"};
  s.iqn = "iqn.2026-11.test.faultbench:lun";
  s.portals = {"198.18.1.2", "198.18.2.2"};
  s.lun_bytes = 1ull << 30;
  s.statefile_bytes = lab::kStatefileBytes;
  s.ha_timeout_ns = 2'000'000'000;
  s.defects = std::move(defects);
  return s;
}

// The database served (for as long as the object lives) and what discover read
// from it, with one array holding the data SR's volume.
struct ServedPool {
  XapiService svc{"root", ""};
  nlohmann::json inventory;
  std::string url;

  explicit ServedPool(const lab::PoolDbSpec& spec) {
    using nlohmann::json;
    REQUIRE(svc.Serve({"127.0.0.1"}, 0).ok());
    REQUIRE(svc.Load(lab::PoolDatabase(spec)).ok());
    url = "http://127.0.0.1:" + std::to_string(svc.port());
    XapiEndpoint e;
    e.urls = {url};
    e.password = "any";
    e.timeout_ns = 2'000'000'000;
    XapiClient xapi(e, "discover");
    REQUIRE(xapi.Connect().ok());
    std::vector<std::string> problems;
    inventory = {{"complete", true}, {"problems", json::array()}};
    inventory["xapi"] = ReadXapiInventory(xapi, &problems);
    REQUIRE(problems.empty());
    inventory["xapi"]["password_env"] = "FB_XAPI_PASSWORD";
    inventory["arrays"] =
        json::array({{{"url", "http://198.18.1.2:8080"},
                      {"token_env", "FB_ARRAY_API_TOKEN"},
                      {"pods", json::array({{{"name", "fb-pod"}}})},
                      {"network_interfaces", json::array({{{"name", "repl0"}, {"enabled", true}}})},
                      {"volumes", json::array({{{"name", "fb-pod::fb-metro-lun"},
                                                {"serial", "FB0000000000000000000001"},
                                                {"pod", "fb-pod"}}})}}});
    LinkVolumesToSrs(&inventory);
    xapi.Logout();
  }
};

// A site file like the lab's: keys that exist, the LUN as the agents' target.
inline nlohmann::json LabLikeSite(const std::string& dir) {
  std::ofstream(dir + "/id") << "key\n";
  std::ofstream(dir + "/known_hosts") << "\n";
  return nlohmann::json::parse(R"({"timing": {"baseline": "10s", "margin": "10s"},
    "agent_defaults": {"identity_file": ")" +
                               dir + R"(/id", "known_hosts": ")" + dir +
                               R"(/known_hosts",
      "target": {"paths": ["iscsi://198.18.1.2/iqn.2026-11.test.faultbench:lun/1",
                           "iscsi://198.18.2.2/iqn.2026-11.test.faultbench:lun/1"]}},
    "workload": {"engine": "libiscsi", "interval": "100ms", "io_timeout": "2s", "path_policy": "round-robin"},
    "injectors": {"host-power-loss": {"kind": "command", "inject": "echo off {host}", "revert": "echo on {host}"},
                  "mgmt-nic-loss": {"kind": "command", "inject": "echo cut {host}", "revert": "echo back {host}"},
                  "path-loss": {"kind": "link", "netns": "fb-{host}", "interface": "sto-a"}}})");
}

}  // namespace fb::testing
