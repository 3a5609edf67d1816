// authorize client: checks the policies on the path the server returned; on denial closes what
// the server created and answers PERMISSION_DENIED "no sufficient privileges" (nsmgr.md §4.2).
#pragma once

#include <memory>

#include "core/networkservice.h"
#include "networkservice/authorize/policy.h"

namespace nsm::authorize {

// The client owns its connections: its Close is checked with by_owner = true.
class Client : public NetworkServiceClient {
 public:
  explicit Client(Policies policies = Any()) : policies_(std::move(policies)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

 private:
  Policies policies_;
};

inline std::shared_ptr<Client> NewClient(Policies policies = Any()) {
  return std::make_shared<Client>(std::move(policies));
}

}  // namespace nsm::authorize
