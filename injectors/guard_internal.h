// Shared by the guard's files; not part of its interface.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace fb {

constexpr int kRevertAttempts = 5;  // backoff 100, 200, 400, 800 ms between them

// <state dir>/<run><suffix>
std::string GuardPath(const std::string& run_id, const char* suffix);
// Appends one record to the run's guard journal and fdatasyncs it.
Status AppendGuardRecord(const std::string& run_id, const nlohmann::json& record);
// The run's lock file (created if missing), O_CLOEXEC; -1 on error.
int OpenRunLock(const std::string& run_id);
bool RunIsAlive(const std::string& run_id);

}  // namespace fb
