// monitor client: after a successful Request, watches the connection at the next hop over the
// dialled channel and republishes its changes (DOWN when the stream breaks) (nsmgr.md §4.4, §7.5).
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
class Client : public NetworkServiceClient {
 public:
  explicit Client(std::shared_ptr<ConnectionStore> store = nullptr);
  // Cancels every open watch and waits (bounded) for their streams to end.
  ~Client() override;

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

  // Monitor streams currently open to next hops (for metrics and tests).
  size_t open_streams() const { return watches_->open(); }

 private:
  std::shared_ptr<ConnectionStore> own_store_;
  std::shared_ptr<WatchSet> watches_ = std::make_shared<WatchSet>();
};

inline std::shared_ptr<Client> NewClient(std::shared_ptr<ConnectionStore> store = nullptr) {
  return std::make_shared<Client>(std::move(store));
}

}  // namespace nsm::monitor
