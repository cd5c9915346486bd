#include "lab/netns.h"

#include <sstream>

#include "core/clock.h"
#include "core/subprocess.h"
#include "lab/topology.h"

namespace fb::lab {

namespace {
constexpr int64_t kCommandTimeoutNs = 10 * kNsPerSec;

Result<std::string> IpOutput(const std::string& ns, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  if (!ns.empty()) argv.insert(argv.end(), {"-n", ns});
  argv.insert(argv.end(), args.begin(), args.end());
  return RunChecked(argv, {.timeout_ns = kCommandTimeoutNs});
}

std::vector<std::string> NsExec(const std::string& ns, std::vector<std::string> argv) {
  if (ns.empty()) return argv;
  std::vector<std::string> out{"ip", "netns", "exec", ns};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}
}  // namespace

Status Ip(const std::string& ns, const std::vector<std::string>& args) { return IpOutput(ns, args).status(); }

Status Nft(const std::string& ns, const std::string& script) {
  return RunChecked(NsExec(ns, {"nft", "-f", "-"}), {.timeout_ns = kCommandTimeoutNs, .stdin_text = script})
      .status();
}

std::vector<std::string> ListNamespaces() {
  std::vector<std::string> out;
  auto r = IpOutput("", {"netns", "list"});
  if (!r.ok()) return out;
  std::istringstream in(*r);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string name;
    if (words >> name) out.push_back(name);
  }
  return out;
}

bool NamespaceExists(const std::string& ns) {
  for (const std::string& n : ListNamespaces()) {
    if (n == ns) return true;
  }
  return false;
}

Status AddNamespace(const std::string& ns) {
  FB_RETURN_IF_ERROR(Ip("", {"netns", "add", ns}));
  FB_RETURN_IF_ERROR(Ip(ns, {"link", "set", "lo", "up"}));
  return RunChecked(NsExec(ns, {"sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                                "net.ipv6.conf.default.disable_ipv6=1"}),
                    {.timeout_ns = kCommandTimeoutNs})
      .status();
}

Status DeleteNamespace(const std::string& ns) { return Ip("", {"netns", "delete", ns}); }

Status AddVethPair(const std::string& a_ns, const std::string& a_name, const std::string& b_ns,
                   const std::string& b_name) {
  std::vector<std::string> args{"link", "add", a_name};
  if (!a_ns.empty()) args.insert(args.end(), {"netns", a_ns});
  args.insert(args.end(), {"type", "veth", "peer", "name", b_name});
  if (!b_ns.empty()) args.insert(args.end(), {"netns", b_ns});
  FB_RETURN_IF_ERROR(Ip("", args));
  FB_RETURN_IF_ERROR(Ip(a_ns, {"link", "set", a_name, "addrgenmode", "none"}));
  return Ip(b_ns, {"link", "set", b_name, "addrgenmode", "none"});
}

Status ConfigureLink(const std::string& ns, const std::string& link, const std::string& addr,
                     int prefix_len) {
  FB_RETURN_IF_ERROR(Ip(ns, {"addr", "add", addr + "/" + std::to_string(prefix_len), "dev", link}));
  return Ip(ns, {"link", "set", link, "up"});
}

std::vector<std::string> ListLinks(const std::string& ns, const std::string& prefix) {
  std::vector<std::string> out;
  auto r = IpOutput(ns, {"-o", "link", "show"});
  if (!r.ok()) return out;
  std::istringstream in(*r);
  std::string line;
  while (std::getline(in, line)) {
    // "5: fbl-path-a@if2: <...> ..."
    size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string name = line.substr(colon + 2);
    name = name.substr(0, name.find_first_of("@:"));
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

bool LinkExists(const std::string& ns, const std::string& link) {
  return IpOutput(ns, {"link", "show", "dev", link}).ok();
}

std::string LinkOperState(const std::string& ns, const std::string& link) {
  auto r = IpOutput(ns, {"-o", "link", "show", "dev", link});
  if (!r.ok()) return "absent";
  size_t at = r->find(" state ");
  if (at == std::string::npos) return "unknown";
  std::istringstream in(r->substr(at + 7));
  std::string state;
  in >> state;
  for (char& c : state) c = char(std::tolower(static_cast<unsigned char>(c)));
  return state;
}

Result<bool> LinkAdminUp(const std::string& ns, const std::string& link) {
  auto r = IpOutput(ns, {"-o", "link", "show", "dev", link});
  if (!r.ok()) return r.status();
  size_t open = r->find('<');
  size_t close = r->find('>');
  if (open == std::string::npos || close == std::string::npos) {
    return Status::IoError("ip link show " + link + " in " + ns + ": no flags in output");
  }
  std::string flags = "," + r->substr(open + 1, close - open - 1) + ",";
  return flags.find(",UP,") != std::string::npos;
}

Status SetLinkUp(const std::string& ns, const std::string& link, bool up) {
  return Ip(ns, {"link", "set", link, up ? "up" : "down"});
}

Status CreateCutTable(const std::string& ns) {
  std::string t = kNftTable;
  return Nft(ns, "table inet " + t + " {\n" +
                     "  chain input { type filter hook input priority 0; policy accept; }\n" +
                     "  chain output { type filter hook output priority 0; policy accept; }\n" + "}\n");
}

bool HasTable(const std::string& ns, const std::string& family, const std::string& table) {
  auto r = RunCommand(NsExec(ns, {"nft", "list", "tables"}), {.timeout_ns = kCommandTimeoutNs});
  if (!r.ok() || !r->success()) return false;
  return r->out.find("table " + family + " " + table + "\n") != std::string::npos;
}

std::vector<std::string> CutRules(const std::string& ns) {
  std::vector<std::string> out;
  auto r =
      RunCommand(NsExec(ns, {"nft", "list", "table", "inet", kNftTable}), {.timeout_ns = kCommandTimeoutNs});
  if (!r.ok() || !r->success()) return out;
  std::istringstream in(r->out);
  std::string line;
  while (std::getline(in, line)) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos) continue;
    line = line.substr(start);
    if (line.rfind("chain", 0) == 0 || line.rfind("type ", 0) == 0 || line.rfind("table", 0) == 0 ||
        line == "}") {
      continue;
    }
    out.push_back(line);
  }
  return out;
}

std::string CutPathCommand(const std::string& ns, const std::string& link) {
  std::string t = kNftTable;
  return "ip netns exec " + ns + " nft add rule inet " + t + " input iifname " + link +
         " drop; ip netns exec " + ns + " nft add rule inet " + t + " output oifname " + link + " drop";
}

std::string RestoreCutsCommand(const std::string& ns) {
  std::string t = kNftTable;
  return "ip netns exec " + ns + " nft flush chain inet " + t + " input; ip netns exec " + ns +
         " nft flush chain inet " + t + " output";
}

}  // namespace fb::lab
