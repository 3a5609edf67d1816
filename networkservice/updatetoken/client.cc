#include "networkservice/updatetoken/client.h"

#include "networkservice/updatetoken/common.h"

namespace nsm::updatetoken {

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  Token token;
  if (absl::Status s = SetOwnToken(tokens_.get(), Peer{}, *request.mutable_connection(), &token);
      !s.ok()) {
    return s;
  }
  return next.Request(ctx, request, WithTokenMetadata(opts, token));
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  Token token;
  if (absl::Status s = SetOwnToken(tokens_.get(), Peer{}, conn, &token); !s.ok()) return s;
  return next.Close(ctx, conn, WithTokenMetadata(opts, token));
}

}  // namespace nsm::updatetoken
