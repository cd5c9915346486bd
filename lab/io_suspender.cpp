#include "lab/io_suspender.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "core/clock.h"
#include "lab/netns.h"
#include "lab/process.h"
#include "lab/tgt.h"
#include "lab/topology.h"

namespace fb::lab {

namespace {
constexpr const char* kRefuseTable = "fblab_refuse";

std::string Describe(pid_t pid) { return "tgtd (pid " + std::to_string(pid) + ")"; }
}  // namespace

Result<int64_t> IoSuspender::Pause() {
  const int64_t before = UtcNs();
  if (::kill(pid_, SIGSTOP) != 0) return ErrnoStatus("SIGSTOP " + Describe(pid_), errno);
  int64_t t = UtcNs();
  signal_ns_ = t - before;
  paused_ = true;
  return t;
}

Result<int64_t> IoSuspender::Refuse() {
  std::string drop = std::string("table inet ") + kRefuseTable +
                     " {\n  chain output { type filter hook output priority 0; policy accept; tcp sport " +
                     std::to_string(kIscsiPort) + " drop; }\n}\n";
  FB_RETURN_IF_ERROR(Nft("", drop));
  if (::kill(pid_, SIGCONT) != 0) return ErrnoStatus("SIGCONT " + Describe(pid_), errno);
  paused_ = false;
  FB_RETURN_IF_ERROR(SetTargetState(control_port_, "offline"));
  int64_t t = UtcNs();
  refusing_ = true;
  FB_RETURN_IF_ERROR(DropConnections(control_port_));
  FB_RETURN_IF_ERROR(Nft("", std::string("delete table inet ") + kRefuseTable + "\n"));
  return t;
}

Result<int64_t> IoSuspender::Resume() {
  if (refusing_) {
    FB_RETURN_IF_ERROR(SetTargetState(control_port_, "ready"));
    refusing_ = false;
  }
  // Stamped before SIGCONT: tgtd may serve I/O the moment the signal lands,
  // and a simulator descheduled right after kill() would stamp its io_resumed
  // tens of ms after the first completion (seen: 28 ms on a busy machine).
  int64_t t = UtcNs();
  if (::kill(pid_, SIGCONT) != 0) return ErrnoStatus("SIGCONT " + Describe(pid_), errno);
  signal_ns_ = UtcNs() - t;
  paused_ = false;
  return t;
}

Result<int64_t> IoSuspender::Restart() {
  if (!paused_ || refusing_ || spec_.lun_file.empty()) return Resume();
  pid_t old = pid_;
  // A stopped process dies of SIGKILL; its socket buffers (the I/O it had not
  // read yet) go with it.
  if (::kill(old, SIGKILL) != 0 && errno != ESRCH) return ErrnoStatus("SIGKILL " + Describe(old), errno);
  int64_t deadline = MonoNs() + 5 * kNsPerSec;
  while (GetProcState(old) != ProcState::kGone) {
    if (MonoNs() > deadline) return Status::Unavailable(Describe(old) + " did not die of SIGKILL within 5 s");
    usleep(5'000);
  }
  for (const std::string& f : TgtdControlFiles(control_port_)) ::unlink(f.c_str());
  // The simulator runs in the site's namespace already: tgtd starts there too.
  std::vector<std::string> argv{"tgtd", "-f", "-C", std::to_string(control_port_), "--iscsi",
                                "portal=" + spec_.portal_addr + ":" + std::to_string(kIscsiPort)};
  auto pid = SpawnDetached(argv, spec_.log_path);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  FB_RETURN_IF_ERROR(WritePidFile(spec_.pid_file, *pid));
  FB_RETURN_IF_ERROR(WaitTgtdReady(control_port_, 10 * kNsPerSec));
  FB_RETURN_IF_ERROR(ConfigureStretchedLun(control_port_, spec_.iqn, spec_.lun_file));
  int64_t t = UtcNs();
  paused_ = false;
  return t;
}

}  // namespace fb::lab
