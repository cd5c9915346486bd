// Strict parsing and formatting of sizes and durations as users write them in
// flags and plans. Every error quotes the input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace fb {

// Sizes in bytes. "4k", "4K", "4KiB", "64KiB", "1.5GiB", "512" (bytes), "512B".
// k/K/Ki/KiB, m/M/Mi/MiB, g/G/Gi/GiB, t/T/Ti/TiB are binary (1024^n, as fio and
// IOmeter use them); kB/KB, MB, GB, TB are decimal (1000^n). The result must be a
// whole number of bytes.
Result<uint64_t> ParseSize(std::string_view text);

// Durations in nanoseconds. "250ms", "90s", "2m", "1h", "1m30s", "1.5s", "500us",
// "100ns". A unit is required; negative values are errors.
Result<int64_t> ParseDuration(std::string_view text);

// Percentages "70", "70%", "0.5%": 0..100, returned as a fraction 0..1.
Result<double> ParsePercent(std::string_view text);

// "4KiB", "3GiB", "1.50GiB", "1000B": an exact binary unit when one is below
// 1024, else the largest unit with two decimals.
std::string FormatSize(uint64_t bytes);
// "250ms", "1.911s", "2m30s", "15us".
std::string FormatDuration(int64_t ns);

}  // namespace fb
