#include "lab/lab.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/units.h"
#include "lab/netns.h"
#include "lab/pool.h"
#include "lab/pool_net.h"
#include "lab/tgt.h"
#include "lab/token.h"
#include "lab/topology.h"

namespace fb::lab {

namespace {
constexpr int64_t kTgtdReadyTimeoutNs = 10 * kNsPerSec;
constexpr int64_t kSimReadyTimeoutNs = 10 * kNsPerSec;

fb::Status WaitForFile(const std::string& path, int64_t timeout_ns, pid_t pid, const std::string& what,
                       const std::string& log) {
  int64_t deadline = MonoNs() + timeout_ns;
  while (access(path.c_str(), F_OK) != 0) {
    if (GetProcState(pid) == ProcState::kGone) {
      return fb::Status::IoError(what + " exited during start; see " + log);
    }
    if (MonoNs() >= deadline)
      return fb::Status::Unavailable(what + " not ready after " + FormatDuration(timeout_ns));
    usleep(20'000);
  }
  return fb::Status::Ok();
}

#ifndef FB_HELPER_DIR_FROM_BIN
#define FB_HELPER_DIR_FROM_BIN "../libexec/faultbench"
#endif

// Where an installed faultbench keeps its helpers: <bin>/../libexec/faultbench
// (cmake/FbPackaging.cmake).
std::string HelperPath(const std::string& faultbench, const char* helper) {
  return (std::filesystem::path(faultbench).parent_path() / FB_HELPER_DIR_FROM_BIN / helper)
      .lexically_normal()
      .string();
}

Result<std::string> FindSimulator(const LabOptions& options) {
  if (!options.sim_path.empty()) {
    if (access(options.sim_path.c_str(), X_OK) != 0)
      return ErrnoStatus("simulator " + options.sim_path, errno);
    return options.sim_path;
  }
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return fb::Status::IoError("readlink /proc/self/exe: " + ec.message());
  std::filesystem::path beside = self.parent_path() / kSimExecutable;
  if (access(beside.c_str(), X_OK) == 0) return beside.string();
  std::filesystem::path installed = HelperPath(self.string(), kSimExecutable);
  if (access(installed.c_str(), X_OK) == 0) return installed.string();
  return Status::InvalidInput("no " + std::string(kSimExecutable) + " beside " + self.string() + " nor in " +
                              installed.parent_path().string() + " (build it, or install faultbench)");
}

std::string SelfPath() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : self.string();
}

// The faultbench the pool's VMs run, and fb-ha-sim beside it ("" when not built).
Result<std::string> FindFaultbench(const LabOptions& options) {
  std::string path = options.faultbench_path.empty() ? SelfPath() : options.faultbench_path;
  if (path.empty() || access(path.c_str(), X_OK) != 0) return ErrnoStatus("faultbench binary " + path, errno);
  return std::filesystem::absolute(path).string();
}

std::string FindHaSim(const LabOptions& options, const std::string& faultbench) {
  std::string path = options.ha_sim_path;
  if (path.empty()) {
    path = (std::filesystem::path(faultbench).parent_path() / kHaSimExecutable).string();
    if (access(path.c_str(), X_OK) != 0) path = HelperPath(faultbench, kHaSimExecutable);
  }
  return access(path.c_str(), X_OK) == 0 ? std::filesystem::absolute(path).string() : std::string();
}

nlohmann::json OptionsJson(const LabOptions& o) {
  return {{"lun_size_bytes", o.lun_size_bytes},
          {"race_winner", o.race_winner},
          {"suspend_mode", SuspendModeName(o.suspend_mode)},
          {"heartbeat_interval_ns", o.heartbeat_interval_ns},
          {"heartbeat_timeout_ns", o.heartbeat_timeout_ns},
          {"resync_ns", o.resync_ns},
          {"claim_delay_ns", o.claim_delay_ns},
          {"iqn", o.iqn},
          {"tgtd_control_port_base", o.tgtd_control_port_base},
          {"pool_hosts", o.pool_hosts},
          {"pool_vms", o.PoolVmCount()},
          {"ha_timeout_ns", o.ha_timeout_ns},
          {"ha_heartbeat_interval_ns", o.ha_heartbeat_interval_ns},
          {"migration_downtime_ns", o.migration_downtime_ns}};
}

LabOptions OptionsFromJson(const nlohmann::json& j) {
  LabOptions o;
  o.lun_size_bytes = j.value("lun_size_bytes", o.lun_size_bytes);
  o.race_winner = j.value("race_winner", o.race_winner);
  auto mode = ParseSuspendMode(j.value("suspend_mode", std::string("hang")));
  if (mode.ok()) o.suspend_mode = *mode;
  o.heartbeat_interval_ns = j.value("heartbeat_interval_ns", o.heartbeat_interval_ns);
  o.heartbeat_timeout_ns = j.value("heartbeat_timeout_ns", o.heartbeat_timeout_ns);
  o.resync_ns = j.value("resync_ns", o.resync_ns);
  o.claim_delay_ns = j.value("claim_delay_ns", o.claim_delay_ns);
  o.iqn = j.value("iqn", o.iqn);
  o.tgtd_control_port_base = j.value("tgtd_control_port_base", o.tgtd_control_port_base);
  o.pool_hosts = j.value("pool_hosts", o.pool_hosts);
  o.pool_vms = j.value("pool_vms", o.pool_vms);
  o.ha_timeout_ns = j.value("ha_timeout_ns", o.ha_timeout_ns);
  o.ha_heartbeat_interval_ns = j.value("ha_heartbeat_interval_ns", o.ha_heartbeat_interval_ns);
  o.migration_downtime_ns = j.value("migration_downtime_ns", o.migration_downtime_ns);
  return o;
}

fb::Status CreateLunFile(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("create LUN file " + path, errno);
  int rc = ::ftruncate(fd, off_t(size));
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("size LUN file " + path + " to " + FormatSize(size), err);
  return fb::Status::Ok();
}
}  // namespace

fb::Status RequireRoot() {
  if (geteuid() != 0) {
    return fb::Status::InvalidInput(
        "the lab needs root (it creates network namespaces and runs tgtd): run as root");
  }
  return fb::Status::Ok();
}

fb::Status LabOptions::Validate() const {
  if (lun_size_bytes < (1u << 20) || lun_size_bytes % 512 != 0) {
    return fb::Status::InvalidInput("LUN size " + std::to_string(lun_size_bytes) +
                                    " bytes: must be at least 1MiB and a multiple of 512");
  }
  FB_RETURN_IF_ERROR(ParseRaceWinner(race_winner).status());
  if (heartbeat_interval_ns < kNsPerMs)
    return fb::Status::InvalidInput("heartbeat interval must be at least 1ms");
  if (heartbeat_timeout_ns < 2 * heartbeat_interval_ns) {
    return fb::Status::InvalidInput("heartbeat timeout " + FormatDuration(heartbeat_timeout_ns) +
                                    " must be at least twice the interval " +
                                    FormatDuration(heartbeat_interval_ns));
  }
  if (resync_ns < 0 || claim_delay_ns < 0)
    return fb::Status::InvalidInput("resync time and claim delay must be >= 0");
  if (iqn.rfind("iqn.", 0) != 0)
    return fb::Status::InvalidInput("target name \"" + iqn + "\" must start with iqn.");
  if (tgtd_control_port_base < 1 || tgtd_control_port_base > 60000) {
    return fb::Status::InvalidInput("tgtd control port base must be 1..60000");
  }
  if (pool_hosts == 0) {
    if (pool_vms != 0) return fb::Status::InvalidInput("--vms " + std::to_string(pool_vms) + " needs --pool");
    if (!pool_defects.empty()) return fb::Status::InvalidInput("--pool-defect needs --pool");
    return fb::Status::Ok();
  }
  if (pool_hosts < kMinPoolHosts || pool_hosts > kMaxPoolHosts) {
    return fb::Status::InvalidInput("--pool " + std::to_string(pool_hosts) + ": the pool has " +
                                    std::to_string(kMinPoolHosts) + ".." + std::to_string(kMaxPoolHosts) +
                                    " hosts");
  }
  if (pool_vms != 0 && (pool_vms < kMinPoolVms || pool_vms > kMaxPoolVms)) {
    return fb::Status::InvalidInput("--vms " + std::to_string(pool_vms) + ": the pool has " +
                                    std::to_string(kMinPoolVms) + ".." + std::to_string(kMaxPoolVms) +
                                    " VMs");
  }
  if (ha_heartbeat_interval_ns < 10 * kNsPerMs || ha_heartbeat_interval_ns > 60 * kNsPerSec) {
    return fb::Status::InvalidInput("--heartbeat " + FormatDuration(ha_heartbeat_interval_ns) +
                                    ": the HA heartbeat interval must be 10ms..60s");
  }
  if (ha_timeout_ns < 3 * ha_heartbeat_interval_ns || ha_timeout_ns > 600 * kNsPerSec) {
    return fb::Status::InvalidInput("--ha-timeout " + FormatDuration(ha_timeout_ns) +
                                    ": the HA timeout must be at least 3 heartbeats (" +
                                    FormatDuration(3 * ha_heartbeat_interval_ns) + ") and at most 10m");
  }
  if (migration_downtime_ns < kNsPerMs || migration_downtime_ns > 10 * kNsPerSec) {
    return fb::Status::InvalidInput("--migration-downtime " + FormatDuration(migration_downtime_ns) +
                                    ": a live migration's freeze must be 1ms..10s");
  }
  return CheckPoolDefects(pool_defects, pool_hosts, PoolVmCount()).With("--pool-defect");
}

Result<LabInfo> Lab::Up(const LabOptions& options) {
  FB_RETURN_IF_ERROR(RequireRoot());
  FB_RETURN_IF_ERROR(options.Validate());
  int64_t start = MonoNs();
  auto status = Status();
  if (!status.ok()) return status.status();
  if (status->up) {
    auto saved = ReadFile(Path("state.json"));
    nlohmann::json j = saved.ok() ? nlohmann::json::parse(*saved, nullptr, false) : nlohmann::json();
    LabInfo info =
        Describe(j.is_object() ? OptionsFromJson(j.value("options", nlohmann::json::object())) : options);
    if (info.options.pool_hosts != options.pool_hosts ||
        (options.pool_hosts > 0 && info.options.PoolVmCount() != options.PoolVmCount())) {
      return fb::Status::InvalidInput("the lab is up with " +
                                      (info.options.pool_hosts > 0
                                           ? "a pool of " + std::to_string(info.options.pool_hosts) +
                                                 " hosts and " + std::to_string(info.options.PoolVmCount()) +
                                                 " VMs"
                                           : std::string("no pool")) +
                                      ": run faultbench lab down first to change it");
    }
    info.already_up = true;
    info.up_ns = MonoNs() - start;
    return info;
  }
  if (status->any) FB_RETURN_IF_ERROR(Down().With("removing leftovers of an earlier lab"));
  auto sim = FindSimulator(options);
  if (!sim.ok()) return sim.status();
  std::string faultbench, ha_sim;
  if (options.pool_hosts > 0) {
    auto fb_path = FindFaultbench(options);
    if (!fb_path.ok()) return fb_path.status();
    faultbench = *fb_path;
    if (options.start_ha_sim) ha_sim = FindHaSim(options, faultbench);
  }
  fb::Status built = Build(options, *sim, faultbench, ha_sim);
  if (!built.ok()) {
    fb::Status cleaned = Down();
    if (!cleaned.ok()) return built.With("lab up (cleanup also failed: " + cleaned.message() + ")");
    return built.With("lab up");
  }
  LabInfo info = Describe(options);
  info.up_ns = MonoNs() - start;
  return info;
}

fb::Status Lab::Build(const LabOptions& o, const std::string& sim, const std::string& faultbench,
                      const std::string& ha_sim) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir_, ec);
  if (ec) return fb::Status::IoError("create " + state_dir_ + ": " + ec.message());
  FB_RETURN_IF_ERROR(WriteFileAtomic(
      Path("state.json"),
      nlohmann::json({{"options", OptionsJson(o)}, {"created_utc_ns", UtcNs()}}).dump(2) + "\n"));
  auto token = RandomToken();
  if (!token.ok()) return token.status();
  FB_RETURN_IF_ERROR(WriteFileAtomic(Path("api-token"), *token + "\n"));
  chmod(Path("api-token").c_str(), 0600);
  FB_RETURN_IF_ERROR(CreateLunFile(Path("lun.img"), o.lun_size_bytes));
  // The pool's statefile: ConfigureStretchedLun serves it as LUN 2 when it is there.
  if (o.pool_hosts > 0) FB_RETURN_IF_ERROR(CreateLunFile(Path(kStatefileFile), kStatefileBytes));

  // Namespaces and links.
  for (const std::string& ns : LabNamespaces()) FB_RETURN_IF_ERROR(AddNamespace(ns));
  const SiteSpec& a = Sites()[0];
  const SiteSpec& b = Sites()[1];
  for (const SiteSpec& s : Sites()) {
    FB_RETURN_IF_ERROR(AddVethPair("", s.host_link, s.ns, kPathIf));
    FB_RETURN_IF_ERROR(ConfigureLink("", s.host_link, s.host_addr, kPrefixLen));
    FB_RETURN_IF_ERROR(ConfigureLink(s.ns, kPathIf, s.path_addr, kPrefixLen));
    FB_RETURN_IF_ERROR(AddVethPair(s.ns, kMediatorIf, kMediatorNamespace, s.mediator_if));
    FB_RETURN_IF_ERROR(ConfigureLink(s.ns, kMediatorIf, s.med_local_addr, kPrefixLen));
    FB_RETURN_IF_ERROR(ConfigureLink(kMediatorNamespace, s.mediator_if, s.mediator_addr, kPrefixLen));
    FB_RETURN_IF_ERROR(CreateCutTable(s.ns));
  }
  FB_RETURN_IF_ERROR(AddVethPair(a.ns, kReplicationIf, b.ns, kReplicationIf));
  FB_RETURN_IF_ERROR(ConfigureLink(a.ns, kReplicationIf, a.repl_addr, kPrefixLen));
  FB_RETURN_IF_ERROR(ConfigureLink(b.ns, kReplicationIf, b.repl_addr, kPrefixLen));

  // The mediator first: the sites ping it from their start.
  MediatorConfig mc{"0.0.0.0", kMediatorPort, Path("mediator.ready")};
  FB_RETURN_IF_ERROR(WriteFileAtomic(Path("mediator.json"), ToJson(mc).dump(2) + "\n"));
  auto med_pid =
      SpawnDetached({"ip", "netns", "exec", kMediatorNamespace, sim, "mediator", Path("mediator.json")},
                    Path("mediator.log"));
  if (!med_pid.ok()) return med_pid.status();
  FB_RETURN_IF_ERROR(WritePidFile(Path("mediator.pid"), *med_pid));
  FB_RETURN_IF_ERROR(WaitForFile(mc.ready_path, kSimReadyTimeoutNs, *med_pid,
                                 "mediator in " + std::string(kMediatorNamespace), Path("mediator.log")));

  for (const SiteSpec& s : Sites()) {
    int port = o.tgtd_control_port_base + 1 + s.index;
    auto tgtd = SpawnDetached(TgtdArgv(s.ns, port, s.path_addr), Path("tgtd-" + s.name + ".log"));
    if (!tgtd.ok()) return tgtd.status();
    FB_RETURN_IF_ERROR(WritePidFile(Path("tgtd-" + s.name + ".pid"), *tgtd));
    FB_RETURN_IF_ERROR(WaitTgtdReady(port, kTgtdReadyTimeoutNs).With(s.ns));
    FB_RETURN_IF_ERROR(ConfigureStretchedLun(port, o.iqn, Path("lun.img")).With(s.ns));
  }

  for (const SiteSpec& s : Sites()) {
    const SiteSpec& peer = PeerOf(s);
    SiteConfig c;
    c.site = s.name;
    c.peer_site = peer.name;
    c.iqn = o.iqn;
    c.repl_if = kReplicationIf;
    c.repl_addr = s.repl_addr;
    c.peer_repl_addr = peer.repl_addr;
    c.heartbeat_port = kHeartbeatPort;
    c.mediator_addr = s.mediator_addr;
    c.mediator_port = kMediatorPort;
    c.api_addr = s.path_addr;
    c.api_port = kApiPort;
    c.tgtd_pid_file = Path("tgtd-" + s.name + ".pid");
    c.tgtd_control_port = o.tgtd_control_port_base + 1 + s.index;
    c.portal_addr = s.path_addr;
    c.tgtd_log = Path("tgtd-" + s.name + ".log");
    c.lun_file = Path("lun.img");
    c.suspend_mode = o.suspend_mode;
    c.race_winner = o.race_winner;
    c.heartbeat_interval_ns = o.heartbeat_interval_ns;
    c.heartbeat_timeout_ns = o.heartbeat_timeout_ns;
    c.resync_ns = o.resync_ns;
    c.claim_delay_ns = o.claim_delay_ns;
    c.events_path = Path("events.jsonl");
    c.state_path = Path(s.name + ".state.json");
    c.token_path = Path("api-token");
    c.ready_path = Path(s.name + ".ready");
    std::string config_path = Path(s.name + ".json");
    FB_RETURN_IF_ERROR(WriteFileAtomic(config_path, ToJson(c).dump(2) + "\n"));
    auto pid = SpawnDetached({"ip", "netns", "exec", s.ns, sim, "site", config_path},
                             Path("sim-" + s.name + ".log"));
    if (!pid.ok()) return pid.status();
    FB_RETURN_IF_ERROR(WritePidFile(Path("sim-" + s.name + ".pid"), *pid));
  }
  for (const SiteSpec& s : Sites()) {
    FB_RETURN_IF_ERROR(WaitForFile(Path(s.name + ".ready"), kSimReadyTimeoutNs,
                                   ReadPidFile(Path("sim-" + s.name + ".pid")), "simulator of " + s.name,
                                   Path("sim-" + s.name + ".log")));
  }
  if (o.pool_hosts == 0) return fb::Status::Ok();
  PoolBuildSpec pool{o.pool_hosts, o.PoolVmCount(), o.ha_timeout_ns, o.ha_heartbeat_interval_ns,
                     o.iqn,        faultbench,      ha_sim,           o.lun_size_bytes,
                     o.pool_defects,  o.migration_downtime_ns};
  return BuildPool(state_dir_, pool).With("pool");
}

LabInfo Lab::Describe(const LabOptions& o) const {
  LabInfo info;
  info.iqn = o.iqn;
  info.lun = kLun;
  info.state_dir = state_dir_;
  info.token_file = Path("api-token");
  if (auto token = ReadFile(info.token_file); token.ok())
    info.api_token = token->substr(0, token->find('\n'));
  info.events_file = Path("events.jsonl");
  info.options = o;
  for (const SiteSpec& s : Sites()) {
    LabSiteInfo si;
    si.name = s.name;
    si.ns = s.ns;
    si.portal = s.path_addr + ":" + std::to_string(kIscsiPort);
    si.url = "iscsi://" + s.path_addr + "/" + o.iqn + "/" + std::to_string(kLun);
    si.api_url = "http://" + s.path_addr + ":" + std::to_string(kApiPort);
    si.cut_path = CutPathCommand(s.ns, kPathIf);
    si.restore_path = RestoreCutsCommand(s.ns);
    si.cut_replication = "ip -n " + s.ns + " link set " + kReplicationIf + " down";
    si.restore_replication = "ip -n " + s.ns + " link set " + kReplicationIf + " up";
    info.sites.push_back(si);
    if (!info.mediator.empty()) info.mediator += ", ";
    info.mediator += s.mediator_addr + ":" + std::to_string(kMediatorPort) + " (" + s.name + ")";
  }
  if (o.pool_hosts > 0) {
    auto pool = LoadPool(state_dir_);
    if (pool.ok()) {
      info.has_pool = true;
      info.pool = *pool;
      if (pool->ha_sim_path.empty() && o.start_ha_sim) {
        info.ha_sim_note = std::string("the HA simulator is not built (no ") + kHaSimExecutable + " beside " +
                           pool->faultbench_path + "): hosts run without HA";
      }
    }
  }
  return info;
}

}  // namespace fb::lab
