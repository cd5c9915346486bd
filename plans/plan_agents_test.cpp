// agents: and agent_defaults: of a plan: the model, every problem with its
// place, and the round trip through WritePlan.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "core/clock.h"
#include "plans/plan_loader.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

// No local target: the load runs on the agents only.
const char* kAgents = R"(name: agents-test
workload:
  bs: 4k
  rw: randrw
  duration: 20s
  interval: 500ms
  rate_iops: 1000
agent_defaults:
  user: root
  identity_file: /keys/id
  known_hosts: /keys/known_hosts
  target: {path: /dev/xvdb}
  clock_every: 10s
  workload: {queue_depth: 4, allow_destroy: true}
agents:
  - {name: vm1, host: 198.18.0.11, share: 0.25}
  - {name: vm2, host: 198.18.0.12, ssh_port: 2222, share: 0.5, workload: {bs: 8k}}
  - name: vm3
    host: 198.18.0.13
    command: /opt/fb/faultbench agent --stdio
    state_dir: /var/tmp/fb
    target: /tmp/file
    workload: {duration: 30s, rate_iops: 50}
steps:
  - {at: 1s, wait_for: {kind: agent_lost, source: vm2, timeout: 5s}}
)";

std::vector<std::string> Problems(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& p : LoadPlanText(text, "plan.yaml").problems) out.push_back(p.ToString());
  return out;
}

bool Has(const std::vector<std::string>& problems, const std::string& text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("plan agents: defaults merged, start workloads built, no local load" *
          doctest::test_suite("unit")) {
  LoadedPlan l = LoadPlanText(kAgents, "plan.yaml");
  REQUIRE_MESSAGE(l.ok(), l.ToStatus().message());
  const Plan& p = l.plan;
  CHECK_FALSE(p.has_local_load());
  REQUIRE(p.agents.size() == 3);
  const AgentSpec& vm1 = p.agents[0];
  CHECK(vm1.name == "vm1");
  CHECK(vm1.ssh["host"] == "198.18.0.11");
  CHECK(vm1.ssh["user"] == "root");
  CHECK(vm1.ssh["identity_file"] == "/keys/id");
  CHECK(vm1.command == "faultbench-agent --stdio");
  CHECK(vm1.clock_every_ns == 10 * kNsPerSec);
  CHECK(vm1.start_workload["rate_iops"] == 250.0);
  CHECK(vm1.start_workload["queue_depth"] == 4);
  CHECK(vm1.start_workload["allow_destroy"] == true);
  CHECK(vm1.start_workload["target"]["path"] == "/dev/xvdb");
  CHECK(vm1.start_workload["bs"] == "4k");
  const AgentSpec& vm2 = p.agents[1];
  CHECK(vm2.ssh["ssh_port"] == "2222");
  CHECK(vm2.start_workload["bs"] == "8k");
  CHECK(vm2.start_workload["queue_depth"] == 4);  // defaults' workload keys stay under the agent's
  CHECK(vm2.start_workload["rate_iops"] == 500.0);
  const AgentSpec& vm3 = p.agents[2];
  CHECK(vm3.command == "/opt/fb/faultbench agent --stdio");
  CHECK(vm3.state_dir == "/var/tmp/fb");
  CHECK(vm3.start_workload["target"] == "/tmp/file");
  CHECK(vm3.start_workload["rate_iops"] == 50);
  CHECK(vm3.duration_ns == 30 * kNsPerSec);
  // The timeline is as long as the longest load.
  CHECK(p.RunDurationNs() == 30 * kNsPerSec);
  CHECK(p.steps.at(0).wait_source == "vm2");

  std::string text = WritePlan(p);
  LoadedPlan again = LoadPlanText(text, "written.yaml");
  REQUIRE_MESSAGE(again.ok(), again.ToStatus().message() << "\n" << text);
  REQUIRE(again.plan.agents.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(again.plan.agents[i].name == p.agents[i].name);
    CHECK(again.plan.agents[i].ssh == p.agents[i].ssh);
    CHECK(again.plan.agents[i].start_workload == p.agents[i].start_workload);
    CHECK(again.plan.agents[i].clock_every_ns == p.agents[i].clock_every_ns);
    CHECK(again.plan.agents[i].share == p.agents[i].share);
  }
  CHECK(text.find("agent_defaults") == std::string::npos);
  CHECK(text.find("\ntarget:") == std::string::npos);  // no local target written
}

TEST_CASE("plan agents: each problem at its line and column" * doctest::test_suite("unit")) {
  auto p = Problems(Replace(kAgents, "  - {name: vm1, host: 198.18.0.11, share: 0.25}",
                            "  - {name: vm1, host: 198.18.0.11, share: 0.25, hots: x}"));
  CHECK(Has(p, "plan.yaml:16:49: agents[0].hots: unknown key \"hots\""));

  p = Problems(Replace(kAgents, "name: vm3", "name: vm1"));
  CHECK(Has(p, "plan.yaml:18:5: agents[2].name: a second agent named \"vm1\" (first at plan.yaml:16:5)"));

  p = Problems(Replace(kAgents, "share: 0.5", "share: 0.8"));
  CHECK(Has(p, "plan.yaml:17:52: agents[1].share: the agents' shares of workload.rate_iops add up to 1.05"));

  p = Problems(Replace(kAgents, "share: 0.5", "share: 1.5"));
  CHECK(Has(p, "agents[1].share: must be a number in (0, 1]"));

  p = Problems(Replace(kAgents, "  rate_iops: 1000\n", ""));
  CHECK(Has(p, "agents[0].share: a share of workload.rate_iops, which is not set"));

  p = Problems(Replace(kAgents, "workload: {duration: 30s, rate_iops: 50}",
                       "workload: {duration: 30s, rate_iops: 50}\n    share: 0.1"));
  CHECK(Has(p, "agents[2].share: use either share or workload.rate_iops"));

  p = Problems(Replace(kAgents, "ssh_port: 2222", "ssh_port: 99999"));
  CHECK(Has(p, "plan.yaml:17:36: agents[1].ssh_port: must be a port number"));

  p = Problems(Replace(kAgents, "  clock_every: 10s", "  clock_every: 10ms"));
  CHECK(Has(p, "plan.yaml:13:3: agent_defaults.clock_every: must be at least 100ms"));

  p = Problems(Replace(kAgents, "workload: {bs: 8k}", "workload: {bs: 8k, qd: 3}"));
  CHECK(Has(p, "agents[1].workload.qd: unknown key \"qd\""));

  p = Problems(Replace(kAgents, "workload: {bs: 8k}", "workload: {bs: 0}"));
  CHECK(Has(p, "plan.yaml:17:75: agents[1]: its workload: workload.bs: out of range"));

  p = Problems(Replace(kAgents, "name: vm3", "name: runner"));
  CHECK(Has(p, "agents[2].name: \"runner\" is taken"));

  // Secrets never in the plan text, agents included.
  p = Problems(Replace(kAgents, "  user: root\n", "  user: root\n  password: hunter2\n"));
  CHECK(Has(p, "plan.yaml:10:3: agent_defaults.password: a literal secret in the plan"));

  // No workload for one of them: the plan has none and the agent neither.
  std::string no_plan_workload =
      Replace(Replace(kAgents, "  - {name: vm1, host: 198.18.0.11, share: 0.25}\n", ""),
              "  - {name: vm2, host: 198.18.0.12, ssh_port: 2222, share: 0.5, workload: {bs: 8k}}\n",
              "  - {name: vm2, host: 198.18.0.12}\n");
  no_plan_workload = Replace(no_plan_workload, "  workload: {queue_depth: 4, allow_destroy: true}\n", "");
  no_plan_workload = no_plan_workload.substr(no_plan_workload.find("agent_defaults:"));
  no_plan_workload = "name: agents-test\n" + no_plan_workload;
  p = Problems(no_plan_workload);
  CHECK(Has(p, "agents[0]: has no workload"));
  CHECK_FALSE(Has(p, "agents[1]: has no workload"));  // vm3 has its own
  CHECK_FALSE(Has(p, "missing \"target\""));

  // Without agents the target is still required, and a wait_for on a missing agent is named.
  p = Problems(Replace(kAgents, "source: vm2", "source: vm9"));
  CHECK(Has(p, "steps[0].wait_for.source: no event source \"vm9\""));
  p = Problems("name: x\nworkload: {duration: 5s}\nagent_defaults: {user: root}\n");
  CHECK(Has(p, "missing \"target\""));
  CHECK(Has(p, "agent_defaults: there are no agents"));
  p = Problems("name: x\nworkload: {duration: 5s}\nagents: {vm1: {host: h}}\n");
  CHECK(Has(p, "plan.yaml:3:9: agents: must be a list of agents"));
}

}  // namespace fb

namespace fb {

TEST_CASE("plan agents: transport tcp with port and token_file, each problem at its place" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  const std::string token = tmp.path() + "/token";
  { std::ofstream(token) << "plan-test-secret\n"; }
  chmod(token.c_str(), 0600);
  const std::string plan =
      Replace(kAgents, "  - {name: vm1, host: 198.18.0.11, share: 0.25}",
              "  - {name: vm1, host: 198.18.0.11, share: 0.25, transport: tcp, port: 7070, "
              "token_file: " +
                  token + "}");
  auto r = LoadPlanText(plan, "plan.yaml");
  for (const auto& p : r.problems) MESSAGE(p.ToString());
  REQUIRE(r.problems.empty());
  const AgentSpec& a = r.plan.agents[0];
  CHECK(a.transport == "tcp");
  CHECK(a.port == 7070);
  CHECK(a.token_file == token);
  CHECK(a.ssh == nlohmann::json{{"host", "198.18.0.11"}});  // the defaults' ssh keys are not its
  CHECK(r.plan.agents[1].transport == "ssh");
  CHECK(r.plan.agents[1].port == 0);
  // plan.yaml in a run: the path, never the token; it loads back the same.
  std::string text = WritePlan(r.plan);
  CHECK(text.find("plan-test-secret") == std::string::npos);
  auto again = LoadPlanText(text, "written.yaml");
  for (const auto& p : again.problems) MESSAGE(p.ToString());
  REQUIRE(again.problems.empty());
  CHECK(again.plan.agents[0].transport == "tcp");
  CHECK(again.plan.agents[0].port == 7070);
  CHECK(again.plan.agents[0].token_file == token);
  CHECK(again.plan.agents[1].command == r.plan.agents[1].command);

  auto p = Problems(Replace(plan, "port: 7070", "port: 70700"));
  CHECK(Has(p, "plan.yaml:16:65: agents[0].port: must be a port number 1..65535, got \"70700\""));
  p = Problems(Replace(plan, "transport: tcp", "transport: udp"));
  CHECK(Has(p, "plan.yaml:16:49: agents[0].transport: must be ssh or tcp, got \"udp\""));
  p = Problems(Replace(plan, "port: 7070, ", ""));
  CHECK(Has(p, "plan.yaml:16:5: agents[0]: transport: tcp needs a port"));
  p = Problems(Replace(plan, "token_file: " + token, "token_file: " + tmp.path() + "/missing"));
  CHECK(Has(p, "plan.yaml:16:77: agents[0].token_file: token file " + tmp.path() + "/missing"));
  p = Problems(Replace(plan, ", token_file: " + token, ""));
  CHECK(Has(p, "agents[0]: transport: tcp needs a token_file"));
  p = Problems(Replace(plan, "token_file: " + token, "token: hunter2"));
  CHECK(Has(p, "agents[0].token: a token is never written in a plan"));
  p = Problems(Replace(plan, "port: 7070", "port: 7070, ssh_port: 22"));
  CHECK(Has(p, "agents[0].ssh_port: is for transport: ssh"));
  p = Problems(Replace(kAgents, "ssh_port: 2222", "port: 2222"));
  CHECK(Has(p, "plan.yaml:17:36: agents[1].port: goes with transport: tcp"));
  chmod(token.c_str(), 0644);
  p = Problems(plan);
  CHECK(Has(p, "agents[0].token_file: token file " + token + ": readable by everyone"));
}

}  // namespace fb
