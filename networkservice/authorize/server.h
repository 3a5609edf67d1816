// authorize server: checks the policies on the left side of the path of each Request/Close from a
// peer; denial is PERMISSION_DENIED "no sufficient privileges" (nsmgr.md §4.2, §13; api.md §7.2).
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/networkservice.h"
#include "networkservice/authorize/policy.h"

namespace nsm::authorize {

// Calls without a peer (local calls) are not checked. With policies, the server remembers which
// peer established each connection (until its Close) so that the owner's Close passes expiry
// checks. Place it after updatepath (ids are the hop's) and begin.
class Server : public NetworkServiceServer {
 public:
  explicit Server(Policies policies = Any()) : policies_(std::move(policies)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  // Connections whose owner is remembered (for leak checks).
  size_t owners() const;

 private:
  Policies policies_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> owners_ ABSL_GUARDED_BY(mu_);  // id -> owner key
};

inline std::shared_ptr<Server> NewServer(Policies policies = Any()) {
  return std::make_shared<Server>(std::move(policies));
}

}  // namespace nsm::authorize
