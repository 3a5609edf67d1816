// updatetoken server: records the caller's token (request metadata) in the previous path segment
// and a fresh token of this hop in its own segment, on Request and Close (nsmgr.md §4.1).
#pragma once

#include <memory>

#include "core/networkservice.h"
#include "core/token.h"

namespace nsm::updatetoken {

class Server : public NetworkServiceServer {
 public:
  explicit Server(std::shared_ptr<const TokenGenerator> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

 private:
  std::shared_ptr<const TokenGenerator> tokens_;
};

inline std::shared_ptr<Server> NewServer(std::shared_ptr<const TokenGenerator> tokens) {
  return std::make_shared<Server>(std::move(tokens));
}

}  // namespace nsm::updatetoken
