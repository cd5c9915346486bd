// The lab's fixed topology: namespace, interface and address names, all in one
// place. Every address is in 198.18.0.0/15; nothing else is ever configured.
//
//   root ns (host)                fb-site-a                     fb-mediator
//   fbl-path-a 198.18.1.1/24 <--> path0 198.18.1.2/24
//                                 repl0 198.18.3.1/24 <--+
//                                 med0  198.18.4.1/24 <--|-->   med-a 198.18.4.2/24
//                                 fb-site-b              |
//   fbl-path-b 198.18.2.1/24 <--> path0 198.18.2.2/24    |
//                                 repl0 198.18.3.2/24 <--+
//                                 med0  198.18.5.1/24 <-------> med-b 198.18.5.2/24
#pragma once

#include <string>
#include <vector>

namespace fb::lab {

// Namespaces and root-side links the lab makes all carry these prefixes, so
// `lab down` can find them after a crash without any state file.
inline constexpr const char* kNamespacePrefix = "fb-";
inline constexpr const char* kHostLinkPrefix = "fbl-";
inline constexpr const char* kMediatorNamespace = "fb-mediator";
// nftables table (family inet) the lab creates in each site namespace; cut
// rules go into its chains `input` and `output`.
inline constexpr const char* kNftTable = "fblab";

inline constexpr const char* kPathIf = "path0";
inline constexpr const char* kReplicationIf = "repl0";
inline constexpr const char* kMediatorIf = "med0";
inline constexpr int kPrefixLen = 24;

inline constexpr int kIscsiPort = 3260;
inline constexpr int kHeartbeatPort = 7000;  // UDP, on the replication link
inline constexpr int kMediatorPort = 7100;   // UDP, in the mediator namespace
inline constexpr int kApiPort = 8080;        // HTTP, on each site's path address

struct SiteSpec {
  std::string name;            // "site-a"
  std::string ns;              // "fb-site-a"
  std::string host_link;       // root-side end of the path veth, "fbl-path-a"
  std::string host_addr;       // "198.18.1.1"
  std::string path_addr;       // portal and API address, "198.18.1.2"
  std::string repl_addr;       // "198.18.3.1"
  std::string med_local_addr;  // this site's end of its mediator link, "198.18.4.1"
  std::string mediator_addr;   // the mediator's end, "198.18.4.2"
  std::string mediator_if;     // the mediator-side interface, "med-a"
  int index = 0;               // 0-based, also picks the tgtd control port
};

// Both sites, site-a first.
const std::vector<SiteSpec>& Sites();
const SiteSpec* FindSite(const std::string& name);
// The other site of the metro pair.
const SiteSpec& PeerOf(const SiteSpec& site);

// All namespaces the lab creates.
std::vector<std::string> LabNamespaces();
// True for namespace names the lab may have created ("fb-site-*", "fb-mediator",
// and the pool's "fb-pool-net", "fb-host-*", "fb-vm-*").
bool IsLabNamespace(const std::string& name);

}  // namespace fb::lab
