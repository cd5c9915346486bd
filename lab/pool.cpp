// The pool's names, its pool.json and placement files, and the controls of
// pool.h (VM start/stop, host power, management and storage cuts).
#include "lab/pool.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/subprocess.h"
#include "lab/lab_event_log.h"
#include "lab/netns.h"
#include "lab/pool_net.h"
#include "lab/process.h"
#include "lab/topology.h"

namespace fb::lab {

namespace {
constexpr int64_t kSshdReadyTimeoutNs = 5 * kNsPerSec;
constexpr int64_t kKillWaitNs = 2 * kNsPerSec;
constexpr int kSshPort = 22;
constexpr int64_t kVmLockTimeoutNs = 15 * kNsPerSec;
constexpr int64_t kRewireNs = 40 * kNsPerMs;  // MigrateVm: what moving a link and two routes takes, with room

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

Result<int> ParseNumbered(const std::string& name, const std::string& prefix, const char* what) {
  if (name.rfind(prefix, 0) == 0 && name.size() > prefix.size() && name.size() <= prefix.size() + 2) {
    int n = 0;
    for (size_t i = prefix.size(); i < name.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(name[i]))) n = -1;
      if (n >= 0) n = n * 10 + (name[i] - '0');
    }
    if (n > 0) return n;
  }
  return Status::InvalidInput(std::string(what) + " \"" + name + "\": expected " + prefix + "N");
}

// Pids whose network namespace is the named one, from /proc (no subprocess:
// PowerOffHost must be quick).
std::vector<pid_t> PidsInNamespace(const std::string& ns) {
  std::vector<pid_t> out;
  struct stat want {};
  if (stat(("/run/netns/" + ns).c_str(), &want) != 0) return out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (!end || *end != '\0' || pid <= 0) continue;
    struct stat st {};
    if (stat(("/proc/" + std::string(e->d_name) + "/ns/net").c_str(), &st) != 0) continue;
    if (st.st_dev == want.st_dev && st.st_ino == want.st_ino) out.push_back(pid_t(pid));
  }
  closedir(d);
  return out;
}

// SIGKILLs them all at once, then waits (bounded) until they are gone.
Status KillAll(const std::vector<pid_t>& pids, const std::string& what) {
  for (pid_t p : pids) kill(p, SIGKILL);
  int64_t deadline = MonoNs() + kKillWaitNs;
  for (pid_t p : pids) {
    while (GetProcState(p) != ProcState::kGone) {
      if (MonoNs() >= deadline)
        return Status::IoError(what + ": pid " + std::to_string(p) + " survived SIGKILL");
      usleep(5'000);
    }
  }
  return Status::Ok();
}

// One row of /proc/<pid>/net/tcp (IPv4): addresses as "0100007F:1F90"
// (address:port, hex), the state ("0A" listening) and the bytes sent and not
// yet acknowledged (tx_queue). It works from any namespace: pid's is read.
struct TcpRow {
  std::string local, remote, state;
  uint64_t tx_queue = 0;
};

std::vector<TcpRow> TcpRows(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/net/tcp");
  std::vector<TcpRow> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string slot, queues;
    TcpRow r;
    if (!(words >> slot >> r.local >> r.remote >> r.state >> queues)) continue;
    r.tx_queue = std::strtoull(queues.substr(0, queues.find(':')).c_str(), nullptr, 16);
    rows.push_back(std::move(r));
  }
  return rows;
}

// True once pid's network namespace has a TCP socket listening on port (the
// HA simulator calls StartVm from a host namespace, which has no route to the
// VM network: it cannot just connect).
bool ListensOn(pid_t pid, int port) {
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  for (const TcpRow& r : TcpRows(pid)) {
    if (r.state == "0A" && r.local.size() > 5 && r.local.compare(r.local.size() - 5, 5, want) == 0)
      return true;
  }
  return false;
}

Status Log(const PoolConfig& pool, int64_t t_utc_ns, const std::string& who, const std::string& kind,
           Severity severity, const std::string& message, nlohmann::json attrs) {
  LabEventLog log;
  FB_RETURN_IF_ERROR(log.Open(pool.events_file, who, "pool"));
  return log.Emit(t_utc_ns, kind, severity, message, std::move(attrs));
}

Status CheckHost(const PoolConfig& pool, int host) {
  if (host < 1 || host > int(pool.hosts.size())) {
    return Status::InvalidInput("host " + std::to_string(host) + " is not in the pool (host-1..host-" +
                                std::to_string(pool.hosts.size()) + ")");
  }
  return Status::Ok();
}

Status CheckVm(const PoolConfig& pool, int vm) {
  if (vm < 1 || vm > int(pool.vms.size())) {
    return Status::InvalidInput("VM " + std::to_string(vm) + " is not in the pool (vm-1..vm-" +
                                std::to_string(pool.vms.size()) + ")");
  }
  return Status::Ok();
}

std::string PowerFile(const std::string& state_dir, int host) {
  return PoolDir(state_dir) + "/" + PoolHostName(host) + ".off";
}

bool PoweredOff(const std::string& state_dir, int host) {
  return access(PowerFile(state_dir, host).c_str(), F_OK) == 0;
}

Status WritePlacement(const std::string& state_dir, int vm, int host) {
  return WriteFileAtomic(PoolVmDir(state_dir, vm) + "/host", host > 0 ? PoolHostName(host) : "");
}

bool Alive(const std::string& pid_file) { return GetProcState(ReadPidFile(pid_file)) != ProcState::kGone; }

// Both sites route the VM's storage network through host's link to them.
Status RouteVmAt(int vm, int host) {
  for (const SiteSpec& site : Sites()) {
    FB_RETURN_IF_ERROR(Ip(site.ns, {"route", "replace", PoolVmStorageNet(vm), "via",
                                    PoolHostStorageAddr(host, site.index), "dev", PoolSiteHostIf(host)}));
  }
  return Status::Ok();
}

// Removes the VM's storage link from every host (a VM is wired to one at most).
Status Unwire(const PoolConfig& pool, int vm) {
  for (const PoolHost& h : pool.hosts) {
    std::string link = PoolHostVmIf(vm);
    if (LinkExists(h.ns, link)) FB_RETURN_IF_ERROR(Ip(h.ns, {"link", "delete", link}));
  }
  return Status::Ok();
}

Status Wire(const PoolConfig& pool, int vm, int host) {
  FB_RETURN_IF_ERROR(Unwire(pool, vm));
  const std::string& hns = pool.hosts[size_t(host - 1)].ns;
  const std::string& vns = pool.vms[size_t(vm - 1)].ns;
  FB_RETURN_IF_ERROR(AddVethPair(hns, PoolHostVmIf(vm), vns, kVmStorageIf));
  FB_RETURN_IF_ERROR(ConfigureLink(hns, PoolHostVmIf(vm), PoolVmGatewayAddr(vm), kPoolPrefixLen));
  FB_RETURN_IF_ERROR(ConfigureLink(vns, kVmStorageIf, PoolVmStorageAddr(vm), kPoolPrefixLen));
  for (const char* portal : {kPortalAddrA, kPortalAddrB}) {
    FB_RETURN_IF_ERROR(Ip(vns, {"route", "replace", std::string(portal) + "/32", "via", PoolVmGatewayAddr(vm),
                                "dev", kVmStorageIf}));
  }
  return RouteVmAt(vm, host);
}

// "0100007F" for 127.0.0.1: an IPv4 address as /proc/net/tcp prints it.
std::string ProcNetAddr(const std::string& dotted) {
  in_addr a{};
  inet_pton(AF_INET, dotted.c_str(), &a);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08X", a.s_addr);
  return buf;
}

// Bytes sent and not yet acknowledged (tx_queue) on the TCP connections of
// pid's network namespace whose local or remote address is addr_hex.
uint64_t UnackedBytes(pid_t pid, const std::string& addr_hex) {
  uint64_t total = 0;
  for (const TcpRow& r : TcpRows(pid)) {
    if (r.local.compare(0, 8, addr_hex) == 0 || r.remote.compare(0, 8, addr_hex) == 0) total += r.tx_queue;
  }
  return total;
}

// Whether the VM's storage connections have nothing in flight: neither the
// VM (its processes frozen) nor a site's target has unacknowledged bytes.
bool StorageQuiet(const std::vector<pid_t>& vm_pids, int vm) {
  const std::string addr = ProcNetAddr(PoolVmStorageAddr(vm));
  if (!vm_pids.empty() && UnackedBytes(vm_pids[0], addr) > 0) return false;
  for (const SiteSpec& site : Sites()) {
    std::vector<pid_t> pids = PidsInNamespace(site.ns);
    if (!pids.empty() && UnackedBytes(pids[0], addr) > 0) return false;
  }
  return true;
}

std::vector<std::string> HostLinks(const PoolConfig& pool, int host) {
  std::vector<std::string> links = {kHostMgmtIf, kHostStorageIfA, kHostStorageIfB};
  for (const PoolVm& v : pool.vms) {
    if (LinkExists(pool.hosts[size_t(host - 1)].ns, PoolHostVmIf(v.index)))
      links.push_back(PoolHostVmIf(v.index));
  }
  return links;
}
}  // namespace

std::string PoolHostName(int host) { return "host-" + std::to_string(host); }
std::string PoolHostNamespace(int host) { return "fb-host-" + std::to_string(host); }
std::string PoolHostMgmtAddr(int host) { return "198.18.10." + std::to_string(10 + host); }
std::string PoolXapiUrl(int host) {
  return "http://" + PoolHostMgmtAddr(host) + ":" + std::to_string(kXapiPort) + "/jsonrpc";
}
std::string PoolVmName(int vm) { return "vm-" + std::to_string(vm); }
std::string PoolVmNamespace(int vm) { return "fb-vm-" + std::to_string(vm); }
std::string PoolVmAddr(int vm) { return "198.18." + std::to_string(50 + vm) + ".2"; }

Result<int> ParsePoolHostName(const std::string& name) { return ParseNumbered(name, "host-", "host"); }
Result<int> ParsePoolVmName(const std::string& name) { return ParseNumbered(name, "vm-", "VM"); }

std::string PoolDir(const std::string& state_dir) { return state_dir + "/pool"; }
std::string PoolJsonPath(const std::string& state_dir) { return PoolDir(state_dir) + "/pool.json"; }

std::string PoolSitePath(const std::string& state_dir) { return PoolDir(state_dir) + "/site.yaml"; }
std::string PoolVmDir(const std::string& state_dir, int vm) {
  return PoolDir(state_dir) + "/" + PoolVmName(vm);
}
std::string PoolAgentRoot(const std::string& state_dir) { return PoolDir(state_dir) + "/agent-root"; }
std::string PoolVmAgentDir(const std::string& state_dir, int vm) {
  return PoolVmDir(state_dir, vm) + "/agent";
}
std::string PoolHaSimPidFile(const std::string& state_dir, int host) {
  return PoolDir(state_dir) + "/" + PoolHostName(host) + ".pid";
}
std::string PoolHaSimLog(const std::string& state_dir, int host) {
  return PoolDir(state_dir) + "/" + PoolHostName(host) + ".log";
}

Status CheckPoolDefects(const std::vector<std::string>& defects, int hosts, int vms) {
  for (const std::string& d : defects) {
    if (d == "ha-off") continue;
    size_t colon = d.find(':');
    std::string form = d.substr(0, colon), what = colon == std::string::npos ? "" : d.substr(colon + 1);
    bool on_vm = form == "unprotected" || form == "local-cd";
    bool on_host = form == "one-path" || form == "dhcp-mgmt";
    if (!on_vm && !on_host)
      return Status::InvalidInput("pool defect \"" + d +
                                  "\": not one of ha-off, unprotected:vm-K, local-cd:vm-K, "
                                  "one-path:host-I, dhcp-mgmt:host-I");
    auto n = on_vm ? ParsePoolVmName(what) : ParsePoolHostName(what);
    if (!n.ok() || *n < 1 || *n > (on_vm ? vms : hosts))
      return Status::InvalidInput("pool defect \"" + d + "\": the pool has no " + (on_vm ? "VM" : "host") +
                                  " \"" + what + "\" (" + std::to_string(on_vm ? vms : hosts) +
                                  (on_vm ? " VMs" : " hosts") + ")");
  }
  return Status::Ok();
}

Result<PoolConfig> LoadPool(const std::string& state_dir) {
  std::string path = PoolJsonPath(state_dir);
  if (access(path.c_str(), F_OK) != 0) {
    return Status::InvalidInput("the lab has no pool (no " + path +
                                "; start it with faultbench lab up --pool N)");
  }
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return Status::IoError(path + ": not a JSON object");
  PoolConfig p;
  p.state_dir = state_dir;
  try {
    for (const nlohmann::json& h : j.at("hosts")) {
      p.hosts.push_back({h.at("index").get<int>(), h.at("name").get<std::string>(),
                         h.at("ns").get<std::string>(), h.at("mgmt_addr").get<std::string>(),
                         h.at("xapi_url").get<std::string>()});
    }
    for (const nlohmann::json& v : j.at("vms")) {
      p.vms.push_back({v.at("index").get<int>(), v.at("name").get<std::string>(),
                       v.at("ns").get<std::string>(), v.at("addr").get<std::string>(),
                       v.at("initial_host").get<int>(), v.at("dir").get<std::string>(),
                       v.at("agent_dir").get<std::string>(), v.at("ssh").get<std::string>()});
    }
    const nlohmann::json& o = j.at("options");
    p.ha_timeout_ns = o.at("ha_timeout_ns").get<int64_t>();
    p.heartbeat_interval_ns = o.at("heartbeat_interval_ns").get<int64_t>();
    p.migration_downtime_ns = o.value("migration_downtime_ns", kDefaultMigrationDowntimeNs);
    p.faultbench_path = j.at("faultbench_path").get<std::string>();
    p.ha_sim_path = j.at("ha_sim_path").get<std::string>();
    p.statefile_urls = j.at("statefile_urls").get<std::vector<std::string>>();
    p.ssh_key = j.at("ssh_key").get<std::string>();
    p.known_hosts = j.at("known_hosts").get<std::string>();
    p.events_file = j.at("events_file").get<std::string>();
    p.iqn = j.value("iqn", "");
    p.lun_bytes = j.value("lun_size_bytes", uint64_t(0));
    p.defects = j.value("defects", std::vector<std::string>{});
  } catch (const nlohmann::json::exception& e) {
    return Status::IoError(path + ": " + e.what());
  }
  return p;
}

Result<int> VmPlacement(const std::string& state_dir, int vm) {
  std::string path = PoolVmDir(state_dir, vm) + "/host";
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::string name = Trim(*text);
  if (name.empty()) return 0;
  auto host = ParsePoolHostName(name);
  if (!host.ok()) return host.status().With(path);
  return *host;
}

std::vector<int> ResidentVms(const std::string& state_dir, int host) {
  std::vector<int> out;
  for (int vm = 1; vm <= kMaxPoolVms; ++vm) {
    auto at = VmPlacement(state_dir, vm);
    if (at.ok() && *at == host) out.push_back(vm);
  }
  return out;
}

namespace {
Status StopVmLocked(const std::string& state_dir, int vm);

// Serializes StartVm/StopVm of one VM across processes (the HA simulators,
// a test, the CLI): flock on <vm>/lock, waited for at most kVmLockTimeoutNs.
class VmLock {
 public:
  Status Acquire(const std::string& state_dir, int vm) {
    std::string path = PoolVmDir(state_dir, vm) + "/lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoStatus("open " + path, errno);
    int64_t deadline = MonoNs() + kVmLockTimeoutNs;
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) return ErrnoStatus("flock " + path, errno);
      if (MonoNs() >= deadline)
        return Status::Unavailable(PoolVmName(vm) + " is busy (another start or stop)");
      usleep(10'000);
    }
    return Status::Ok();
  }
  ~VmLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};
}  // namespace

Status StartVm(const std::string& state_dir, int vm, int host) {
  auto pool = LoadPool(state_dir);
  if (!pool.ok()) return pool.status();
  FB_RETURN_IF_ERROR(CheckVm(*pool, vm));
  FB_RETURN_IF_ERROR(CheckHost(*pool, host));
  const PoolVm& v = pool->vms[size_t(vm - 1)];
  std::string what = "start " + v.name + " on " + PoolHostName(host);
  VmLock lock;
  FB_RETURN_IF_ERROR(lock.Acquire(state_dir, vm).With(what));
  if (PoweredOff(state_dir, host)) return Status::Unavailable(what + ": the host is powered off");
  auto current = VmPlacement(state_dir, vm);
  int at = current.ok() ? *current : 0;
  std::string sshd_pid = v.dir + "/sshd.pid";
  if (at == host && Alive(sshd_pid) && LinkExists(pool->hosts[size_t(host - 1)].ns, PoolHostVmIf(vm))) {
    return Status::Ok();
  }
  if (at != 0 && at != host) FB_RETURN_IF_ERROR(StopVmLocked(state_dir, vm).With(what));
  // Whatever is left of an earlier boot (a VM whose host lost power) goes first.
  FB_RETURN_IF_ERROR(KillAll(PidsInNamespace(v.ns), what));
  FB_RETURN_IF_ERROR(Wire(*pool, vm, host).With(what));
  // Only the VM's end of its VM-network link is switched (the controller's end
  // then has no carrier): StartVm may run in a host namespace, which cannot name
  // the root namespace.
  FB_RETURN_IF_ERROR(SetLinkUp(v.ns, kVmNetIf, true).With(what));

  if (access("/run/sshd", F_OK) != 0) mkdir("/run/sshd", 0755);
  auto sshd =
      SpawnDetached({"ip", "netns", "exec", v.ns, kSshdPath, "-D", "-e", "-f", v.dir + "/sshd_config"},
                    v.dir + "/sshd.log");
  if (!sshd.ok()) return sshd.status().With(what);
  FB_RETURN_IF_ERROR(WritePidFile(sshd_pid, *sshd));
  int64_t deadline = MonoNs() + kSshdReadyTimeoutNs;
  while (!ListensOn(*sshd, kSshPort)) {
    if (GetProcState(*sshd) == ProcState::kGone)
      return Status::IoError(what + ": sshd exited; see " + v.dir + "/sshd.log");
    if (MonoNs() >= deadline) return Status::Unavailable(what + ": sshd not listening on " + v.addr + ":22");
    usleep(10'000);
  }
  int64_t t = UtcNs();
  // The VMs' installed agent (faultbench deploy --prefix <state>/pool/agent-root) when
  // there is one, as a VM's unit runs it; else the lab's own faultbench.
  const std::string deployed = PoolAgentRoot(state_dir) + "/usr/bin/faultbench-agent";
  std::vector<std::string> boot = {"ip", "netns", "exec", v.ns};
  if (access(deployed.c_str(), X_OK) == 0)
    boot.insert(boot.end(), {deployed, "--boot", "--state-dir", v.agent_dir});
  else
    boot.insert(boot.end(), {pool->faultbench_path, "agent", "--boot", "--state-dir", v.agent_dir});
  auto agent = SpawnDetached(boot, v.dir + "/agent.log");
  if (!agent.ok()) return agent.status().With(what);
  FB_RETURN_IF_ERROR(WritePidFile(v.dir + "/agent.pid", *agent));
  FB_RETURN_IF_ERROR(WritePlacement(state_dir, vm, host));
  return Log(*pool, t, v.name, "vm_started", Severity::kInfo, v.name + " started on " + PoolHostName(host),
             {{"vm", v.name}, {"host", PoolHostName(host)}});
}

Status StopVm(const std::string& state_dir, int vm) {
  auto pool = LoadPool(state_dir);
  if (!pool.ok()) return pool.status();
  FB_RETURN_IF_ERROR(CheckVm(*pool, vm));
  VmLock lock;
  FB_RETURN_IF_ERROR(lock.Acquire(state_dir, vm));
  return StopVmLocked(state_dir, vm);
}

namespace {
Status StopVmLocked(const std::string& state_dir, int vm) {
  auto pool = LoadPool(state_dir);
  if (!pool.ok()) return pool.status();
  const PoolVm& v = pool->vms[size_t(vm - 1)];
  std::string what = "stop " + v.name;
  auto current = VmPlacement(state_dir, vm);
  int at = current.ok() ? *current : 0;
  std::vector<pid_t> pids = PidsInNamespace(v.ns);
  int64_t t = UtcNs();
  FB_RETURN_IF_ERROR(KillAll(pids, what));
  FB_RETURN_IF_ERROR(SetLinkUp(v.ns, kVmNetIf, false).With(what));
  FB_RETURN_IF_ERROR(Unwire(*pool, vm).With(what));
  FB_RETURN_IF_ERROR(WritePlacement(state_dir, vm, 0));
  return Log(*pool, t, v.name, "vm_stopped", Severity::kInfo,
             v.name + " stopped" + (at > 0 ? " (was on " + PoolHostName(at) + ")" : ""),
             {{"vm", v.name}, {"host", at > 0 ? PoolHostName(at) : ""}});
}

}  // namespace

Status MigrateVm(const std::string& state_dir, int vm, int host, int64_t downtime_ns) {
  auto pool = LoadPool(state_dir);
  if (!pool.ok()) return pool.status();
  FB_RETURN_IF_ERROR(CheckVm(*pool, vm));
  FB_RETURN_IF_ERROR(CheckHost(*pool, host));
  const PoolVm& v = pool->vms[size_t(vm - 1)];
  std::string what = "migrate " + v.name + " to " + PoolHostName(host);
  if (downtime_ns <= 0) downtime_ns = pool->migration_downtime_ns;
  VmLock lock;
  FB_RETURN_IF_ERROR(lock.Acquire(state_dir, vm).With(what));
  if (PoweredOff(state_dir, host)) return Status::Unavailable(what + ": the host is powered off");
  auto current = VmPlacement(state_dir, vm);
  int from = current.ok() ? *current : 0;
  if (from == 0 || !Alive(v.dir + "/sshd.pid")) return Status::Unavailable(what + ": the VM is not running");
  if (from == host) return Status::Ok();
  if (PoweredOff(state_dir, from))
    return Status::Unavailable(what + ": its host " + PoolHostName(from) + " is powered off");
  const std::string link = PoolHostVmIf(vm);
  const std::string& from_ns = pool->hosts[size_t(from - 1)].ns;
  const std::string& to_ns = pool->hosts[size_t(host - 1)].ns;

  // Stop-and-copy: freeze, wait for the connections to drain, rewire, resume.
  // Each ip command spawns a process, slow on a busy machine: what can be
  // looked up before the freeze is.
  const bool wired = LinkExists(from_ns, link);
  std::vector<pid_t> pids = PidsInNamespace(v.ns);
  const int64_t t0 = UtcNs(), m0 = MonoNs();
  for (pid_t p : pids) kill(p, SIGSTOP);
  const int64_t m_stopped = MonoNs();
  auto resume = [&] {
    for (pid_t p : pids) kill(p, SIGCONT);
  };
  // The drain ends in time for the rewiring (a few ip calls) to fit in the
  // freeze: a connection that cannot drain (its path cut) must not stretch it.
  int64_t drain_deadline = m0 + std::max(downtime_ns / 2, downtime_ns - kRewireNs);
  for (pid_t p : pids) {
    while (GetProcState(p) == ProcState::kRunning && MonoNs() < drain_deadline) usleep(200);
  }
  bool quiet = false;
  while (!(quiet = StorageQuiet(pids, vm)) && MonoNs() < drain_deadline) usleep(500);
  const int64_t drained_ms = (MonoNs() - m0) / kNsPerMs;
  Status moved = wired ? Ip(from_ns, {"link", "set", link, "netns", to_ns}) : Wire(*pool, vm, host);
  if (moved.ok()) moved = ConfigureLink(to_ns, link, PoolVmGatewayAddr(vm), kPoolPrefixLen);
  if (moved.ok()) moved = RouteVmAt(vm, host);
  if (!moved.ok()) {
    resume();
    return moved.With(what);
  }
  SleepUntilMono(m0 + downtime_ns);
  const int64_t t1 = UtcNs(), m1 = MonoNs();
  resume();
  const int64_t m_resumed = MonoNs();
  FB_RETURN_IF_ERROR(WritePlacement(state_dir, vm, host).With(what));
  const std::string from_name = PoolHostName(from), to_name = PoolHostName(host);
  FB_RETURN_IF_ERROR(Log(*pool, t0, v.name, "vm_migration_paused", Severity::kInfo,
                         v.name + " frozen for its migration " + from_name + " -> " + to_name,
                         {{"vm", v.name}, {"from", from_name}, {"to", to_name}}));
  const double downtime_ms = double(m1 - m0) / double(kNsPerMs);
  char text[160];
  std::snprintf(text, sizeof text, "%s migrated %s -> %s (frozen %.1f ms, configured %.1f ms%s)",
                v.name.c_str(), from_name.c_str(), to_name.c_str(), downtime_ms,
                double(downtime_ns) / double(kNsPerMs), quiet ? "" : "; its connections never drained");
  return Log(*pool, t1, v.name, "vm_migrated", Severity::kInfo, text,
             {{"vm", v.name},
              {"from", from_name},
              {"to", to_name},
              {"downtime_ms", downtime_ms},
              {"configured_ms", double(downtime_ns) / double(kNsPerMs)},
              {"drained_ms", drained_ms},
              // How long the signals took to send: the freeze began within the
              // first and ended within the second (a busy machine widens them).
              {"stop_signal_ms", double(m_stopped - m0) / double(kNsPerMs)},
              {"cont_signal_ms", double(m_resumed - m1) / double(kNsPerMs)},
              {"drained", quiet}});
}

Status PowerOffHost(const std::string& state_dir, int host) {
  auto pool = LoadPool(state_dir);
  if (!pool.ok()) return pool.status();
  FB_RETURN_IF_ERROR(CheckHost(*pool, host));
  const PoolHost& h = pool->hosts[size_t(host - 1)];
  std::string what = "power off " + h.name;
  std::vector<int> vms = ResidentVms(state_dir, host);
  std::vector<pid_t> pids = PidsInNamespace(h.ns);
  for (int vm : vms) {
    for (pid_t p : PidsInNamespace(pool->vms[size_t(vm - 1)].ns)) pids.push_back(p);
  }
  int64_t t = UtcNs();
  for (pid_t p : pids) kill(p, SIGKILL);
  FB_RETURN_IF_ERROR(WriteFileAtomic(PowerFile(state_dir, host), std::to_string(t) + "\n"));
  for (const std::string& link : HostLinks(*pool, host))
    FB_RETURN_IF_ERROR(SetLinkUp(h.ns, link, false).With(what));
  nlohmann::json names = nlohmann::json::array();
  for (int vm : vms) {
    const PoolVm& v = pool->vms[size_t(vm - 1)];
    names.push_back(v.name);
    FB_RETURN_IF_ERROR(SetLinkUp(v.ns, kVmNetIf, false).With(what));
    if (LinkExists(v.ns, kVmStorageIf)) FB_RETURN_IF_ERROR(SetLinkUp(v.ns, kVmStorageIf, false).With(what));
  }
  // Anything that started in the meantime (an ssh session) dies too.
  for (pid_t p : PidsInNamespace(h.ns)) pids.push_back(p);
  for (int vm : vms) {
    for (pid_t p : PidsInNamespace(pool->vms[size_t(vm - 1)].ns)) pids.push_back(p);
  }
  FB_RETURN_IF_ERROR(KillAll(pids, what));
  return Log(*pool, t, h.name, "host_power_off", Severity::kWarning,
             h.name + " powered off (" + std::to_string(vms.size()) + " VMs resident)",
             {{"host", h.name}, {"vms", names}});
}

bool HostPoweredOff(const std::string& state_dir, int host) { return PoweredOff(state_dir, host); }

Status PowerOnHost(const std::string& state_dir, int host) {
  auto pool = LoadPool(state_dir);
  if (!pool.ok()) return pool.status();
  FB_RETURN_IF_ERROR(CheckHost(*pool, host));
  const PoolHost& h = pool->hosts[size_t(host - 1)];
  std::string what = "power on " + h.name;
  for (const std::string& link : HostLinks(*pool, host))
    FB_RETURN_IF_ERROR(SetLinkUp(h.ns, link, true).With(what));
  FB_RETURN_IF_ERROR(AddHostStorageRoutes(h.ns, host).With(what));
  unlink(PowerFile(state_dir, host).c_str());
  int64_t t = UtcNs();
  bool sim = false;
  if (!pool->ha_sim_path.empty() && !Alive(PoolHaSimPidFile(state_dir, host))) {
    FB_RETURN_IF_ERROR(StartHaSim(*pool, host).With(what));
    sim = true;
  }
  return Log(*pool, t, h.name, "host_power_on", Severity::kInfo,
             h.name + " powered on" + (sim ? " (fb-ha-sim started)" : ""), {{"host", h.name}});
}

Status StartHaSim(const PoolConfig& pool, int host) {
  auto pid = SpawnDetached({"ip", "netns", "exec", PoolHostNamespace(host), pool.ha_sim_path, "--state-dir",
                            pool.state_dir, "--host", PoolHostName(host)},
                           PoolHaSimLog(pool.state_dir, host));
  if (!pid.ok()) return pid.status();
  return WritePidFile(PoolHaSimPidFile(pool.state_dir, host), *pid);
}

namespace {
Status Cut(const std::string& state_dir, int host, const char* chain, bool cut, const char* kind) {
  auto pool = LoadPool(state_dir);
  if (!pool.ok()) return pool.status();
  FB_RETURN_IF_ERROR(CheckHost(*pool, host));
  const PoolHost& h = pool->hosts[size_t(host - 1)];
  std::string script = std::string("flush chain inet ") + kPoolNftTable + " " + chain + "\n";
  if (cut) {
    std::string ifs = std::string(chain) == kCutMgmtChain
                          ? std::string("\"") + kHostMgmtIf + "\""
                          : std::string("{ \"") + kHostStorageIfA + "\", \"" + kHostStorageIfB + "\" }";
    script += std::string("add rule inet ") + kPoolNftTable + " " + chain + " iifname " + ifs + " drop\n";
    script += std::string("add rule inet ") + kPoolNftTable + " " + chain + " oifname " + ifs + " drop\n";
  }
  FB_RETURN_IF_ERROR(Nft(h.ns, script).With(std::string(kind) + " " + h.name));
  int64_t t = UtcNs();
  return Log(*pool, t, h.name, kind, cut ? Severity::kWarning : Severity::kInfo,
             std::string(kind) + " on " + h.name, {{"host", h.name}});
}
}  // namespace

Status CutManagement(const std::string& state_dir, int host) {
  return Cut(state_dir, host, kCutMgmtChain, true, "mgmt_cut");
}
Status RestoreManagement(const std::string& state_dir, int host) {
  return Cut(state_dir, host, kCutMgmtChain, false, "mgmt_restored");
}
Status CutStorage(const std::string& state_dir, int host) {
  return Cut(state_dir, host, kCutStorageChain, true, "storage_cut");
}
Status RestoreStorage(const std::string& state_dir, int host) {
  return Cut(state_dir, host, kCutStorageChain, false, "storage_restored");
}

}  // namespace fb::lab
