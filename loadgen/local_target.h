// Local targets (files and block devices): existence, size, logical block size,
// and the safety checks that keep a write workload off a disk with data on it.
#pragma once

#include <string>

#include "core/status.h"
#include "loadgen/engine.h"
#include "loadgen/workload.h"

namespace fb {

// Probes w.targets[0]. A missing file is created at w.create_size_bytes (or
// w.size_bytes) and filled with incompressible data, like IOmeter's test file.
// Writes to a block device that is mounted, held by another device, or carries
// a partition table or filesystem signature are refused unless w.allow_destroy.
Result<TargetInfo> PrepareLocalTarget(const Workload& w);

// What libblkid finds on a device: "" when nothing, else e.g. "filesystem ext4"
// or "partition table gpt".
Result<std::string> FindSignature(const std::string& device_path);

// Whether the block device (or one of its partitions) is mounted, or held by
// another device (device-mapper, md): "" when not, else a description.
std::string FindUse(const std::string& device_path);

}  // namespace fb
