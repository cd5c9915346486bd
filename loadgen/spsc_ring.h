// Single-producer single-consumer ring of preallocated slots. The producer (a
// job's I/O thread) fills a slot in place and publishes it; the consumer (the
// sampler thread) reads it in place and releases it. No locks, no allocation
// after construction. Capacity must be a power of two.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

namespace fb {

template <typename T>
class SpscRing {
 public:
  explicit SpscRing(size_t capacity) : mask_(capacity - 1), slots_(new T[capacity]) {}

  // Producer: the next free slot, or nullptr when the consumer is behind.
  T* BeginWrite() {
    size_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) > mask_) return nullptr;
    return &slots_[head & mask_];
  }
  // Producer: how many slots could still be written before the ring is full.
  size_t FreeSlots() const {
    return mask_ + 1 - (head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_acquire));
  }
  void Publish() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  // Consumer: the oldest published slot, or nullptr when empty.
  T* Front() {
    size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_.load(std::memory_order_acquire)) return nullptr;
    return &slots_[tail & mask_];
  }
  void Release() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

 private:
  const size_t mask_;
  std::unique_ptr<T[]> slots_;
  alignas(64) std::atomic<size_t> head_{0};
  alignas(64) std::atomic<size_t> tail_{0};
};

}  // namespace fb
