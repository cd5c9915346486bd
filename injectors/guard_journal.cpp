// The guard journal: reading and folding it, run liveness through its lock,
// reverting one guarded fault, and healing dead runs' leftovers.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "injectors/guard.h"
#include "injectors/guard_internal.h"
#include "injectors/fault_lifecycle.h"

namespace fb {

std::string GuardStateDir() {
  const char* dir = getenv("FAULTBENCH_STATE_DIR");
  return dir && *dir ? std::string(dir) : std::string("/var/lib/faultbench/guard");
}

const char* FaultStateName(FaultState s) {
  switch (s) {
    case FaultState::kActive: return "active";
    case FaultState::kReverted: return "reverted";
    case FaultState::kUnknown: return "unknown";
  }
  return "?";
}

std::string GuardRunId(const std::string& text) {
  std::string out;
  for (char c : text) out += (isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  if (out.empty() || out[0] == '.') out = "_" + out;
  return out;
}

std::string GuardPath(const std::string& run_id, const char* suffix) {
  return GuardStateDir() + "/" + run_id + suffix;
}

Status AppendGuardRecord(const std::string& run_id, const nlohmann::json& record) {
  JsonlWriter w;
  FB_RETURN_IF_ERROR(w.Open(GuardPath(run_id, ".jsonl")));
  FB_RETURN_IF_ERROR(w.Append(record));
  return w.Sync();
}

int OpenRunLock(const std::string& run_id) {
  return open(GuardPath(run_id, ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

bool RunIsAlive(const std::string& run_id) {
  int fd = OpenRunLock(run_id);
  if (fd < 0) return false;
  bool alive = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);  // releases the lock if we took it
  return alive;
}

Result<GuardedRun> ReadGuardedRun(const std::string& run_id) {
  std::string path = GuardPath(run_id, ".jsonl");
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read guard journal " + path);
  GuardedRun run;
  run.run = run_id;
  std::map<std::string, size_t> index;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto r = nlohmann::json::parse(line, nullptr, false);
    if (r.is_discarded() || !r.is_object()) continue;  // a torn last line after a crash
    std::string type = r.value("type", "");
    if (type == "start") {
      run.runner_pid = r.value("runner_pid", 0);
    } else if (type == "guard") {
      run.guard_pid = r.value("pid", 0);
    } else if (type == "end") {
      run.ended = true;
    } else if (type == "arm") {
      GuardedFault f;
      f.id = r.value("fault", "");
      f.run = run_id;
      f.spec.injector = r.value("injector", "");
      f.spec.kind = r.value("kind", "");
      f.spec.where = r.value("where", "");
      f.spec.settings = r.value("settings", nlohmann::json::object());
      f.spec.lease_ns = r.value("lease_ns", int64_t(0));
      f.since_utc_ns = r.value("since_utc_ns", int64_t(0));
      f.since_mono_ns = r.value("since_mono_ns", int64_t(0));
      f.deadline_utc_ns = f.since_utc_ns + f.spec.lease_ns;
      f.deadline_mono_ns = f.since_mono_ns + f.spec.lease_ns;
      index[f.id] = run.faults.size();
      run.faults.push_back(std::move(f));
    } else if (type == "disarm" || type == "revert") {
      auto it = index.find(r.value("fault", ""));
      if (it == index.end()) continue;
      GuardedFault& f = run.faults[it->second];
      std::string outcome = r.value("outcome", "");
      f.state = outcome == "reverted" ? FaultState::kReverted : FaultState::kUnknown;
      f.detail = r.value("detail", outcome);
    }
  }
  run.alive = RunIsAlive(run_id);
  return run;
}

Result<std::vector<GuardedRun>> ListGuardedRuns() {
  std::vector<std::pair<std::filesystem::file_time_type, std::string>> ids;
  std::error_code ec;
  std::filesystem::directory_iterator it(GuardStateDir(), ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return std::vector<GuardedRun>{};
    return Status::IoError("cannot list " + GuardStateDir() + ": " + ec.message());
  }
  for (const auto& e : it) {
    if (e.path().extension() != ".jsonl") continue;
    ids.emplace_back(e.last_write_time(ec), e.path().stem().string());
  }
  std::sort(ids.begin(), ids.end());
  std::vector<GuardedRun> runs;
  for (const auto& [t, id] : ids) {
    auto r = ReadGuardedRun(id);
    if (r.ok()) runs.push_back(std::move(*r));
  }
  return runs;
}

FaultState RevertGuardedFault(const GuardedFault& f, const std::string& by, const std::string& reason,
                              std::string* detail) {
  int64_t t0 = MonoNs();
  auto inj = BuildInjector(f.spec);
  FaultState state = FaultState::kUnknown;
  bool verified = false;
  int attempts = 0;
  if (!inj.ok()) {
    *detail = inj.status().message();
  } else {
    (*inj)->Bind(FaultContext{f.run, f.spec.lease_ns});
    int64_t backoff_ns = 100 * kNsPerMs;
    for (attempts = 1; attempts <= kRevertAttempts; ++attempts) {
      Reverted reverted = RevertFault(**inj);
      *detail = reverted.Detail();
      if (reverted.confirmed()) {
        state = FaultState::kReverted;
        verified = reverted.check.kind == CheckResult::Kind::kNotInEffect;
        break;
      }
      if (attempts < kRevertAttempts) {
        std::this_thread::sleep_for(std::chrono::nanoseconds(backoff_ns));
        backoff_ns *= 2;
      }
    }
    if (state == FaultState::kUnknown) *detail = "revert not confirmed after " + std::to_string(kRevertAttempts) +
                                                 " attempts: " + *detail;
  }
  int64_t t1 = MonoNs();
  (void)AppendGuardRecord(f.run, {{"type", "revert"}, {"fault", f.id}, {"outcome", FaultStateName(state)},
                                  {"by", by}, {"reason", reason}, {"detail", *detail}, {"verified", verified},
                                  {"attempts", attempts}, {"utc_ns", UtcNs()}, {"mono_ns", t1},
                                  {"started_mono_ns", t0}, {"late_ms", double(t0 - f.deadline_mono_ns) / 1e6},
                                  {"revert_ms", double(t1 - t0) / 1e6}});
  return state;
}

Result<int> HealLeftovers(std::ostream& log, const std::string& only_run) {
  auto runs = ListGuardedRuns();
  if (!runs.ok()) return runs.status();
  int reverted = 0;
  std::vector<std::string> unconfirmed;
  for (const GuardedRun& listed : *runs) {
    if (!only_run.empty() && listed.run != only_run) continue;
    bool pending = std::any_of(listed.faults.begin(), listed.faults.end(),
                               [](const GuardedFault& f) { return f.state != FaultState::kReverted; });
    if (!pending) continue;
    // Exclusive lock: a dead run's lock is free; holding it keeps a second
    // recover (or a new guard of the same run) from racing with us.
    int fd = OpenRunLock(listed.run);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (fd >= 0) close(fd);
      log << "run " << listed.run << " is alive (its runner or guard holds it); left to its guard\n";
      continue;
    }
    auto run = ReadGuardedRun(listed.run);
    if (run.ok()) {
      for (auto it = run->faults.rbegin(); it != run->faults.rend(); ++it) {
        if (it->state == FaultState::kReverted) continue;
        std::string detail;
        FaultState s = RevertGuardedFault(*it, "recover", "leftover of a dead run", &detail);
        log << "run " << run->run << ": " << it->spec.injector << " (" << it->spec.kind << " on " << it->spec.where
            << "): " << FaultStateName(s) << " - " << detail << "\n";
        if (s == FaultState::kReverted) {
          ++reverted;
        } else {
          unconfirmed.push_back(run->run + "/" + it->spec.injector);
        }
      }
    }
    close(fd);
  }
  if (!unconfirmed.empty()) {
    std::string list;
    for (const auto& u : unconfirmed) list += (list.empty() ? "" : ", ") + u;
    return Status::Unavailable(std::to_string(unconfirmed.size()) +
                               " fault(s) could not be confirmed reverted and may still be in effect: " + list);
  }
  return reverted;
}

}  // namespace fb
