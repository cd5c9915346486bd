#include "probes/probe_base.h"

#include <poll.h>

#include <chrono>
#include <future>

#include "core/clock.h"

namespace fb {

ProbeBase::~ProbeBase() { Stop(); }

Status ProbeBase::Start(EventSink* sink) {
  if (thread_.joinable()) return Status::Ok();
  sink_ = sink;
  stop_requested_.store(false);
  done_ = false;
  FB_RETURN_IF_ERROR(stop_.Open("probe " + name_));
  std::promise<Status> ready;
  std::future<Status> started = ready.get_future();
  thread_ = std::thread([this, ready = std::move(ready)]() mutable {
    Status st = Setup();
    bool ok = st.ok();
    ready.set_value(std::move(st));
    if (ok) Run();
    Cleanup();
    std::lock_guard<std::mutex> lock(done_mu_);
    done_ = true;
    done_cv_.notify_all();
  });
  Status st = started.get();
  if (!st.ok()) {
    thread_.join();
    stop_.Close();
  }
  return st;
}

void ProbeBase::Stop() {
  if (!thread_.joinable()) return;
  stop_requested_.store(true);
  stop_.Notify();
  std::unique_lock<std::mutex> lock(done_mu_);
  while (!done_) {
    lock.unlock();
    Interrupt();
    lock.lock();
    done_cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return done_; });
  }
  lock.unlock();
  thread_.join();
  stop_.Close();
}

bool ProbeBase::WaitStop(int64_t ns) const {
  if (stop_requested_.load()) return true;
  pollfd p{stop_.fd(), POLLIN, 0};
  int ms = ns <= 0 ? 0 : int((ns + kNsPerMs - 1) / kNsPerMs);
  return poll(&p, 1, ms) > 0 || stop_requested_.load();
}

void ProbeBase::Emit(int64_t t, const std::string& kind, Severity severity, const std::string& message,
                     nlohmann::json attrs) const {
  Event e;
  e.mono_ns = t;
  e.source = name_;
  e.kind = kind;
  e.severity = severity;
  e.message = message;
  Decorate(kind, &attrs);
  e.attrs = std::move(attrs);
  sink_->Emit(std::move(e));
}

}  // namespace fb
