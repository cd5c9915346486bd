#include "lab/bmc.h"

#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/subprocess.h"
#include "lab/netns.h"
#include "lab/pool_net.h"
#include "lab/process.h"

namespace fb::lab {

using nlohmann::json;

namespace {

std::string BmcDir(const std::string& state_dir, int host) {
  return PoolDir(state_dir) + "/bmc-" + std::to_string(host);
}
std::string RedfishPidFile(const std::string& state_dir) { return PoolDir(state_dir) + "/bmc-redfish.pid"; }

Result<std::string> Password(const std::string& state_dir) {
  auto pw = ReadFile(PoolBmcPasswordFile(state_dir));
  if (!pw.ok()) return pw.status();
  std::string p = *pw;
  while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
  return p;
}

// 16 random bytes as hex, from the kernel.
Result<std::string> RandomHex(size_t bytes) {
  FILE* f = std::fopen("/dev/urandom", "rb");
  if (!f) return ErrnoStatus("open /dev/urandom", errno);
  std::vector<unsigned char> b(bytes);
  size_t n = std::fread(b.data(), 1, b.size(), f);
  std::fclose(f);
  if (n != b.size()) return Status::IoError("read /dev/urandom: short read");
  std::string out;
  char h[3];
  for (unsigned char c : b) {
    std::snprintf(h, sizeof h, "%02x", c);
    out += h;
  }
  return out;
}

std::string LanConf(const PoolConfig& pool, int host, const std::string& password, const std::string& guid) {
  return "# ipmi_sim of " + PoolHostName(host) + "'s BMC (lab/bmc.h), written by faultbench lab up\n"
         "name \"fb-bmc-" + std::to_string(host) + "\"\n"
         "set_working_mc 0x20\n"
         "  startlan 1\n"
         "    addr " + PoolBmcAddr(host) + " 623\n"
         "    priv_limit admin\n"
         "    guid " + guid + "\n"
         "  endlan\n"
         // The VM serial codec is what lets chassis power control run startcmd.
         "  serial 15 127.0.0.1 0 codec VM\n"
         "  startcmd \"" + pool.faultbench_path + " lab --state-dir " + pool.state_dir + " bmc-power " +
         PoolHostName(host) + "\"\n"
         "  startnow true\n"
         "  poweroff_wait 0\n"
         "  kill_wait 5\n"
         "  user 2 true \"" + kBmcUser + "\" \"" + password + "\" admin 10\n";
}

constexpr const char* kSimEmu =
    "mc_setbmc 0x20\n"
    "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\n"
    "mc_enable 0x20\n";

bool OnPath(const char* exe) {
  auto r = RunCommand({"sh", "-c", std::string("command -v ") + exe + " >/dev/null"}, {.timeout_ns = 5 * kNsPerSec});
  return r.ok() && r->exit_code == 0;
}

volatile sig_atomic_t g_stop = 0;
void OnStop(int) { g_stop = 1; }

void CatchStop() {
  struct sigaction sa {};
  sa.sa_handler = OnStop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

}  // namespace

std::string PoolBmcAddr(int host) { return "198.18.10." + std::to_string(100 + host); }
std::string PoolBmcPasswordFile(const std::string& state_dir) { return PoolDir(state_dir) + "/bmc_password"; }

bool HaveBmcTools() { return OnPath(kIpmiSimExecutable) && OnPath("ipmitool"); }

Result<std::string> BmcIpmi(const std::string& state_dir, int host, const std::string& what) {
  std::vector<std::string> argv = {"ipmitool", "-I",  "lanplus", "-C", "3", "-N", "1", "-R", "2",
                                   "-H",       PoolBmcAddr(host), "-U", kBmcUser,
                                   "-f",       PoolBmcPasswordFile(state_dir), "chassis", "power", what};
  auto r = RunCommand(argv, {.timeout_ns = 20 * kNsPerSec});
  if (!r.ok()) return r.status();
  if (!r->success()) return Status::Unavailable("`" + JoinArgv(argv) + "`: " + r->Describe());
  return r->out;
}

Status StartBmcs(const PoolConfig& pool) {
  const std::string& sd = pool.state_dir;
  if (access(PoolBmcPasswordFile(sd).c_str(), F_OK) != 0) {
    auto pw = RandomHex(8);  // 16 characters: IPMI allows at most 20
    if (!pw.ok()) return pw.status();
    FB_RETURN_IF_ERROR(WriteFileAtomic(PoolBmcPasswordFile(sd), *pw + "\n"));
    chmod(PoolBmcPasswordFile(sd).c_str(), 0600);
  }
  auto password = Password(sd);
  if (!password.ok()) return password.status();
  for (const PoolHost& h : pool.hosts) {
    int i = h.index;
    FB_RETURN_IF_ERROR(Ip(kPoolNetNamespace, {"addr", "replace", PoolBmcAddr(i) + "/" + std::to_string(kPoolPrefixLen),
                                              "dev", kMgmtBridge}));
    std::string dir = BmcDir(sd, i);
    std::error_code ec;
    std::filesystem::create_directories(dir + "/state", ec);
    if (ec) return Status::IoError("create " + dir + "/state: " + ec.message());
    auto guid = RandomHex(16);
    if (!guid.ok()) return guid.status();
    FB_RETURN_IF_ERROR(WriteFileAtomic(dir + "/lan.conf", LanConf(pool, i, *password, *guid)));
    chmod((dir + "/lan.conf").c_str(), 0600);
    FB_RETURN_IF_ERROR(WriteFileAtomic(dir + "/sim.emu", kSimEmu));
    auto pid = SpawnDetached({"ip", "netns", "exec", kPoolNetNamespace, kIpmiSimExecutable, "-c", dir + "/lan.conf",
                              "-f", dir + "/sim.emu", "-s", dir + "/state", "-n"},
                             dir + "/ipmi_sim.log");
    if (!pid.ok()) return pid.status().With("BMC of " + h.name);
    FB_RETURN_IF_ERROR(WritePidFile(dir + "/ipmi_sim.pid", *pid));
  }
  auto front = SpawnDetached({"ip", "netns", "exec", kPoolNetNamespace, pool.faultbench_path, "lab", "--state-dir", sd,
                              "bmc-redfish"},
                             PoolDir(sd) + "/bmc-redfish.log");
  if (!front.ok()) return front.status().With("the BMCs' Redfish service");
  FB_RETURN_IF_ERROR(WritePidFile(RedfishPidFile(sd), *front));
  // Each BMC answers IPMI (and says the host is on), and Redfish.
  int64_t deadline = MonoNs() + 15 * kNsPerSec;
  for (const PoolHost& h : pool.hosts) {
    while (true) {
      auto out = BmcIpmi(sd, h.index, "status");
      if (out.ok() && out->find("Chassis Power is on") != std::string::npos) break;
      if (MonoNs() >= deadline)
        return Status::Unavailable("the BMC of " + h.name + " at " + PoolBmcAddr(h.index) +
                                   " does not answer: " + (out.ok() ? *out : out.status().message()) + " (see " +
                                   BmcDir(sd, h.index) + "/ipmi_sim.log)");
      SleepUntilMono(MonoNs() + 100 * kNsPerMs);
    }
    httplib::Client c("http://" + PoolBmcAddr(h.index) + ":" + std::to_string(kBmcRedfishPort));
    c.set_connection_timeout(std::chrono::milliseconds(500));
    while (true) {
      auto res = c.Get("/redfish/v1");
      if (res && res->status == 200) break;
      if (MonoNs() >= deadline)
        return Status::Unavailable("the Redfish service of " + h.name + "'s BMC does not answer (see " + PoolDir(sd) +
                                   "/bmc-redfish.log)");
      SleepUntilMono(MonoNs() + 100 * kNsPerMs);
    }
  }
  return Status::Ok();
}

int RunBmcPower(const std::string& state_dir, int host) {
  CatchStop();
  if (HostPoweredOff(state_dir, host)) {
    Status on = PowerOnHost(state_dir, host);
    if (!on.ok()) {
      std::fprintf(stderr, "faultbench lab bmc-power: %s\n", on.message().c_str());
      return 1;
    }
  }
  while (!g_stop) {
    // Powered off by other means: the BMC's power is off too.
    if (HostPoweredOff(state_dir, host)) return 0;
    SleepUntilMono(MonoNs() + 50 * kNsPerMs);
  }
  Status off = PowerOffHost(state_dir, host);
  if (!off.ok()) {
    std::fprintf(stderr, "faultbench lab bmc-power: %s\n", off.message().c_str());
    return 1;
  }
  return 0;
}

namespace {

std::string Base64Decode(const std::string& in) {
  static const std::string kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0, value = 0;
  for (char c : in) {
    size_t i = kChars.find(c);
    if (i == std::string::npos) break;  // '=' padding or the end
    value = (value << 6) | int(i);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((value >> bits) & 0xff);
    }
  }
  return out;
}

json RedfishError(const std::string& id, const std::string& message) {
  return {{"error",
           {{"code", "Base.1.8.GeneralError"},
            {"message", "A general error has occurred. See ExtendedInfo for more information."},
            {"@Message.ExtendedInfo",
             json::array({{{"@odata.type", "#Message.v1_1_1.Message"},
                           {"MessageId", "Base.1.8." + id},
                           {"Message", message},
                           {"Severity", "Warning"}}})}}}};
}

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
  res.set_header("OData-Version", "4.0");
}

// One BMC's Redfish service: sessions, one ComputerSystem, its Reset through
// the BMC's own IPMI.
class RedfishFront {
 public:
  RedfishFront(std::string state_dir, int host, std::string password)
      : sd_(std::move(state_dir)), host_(host), password_(std::move(password)) {
    Routes();
  }
  bool Listen() { return srv_.listen(PoolBmcAddr(host_), kBmcRedfishPort); }
  void Stop() { srv_.stop(); }
  bool Ready() const { return srv_.is_running(); }

 private:
  // A session's X-Auth-Token, or HTTP Basic authentication (DSP0266 has both).
  bool Authorized(const httplib::Request& req) {
    std::string basic = req.get_header_value("Authorization");
    if (basic.rfind("Basic ", 0) == 0) return Base64Decode(basic.substr(6)) == std::string(kBmcUser) + ":" + password_;
    std::lock_guard<std::mutex> l(mu_);
    std::string t = req.get_header_value("X-Auth-Token");
    for (const auto& [id, token] : sessions_)
      if (!t.empty() && token == t) return true;
    return false;
  }
  bool Guard(const httplib::Request& req, httplib::Response& res) {
    if (Authorized(req)) return true;
    Reply(res, 401, RedfishError("NoValidSession", "There is no valid session established with the implementation."));
    return false;
  }
  std::string PowerState() {
    auto out = BmcIpmi(sd_, host_, "status");
    if (!out.ok()) return "";
    return out->find("Chassis Power is on") != std::string::npos ? "On" : "Off";
  }

  void Routes() {
    const std::string sessions = "/redfish/v1/SessionService/Sessions";
    const std::string system = "/redfish/v1/Systems/1";
    const std::string reset = system + "/Actions/ComputerSystem.Reset";
    // Every resource answers with and without a trailing slash (DSP0266).
    srv_.Get("/redfish/?", [](const httplib::Request&, httplib::Response& res) {
      Reply(res, 200, {{"v1", "/redfish/v1/"}});
    });
    srv_.Get("/redfish/v1/?", [](const httplib::Request&, httplib::Response& res) {
      Reply(res, 200,
            {{"@odata.id", "/redfish/v1"},
             {"@odata.type", "#ServiceRoot.v1_5_0.ServiceRoot"},
             {"Id", "RootService"},
             {"Name", "faultbench lab BMC"},
             {"RedfishVersion", "1.6.0"},
             {"Systems", {{"@odata.id", "/redfish/v1/Systems"}}},
             {"SessionService", {{"@odata.id", "/redfish/v1/SessionService"}}},
             {"Links", {{"Sessions", {{"@odata.id", "/redfish/v1/SessionService/Sessions"}}}}}});
    });
    srv_.Get("/redfish/v1/SessionService/?", [this, sessions](const httplib::Request& req, httplib::Response& res) {
      if (!Guard(req, res)) return;
      Reply(res, 200,
            {{"@odata.id", "/redfish/v1/SessionService"},
             {"@odata.type", "#SessionService.v1_1_6.SessionService"},
             {"Id", "SessionService"},
             {"Name", "Session Service"},
             {"ServiceEnabled", true},
             {"Sessions", {{"@odata.id", sessions}}}});
    });
    srv_.Get(sessions + "/?", [this, sessions](const httplib::Request& req, httplib::Response& res) {
      if (!Guard(req, res)) return;
      json members = json::array();
      {
        std::lock_guard<std::mutex> l(mu_);
        for (const auto& [id, token] : sessions_) members.push_back({{"@odata.id", sessions + "/" + id}});
      }
      Reply(res, 200,
            {{"@odata.id", sessions},
             {"@odata.type", "#SessionCollection.SessionCollection"},
             {"Name", "Session Collection"},
             {"Members", members},
             {"Members@odata.count", members.size()}});
    });
    srv_.Post(sessions + "/?", [this, sessions](const httplib::Request& req, httplib::Response& res) {
      json body = json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("UserName") || !body.contains("Password")) {
        Reply(res, 400, RedfishError("PropertyMissing", "The properties UserName and Password are required."));
        return;
      }
      if (body.value("UserName", "") != kBmcUser || body.value("Password", "") != password_) {
        Reply(res, 401, RedfishError("ResourceAtUriUnauthorized",
                                     "While accessing the resource at " + sessions +
                                         ", the service received an authorization error: bad user name or password."));
        return;
      }
      std::string id, token;
      {
        std::lock_guard<std::mutex> l(mu_);
        id = std::to_string(++next_);
        auto hex = RandomHex(16);
        token = hex.ok() ? *hex : id + "-" + std::to_string(MonoNs());
        sessions_[id] = token;
      }
      res.set_header("X-Auth-Token", token);
      res.set_header("Location", sessions + "/" + id);
      Reply(res, 201,
            {{"@odata.id", sessions + "/" + id},
             {"@odata.type", "#Session.v1_1_0.Session"},
             {"Id", id},
             {"Name", "User Session"},
             {"UserName", kBmcUser}});
    });
    srv_.Delete(sessions + "/(\\d+)/?", [this](const httplib::Request& req, httplib::Response& res) {
      if (!Guard(req, res)) return;
      std::lock_guard<std::mutex> l(mu_);
      if (!sessions_.erase(req.matches[1].str())) {
        Reply(res, 404, RedfishError("ResourceMissingAtURI", "The resource at the URI " + req.path + " was not found."));
        return;
      }
      res.status = 204;
    });
    srv_.Get("/redfish/v1/Systems/?", [this](const httplib::Request& req, httplib::Response& res) {
      if (!Guard(req, res)) return;
      Reply(res, 200,
            {{"@odata.id", "/redfish/v1/Systems"},
             {"@odata.type", "#ComputerSystemCollection.ComputerSystemCollection"},
             {"Name", "Computer System Collection"},
             {"Members", json::array({{{"@odata.id", "/redfish/v1/Systems/1"}}})},
             {"Members@odata.count", 1}});
    });
    srv_.Get(system + "/?", [this, system, reset](const httplib::Request& req, httplib::Response& res) {
      if (!Guard(req, res)) return;
      std::string state = PowerState();
      if (state.empty()) {
        Reply(res, 503, RedfishError("ServiceTemporarilyUnavailable", "The BMC's IPMI did not answer."));
        return;
      }
      Reply(res, 200,
            {{"@odata.id", system},
             {"@odata.type", "#ComputerSystem.v1_13_0.ComputerSystem"},
             {"Id", "1"},
             {"Name", PoolHostName(host_)},
             {"HostName", PoolHostName(host_)},
             {"PowerState", state},
             {"Actions",
              {{"#ComputerSystem.Reset",
                {{"target", reset},
                 {"ResetType@Redfish.AllowableValues",
                  json::array({"On", "ForceOff", "GracefulShutdown", "ForceRestart", "PowerCycle"})}}}}}});
    });
    srv_.Post(reset + "/?", [this](const httplib::Request& req, httplib::Response& res) {
      if (!Guard(req, res)) return;
      json body = json::parse(req.body, nullptr, false);
      std::string type = body.is_object() ? body.value("ResetType", std::string()) : "";
      // The lab host has no OS to shut down gracefully: GracefulShutdown is a power off.
      static const std::map<std::string, std::string> kIpmi = {
          {"On", "on"}, {"ForceOff", "off"}, {"GracefulShutdown", "off"}, {"ForceRestart", "cycle"}, {"PowerCycle", "cycle"}};
      auto it = kIpmi.find(type);
      if (it == kIpmi.end()) {
        Reply(res, 400,
              RedfishError("ActionParameterValueNotInList",
                           "The value " + (type.empty() ? std::string("(none)") : type) +
                               " for the parameter ResetType in the action ComputerSystem.Reset is not in the list "
                               "of acceptable values: On, ForceOff, GracefulShutdown, ForceRestart, PowerCycle."));
        return;
      }
      auto out = BmcIpmi(sd_, host_, it->second);
      if (!out.ok()) {
        Reply(res, 500, RedfishError("InternalError", out.status().message()));
        return;
      }
      res.status = 204;
    });
  }

  std::string sd_;
  int host_;
  std::string password_;
  httplib::Server srv_;
  std::mutex mu_;
  std::map<std::string, std::string> sessions_;  // id -> token
  int next_ = 0;
};

}  // namespace

int RunBmcRedfish(const std::string& state_dir) {
  CatchStop();
  auto pool = LoadPool(state_dir);
  auto password = Password(state_dir);
  if (!pool.ok() || !password.ok()) {
    std::fprintf(stderr, "faultbench lab bmc-redfish: %s\n",
                 (!pool.ok() ? pool.status() : password.status()).message().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<RedfishFront>> fronts;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (const PoolHost& h : pool->hosts) {
    fronts.push_back(std::make_unique<RedfishFront>(state_dir, h.index, *password));
    RedfishFront* f = fronts.back().get();
    threads.emplace_back([f, &failed, addr = PoolBmcAddr(h.index)] {
      if (!f->Listen()) {
        std::fprintf(stderr, "faultbench lab bmc-redfish: cannot listen on %s:%d\n", addr.c_str(), kBmcRedfishPort);
        failed++;
      }
    });
  }
  while (!g_stop && failed == 0) SleepUntilMono(MonoNs() + 100 * kNsPerMs);
  for (auto& f : fronts) f->Stop();
  for (auto& t : threads) t.join();
  return failed ? 1 : 0;
}

}  // namespace fb::lab
