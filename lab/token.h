// Random tokens for the lab's API (the api-token and session tokens).
#pragma once

#include <string>

#include "core/status.h"

namespace fb::lab {

// 32 random hex characters from /dev/urandom.
Result<std::string> RandomToken();

}  // namespace fb::lab
