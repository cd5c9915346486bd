// Lab::Down: finds everything a lab may have left (pid files, processes in the
// lab namespaces or running the simulator, namespaces and links by prefix) and
// removes it, so it also cleans up after a crashed `lab up`.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "lab/lab.h"
#include "lab/netns.h"
#include "lab/pool.h"
#include "lab/tgt.h"
#include "lab/topology.h"

namespace fb::lab {

namespace {
constexpr int64_t kSimGraceNs = 1 * kNsPerSec;
constexpr int64_t kLinkGoneTimeoutNs = 3 * kNsPerSec;

bool IsTgtd(const std::vector<std::string>& argv) {
  return !argv.empty() && std::filesystem::path(argv[0]).filename() == "tgtd";
}

bool IsSimulator(const std::vector<std::string>& argv) {
  if (argv.empty()) return false;
  std::string name = std::filesystem::path(argv[0]).filename();
  return name == kSimExecutable || name == kHaSimExecutable;
}

// The -C value of a tgtd command line, or -1.
int TgtdControlPort(const std::vector<std::string>& argv) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "-C" || argv[i] == "--control-port") return std::atoi(argv[i + 1].c_str());
  }
  return -1;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end && *end == '\0' && pid > 0) out.push_back(pid_t(pid));
  }
  closedir(d);
  return out;
}
}  // namespace

fb::Status Lab::Down() {
  FB_RETURN_IF_ERROR(RequireRoot());
  std::vector<std::string> errors;
  auto note = [&errors](const fb::Status& s) {
    if (!s.ok()) errors.push_back(s.message());
  };

  int port_base = kDefaultControlPortBase;
  if (auto saved = ReadFile(Path("state.json")); saved.ok()) {
    nlohmann::json j = nlohmann::json::parse(*saved, nullptr, false);
    if (j.is_object() && j.contains("options")) {
      port_base = j["options"].value("tgtd_control_port_base", port_base);
    }
  }
  std::set<int> our_ports;
  for (const SiteSpec& s : Sites()) our_ports.insert(port_base + 1 + s.index);

  // Every process that is ours: in a lab namespace, named by a pid file, a
  // simulator, or a tgtd on one of our control ports.
  std::set<pid_t> candidates;
  std::vector<std::string> namespaces;
  for (const std::string& ns : ListNamespaces()) {
    if (!IsLabNamespace(ns)) continue;
    namespaces.push_back(ns);
    for (pid_t p : NamespacePids(ns)) candidates.insert(p);
  }
  for (const char* f :
       {"mediator.pid", "sim-site-a.pid", "sim-site-b.pid", "tgtd-site-a.pid", "tgtd-site-b.pid"}) {
    if (pid_t p = ReadPidFile(Path(f)); p > 0) candidates.insert(p);
  }
  for (int host = 1; host <= kMaxPoolHosts; ++host) {
    if (pid_t p = ReadPidFile(PoolHaSimPidFile(state_dir_, host)); p > 0) candidates.insert(p);
  }
  // A pool VM's sshd or agent names its files even when its namespace is gone.
  const std::string pool_dir = PoolDir(state_dir_) + "/";
  auto MentionsPool = [&pool_dir](const std::vector<std::string>& argv) {
    return std::any_of(argv.begin(), argv.end(),
                       [&pool_dir](const std::string& a) { return a.rfind(pool_dir, 0) == 0; });
  };
  std::vector<pid_t> sims, tgtds, others;
  for (pid_t p : AllPids()) {
    std::vector<std::string> argv = ProcCmdline(p);
    if (IsSimulator(argv)) {
      sims.push_back(p);
    } else if (IsTgtd(argv) && our_ports.count(TgtdControlPort(argv))) {
      tgtds.push_back(p);
    } else if ((candidates.count(p) || MentionsPool(argv)) && !argv.empty()) {
      others.push_back(p);
    }
  }

  // Simulators first, so none stops a tgtd again while it is being removed.
  note(StopProcesses(sims, SIGTERM, kSimGraceNs, kSimExecutable));
  for (pid_t p : tgtds) {
    int port = TgtdControlPort(ProcCmdline(p));
    kill(p, SIGCONT);
    // Deleting the target ends its sessions cleanly; SIGKILL then ends tgtd
    // for certain (it ignores SIGTERM while it has targets).
    fb::Status deleted = DeleteTarget(port);
    if (!deleted.ok())
      std::fprintf(stderr, "faultbench: lab down: %s (killing tgtd)\n", deleted.message().c_str());
    note(StopProcess(p, SIGKILL, 0, "tgtd -C " + std::to_string(port)));
  }
  for (pid_t p : others) note(StopProcess(p, SIGKILL, 0, "process in a lab namespace"));

  for (const std::string& ns : namespaces) note(DeleteNamespace(ns));
  // Namespace teardown removes the veth pairs asynchronously.
  int64_t deadline = MonoNs() + kLinkGoneTimeoutNs;
  while (!ListLinks("", kHostLinkPrefix).empty() && MonoNs() < deadline) usleep(20'000);
  for (const std::string& link : ListLinks("", kHostLinkPrefix)) note(Ip("", {"link", "delete", link}));
  if (HasTable("", "inet", kNftTable)) note(Nft("", std::string("delete table inet ") + kNftTable + "\n"));

  for (int port : our_ports) {
    for (const std::string& f : TgtdControlFiles(port)) {
      std::error_code ec;
      std::filesystem::remove(f, ec);
      if (ec) errors.push_back("remove " + f + ": " + ec.message());
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(state_dir_, ec);
  if (ec) errors.push_back("remove " + state_dir_ + ": " + ec.message());

  if (errors.empty()) return fb::Status::Ok();
  std::string msg = "lab down";
  for (const std::string& e : errors) msg += "; " + e;
  return fb::Status::IoError(msg);
}

}  // namespace fb::lab
