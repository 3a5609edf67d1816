#include "networkservice/clienturl/server.h"

namespace nsm::clienturl {

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  return next.Request(ctx.WithValue(kClientUrlKey, url_), request);
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return next.Close(ctx.WithValue(kClientUrlKey, url_), conn);
}

}  // namespace nsm::clienturl
