#include "registry/chains/memory.h"

#include "registry/connect/connect.h"
#include "registry/log/log.h"
#include "registry/metrics/server.h"
#include "registry/proxy/proxy.h"
#include "registry/setpayload/setpayload.h"
#include "registry/setregistrationtime/setregistrationtime.h"
#include "registry/validate/validate.h"

namespace nsm::reg::chains {

MemoryRegistry NewMemoryRegistry(const MemoryRegistryOptions& options) {
  MemoryRegistry r;
  r.channels = std::make_shared<transport::ChannelPool>(
      options.credentials ? options.credentials : MakeInsecureCredentials());
  r.ns_store = memory::NewNSServer(options.memory);
  r.nse_store = memory::NewNSEServer(options.memory);
  auto stats =
      options.metrics ? std::make_shared<metrics::RegistryStats>(options.metrics) : nullptr;
  r.stats = stats;
  r.nse_expire =
      expire::NewNSEServer(options.expire_period, stats ? stats->ExpirationsHook() : nullptr);
  r.nse_serialize = serialize::NewNSEServer();

  r.ns = std::make_shared<NSRegistryServerChain>(NSRegistryServerChain::Elements{
      metrics::NewNSServer(stats),
      logging::NewNSServer({.component = "registry/ns"}),
      validate::NewNSServer(),
      serialize::NewNSServer(),
      setpayload::NewNSServer(),
      r.ns_store,
      proxy::NewNSServer(options.proxy_registry_url),
      connect::NewNSServer(connect::GrpcClientFactory<NSTraits>(r.channels, options.client)),
  });

  r.nse = std::make_shared<NSERegistryServerChain>(NSERegistryServerChain::Elements{
      metrics::NewNSEServer(stats),
      logging::NewNSEServer({.component = "registry/nse"}),
      validate::NewNSEServer(),
      r.nse_serialize,
      setregistrationtime::NewNSEServer(),
      r.nse_expire,
      r.nse_store,
      proxy::NewNSEServer(options.proxy_registry_url),
      connect::NewNSEServer(connect::GrpcClientFactory<NSETraits>(r.channels, options.client)),
  });
  return r;
}

}  // namespace nsm::reg::chains
