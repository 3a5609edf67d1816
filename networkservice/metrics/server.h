// metrics server element: counts a hop's Requests, refreshes and Closes by result and network
// service, times them, and keeps the active connections gauge (issue #8, docs/metrics.md).
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/networkservice.h"
#include "networkservice/metrics/stats.h"

namespace nsm::metrics {

// Which name the `forwarder` label of the active connections gauge gets.
enum class ForwarderLabel {
  kNone,     // "" (endpoints, clients)
  kNextHop,  // the path segment after this hop's (an nsmgr: the forwarder it selected)
  kThisHop,  // this hop's own segment (a forwarder)
};

struct Options {
  ForwarderLabel forwarder = ForwarderLabel::kNone;
};

// Put right after begin (endpoint::Options::metrics): the connection id is this hop's, events of
// one connection are serialized, and Closes begin sends itself (timeout) pass here too.
// Request: a connection id already held is a refresh, otherwise a request; the call is counted
// with its result and timed. A successful Request (re)sets the connection's entry in the active
// gauge from the returned connection (network_service, network_service_endpoint_name, forwarder
// per Options); a failed refresh keeps it. Close: counted and timed; the entry goes, whatever
// the result. Entries live exactly as long as begin holds the connection.
class Server : public NetworkServiceServer {
 public:
  Server(std::shared_ptr<NetworkServiceStats> stats, Options options);

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  // Connections counted in the active gauge.
  size_t size() const;

 private:
  // One connection's place in the active gauge: decrements it when dropped.
  class Active {
   public:
    explicit Active(prometheus::Gauge& gauge) : gauge_(gauge) { gauge_.Increment(); }
    ~Active() { gauge_.Decrement(); }
    Active(const Active&) = delete;
    Active& operator=(const Active&) = delete;
    prometheus::Gauge& gauge() const { return gauge_; }

   private:
    prometheus::Gauge& gauge_;
  };

  std::string ForwarderOf(const Connection& conn) const;

  std::shared_ptr<NetworkServiceStats> stats_;
  Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Active>> active_ ABSL_GUARDED_BY(mu_);
};

// Null stats: null (no element; chain builders drop null elements).
inline std::shared_ptr<Server> NewServer(std::shared_ptr<NetworkServiceStats> stats,
                                         Options options = {}) {
  if (stats == nullptr) return nullptr;
  return std::make_shared<Server>(std::move(stats), options);
}

}  // namespace nsm::metrics
