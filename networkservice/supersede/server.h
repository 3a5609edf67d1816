// supersede: at an endpoint, a new connection from the same client connection (the first path
// segment's name and id) closes the one it replaces, e.g. after heal reselected the forwarder.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/networkservice.h"

namespace nsm::supersede {

// Heal through another forwarder gives the endpoint a new connection id for the same client
// connection, and the old connection's Close died with the old forwarder. This element, placed
// after begin in an endpoint's chain (it uses begin's event factory), remembers which connection
// id serves each client connection; when a Request succeeds for a different id of the same client
// connection, the old connection is closed through begin (its whole chain: addresses, timers).
// Connections with a one-segment path (the client is this hop) are left alone. The map entry ends
// with the connection's Close (including the timeout's).
class Server : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  // Client connections tracked (tests) and connections closed because they were superseded.
  size_t size() const;
  uint64_t superseded() const;

 private:
  struct Holder;
  mutable absl::Mutex mu_;
  // client key → the connection serving it; connection id → client key.
  absl::flat_hash_map<std::string, std::shared_ptr<Holder>> by_client_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> by_id_ ABSL_GUARDED_BY(mu_);
  uint64_t superseded_ ABSL_GUARDED_BY(mu_) = 0;
};

inline std::shared_ptr<Server> NewServer() { return std::make_shared<Server>(); }

}  // namespace nsm::supersede
