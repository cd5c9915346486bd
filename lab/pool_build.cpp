// Building the pool at `lab up` (namespaces, links, nft, keys, sshd configs,
// pool.json, first boot of every VM, the HA simulators) and its `lab status`.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/subprocess.h"
#include "lab/bmc.h"
#include "lab/netns.h"
#include "lab/pool_net.h"
#include "lab/process.h"
#include "lab/tgt.h"
#include "lab/topology.h"

namespace fb::lab {

namespace {
constexpr int64_t kCommandTimeoutNs = 10 * kNsPerSec;

std::string Addr(int third, int fourth) {
  return "198.18." + std::to_string(third) + "." + std::to_string(fourth);
}

Status NsRun(const std::string& ns, std::vector<std::string> argv) {
  std::vector<std::string> full{"ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  return RunChecked(full, {.timeout_ns = kCommandTimeoutNs}).status();
}

Status KeyGen(const std::string& path, const std::string& comment) {
  if (access(path.c_str(), F_OK) == 0) return Status::Ok();
  return RunChecked({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path},
                    {.timeout_ns = kCommandTimeoutNs})
      .status();
}

std::string PoolTable() {
  std::string t = kPoolNftTable;
  std::string jumps = std::string("jump ") + kCutMgmtChain + "; jump " + kCutStorageChain + ";";
  return "table inet " + t + " {\n" + "  chain " + kCutMgmtChain + " {\n  }\n" + "  chain " +
         kCutStorageChain + " {\n  }\n" +
         "  chain input { type filter hook input priority 0; policy accept; " + jumps + " }\n" +
         "  chain output { type filter hook output priority 0; policy accept; " + jumps + " }\n" +
         "  chain forward { type filter hook forward priority 0; policy accept; " + jumps + " }\n}\n";
}

Status BuildHost(int i) {
  std::string ns = PoolHostNamespace(i);
  FB_RETURN_IF_ERROR(AddNamespace(ns));
  std::string port = "h" + std::to_string(i);
  FB_RETURN_IF_ERROR(AddVethPair(ns, kHostMgmtIf, kPoolNetNamespace, port));
  FB_RETURN_IF_ERROR(Ip(kPoolNetNamespace, {"link", "set", port, "master", kMgmtBridge, "up"}));
  FB_RETURN_IF_ERROR(ConfigureLink(ns, kHostMgmtIf, PoolHostMgmtAddr(i), kPoolPrefixLen));
  const char* host_ifs[] = {kHostStorageIfA, kHostStorageIfB};
  for (const SiteSpec& s : Sites()) {
    const char* hif = host_ifs[s.index];
    FB_RETURN_IF_ERROR(AddVethPair(s.ns, PoolSiteHostIf(i), ns, hif));
    FB_RETURN_IF_ERROR(ConfigureLink(s.ns, PoolSiteHostIf(i), PoolSiteAddr(i, s.index), kPoolPrefixLen));
    FB_RETURN_IF_ERROR(ConfigureLink(ns, hif, PoolHostStorageAddr(i, s.index), kPoolPrefixLen));
  }
  FB_RETURN_IF_ERROR(AddHostStorageRoutes(ns, i));
  FB_RETURN_IF_ERROR(NsRun(ns, {"sysctl", "-q", "-w", "net.ipv4.ip_forward=1"}));
  return Nft(ns, PoolTable()).With("nft table " + std::string(kPoolNftTable) + " in " + ns);
}

Status WriteVmFiles(const std::string& state_dir, int k, const std::string& faultbench_path,
                    const std::string& client_pub, std::string* known_hosts) {
  std::string dir = PoolVmDir(state_dir, k);
  std::error_code ec;
  std::filesystem::create_directories(PoolVmAgentDir(state_dir, k), ec);
  if (ec) return Status::IoError("create " + PoolVmAgentDir(state_dir, k) + ": " + ec.message());
  std::string host_key = dir + "/ssh_host_ed25519_key";
  FB_RETURN_IF_ERROR(KeyGen(host_key, "faultbench-lab " + PoolVmName(k)));
  auto pub = ReadFile(host_key + ".pub");
  if (!pub.ok()) return pub.status();
  *known_hosts += PoolVmAddr(k) + " " + *pub;
  FB_RETURN_IF_ERROR(WriteFileAtomic(dir + "/authorized_keys", client_pub));
  std::string bin_dir = std::filesystem::path(faultbench_path).parent_path().string();
  std::string config = "ListenAddress " + PoolVmAddr(k) + ":22\n" + "HostKey " + host_key + "\n" +
                       "AuthorizedKeysFile " + dir + "/authorized_keys\n" + "PidFile none\n" +
                       "PermitRootLogin prohibit-password\nPasswordAuthentication no\n" +
                       "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n" +
                       "SetEnv PATH=" + bin_dir + ":/usr/sbin:/usr/bin:/sbin:/bin\n" +
                       "ClientAliveInterval 5\nLogLevel ERROR\n";
  return WriteFileAtomic(dir + "/sshd_config", config);
}

bool ChainHasDrop(const std::string& ns, const char* chain) {
  auto r = RunCommand({"ip", "netns", "exec", ns, "nft", "list", "chain", "inet", kPoolNftTable, chain},
                      {.timeout_ns = kCommandTimeoutNs});
  return r.ok() && r->success() && r->out.find(" drop") != std::string::npos;
}

nlohmann::json ProcJson(pid_t pid) { return {{"pid", pid}, {"state", ProcStateName(GetProcState(pid))}}; }
}  // namespace

std::string PoolSiteHostIf(int host) { return "hst" + std::to_string(host); }
std::string PoolSiteAddr(int host, int site_index) { return Addr((site_index == 0 ? 20 : 30) + host, 1); }
std::string PoolHostStorageAddr(int host, int site_index) {
  return Addr((site_index == 0 ? 20 : 30) + host, 2);
}
std::string PoolHostVmIf(int vm) { return "vm" + std::to_string(vm); }
std::string PoolVmGatewayAddr(int vm) { return Addr(60 + vm, 1); }
std::string PoolVmStorageAddr(int vm) { return Addr(60 + vm, 2); }
std::string PoolVmStorageNet(int vm) { return Addr(60 + vm, 0) + "/" + std::to_string(kPoolPrefixLen); }
std::string PoolControllerVmLink(int vm) { return std::string(kHostLinkPrefix) + "vm" + std::to_string(vm); }
std::string PoolControllerVmAddr(int vm) { return Addr(50 + vm, 1); }

Status AddHostStorageRoutes(const std::string& host_ns, int host) {
  FB_RETURN_IF_ERROR(Ip(host_ns, {"route", "replace", std::string(kPortalAddrA) + "/32", "via",
                                  PoolSiteAddr(host, 0), "dev", kHostStorageIfA}));
  return Ip(host_ns, {"route", "replace", std::string(kPortalAddrB) + "/32", "via", PoolSiteAddr(host, 1),
                      "dev", kHostStorageIfB});
}

// The site file `faultbench plan new --site` reads (qualify/plan_new.h): what
// the pool's XAPI cannot tell about the lab, in JSON (which is YAML).
static std::string PoolSiteYaml(const std::string& state_dir, const PoolBuildSpec& spec,
                                const std::string& key) {
  using nlohmann::json;
  const std::string fb = spec.faultbench_path + " lab --state-dir " + state_dir;
  // Every VM loads the one stretched LUN: each in a region of its own, as its
  // own virtual disk on the SR would be (a verified load must not see another's writes).
  const uint64_t region = spec.vms > 0 ? (spec.lun_bytes / uint64_t(spec.vms)) & ~((1ull << 20) - 1) : 0;
  json agents = json::object();
  for (int k = 1; k <= spec.vms; ++k) {
    agents[PoolVmName(k)] = {{"state_dir", PoolVmAgentDir(state_dir, k)}};
    if (region > 0)
      agents[PoolVmName(k)]["workload"] = {{"offset", std::to_string(uint64_t(k - 1) * region)},
                                           {"size", std::to_string(region)}};
  }
  auto lun = [&](const char* portal) { return "iscsi://" + std::string(portal) + "/" + spec.iqn + "/1"; };
  std::string out =
      "# The lab pool's site file for `faultbench plan new --site` (written by lab up):\n"
      "# what its XAPI cannot tell. The VMs load the stretched LUN through both portals\n"
      "# (libiscsi, via the host they run on); the host controls are `faultbench lab host`.\n";
  auto line = [&](const char* key, const json& v) { out += std::string(key) + ": " + v.dump() + "\n"; };
  line("timing", {{"baseline", "10s"}, {"margin", "10s"}});
  line("agent_defaults", {{"identity_file", key},
                          {"known_hosts", PoolDir(state_dir) + "/known_hosts"},
                          {"clock_every", "10s"},
                          {"target", {{"paths", {lun(kPortalAddrA), lun(kPortalAddrB)}}}}});
  line("agents", agents);
  line("workload", {{"engine", "libiscsi"},
                    {"rwmixread", 50},
                    {"queue_depth", 4},
                    {"rate_iops", 500},
                    {"interval", "100ms"},
                    {"path_policy", "round-robin"},
                    {"io_timeout", "2s"},
                    {"checker_interval", "500ms"},
                    {"no_path_timeout", "30s"}});
  line(
      "probes",
      {{"xapi", {{"poll_timeout", "1s"}, {"timeout", "500ms"}, {"retry", "100ms"}, {"retry_max", "300ms"}}}});
  line("expect", {{"max_stall", "10s"}});
  line("injectors",
       {{"host-power-loss",
         {{"kind", "command"},
          {"inject", fb + " host power-off {host}"},
          {"revert", fb + " host power-on {host}"},
          {"check", "test -e " + PoolDir(state_dir) + "/{host}.off"},
          {"timeout", "20s"}}},
        {"mgmt-nic-loss",
         {{"kind", "command"},
          {"inject", fb + " host cut-mgmt {host}"},
          {"revert", fb + " host restore-mgmt {host}"},
          {"check", "ip netns exec fb-{host} nft list chain inet fbpool cut_mgmt | grep -q drop"},
          {"timeout", "20s"}}},
        {"path-loss", {{"kind", "link"}, {"netns", "fb-{host}"}, {"interface", "sto-a"}}}});
  return out;
}

Status BuildPool(const std::string& state_dir, const PoolBuildSpec& spec) {
  std::string dir = PoolDir(state_dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("create " + dir + ": " + ec.message());

  // Management network: a bridge in its own namespace, the controller on it.
  FB_RETURN_IF_ERROR(AddNamespace(kPoolNetNamespace));
  FB_RETURN_IF_ERROR(Ip(kPoolNetNamespace, {"link", "add", kMgmtBridge, "type", "bridge"}));
  FB_RETURN_IF_ERROR(Ip(kPoolNetNamespace, {"link", "set", kMgmtBridge, "up"}));
  FB_RETURN_IF_ERROR(AddVethPair("", kControllerMgmtLink, kPoolNetNamespace, "ctl"));
  FB_RETURN_IF_ERROR(Ip(kPoolNetNamespace, {"link", "set", "ctl", "master", kMgmtBridge, "up"}));
  FB_RETURN_IF_ERROR(ConfigureLink("", kControllerMgmtLink, kControllerMgmtAddr, kPoolPrefixLen));
  for (int i = 1; i <= spec.hosts; ++i) FB_RETURN_IF_ERROR(BuildHost(i));

  std::string key = dir + "/id_ed25519";
  FB_RETURN_IF_ERROR(KeyGen(key, "faultbench-lab controller"));
  auto client_pub = ReadFile(key + ".pub");
  if (!client_pub.ok()) return client_pub.status();
  std::string known_hosts;
  nlohmann::json hosts = nlohmann::json::array(), vms = nlohmann::json::array();
  for (int i = 1; i <= spec.hosts; ++i) {
    hosts.push_back({{"index", i},
                     {"name", PoolHostName(i)},
                     {"ns", PoolHostNamespace(i)},
                     {"mgmt_addr", PoolHostMgmtAddr(i)},
                     {"xapi_url", PoolXapiUrl(i)},
                     {"storage_addrs", {PoolHostStorageAddr(i, 0), PoolHostStorageAddr(i, 1)}}});
  }
  for (int k = 1; k <= spec.vms; ++k) {
    std::string vns = PoolVmNamespace(k);
    FB_RETURN_IF_ERROR(AddNamespace(vns));
    FB_RETURN_IF_ERROR(AddVethPair("", PoolControllerVmLink(k), vns, kVmNetIf));
    FB_RETURN_IF_ERROR(ConfigureLink("", PoolControllerVmLink(k), PoolControllerVmAddr(k), kPoolPrefixLen));
    FB_RETURN_IF_ERROR(ConfigureLink(vns, kVmNetIf, PoolVmAddr(k), kPoolPrefixLen));
    FB_RETURN_IF_ERROR(WriteVmFiles(state_dir, k, spec.faultbench_path, *client_pub, &known_hosts));
    FB_RETURN_IF_ERROR(WriteFileAtomic(PoolVmDir(state_dir, k) + "/host", ""));
    vms.push_back(
        {{"index", k},
         {"name", PoolVmName(k)},
         {"ns", vns},
         {"addr", PoolVmAddr(k)},
         {"initial_host", (k - 1) % spec.hosts + 1},
         {"dir", PoolVmDir(state_dir, k)},
         {"agent_dir", PoolVmAgentDir(state_dir, k)},
         {"ssh", "ssh -i " + key + " -o UserKnownHostsFile=" + dir + "/known_hosts root@" + PoolVmAddr(k)}});
  }
  FB_RETURN_IF_ERROR(WriteFileAtomic(dir + "/known_hosts", known_hosts));

  nlohmann::json j = {
      {"hosts", hosts},
      {"vms", vms},
      {"options",
       {{"ha_timeout_ns", spec.ha_timeout_ns},
        {"heartbeat_interval_ns", spec.heartbeat_interval_ns},
        {"migration_downtime_ns", spec.migration_downtime_ns}}},
      {"faultbench_path", spec.faultbench_path},
      {"ha_sim_path", spec.ha_sim_path},
      {"statefile_urls",
       {"iscsi://" + std::string(kPortalAddrA) + "/" + spec.iqn + "/" + std::to_string(kStatefileLun),
        "iscsi://" + std::string(kPortalAddrB) + "/" + spec.iqn + "/" + std::to_string(kStatefileLun)}},
      {"statefile_slot_bytes", kStatefileSlotBytes},
      {"iqn", spec.iqn},
      {"lun_size_bytes", spec.lun_bytes},
      {"defects", spec.defects},
      {"heartbeat_port", kHaHeartbeatPort},
      {"xapi_port", kXapiPort},
      {"ssh_key", key},
      {"known_hosts", dir + "/known_hosts"},
      {"events_file", state_dir + "/events.jsonl"},
      {"created_utc_ns", UtcNs()}};
  FB_RETURN_IF_ERROR(WriteFileAtomic(PoolJsonPath(state_dir), j.dump(2) + "\n"));
  FB_RETURN_IF_ERROR(WriteFileAtomic(PoolSitePath(state_dir), PoolSiteYaml(state_dir, spec, key)));

  for (int k = 1; k <= spec.vms; ++k) FB_RETURN_IF_ERROR(StartVm(state_dir, k, (k - 1) % spec.hosts + 1));
  if (!spec.ha_sim_path.empty()) {
    auto pool = LoadPool(state_dir);
    if (!pool.ok()) return pool.status();
    for (int i = 1; i <= spec.hosts; ++i) FB_RETURN_IF_ERROR(StartHaSim(*pool, i));
  }
  // Every host's BMC (IPMI and Redfish), when ipmi_sim and ipmitool are installed.
  if (HaveBmcTools()) {
    auto pool = LoadPool(state_dir);
    if (!pool.ok()) return pool.status();
    FB_RETURN_IF_ERROR(StartBmcs(*pool));
  }
  return Status::Ok();
}

nlohmann::json PoolStatusJson(const std::string& state_dir, std::vector<std::string>* problems) {
  auto pool = LoadPool(state_dir);
  if (!pool.ok()) return nullptr;
  nlohmann::json hosts = nlohmann::json::array(), vms = nlohmann::json::array();
  for (const PoolHost& h : pool->hosts) {
    nlohmann::json links = nlohmann::json::object();
    for (const char* l : {kHostMgmtIf, kHostStorageIfA, kHostStorageIfB}) links[l] = LinkOperState(h.ns, l);
    bool off = access((PoolDir(state_dir) + "/" + h.name + ".off").c_str(), F_OK) == 0;
    std::vector<std::string> cuts;
    if (!HasTable(h.ns, "inet", kPoolNftTable)) {
      problems->push_back("nft table " + std::string(kPoolNftTable) + " missing in " + h.ns);
    } else {
      if (ChainHasDrop(h.ns, kCutMgmtChain)) cuts.push_back("management");
      if (ChainHasDrop(h.ns, kCutStorageChain)) cuts.push_back("storage");
    }
    nlohmann::json sim = nullptr;
    if (!pool->ha_sim_path.empty()) {
      pid_t pid = ReadPidFile(PoolHaSimPidFile(state_dir, h.index));
      sim = ProcJson(pid);
      if (!off && GetProcState(pid) == ProcState::kGone)
        problems->push_back("fb-ha-sim of " + h.name + " is gone");
    }
    hosts.push_back({{"name", h.name},
                     {"ns", h.ns},
                     {"power", off ? "off" : "on"},
                     {"links", links},
                     {"cuts", cuts},
                     {"ha_sim", sim},
                     {"xapi_url", h.xapi_url}});
  }
  for (const PoolVm& v : pool->vms) {
    auto at = VmPlacement(state_dir, v.index);
    pid_t sshd = ReadPidFile(v.dir + "/sshd.pid");
    pid_t agent = ReadPidFile(v.dir + "/agent.pid");
    std::string host = at.ok() && *at > 0 ? PoolHostName(*at) : "";
    if (!host.empty() && GetProcState(sshd) == ProcState::kGone)
      problems->push_back(v.name + " is placed on " + host + " but its sshd is gone");
    vms.push_back(
        {{"name", v.name},
         {"ns", v.ns},
         {"addr", v.addr},
         {"host", host},
         {"sshd", ProcJson(sshd)},
         {"agent", ProcJson(agent)},
         {"links",
          {{kVmNetIf, LinkOperState(v.ns, kVmNetIf)}, {kVmStorageIf, LinkOperState(v.ns, kVmStorageIf)}}},
         {"ssh", v.ssh}});
  }
  return {{"hosts", hosts}, {"vms", vms}, {"ha_sim_built", !pool->ha_sim_path.empty()}};
}

}  // namespace fb::lab
