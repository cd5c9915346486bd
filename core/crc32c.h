// CRC-32C (Castagnoli), as iSCSI and ext4 use it. Uses the SSE4.2 instruction
// when the CPU has it (about 0.5 us per 4 KiB), else a table.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fb {

uint32_t Crc32c(const void* data, size_t len, uint32_t crc = 0);

}  // namespace fb
