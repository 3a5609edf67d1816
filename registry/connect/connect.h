// connect: calls the registry named by the client URL in the context through one shared client
// per URL, kept alive by the registrations and Finds using it (registry.md §3.9, §7.3).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/registry.h"
#include "registry/transport/channel_pool.h"
#include "registry/transport/client.h"

namespace nsm::reg::connect {

// Makes the client for a URL: by default a RegistryGrpcClient on the pool's channel; a custom
// factory can put client elements (heal, ...) in front of it.
template <class T>
using ClientFactory =
    std::function<absl::StatusOr<std::shared_ptr<RegistryClient<T>>>(const std::string& url)>;

template <class T>
ClientFactory<T> GrpcClientFactory(std::shared_ptr<transport::ChannelPool> channels,
                                   transport::ClientOptions options = {});

// Register remembers the client a name was registered through (so the channel stays up while
// the registration lives, and a re-registration with another URL moves it); Unregister forgets it.
// Find holds the client until the Find ends (for a watch: until the remote stream ends). The call
// is the end of the server chain: next is not called. No client URL in the context is
// FAILED_PRECONDITION naming the object.
template <class T>
class Server : public RegistryServer<T> {
 public:
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;

  explicit Server(ClientFactory<T> factory);

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override;
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next) override;

  // Clients some registration or Find still uses; names registered through this element.
  size_t clients() const;
  size_t registrations() const;

 private:
  struct Registration {
    std::string url;
    std::shared_ptr<RegistryClient<T>> client;
  };
  absl::StatusOr<std::shared_ptr<RegistryClient<T>>> ClientFor(const std::string& url);

  ClientFactory<T> factory_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::weak_ptr<RegistryClient<T>>> clients_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Registration> names_ ABSL_GUARDED_BY(mu_);
};

extern template class Server<NSTraits>;
extern template class Server<NSETraits>;
using NSServer = Server<NSTraits>;
using NSEServer = Server<NSETraits>;

inline std::shared_ptr<NSServer> NewNSServer(ClientFactory<NSTraits> factory) {
  return std::make_shared<NSServer>(std::move(factory));
}
inline std::shared_ptr<NSEServer> NewNSEServer(ClientFactory<NSETraits> factory) {
  return std::make_shared<NSEServer>(std::move(factory));
}

}  // namespace nsm::reg::connect
