// trimpath client: marks in the connection's client metadata that this hop passed the request on,
// so the hop's trimpath server keeps the downstream segments (chain-model.md §5.5).
#pragma once

#include <memory>

#include "core/networkservice.h"

namespace nsm::trimpath {

class Client : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;
};

inline std::shared_ptr<Client> NewClient() { return std::make_shared<Client>(); }

}  // namespace nsm::trimpath
