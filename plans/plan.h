// The plan model: one YAML file (docs/design.md, "Plans") that the loader fills and
// validates once. Durations are nanoseconds on the run's monotonic timeline,
// relative to load start. A Plan that LoadPlan returned without problems is
// consistent: every step names a declared injector, faults are reverted in
// order and within their lease, and the timeline fits in the load's duration.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/workload.h"

namespace fb {

// Where something was written: "plan.yaml:12:5", or "--set a.b=c" for overrides.
struct SourceLoc {
  std::string file;
  int line = 0, col = 0;  // 1-based; 0 = no position (command line)
  std::string ToString() const;
};

// A named injector or probe instance: its kind and its settings as written
// (scalars as strings), with the location of each settings key for messages.
struct PluginSpec {
  std::string name, kind;
  nlohmann::json settings = nlohmann::json::object();  // without "kind"
  SourceLoc loc;
  std::map<std::string, SourceLoc> key_locs;  // "rules[1].match" -> where
};

enum class StepAction { kNone, kInject, kRevert, kMark, kWaitFor, kEnd };
const char* StepActionName(StepAction a);

struct Step {
  SourceLoc loc;
  std::optional<int64_t> at_ns;     // from load start (of the cycle, with repeat)
  std::optional<int64_t> after_ns;  // from the previous step's actual time
  std::string phase;                // a phase that begins with this step
  StepAction action = StepAction::kNone;
  std::string injector;                       // inject / revert
  int64_t max_duration_ns = 0;                // inject: the fault's lease
  std::string mark;                           // mark: text
  std::string wait_kind;                      // wait_for: event kind
  std::string wait_source;                    // wait_for: optional event source
  int64_t wait_timeout_ns = 0;                // wait_for: give up after
  std::map<std::string, SourceLoc> key_locs;  // "at", "inject", "max_duration" -> where
};

struct Recovery {
  double to_fraction = 0.9;  // share of the baseline IOPS
  int64_t within_ns = 0;     // after the revert
};

// Limits checked after the run over one window (the whole run, a fault's window
// from inject to revert plus the stall that straddles it, or a phase).
struct Limits {
  std::optional<int64_t> max_stall_ns;
  std::optional<int64_t> max_latency_ns;
  std::optional<uint64_t> io_errors;
  // Lost, misdirected, corrupt or phantom blocks found by verify; per fault,
  // those whose lost write had been acknowledged inside the fault window.
  std::optional<uint64_t> lost_writes;
  std::optional<Recovery> recovery;  // faults only
  // Faults only, for platform operations (the xapi injector): the longest I/O
  // pause of any VM's load around the operation, and that every VM resident on
  // an evacuated host moved off it.
  std::optional<int64_t> max_pause_ns;
  std::optional<bool> all_vms_moved;
  bool empty() const {
    return !max_stall_ns && !max_latency_ns && !io_errors && !lost_writes && !recovery && !max_pause_ns &&
           !all_vms_moved;
  }
};

struct Expectations {
  Limits overall;
  std::map<std::string, Limits> faults;  // by injector name
  std::map<std::string, Limits> phases;  // by phase name
};

enum class OnError { kStop, kContinue };

// One load agent of the plan (`agents:`, plans/README.md): a machine that runs
// its own load (`faultbench-agent --stdio` over ssh) on the run's timeline.
// `agent_defaults:` is merged in by the loader (an agent's own keys win; the
// workload maps are merged key by key), so every field here is final.
struct AgentSpec {
  std::string name;  // the events' source and the records' "agent"
  SourceLoc loc;
  std::map<std::string, SourceLoc> key_locs;  // "host", "workload.bs", ... -> where
  // CommandTarget settings (plugin/command_target.h): host, user, ssh_port,
  // identity_file, known_hosts; scalars as strings.
  nlohmann::json ssh = nlohmann::json::object();
  // "ssh" (ssh + command) or "tcp": `faultbench agent --listen` at ssh["host"]
  // and port, the token read from token_file (agent/agent_token.h).
  std::string transport = "ssh";
  int port = 0;                                      // tcp
  std::string token_file;                            // tcp
  std::string command = "faultbench-agent --stdio";  // split at spaces (the agent package's binary)
  std::string state_dir;                             // the agent's --state-dir ("" = its default)
  nlohmann::json target;  // as written in a plan: a path, a list, {path|paths, create_size}
  nlohmann::json workload = nlohmann::json::object();  // keys over the plan's workload:, as written
  double share = 0;                                    // 0 = none, else that share of workload.rate_iops
  int64_t clock_every_ns = 60'000'000'000;             // clock re-measured this often during the run
  // What its `start` carries (agent/workload_json.h): the plan's workload: keys,
  // then this agent's, its target and rate (share), scalars typed.
  nlohmann::json start_workload = nlohmann::json::object();
  int64_t duration_ns = 0;  // of start_workload
};

struct Plan {
  std::string file;  // as given to the loader
  std::string name, description;
  Workload workload;
  std::vector<PluginSpec> injectors, probes;
  std::vector<Step> steps;
  int repeat = 1;
  int64_t repeat_every_ns = 0;  // cycle length when repeat > 1
  Expectations expect;
  // platform: the timeouts the platform is set up with, as written (scalars as
  // strings); keys in reports/plan_view.h. The report's stall budgets use them.
  nlohmann::json platform = nlohmann::json::object();
  OnError on_error = OnError::kStop;
  // metrics: live Prometheus metrics (metrics/): listen "HOST:PORT" ("" = off),
  // push: a Pushgateway URL for the final values. `run --metrics` overrides listen.
  std::string metrics_listen, metrics_push;
  // agents: load agents. A plan with agents may have no target: then the load
  // runs on the agents only (has_local_load() false).
  std::vector<AgentSpec> agents;
  nlohmann::json workload_keys = nlohmann::json::object();  // the plan's workload: as written (for agents)

  bool has_local_load() const { return !workload.targets.empty(); }
  // The timeline's length: the longest of the local load and the agents' loads.
  int64_t RunDurationNs() const;
  const PluginSpec* FindInjector(const std::string& name) const;
};

}  // namespace fb
