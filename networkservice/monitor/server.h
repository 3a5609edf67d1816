// monitor server: keeps the hop's ConnectionStore in step with the chain — UPDATE after a
// successful Request, DOWN after a failed refresh, DELETE after Close (nsmgr.md §4.4, §13.6).
#pragma once

#include <memory>

#include "core/networkservice.h"
#include "networkservice/monitor/store.h"

namespace nsm::monitor {

// Place it after metadata (nsmgr.md §3.1 S8). It puts the store into the context, so a monitor
// client later in the hop (inside connect) republishes the next hop's events into it; when such a
// client watches the connection, the Request's UPDATE goes through that watch (a stream that broke
// while the Request was returning still yields DOWN).
class Server : public NetworkServiceServer {
 public:
  explicit Server(std::shared_ptr<ConnectionStore> store) : store_(std::move(store)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  const std::shared_ptr<ConnectionStore>& store() const { return store_; }

 private:
  std::shared_ptr<ConnectionStore> store_;
};

inline std::shared_ptr<Server> NewServer(std::shared_ptr<ConnectionStore> store) {
  return std::make_shared<Server>(std::move(store));
}

}  // namespace nsm::monitor
