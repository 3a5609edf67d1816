#include "networkservice/updatepath/server.h"

#include "networkservice/updatepath/common.h"

namespace nsm::updatepath {

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  absl::StatusOr<uint32_t> caller = UpdatePath(*request.mutable_connection(), name_);
  if (!caller.ok()) return caller.status();
  PostponedContext rollback = ctx.Postpone();
  absl::StatusOr<Connection> conn = next.Request(ctx, request);
  if (!conn.ok()) return conn;
  if (absl::Status s = RestoreCallerFrame(*conn, *caller); !s.ok()) {
    // Downstream answered with a path we cannot hand back: undo what it created (§3.3 rule 3).
    auto [close_ctx, cancel] = rollback.Make();
    (void)next.Close(close_ctx, *conn);
    cancel();
    return s;
  }
  return conn;
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  if (absl::StatusOr<uint32_t> caller = UpdatePath(conn, name_); !caller.ok()) {
    return caller.status();
  }
  return next.Close(ctx, conn);
}

}  // namespace nsm::updatepath
