// The inventory from a pool served by the fake XAPI (the exact JSON-RPC and the
// record fields of the XAPI reference, docs/platform.md) and a fake FlashArray:
// names for refs, the heartbeat SR from pool.ha_statefiles, paths from
// PBD.other_config, agility as VM.assert_agile decides it, YAML that reads back.
#include "qualify/inventory.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include "core/jsonl_writer.h"
#include "fakes/fake_array.h"
#include "fakes/fake_xapi_pool.h"
#include "tests/support/rigs.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

using nlohmann::json;

constexpr const char* kScsi = "3600a098038303053453f463045727a4b";

// Three hosts (host-1 the master, host-3 on DHCP), a shared iSCSI SR with two of
// three paths up on host-2, a local SR on host-1, the HA statefile on the
// shared SR; vm-ok (protected, agile), vm-local (a disk on the local SR) and
// vm-cd (an ISO inserted from the local SR).
struct PoolFixture {
  FakeXapiPool fake{1};
  std::string hosts[3], shared_sr, local_sr, net;
  PoolFixture() {
    net =
        fake.Add("network", {{"name_label", "Pool-wide network associated with eth0"}, {"bridge", "xenbr0"}});
    shared_sr = fake.Add("pif", {});  // placeholder ref, replaced below
    for (int i = 0; i < 3; ++i) {
      std::string n = "host-" + std::to_string(i + 1);
      std::string metrics = fake.Add("host_metrics", {{"live", i != 2}, {"memory_total", 68719476736}});
      hosts[i] = fake.Add("host", {{"name_label", n},
                                   {"uuid", n + "-uuid"},
                                   {"address", "198.18.10." + std::to_string(11 + i)},
                                   {"enabled", true},
                                   {"metrics", metrics},
                                   {"PIFs", json::array()}});
      std::string pif = fake.Add("pif", {{"device", "eth0"},
                                         {"host", hosts[i]},
                                         {"network", net},
                                         {"management", true},
                                         {"ip_configuration_mode", i == 2 ? "DHCP" : "Static"},
                                         {"IP", "198.18.10." + std::to_string(11 + i)},
                                         {"bond_master_of", json::array()},
                                         {"bond_slave_of", kXapiNullRef},
                                         {"VLAN", -1}});
      fake.Mod("host", hosts[i], {{"PIFs", json::array({pif})}});
    }
    shared_sr = fake.Add("sr", {{"name_label", "metro-lun"},
                                {"type", "lvmoiscsi"},
                                {"shared", true},
                                {"content_type", ""},
                                {"physical_size", 1099511627776}});
    local_sr = fake.Add("sr", {{"name_label", "Local storage"},
                               {"type", "ext"},
                               {"shared", false},
                               {"physical_size", 214748364800}});
    for (int i = 0; i < 3; ++i) {
      fake.Add(
          "pbd",
          {{"host", hosts[i]},
           {"SR", shared_sr},
           {"currently_attached", true},
           {"device_config",
            {{"target", "198.18.1.2"}, {"targetIQN", "iqn.2026-11.test.faultbench:lun"}, {"SCSIid", kScsi}}},
           {"other_config",
            {{"multipathed", "true"}, {"mpath-" + std::string(kScsi), i == 1 ? "[2, 3]" : "[3, 3]"}}}});
    }
    fake.Add("pbd", {{"host", hosts[0]},
                     {"SR", local_sr},
                     {"currently_attached", true},
                     {"device_config", json::object()}});
    std::string statefile =
        fake.Add("vdi", {{"name_label", "Statefile for HA"}, {"SR", shared_sr}, {"type", "ha_statefile"}});
    fake.Add("pool", {{"name_label", "pool-a"},
                      {"master", hosts[0]},
                      {"ha_enabled", true},
                      {"ha_host_failures_to_tolerate", 1},
                      {"ha_plan_exists_for", 1},
                      {"ha_statefiles", json::array({statefile})},
                      {"ha_configuration", json::object()},
                      {"other_config", {{"default_ha_timeout", "30"}}}});
    AddVm("vm-ok", hosts[1], "restart", shared_sr, "", "");
    AddVm("vm-local", hosts[0], "", local_sr, "", "");
    AddVm("vm-cd", hosts[2], "best-effort", shared_sr, local_sr, "");
    fake.Add("vm", {{"name_label", "Control domain on host: host-1"}, {"is_control_domain", true}});
    fake.Add("vm", {{"name_label", "Debian Bookworm 12"}, {"is_a_template", true}});
  }
  void AddVm(const std::string& name, const std::string& host, const std::string& priority,
             const std::string& disk_sr, const std::string& cd_sr, const std::string&) {
    std::string vm = fake.Add("vm", {{"name_label", name},
                                     {"power_state", "Running"},
                                     {"resident_on", host},
                                     {"ha_restart_priority", priority},
                                     {"order", 0},
                                     {"is_control_domain", false},
                                     {"is_a_template", false},
                                     {"is_a_snapshot", false}});
    std::string vdi =
        fake.Add("vdi", {{"name_label", name + " disk"}, {"SR", disk_sr}, {"virtual_size", 10737418240}});
    json vbds = json::array({fake.Add(
        "vbd", {{"VM", vm}, {"VDI", vdi}, {"type", "Disk"}, {"userdevice", "0"}, {"empty", false}})});
    std::string iso =
        cd_sr.empty() ? kXapiNullRef : fake.Add("vdi", {{"name_label", "debian.iso"}, {"SR", cd_sr}});
    vbds.push_back(fake.Add(
        "vbd", {{"VM", vm}, {"VDI", iso}, {"type", "CD"}, {"userdevice", "3"}, {"empty", cd_sr.empty()}}));
    std::string vif = fake.Add("vif", {{"VM", vm}, {"network", net}, {"device", "0"}});
    fake.Mod("vm", vm, {{"VBDs", vbds}, {"VIFs", json::array({vif})}});
  }
};

const json* Named(const json& list, const std::string& name) {
  for (const json& e : list)
    if (e.value("name", "") == name) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("inventory: a pool read through the XAPI client, refs named, HA and paths and agility derived" *
          doctest::test_suite("unit")) {
  PoolFixture pool;
  REQUIRE(pool.fake.ok());
  XapiEndpoint e;
  e.urls = {pool.fake.Url(0)};
  e.password = "xapi-test-password";
  XapiClient xapi(e, "discover");
  REQUIRE(xapi.Connect().ok());
  std::vector<std::string> problems;
  json x = ReadXapiInventory(xapi, &problems);
  CHECK(problems.empty());

  CHECK(x["pool"]["master"] == "host-1");
  CHECK(x["pool"]["ha_enabled"] == true);
  CHECK(x["pool"]["ha_timeout_s"] == 30);
  CHECK(x["pool"]["ha_timeout_from"] == "other_config:default_ha_timeout");
  CHECK(x["pool"]["heartbeat_srs"] == json::array({"metro-lun"}));

  REQUIRE(x["hosts"].size() == 3);
  const json* h3 = Named(x["hosts"], "host-3");
  REQUIRE(h3);
  CHECK((*h3)["live"] == false);
  CHECK((*h3)["management"]["mode"] == "DHCP");
  CHECK((*Named(x["hosts"], "host-1"))["master"] == true);

  const json* sr = Named(x["srs"], "metro-lun");
  REQUIRE(sr);
  CHECK((*sr)["heartbeat"] == true);
  CHECK((*sr)["size_bytes"] == 1099511627776);
  REQUIRE((*sr)["pbds"].size() == 3);
  for (const json& pbd : (*sr)["pbds"]) {
    CHECK(pbd["scsi_id"] == kScsi);
    CHECK(pbd["paths_active"] == (pbd["host"] == "host-2" ? 2 : 3));
    CHECK(pbd["paths_total"] == 3);
  }

  REQUIRE(x["vms"].size() == 3);  // no control domain, no template
  const json* ok = Named(x["vms"], "vm-ok");
  REQUIRE(ok);
  CHECK((*ok)["host"] == "host-2");
  CHECK((*ok)["protected"] == true);
  CHECK((*ok)["agile"] == true);
  CHECK((*ok)["disks"][0]["sr"] == "metro-lun");
  CHECK((*ok)["cds"][0]["empty"] == true);
  const json* local = Named(x["vms"], "vm-local");
  CHECK((*local)["agile"] == false);
  CHECK((*local)["not_agile"][0].get<std::string>().find("HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED") !=
        std::string::npos);
  const json* cd = Named(x["vms"], "vm-cd");
  CHECK((*cd)["agile"] == false);
  CHECK((*cd)["not_agile"][0].get<std::string>().find("CD 3 on SR Local storage") == 0);

  json inv = {{"complete", true}, {"problems", json::array()}, {"xapi", x}, {"arrays", json::array()}};
  std::string tables = InventoryTables(inv);
  CHECK(tables.find("pool pool-a") != std::string::npos);
  CHECK(tables.find("host-2 2/3") != std::string::npos);
  CHECK(tables.find("NO: disk 0 on SR Local storage") != std::string::npos);
  YAML::Node back = YAML::Load(InventoryYaml(inv, "read at a test\nsecond line"));
  CHECK(back["xapi"]["pool"]["master"].as<std::string>() == "host-1");
  CHECK(back["xapi"]["srs"].size() == 2);
  CHECK(back["complete"].as<bool>());
}

TEST_CASE("inventory: an array's pods, and a class that cannot be read makes it incomplete, not empty" *
          doctest::test_suite("unit")) {
  FakeFlashArray fake;
  ArrayEndpoint e;
  e.url = "http://127.0.0.1:" + std::to_string(fake.port());
  e.token = "secret";
  ArrayClient array(e, "discover");
  std::vector<std::string> problems;
  json a = ReadArrayInventory(array, &problems);
  REQUIRE(a["pods"].size() == 1);
  CHECK(a["pods"][0]["arrays"][1]["name"] == "site-b");
  CHECK(a["pods"][0]["arrays"][1]["mediator_status"] == "online");
  CHECK(a["array_connections"][0]["status"] == "connected");
  // The fake serves no network-interfaces or volumes: each is a problem naming the URL.
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].find(e.url + "/api/2.42/network-interfaces") != std::string::npos);
  CHECK(a["volumes"].is_null());

  json inv = {{"complete", false}, {"problems", problems}, {"arrays", json::array({a})}};
  std::string tables = InventoryTables(inv);
  CHECK(tables.find("fb-pod") != std::string::npos);
  CHECK(tables.find("INCOMPLETE") != std::string::npos);
}

TEST_CASE(
    "discover: the command writes the inventory, exit 3 with it marked incomplete, exit 2 without a "
    "password" *
    doctest::test_suite("integration")) {
  PoolFixture pool;
  REQUIRE(pool.fake.ok());
  FakeFlashArray array;
  TempDir tmp;
  std::string out = tmp.path() + "/inventory.yaml";
  {
    ScopedEnv no_password("FB_TEST_DISCOVER_PW", "");
    auto r = RunCli(
        {"discover", "--xapi", pool.fake.Url(0), "--password-env", "FB_TEST_DISCOVER_PW", "--out", out});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("$FB_TEST_DISCOVER_PW is not set") != std::string::npos);
  }
  ScopedEnv password("FB_TEST_DISCOVER_PW", "xapi-test-password");
  ScopedEnv token("FB_TEST_DISCOVER_TOKEN", "secret");
  auto r = RunCli({"discover", "--xapi", pool.fake.Url(0), "--password-env", "FB_TEST_DISCOVER_PW", "--array",
                   "http://127.0.0.1:" + std::to_string(array.port()), "--array-token-env",
                   "FB_TEST_DISCOVER_TOKEN", "--out", out});
  // The fake array serves no network-interfaces or volumes: incomplete, still written.
  CHECK(r.exit_code == 3);
  CHECK(r.out.find("pool pool-a") != std::string::npos);
  CHECK(r.out.find("INCOMPLETE") != std::string::npos);
  YAML::Node inv = YAML::LoadFile(out);
  CHECK(!inv["complete"].as<bool>());
  CHECK(inv["problems"].size() == 2);
  CHECK(inv["xapi"]["vms"].size() == 3);
  CHECK(inv["arrays"][0]["pods"][0]["name"].as<std::string>() == "fb-pod");
  auto text = ReadFile(out);
  REQUIRE(text.ok());
  CHECK(text->find("xapi-test-password") == std::string::npos);
  // "secret" is the fake array's token: only the header's "No secret is in this file" says it.
  CHECK(text->find("secret") == text->rfind("secret"));
  CHECK(text->find("No secret is in this file") != std::string::npos);
}

TEST_CASE("inventory: a dom0's multipath paths by map, named by SR, other shapes skipped" *
          doctest::test_suite("unit")) {
  json srs = json::array({{{"name", "metro-lun"}, {"pbds", json::array({{{"scsi_id", "3624a9370aa01"}}})}}});
  json mp = ParseMultipathPaths(
      "3624a9370aa01|sdb|8:16|active|ready|running\n"
      "3624a9370aa01|sdc|8:32|failed|faulty|running\n"
      "3624a9370bb02|sdd|8:48|active|ready|running\n"
      "|sde|8:64|undef|ready|running\n"  // a path with no map
      "not a path line\n",
      srs);
  REQUIRE(mp["maps"].size() == 2);
  const json& m = mp["maps"][0];
  CHECK(m["wwid"] == "3624a9370aa01");
  CHECK(m["sr"] == "metro-lun");
  CHECK(m["active"] == 1);
  CHECK(m["failed"] == 1);
  CHECK(m["paths"][1] == json{{"dev", "sdc"},
                              {"dev_t", "8:32"},
                              {"dm_state", "failed"},
                              {"checker", "faulty"},
                              {"state", "running"}});
  CHECK(mp["maps"][1]["sr"].is_null());
  CHECK(mp["skipped"] == 2);
}

TEST_CASE("inventory: multipath is read with the exact multipathd command, a refusal names host and command" *
          doctest::test_suite("unit")) {
  // A stand-in multipathd on PATH (no device-mapper here) that answers only the exact command line.
  TempDir tmp;
  WriteScript(tmp.path() + "/multipathd",
              "if [ \"$*\" = 'show paths raw format %w|%d|%D|%t|%T|%o' ]; then\n"
              "  echo '3624a9370aa01|sdb|8:16|active|ready|running'\n"
              "  echo '3624a9370aa01|sdc|8:32|active|ready|running'\n"
              "else echo \"unknown command: $*\" >&2; exit 1; fi\n");
  ScopedEnv path("PATH", tmp.path() + ":" + std::string(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin"));
  Settings s(json::object());
  CommandTarget local = CommandTarget::FromSettings("discover", &s);
  auto mp = ReadMultipath(local, json::array());
  REQUIRE_MESSAGE(mp.ok(), mp.status().message());
  REQUIRE((*mp)["maps"].size() == 1);
  CHECK((*mp)["maps"][0]["active"] == 2);

  WriteScript(tmp.path() + "/multipathd", "echo 'ux_socket_connect: Connection refused' >&2; exit 1\n");
  auto refused = ReadMultipath(local, json::array());
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("localhost") != std::string::npos);
  CHECK(refused.status().message().find("multipathd show paths raw format") != std::string::npos);
  CHECK(refused.status().message().find("Connection refused") != std::string::npos);
}

}  // namespace fb
