// connect server: runs a client chain (dial ... connect client) towards the next hop, then the rest
// of the server chain; rolls the client side back when the server side fails (nsmgr.md §4.8).
#pragma once

#include <memory>

#include "core/networkservice.h"

namespace nsm::connect {

// Request: client chain first (its result becomes request.connection for the elements after
// this one), then next; if next fails, the client side is closed with a postponed context and
// next's error returned. Last in its chain, it answers with the client chain's result directly.
// Close: client chain Close, then next.Close, always both; when both fail the server error is
// returned with the client error appended. Last in its chain, the client chain closes the
// caller's connection itself.
class Server : public NetworkServiceServer {
 public:
  explicit Server(std::shared_ptr<NetworkServiceClient> client) : client_(std::move(client)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

 private:
  std::shared_ptr<NetworkServiceClient> client_;
};

inline std::shared_ptr<Server> NewServer(std::shared_ptr<NetworkServiceClient> client) {
  return std::make_shared<Server>(std::move(client));
}

}  // namespace nsm::connect
