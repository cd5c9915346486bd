// The lab's side of the pool (not for the pool's users, who take pool.h): the
// remaining interface names and addresses, building the pool at `lab up`, and
// reading its state for `lab status`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "lab/pool.h"

namespace fb::lab {

inline constexpr int kPoolPrefixLen = 24;
inline constexpr const char* kPortalAddrA = "198.18.1.2";  // SiteSpec::path_addr of site-a
inline constexpr const char* kPortalAddrB = "198.18.2.2";
inline constexpr const char* kSshdPath = "/usr/sbin/sshd";
// Regular chains of the fbpool table the base chains jump to; a cut fills
// one, a restore flushes it.
inline constexpr const char* kCutMgmtChain = "cut_mgmt";
inline constexpr const char* kCutStorageChain = "cut_storage";

std::string PoolSiteHostIf(int host);                       // "hst1", in fb-site-a and fb-site-b
std::string PoolSiteAddr(int host, int site_index);         // site side: 198.18.(20+i).1, 198.18.(30+i).1
std::string PoolHostStorageAddr(int host, int site_index);  // host side: 198.18.(20+i).2, 198.18.(30+i).2
std::string PoolHostVmIf(int vm);                           // "vm1", in the VM's current host
std::string PoolVmGatewayAddr(int vm);                      // 198.18.(60+k).1, on vm<k>
std::string PoolVmStorageAddr(int vm);                      // 198.18.(60+k).2, the VM's eth1
std::string PoolVmStorageNet(int vm);                       // 198.18.(60+k).0/24, routed by the sites
std::string PoolControllerVmLink(int vm);                   // "fbl-vm1", root ns
std::string PoolControllerVmAddr(int vm);                   // 198.18.(50+k).1

// (Re)adds the host's routes to both portals (a link going down drops them).
Status AddHostStorageRoutes(const std::string& host_ns, int host);
// Starts fb-ha-sim in the host's namespace, detached; writes its pid file.
Status StartHaSim(const PoolConfig& pool, int host);

struct PoolBuildSpec {
  int hosts = 0;
  int vms = 0;
  int64_t ha_timeout_ns = 0;
  int64_t heartbeat_interval_ns = 0;
  std::string iqn;
  std::string faultbench_path;
  std::string ha_sim_path;  // "" = not built: no simulator is started
  uint64_t lun_bytes = 0;   // the stretched LUN (the pool's data SR)
  std::vector<std::string> defects;  // lab/pool_db.h
  int64_t migration_downtime_ns = kDefaultMigrationDowntimeNs;
};

// Creates the pool's namespaces, links, keys, sshd configs and pool.json, then
// starts every VM on its first host and each host's fb-ha-sim. The metro lab's
// site namespaces must be up. Leaves partial work for Lab::Down on failure.
Status BuildPool(const std::string& state_dir, const PoolBuildSpec& spec);

// Per host (links, power, cut rules, simulator) and per VM (host, sshd, agent)
// for `lab status`; also appends what is wrong to *problems.
nlohmann::json PoolStatusJson(const std::string& state_dir, std::vector<std::string>* problems);

}  // namespace fb::lab
