#include "networkservice/updatepath/client.h"

#include "networkservice/updatepath/common.h"

namespace nsm::updatepath {

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  absl::StatusOr<uint32_t> caller = UpdatePath(*request.mutable_connection(), name_);
  if (!caller.ok()) return caller.status();
  PostponedContext rollback = ctx.Postpone();
  absl::StatusOr<Connection> conn = next.Request(ctx, request, opts);
  if (!conn.ok()) return conn;
  if (absl::Status s = RestoreCallerFrame(*conn, *caller); !s.ok()) {
    auto [close_ctx, cancel] = rollback.Make();
    (void)next.Close(close_ctx, *conn, opts);
    cancel();
    return s;
  }
  return conn;
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  if (absl::StatusOr<uint32_t> caller = UpdatePath(conn, name_); !caller.ok()) {
    return caller.status();
  }
  return next.Close(ctx, conn, opts);
}

}  // namespace nsm::updatepath
