// The registry-memory server chains as plain lists: log, validate, serialize, setpayload |
// setregistrationtime + expire, memory, proxy, connect (registry.md §1, binaries.md §2.4).
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "core/credentials.h"
#include "core/registry.h"
#include "registry/expire/expire.h"
#include "registry/memory/memory.h"
#include "registry/metrics/stats.h"
#include "registry/serialize/serialize.h"
#include "registry/transport/channel_pool.h"
#include "registry/transport/client.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace nsm::reg::chains {

struct MemoryRegistryOptions {
  // Longest lifetime of an NSE registration (the cap of expire).
  absl::Duration expire_period = absl::Minutes(1);
  // Where inter-domain (name@domain) calls go; empty: they fail with FAILED_PRECONDITION.
  std::string proxy_registry_url = {};
  // Credentials of the channels to the proxy registry (required when proxy_registry_url is set).
  std::shared_ptr<Credentials> credentials = {};
  transport::ClientOptions client = {};
  memory::Options memory = {};
  // Where the chains count (registry/metrics, docs/metrics.md); null: no metrics.
  std::shared_ptr<prometheus::Registry> metrics = {};
};

// The two chains and the stores inside them (for metrics and tests).
struct MemoryRegistry {
  std::shared_ptr<NSRegistryServerChain> ns;
  std::shared_ptr<NSERegistryServerChain> nse;
  std::shared_ptr<memory::NSServer> ns_store;
  std::shared_ptr<memory::NSEServer> nse_store;
  std::shared_ptr<expire::NSEServer> nse_expire;
  std::shared_ptr<serialize::NSEServer> nse_serialize;
  std::shared_ptr<transport::ChannelPool> channels;
  std::shared_ptr<metrics::RegistryStats> stats;  // null without metrics
};

MemoryRegistry NewMemoryRegistry(const MemoryRegistryOptions& options);

}  // namespace nsm::reg::chains
