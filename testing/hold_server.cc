#include "testing/hold_server.h"

namespace nsm::testing {

absl::StatusOr<Connection> HoldServer::Request(const Context& ctx, NetworkServiceRequest& request,
                                               const ServerNext& next) {
  if (absl::Status s = gate_.Pass(ctx); !s.ok()) return s;
  return next.Request(ctx, request);
}

absl::Status HoldServer::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return next.Close(ctx, conn);
}

}  // namespace nsm::testing
