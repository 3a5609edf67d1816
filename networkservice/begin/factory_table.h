// begin internals shared by the server and the client element: the per-connection event factory
// and the id -> factory table (chain-model.md §5.3, with the v1.6.0 lookup-only re-check).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/executor.h"
#include "core/networkservice.h"
#include "core/packed.h"
#include "google/protobuf/arena.h"
#include "networkservice/begin/event_factory.h"

namespace nsm::begin::internal {

// How to call the rest of the chain from begin, for either side.
struct Downstream {
  std::function<absl::StatusOr<Connection>(const Context&, NetworkServiceRequest&)> request;
  std::function<absl::Status(const Context&, Connection&)> close;
};

class FactoryTable;

class Factory : public EventFactory, public std::enable_shared_from_this<Factory> {
 public:
  enum class State { kZero, kEstablished, kClosed };

  Factory(std::string id, std::weak_ptr<FactoryTable> table, std::shared_ptr<ThreadPool> pool)
      : id_(std::move(id)), table_(std::move(table)), executor_(std::move(pool)) {}

  std::shared_ptr<Completion> Request(EventOptions opts) override;
  std::shared_ptr<Completion> Close(EventOptions opts) override;

  // The following run on the executor (one at a time per connection).
  SerialExecutor& executor() { return executor_; }
  State state = State::kZero;
  // Held per connection for its whole life, read back only by events and refreshes: packed.
  std::optional<Packed<NetworkServiceRequest>> request;  // last successful, connection = returned
  Downstream downstream;                                 // rest of the chain after begin
  PostponedContext ctx_factory;                          // values of the last successful request
  // begin client: what the last outside Request returned to its caller, the baseline of its edits.
  // While `track_returned` and unset it is `request`'s connection (packed once, not twice); an
  // event that replaces the request sets it first.
  std::optional<Packed<Connection>> returned;
  bool track_returned = false;
  const std::string& id() const { return id_; }
  void Forget();  // drop from the table if still the current factory for the id
  // The stored request's connection (what the last Request returned), unpacked onto `arena`:
  // what a Close closes (chain-model.md §3.4).
  Connection& StoredConnection(google::protobuf::Arena& arena) const;
  // After a Close: nothing stored any more, and out of the table.
  void Closed();

 private:
  std::string id_;
  std::weak_ptr<FactoryTable> table_;
  SerialExecutor executor_;
};

class FactoryTable : public std::enable_shared_from_this<FactoryTable> {
 public:
  explicit FactoryTable(std::shared_ptr<ThreadPool> pool) : pool_(std::move(pool)) {}

  std::shared_ptr<Factory> GetOrCreate(const std::string& id);
  std::shared_ptr<Factory> Lookup(const std::string& id) const;
  void RemoveIf(const std::string& id, const Factory* f);
  size_t size() const;

  // The begin algorithm; `merge` (client side) rewrites the request of an existing connection.
  absl::StatusOr<Connection> Request(
      const Context& ctx, NetworkServiceRequest& request, Downstream downstream,
      const std::function<void(const Factory&, NetworkServiceRequest&)>& merge);
  // `close_unknown`: a Close for an id without an established connection still runs downstream
  // with the caller's connection (serialized with Requests for the id); otherwise it does nothing.
  absl::Status Close(const Context& ctx, Connection& conn, Downstream downstream,
                     bool close_unknown = false);

 private:
  std::shared_ptr<ThreadPool> pool_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Factory>> factories_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nsm::begin::internal
