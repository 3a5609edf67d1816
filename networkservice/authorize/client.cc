#include "networkservice/authorize/client.h"

#include "absl/strings/str_cat.h"

namespace nsm::authorize {

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  if (policies_.empty()) return next.Request(ctx, request, opts);
  PostponedContext rollback = ctx.Postpone();
  absl::StatusOr<Connection> conn = next.Request(ctx, request, opts);
  if (!conn.ok()) return conn;
  const Peer server;  // unknown: the transport does not report it
  const Input input{Input::Op::kRequest, &conn->path(), &server, false};
  if (AllAllow(policies_, ctx, input)) return conn;
  // The server accepted but we do not accept its answer: undo what it created (§3.3 rule 3).
  auto [close_ctx, cancel] = rollback.Make();
  absl::Status closed = next.Close(close_ctx, *conn, opts);
  cancel();
  if (!closed.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat(kDeniedMessage, "; connection closed with error: ", closed.message()));
  }
  return absl::PermissionDeniedError(kDeniedMessage);
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  if (!policies_.empty()) {
    const Peer server;
    const Input input{Input::Op::kClose, &conn.path(), &server, true};
    if (!AllAllow(policies_, ctx, input)) return absl::PermissionDeniedError(kDeniedMessage);
  }
  return next.Close(ctx, conn, opts);
}

}  // namespace nsm::authorize
