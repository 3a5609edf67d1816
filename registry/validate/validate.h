// validate: rejects malformed registrations, unregistrations and queries with INVALID_ARGUMENT
// naming field and value, before any state changes (DESIGN.md §3; registry/README.md).
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/registry.h"

namespace nsm::reg::validate {

// Longest accepted name, in bytes (a Kubernetes name of 253 plus "@" and a domain of 253).
inline constexpr size_t kMaxNameLength = 507;

// A registry name: non-empty, at most kMaxNameLength bytes, no whitespace or control characters,
// and at most one '@' with text on both sides ("name@domain", api.md §6.5).
absl::Status ValidateName(absl::string_view field, absl::string_view name);

absl::Status ValidateRegister(const ::registry::NetworkService& ns);
absl::Status ValidateRegister(const ::registry::NetworkServiceEndpoint& nse);
absl::Status ValidateUnregister(const ::registry::NetworkService& ns);
absl::Status ValidateUnregister(const ::registry::NetworkServiceEndpoint& nse);
absl::Status ValidateQuery(const ::registry::NetworkServiceQuery& query);
absl::Status ValidateQuery(const ::registry::NetworkServiceEndpointQuery& query);

template <class T>
class Server : public RegistryServer<T> {
 public:
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) override {
    if (auto s = ValidateRegister(item); !s.ok()) return s;
    return next.Register(ctx, item);
  }
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override {
    if (auto s = ValidateQuery(query); !s.ok()) return s;
    return next.Find(ctx, query, stream);
  }
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next) override {
    if (auto s = ValidateUnregister(item); !s.ok()) return s;
    return next.Unregister(ctx, item);
  }
};

extern template class Server<NSTraits>;
extern template class Server<NSETraits>;
using NSServer = Server<NSTraits>;
using NSEServer = Server<NSETraits>;

inline std::shared_ptr<NSServer> NewNSServer() { return std::make_shared<NSServer>(); }
inline std::shared_ptr<NSEServer> NewNSEServer() { return std::make_shared<NSEServer>(); }

}  // namespace nsm::reg::validate
