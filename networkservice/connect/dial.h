// dial client: dials the URL in the context over a shared channel, with a dial timeout apart from
// the request deadline, and keeps it in the connection's metadata (nsmgr.md §4.9).
#pragma once

#include <memory>

#include "absl/time/time.h"
#include "core/networkservice.h"
#include "networkservice/connect/channel_pool.h"

namespace nsm::connect {

struct DialOptions {
  // How long to wait for the channel to become ready before a call (real time: it bounds network
  // work). Also bounded by the request deadline. Zero: do not wait, let the call itself fail fast.
  absl::Duration dial_timeout = absl::ZeroDuration();
};

// Request: no client URL in the context → pass-through. Otherwise acquire the pool's connection
// for the URL (a refresh reuses the one kept in client metadata; when the URL changed, the
// connection is first closed at the old hop, errors ignored), wait until it is ready (UNAVAILABLE
// naming the URL on dial timeout or as soon as a connection attempt fails, e.g. refused; a channel
// found failed is answered by a fresh connection's outcome (ClientConn::Probe), within 50 ms;
// DEADLINE_EXCEEDED when the request deadline ends the wait), put
// it into the context and client metadata, and call next. A failed first Request releases it.
// Close: use the kept connection (or the URL in the context), wait as above, call next.Close in
// any case (without a connection when dialling failed; the dial error is then returned), and
// release the connection.
class Dial : public NetworkServiceClient {
 public:
  explicit Dial(std::shared_ptr<ChannelPool> pool, DialOptions options = {});

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

  // Waits (real time, bounded by `timeout` and the context's deadline) for `conn` to be ready.
  static absl::Status WaitReady(const Context& ctx, ClientConn& conn, absl::Duration timeout);

 private:
  // The wait itself, which blocks its thread; its dial timeout counts from `start`.
  static absl::Status WaitReadyFrom(const Context& ctx, ClientConn& conn, absl::Duration timeout,
                                    absl::Time start);
  std::shared_ptr<ChannelPool> pool_;
  DialOptions options_;
};

inline std::shared_ptr<Dial> NewDial(std::shared_ptr<ChannelPool> pool, DialOptions options = {}) {
  return std::make_shared<Dial>(std::move(pool), options);
}

}  // namespace nsm::connect
