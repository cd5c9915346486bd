#include "lab/tgt.h"

#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "core/clock.h"
#include "core/subprocess.h"
#include "lab/topology.h"

namespace fb::lab {

namespace {
constexpr int64_t kTgtadmTimeoutNs = 5 * kNsPerSec;

Result<std::string> Tgtadm(int control_port, std::vector<std::string> args) {
  std::vector<std::string> argv{"tgtadm", "-C", std::to_string(control_port), "--lld", "iscsi"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunChecked(argv, {.timeout_ns = kTgtadmTimeoutNs});
}

std::string Tid() { return std::to_string(kTargetTid); }
}  // namespace

std::vector<std::string> TgtdArgv(const std::string& ns, int control_port, const std::string& portal_addr) {
  return {"ip",      "netns",
          "exec",    ns,
          "tgtd",    "-f",
          "-C",      std::to_string(control_port),
          "--iscsi", "portal=" + portal_addr + ":" + std::to_string(kIscsiPort)};
}

Status WaitTgtdReady(int control_port, int64_t timeout_ns) {
  int64_t deadline = MonoNs() + timeout_ns;
  Status last;
  while (true) {
    auto r = Tgtadm(control_port, {"--op", "show", "--mode", "target"});
    if (r.ok()) return Status::Ok();
    last = r.status();
    if (MonoNs() >= deadline) {
      return Status::Unavailable("tgtd on control port " + std::to_string(control_port) +
                                 " not ready: " + last.message());
    }
    usleep(50'000);
  }
}

Status ConfigureStretchedLun(int control_port, const std::string& iqn, const std::string& backing_file) {
  FB_RETURN_IF_ERROR(
      Tgtadm(control_port, {"--op", "new", "--mode", "target", "--tid", Tid(), "-T", iqn}).status());
  FB_RETURN_IF_ERROR(Tgtadm(control_port, {"--op", "new", "--mode", "logicalunit", "--tid", Tid(), "--lun",
                                           std::to_string(kLun), "-b", backing_file})
                         .status());
  FB_RETURN_IF_ERROR(Tgtadm(control_port, {"--op", "update", "--mode", "logicalunit", "--tid", Tid(), "--lun",
                                           std::to_string(kLun), "--params",
                                           "scsi_id=faultbench-lab-lun1,scsi_sn=FBLAB0001"})
                         .status());
  std::string statefile = std::filesystem::path(backing_file).parent_path() / kStatefileFile;
  if (access(statefile.c_str(), F_OK) == 0) {
    FB_RETURN_IF_ERROR(Tgtadm(control_port, {"--op", "new", "--mode", "logicalunit", "--tid", Tid(), "--lun",
                                             std::to_string(kStatefileLunId), "-b", statefile})
                           .status());
    FB_RETURN_IF_ERROR(Tgtadm(control_port, {"--op", "update", "--mode", "logicalunit", "--tid", Tid(),
                                             "--lun", std::to_string(kStatefileLunId), "--params",
                                             "scsi_id=faultbench-lab-statefile,scsi_sn=FBLAB0002"})
                           .status());
  }
  return Tgtadm(control_port, {"--op", "bind", "--mode", "target", "--tid", Tid(), "-I", "ALL"}).status();
}

Status SetTargetState(int control_port, const std::string& state) {
  return Tgtadm(control_port,
                {"--op", "update", "--mode", "target", "--tid", Tid(), "-n", "state", "-v", state})
      .status();
}

Status DropConnections(int control_port) {
  auto shown = Tgtadm(control_port, {"--op", "show", "--mode", "target"});
  if (!shown.ok()) return shown.status();
  // "    I_T nexus: 8" introduces a session; "        Connection: 0" its connections.
  std::istringstream in(*shown);
  std::string line, sid;
  while (std::getline(in, line)) {
    size_t at = line.find("I_T nexus: ");
    if (at != std::string::npos) {
      sid = line.substr(at + 11);
      continue;
    }
    at = line.find("Connection: ");
    if (at != std::string::npos && !sid.empty()) {
      std::string cid = line.substr(at + 12);
      FB_RETURN_IF_ERROR(Tgtadm(control_port, {"--op", "delete", "--mode", "conn", "--tid", Tid(), "--sid",
                                               sid, "--cid", cid})
                             .status());
    }
  }
  return Status::Ok();
}

Status DeleteTarget(int control_port) {
  return Tgtadm(control_port, {"--op", "delete", "--mode", "target", "--tid", Tid(), "--force"}).status();
}

std::vector<std::string> TgtdControlFiles(int control_port) {
  std::string base = "/var/run/tgtd/socket." + std::to_string(control_port);
  return {base, base + ".lock"};
}

}  // namespace fb::lab
