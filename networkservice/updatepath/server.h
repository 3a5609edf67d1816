// updatepath server: the first functional element of every server chain; gives the hop its own
// path segment and connection id and restores the caller's frame on return (chain-model.md §5.1).
#pragma once

#include <memory>
#include <string>

#include "core/networkservice.h"

namespace nsm::updatepath {

class Server : public NetworkServiceServer {
 public:
  explicit Server(std::string name) : name_(std::move(name)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  // Same path update as Request; the caller's frame is not restored (Close returns nothing).
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

inline std::shared_ptr<Server> NewServer(std::string name) {
  return std::make_shared<Server>(std::move(name));
}

}  // namespace nsm::updatepath
