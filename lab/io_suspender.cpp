#include "lab/io_suspender.h"

#include <signal.h>

#include <cerrno>
#include <string>

#include "core/clock.h"
#include "lab/netns.h"
#include "lab/tgt.h"
#include "lab/topology.h"

namespace fb::lab {

namespace {
constexpr const char* kRefuseTable = "fblab_refuse";

std::string Describe(pid_t pid) { return "tgtd (pid " + std::to_string(pid) + ")"; }
}  // namespace

Result<int64_t> IoSuspender::Pause() {
  if (::kill(pid_, SIGSTOP) != 0) return ErrnoStatus("SIGSTOP " + Describe(pid_), errno);
  int64_t t = UtcNs();
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
  if (::kill(pid_, SIGCONT) != 0) return ErrnoStatus("SIGCONT " + Describe(pid_), errno);
  int64_t t = UtcNs();
  paused_ = false;
  return t;
}

}  // namespace fb::lab
