#include "loadgen/workload.h"

#include <algorithm>
#include <sstream>

#include "core/units.h"

namespace fb {

bool Workload::HasWrites() const {
  return std::any_of(specs.begin(), specs.end(), [](const AccessSpec& s) { return s.read_fraction < 1.0; });
}

uint32_t Workload::MaxBlockSize() const {
  uint32_t m = 0;
  for (const auto& s : specs) m = std::max(m, s.block_size);
  return m;
}

uint32_t Workload::VerifyBlockBytes() const {
  if (verify_block_bytes) return verify_block_bytes;
  uint32_t m = UINT32_MAX;
  for (const auto& s : specs) m = std::min(m, s.block_size);
  return m;
}

Status ValidateWorkload(const Workload& w) {
  if (w.targets.empty()) return Status::InvalidInput("no target given (--target PATH)");
  if (w.specs.empty()) return Status::InvalidInput("no access spec given");
  double total_weight = 0;
  for (size_t i = 0; i < w.specs.size(); ++i) {
    const AccessSpec& s = w.specs[i];
    std::string where = w.specs.size() > 1 ? "access spec " + std::to_string(i + 1) + ": " : "";
    if (s.weight < 0) return Status::InvalidInput(where + "weight must not be negative");
    total_weight += s.weight;
    if (s.block_size == 0) return Status::InvalidInput(where + "block size must be more than 0");
    if (s.block_size > 64u << 20) return Status::InvalidInput(where + "block size " + FormatSize(s.block_size) + " is larger than 64MiB");
    if (s.read_fraction < 0 || s.read_fraction > 1) return Status::InvalidInput(where + "read share must be 0..100%");
    if (s.random_fraction < 0 || s.random_fraction > 1) return Status::InvalidInput(where + "random share must be 0..100%");
    if (s.alignment && s.block_size % s.alignment && s.alignment % 512) {
      return Status::InvalidInput(where + "alignment " + FormatSize(s.alignment) + " is not a multiple of 512 bytes");
    }
  }
  if (total_weight <= 0) return Status::InvalidInput("the access specs' weights add up to 0");
  if (w.jobs < 1 || w.jobs > 256) return Status::InvalidInput("jobs (--numjobs) must be 1..256, got " + std::to_string(w.jobs));
  if (w.queue_depth < 1 || w.queue_depth > 4096) {
    return Status::InvalidInput("queue depth (--iodepth) must be 1..4096, got " + std::to_string(w.queue_depth));
  }
  if (w.duration_ns <= 0) return Status::InvalidInput("runtime must be more than 0");
  if (w.ramp_ns < 0 || w.ramp_ns >= w.duration_ns) {
    return Status::InvalidInput("ramp " + FormatDuration(w.ramp_ns) + " must be shorter than the runtime " + FormatDuration(w.duration_ns));
  }
  if (w.interval_ns < 10'000'000) return Status::InvalidInput("interval " + FormatDuration(w.interval_ns) + " is below the 10ms minimum");
  if (w.interval_ns > 3'600'000'000'000) return Status::InvalidInput("interval " + FormatDuration(w.interval_ns) + " is above 1h");
  if (w.stall_threshold_ns < 1'000'000) return Status::InvalidInput("stall threshold " + FormatDuration(w.stall_threshold_ns) + " is below 1ms");
  if (w.stuck_threshold_ns < w.stall_threshold_ns) {
    return Status::InvalidInput("stuck threshold " + FormatDuration(w.stuck_threshold_ns) + " is below the stall threshold " + FormatDuration(w.stall_threshold_ns));
  }
  if (w.rate_iops < 0) return Status::InvalidInput("rate must not be negative");
  if (w.dedupe_fraction < 0 || w.dedupe_fraction > 1) return Status::InvalidInput("dedupe share must be 0..100%");
  if (w.verify) {
    uint32_t v = w.VerifyBlockBytes();
    if (v < 512 || v % 512) return Status::InvalidInput("verify block size " + FormatSize(v) + " must be a multiple of 512 bytes");
    for (const auto& s : w.specs) {
      uint32_t align = s.alignment ? s.alignment : s.block_size;
      if (s.block_size % v || align % v) {
        return Status::InvalidInput("with verify, every block size and alignment must be a multiple of the verify block (" +
                                    FormatSize(v) + "); got block size " + FormatSize(s.block_size) + ", alignment " + FormatSize(align));
      }
    }
  } else if (!w.ack_log.empty()) {
    return Status::InvalidInput("an ack log needs verify");
  }
  if (w.compress_fraction < 0 || w.compress_fraction > 1) return Status::InvalidInput("compress share must be 0..100%");
  if (w.iscsi.sessions_per_path < 1 || w.iscsi.sessions_per_path > kMaxSessionsPerPath) {
    return Status::InvalidInput("sessions per path (--sessions-per-path) must be 1.." + std::to_string(kMaxSessionsPerPath) +
                                ", got " + std::to_string(w.iscsi.sessions_per_path));
  }
  if (w.iscsi.sessions_per_path > 1 && w.engine != "libiscsi") {
    return Status::InvalidInput("sessions per path (--sessions-per-path) are the libiscsi engine's; the engine is " + w.engine);
  }
  return Status::Ok();
}

Status ValidateAgainstTarget(const Workload& w, uint64_t target_size, uint32_t lbs, const std::string& name) {
  if (w.offset_bytes >= target_size) {
    return Status::InvalidInput("offset " + FormatSize(w.offset_bytes) + " is beyond the end of " + name + " (" + FormatSize(target_size) + ")");
  }
  uint64_t region = w.size_bytes ? w.size_bytes : target_size - w.offset_bytes;
  if (w.offset_bytes + region > target_size) {
    return Status::InvalidInput("region " + FormatSize(w.offset_bytes) + " + " + FormatSize(region) + " goes beyond the end of " + name +
                                " (" + FormatSize(target_size) + ")");
  }
  for (const auto& s : w.specs) {
    if (s.block_size > region) {
      return Status::InvalidInput("block size " + FormatSize(s.block_size) + " is larger than the region (" + FormatSize(region) + ") of " + name);
    }
    if (w.direct) {
      uint32_t align = s.alignment ? s.alignment : s.block_size;
      if (s.block_size % lbs || align % lbs || w.offset_bytes % lbs) {
        return Status::InvalidInput("O_DIRECT on " + name + " needs block size, alignment and offset in multiples of " +
                                    std::to_string(lbs) + " bytes (block size " + std::to_string(s.block_size) + ", alignment " +
                                    std::to_string(align) + ", offset " + std::to_string(w.offset_bytes) + ")");
      }
    }
  }
  return Status::Ok();
}

Status ApplyFioRw(const std::string& rw, double mix, AccessSpec* spec) {
  if (rw == "read") *spec = {spec->weight, spec->block_size, 1.0, 0.0, spec->alignment};
  else if (rw == "write") *spec = {spec->weight, spec->block_size, 0.0, 0.0, spec->alignment};
  else if (rw == "randread") *spec = {spec->weight, spec->block_size, 1.0, 1.0, spec->alignment};
  else if (rw == "randwrite") *spec = {spec->weight, spec->block_size, 0.0, 1.0, spec->alignment};
  else if (rw == "rw" || rw == "readwrite") *spec = {spec->weight, spec->block_size, mix, 0.0, spec->alignment};
  else if (rw == "randrw") *spec = {spec->weight, spec->block_size, mix, 1.0, spec->alignment};
  else {
    return Status::InvalidInput("unknown --rw \"" + rw + "\" (use read, write, randread, randwrite, rw, randrw)");
  }
  return Status::Ok();
}

Result<AccessSpec> ParseAccessSpec(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ':')) parts.push_back(part);
  auto bad = [&](const std::string& why) {
    return Status::InvalidInput("invalid access spec \"" + text + "\": " + why + " (format weight:bs:read%:random%[:align], e.g. 60:4k:70:100)");
  };
  if (parts.size() < 4 || parts.size() > 5) return bad("expected 4 or 5 fields");
  AccessSpec s;
  try {
    size_t used = 0;
    s.weight = std::stod(parts[0], &used);
    if (used != parts[0].size() || s.weight < 0) return bad("weight \"" + parts[0] + "\" is not a number >= 0");
  } catch (const std::exception&) {
    return bad("weight \"" + parts[0] + "\" is not a number");
  }
  auto bs = ParseSize(parts[1]);
  if (!bs.ok()) return bad(bs.status().message());
  if (*bs == 0 || *bs > UINT32_MAX) return bad("block size out of range");
  s.block_size = uint32_t(*bs);
  auto rd = ParsePercent(parts[2]);
  if (!rd.ok()) return bad(rd.status().message());
  s.read_fraction = *rd;
  auto rn = ParsePercent(parts[3]);
  if (!rn.ok()) return bad(rn.status().message());
  s.random_fraction = *rn;
  if (parts.size() == 5) {
    auto al = ParseSize(parts[4]);
    if (!al.ok()) return bad(al.status().message());
    if (*al == 0 || *al > UINT32_MAX) return bad("alignment out of range");
    s.alignment = uint32_t(*al);
  }
  return s;
}

}  // namespace fb
