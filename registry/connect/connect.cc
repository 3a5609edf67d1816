#include "registry/connect/connect.h"

#include "absl/strings/str_cat.h"
#include "registry/clienturl/clienturl.h"
#include "registry/matchutils/items.h"

namespace nsm::reg::connect {
namespace {

template <class Item>
absl::Status NoUrl(const Item& item) {
  return absl::FailedPreconditionError(absl::StrCat("connect: no registry URL to send ",
                                                    KindName(item), " \"", item.name(),
                                                    "\" to (clienturl or proxy must come first)"));
}

}  // namespace

template <class T>
ClientFactory<T> GrpcClientFactory(std::shared_ptr<transport::ChannelPool> channels,
                                   transport::ClientOptions options) {
  return [channels = std::move(channels),
          options](const std::string& url) -> absl::StatusOr<std::shared_ptr<RegistryClient<T>>> {
    auto channel = channels->Get(url);
    if (!channel.ok()) return channel.status();
    return std::make_shared<transport::RegistryGrpcClient<T>>(*channel, url, options);
  };
}

template <class T>
Server<T>::Server(ClientFactory<T> factory) : factory_(std::move(factory)) {}

template <class T>
absl::StatusOr<std::shared_ptr<RegistryClient<T>>> Server<T>::ClientFor(const std::string& url) {
  absl::MutexLock lock(&mu_);
  if (auto it = clients_.find(url); it != clients_.end()) {
    if (auto client = it->second.lock()) return client;
  }
  auto client = factory_(url);
  if (!client.ok()) return client.status();
  absl::erase_if(clients_, [](const auto& kv) { return kv.second.expired(); });
  clients_[url] = *client;
  return client;
}

template <class T>
auto Server<T>::Register(const Context& ctx, Item& item, const Next&) -> absl::StatusOr<Item> {
  auto url = clienturl::ClientUrl(ctx);
  if (!url) return NoUrl(item);
  auto client = ClientFor(*url);
  if (!client.ok()) return client.status();
  auto response = (*client)->Register(ctx, item, RegistryClientNext<T>(), CallOptions{});
  if (!response.ok()) return response;
  Registration previous;  // a registration through another URL is released after the lock
  absl::MutexLock lock(&mu_);
  auto& reg = names_[response->name()];
  previous = std::exchange(reg, Registration{*url, *client});
  return response;
}

template <class T>
absl::Status Server<T>::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next&) {
  auto url = clienturl::ClientUrl(ctx);
  if (!url) {
    return absl::FailedPreconditionError(absl::StrCat(
        "connect: no registry URL to send the query for ", QueryItem(query).ShortDebugString(),
        " to (clienturl or proxy must come first)"));
  }
  auto client = ClientFor(*url);
  if (!client.ok()) return client.status();
  return (*client)->Find(ctx, query, stream, RegistryClientNext<T>(), CallOptions{});
}

template <class T>
absl::Status Server<T>::Unregister(const Context& ctx, Item& item, const Next&) {
  auto url = clienturl::ClientUrl(ctx);
  if (!url) return NoUrl(item);
  auto client = ClientFor(*url);
  if (!client.ok()) return client.status();
  absl::Status s = (*client)->Unregister(ctx, item, RegistryClientNext<T>(), CallOptions{});
  Registration forgotten;
  absl::MutexLock lock(&mu_);
  if (auto it = names_.find(item.name()); it != names_.end()) {
    forgotten = std::move(it->second);
    names_.erase(it);
  }
  return s;
}

template <class T>
size_t Server<T>::clients() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [url, weak] : clients_) n += weak.expired() ? 0 : 1;
  return n;
}

template <class T>
size_t Server<T>::registrations() const {
  absl::MutexLock lock(&mu_);
  return names_.size();
}

template ClientFactory<NSTraits> GrpcClientFactory<NSTraits>(
    std::shared_ptr<transport::ChannelPool>, transport::ClientOptions);
template ClientFactory<NSETraits> GrpcClientFactory<NSETraits>(
    std::shared_ptr<transport::ChannelPool>, transport::ClientOptions);
template class Server<NSTraits>;
template class Server<NSETraits>;

}  // namespace nsm::reg::connect
