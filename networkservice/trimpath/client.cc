#include "networkservice/trimpath/client.h"

#include "networkservice/metadata/metadata.h"
#include "networkservice/trimpath/common.h"

namespace nsm::trimpath {

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  absl::StatusOr<Connection> conn = next.Request(ctx, request, opts);
  if (!conn.ok()) return conn;
  if (std::shared_ptr<metadata::MetaData> md = metadata::FromContext(ctx)) {
    md->client.Put(kDontTrimKey, std::make_shared<DontTrim>());
  }
  return conn;
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  return next.Close(ctx, conn, opts);
}

}  // namespace nsm::trimpath
