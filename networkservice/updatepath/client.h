// updatepath client: the client-chain form of updatepath; a client chain with the same name as its
// enclosing server chain reuses the hop's segment and id (chain-model.md §5.1, nsmgr.md §3.2).
#pragma once

#include <memory>
#include <string>

#include "core/networkservice.h"

namespace nsm::updatepath {

class Client : public NetworkServiceClient {
 public:
  explicit Client(std::string name) : name_(std::move(name)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

inline std::shared_ptr<Client> NewClient(std::string name) {
  return std::make_shared<Client>(std::move(name));
}

}  // namespace nsm::updatepath
