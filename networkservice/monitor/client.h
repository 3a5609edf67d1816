// monitor client: after a successful Request, watches the connection at the next hop over one
// stream shared per dialled channel and republishes its changes (DOWN on a break) (nsmgr.md §4.4).
#pragma once

#include <memory>

#include "core/networkservice.h"
#include "networkservice/monitor/store.h"
#include "networkservice/monitor/watch.h"

namespace nsm::monitor {

// Place it after dial (it reads the dialled connection from the context) and after metadata (the
// watch lives in the connection's client metadata; without metadata nothing is watched).
// Events go to the store of the hop's monitor server (from the context), or to `store` when one
// is given: then this client also publishes the connection itself on Request and Close.
// A refresh keeps the watch when it still serves the connection; Close cancels it first.
//
// Streams: one MonitorConnections stream per dialled channel (selector [{name: own segment
// name}]), opened by the first connection watched over it and cancelled `stream_linger` after the
// last (the next connection in between reuses it); its events are routed by our segment's id to
// each connection's filter. DELETE/DOWN on the shared stream is only a hint (it may be the stale
// DELETE of a Close a reselect made just before a new Request to the same next hop): it is
// confirmed by a short stream with selector [{name, id}] whose initial state is authoritative. A
// next hop refusing the shared selector gets one stream per connection. Details in watch.h; the
// reasoning in healing/README.md "Choices".
class Client : public NetworkServiceClient {
 public:
  explicit Client(std::shared_ptr<ConnectionStore> store = nullptr, WatchOptions options = {});
  // Cancels every open watch and waits (bounded) for their streams to end.
  ~Client() override;

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

  // Monitor streams currently open to next hops (for metrics and tests): shared, confirmation and
  // fallback streams; no longer one per connection.
  size_t open_streams() const { return watches_->open(); }
  // Streams started so far (of every kind).
  uint64_t started_streams() const { return watches_->started(); }
  // Next-hop channels with at least one watched connection or a lingering stream.
  size_t open_channels() const { return watches_->channels(); }

 private:
  std::shared_ptr<ConnectionStore> own_store_;
  std::shared_ptr<WatchSet> watches_;
};

inline std::shared_ptr<Client> NewClient(std::shared_ptr<ConnectionStore> store = nullptr,
                                         WatchOptions options = {}) {
  return std::make_shared<Client>(std::move(store), std::move(options));
}

}  // namespace nsm::monitor
