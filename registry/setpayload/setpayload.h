// setpayload: a network service registered without a payload gets the default one ("IP"); Find
// and Unregister pass through (registry.md §3.3).
#pragma once

#include <memory>
#include <string>

#include "core/registry.h"

namespace nsm::reg::setpayload {

inline constexpr char kDefaultPayload[] = "IP";

class NSServer : public NSRegistryServer {
 public:
  explicit NSServer(std::string payload = kDefaultPayload) : payload_(std::move(payload)) {}
  absl::StatusOr<Item> Register(const Context& ctx, Item& ns, const Next& next) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override;
  absl::Status Unregister(const Context& ctx, Item& ns, const Next& next) override;

 private:
  std::string payload_;
};

inline std::shared_ptr<NSServer> NewNSServer(std::string payload = kDefaultPayload) {
  return std::make_shared<NSServer>(std::move(payload));
}

}  // namespace nsm::reg::setpayload
