#include "networkservice/updatetoken/server.h"

#include "networkservice/updatetoken/common.h"

namespace nsm::updatetoken {

// Our own token first: it is the step that can fail, and it leaves the connection unchanged when
// it does; the caller's token never fails (missing metadata only leaves the segment as it was).
absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  Connection& conn = *request.mutable_connection();
  if (absl::Status s = SetOwnToken(tokens_.get(), ctx.peer(), conn); !s.ok()) return s;
  TakeCallerToken(ctx, conn);
  return next.Request(ctx, request);
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  if (absl::Status s = SetOwnToken(tokens_.get(), ctx.peer(), conn); !s.ok()) return s;
  TakeCallerToken(ctx, conn);
  return next.Close(ctx, conn);
}

}  // namespace nsm::updatetoken
