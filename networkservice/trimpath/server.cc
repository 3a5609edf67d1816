#include "networkservice/trimpath/server.h"

#include "networkservice/metadata/metadata.h"
#include "networkservice/trimpath/common.h"

namespace nsm::trimpath {

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  absl::StatusOr<Connection> conn = next.Request(ctx, request);
  if (!conn.ok()) return conn;
  if (std::shared_ptr<metadata::MetaData> md = metadata::FromContext(ctx)) {
    if (md->client.LoadAndDelete(kDontTrimKey) != nullptr) return conn;
  }
  const int64_t keep = int64_t{conn->path().index()} + 1;
  auto* segments = conn->mutable_path()->mutable_path_segments();
  if (keep < segments->size()) {
    segments->DeleteSubrange(static_cast<int>(keep), segments->size() - static_cast<int>(keep));
  }
  return conn;
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return next.Close(ctx, conn);
}

}  // namespace nsm::trimpath
