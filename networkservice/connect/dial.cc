#include "networkservice/connect/dial.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/fiber.h"
#include "core/grpc_transport.h"
#include "networkservice/clienturl/clienturl.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::connect {
namespace {

// How often a dial wait looks at the request's cancellation.
constexpr absl::Duration kCancelCheck = absl::Milliseconds(100);
// How long a channel that had already failed gets to connect again (see WaitReady).
constexpr absl::Duration kFailedChannelGrace = absl::Milliseconds(50);

}  // namespace

Dial::Dial(std::shared_ptr<ChannelPool> pool, DialOptions options)
    : pool_(std::move(pool)), options_(options) {}

absl::Status Dial::WaitReady(const Context& ctx, ClientConn& conn, absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) return absl::OkStatus();
  const auto& channel = conn.channel();
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  if (state == GRPC_CHANNEL_READY) return absl::OkStatus();
  const absl::Time start = absl::Now();
  absl::Status s;
  // On a fiber, a worker waits while the fiber parks (from the same start).
  fiber::Blocking([&] { s = WaitReadyFrom(ctx, conn, timeout, start); });
  return s;
}

absl::Status Dial::WaitReadyFrom(const Context& ctx, ClientConn& conn, absl::Duration timeout,
                                 absl::Time start) {
  const auto& channel = conn.channel();
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  absl::Duration bound = timeout;
  bool by_deadline = false;
  if (auto remaining = ctx.remaining(); remaining && *remaining < bound) {
    bound = std::max(*remaining, absl::ZeroDuration());
    by_deadline = true;
  }
  const absl::Time deadline = start + bound;
  // Dial failures say the hop could not be reached (forwarder_select demotes only those).
  auto unreachable = [&](absl::string_view why) {
    return MarkNextHopUnreachable(
        absl::UnavailableError(absl::StrCat("failed to dial ", conn.url().ToString(), " (target ",
                                            conn.target(), "): ", why)),
        clienturl::NextHopName(ctx));
  };
  // A channel still waiting out gRPC's reconnect backoff from an earlier failure tries again now
  // (the peer may have restarted); a connection attempt made during this wait that fails ends
  // the wait at once (refused: waiting the dial timeout would only delay heal).
  bool changed = false;  // a state change seen during this wait: an attempt was made
  // gRPC keeps a failed channel in TRANSIENT_FAILURE while it tries again (sticky), so no state
  // change tells a waiter that the new attempt failed too. A fresh connection on a channel of its
  // own answers that (ClientConn::Probe): refused → fail now; connected (the peer is back) → wait
  // for the shared channel like any connecting one; no answer within a short grace (a restarted
  // peer on this node answers in microseconds, a remote one keeps connecting in the background
  // for the next attempt) → fail then, not after the dial timeout.
  bool failed_before = state == GRPC_CHANNEL_TRANSIENT_FAILURE;
  absl::Time give_up = deadline;
  if (failed_before) {
    grpc::experimental::ChannelResetConnectionBackoff(channel.get());
    give_up = std::min(deadline, start + kFailedChannelGrace);
    switch (conn.Probe(give_up)) {
      case ClientConn::ProbeResult::kFailed:
        return unreachable(absl::StrCat(
            "the channel had failed and a fresh connection failed after ",
            absl::FormatDuration(absl::Now() - start), " (channel TRANSIENT_FAILURE)"));
      case ClientConn::ProbeResult::kConnected:
        // The shared channel may have retried before the peer was back: once more, now.
        grpc::experimental::ChannelResetConnectionBackoff(channel.get());
        failed_before = false;
        give_up = deadline;
        break;
      case ClientConn::ProbeResult::kUnknown:
        break;
    }
    state = channel->GetState(/*try_to_connect=*/true);
  }
  while (state != GRPC_CHANNEL_READY) {
    if (changed && state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      return unreachable(absl::StrCat("connection failed after ",
                                      absl::FormatDuration(absl::Now() - start),
                                      " (channel TRANSIENT_FAILURE)"));
    }
    if (ctx.cancelled()) {
      absl::Status err = ctx.Err();
      return absl::Status(err.code(),
                          absl::StrCat("dialing ", conn.url().ToString(), ": ", err.message(),
                                       " (channel ", ConnectivityStateName(state), ")"));
    }
    const absl::Time now = absl::Now();
    // Only while nothing moved: a channel that left TRANSIENT_FAILURE (CONNECTING) is making a
    // real attempt, which gets the whole dial timeout.
    if (failed_before && !changed && state == GRPC_CHANNEL_TRANSIENT_FAILURE && now >= give_up &&
        now < deadline) {
      return unreachable(
          absl::StrCat("the last connection attempt failed and another did not succeed within ",
                       absl::FormatDuration(kFailedChannelGrace), " (channel TRANSIENT_FAILURE)"));
    }
    if (now >= deadline) {
      if (by_deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "dialing ", conn.url().ToString(), ": request deadline reached after ",
            absl::FormatDuration(now - start), " (channel ", ConnectivityStateName(state), ")"));
      }
      return unreachable(absl::StrCat("not connected within the dial timeout of ",
                                      absl::FormatDuration(timeout), " (channel ",
                                      ConnectivityStateName(state), ")"));
    }
    const absl::Time wake = failed_before && !changed && now < give_up ? give_up : deadline;
    changed |=
        channel->WaitForStateChange(state, absl::ToChronoTime(std::min(wake, now + kCancelCheck)));
    state = channel->GetState(/*try_to_connect=*/true);
  }
  return absl::OkStatus();
}

absl::StatusOr<Connection> Dial::Request(const Context& ctx, NetworkServiceRequest& request,
                                         const ClientNext& next, const CallOptions& opts) {
  auto url = clienturl::FromContext(ctx);
  if (!url) return next.Request(ctx, request, opts);
  auto md = metadata::FromContext(ctx);
  std::shared_ptr<ClientConn> kept = md ? md->client.Load(kClientConnKey) : nullptr;

  auto target = url->GrpcDialTarget();
  if (!target.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dial: cannot dial ", url->ToString(), ": ", target.status().message()));
  }
  if (kept && kept->target() != *target) {
    // The next hop changed: tear the connection down at the old hop first (errors ignored).
    auto [close_ctx, cancel] = ctx.Postpone().Make();
    Connection old = request.connection();
    (void)next.Close(close_ctx.WithValue(kClientConnKey, kept), old, opts);
    cancel();
    md->client.Delete(kClientConnKey);
    kept = nullptr;
  }

  std::shared_ptr<ClientConn> conn = kept;
  if (!conn) {
    auto acquired = pool_->Acquire(*url);
    if (!acquired.ok()) {
      absl::Status s = acquired.status();
      return absl::Status(s.code(), absl::StrCat("dial: ", s.message()));
    }
    conn = *std::move(acquired);
  }
  if (absl::Status s = WaitReady(ctx, *conn, options_.dial_timeout); !s.ok()) return s;
  if (md && !kept) md->client.Put(kClientConnKey, conn);
  auto result = next.Request(ctx.WithValue(kClientConnKey, conn), request, opts);
  if (!result.ok() && md && !kept) {
    // A first Request that failed owns nothing downstream: release the channel.
    md->client.Delete(kClientConnKey);
  }
  return result;
}

absl::Status Dial::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                         const CallOptions& opts) {
  auto md = metadata::FromContext(ctx);
  std::shared_ptr<ClientConn> cc = md ? md->client.Load(kClientConnKey) : nullptr;
  absl::Status dial_status;
  if (!cc) {
    if (auto url = clienturl::FromContext(ctx)) {
      auto acquired = pool_->Acquire(*url);
      if (acquired.ok()) {
        cc = *std::move(acquired);
      } else {
        dial_status = absl::Status(acquired.status().code(),
                                   absl::StrCat("dial: ", acquired.status().message()));
      }
    }
  }
  if (cc) dial_status = WaitReady(ctx, *cc, options_.dial_timeout);
  // Close always continues, so every element after dial releases its state (chain-model.md §3.3
  // rule 5); without a ready connection the call to the next hop is skipped.
  absl::Status s = cc && dial_status.ok()
                       ? next.Close(ctx.WithValue(kClientConnKey, cc), conn, opts)
                       : next.Close(ctx, conn, opts);
  if (md) md->client.Delete(kClientConnKey);
  return dial_status.ok() ? s : dial_status;
}

}  // namespace nsm::connect
