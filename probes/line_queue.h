// The bounded FIFO between a probe's reader thread and its rule matching: the
// reader never waits for the matcher (a source is read as fast as it writes),
// and when the matcher falls behind the oldest raw lines are dropped and
// counted, so the probe can say how many it lost. Thread-safe: one producer,
// one consumer.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace fb {

struct QueuedLine {
  int64_t mono_ns = 0;  // arrival, on CLOCK_MONOTONIC
  std::string text;
};

class LineQueue {
 public:
  explicit LineQueue(size_t capacity_lines) : capacity_(capacity_lines < 1 ? 1 : capacity_lines) {}

  // Never blocks; when full, drops the oldest line.
  void Push(QueuedLine line);
  enum class PopResult { kLine, kTimeout, kClosed };
  // Waits at most `timeout_ns` for a line. kClosed once Close() was called and
  // nothing is left.
  PopResult Pop(QueuedLine* out, int64_t timeout_ns);
  // No more pushes; Pop() returns what is left, then kClosed.
  void Close();
  // Drops everything still queued (counted as dropped).
  void Clear();
  // Lines dropped since the last call and when the first of them was dropped
  // (monotonic ns; 0 when none).
  uint64_t TakeDropped(int64_t* first_drop_ns);
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueuedLine> lines_;
  bool closed_ = false;
  uint64_t dropped_ = 0;
  int64_t first_drop_ns_ = 0;
};

}  // namespace fb
