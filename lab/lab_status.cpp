// Lab::Status: what of the lab is there and how it is doing.
#include <algorithm>
#include <filesystem>

#include "core/jsonl_writer.h"
#include "lab/lab.h"
#include "lab/netns.h"
#include "lab/pool_net.h"
#include "lab/topology.h"

namespace fb::lab {

namespace {
LabLink Link(const std::string& ns, const std::string& name, const std::string& role) {
  LabLink l{ns, name, role, LinkOperState(ns, name), {}};
  if (!ns.empty()) {
    for (const std::string& rule : CutRules(ns)) {
      if (rule.find(name) != std::string::npos) l.cut_rules.push_back(rule);
    }
  }
  return l;
}
}  // namespace

Result<LabStatus> Lab::Status() const {
  FB_RETURN_IF_ERROR(RequireRoot());
  LabStatus st;
  std::vector<std::string> present = ListNamespaces();
  for (const std::string& ns : present) {
    if (IsLabNamespace(ns)) st.namespaces.push_back(ns);
  }
  bool all_ns = true;
  for (const std::string& ns : LabNamespaces()) {
    if (std::find(present.begin(), present.end(), ns) == present.end()) {
      all_ns = false;
      st.problems.push_back("namespace " + ns + " missing");
    }
  }

  std::vector<std::pair<std::string, std::string>> procs = {{"fb-array-sim mediator", "mediator.pid"}};
  for (const SiteSpec& s : Sites()) {
    procs.push_back({"tgtd " + s.name, "tgtd-" + s.name + ".pid"});
    procs.push_back({"fb-array-sim " + s.name, "sim-" + s.name + ".pid"});
  }
  bool all_procs = true;
  for (const auto& [name, file] : procs) {
    LabProcess p{name, ReadPidFile(Path(file)), ProcState::kGone};
    p.state = GetProcState(p.pid);
    if (p.state == ProcState::kGone) {
      all_procs = false;
      if (p.pid > 0) st.problems.push_back(name + " (pid " + std::to_string(p.pid) + ") is gone");
    }
    if (p.pid > 0) st.any = true;
    st.processes.push_back(p);
  }

  for (const SiteSpec& s : Sites()) {
    st.links.push_back(Link("", s.host_link, "path " + s.name + " (host end)"));
    st.links.push_back(Link(s.ns, kPathIf, "path " + s.name));
    st.links.push_back(Link(s.ns, kReplicationIf, "replication"));
    st.links.push_back(Link(s.ns, kMediatorIf, "mediator " + s.name));
  }
  bool all_links = true;
  for (const LabLink& l : st.links) {
    if (l.oper_state == "absent") all_links = false;
  }
  if (!ListLinks("", kHostLinkPrefix).empty()) st.any = true;

  for (const SiteSpec& s : Sites()) {
    auto text = ReadFile(Path(s.name + ".state.json"));
    if (!text.ok()) continue;
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_discarded()) st.sites[s.name] = j;
  }
  st.pool = PoolStatusJson(state_dir_, &st.problems);
  if (auto pool = LoadPool(state_dir_); pool.ok()) {
    std::vector<std::string> want = {kPoolNetNamespace};
    for (const PoolHost& h : pool->hosts) want.push_back(h.ns);
    for (const PoolVm& v : pool->vms) want.push_back(v.ns);
    for (const std::string& ns : want) {
      if (std::find(present.begin(), present.end(), ns) == present.end()) {
        all_ns = false;
        st.problems.push_back("namespace " + ns + " missing");
      }
    }
  }
  std::error_code ec;
  if (std::filesystem::exists(state_dir_, ec)) st.any = true;
  if (!st.namespaces.empty()) st.any = true;
  st.up = all_ns && all_procs && all_links;
  return st;
}

}  // namespace fb::lab
