// The lab's pool: N "hosts" and M "VMs" in network namespaces beside the metro
// lab (`faultbench lab up --pool N`), with the controls a test or a plan's
// command injector uses to break them (power, management network, storage).
//
//   root ns (controller)   fb-pool-net         fb-host-i                      fb-site-a / fb-site-b
//   fbl-mgmt 198.18.10.1 - bridge mgmt ------- mgmt0 198.18.10.(10+i)
//                                              sto-a 198.18.(20+i).2 -------- hst<i> 198.18.(20+i).1
//                                              sto-b 198.18.(30+i).2 -------- hst<i> 198.18.(30+i).1
//                                              vm<k> 198.18.(60+k).1 --+
//   fbl-vm<k> 198.18.(50+k).1 ------------------------------------- eth0 198.18.(50+k).2  fb-vm-k
//                                                                  eth1 198.18.(60+k).2 --+
//
// A host routes its VMs' storage traffic out of sto-a/sto-b, and both sites
// route each VM's storage address back through the host it runs on, so a VM
// reaches both portals (198.18.1.2, 198.18.2.2) under its own address; a VM
// moves by being rewired to another host (same addresses), and a live
// migration keeps its TCP connections (MigrateVm).
//
// Numbering is 1-based everywhere: host 1 is "host-1" in "fb-host-1", VM 1 is
// "vm-1" in "fb-vm-1". Root only. Every call is synchronous, bounded in time
// and idempotent (calling it twice is the same as once); none is thread-safe
// against another call on the same VM or host. Each act is logged to the lab's
// events.jsonl (lab_event_log.h, source "pool") with the UTC time it happened.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace fb::lab {

inline constexpr int kMinPoolHosts = 2;
inline constexpr int kMaxPoolHosts = 4;
inline constexpr int kMinPoolVms = 1;
inline constexpr int kMaxPoolVms = 8;

inline constexpr const char* kHaSimExecutable = "fb-ha-sim";
inline constexpr const char* kPoolNetNamespace = "fb-pool-net";
inline constexpr const char* kMgmtBridge = "mgmt";              // in fb-pool-net
inline constexpr const char* kControllerMgmtLink = "fbl-mgmt";  // root ns
inline constexpr const char* kControllerMgmtAddr = "198.18.10.1";
inline constexpr const char* kHostMgmtIf = "mgmt0";  // in fb-host-i
inline constexpr const char* kHostStorageIfA = "sto-a";
inline constexpr const char* kHostStorageIfB = "sto-b";
inline constexpr const char* kVmNetIf = "eth0";      // in fb-vm-k, to the controller
inline constexpr const char* kVmStorageIf = "eth1";  // in fb-vm-k, to its host
// nftables table (family inet) in each host namespace: the host's cut rules
// (chains input, output, forward).
inline constexpr const char* kPoolNftTable = "fbpool";

// A live migration's stop-and-copy: how long a migrating VM is frozen.
inline constexpr int64_t kDefaultMigrationDowntimeNs = 150'000'000;

inline constexpr int kHaHeartbeatPort = 7200;  // UDP, on the management network
inline constexpr int kXapiPort = 80;           // HTTP JSON-RPC, POST /jsonrpc
inline constexpr int kStatefileLun = 2;        // on the same target as LUN 1
// HA puts a 4 MiB statefile and a 256 MiB metadata volume on its heartbeat SR:
// the lab's (LUN 2) is as large as a real one must be at least, and sparse.
inline constexpr uint64_t kStatefileBytes = 512ull << 20;
inline constexpr int kStatefileSlotBytes = 512;  // host i owns block i-1

// Names and addresses (host in 1..4, vm in 1..8; no range check).
std::string PoolHostName(int host);       // "host-1"
std::string PoolHostNamespace(int host);  // "fb-host-1"
std::string PoolHostMgmtAddr(int host);   // "198.18.10.11"
std::string PoolXapiUrl(int host);        // "http://198.18.10.11:80/jsonrpc"
std::string PoolVmName(int vm);           // "vm-1"
std::string PoolVmNamespace(int vm);      // "fb-vm-1"
std::string PoolVmAddr(int vm);           // "198.18.51.2", where its sshd listens
// "host-2" -> 2, "vm-3" -> 3; InvalidInput naming the text otherwise (no range check).
Result<int> ParsePoolHostName(const std::string& name);
Result<int> ParsePoolVmName(const std::string& name);

// Files of the pool in the lab's state directory.
std::string PoolDir(const std::string& state_dir);                     // <state>/pool
std::string PoolJsonPath(const std::string& state_dir);                // <state>/pool/pool.json
std::string PoolSitePath(const std::string& state_dir);                // <state>/pool/site.yaml (plan new --site)
std::string PoolVmDir(const std::string& state_dir, int vm);           // <state>/pool/vm-k (the VM's "disk")
std::string PoolVmAgentDir(const std::string& state_dir, int vm);      // <state>/pool/vm-k/agent
// Where `faultbench deploy PLAN --prefix` puts the VMs' agent (they share this
// machine's files): <state>/pool/agent-root, its binary usr/bin/faultbench-agent.
// StartVm boots that agent when it is there.
std::string PoolAgentRoot(const std::string& state_dir);
std::string PoolHaSimPidFile(const std::string& state_dir, int host);  // <state>/pool/host-i.pid
std::string PoolHaSimLog(const std::string& state_dir, int host);      // <state>/pool/host-i.log

struct PoolHost {
  int index = 0;          // 1-based
  std::string name;       // "host-1"
  std::string ns;         // "fb-host-1"
  std::string mgmt_addr;  // "198.18.10.11"
  std::string xapi_url;   // "http://198.18.10.11:80/jsonrpc"
};

struct PoolVm {
  int index = 0;          // 1-based
  std::string name;       // "vm-1"
  std::string ns;         // "fb-vm-1"
  std::string addr;       // "198.18.51.2"
  int initial_host = 0;   // where lab up started it: ((k-1) mod N)+1
  std::string dir;        // <state>/pool/vm-k
  std::string agent_dir;  // <state>/pool/vm-k/agent
  std::string ssh;        // "ssh -i ... -o UserKnownHostsFile=... root@198.18.51.2"
};

// pool.json, as lab up wrote it.
struct PoolConfig {
  std::string state_dir;
  std::vector<PoolHost> hosts;  // hosts[i-1] is host i
  std::vector<PoolVm> vms;      // vms[k-1] is vm k
  int64_t ha_timeout_ns = 0;
  int64_t heartbeat_interval_ns = 0;
  std::string faultbench_path;  // absolute paths of the binaries
  std::string ha_sim_path;
  std::vector<std::string> statefile_urls;  // iscsi://198.18.1.2/<iqn>/2, then site-b's
  std::string ssh_key;                      // <state>/pool/id_ed25519 (the controller's client key)
  std::string known_hosts;                  // <state>/pool/known_hosts (every VM's host key)
  std::string events_file;                  // <state>/events.jsonl
  std::string iqn;                          // the lab's target
  uint64_t lun_bytes = 0;                   // the stretched LUN (LUN 1)
  std::vector<std::string> defects;         // what its XAPI database gets wrong (lab/pool_db.h)
  int64_t migration_downtime_ns = kDefaultMigrationDowntimeNs;  // MigrateVm's freeze
};

// The forms of a pool defect (lab/pool_db.h): ha-off, unprotected:vm-K,
// local-cd:vm-K, one-path:host-I, dhcp-mgmt:host-I. InvalidInput naming the
// defect when it is none of them or names a host or VM outside the pool.
Status CheckPoolDefects(const std::vector<std::string>& defects, int hosts, int vms);

// Reads <state>/pool/pool.json. InvalidInput "the lab has no pool" when it is
// missing (lab down, or up without --pool), IoError when unreadable.
Result<PoolConfig> LoadPool(const std::string& state_dir);

// The host VM vm runs on now (from <state>/pool/vm-k/host), 0 when halted.
Result<int> VmPlacement(const std::string& state_dir, int vm);
// The VMs whose placement is host, ascending.
std::vector<int> ResidentVms(const std::string& state_dir, int host);

// Wires the VM to host (its eth1 to a new vm<k> link in fb-host-<host>, routes),
// brings its VM-network link up, starts its sshd (returns once it accepts on
// :22) and `faultbench agent --boot --state-dir <vm>/agent` in its namespace,
// records the placement, logs `vm_started` {vm, host}. If it runs on another
// host it is stopped first (StopVm); if it already runs on host with its sshd
// alive, Ok without a change. InvalidInput when vm or host is not in the pool,
// Unavailable when host is powered off.
Status StartVm(const std::string& state_dir, int vm, int host);
// Kills every process in the VM's namespace, brings its VM-network link down
// (the VM's end, eth0: StartVm and StopVm also work from a host namespace),
// unwires it from its host, records placement "" and logs `vm_stopped` {vm, host}.
Status StopVm(const std::string& state_dir, int vm);

// A live migration of a running VM to host, as a real one's last
// stop-and-copy: every process of the VM is frozen (SIGSTOP); once its storage
// connections have nothing in flight either way (or 40 ms before the freeze
// ends, at most: a connection on a cut path never drains), its storage
// link moves to the new host (same veth, same addresses) and both sites route
// its address there; it resumes (SIGCONT) downtime_ns after the freeze
// (<= 0: the pool's migration_downtime_ns), or when the rewiring is done if
// that took longer. Its TCP connections survive. Logs `vm_migration_paused`
// {vm, from, to} at the freeze and `vm_migrated` {vm, from, to, downtime_ms
// (measured), configured_ms} at the resume. Ok without a change when it runs
// on host already. InvalidInput for a VM or host outside the pool,
// Unavailable when the VM is not running or the host is powered off.
Status MigrateVm(const std::string& state_dir, int vm, int host, int64_t downtime_ns = 0);

// SIGKILLs every process in fb-host-i and in the namespaces of the VMs resident
// on it (kill first, so the logged time is when they died), then brings all
// their links down; logs `host_power_off` {host, vms}. The VMs stay resident on
// the host (their placement file is unchanged) until something starts them elsewhere.
Status PowerOffHost(const std::string& state_dir, int host);
// Brings the host's links up (and its routes back), starts its fb-ha-sim
// again (if built and not running), logs `host_power_on` {host}. VMs still
// resident on it stay down (a VM does not survive a power cycle): StartVm them.
Status PowerOnHost(const std::string& state_dir, int host);
// Whether the host is powered off now (PowerOffHost, until PowerOnHost).
bool HostPoweredOff(const std::string& state_dir, int host);

// Drops everything on the host's management interface (nft rules in its
// fbpool table); logs `mgmt_cut` / `mgmt_restored` {host}.
Status CutManagement(const std::string& state_dir, int host);
Status RestoreManagement(const std::string& state_dir, int host);
// Drops everything on sto-a and sto-b (the host's and its VMs' storage
// traffic, including the statefile); logs `storage_cut` / `storage_restored` {host}.
Status CutStorage(const std::string& state_dir, int host);
Status RestoreStorage(const std::string& state_dir, int host);

}  // namespace fb::lab
