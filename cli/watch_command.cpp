// faultbench watch: starts only the probes of a plan (all, or those named with
// --probe) and prints their normalized events as they come, one line each,
// until Ctrl-C / SIGTERM or --duration: the quickest check of a plan's probes
// before a run. Nothing else of the plan is touched (no load, no injector, no
// journal). Exit 0; 2 a bad plan, probe name or flag; 3 a probe cannot start.
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <mutex>

#include "cli/commands.h"
#include "core/clock.h"
#include "core/units.h"
#include "metrics/metrics_exporter.h"
#include "plans/plan_loader.h"
#include "plans/plan_probes.h"

namespace fb::cli {

namespace {

struct WatchFlags {
  std::string plan, duration, metrics;
  std::vector<std::string> probes, sets;
  bool json = false;
};

std::atomic<int> g_stop_fd{-1};

void OnSignal(int) {
  uint64_t one = 1;
  int fd = g_stop_fd.load();
  if (fd >= 0) (void)!write(fd, &one, sizeof one);
}

const char* SeverityColor(Severity s) {
  switch (s) {
    case Severity::kDebug:
      return "\033[2m";
    case Severity::kInfo:
      return "";
    case Severity::kWarning:
      return "\033[33m";
    case Severity::kError:
      return "\033[31m";
    case Severity::kCritical:
      return "\033[1;31m";
  }
  return "";
}

// Prints each event as one line (or one JSON object) and counts it for the
// metrics. Emit() is called from every probe's thread: one lock, one flush.
class PrintingSink : public EventSink {
 public:
  PrintingSink(FILE* out, bool json, bool color, size_t source_width, MetricsExporter* metrics)
      : out_(out),
        json_(json),
        color_(color),
        source_width_(int(source_width)),
        metrics_(metrics),
        anchor_(ClockAnchor::Take()) {}

  void Emit(Event e) override {
    if (metrics_) metrics_->CountProbeEvent(e.source, e.kind);
    int64_t utc = anchor_.ToUtc(e.mono_ns);
    std::string line;
    if (json_) {
      nlohmann::json r = {{"t_utc_ns", utc},
                          {"t", FormatUtcIso(utc, 3)},
                          {"source", e.source},
                          {"kind", e.kind},
                          {"severity", SeverityName(e.severity)},
                          {"message", e.message},
                          {"attrs", e.attrs}};
      line = r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      char head[256];
      const char* on = color_ ? SeverityColor(e.severity) : "";
      const char* off = color_ && *on ? "\033[0m" : "";
      snprintf(head, sizeof head, "%s  %-*s  %s%-16s %-8s%s  ", FormatUtcIso(utc, 3).c_str(), source_width_,
               e.source.c_str(), on, e.kind.c_str(), SeverityName(e.severity), off);
      line = head + e.message;
    }
    std::lock_guard<std::mutex> lock(mu_);
    fprintf(out_, "%s\n", line.c_str());
    fflush(out_);
  }

 private:
  FILE* out_;
  bool json_, color_;
  int source_width_;
  MetricsExporter* metrics_;
  ClockAnchor anchor_;
  std::mutex mu_;
};

int Watch(const WatchFlags& f) {
  if (!f.metrics.empty()) {
    if (Status st = ValidateListenAddress(f.metrics); !st.ok()) {
      PrintError(st.message());
      return kExitUsage;
    }
  }
  int64_t duration_ns = 0;
  if (!f.duration.empty()) {
    auto d = ParseDuration(f.duration);
    if (!d.ok() || *d <= 0) {
      PrintError("--duration \"" + f.duration +
                 "\": " + (d.ok() ? "must be more than 0" : d.status().message()));
      return kExitUsage;
    }
    duration_ns = *d;
  }
  LoadedPlan lp = LoadPlanFile(f.plan, f.sets);
  if (!lp.ok()) {
    for (const auto& p : lp.problems) std::fprintf(stderr, "%s\n", p.ToString().c_str());
    std::fprintf(stderr, "faultbench: %zu problem(s) in %s; nothing was started\n", lp.problems.size(),
                 f.plan.c_str());
    return kExitUsage;
  }
  auto built = BuildPlanProbes(lp.plan, f.probes);
  if (!built.ok()) {
    PrintError(built.status().message());
    return kExitUsage;
  }
  std::vector<NamedProbe>& probes = *built;
  if (probes.empty()) {
    PrintError(f.plan + ": the plan has no probes to watch");
    return kExitUsage;
  }

  std::unique_ptr<MetricsExporter> metrics;
  if (!f.metrics.empty()) {
    auto m = MetricsExporter::Start(f.metrics, "watch-" + lp.plan.name + "-" + FormatUtcCompact(UtcNs()));
    if (!m.ok()) {
      PrintError(m.status().message());
      return m.status().exit_code();
    }
    metrics = std::move(*m);
    metrics->SetRunInfo(lp.plan.name, "watch");
    for (const auto& p : probes) metrics->DeclareProbeEvents(p.name, p.probe->EventKinds());
    std::string host = f.metrics.substr(0, f.metrics.rfind(':'));
    std::fprintf(stderr, "metrics: http://%s:%d/metrics\n", host.c_str(), metrics->port());
  }

  size_t width = 0;
  std::string names;
  for (const auto& p : probes) {
    width = std::max(width, p.name.size());
    names += (names.empty() ? "" : ", ") + p.name;
  }
  PrintingSink sink(stdout, f.json, !f.json && isatty(fileno(stdout)), width, metrics.get());

  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    PrintError(ErrnoStatus("eventfd", errno).message());
    return kExitRunFailed;
  }
  g_stop_fd.store(stop_fd);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  int code = kExitOk;
  size_t started = 0;
  for (; started < probes.size(); ++started) {
    Status st = probes[started].probe->Start(&sink);
    if (!st.ok()) {
      PrintError("probe " + probes[started].name + " of " + f.plan + " cannot start: " + st.message());
      code = kExitRunFailed;
      break;
    }
  }
  if (code == kExitOk) {
    std::fprintf(stderr, "watching %zu probe(s) of %s: %s%s\n", probes.size(), f.plan.c_str(), names.c_str(),
                 duration_ns ? (" for " + FormatDuration(duration_ns)).c_str() : "; Ctrl-C to stop");
    int64_t deadline = duration_ns ? MonoNs() + duration_ns : 0;
    while (true) {
      int64_t left_ms = deadline ? (deadline - MonoNs() + kNsPerMs - 1) / kNsPerMs : -1;
      if (deadline && left_ms <= 0) break;
      pollfd p{stop_fd, POLLIN, 0};
      int n = poll(&p, 1, int(std::min<int64_t>(left_ms < 0 ? 1000 : left_ms, 1000)));
      if (n > 0) break;
    }
  }
  // Newest first; Stop() returns once a probe emits nothing more.
  for (size_t i = started; i-- > 0;) probes[i].probe->Stop();
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  g_stop_fd.store(-1);
  close(stop_fd);
  if (metrics) metrics->Stop();
  return code;
}

}  // namespace

void RegisterWatchCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<WatchFlags>();
  CLI::App* cmd = app.add_subcommand("watch", "Run only a plan's probes and print their events live");
  cmd->add_option("--plan", f->plan, "Plan file (YAML)")->required();
  cmd->add_option("--probe", f->probes, "Watch only this probe of the plan (repeatable; default all)");
  cmd->add_option("--set", f->sets, "Override a plan value: key.path=value (repeatable)");
  cmd->add_option("--duration", f->duration, "Stop after this long (e.g. 30s; default: until Ctrl-C)");
  cmd->add_option("--metrics", f->metrics, "Serve Prometheus metrics (probe events) on HOST:PORT");
  cmd->add_flag("--json", f->json, "One JSON object per event, as in events.jsonl");
  cmd->callback([f, exit_code] { *exit_code = Watch(*f); });
}

}  // namespace fb::cli
