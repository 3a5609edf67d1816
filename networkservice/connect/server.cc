#include "networkservice/connect/server.h"

#include "absl/strings/str_cat.h"

namespace nsm::connect {

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  PostponedContext postponed = ctx.Postpone();
  auto client_result = client_->Request(ctx, request, ClientNext(), CallOptions{});
  if (!client_result.ok()) return client_result.status();
  if (next.is_tail()) return client_result;  // nothing after us reads the request: no copy
  *request.mutable_connection() = *client_result;
  auto result = next.Request(ctx, request);
  if (!result.ok()) {
    auto [close_ctx, cancel] = postponed.Make();
    Connection established = *std::move(client_result);
    (void)client_->Close(close_ctx, established, ClientNext(), CallOptions{});
    cancel();
  }
  return result;
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  // The client chain changes the connection it closes (its path index, its mechanism...): with
  // nothing after connect, it may change the caller's; else it closes a copy.
  if (next.is_tail()) return client_->Close(ctx, conn, ClientNext(), CallOptions{});
  Connection client_conn = conn;
  absl::Status client_status = client_->Close(ctx, client_conn, ClientNext(), CallOptions{});
  absl::Status server_status = next.Close(ctx, conn);
  if (!server_status.ok() && !client_status.ok()) {
    return absl::Status(
        server_status.code(),
        absl::StrCat(server_status.message(), "; closing the next hop also failed: ",
                     absl::StatusCodeToString(client_status.code()), ": ",
                     client_status.message()));
  }
  return server_status.ok() ? client_status : server_status;
}

}  // namespace nsm::connect
