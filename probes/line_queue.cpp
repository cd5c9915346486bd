#include "probes/line_queue.h"

#include <chrono>

#include "core/clock.h"

namespace fb {

void LineQueue::Push(QueuedLine line) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (lines_.size() >= capacity_) {
      lines_.pop_front();
      if (dropped_++ == 0) first_drop_ns_ = MonoNs();
    }
    lines_.push_back(std::move(line));
  }
  cv_.notify_one();
}

LineQueue::PopResult LineQueue::Pop(QueuedLine* out, int64_t timeout_ns) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, std::chrono::nanoseconds(timeout_ns), [&] { return !lines_.empty() || closed_; })) {
    return PopResult::kTimeout;
  }
  if (lines_.empty()) return PopResult::kClosed;
  *out = std::move(lines_.front());
  lines_.pop_front();
  return PopResult::kLine;
}

void LineQueue::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

void LineQueue::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  if (lines_.empty()) return;
  if (dropped_ == 0) first_drop_ns_ = MonoNs();
  dropped_ += lines_.size();
  lines_.clear();
}

uint64_t LineQueue::TakeDropped(int64_t* first_drop_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = dropped_;
  *first_drop_ns = first_drop_ns_;
  dropped_ = 0;
  first_drop_ns_ = 0;
  return n;
}

}  // namespace fb
