// Live metrics in the Prometheus text format (prometheus-cpp), prefix
// faultbench_, base units, counters ending in _total. Families and the label
// sets of the I/O metrics are built at setup; the job threads never touch a
// metric: the load's sampler thread feeds the sink, and a ticker thread
// refreshes the live gauges (oldest I/O in flight, stall) every 100 ms, so an
// ongoing stall shows before any I/O completes. METRICS.md lists every metric.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "loadgen/load_sink.h"

namespace fb {

class LoadGenerator;

// The `agent` label of the local load's series (a plan run's agents carry their names).
inline constexpr const char* kLocalAgentLabel = "local";

// Checks "HOST:PORT" (IPv4, [IPv6] or a name) without binding it.
Status ValidateListenAddress(const std::string& address);

class MetricsExporter {
 public:
  ~MetricsExporter();

  // Binds `listen` ("127.0.0.1:9464", "0.0.0.0:9464", "[::1]:0") and serves
  // /metrics. A malformed or busy address is InvalidInput (exit 2), before any load.
  static Result<std::unique_ptr<MetricsExporter>> Start(const std::string& listen, const std::string& run_id);

  // The port actually bound (useful with port 0).
  int port() const;
  // Feeds the I/O metrics; add it to the LoadGenerator's sinks.
  LoadSink* load_sink() { return &sink_; }
  // Refreshes the live gauges from `load` until Stop() (call before load.Run()).
  void Watch(const LoadGenerator* load);
  void Stop();

  // A load agent's series (label agent=NAME, jobs 0..jobs-1), built once at
  // setup; the handle stays valid for the exporter's life. Feed it the agent's
  // journal records (agent/agent_client.h), one thread per handle.
  struct AgentSeries;
  AgentSeries* AddAgent(const std::string& agent, int jobs);
  void OnAgentSample(AgentSeries* agent, const nlohmann::json& sample);
  void OnAgentStall(AgentSeries* agent, const nlohmann::json& stall);

  // Run-level metrics, any thread (not the I/O path).
  void SetRunInfo(const std::string& plan, const std::string& phase);
  void SetFaultActive(const std::string& injector, bool active);
  void CountProbeEvent(const std::string& probe, const std::string& kind);
  // Creates the probe's event counters at 0, one per kind (Probe::EventKinds),
  // so that the first event of each kind is a change (`changes()`, `increase()`).
  void DeclareProbeEvents(const std::string& probe, const std::vector<std::string>& kinds);
  // A path known at the start, before any event about it: faultbench_path_up
  // exists from the first scrape (1 when the session came up).
  void DeclarePath(const std::string& path, bool up);
  void SetPathState(const std::string& path, bool up);

  // Pushes the current values to a Pushgateway ("http://host:port"), job
  // "faultbench", grouped by run. For short runs that end between scrapes.
  Status Push(const std::string& gateway_url);

  prometheus::Registry& registry() { return *registry_; }

 private:
  class Sink : public LoadSink {
   public:
    explicit Sink(MetricsExporter* owner) : owner_(owner) {}
    void OnStart(const LoadStartInfo& info) override;
    void OnInterval(const IntervalReport& report) override;
    void OnStall(const StallRecord& stall) override;
    void OnEvent(const Event& event) override;

   private:
    MetricsExporter* owner_;
  };
  struct JobOp {
    prometheus::Counter* ios;
    prometheus::Counter* bytes;
    prometheus::Counter* errors;
    prometheus::Histogram* latency;
  };

  MetricsExporter(std::string run_id);
  void Tick();

  std::string run_id_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  Sink sink_{this};

  prometheus::Family<prometheus::Counter>* ios_;
  prometheus::Family<prometheus::Counter>* bytes_;
  prometheus::Family<prometheus::Counter>* errors_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Family<prometheus::Gauge>* inflight_;
  prometheus::Family<prometheus::Gauge>* oldest_;
  prometheus::Family<prometheus::Gauge>* stall_active_;
  prometheus::Family<prometheus::Counter>* stall_seconds_;
  prometheus::Family<prometheus::Counter>* stalls_;
  prometheus::Family<prometheus::Gauge>* faults_active_;
  prometheus::Family<prometheus::Counter>* probe_events_;
  prometheus::Family<prometheus::Gauge>* path_up_;
  prometheus::Family<prometheus::Gauge>* run_info_;
  prometheus::Family<prometheus::Gauge>* run_start_;

  std::vector<std::array<JobOp, kOpCount>> job_ops_;  // built in OnStart
  std::vector<std::unique_ptr<AgentSeries>> agents_;  // built in AddAgent
  prometheus::Gauge* inflight_gauge_ = nullptr;
  prometheus::Gauge* oldest_gauge_ = nullptr;
  prometheus::Gauge* stall_gauge_ = nullptr;
  prometheus::Counter* stall_seconds_counter_ = nullptr;
  prometheus::Counter* stalls_counter_ = nullptr;

  std::mutex run_mu_;  // run-level label sets, added off the I/O path
  prometheus::Gauge* run_info_gauge_ = nullptr;

  const LoadGenerator* load_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread ticker_;
  int64_t last_tick_ns_ = 0;
};

// The `path` label of a libiscsi engine's path: its portal, and "#K" for
// session K when there are several sessions per portal.
std::string IscsiPathLabel(const std::string& portal, int session);

// The latency buckets, in seconds: 50 us to 60 s.
const std::vector<double>& LatencyBucketsSeconds();

}  // namespace fb
