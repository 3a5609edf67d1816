// updatetoken client: puts a fresh token of this hop into its own path segment and sends it as the
// nsm-client-token / nsm-client-token-expires request metadata of the outgoing call (api.md §7.2).
#pragma once

#include <memory>

#include "core/networkservice.h"
#include "core/token.h"

namespace nsm::updatetoken {

// One per client chain: the server accepts the headers only when each appears exactly once.
class Client : public NetworkServiceClient {
 public:
  explicit Client(std::shared_ptr<const TokenGenerator> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

 private:
  std::shared_ptr<const TokenGenerator> tokens_;
};

inline std::shared_ptr<Client> NewClient(std::shared_ptr<const TokenGenerator> tokens) {
  return std::make_shared<Client>(std::move(tokens));
}

}  // namespace nsm::updatetoken
