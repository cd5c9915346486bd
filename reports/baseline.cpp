// The baseline: what the load did before anything was broken.
#include <algorithm>
#include <cmath>

#include "reports/correlator.h"

namespace fb::reports {

Stat StatOf(std::vector<double> v) {
  Stat s;
  s.n = int(v.size());
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / double(v.size());
  double sq = 0;
  for (double x : v) sq += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(sq / double(v.size() - 1)) : 0;
  s.min = v.front();
  s.max = v.back();
  size_t m = v.size() / 2;
  s.median = v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  return s;
}

namespace {

OpBaseline OpStats(const std::vector<const Sample*>& samples, int op) {
  std::vector<double> iops, p50, p99, mx;
  for (const Sample* s : samples) {
    const OpSample* o = op == 0 ? &s->read : op == 1 ? &s->write : nullptr;
    if (o) {
      iops.push_back(o->iops);
      if (o->ios && o->p99_us) {
        p50.push_back(o->p50_us.value_or(0));
        p99.push_back(*o->p99_us);
        mx.push_back(o->max_us.value_or(0));
      }
    } else {
      iops.push_back(s->iops());
      if (s->ios() && s->P99Us()) {
        p50.push_back(std::max(s->read.p50_us.value_or(0), s->write.p50_us.value_or(0)));
        p99.push_back(*s->P99Us());
        mx.push_back(s->MaxUs().value_or(0));
      }
    }
  }
  OpBaseline b;
  b.iops = StatOf(iops);
  b.p50_us = StatOf(p50);
  b.p99_us = StatOf(p99);
  b.max_us = StatOf(mx);
  return b;
}

}  // namespace

Baseline ComputeBaseline(const RunJournal& j, const std::vector<PhaseWindow>& phases,
                         std::optional<int64_t> first_fault_utc_ns) {
  Baseline b;
  b.start_utc_ns = j.load_start_utc_ns + j.ramp_ns;
  b.end_utc_ns = j.load_end_utc_ns;
  b.source = first_fault_utc_ns ? "before the first fault" : "whole run";
  for (const auto& p : phases) {
    if (p.name == "baseline") {
      b.source = "phase baseline";
      b.start_utc_ns = std::max(b.start_utc_ns, p.start_utc_ns);
      b.end_utc_ns = p.end_utc_ns;
      break;
    }
  }
  if (first_fault_utc_ns) b.end_utc_ns = std::min(b.end_utc_ns, *first_fault_utc_ns);
  std::vector<const Sample*> in;
  for (const auto& s : j.samples) {
    if (s.ramp || s.drain) continue;
    // An interval belongs to the baseline when it lies inside it (1 ms slack
    // for the sampler's jitter at the edges).
    if (s.start_utc_ns() >= b.start_utc_ns - 1'000'000 && s.end_utc_ns <= b.end_utc_ns) {
      in.push_back(&s);
      b.stalled_intervals += s.stall;
    }
  }
  LatencyMerge read, write, both;
  for (const Sample* s : in) {
    read.Add(s->read);
    write.Add(s->write);
    both.Add(*s);
  }
  b.read_latency = read.Get(LatencyFallback::kMedian);
  b.write_latency = write.Get(LatencyFallback::kMedian);
  b.latency = both.Get(LatencyFallback::kMedian);
  b.read = OpStats(in, 0);
  b.write = OpStats(in, 1);
  b.total = OpStats(in, 2);
  if (b.latency.approximate && b.total.p99_us.n) {  // today's figures: the median interval's, worse op
    b.latency.p50_us = b.total.p50_us.median;
    b.latency.p99_us = b.total.p99_us.median;
  }
  return b;
}

}  // namespace fb::reports
