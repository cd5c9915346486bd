#include "injectors/netfilter_injector.h"

#include "core/clock.h"
#include "plugin/command_target.h"

namespace fb {

namespace {

constexpr int64_t kExpiryGraceNs = 30 * kNsPerSec;

struct Match {
  std::string address, port, protocol, interface, direction;
  int64_t expire_ns = -1;  // -1 = lease + grace
};

class NetfilterInjector : public Injector, public FaultChecker {
 public:
  NetfilterInjector(std::string name, CommandTarget target, Match m)
      : name_(std::move(name)), target_(std::move(target)), m_(std::move(m)) {
    Bind(FaultContext{});
  }

  void Bind(const FaultContext& c) override {
    target_.Bind(c);
    table_ = "faultbench_" + IdentifierChars(c.run_id) + "_" + IdentifierChars(name_);
    lease_ns_ = c.lease_ns;
  }
  Status Prepare() override { return target_.Prepare(); }
  std::string where() const override { return target_.where(); }
  FaultChecker* checker() override { return this; }
  const std::string& table() const { return table_; }

  Status Inject() override {
    // Atomic replace: create (empty), delete, define, in one transaction.
    return target_.RunOk("inject", {"nft", "-f", "-"}, Ruleset()).status();
  }

  Status Revert() override {
    std::vector<std::string> argv = {"nft", "delete", "table", "inet", table_};
    auto r = target_.Run(argv);
    if (!r.ok()) return r.status().With(target_.Describe("revert", argv));
    if (r->success() || NoSuchTable(*r)) return Status::Ok();  // already gone: reverted
    return Status::Unavailable(target_.Describe("revert", argv) + ": " + r->Describe());
  }

  Result<bool> InEffect() override {
    std::vector<std::string> argv = {"nft", "list", "table", "inet", table_};
    auto r = target_.Run(argv);
    if (!r.ok()) return r.status().With(target_.Describe("check", argv));
    if (r->success()) return true;
    if (NoSuchTable(*r)) return false;
    return Status::Unavailable(target_.Describe("check", argv) + ": " + r->Describe());
  }

  std::string Ruleset() const {
    bool v6 = m_.address.find(':') != std::string::npos;
    bool prefix = m_.address.find('/') != std::string::npos;
    int64_t expire = m_.expire_ns >= 0 ? m_.expire_ns : lease_ns_ > 0 ? lease_ns_ + kExpiryGraceNs : 0;
    std::string to =
        expire > 0 ? " timeout " + std::to_string((expire + kNsPerMs - 1) / kNsPerMs) + "ms" : "";
    std::string sets, addr_in, addr_out, port_rules_key;
    std::string family = v6 ? "ip6" : "ip";
    // The element with the timeout carries the expiry; other parts match directly.
    bool addr_set = !m_.address.empty() && !prefix && !to.empty();
    bool port_set = !m_.port.empty() && !addr_set && !to.empty();
    if (addr_set)
      sets += "  set peers { type " + std::string(v6 ? "ipv6_addr" : "ipv4_addr") +
              "; flags timeout; elements = { " + m_.address + to + " } }\n";
    if (port_set)
      sets += "  set ports { type inet_service; flags timeout; elements = { " + m_.port + to + " } }\n";
    std::string addr = addr_set ? "@peers" : m_.address;
    std::string port = port_set ? "@ports" : m_.port;
    auto chain = [&](const char* cname, const char* hook, bool in) {
      std::string base;
      if (!m_.interface.empty())
        base += std::string(in ? "iifname " : "oifname ") + "\"" + m_.interface + "\" ";
      if (!addr.empty()) base += family + (in ? " saddr " : " daddr ") + addr + " ";
      std::string rules;
      if (port.empty()) {
        rules = "    " + base + "counter drop\n";
      } else {
        for (const char* dir : {"sport", "dport"}) {
          rules +=
              "    " + base + "meta l4proto " + m_.protocol + " th " + dir + " " + port + " counter drop\n";
        }
      }
      return "  chain " + std::string(cname) + " { type filter hook " + hook +
             " priority -300; policy accept;\n" + rules + "  }\n";
    };
    std::string body = sets;
    if (m_.direction != "out") body += chain("drop_in", "input", true);
    if (m_.direction != "in") body += chain("drop_out", "output", false);
    // What the host routes (a hypervisor forwarding its VMs' traffic) is dropped too.
    if (m_.direction != "out") body += chain("drop_fwd_in", "forward", true);
    if (m_.direction != "in") body += chain("drop_fwd_out", "forward", false);
    return "table inet " + table_ + "\ndelete table inet " + table_ + "\ntable inet " + table_ + " {\n" +
           body + "}\n";
  }

 private:
  static bool NoSuchTable(const CommandResult& r) {
    return r.exit_code == 1 && r.err.find("No such file or directory") != std::string::npos;
  }

  std::string name_;
  CommandTarget target_;
  Match m_;
  std::string table_;
  int64_t lease_ns_ = 0;
};

bool Word(const std::string& s, const char* extra) {
  for (char c : s) {
    if (!isalnum(static_cast<unsigned char>(c)) && !strchr(extra, c)) return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<Injector> NewNetfilterInjector(const std::string& name, Settings* s) {
  CommandTarget target = CommandTarget::FromSettings(name, s);
  Match m;
  m.address = s->String("address");
  m.port = s->String("port");
  m.protocol = s->String("protocol", false, "tcp");
  m.interface = s->String("interface");
  m.direction = s->String("direction", false, "both");
  if (s->Has("expire")) m.expire_ns = s->DurationNs("expire", 0);
  // Values go into an nft script: accept only what they can be.
  if (!Word(m.address, ".:/")) s->Problem("address", "not an IP address or prefix: \"" + m.address + "\"");
  if (!m.port.empty() && (m.port.size() > 5 || m.port.find_first_not_of("0123456789") != std::string::npos ||
                          std::stoul(m.port) == 0 || std::stoul(m.port) > 65535)) {
    s->Problem("port", "not a port number: \"" + m.port + "\"");
  }
  if (m.protocol != "tcp" && m.protocol != "udp") s->Problem("protocol", "must be tcp or udp");
  if (!Word(m.interface, "._-@")) s->Problem("interface", "not an interface name: \"" + m.interface + "\"");
  if (m.direction != "in" && m.direction != "out" && m.direction != "both") {
    s->Problem("direction", "must be in, out or both");
  }
  if (m.address.empty() && m.port.empty() && m.interface.empty()) {
    s->Problem("", "netfilter needs at least one of address, port, interface (it would drop everything)");
  }
  return std::make_unique<NetfilterInjector>(name, std::move(target), std::move(m));
}

}  // namespace fb
