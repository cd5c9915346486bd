// The I/O engine contract, after fio's: queue one I/O, commit the batch, reap
// completions. One engine instance per job, used by that job's thread only.
// Queue/Commit/Reap are the hot path: they allocate nothing, take no lock and
// log nothing. Engines are created by name from the EngineRegistry.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "loadgen/workload.h"
#include "plugin/registry.h"

namespace fb {

// One I/O, owned by the job; the engine fills `result` when it completes.
struct Io {
  uint64_t offset = 0;
  uint32_t length = 0;
  OpType op = OpType::kRead;
  uint8_t* buffer = nullptr;    // aligned for O_DIRECT, `length` bytes
  int64_t submit_ns = 0;        // MonoNs() when handed to the engine
  int64_t sched_ns = 0;         // when it was due (rate-limited runs), else submit_ns
  int64_t result = 0;           // bytes transferred, or -errno
  uint32_t slot = 0;            // the job's index for this I/O
  void* engine_data = nullptr;  // engine-private, set in Open for each slot
};

enum class QueueResult { kQueued, kCompleted, kBusy };

// Capability flags (fio's FIO_* style) instead of ever more hooks.
enum EngineCaps : uint32_t {
  kCapFiles = 1u << 0,         // regular files
  kCapBlockDevices = 1u << 1,  // local block devices
  kCapNetwork = 1u << 2,       // the target is a URL, not a local path
  kCapMultipath = 1u << 3,     // several targets are paths to one LUN
};

// What an engine needs to know about the target, filled by PrepareTarget or by
// the engine's own Probe for network targets.
struct TargetInfo {
  std::string name;                // as given: path or URL(s)
  std::vector<std::string> paths;  // one entry per path to the LUN
  bool is_block_device = false;
  bool created = false;  // a file target that faultbench created
  uint64_t size_bytes = 0;
  uint32_t logical_block_bytes = 512;
};

// Engines report things worth a journal event (path failed, reconnected) here.
// Called from the job thread; the callee must only copy into a bounded queue.
using EngineEventFn = std::function<void(const Event&)>;

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const char* name() const = 0;
  virtual uint32_t caps() const = 0;

  // Off the hot path: opens the target for one job with room for `queue_depth`
  // I/Os in flight. `ios` are the job's I/O slots (stable addresses).
  virtual Status Open(const TargetInfo& target, const Workload& workload, std::vector<Io>& ios) = 0;
  // Queues one I/O. kCompleted means it finished at once (result is set and it
  // will not be reaped); kBusy means no room now: reap first, then retry.
  virtual QueueResult Queue(Io* io) = 0;
  // Submits everything queued since the last Commit.
  virtual Status Commit() = 0;
  // Waits up to `timeout_ns` for at least `min` completions and stores up to
  // `max` of them in `out`. Returns the number stored (0 on timeout).
  virtual int Reap(int min, int max, int64_t timeout_ns, Io** out) = 0;
  // Cancels or waits for what is in flight (bounded), then releases the target.
  virtual void Close() = 0;
  // Where to report rare events (path failed, reinstated). Set before Open.
  virtual void SetEventCallback(EngineEventFn) {}
};

struct EngineEntry {
  std::function<std::unique_ptr<Engine>()> factory;
  // Probes a target before jobs start (size, block size, safety). Engines for
  // local paths use PrepareLocalTarget.
  std::function<Result<TargetInfo>(const Workload&)> prober;
};

// The engines (plugin/registry.h): Register, Has, Kinds, and:
class EngineRegistry : public Registry<EngineEntry> {
 public:
  EngineRegistry() : Registry("engine") {}
  static EngineRegistry& Global();
  // Null when unknown.
  std::unique_ptr<Engine> Create(const std::string& name) const;
  // The engine's prober for w.engine; an unknown engine is InvalidInput.
  Result<TargetInfo> Probe(const Workload& w) const;
};

// Registers the built-in engines (libaio, libiscsi). Idempotent.
void RegisterBuiltinEngines();

}  // namespace fb
