// The live terminal view: a line per interval (at most one a second; shorter
// intervals are merged for display), a STALL marker while I/O is stuck, a line
// when a stall ends, then the final summary. Lines go to `out`.
#pragma once

#include <cstdio>

#include "loadgen/load_sink.h"

namespace fb {

class ConsoleView : public LoadSink {
 public:
  // `live`: print the per-interval lines (a tty); the summary is always printed.
  ConsoleView(FILE* out, bool live, bool color) : out_(out), live_(live), color_(color) {}
  void OnStart(const LoadStartInfo& info) override;
  void OnInterval(const IntervalReport& report) override;
  void OnStall(const StallRecord& stall) override;
  void OnEvent(const Event& event) override;
  void OnFinish(const LoadSummary& summary) override;

 private:
  void PrintLine();
  FILE* out_;
  bool live_, color_;
  int64_t start_ns_ = 0;
  int64_t display_ns_ = 0;
  IntervalStats acc_;
  bool acc_empty_ = true;
  int lines_ = 0;
};

}  // namespace fb
