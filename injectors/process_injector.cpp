#include "injectors/process_injector.h"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "core/subprocess.h"

namespace fb {

namespace {

// The state letter of /proc/PID/stat ('T' stopped), '?' when gone.
char ProcState(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(in, s);
  size_t p = s.rfind(')');
  return p == std::string::npos || p + 2 >= s.size() ? '?' : s[p + 2];
}

class ProcessInjector : public Injector, public FaultChecker {
 public:
  ProcessInjector(std::string name, std::string pid_file, std::string unit, std::string pname, bool kill,
                  std::string restart, int64_t timeout_ns)
      : name_(std::move(name)), pid_file_(std::move(pid_file)), unit_(std::move(unit)), pname_(std::move(pname)),
        kill_(kill), restart_(std::move(restart)), timeout_ns_(timeout_ns) {}

  Status Inject() override { return Signal(kill_ ? SIGKILL : SIGSTOP, "inject"); }
  Status Revert() override {
    if (!kill_) return Signal(SIGCONT, "revert");
    auto r = RunShell(restart_, {.timeout_ns = timeout_ns_});
    if (!r.ok()) return r.status().With(Prefix("revert") + " `" + restart_ + "`");
    if (!r->success()) return Status::Unavailable(Prefix("revert") + " `" + restart_ + "`: " + r->Describe());
    return Status::Ok();
  }
  FaultChecker* checker() override { return this; }
  std::string where() const override { return "localhost"; }

  Result<bool> InEffect() override {
    auto pids = Find();
    if (!kill_ && !pids.ok()) return pids.status().With(Prefix("check"));
    if (kill_) return !pids.ok() || pids->empty();
    for (int pid : *pids) {
      if (ProcState(pid) != 'T') return false;
    }
    return !pids->empty();
  }

 private:
  std::string Prefix(const char* action) const { return "injector " + name_ + " on localhost: " + action; }
  std::string Target() const {
    return !pid_file_.empty() ? "pid file " + pid_file_ : !unit_.empty() ? "unit " + unit_ : "process " + pname_;
  }

  Result<std::vector<int>> Find() const {
    std::vector<int> pids;
    std::string text;
    if (!pid_file_.empty()) {
      std::ifstream in(pid_file_);
      if (!in) return Status::Unavailable("cannot read pid file " + pid_file_);
      std::getline(in, text);
    } else {
      std::vector<std::string> argv = !unit_.empty()
          ? std::vector<std::string>{"systemctl", "show", "-p", "MainPID", "--value", unit_}
          : std::vector<std::string>{"pgrep", "-x", pname_};
      auto r = RunCommand(argv, {.timeout_ns = timeout_ns_});
      if (!r.ok()) return r.status().With("`" + JoinArgv(argv) + "`");
      if (!r->success() && !(r->exit_code == 1 && unit_.empty())) {
        return Status::Unavailable("`" + JoinArgv(argv) + "`: " + r->Describe());
      }
      text = r->out;
    }
    std::istringstream in(text);
    int pid;
    while (in >> pid) {
      if (pid > 0 && ProcState(pid) != '?') pids.push_back(pid);
    }
    return pids;
  }

  Status Signal(int sig, const char* action) {
    auto pids = Find();
    if (!pids.ok()) return pids.status().With(Prefix(action));
    if (pids->empty()) return Status::Unavailable(Prefix(action) + ": no running process for " + Target());
    for (int pid : *pids) {
      if (kill(pid, sig) != 0 && errno != ESRCH) {
        return ErrnoStatus(Prefix(action) + ": kill -" + sigabbrev_np(sig) + " " + std::to_string(pid), errno);
      }
    }
    return Status::Ok();
  }

  std::string name_, pid_file_, unit_, pname_;
  bool kill_;
  std::string restart_;
  int64_t timeout_ns_;
};

}  // namespace

std::unique_ptr<Injector> NewProcessInjector(const std::string& name, Settings* s) {
  std::string pid_file = s->String("pid_file"), unit = s->String("unit"), pname = s->String("name");
  int given = !pid_file.empty() + !unit.empty() + !pname.empty();
  if (given != 1) s->Problem("", "process needs exactly one of pid_file, unit, name");
  std::string action = s->String("action", false, "stop");
  if (action != "stop" && action != "kill") s->Problem("action", "must be stop or kill");
  std::string restart = s->String("restart", action == "kill");
  int64_t timeout_ns = s->DurationNs("timeout", 30'000'000'000LL);
  if (timeout_ns <= 0) s->Problem("timeout", "must be more than 0");
  return std::make_unique<ProcessInjector>(name, pid_file, unit, pname, action == "kill", restart, timeout_ns);
}

}  // namespace fb
