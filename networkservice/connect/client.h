// connect client: the last element of a client chain; performs NetworkService.Request/Close on the
// connection dial put into the context (nsmgr.md §3.2 C14, §4.9).
#pragma once

#include <memory>

#include "core/networkservice.h"
#include "networkservice/connect/channel_pool.h"

namespace nsm::connect {

// Without a dialled connection in the context: FAILED_PRECONDITION naming what is missing (no
// client URL, or dial did not run / could not dial it). It never calls next.
class Client : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;
};

inline std::shared_ptr<Client> NewClient() { return std::make_shared<Client>(); }

}  // namespace nsm::connect
