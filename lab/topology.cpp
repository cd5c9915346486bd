#include "lab/topology.h"

namespace fb::lab {

const std::vector<SiteSpec>& Sites() {
  static const std::vector<SiteSpec> kSites = {
      {"site-a", "fb-site-a", "fbl-path-a", "198.18.1.1", "198.18.1.2", "198.18.3.1", "198.18.4.1",
       "198.18.4.2", "med-a", 0},
      {"site-b", "fb-site-b", "fbl-path-b", "198.18.2.1", "198.18.2.2", "198.18.3.2", "198.18.5.1",
       "198.18.5.2", "med-b", 1},
  };
  return kSites;
}

const SiteSpec* FindSite(const std::string& name) {
  for (const SiteSpec& s : Sites()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const SiteSpec& PeerOf(const SiteSpec& site) { return Sites()[site.index == 0 ? 1 : 0]; }

std::vector<std::string> LabNamespaces() {
  std::vector<std::string> out;
  for (const SiteSpec& s : Sites()) out.push_back(s.ns);
  out.push_back(kMediatorNamespace);
  return out;
}

bool IsLabNamespace(const std::string& name) {
  // The pool's (lab/pool.h): fb-pool-net, fb-host-<i>, fb-vm-<k>.
  return name.rfind("fb-site-", 0) == 0 || name == kMediatorNamespace || name == "fb-pool-net" ||
         name.rfind("fb-host-", 0) == 0 || name.rfind("fb-vm-", 0) == 0;
}

}  // namespace fb::lab
