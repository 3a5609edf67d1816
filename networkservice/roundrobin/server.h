// roundrobin server: tries the candidates found by discover in round-robin order per network
// service, moving on to the next candidate when one fails (nsmgr.md §6.4, DESIGN.md §7).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/networkservice.h"

namespace nsm::roundrobin {

// Request: a client URL already in the context → pass-through. Otherwise, for each of the n
// candidates at most once, starting at this service's counter (incremented per attempt, also on
// failure): put the candidate's URL into the context, set network_service_endpoint_name, and run
// the rest of the chain on a copy of the request (the last candidate: on the request itself, its
// endpoint name put back if it fails). The first success is returned; when all fail the error
// names every candidate tried, its URL and why it failed. Close: pass-through.
class Server : public NetworkServiceServer {
 public:
  // Counters are kept for at most this many services; beyond it they start over (order only).
  static constexpr size_t kMaxServices = 4096;

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

 private:
  uint64_t Take(const std::string& service);

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, uint64_t> counters_ ABSL_GUARDED_BY(mu_);
};

inline std::shared_ptr<Server> NewServer() { return std::make_shared<Server>(); }

}  // namespace nsm::roundrobin
