// Writes a load's records into the run journal: samples.jsonl (one record per
// interval per job, plus job "all"), stalls.jsonl, events.jsonl. Field names
// carry their units; the README documents them.
#pragma once

#include "core/journal.h"
#include "loadgen/load_sink.h"

namespace fb {

class JournalSink : public LoadSink {
 public:
  explicit JournalSink(Journal* journal) : journal_(journal) {}
  void OnStart(const LoadStartInfo& info) override;
  void OnInterval(const IntervalReport& report) override;
  void OnStall(const StallRecord& stall) override;
  void OnEvent(const Event& event) override;
  void OnFinish(const LoadSummary& summary) override;
  // The first error met while writing (the journal keeps going otherwise).
  const Status& status() const { return status_; }

 private:
  void Keep(const Status& s) {
    if (status_.ok() && !s.ok()) status_ = s;
  }
  Journal* journal_;
  int64_t start_ns_ = 0;
  Status status_;
};

// The JSON form of one interval for one job (or "all"), without time fields.
nlohmann::json IntervalToJson(const IntervalStats& s, const nlohmann::json& job);
nlohmann::json SummaryToJson(const LoadSummary& s);

}  // namespace fb
