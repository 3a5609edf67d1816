// proxy: inter-domain names (name@domain) go on to the proxy registry URL; local names end
// the chain here (registry.md §3.7).
#pragma once

#include <memory>
#include <string>

#include "core/registry.h"

namespace nsm::reg::proxy {

// True when the query asks for inter-domain objects: the NS name, or for NSE queries the NSE name
// or any of its network service names, has an '@'.
bool IsInterdomainQuery(const ::registry::NetworkServiceQuery& query);
bool IsInterdomainQuery(const ::registry::NetworkServiceEndpointQuery& query);

// With an empty proxy URL inter-domain calls fail with FAILED_PRECONDITION naming the object.
template <class T>
class Server : public RegistryServer<T> {
 public:
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;

  explicit Server(std::string proxy_registry_url) : url_(std::move(proxy_registry_url)) {}

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override;
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next) override;

 private:
  std::string url_;
};

extern template class Server<NSTraits>;
extern template class Server<NSETraits>;
using NSServer = Server<NSTraits>;
using NSEServer = Server<NSETraits>;

inline std::shared_ptr<NSServer> NewNSServer(std::string proxy_registry_url) {
  return std::make_shared<NSServer>(std::move(proxy_registry_url));
}
inline std::shared_ptr<NSEServer> NewNSEServer(std::string proxy_registry_url) {
  return std::make_shared<NSEServer>(std::move(proxy_registry_url));
}

}  // namespace nsm::reg::proxy
