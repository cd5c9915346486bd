#include "cli/commands.h"

namespace fb::cli {
void RegisterLabCommand(CLI::App&, int*) {}
}  // namespace fb::cli
