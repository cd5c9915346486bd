// fb-ha-sim: the HA simulator of one lab pool host, started by `faultbench lab
// up --pool N` (and PowerOnHost) inside the host's namespace:
//   fb-ha-sim --state-dir <state> --host host-i
// Reads <state>/pool/pool.json. Heartbeats its peers over the management network
// (UDP 7200, one JSON datagram per heartbeat interval), writes its statefile slot
// (LUN 2, block i-1) and reads every slot each interval over libiscsi (site-a,
// then site-b), applies the HA rules (ha_sim_node.h), serves XAPI JSON-RPC on
// http://<mgmt address>:80/jsonrpc (login: root, any password; the master
// answers, the others HOST_IS_SLAVE; the operations of fakes/xapi_ops.h act on
// the lab: VM.pool_migrate is MigrateVm, pool.designate_new_master a handover
// to that host's simulator) and logs each decision into the lab's
// events.jsonl (source "ha"). Runs until SIGTERM or SIGINT. Exit 2 on bad
// arguments or config, 3 on a start failure.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/status.h"
#include "fakes/xapi_ops.h"
#include "fakes/xapi_service.h"
#include "lab/ha_sim_node.h"
#include "lab/ha_sim_statefile.h"
#include "lab/lab_event_log.h"
#include "lab/pool.h"
#include "lab/pool_net.h"
#include "lab/udp.h"

namespace fb::lab {
namespace {

using nlohmann::json;

constexpr int64_t kTickNs = 100 * kNsPerMs;

int Fail(const Status& s) {
  std::fprintf(stderr, "fb-ha-sim: %s\n", s.message().c_str());
  return s.exit_code();
}

class PoolActions : public HaActions {
 public:
  explicit PoolActions(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  Status StartVm(int vm, int host) override { return lab::StartVm(state_dir_, vm, host); }
  Status StopVm(int vm) override { return lab::StopVm(state_dir_, vm); }
  std::vector<int> ResidentVms(int host) override { return lab::ResidentVms(state_dir_, host); }

 private:
  std::string state_dir_;
};

// What the I/O threads hand the node (stamped on arrival) and what they send.
struct Exchange {
  std::mutex mu;
  std::deque<std::pair<std::string, int64_t>> heartbeats;
  std::vector<std::pair<std::string, int64_t>> slots;  // the last read, all slots
  int64_t slots_read_ns = 0;
  std::vector<int64_t> written;
  std::string heartbeat;
  json slot;
  int handover = 0;  // pool.designate_new_master asked for this host
};

// Whether an Async.pool.designate_new_master task is still pending: the
// handover waits for it, so the database the new master loads has it done.
bool DesignateTaskPending(XapiService& xapi) {
  const json tasks = xapi.Records("task");
  for (const auto& [ref, t] : tasks.items())
    if (t.value("name_label", "") == "Async.pool.designate_new_master" && t.value("status", "") == "pending")
      return true;
  return false;
}

// The XAPI operations, carried out on the lab (pool.h): by name ("vm-1", "host-2").
XapiOpsHooks LabHooks(const std::string& state_dir, Exchange* ex) {
  XapiOpsHooks h;
  h.migrate = [state_dir](const std::string& vm, const std::string&, const std::string& to) -> Status {
    auto k = ParsePoolVmName(vm);
    auto i = ParsePoolHostName(to);
    if (!k.ok()) return k.status();
    if (!i.ok()) return i.status();
    return MigrateVm(state_dir, *k, *i);
  };
  h.stop = [state_dir](const std::string& vm) -> Status {
    auto k = ParsePoolVmName(vm);
    return k.ok() ? StopVm(state_dir, *k) : k.status();
  };
  h.start = [state_dir](const std::string& vm, const std::string& host) -> Status {
    auto k = ParsePoolVmName(vm);
    auto i = ParsePoolHostName(host);
    if (!k.ok()) return k.status();
    return i.ok() ? StartVm(state_dir, *k, *i) : i.status();
  };
  h.designate_master = [ex](const std::string& host) -> Status {
    auto i = ParsePoolHostName(host);
    if (!i.ok()) return i.status();
    std::lock_guard<std::mutex> lock(ex->mu);
    ex->handover = *i;  // the node's thread hands over once this call's task is done
    return Status::Ok();
  };
  return h;
}

void SleepInterruptibly(const std::atomic<bool>& stop, int64_t until_mono_ns) {
  while (!stop && MonoNs() < until_mono_ns) SleepUntilMono(std::min(until_mono_ns, MonoNs() + 50 * kNsPerMs));
}

int Run(const std::string& state_dir, const std::string& host_name) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto pool = LoadPool(state_dir);
  if (!pool.ok()) return Fail(pool.status());
  auto self = ParsePoolHostName(host_name);
  if (!self.ok()) return Fail(self.status());
  if (*self < 1 || *self > int(pool->hosts.size()))
    return Fail(Status::InvalidInput(host_name + " is not a host of the pool in " + PoolJsonPath(state_dir)));
  const PoolHost& me = pool->hosts[*self - 1];
  const int hosts = int(pool->hosts.size());
  const int64_t interval = pool->heartbeat_interval_ns > 0 ? pool->heartbeat_interval_ns : kNsPerSec;
  const int64_t timeout = pool->ha_timeout_ns > 0 ? pool->ha_timeout_ns : 60 * kNsPerSec;

  LabEventLog log;
  Status s = log.Open(pool->events_file, host_name, "ha");
  if (!s.ok()) return Fail(s);
  std::mutex log_mu;
  HaLogFn log_fn = [&](int64_t t, const std::string& kind, Severity sev, const std::string& message,
                       json attrs) {
    std::lock_guard<std::mutex> lock(log_mu);
    Status e = log.Emit(t, kind, sev, message, std::move(attrs));
    if (!e.ok()) std::fprintf(stderr, "fb-ha-sim: event log: %s\n", e.message().c_str());
  };

  XapiService xapi("root", "");
  s = xapi.Serve({me.mgmt_addr}, kXapiPort);
  if (!s.ok()) return Fail(Status::Unavailable(s.message()).With(host_name));
  UdpSocket sock;
  s = sock.Bind(me.mgmt_addr, kHaHeartbeatPort);
  if (!s.ok()) return Fail(Status::Unavailable(s.message()).With(host_name));

  HaNodeConfig config;
  config.self = *self;
  for (const PoolHost& h : pool->hosts) config.mgmt_addrs.push_back(h.mgmt_addr);
  config.vms = int(pool->vms.size());
  for (const PoolVm& v : pool->vms) {
    auto placed = VmPlacement(state_dir, v.index);
    if (placed.ok() && *placed > 0) config.initial_placement[v.index] = *placed;
  }
  config.ha_timeout_ns = timeout;
  config.reboot_ns = std::min<int64_t>(timeout / 2, 2 * kNsPerSec);
  config.settle_ns = std::min<int64_t>(timeout / 4, kNsPerSec);
  config.restart_delay_ns = std::min<int64_t>(timeout / 4, kNsPerSec);
  config.db_path = PoolDir(state_dir) + "/xapi-db.json";
  for (const PoolVm& v : pool->vms) config.db.vm_addrs.push_back(v.addr);
  config.db.iqn = pool->iqn;
  config.db.portals = {kPortalAddrA, kPortalAddrB};
  config.db.lun_bytes = pool->lun_bytes;
  config.db.statefile_bytes = kStatefileBytes;
  config.db.ha_timeout_ns = timeout;
  config.db.defects = pool->defects;
  PoolActions actions(state_dir);
  HaNode node(config, &xapi, &actions, log_fn);
  s = node.Start(MonoNs());
  if (!s.ok()) return Fail(s.With(host_name));

  Exchange ex;
  InstallXapiOperations(&xapi, LabHooks(state_dir, &ex));
  ex.heartbeat = node.HeartbeatText();
  ex.slot = node.SlotRecord(MonoNs());
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // SIGTERM / SIGINT
    int sig = 0;
    sigwait(&stop_signals, &sig);
    stop = true;
  });
  threads.emplace_back([&] {  // heartbeats in
    while (!stop) {
      auto d = sock.Recv(100 * kNsPerMs);
      if (!d) continue;
      std::lock_guard<std::mutex> lock(ex.mu);
      ex.heartbeats.emplace_back(d->text, MonoNs());
      if (ex.heartbeats.size() > 1000) ex.heartbeats.pop_front();
    }
  });
  threads.emplace_back([&] {  // heartbeats out
    for (int64_t next = MonoNs(); !stop; next += interval) {
      std::string text;
      {
        std::lock_guard<std::mutex> lock(ex.mu);
        text = ex.heartbeat;
      }
      // A cut management network makes sends fail: the peers' silence is the signal.
      for (const PoolHost& h : pool->hosts)
        if (h.index != *self) (void)sock.SendTo(h.mgmt_addr, kHaHeartbeatPort, text);
      if (next + interval < MonoNs()) next = MonoNs();
      SleepInterruptibly(stop, next + interval);
    }
  });
  threads.emplace_back([&] {  // the statefile: write this slot, read them all
    HaStatefile statefile(pool->statefile_urls,
                          std::clamp<int64_t>(interval / 2, 100 * kNsPerMs, 500 * kNsPerMs));
    int64_t seq = UtcNs() / kNsPerMs;  // differs from whatever an earlier run left
    std::string last_error;
    for (int64_t next = MonoNs(); !stop; next += interval) {
      json slot;
      {
        std::lock_guard<std::mutex> lock(ex.mu);
        slot = ex.slot;
      }
      if (!slot.value("fenced", false)) ++seq;
      slot["seq"] = seq;
      Status w = statefile.WriteBlock(uint64_t(*self - 1), slot.dump());
      int64_t written = MonoNs();
      auto r = statefile.ReadBlocks(hosts);
      int64_t read = MonoNs();
      std::string error = !w.ok() ? w.message() : !r.ok() ? r.status().message() : "";
      if (error != last_error && !error.empty()) std::fprintf(stderr, "fb-ha-sim: %s\n", error.c_str());
      last_error = error;
      {
        std::lock_guard<std::mutex> lock(ex.mu);
        if (w.ok()) ex.written.push_back(written);
        if (r.ok()) {
          ex.slots.clear();
          for (int i = 0; i < hosts; ++i)
            ex.slots.emplace_back(r->substr(size_t(i) * HaStatefile::kBlockBytes, HaStatefile::kBlockBytes),
                                  read);
          ex.slots_read_ns = read;
        }
      }
      if (next + interval < MonoNs()) next = MonoNs();
      SleepInterruptibly(stop, next + interval);
    }
  });

  // The node's own thread: StartVm may take seconds, the I/O threads stamp what
  // arrives meanwhile.
  int64_t last_slots = 0;
  while (!stop) {
    std::deque<std::pair<std::string, int64_t>> hbs;
    std::vector<std::pair<std::string, int64_t>> slots;
    std::vector<int64_t> written;
    {
      std::lock_guard<std::mutex> lock(ex.mu);
      hbs.swap(ex.heartbeats);
      written.swap(ex.written);
      if (ex.slots_read_ns != last_slots) {
        slots = ex.slots;
        last_slots = ex.slots_read_ns;
      }
    }
    for (const auto& [text, t] : hbs) node.OnHeartbeat(text, t);
    for (int64_t t : written) node.OnSlotWritten(t);
    for (int i = 0; i < int(slots.size()); ++i) node.OnSlot(i + 1, slots[i].first, slots[i].second);
    int64_t now = MonoNs();
    node.Tick(now);
    int handover = 0;
    {
      std::lock_guard<std::mutex> lock(ex.mu);
      if (ex.handover != 0 && !DesignateTaskPending(xapi)) std::swap(handover, ex.handover);
    }
    if (handover != 0) {
      Status h = node.Handover(handover);
      if (!h.ok()) std::fprintf(stderr, "fb-ha-sim: designate_new_master: %s\n", h.message().c_str());
    }
    {
      std::lock_guard<std::mutex> lock(ex.mu);
      ex.heartbeat = node.HeartbeatText();
      ex.slot = node.SlotRecord(now);
    }
    if (handover != 0) {  // the new master hears its claim now, not a heartbeat interval later
      for (const PoolHost& h : pool->hosts)
        if (h.index != *self) (void)sock.SendTo(h.mgmt_addr, kHaHeartbeatPort, node.HeartbeatText());
    }
    SleepInterruptibly(stop, now + kTickNs);
  }
  pthread_kill(threads[0].native_handle(), SIGTERM);  // ends the sigwait if stop came otherwise
  for (std::thread& t : threads) t.join();
  xapi.Stop();
  return 0;
}

}  // namespace
}  // namespace fb::lab

int main(int argc, char** argv) {
  std::string state_dir, host;
  bool bad = argc != 5;
  for (int i = 1; i + 1 < argc && !bad; i += 2) {
    std::string a = argv[i];
    if (a == "--state-dir")
      state_dir = argv[i + 1];
    else if (a == "--host")
      host = argv[i + 1];
    else
      bad = true;
  }
  if (bad || state_dir.empty() || host.empty()) {
    std::fprintf(stderr, "usage: fb-ha-sim --state-dir STATE --host host-i\n");
    return fb::kExitUsage;
  }
  return fb::lab::Run(state_dir, host);
}
