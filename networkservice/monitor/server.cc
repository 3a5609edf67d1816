#include "networkservice/monitor/server.h"

#include "networkservice/metadata/metadata.h"
#include "networkservice/monitor/watch.h"

namespace nsm::monitor {
namespace {

std::shared_ptr<Watch> CurrentWatch(const Context& ctx) {
  auto md = metadata::FromContext(ctx);
  if (!md) return nullptr;
  auto handle = md->client.Load(kWatchKey);
  return handle ? handle->watch : nullptr;
}

}  // namespace

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  const std::string id = request.connection().id();
  auto result = next.Request(ctx.WithValue(kStoreKey, store_), request);
  if (!result.ok()) {
    // A refresh of an established connection failed: say so, so the client heals (§13.6).
    if (auto stored = store_->Get(id)) {
      stored->set_state(::connection::State::DOWN);
      (void)store_->Update(*stored);
    }
    return result;
  }
  // A Request that succeeded established the connection, whatever state the caller sent (DOWN
  // from a heal, RESELECT_REQUESTED or REFRESH_REQUESTED): this hop and the hops before it hold
  // it UP.
  result->set_state(::connection::State::UP);
  if (result->id().empty()) return result;  // nothing to key it by (no updatepath before us)
  if (auto watch = CurrentWatch(ctx)) {
    watch->PublishResult(*result, /*create=*/true);
  } else {
    (void)store_->Update(*result);
  }
  return result;
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  if (auto md = metadata::FromContext(ctx)) md->client.Delete(kWatchKey);  // cancels the watch
  absl::Status s = next.Close(ctx.WithValue(kStoreKey, store_), conn);
  (void)store_->Delete(conn);
  return s;
}

}  // namespace nsm::monitor
