#include "networkservice/clienturl/client.h"

namespace nsm::clienturl {

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  return next.Request(ctx.WithValue(kClientUrlKey, url_), request, opts);
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  return next.Close(ctx.WithValue(kClientUrlKey, url_), conn, opts);
}

}  // namespace nsm::clienturl
