// trimpath server: an end hop drops the path segments after its own on the way back, unless a
// client of this hop (trimpath client) marked the connection as passed on (chain-model.md §5.5).
#pragma once

#include <memory>

#include "core/networkservice.h"

namespace nsm::trimpath {

// Reads (and clears) the mark from the connection's client metadata; without a metadata element
// nothing can have marked it, so the path is trimmed.
class Server : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;
};

inline std::shared_ptr<Server> NewServer() { return std::make_shared<Server>(); }

}  // namespace nsm::trimpath
