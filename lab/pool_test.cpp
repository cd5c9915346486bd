// Integration test of the lab's pool (pool.h): real namespaces, tgtd, nftables
// and OpenSSH. Root only; a LabSession holds the LabLock and takes the lab down
// however the test ends, so a failed check still leaves nothing behind. The HA simulator is not
// started (a stand-in runs in its place): this test drives the pool's controls by hand.
#include "lab/pool.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/subprocess.h"
#include "lab/lab.h"
#include "lab/lab_lock.h"
#include "lab/netns.h"
#include "lab/process.h"
#include "lab/topology.h"
#include "tests/support/lab_fixture.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb::lab {
namespace {

using nlohmann::json;

constexpr int64_t kStepTimeoutNs = 10 * kNsPerSec;

CommandResult Run(const std::vector<std::string>& argv, int64_t timeout_ns = kStepTimeoutNs) {
  auto r = RunCommand(argv, {.timeout_ns = timeout_ns});
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  return *r;
}

// A TCP connect from inside namespace ns, given up after 2 s.
bool ConnectsFrom(const std::string& ns, const std::string& addr, int port) {
  CommandResult r = Run({"ip", "netns", "exec", ns, "timeout", "2", "bash", "-c",
                         "exec 3<>/dev/tcp/" + addr + "/" + std::to_string(port)});
  return r.success();
}

// Runs a command on the VM over ssh with the lab's key; the remote shell prints
// its own pid's namespace first.
CommandResult Ssh(const PoolConfig& pool, int vm, const std::string& command) {
  return Run(
      {"ssh", "-i", pool.ssh_key, "-o", "UserKnownHostsFile=" + pool.known_hosts, "-o", "BatchMode=yes", "-o",
       "ConnectTimeout=5", "root@" + PoolVmAddr(vm), "ip netns identify $$; " + command},
      15 * kNsPerSec);
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

std::optional<json> LastEvent(const std::string& path, const std::string& kind) {
  std::optional<json> found;
  for (const json& j : ReadJsonl(path)) {
    if (j.value("kind", "") == kind && j.value("source", "") == "pool") found = j;
  }
  return found;
}

void CheckNothingLeft() {
  for (const std::string& ns : ListNamespaces()) CHECK_MESSAGE(!IsLabNamespace(ns), "namespace left: " << ns);
  CHECK(ListLinks("", kHostLinkPrefix).empty());
  CommandResult tables = Run({"nft", "list", "tables"});
  CHECK(tables.out.find(kPoolNftTable) == std::string::npos);
  CHECK(tables.out.find(kNftTable) == std::string::npos);
  CHECK(!std::filesystem::exists(kDefaultStateDir));
  // Simulators, sshd and agents all name a file in the state directory.
  CommandResult left = Run({"pgrep", "-a", "-f", std::string(kDefaultStateDir) + "/"});
  CHECK_MESSAGE(left.out.empty(), "processes left: " << left.out);
}

}  // namespace

TEST_CASE("lab pool: VMs reach both portals and answer ssh, storage cut, power off, restart elsewhere, down" *
          doctest::test_suite("integration")) {
  if (!IsRoot() || access("/usr/sbin/sshd", X_OK) != 0) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  // A stand-in for fb-ha-sim: a process per host that lives until killed.
  TempDir tmp;
  std::string stand_in = tmp.path() + "/" + kHaSimExecutable;
  std::ofstream(stand_in) << "#!/bin/sh\nwhile :; do sleep 1; done\n";
  REQUIRE(chmod(stand_in.c_str(), 0755) == 0);
  LabOptions o;
  o.faultbench_path = FB_CLI_PATH;
  o.ha_sim_path = stand_in;
  o.pool_hosts = 2;
  o.pool_vms = 2;
  const std::string state_dir = kDefaultStateDir;
  {
    labtest::LabSession session(o);
    REQUIRE_MESSAGE(session.error().empty(), session.error());
    const LabInfo* info = &session.info();
    REQUIRE(info->has_pool);
    const PoolConfig& pool = info->pool;
    REQUIRE(pool.hosts.size() == 2);
    REQUIRE(pool.vms.size() == 2);
    CHECK(pool.statefile_urls.at(0) == "iscsi://198.18.1.2/" + std::string(kDefaultIqn) + "/2");
    CHECK(*VmPlacement(state_dir, 1) == 1);
    CHECK(*VmPlacement(state_dir, 2) == 2);
    CHECK(ResidentVms(state_dir, 1) == std::vector<int>{1});

    // Both portals from each VM (an iSCSI login that lists LUN 1 and the
    // statefile LUN 2), and ssh into the VM's own namespace.
    for (int vm = 1; vm <= 2; ++vm) {
      for (const char* portal : {"198.18.1.2", "198.18.2.2"}) {
        CommandResult ls = Run(
            {"ip", "netns", "exec", PoolVmNamespace(vm), "iscsi-ls", "-s", std::string("iscsi://") + portal});
        CHECK_MESSAGE(ls.success(), PoolVmName(vm) << " -> " << portal << ": " << ls.Describe());
        CHECK(ls.out.find("Lun:2") != std::string::npos);
      }
      CommandResult ssh = Ssh(pool, vm, "faultbench --version");
      REQUIRE_MESSAGE(ssh.success(), PoolVmName(vm) << ": " << ssh.Describe());
      CHECK(FirstLine(ssh.out) == PoolVmNamespace(vm));
      CHECK(ssh.out.find("\nfaultbench ") != std::string::npos);
    }

    // Storage cut on host-1: vm-1's portals go silent, vm-2's (host-2) do not.
    REQUIRE(CutStorage(state_dir, 1).ok());
    REQUIRE(CutStorage(state_dir, 1).ok());  // idempotent
    CHECK(!ConnectsFrom(PoolVmNamespace(1), "198.18.1.2", 3260));
    CHECK(!ConnectsFrom(PoolVmNamespace(1), "198.18.2.2", 3260));
    CHECK(ConnectsFrom(PoolVmNamespace(2), "198.18.1.2", 3260));
    REQUIRE(RestoreStorage(state_dir, 1).ok());
    CHECK(ConnectsFrom(PoolVmNamespace(1), "198.18.1.2", 3260));
    CHECK(ConnectsFrom(PoolVmNamespace(1), "198.18.2.2", 3260));
    CHECK(LastEvent(pool.events_file, "storage_cut").has_value());

    // Power off host-1: its processes and vm-1's die, links go down.
    std::vector<pid_t> host_pids = NamespacePids(PoolHostNamespace(1));
    pid_t sim_pid = ReadPidFile(PoolHaSimPidFile(state_dir, 1));
    REQUIRE(GetProcState(sim_pid) == ProcState::kRunning);
    CHECK(ProcCmdline(sim_pid) ==
          std::vector<std::string>{"/bin/sh", stand_in, "--state-dir", state_dir, "--host", "host-1"});
    CHECK(std::find(host_pids.begin(), host_pids.end(), sim_pid) != host_pids.end());
    std::vector<pid_t> vm_pids = NamespacePids(PoolVmNamespace(1));
    REQUIRE(!vm_pids.empty());  // vm-1's sshd
    int64_t before = UtcNs();
    int64_t t0 = MonoNs();
    REQUIRE(PowerOffHost(state_dir, 1).ok());
    int64_t off_ns = MonoNs() - t0;
    MESSAGE("PowerOffHost took " << off_ns / kNsPerMs << " ms");
    for (pid_t p : host_pids) CHECK(GetProcState(p) == ProcState::kGone);
    for (pid_t p : vm_pids) CHECK(GetProcState(p) == ProcState::kGone);
    CHECK(NamespacePids(PoolVmNamespace(1)).empty());
    for (const char* link : {kHostMgmtIf, kHostStorageIfA, kHostStorageIfB})
      CHECK(LinkOperState(PoolHostNamespace(1), link) == "down");
    CHECK(LinkOperState(PoolVmNamespace(1), kVmNetIf) == "down");
    CHECK(NamespacePids(PoolVmNamespace(2)).size() >= 1);  // vm-2 on host-2 lives on
    auto off = LastEvent(pool.events_file, "host_power_off");
    REQUIRE(off.has_value());
    CHECK((*off)["attrs"]["vms"] == json::array({"vm-1"}));
    int64_t t_off = off->value("t_utc_ns", int64_t(0));
    MESSAGE("the kill (host_power_off's time) came " << (t_off - before) / kNsPerUs << " us after the call");
    CHECK(t_off >= before);
    CHECK(t_off <= before + off_ns + 5 * kNsPerMs);
    CHECK(*VmPlacement(state_dir, 1) == 1);  // resident until moved
    CHECK(!StartVm(state_dir, 1, 1).ok());   // a powered-off host runs nothing

    // vm-1 restarted on host-2: same address, its placement says host-2.
    // As fb-ha-sim does it: from host-2's namespace (no route to the VM network).
    CommandResult moved = Run({"ip", "netns", "exec", PoolHostNamespace(2), FB_CLI_PATH, "lab", "vm", "start",
                               "vm-1", "--host", "host-2"},
                              20 * kNsPerSec);
    REQUIRE_MESSAGE(moved.success(), moved.Describe());
    std::ifstream placement(PoolVmDir(state_dir, 1) + "/host");
    std::string placed;
    std::getline(placement, placed);
    CHECK(placed == "host-2");
    CommandResult again = Ssh(pool, 1, "echo back");
    REQUIRE_MESSAGE(again.success(), again.Describe());
    CHECK(FirstLine(again.out) == PoolVmNamespace(1));
    CHECK(ConnectsFrom(PoolVmNamespace(1), "198.18.1.2", 3260));
    CHECK(LinkExists(PoolHostNamespace(2), "vm1"));
    CHECK(!LinkExists(PoolHostNamespace(1), "vm1"));

    REQUIRE(PowerOnHost(state_dir, 1).ok());
    pid_t sim_again = ReadPidFile(PoolHaSimPidFile(state_dir, 1));
    CHECK(sim_again != sim_pid);
    CHECK(GetProcState(sim_again) == ProcState::kRunning);
    REQUIRE(PowerOnHost(state_dir, 1).ok());  // idempotent: the same simulator
    CHECK(ReadPidFile(PoolHaSimPidFile(state_dir, 1)) == sim_again);
    for (const char* link : {kHostMgmtIf, kHostStorageIfA, kHostStorageIfB})
      CHECK(LinkOperState(PoolHostNamespace(1), link) == "up");
    // The management address answers again (a refused connect: nothing listens without fb-ha-sim).
    CommandResult mgmt = Run({"timeout", "2", "bash", "-c",
                              "exec 3<>/dev/tcp/" + PoolHostMgmtAddr(1) + "/" + std::to_string(kXapiPort)});
    CHECK_MESSAGE(mgmt.err.find("refused") != std::string::npos, mgmt.Describe());

    // The CLI around it: unknown names exit 2.
    CHECK(RunCli({"lab", "host", "power-off", "host-7"}).exit_code == 2);
    CHECK(RunCli({"lab", "vm", "start", "vm-1", "--host", "host-9"}).exit_code == 2);
    CommandResult stop = RunCli({"lab", "vm", "stop", "vm-2"});
    CHECK_MESSAGE(stop.exit_code == 0, stop.err);
    CHECK(*VmPlacement(state_dir, 2) == 0);
    CHECK(NamespacePids(PoolVmNamespace(2)).empty());
  }
  // Down again under the lock (someone else's lab may have come and gone).
  auto lock = LabLock::Acquire(120 * kNsPerSec);
  REQUIRE_MESSAGE(lock.ok(), lock.status().message());
  CheckNothingLeft();
  CHECK(RunCli({"lab", "host", "power-on", "host-1"}).exit_code == 2);  // no pool any more
}

TEST_CASE("lab pool: settings out of range name the setting" * doctest::test_suite("unit")) {
  LabOptions o;
  o.pool_hosts = 5;
  Status s = o.Validate();
  CHECK(s.exit_code() == 2);
  CHECK(s.message().find("--pool 5") != std::string::npos);
  o.pool_hosts = 2;
  o.pool_vms = 9;
  CHECK(o.Validate().message().find("--vms 9") != std::string::npos);
  o.pool_vms = 0;
  CHECK(o.Validate().ok());
  CHECK(o.PoolVmCount() == 2);
  o.ha_heartbeat_interval_ns = 1 * kNsPerSec;
  o.ha_timeout_ns = 2 * kNsPerSec;
  CHECK(o.Validate().message().find("--ha-timeout") != std::string::npos);
  o.ha_heartbeat_interval_ns = 1 * kNsPerMs;
  CHECK(o.Validate().message().find("--heartbeat") != std::string::npos);
  CHECK(*ParsePoolHostName("host-3") == 3);
  CHECK(!ParsePoolVmName("vm-x").ok());
  CHECK(PoolXapiUrl(2) == "http://198.18.10.12:80/jsonrpc");
  CHECK(PoolVmAddr(3) == "198.18.53.2");
}

}  // namespace fb::lab
