// begin server: serializes Request/Close/events of one connection id, closes with the last
// returned connection, hands out the event factory (chain-model.md §5.3).
#pragma once

#include <memory>

#include "core/executor.h"
#include "core/networkservice.h"
#include "networkservice/begin/event_factory.h"
#include "networkservice/begin/factory_table.h"

namespace nsm::begin {

struct ServerOptions {
  // A Close for a connection this hop does not hold still runs the rest of the chain with the
  // caller's connection (default: answered OK at once, as NSM). For passthrough hops that route a
  // Close by its path after a restart (the nsmgr; DESIGN.md §7).
  bool close_unknown = false;
};

class Server : public NetworkServiceServer {
 public:
  explicit Server(std::shared_ptr<ThreadPool> pool = DefaultThreadPool(),
                  ServerOptions options = {});

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  // Connections currently known (for leak checks).
  size_t size() const { return table_->size(); }

 private:
  std::shared_ptr<internal::FactoryTable> table_;
  ServerOptions options_;
};

inline std::shared_ptr<Server> NewServer(std::shared_ptr<ThreadPool> pool = DefaultThreadPool(),
                                         ServerOptions options = {}) {
  return std::make_shared<Server>(std::move(pool), options);
}

}  // namespace nsm::begin
