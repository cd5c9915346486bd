// libiscsi engine: talks iSCSI itself, one session per path (one URL in
// Workload::targets per portal, sessions_per_path sessions to each: S paths
// per URL, as a host with node.session.nr_sessions = S sees them), so array
// behaviour is measured apart from any host's multipath stack. Path handling
// follows a host's dm-multipath (settings in Workload::iscsi):
// - I/Os go round-robin over the active paths, or all to the first portal with
//   an active path, round-robin over its sessions (failover, with immediate
//   failback).
// - An I/O outstanding longer than io_timeout on a path fails that path
//   (reason "timeout"): its I/Os are cancelled locally and retried on another
//   path. A broken connection fails the path at once ("connection_reset"), a
//   failing TEST UNIT READY too ("scsi_status"). Retries are not errors.
// - Every checker_interval each active path gets a TEST UNIT READY (answered
//   within io_timeout); failed paths reconnect with backoff (from 250 ms,
//   doubling, capped at checker_interval) and are reinstated when the login and
//   TEST UNIT READY succeed.
// - With no active path, I/Os wait up to no_path_timeout (0 = fail at once),
//   then complete with EIO.
// - Retryable check conditions (UNIT ATTENTION, ABORTED COMMAND, NOT READY, the
//   last also failing the path) are retried up to 5 times; others complete with
//   an errno (ILLEGAL REQUEST EINVAL, DATA PROTECT EROFS, else EIO).
// - Each session has its own ISID (random part per engine, qualifier = the
//   session's index), kept across its reconnects.
// Path transitions are journal events (source "libiscsi", kinds path_failed and
// path_reinstated, attrs portal, url, reason, active_paths, paths, and session
// 1..S with several sessions per portal).
// Caveat: an I/O cancelled locally may still be executed by a target that was
// only paused, after its retry on another path has completed.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "loadgen/engine.h"

namespace fb {

std::unique_ptr<Engine> NewIscsiEngine();

// Checks every URL, logs in on each path (at least one must answer), reads the
// LUN's size and logical block size (READ CAPACITY 16), and refuses paths that
// disagree on the size or on the device identification (VPD page 0x83): they
// would not be paths to one LUN. A write workload is refused when the LUN's
// first MiB carries a partition table or filesystem, unless allow_destroy.
Result<TargetInfo> ProbeIscsiTarget(const Workload& w);

// Process-wide counters of all libiscsi engine instances (relaxed atomics,
// touched only on rare events: retries, check conditions, path changes).
struct IscsiCounters {
  std::atomic<uint64_t> retries{0};          // I/Os sent again after a path failure or a retryable status
  std::atomic<uint64_t> path_failures{0};    // active -> failed transitions
  std::atomic<uint64_t> reinstatements{0};   // failed -> active transitions
  std::atomic<uint64_t> scsi_errors{0};      // check conditions and other non-GOOD statuses
  std::array<std::atomic<uint64_t>, 16> sense_keys{};  // check conditions by sense key
};
IscsiCounters& GlobalIscsiCounters();

}  // namespace fb
