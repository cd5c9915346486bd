// The shared token of the agent's TCP transport (`faultbench agent --listen`):
// a file holding one secret line, read by the listener at start and by the
// controller at connect. The token travels only in `hello` (agent/protocol.h)
// and is never logged or journaled.
#pragma once

#include <string>

#include "core/status.h"

namespace fb {

// The file's content without trailing whitespace (a final newline). Refuses a
// missing or empty file, and one that others may read (mode o+r: not a
// secret); the message names the path, never the content.
Result<std::string> ReadAgentToken(const std::string& path);

// Constant-time in the content: the time depends only on the lengths.
bool AgentTokensEqual(const std::string& a, const std::string& b);

}  // namespace fb
