// begin server: serializes Request/Close/events of one connection id, closes with the last
// returned connection, hands out the event factory (chain-model.md §5.3).
#pragma once

#include <memory>

#include "core/executor.h"
#include "core/networkservice.h"
#include "networkservice/begin/event_factory.h"
#include "networkservice/begin/factory_table.h"

namespace nsm::begin {

class Server : public NetworkServiceServer {
 public:
  explicit Server(std::shared_ptr<ThreadPool> pool = DefaultThreadPool());

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  // Connections currently known (for leak checks).
  size_t size() const { return table_->size(); }

 private:
  std::shared_ptr<internal::FactoryTable> table_;
};

inline std::shared_ptr<Server> NewServer(std::shared_ptr<ThreadPool> pool = DefaultThreadPool()) {
  return std::make_shared<Server>(std::move(pool));
}

}  // namespace nsm::begin
