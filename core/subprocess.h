// Runs external commands (ip, nft, tgtadm, ssh, ...) with a timeout, capturing
// their output. The child gets its own process group, so a timeout kills it and
// everything it started.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace fb {

struct CommandResult {
  int exit_code = -1;    // valid when !signaled && !timed_out
  int term_signal = 0;   // signal that ended it, if any
  bool timed_out = false;
  bool stopped = false;  // killed because CommandOptions::stop_fd became readable
  std::string out;       // stdout
  std::string err;       // stderr
  int64_t elapsed_ns = 0;

  bool success() const { return !timed_out && term_signal == 0 && exit_code == 0; }
  // "exit 1: <first line of stderr>", "timed out after 5s", "killed by signal 9"
  std::string Describe() const;
};

struct CommandOptions {
  int64_t timeout_ns = 30'000'000'000;  // 30 s
  std::string stdin_text;               // written to the child's stdin, then closed
  bool merge_stderr = false;
  // When this fd becomes readable (an eventfd a Stop() writes), the command and
  // its process group are killed at once and the result says `stopped`. -1: none.
  int stop_fd = -1;
};

// Runs argv[0] (looked up in PATH) with the given arguments. The returned Status
// fails only when the command could not be started; its exit status is in the result.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv, const CommandOptions& options = {});

// Runs a line through /bin/sh -c.
Result<CommandResult> RunShell(const std::string& command_line, const CommandOptions& options = {});

// Like RunCommand, but an unsuccessful command is an error naming the command and
// its stderr: "ip netns add fb-a: exit 1: Cannot create namespace file ...".
Result<std::string> RunChecked(const std::vector<std::string>& argv, const CommandOptions& options = {});

std::string JoinArgv(const std::vector<std::string>& argv);

}  // namespace fb
