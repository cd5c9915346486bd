#include "loadgen/console_view.h"

#include <cstring>
#include <string>

#include "core/units.h"
#include "loadgen/verify.h"

namespace fb {

namespace {
std::string Num(double v) {
  char buf[32];
  if (v >= 1e6) snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}
std::string Ms(uint64_t ns) {
  if (!ns) return "-";
  char buf[32];
  snprintf(buf, sizeof buf, ns < 10'000'000 ? "%.3f" : ns < 1'000'000'000 ? "%.1f" : "%.0f", double(ns) / 1e6);
  return buf;
}
std::string Clock(int64_t ns) {
  int64_t s = ns / 1'000'000'000;
  char buf[32];
  snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60), (long long)(s % 60));
  return buf;
}
}  // namespace

void ConsoleView::OnStart(const LoadStartInfo& info) {
  start_ns_ = info.start_ns;
  const Workload& w = *info.workload;
  display_ns_ = std::max<int64_t>(w.interval_ns, 1'000'000'000);
  fprintf(out_, "faultbench load: %s on %s (%s), %d job%s x QD %d, %s%s\n", w.engine.c_str(), info.target->name.c_str(),
          FormatSize(info.target->size_bytes).c_str(), w.jobs, w.jobs == 1 ? "" : "s", w.queue_depth,
          FormatDuration(w.duration_ns).c_str(), w.ramp_ns ? (" (ramp " + FormatDuration(w.ramp_ns) + ")").c_str() : "");
  if (live_) {
    fprintf(out_, "%8s %9s %9s %8s %8s %9s %9s %6s %8s\n", "time", "r IOPS", "w IOPS", "r MiB/s", "w MiB/s", "p99 ms",
            "max ms", "inflt", "oldest");
  }
  fflush(out_);
}

void ConsoleView::OnInterval(const IntervalReport& r) {
  if (!live_) return;
  if (acc_empty_) {
    acc_.ResetCounters();
    acc_.start_ns = r.total->start_ns;
    acc_empty_ = false;
  }
  acc_.Merge(*r.total);
  acc_.inflight = r.total->inflight;
  acc_.oldest_inflight_age_ns = r.total->oldest_inflight_age_ns;
  acc_.stall_active = r.total->stall_active;
  acc_.end_ns = r.total->end_ns;
  if (acc_.end_ns - acc_.start_ns >= display_ns_ - display_ns_ / 100) PrintLine();
}

void ConsoleView::PrintLine() {
  double secs = double(acc_.end_ns - acc_.start_ns) / 1e9;
  if (secs <= 0) return;
  Histogram all = acc_.op[0].latency;
  all.Merge(acc_.op[1].latency);
  const char* mark = "";
  if (acc_.stall_active) mark = color_ ? "  \033[1;31mSTALL\033[0m" : "  STALL";
  else if (acc_.ramp) mark = "  (ramp)";
  else if (acc_.drain) mark = "  (after the runtime: drain, read-back)";
  uint64_t errors = acc_.op[0].errors + acc_.op[1].errors;
  std::string err = errors ? "  errors " + std::to_string(errors) : "";
  fprintf(out_, "%8s %9s %9s %8.1f %8.1f %9s %9s %6u %8s%s%s\n", Clock(acc_.end_ns - start_ns_).c_str(),
          Num(double(acc_.op[0].ios) / secs).c_str(), Num(double(acc_.op[1].ios) / secs).c_str(),
          double(acc_.op[0].bytes) / secs / 1048576.0, double(acc_.op[1].bytes) / secs / 1048576.0,
          Ms(all.Percentile(0.99)).c_str(), Ms(all.max()).c_str(), acc_.inflight,
          acc_.oldest_inflight_age_ns ? FormatDuration(acc_.oldest_inflight_age_ns).c_str() : "-", mark, err.c_str());
  fflush(out_);
  acc_empty_ = true;
}

void ConsoleView::OnStall(const StallRecord& s) {
  if (!live_) return;
  if (s.end_ns) {
    fprintf(out_, "%8s stall of %s on job %d ended (%u I/Os were in flight)\n", Clock(s.end_ns - start_ns_).c_str(),
            FormatDuration(s.end_ns - s.start_ns).c_str(), s.job, s.inflight);
  } else {
    fprintf(out_, "%8s stall on job %d never ended: %u I/Os still in flight\n", Clock(s.start_ns - start_ns_).c_str(), s.job,
            s.inflight);
  }
  fflush(out_);
}

void ConsoleView::OnEvent(const Event& e) {
  if (!live_ || e.kind == "load_started") return;
  fprintf(out_, "%8s %s: %s\n", Clock(e.mono_ns - start_ns_).c_str(), e.kind.c_str(), e.message.c_str());
  fflush(out_);
}

void ConsoleView::OnFinish(const LoadSummary& s) {
  // A short tail (the drain after the runtime) is only worth a line if it shows trouble.
  if (live_ && !acc_empty_ &&
      (acc_.end_ns - acc_.start_ns >= display_ns_ / 2 || acc_.stall_active || acc_.op[0].errors || acc_.op[1].errors)) {
    PrintLine();
  }
  fprintf(out_, "\nSummary (%s measured, stopped by %s)\n", FormatDuration(int64_t(s.measured_s * 1e9)).c_str(),
          s.stop_reason.c_str());
  fprintf(out_, "  %-6s %10s %10s %9s %9s %9s %9s %9s %9s %8s\n", "op", "IOPS", "MiB/s", "mean ms", "p50 ms", "p99 ms",
          "p99.9 ms", "max ms", "ios", "errors");
  for (int op = 0; op < kOpCount; ++op) {
    const OpCounters& c = s.op[size_t(op)];
    if (!c.ios && !c.errors) continue;
    const Histogram& h = c.latency;
    double secs = s.measured_s > 0 ? s.measured_s : 1;
    fprintf(out_, "  %-6s %10.0f %10.1f %9s %9s %9s %9s %9s %9llu %8llu\n", OpName(OpType(op)), double(c.ios) / secs,
            double(c.bytes) / secs / 1048576.0, Ms(uint64_t(h.mean())).c_str(), Ms(h.Percentile(0.5)).c_str(),
            Ms(h.Percentile(0.99)).c_str(), Ms(h.Percentile(0.999)).c_str(), Ms(h.max()).c_str(), (unsigned long long)c.ios,
            (unsigned long long)c.errors);
  }
  if (s.errors_total) {
    fprintf(out_, "  I/O errors:");
    for (int op = 0; op < kOpCount; ++op) {
      for (int e = 1; e < kErrnoSlots; ++e) {
        if (uint64_t n = s.errors_by_errno[size_t(op)][size_t(e)]) {
          const char* name = e == kErrnoSlots - 1 ? "other" : strerrorname_np(e);
          fprintf(out_, " %s %s x%llu", OpName(OpType(op)), name ? name : "?", (unsigned long long)n);
        }
      }
    }
    fprintf(out_, "\n");
  }
  if (s.stalls) {
    fprintf(out_, "  stalls: %llu, longest %s, total %s\n", (unsigned long long)s.stalls, FormatDuration(s.longest_stall_ns).c_str(),
            FormatDuration(s.total_stall_ns).c_str());
  } else {
    fprintf(out_, "  stalls: none\n");
  }
  if (s.verify) {
    uint64_t findings = s.IntegrityFindings();
    fprintf(out_, "  verify: %llu blocks written, %llu checked%s; %s%s\n", (unsigned long long)s.blocks_written,
            (unsigned long long)s.verified_blocks, s.final_pass_complete ? " (all read back after the run)" : " (read-back incomplete)",
            findings ? (color_ ? "\033[1;31m" : "") : "", findings ? "" : "no lost, misdirected, corrupt or phantom writes");
    if (findings) {
      fprintf(out_, "lost %llu, misdirected %llu, corrupt %llu, phantom %llu%s\n",
              (unsigned long long)s.integrity[size_t(BlockVerdict::kLost)],
              (unsigned long long)s.integrity[size_t(BlockVerdict::kMisdirected)],
              (unsigned long long)s.integrity[size_t(BlockVerdict::kCorrupt)],
              (unsigned long long)s.integrity[size_t(BlockVerdict::kPhantom)], color_ ? "\033[0m" : "");
    }
    if (s.acks_dropped) fprintf(out_, "  ack log: %llu acknowledgements dropped (the log fell behind)\n", (unsigned long long)s.acks_dropped);
  }
  if (s.missed_ios) fprintf(out_, "  missed I/Os (rate schedule skipped after stalls): %llu\n", (unsigned long long)s.missed_ios);
  if (s.abandoned_ios) fprintf(out_, "  abandoned: %u I/Os were still in flight when the load gave up waiting\n", s.abandoned_ios);
  fflush(out_);
}

}  // namespace fb
