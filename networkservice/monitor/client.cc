#include "networkservice/monitor/client.h"

#include "networkservice/connect/channel_pool.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::monitor {

Client::Client(std::shared_ptr<ConnectionStore> store, WatchOptions options)
    : own_store_(std::move(store)), watches_(std::make_shared<WatchSet>(std::move(options))) {}

Client::~Client() { watches_->CancelAll(absl::Seconds(5)); }

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  auto result = next.Request(ctx, request, opts);
  if (!result.ok()) return result;  // a failed refresh keeps watching (monitoring != refresh)
  std::shared_ptr<ConnectionStore> store = own_store_ ? own_store_ : ctx.Value(kStoreKey);
  auto md = metadata::FromContext(ctx);
  auto cc = connect::ClientConnFromContext(ctx);
  if (!store || !md || !cc || result->id().empty()) {
    if (own_store_ && !result->id().empty()) (void)own_store_->Update(*result);
    return result;
  }
  auto handle = md->client.Load(kWatchKey);
  if (!handle || !handle->watch->Serves(cc.get(), *result)) {
    handle = std::make_shared<WatchHandle>(Watch::Start(cc, *result, store, watches_));
    md->client.Put(kWatchKey, handle);  // the previous handle, if any, cancels its watch
  } else {
    handle->watch->Replied();
  }
  if (own_store_) handle->watch->PublishResult(*result, /*create=*/true);
  return result;
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  if (auto md = metadata::FromContext(ctx)) md->client.Delete(kWatchKey);  // cancels the watch
  absl::Status s = next.Close(ctx, conn, opts);
  if (own_store_) (void)own_store_->Delete(conn);
  return s;
}

}  // namespace nsm::monitor
