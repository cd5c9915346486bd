// Long-lived lab processes (tgtd, simulators): start detached, find, stop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace fb::lab {

// Starts argv detached from the caller (own session, reparented to init, stdin
// from /dev/null, stdout and stderr appended to log_path) and returns its pid.
// argv[0] is looked up in PATH. Fails if the exec fails.
Result<pid_t> SpawnDetached(const std::vector<std::string>& argv, const std::string& log_path);

enum class ProcState { kGone, kRunning, kStopped };
// From /proc/<pid>/stat; a zombie counts as gone.
ProcState GetProcState(pid_t pid);
const char* ProcStateName(ProcState s);

// The process' argv from /proc/<pid>/cmdline; empty if it is gone.
std::vector<std::string> ProcCmdline(pid_t pid);

// Pid written by WritePidFile, or 0 if the file is missing or unreadable.
pid_t ReadPidFile(const std::string& path);
Status WritePidFile(const std::string& path, pid_t pid);

// Pids of every process in a named network namespace (`ip netns pids`).
std::vector<pid_t> NamespacePids(const std::string& ns);

// SIGCONT (a stopped process cannot die of SIGTERM), then `first_signal`, waits
// up to grace_ns for it to go, then SIGKILL and waits up to 2 s more. Ok if the
// process is gone at the end (or was gone from the start).
Status StopProcess(pid_t pid, int first_signal, int64_t grace_ns, const std::string& what);
// The same for several processes at once (signals all, then waits).
Status StopProcesses(const std::vector<pid_t>& pids, int first_signal, int64_t grace_ns,
                     const std::string& what);

}  // namespace fb::lab
