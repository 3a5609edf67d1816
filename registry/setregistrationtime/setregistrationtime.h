// setregistrationtime: an endpoint registered without initial_registration_time gets "now" on
// the context's clock; a refresh that sends the time back keeps it (registry.md §3.4).
#pragma once

#include <memory>

#include "core/registry.h"

namespace nsm::reg::setregistrationtime {

class NSEServer : public NSERegistryServer {
 public:
  absl::StatusOr<Item> Register(const Context& ctx, Item& nse, const Next& next) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override;
  absl::Status Unregister(const Context& ctx, Item& nse, const Next& next) override;
};

inline std::shared_ptr<NSEServer> NewNSEServer() { return std::make_shared<NSEServer>(); }

}  // namespace nsm::reg::setregistrationtime
