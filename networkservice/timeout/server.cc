#include "networkservice/timeout/server.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "api/path.h"
#include "networkservice/begin/event_factory.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::timeout {
namespace {

// The connection's armed timer. Destroying it stops the timer and cancels the context that a
// Close event it already posted checks, so a replaced or disarmed timer never closes anything.
struct Armed {
  std::unique_ptr<Timer> timer;
  Context::CancelFunc cancel;
  ~Armed() {
    if (timer) timer->Stop();
    if (cancel) cancel();
  }
};

const TypedKey<Armed> kArmedKey{"timeout.armed"};

absl::Status CheckExpires(const Connection& conn) {
  const connection::PathSegment* prev = api::PreviousSegment(conn);
  if (prev == nullptr || !prev->has_expires()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "expiration for the previous path segment cannot be nil: connection %s has path index %d "
        "of %d segments and %s",
        conn.id(), conn.path().index(), conn.path().path_segments_size(),
        prev == nullptr ? "no previous segment" : "no expires in the previous segment"));
  }
  return api::ValidateTimestamp(prev->expires(), "connection.path.path_segments[index-1].expires");
}

}  // namespace

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  std::shared_ptr<metadata::MetaData> md = metadata::FromContext(ctx);
  std::shared_ptr<begin::EventFactory> events = begin::FromContext(ctx);
  if (md == nullptr || events == nullptr) {
    return absl::FailedPreconditionError(
        "timeout: the chain has no begin and metadata element before timeout");
  }
  // The Request's own timeout is subtracted from the expiry (v1.7.1): the refresh that should
  // keep the connection needs that long to come through.
  const absl::Duration request_timeout =
      std::max(ctx.remaining().value_or(absl::ZeroDuration()), absl::ZeroDuration());
  PostponedContext rollback = ctx.Postpone();

  absl::StatusOr<Connection> conn = next.Request(ctx, request);
  if (!conn.ok()) return conn;  // the previous timer (refresh failure) stays as it is

  if (absl::Status bad = CheckExpires(*conn); !bad.ok()) {
    auto [close_ctx, cancel] = rollback.Make();
    (void)next.Close(close_ctx, *conn);
    cancel();
    return bad;
  }
  const absl::Time fire_at =
      api::FromProtoTimestamp(api::PreviousSegment(*conn)->expires()) - request_timeout;

  auto armed = std::make_shared<Armed>();
  // Only its cancellation matters: a bare context, so the pending callback holds no clock or
  // connection values (nothing of the connection outlives it through the clock's queue).
  auto [cancel_ctx, cancel] = Context().WithCancel();
  armed->cancel = std::move(cancel);
  std::weak_ptr<begin::EventFactory> weak_events = events;
  armed->timer = ctx.clock().At(fire_at, [weak_events, cancel_ctx = cancel_ctx] {
    if (cancel_ctx.cancelled()) return;
    std::shared_ptr<begin::EventFactory> factory = weak_events.lock();
    if (factory == nullptr) return;
    begin::EventOptions opts;
    opts.cancel_ctx = cancel_ctx;
    factory->Close(std::move(opts));  // runs on begin's executor; the timer callback stays short
  });
  std::shared_ptr<Armed> previous = md->server.LoadAndDelete(kArmedKey);
  md->server.Put(kArmedKey, std::move(armed));
  previous.reset();  // stops the old timer
  return conn;
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  absl::Status status = next.Close(ctx, conn);
  // Disarm even when the Close failed: begin forgets the connection either way, so a timer kept
  // for a retry would find nothing to close.
  if (std::shared_ptr<metadata::MetaData> md = metadata::FromContext(ctx)) {
    md->server.Delete(kArmedKey);
  }
  return status;
}

}  // namespace nsm::timeout
