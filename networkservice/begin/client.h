// begin client: as the begin server, plus a Request on a known connection starts from the stored
// connection (the caller may change the endpoint name and extra_context), chain-model.md §5.3.
#pragma once

#include <memory>

#include "core/executor.h"
#include "core/networkservice.h"
#include "networkservice/begin/event_factory.h"
#include "networkservice/begin/factory_table.h"

namespace nsm::begin {

class Client : public NetworkServiceClient {
 public:
  explicit Client(std::shared_ptr<ThreadPool> pool = DefaultThreadPool());

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

  size_t size() const { return table_->size(); }

 private:
  std::shared_ptr<internal::FactoryTable> table_;
};

inline std::shared_ptr<Client> NewClient(std::shared_ptr<ThreadPool> pool = DefaultThreadPool()) {
  return std::make_shared<Client>(std::move(pool));
}

// The merge rule of begin client, exposed for tests: start from `stored` (the latest connection,
// refreshed or healed since); what the caller edited in `requested` relative to `returned` (what it
// got back last) is taken: a changed endpoint name, and for extra_context keys of `returned`,
// changed values and removed keys. So a caller re-sending the connection it holds, stale after a
// heal, refreshes the healed one (chain-model.md §5.3; sdk begin mergeConnection).
Connection MergeConnection(const Connection& returned, const Connection& requested,
                           const Connection& stored);

}  // namespace nsm::begin
