// faultbench load: a quick load with fio-familiar flags, recorded in a run journal.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/clock.h"
#include "core/journal.h"
#include "core/units.h"
#include "loadgen/console_view.h"
#include "loadgen/journal_sink.h"
#include "loadgen/load_generator.h"
#include "loadgen/verify.h"
#include "metrics/metrics_exporter.h"

namespace fb::cli {

namespace {

struct LoadFlags {
  std::string engine = "libaio", size, offset = "0", bs = "4k", rw = "randread", rwmixread = "70";
  std::string runtime = "60s", ramp = "0s", interval = "1s", stall = "100ms", stuck = "5s";
  std::string dedupe = "0", compress = "0", out = "runs", name = "load";
  std::string metrics, push;
  bool verify = false;
  std::string verify_block, ack_log;
  std::vector<std::string> specs;
  std::vector<std::string> targets;  // repeatable; iscsi:// URLs may also be comma-separated
  std::string path_policy = "round-robin", io_timeout = "5s", checker_interval = "5s", no_path_timeout = "0s";
  int iodepth = 32, numjobs = 1, direct = 1, sessions_per_path = 1;
  double rate_iops = 0;
  uint64_t max_errors = 0, seed = 0;
  bool catch_up = false, allow_destroy = false, quiet = false, live = false;
};

LoadGenerator* g_running = nullptr;

void OnSignal(int) {
  if (g_running) g_running->RequestStop();
}

Status BuildWorkload(const LoadFlags& f, Workload* w) {
  w->engine = f.engine;
  w->targets.clear();
  for (const auto& t : f.targets) {
    if (t.rfind("iscsi://", 0) != 0) {
      w->targets.push_back(t);
      continue;
    }
    for (size_t b = 0, e; b <= t.size(); b = e + 1) {
      e = std::min(t.find(',', b), t.size());
      if (e > b) w->targets.push_back(t.substr(b, e - b));
    }
  }
  auto parse_size = [](const std::string& flag, const std::string& v, uint64_t* out) -> Status {
    auto r = ParseSize(v);
    if (!r.ok()) return r.status().With(flag);
    *out = *r;
    return Status::Ok();
  };
  auto parse_dur = [](const std::string& flag, const std::string& v, int64_t* out) -> Status {
    auto r = ParseDuration(v);
    if (!r.ok()) return r.status().With(flag);
    *out = *r;
    return Status::Ok();
  };
  auto parse_pct = [](const std::string& flag, const std::string& v, double* out) -> Status {
    auto r = ParsePercent(v);
    if (!r.ok()) return r.status().With(flag);
    *out = *r;
    return Status::Ok();
  };
  if (!f.size.empty()) {
    FB_RETURN_IF_ERROR(parse_size("--size", f.size, &w->size_bytes));
    if (w->size_bytes == 0) return Status::InvalidInput("--size: must be more than 0");
  }
  FB_RETURN_IF_ERROR(parse_size("--offset", f.offset, &w->offset_bytes));
  FB_RETURN_IF_ERROR(parse_dur("--runtime", f.runtime, &w->duration_ns));
  FB_RETURN_IF_ERROR(parse_dur("--ramp", f.ramp, &w->ramp_ns));
  w->duration_ns += w->ramp_ns;  // --runtime is the measured time, as in fio
  FB_RETURN_IF_ERROR(parse_dur("--interval", f.interval, &w->interval_ns));
  FB_RETURN_IF_ERROR(parse_dur("--stall-threshold", f.stall, &w->stall_threshold_ns));
  FB_RETURN_IF_ERROR(parse_dur("--stuck-threshold", f.stuck, &w->stuck_threshold_ns));
  FB_RETURN_IF_ERROR(parse_pct("--dedupe-pct", f.dedupe, &w->dedupe_fraction));
  FB_RETURN_IF_ERROR(parse_pct("--compress-pct", f.compress, &w->compress_fraction));
  if (f.specs.empty()) {
    uint64_t bs;
    FB_RETURN_IF_ERROR(parse_size("--bs", f.bs, &bs));
    if (bs == 0 || bs > UINT32_MAX) return Status::InvalidInput("--bs: out of range");
    double mix;
    FB_RETURN_IF_ERROR(parse_pct("--rwmixread", f.rwmixread, &mix));
    AccessSpec spec;
    spec.block_size = uint32_t(bs);
    FB_RETURN_IF_ERROR(ApplyFioRw(f.rw, mix, &spec));
    w->specs = {spec};
  } else {
    w->specs.clear();
    for (const auto& text : f.specs) {
      auto s = ParseAccessSpec(text);
      if (!s.ok()) return s.status().With("--spec");
      w->specs.push_back(*s);
    }
  }
  w->queue_depth = f.iodepth;
  w->jobs = f.numjobs;
  w->rate_iops = f.rate_iops;
  w->rate_catch_up = f.catch_up;
  w->max_errors = f.max_errors;
  w->direct = f.direct != 0;
  w->allow_destroy = f.allow_destroy;
  w->seed = f.seed;
  if (f.path_policy != "round-robin" && f.path_policy != "failover") {
    return Status::InvalidInput("--path-policy: \"" + f.path_policy + "\" is not round-robin or failover");
  }
  w->iscsi.path_policy = f.path_policy == "failover" ? PathPolicy::kFailover : PathPolicy::kRoundRobin;
  w->iscsi.sessions_per_path = f.sessions_per_path;
  FB_RETURN_IF_ERROR(parse_dur("--io-timeout", f.io_timeout, &w->iscsi.io_timeout_ns));
  FB_RETURN_IF_ERROR(parse_dur("--checker-interval", f.checker_interval, &w->iscsi.checker_interval_ns));
  FB_RETURN_IF_ERROR(parse_dur("--no-path-timeout", f.no_path_timeout, &w->iscsi.no_path_timeout_ns));
  if (w->iscsi.io_timeout_ns < 10'000'000) return Status::InvalidInput("--io-timeout: must be at least 10ms");
  if (w->iscsi.checker_interval_ns < 10'000'000) return Status::InvalidInput("--checker-interval: must be at least 10ms");
  if (!f.push.empty() && f.metrics.empty()) return Status::InvalidInput("--push needs --metrics");
  w->verify = f.verify || !f.ack_log.empty();
  w->ack_log = f.ack_log;
  if (!f.verify_block.empty()) {
    uint64_t vb;
    FB_RETURN_IF_ERROR(parse_size("--verify-block", f.verify_block, &vb));
    if (vb > (64u << 20)) return Status::InvalidInput("--verify-block: larger than 64MiB");
    w->verify_block_bytes = uint32_t(vb);
  }
  if (!f.metrics.empty()) FB_RETURN_IF_ERROR(ValidateListenAddress(f.metrics));
  return ValidateWorkload(*w);
}

int RunLoad(const LoadFlags& f, const std::vector<std::string>& argv) {
  Workload w;
  Status s = BuildWorkload(f, &w);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitUsage;
  }
  ClockAnchor anchor = ClockAnchor::Take();
  if (w.verify) w.verify_run_id = VerifyRunId(SanitizeName(f.name) + "-" + FormatUtcCompact(anchor.utc_ns));
  LoadGenerator gen(w);
  s = gen.Prepare();
  if (!s.ok()) {
    PrintError(s.message());
    return s.exit_code();
  }
  std::unique_ptr<MetricsExporter> metrics;
  if (!f.metrics.empty()) {
    // Bound before the journal and the load: a busy address is exit 2 with nothing run.
    auto m = MetricsExporter::Start(f.metrics, SanitizeName(f.name) + "-" + FormatUtcCompact(anchor.utc_ns));
    if (!m.ok()) {
      PrintError(m.status().message());
      return kExitUsage;
    }
    metrics = std::move(m.value());
  }
  Journal journal;
  s = journal.Create(f.out, f.name, anchor);
  if (!s.ok()) {
    PrintError("cannot create the run journal: " + s.message());
    return kExitRunFailed;
  }
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  journal.UpdateRunInfo({{"command", "load"}, {"argv", argv}, {"host", host}, {"faultbench_version", "0.1.0"}, {"name", f.name}});

  JournalSink journal_sink(&journal);
  bool tty = isatty(STDOUT_FILENO);
  ConsoleView console(stdout, !f.quiet && (tty || f.live), tty);
  gen.AddSink(&journal_sink);
  gen.AddSink(&console);
  if (metrics) {
    gen.AddSink(metrics->load_sink());
    metrics->SetRunInfo(f.name, "load");
    metrics->Watch(&gen);
  }

  g_running = &gen;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  s = gen.Run();
  g_running = nullptr;
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  if (metrics) {
    metrics->Stop();
    if (!f.push.empty()) {
      Status p = metrics->Push(f.push);
      if (!p.ok()) PrintError("warning: " + p.message());
    }
  }

  const LoadSummary& sum = gen.summary();
  std::string status = !s.ok() ? "failed" : sum.stop_reason == "runtime" ? "completed" : sum.stop_reason;
  journal.UpdateRunInfo({{"status", status}, {"end_utc", FormatUtcIso(UtcNs())}});
  journal.Close();
  fprintf(stdout, "journal: %s\n", journal.dir().c_str());
  if (!s.ok()) {
    PrintError(s.message());
    return kExitRunFailed;
  }
  if (!journal_sink.status().ok()) {
    PrintError("the journal is incomplete: " + journal_sink.status().message());
    return kExitRunFailed;
  }
  if (sum.stop_reason != "runtime") return kExitRunFailed;
  return sum.IntegrityFindings() ? kExitExpectationFailed : kExitOk;
}

}  // namespace

void RegisterLoadCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<LoadFlags>();
  CLI::App* cmd = app.add_subcommand("load", "Drive an I/O load on a file or block device and record it");
  cmd->add_option("--target", f->targets,
                  "File or block device (a missing file is created at --size), or iSCSI URLs "
                  "iscsi://host[:port]/iqn/lun, one per path (repeat or comma-separate)")
      ->required();
  cmd->add_option("--engine", f->engine, "I/O engine")->capture_default_str();
  cmd->add_option("--path-policy", f->path_policy, "libiscsi: round-robin or failover")->capture_default_str();
  cmd->add_option("--sessions-per-path", f->sessions_per_path,
                  "libiscsi: iSCSI sessions per URL, each a path of its own (I/O spread over them)")
      ->capture_default_str();
  cmd->add_option("--io-timeout", f->io_timeout, "libiscsi: fail the path of an I/O unanswered this long, retry elsewhere")
      ->capture_default_str();
  cmd->add_option("--checker-interval", f->checker_interval, "libiscsi: TEST UNIT READY on each path this often")
      ->capture_default_str();
  cmd->add_option("--no-path-timeout", f->no_path_timeout, "libiscsi: with no path left, I/O waits this long (0s: fails)")
      ->capture_default_str();
  cmd->add_option("--size", f->size, "Region length (default: to the end of the target), e.g. 4GiB");
  cmd->add_option("--offset", f->offset, "Region start")->capture_default_str();
  cmd->add_option("--bs", f->bs, "Block size")->capture_default_str();
  cmd->add_option("--rw", f->rw, "read, write, randread, randwrite, rw, randrw")->capture_default_str();
  cmd->add_option("--rwmixread", f->rwmixread, "Read share of rw/randrw, in %")->capture_default_str();
  cmd->add_option("--spec", f->specs,
                  "IOmeter access spec weight:bs:read%:random%[:align], repeatable (replaces --bs/--rw)");
  cmd->add_option("--iodepth", f->iodepth, "I/Os in flight per job")->capture_default_str();
  cmd->add_option("--numjobs", f->numjobs, "Jobs (threads)")->capture_default_str();
  cmd->add_option("--runtime", f->runtime, "Measured time, e.g. 60s, 2m")->capture_default_str();
  cmd->add_option("--ramp", f->ramp, "Warm-up before measuring")->capture_default_str();
  cmd->add_option("--rate-iops", f->rate_iops, "Open loop: total IOPS over all jobs, latency from the schedule");
  cmd->add_flag("--catch-up", f->catch_up, "After a stall, issue the missed scheduled I/Os at once");
  cmd->add_option("--interval", f->interval, "Sample interval, 10ms..1h")->capture_default_str();
  cmd->add_option("--stall-threshold", f->stall, "A completion gap longer than this is a stall")->capture_default_str();
  cmd->add_option("--stuck-threshold", f->stuck, "Warn when an I/O is in flight this long")->capture_default_str();
  cmd->add_option("--max-errors", f->max_errors, "Stop after this many I/O errors (0: never)");
  cmd->add_option("--direct", f->direct, "1: O_DIRECT, 0: page cache")->capture_default_str();
  cmd->add_option("--dedupe-pct", f->dedupe, "Share of writes with identical content")->capture_default_str();
  cmd->add_option("--compress-pct", f->compress, "Share of each block that is zeros")->capture_default_str();
  cmd->add_flag("--allow-destroy", f->allow_destroy, "Permit writes to a device with a filesystem or partition table");
  cmd->add_option("--out", f->out, "Directory for run journals")->capture_default_str();
  cmd->add_option("--name", f->name, "Run name (journal directory prefix)")->capture_default_str();
  cmd->add_option("--seed", f->seed, "Random seed (0: from the clock)");
  cmd->add_option("--metrics", f->metrics, "Serve Prometheus metrics on HOST:PORT, e.g. 127.0.0.1:9464 (off by default)");
  cmd->add_option("--push", f->push, "With --metrics: push the final values to this Pushgateway, e.g. http://127.0.0.1:9091");
  cmd->add_flag("--verify", f->verify, "Stamp every written block and check every read; read everything back at the end");
  cmd->add_option("--verify-block", f->verify_block, "Verification unit (default: the smallest block size)");
  cmd->add_option("--ack-log", f->ack_log, "Stream acknowledged writes to FILE or ssh://host/path (implies --verify)");
  cmd->add_flag("--quiet,-q", f->quiet, "Only the final summary");
  cmd->add_flag("--live", f->live, "Per-interval lines even when stdout is not a terminal");
  cmd->callback([f, exit_code, &app] {
    (void)app;
    std::vector<std::string> argv{"faultbench", "load"};
    *exit_code = RunLoad(*f, argv);
  });
}

}  // namespace fb::cli
