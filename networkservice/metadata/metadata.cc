#include "networkservice/metadata/metadata.h"

namespace nsm::metadata {

absl::StatusOr<Connection> Table::Request(
    const Context& ctx, NetworkServiceRequest& request,
    const std::function<absl::StatusOr<Connection>(const Context&)>& next) {
  if (FromContext(ctx)) return next(ctx);
  const std::string id = request.connection().id();
  std::shared_ptr<MetaData> md;
  bool established = true;
  {
    absl::MutexLock lock(&mu_);
    auto& slot = entries_[id];
    if (!slot) {
      slot = std::make_shared<MetaData>();
      established = false;
    }
    md = slot;
  }
  auto result = next(ctx.WithValue(kMetaDataKey, md));
  if (!result.ok() && !established) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it != entries_.end() && it->second == md) entries_.erase(it);
  }
  return result;
}

absl::Status Table::Close(const Context& ctx, Connection& conn,
                          const std::function<absl::Status(const Context&)>& next) {
  if (FromContext(ctx)) return next(ctx);
  std::shared_ptr<MetaData> md;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(conn.id());
    if (it != entries_.end()) {
      md = std::move(it->second);
      entries_.erase(it);
    }
  }
  if (!md) md = std::make_shared<MetaData>();
  return next(ctx.WithValue(kMetaDataKey, md));
}

size_t Table::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  return table_.Request(ctx, request, [&](const Context& c) { return next.Request(c, request); });
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return table_.Close(ctx, conn, [&](const Context& c) { return next.Close(c, conn); });
}

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  return table_.Request(ctx, request,
                        [&](const Context& c) { return next.Request(c, request, opts); });
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  return table_.Close(ctx, conn, [&](const Context& c) { return next.Close(c, conn, opts); });
}

}  // namespace nsm::metadata
