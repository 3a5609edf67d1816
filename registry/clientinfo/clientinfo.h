// clientinfo (registry): adds this node's nodeName/podName/clusterName to every service label set
// an endpoint registers, never overwriting (nsmgr.md §10.1 step 1, registry.md §3.17).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/registry.h"
#include "networkservice/clientinfo/server.h"

namespace nsm::reg::clientinfo {

using ::nsm::clientinfo::EnvLookup;
using ::nsm::clientinfo::ProcessEnv;

// Reads NODE_NAME, POD_NAME and CLUSTER_NAME once, at construction (unset variables add nothing).
// Register: for each key already present in network_service_labels, adds the labels it lacks;
// services without a labels entry get none. Find and Unregister pass through.
class NSEServer : public NSERegistryServer {
 public:
  explicit NSEServer(const EnvLookup& env = ProcessEnv);

  absl::StatusOr<Item> Register(const Context& ctx, Item& nse, const Next& next) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override;
  absl::Status Unregister(const Context& ctx, Item& nse, const Next& next) override;

 private:
  std::vector<std::pair<std::string, std::string>> info_;
};

inline std::shared_ptr<NSEServer> NewNSEServer(const EnvLookup& env = ProcessEnv) {
  return std::make_shared<NSEServer>(env);
}

}  // namespace nsm::reg::clientinfo
