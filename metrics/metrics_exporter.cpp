#include "metrics/metrics_exporter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/gateway.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/clock.h"
#include "loadgen/iscsi_session.h"
#include "loadgen/load_generator.h"

namespace fb {

struct MetricsExporter::AgentSeries {
  std::vector<std::array<JobOp, kOpCount>> jobs;
  prometheus::Gauge* inflight;
  prometheus::Gauge* oldest;
  prometheus::Gauge* stall;
  prometheus::Counter* stall_seconds;
  prometheus::Counter* stalls;
};

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

std::string IscsiPathLabel(const std::string& portal, int session) {
  return session ? portal + "#" + std::to_string(session) : portal;
}

const std::vector<double>& LatencyBucketsSeconds() {
  static const std::vector<double> kBuckets = {50e-6, 100e-6, 200e-6, 500e-6, 1e-3,   2e-3,   5e-3,
                                               10e-3, 20e-3,  50e-3,  100e-3, 200e-3, 500e-3, 1,
                                               2,     5,      10,     20,     60};
  return kBuckets;
}

namespace {

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 >= address.size()) return false;
  *host = address.substr(0, colon);
  std::string p = address.substr(colon + 1);
  if (p.find_first_not_of("0123456789") != std::string::npos || p.size() > 5) return false;
  *port = std::stoi(p);
  if (*port > 65535) return false;
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  return !host->empty();
}

// Tries to bind the address, so "in use" is reported before the load starts.
Status ProbeBind(const std::string& address, const std::string& host, int port) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  if (inet_pton(AF_INET, host.c_str(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = family = AF_INET;
    a->sin_port = htons(uint16_t(port));
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr) == 1) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = family = AF_INET6;
    a->sin6_port = htons(uint16_t(port));
    len = sizeof(sockaddr_in6);
  } else {
    return Status::InvalidInput("--metrics " + address + ": \"" + host +
                                "\" is not an IP address (e.g. 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464)");
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("--metrics " + address + ": socket", errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
  int e = errno;
  close(fd);
  if (rc != 0) {
    return Status::InvalidInput("--metrics " + address + ": cannot listen there: " + strerror(e));
  }
  return Status::Ok();
}

}  // namespace

Status ValidateListenAddress(const std::string& address) {
  std::string host;
  int port;
  if (!SplitHostPort(address, &host, &port)) {
    return Status::InvalidInput("--metrics \"" + address + "\": expected HOST:PORT, e.g. 127.0.0.1:9464");
  }
  return Status::Ok();
}

MetricsExporter::MetricsExporter(std::string run_id)
    : run_id_(std::move(run_id)), registry_(std::make_shared<prometheus::Registry>()) {
  const prometheus::Labels run{{"run", run_id_}};
  auto& r = *registry_;
  ios_ = &BuildCounter()
              .Name("faultbench_io_operations_total")
              .Help("Completed I/Os by job and op")
              .Labels(run)
              .Register(r);
  bytes_ = &BuildCounter()
                .Name("faultbench_io_bytes_total")
                .Help("Bytes transferred by job and op")
                .Labels(run)
                .Register(r);
  errors_ = &BuildCounter()
                 .Name("faultbench_io_errors_total")
                 .Help("Failed I/Os by job and op")
                 .Labels(run)
                 .Register(r);
  latency_ = &BuildHistogram()
                  .Name("faultbench_io_latency_seconds")
                  .Help("I/O latency (from the schedule in rate mode)")
                  .Labels(run)
                  .Register(r);
  inflight_ = &BuildGauge().Name("faultbench_io_inflight").Help("I/Os in flight").Labels(run).Register(r);
  oldest_ = &BuildGauge()
                 .Name("faultbench_io_oldest_inflight_seconds")
                 .Help("Age of the oldest I/O in flight (0: none)")
                 .Labels(run)
                 .Register(r);
  stall_active_ = &BuildGauge()
                       .Name("faultbench_stall_active")
                       .Help("1 while a stall is going on")
                       .Labels(run)
                       .Register(r);
  stall_seconds_ = &BuildCounter()
                        .Name("faultbench_stall_seconds_total")
                        .Help("Time spent in stalls")
                        .Labels(run)
                        .Register(r);
  stalls_ = &BuildCounter().Name("faultbench_stalls_total").Help("Stalls that ended").Labels(run).Register(r);
  faults_active_ = &BuildGauge()
                        .Name("faultbench_faults_active")
                        .Help("1 while the injector's fault is in effect")
                        .Labels(run)
                        .Register(r);
  probe_events_ = &BuildCounter()
                       .Name("faultbench_probe_events_total")
                       .Help("Normalized events by probe and kind")
                       .Labels(run)
                       .Register(r);
  path_up_ = &BuildGauge()
                  .Name("faultbench_path_up")
                  .Help("1 when the path is active, 0 when failed")
                  .Labels(run)
                  .Register(r);
  run_info_ = &BuildGauge()
                   .Name("faultbench_run_info")
                   .Help("Always 1; the plan and current phase as labels")
                   .Labels(run)
                   .Register(r);
  run_start_ = &BuildGauge()
                    .Name("faultbench_run_start_time_seconds")
                    .Help("Unix time the run started")
                    .Labels(run)
                    .Register(r);
  const prometheus::Labels local{{"agent", kLocalAgentLabel}};
  inflight_gauge_ = &inflight_->Add(local);
  oldest_gauge_ = &oldest_->Add(local);
  stall_gauge_ = &stall_active_->Add(local);
  stall_seconds_counter_ = &stall_seconds_->Add(local);
  stalls_counter_ = &stalls_->Add(local);
  run_start_->Add({}).Set(double(UtcNs()) / 1e9);
}

MetricsExporter::~MetricsExporter() { Stop(); }

Result<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(const std::string& listen,
                                                                const std::string& run_id) {
  std::string host;
  int port;
  if (!SplitHostPort(listen, &host, &port)) {
    return Status::InvalidInput("--metrics \"" + listen + "\": expected HOST:PORT, e.g. 127.0.0.1:9464");
  }
  FB_RETURN_IF_ERROR(ProbeBind(listen, host, port));
  std::unique_ptr<MetricsExporter> m(new MetricsExporter(run_id));
  try {
    std::string bind = host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                                           : host + ":" + std::to_string(port);
    m->exposer_ = std::make_unique<prometheus::Exposer>(bind, 2);
  } catch (const std::exception& e) {
    return Status::InvalidInput("--metrics " + listen + ": cannot serve there: " + e.what());
  }
  m->exposer_->RegisterCollectable(m->registry_);
  return m;
}

int MetricsExporter::port() const {
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports[0];
}

void MetricsExporter::Watch(const LoadGenerator* load) {
  load_ = load;
  stop_ = false;
  last_tick_ns_ = MonoNs();
  ticker_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fb-metrics");  // its CPU time is the exporter's (bench/)
    while (!stop_.load()) {
      SleepUntilMono(MonoNs() + 100 * kNsPerMs);
      Tick();
    }
  });
}

void MetricsExporter::Tick() {
  int64_t now = MonoNs();
  int64_t stall_since = load_->LiveStallSinceNs();
  inflight_gauge_->Set(load_->LiveInflight());
  oldest_gauge_->Set(double(load_->LiveOldestAgeNs(now)) / 1e9);
  stall_gauge_->Set(stall_since ? 1 : 0);
  if (stall_since)
    stall_seconds_counter_->Increment(double(now - std::max(stall_since, last_tick_ns_)) / 1e9);
  last_tick_ns_ = now;
}

void MetricsExporter::Stop() {
  stop_ = true;
  if (ticker_.joinable()) ticker_.join();
  if (load_) {
    stall_gauge_->Set(0);
    oldest_gauge_->Set(0);
    inflight_gauge_->Set(0);
  }
}

void MetricsExporter::Sink::OnStart(const LoadStartInfo& info) {
  auto& m = *owner_;
  m.job_ops_.clear();
  for (int j = 0; j < info.workload->jobs; ++j) {
    std::array<JobOp, kOpCount> ops;
    for (int op = 0; op < kOpCount; ++op) {
      prometheus::Labels l{
          {"agent", kLocalAgentLabel}, {"job", std::to_string(j)}, {"op", OpName(OpType(op))}};
      ops[size_t(op)] = {&m.ios_->Add(l), &m.bytes_->Add(l), &m.errors_->Add(l),
                         &m.latency_->Add(l, LatencyBucketsSeconds())};
    }
    m.job_ops_.push_back(ops);
  }
  // The libiscsi engine's paths: up from the start (a path that did not log in
  // was reported path_failed while the engine opened, and keeps its 0).
  if (info.target) {
    const int sessions = info.workload->iscsi.sessions_per_path;
    for (const auto& p : info.target->paths) {
      if (p.rfind("iscsi://", 0) != 0) continue;
      auto url = ParseIscsiUrl(p);
      if (!url.ok()) continue;
      for (int k = 1; k <= sessions; ++k) m.DeclarePath(IscsiPathLabel(url->portal, sessions > 1 ? k : 0), true);
    }
  }
}

void MetricsExporter::Sink::OnInterval(const IntervalReport& r) {
  auto& m = *owner_;
  const auto& bounds = LatencyBucketsSeconds();
  std::vector<double> increments(bounds.size() + 1);
  for (size_t j = 0; j < r.jobs.size() && j < m.job_ops_.size(); ++j) {
    if (!r.jobs[j]) continue;
    for (int op = 0; op < kOpCount; ++op) {
      const OpCounters& c = r.jobs[j]->op[size_t(op)];
      JobOp& dst = m.job_ops_[j][size_t(op)];
      if (c.ios) dst.ios->Increment(double(c.ios));
      if (c.bytes) dst.bytes->Increment(double(c.bytes));
      if (c.errors) dst.errors->Increment(double(c.errors));
      if (!c.latency.count()) continue;
      // Each fine bucket goes to the first Prometheus bucket at or above its
      // upper edge (at most 0.8% too high: the histogram's own resolution).
      std::fill(increments.begin(), increments.end(), 0.0);
      size_t b = 0;
      for (int i = 0; i < Histogram::kBucketCount; ++i) {
        uint64_t n = c.latency.CountAt(i);
        if (!n) continue;
        double high_s = double(Histogram::BucketHigh(i)) / 1e9;
        while (b < bounds.size() && bounds[b] < high_s) ++b;
        increments[b] += double(n);
      }
      dst.latency->ObserveMultiple(increments, double(c.latency.sum()) / 1e9);
    }
  }
}

void MetricsExporter::Sink::OnStall(const StallRecord& s) {
  if (s.end_ns) owner_->stalls_counter_->Increment();
}

void MetricsExporter::Sink::OnEvent(const Event& e) {
  if (e.kind == "path_failed" || e.kind == "path_reinstated") {
    if (e.attrs.contains("portal") && e.attrs["portal"].is_string()) {
      int session = e.attrs.value("session", 0);
      owner_->SetPathState(IscsiPathLabel(e.attrs["portal"].get<std::string>(), session),
                           e.kind == "path_reinstated");
    }
  }
}

MetricsExporter::AgentSeries* MetricsExporter::AddAgent(const std::string& agent, int jobs) {
  std::lock_guard<std::mutex> lock(run_mu_);
  auto a = std::make_unique<AgentSeries>();
  for (int j = 0; j < jobs; ++j) {
    std::array<JobOp, kOpCount> ops;
    for (int op = 0; op < kOpCount; ++op) {
      prometheus::Labels l{{"agent", agent}, {"job", std::to_string(j)}, {"op", OpName(OpType(op))}};
      ops[size_t(op)] = {&ios_->Add(l), &bytes_->Add(l), &errors_->Add(l),
                         &latency_->Add(l, LatencyBucketsSeconds())};
    }
    a->jobs.push_back(ops);
  }
  const prometheus::Labels l{{"agent", agent}};
  a->inflight = &inflight_->Add(l);
  a->oldest = &oldest_->Add(l);
  a->stall = &stall_active_->Add(l);
  a->stall_seconds = &stall_seconds_->Add(l);
  a->stalls = &stalls_->Add(l);
  agents_.push_back(std::move(a));
  return agents_.back().get();
}

void MetricsExporter::OnAgentSample(AgentSeries* a, const nlohmann::json& s) {
  auto num = [](const nlohmann::json& j, const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  const nlohmann::json job = s.value("job", nlohmann::json());
  if (job == "all") {
    // The live gauges, once per interval (an agent streams nothing finer).
    a->inflight->Set(num(s, "inflight"));
    a->oldest->Set(num(s, "oldest_inflight_age_ms") / 1e3);
    bool stall = s.value("stall", false);
    a->stall->Set(stall ? 1 : 0);
    if (stall) a->stall_seconds->Increment(num(s, "interval_s"));
    return;
  }
  if (!job.is_number_integer() || job.get<int64_t>() < 0 || size_t(job.get<int64_t>()) >= a->jobs.size())
    return;
  const auto& bounds = LatencyBucketsSeconds();
  std::vector<double> increments(bounds.size() + 1);
  for (int op = 0; op < kOpCount; ++op) {
    auto it = s.find(OpName(OpType(op)));
    if (it == s.end() || !it->is_object()) continue;
    JobOp& dst = a->jobs[size_t(job.get<int64_t>())][size_t(op)];
    double ios = num(*it, "ios");
    if (ios > 0) dst.ios->Increment(ios);
    if (double b = num(*it, "bytes"); b > 0) dst.bytes->Increment(b);
    if (double e = num(*it, "errors"); e > 0) dst.errors->Increment(e);
    // lat_hist: [[bucket index of fb::Histogram, count], ...] (loadgen/journal_sink.h).
    auto h = it->find("lat_hist");
    if (h == it->end() || !h->is_array() || h->empty()) continue;
    std::fill(increments.begin(), increments.end(), 0.0);
    size_t b = 0;
    for (const auto& pair : *h) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() || !pair[1].is_number())
        continue;
      int i = pair[0].get<int>();
      if (i < 0 || i >= Histogram::kBucketCount) continue;
      double high_s = double(Histogram::BucketHigh(i)) / 1e9;
      while (b < bounds.size() && bounds[b] < high_s) ++b;  // ascending index: b only grows
      increments[b] += pair[1].get<double>();
    }
    dst.latency->ObserveMultiple(increments, num(*it, "lat_mean_us") * ios / 1e6);
  }
}

void MetricsExporter::OnAgentStall(AgentSeries* a, const nlohmann::json& stall) {
  if (stall.contains("end_utc_ns") && stall["end_utc_ns"].is_number()) a->stalls->Increment();
}

void MetricsExporter::SetRunInfo(const std::string& plan, const std::string& phase) {
  std::lock_guard<std::mutex> lock(run_mu_);
  if (run_info_gauge_) run_info_gauge_->Set(0);
  run_info_gauge_ = &run_info_->Add({{"plan", plan}, {"phase", phase}});
  run_info_gauge_->Set(1);
}

void MetricsExporter::SetFaultActive(const std::string& injector, bool active) {
  std::lock_guard<std::mutex> lock(run_mu_);
  faults_active_->Add({{"injector", injector}}).Set(active ? 1 : 0);
}

void MetricsExporter::CountProbeEvent(const std::string& probe, const std::string& kind) {
  std::lock_guard<std::mutex> lock(run_mu_);
  probe_events_->Add({{"probe", probe}, {"kind", kind}}).Increment();
}

void MetricsExporter::DeclareProbeEvents(const std::string& probe, const std::vector<std::string>& kinds) {
  std::lock_guard<std::mutex> lock(run_mu_);
  for (const auto& kind : kinds) probe_events_->Add({{"probe", probe}, {"kind", kind}});
}

void MetricsExporter::DeclarePath(const std::string& path, bool up) {
  std::lock_guard<std::mutex> lock(run_mu_);
  const prometheus::Labels l{{"path", path}};
  if (!path_up_->Has(l)) path_up_->Add(l).Set(up ? 1 : 0);  // an event about it came first: it decides
}

void MetricsExporter::SetPathState(const std::string& path, bool up) {
  std::lock_guard<std::mutex> lock(run_mu_);
  path_up_->Add({{"path", path}}).Set(up ? 1 : 0);
}

Status MetricsExporter::Push(const std::string& gateway_url) {
  std::string rest = gateway_url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  std::string host;
  int port;
  if (!SplitHostPort(rest, &host, &port)) {
    return Status::InvalidInput("--push \"" + gateway_url + "\": expected http://HOST:PORT");
  }
  try {
    prometheus::Gateway gw(host, std::to_string(port), "faultbench", {{"instance", run_id_}});
    gw.RegisterCollectable(registry_);
    int code = gw.Push();
    if (code < 200 || code >= 300) {
      return Status::Unavailable("push to " + gateway_url + ": HTTP " + std::to_string(code));
    }
  } catch (const std::exception& e) {
    return Status::Unavailable("push to " + gateway_url + ": " + e.what());
  }
  return Status::Ok();
}

}  // namespace fb
