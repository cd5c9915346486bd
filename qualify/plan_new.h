// `faultbench plan new`: a complete plan for one seed scenario from an inventory
// (qualify/inventory.h), with every choice made by a written rule and the reason
// as a comment beside it, and no FILL IN left.
//
// What the platform cannot tell (the ssh keys faultbench uses, the VMs' scratch
// disk, BMC users, an injector of the site's own) comes from an optional site
// file, the same for every scenario (qualify/README.md, "The site file"):
//   agent_defaults: {…}        merged into the plan's agent_defaults
//   agents: {VM: {…}}          merged into that VM's agent
//   dom0: {user, identity_file, known_hosts}   ssh to the hosts' dom0
//   bmc: {user, password_env, hosts: {HOST: address}}
//   injectors: {SCENARIO: {kind, …}}   replaces the scenario's injector; in its
//                              strings {host}, {host_address}, {vm}, {portal},
//                              {iqn}, {array_url}, {interface} are filled in
//   workload: {…}, expect: {…}, probes: {xapi: {…}}, timing: {baseline, margin}
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace fb {

// replication-cut, path-loss, mgmt-nic-loss, host-power-loss.
const std::vector<std::string>& PlanScenarios();

struct PlanNewRequest {
  std::string scenario;
  std::string victim, survivor;  // "" = chosen by the scenario's rules
  nlohmann::json site = nlohmann::json::object();
  std::string inventory_label;  // named in the plan's header ("inventory.yaml")
  std::string created;          // UTC time for the header
};

// The plan's YAML. InvalidInput (exit 2) when the scenario is unknown, the
// inventory has no valid choice (no protected agile VM off the master, one path,
// no replication port, ...) or a forced --victim/--survivor breaks a rule: the
// message says which and what to change on the platform or in the site file.
Result<std::string> NewPlan(const nlohmann::json& inventory, const PlanNewRequest& request);

// Reads a YAML file (an inventory, a site file) as JSON; errors name the file and line.
Result<nlohmann::json> ReadYamlFile(const std::string& path);

}  // namespace fb
