// clienturl: the URL of the registry that connect should call, carried in the context; the
// server element sets a fixed one for every call (registry.md §3.8).
#pragma once

#include <memory>
#include <string>

#include "core/registry.h"
#include "core/typed_key.h"

namespace nsm::reg::clienturl {

inline const TypedKey<std::string> kClientUrlKey{"registry.clienturl"};

inline Context WithClientUrl(const Context& ctx, std::string url) {
  return ctx.WithValue(kClientUrlKey, std::make_shared<std::string>(std::move(url)));
}
// The URL set by clienturl or proxy; null when none was set.
inline std::shared_ptr<std::string> ClientUrl(const Context& ctx) {
  return ctx.Value(kClientUrlKey);
}

template <class T>
class Server : public RegistryServer<T> {
 public:
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;

  explicit Server(std::string url) : url_(std::make_shared<std::string>(std::move(url))) {}

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) override {
    return next.Register(ctx.WithValue(kClientUrlKey, url_), item);
  }
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override {
    return next.Find(ctx.WithValue(kClientUrlKey, url_), query, stream);
  }
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next) override {
    return next.Unregister(ctx.WithValue(kClientUrlKey, url_), item);
  }

 private:
  std::shared_ptr<std::string> url_;
};

extern template class Server<NSTraits>;
extern template class Server<NSETraits>;
using NSServer = Server<NSTraits>;
using NSEServer = Server<NSETraits>;

inline std::shared_ptr<NSServer> NewNSServer(std::string url) {
  return std::make_shared<NSServer>(std::move(url));
}
inline std::shared_ptr<NSEServer> NewNSEServer(std::string url) {
  return std::make_shared<NSEServer>(std::move(url));
}

}  // namespace nsm::reg::clienturl
