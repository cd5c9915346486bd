// What every probe kind shares: its thread, the stop signal and Emit. A kind
// writes only what it watches:
//   Setup()     on the probe's thread before Run (join a namespace, open a socket);
//               its error is Start()'s, and then nothing runs
//   Run()       the loop; waits with WaitStop(ns) and returns once it says stop
//   Interrupt() called from Stop(), again every 20 ms until Run returns: cuts a
//               blocking call short (an HTTP long poll)
//   Cleanup()   on the probe's thread after Run (or after a failed Setup)
//   Decorate()  attrs every event of the kind carries (its url, the poll window)
// A kind's destructor calls Stop() (Run uses the kind's members).
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "core/event.h"
#include "core/status.h"
#include "probes/probe.h"
#include "probes/stop_signal.h"

namespace fb {

class ProbeBase : public Probe {
 public:
  explicit ProbeBase(std::string name) : name_(std::move(name)) {}
  ~ProbeBase() override;

  // Idempotent: a started probe starts no second thread.
  Status Start(EventSink* sink) final;
  // Idempotent; safe without Start(). Returns once the thread has ended.
  void Stop() final;

 protected:
  virtual Status Setup() { return Status::Ok(); }
  virtual void Run() = 0;
  virtual void Interrupt() {}
  virtual void Cleanup() {}
  virtual void Decorate(const std::string& kind, nlohmann::json* attrs) const {
    (void)kind;
    (void)attrs;
  }

  // Waits up to ns; true when the probe is asked to stop (at once if it was).
  bool WaitStop(int64_t ns) const;
  bool StopRequested() const { return stop_requested_.load(); }
  // Readable once Stop() was called, for a kind that polls other fds too.
  int stop_fd() const { return stop_.fd(); }
  const std::string& name() const { return name_; }

  // An event from this probe (source = its name), at mono time t.
  void Emit(int64_t t, const std::string& kind, Severity severity, const std::string& message,
            nlohmann::json attrs) const;

 private:
  std::string name_;
  EventSink* sink_ = nullptr;
  StopSignal stop_;
  std::atomic<bool> stop_requested_{false};
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool done_ = false;  // Run and Cleanup have returned
  std::thread thread_;
};

}  // namespace fb
