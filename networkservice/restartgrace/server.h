// restartgrace: for a window after an nsmgr starts, a refresh, heal or Close of an established
// connection waits until the forwarder and local endpoint named in its path have registered again
// (nsmgr.md §7.1 "Local NSMgr dies / restarts", §5 Close fallback; DESIGN.md §7; issue #6).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/clock.h"
#include "core/networkservice.h"
#include "core/registry.h"

namespace nsm::restartgrace {

// 20 s: after an nsmgr restart, forwarders and endpoints register again when their registry heal
// client notices the lost watch: a backoff of 200 ms doubling to at most 5 s (±10 %), plus gRPC's
// reconnect backoff (at most 5 s) if the nsmgr was down for a while, plus one round trip: about
// 12 s in the worst case. 20 s covers that with margin and stays well below the 1 min expiry of
// local registrations. A longer window costs little: each wait is bounded by its request's own
// deadline (15 s for an NSM client), and only requests naming a not-yet-registered hop wait.
inline constexpr absl::Duration kDefaultWindow = absl::Seconds(20);

struct Options {
  // How long after construction (the nsmgr's start) requests may wait. Zero or less: never wait.
  absl::Duration window = kDefaultWindow;
  // Times the window and the waits; the requests' contexts carry their own clock for deadlines.
  std::shared_ptr<Clock> clock = RealClock();
};

// Counters for tests, logs and the benchmark.
struct Stats {
  std::atomic<uint64_t> waits{0};         // requests and Closes that had to wait
  std::atomic<uint64_t> registered{0};    // ... until everything they named registered
  std::atomic<uint64_t> window_ended{0};  // ... until the window ended
  std::atomic<uint64_t> budget_spent{0};  // ... for half their remaining time, then went on
  std::atomic<uint64_t> cancelled{0};     // ... until their context was cancelled
};

// Placed in the nsmgr's chain before forwarder_select, with the nsmgr's memory store of local
// registrations (forwarders and endpoints), which it watches while the window is open. It keeps
// the names registered there since construction; a name that registered and went away again is
// not waited for (it is gone, not late).
//
// A Request or Close whose path has a segment after this hop's (an established connection) names
// the forwarder (that segment's name) and, when the segment after it carries
// network_service_endpoint_name, a local endpoint. While the window is open and one of these has
// not registered since the start, the call waits, without polling, until they have, the window
// ends, half of the call's remaining time (at its arrival) has passed, or its context is
// cancelled. The half bound leaves a call whose hop never comes back (a forwarder recreated under
// another name) the other half to go on without it, and frees the request thread. Then:
// * Request: after a successful wait, the window's end or the half the rest of the chain runs as
//   usual (a failure then names what was waited for and for how long); a context that ended
//   anyway returns its code (CANCELLED, DEADLINE_EXCEEDED) naming the missing hops and the time
//   waited, next not called.
// * Close: the rest of the chain always runs (it releases this hop's state); an error from it is
//   annotated the same way.
// New connections (no segment after this hop's) and calls after the window pass through at once.
// The window's end cancels the watch and frees the names; so does destruction.
class Server : public NetworkServiceServer {
 public:
  // `local_store` must answer watch Finds (registry/memory).
  Server(std::shared_ptr<NSERegistryServer> local_store, Options options = {});
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  // Whether the window is still open (the store is watched).
  bool open() const;
  // Calls waiting now.
  size_t waiting() const;
  const Stats& stats() const { return *stats_; }

 private:
  struct State;
  class Watch;
  struct Hop;
  struct Outcome;
  // The hops `conn` names that a restarted nsmgr may not know yet; empty when nothing to wait for.
  std::vector<Hop> Named(const Connection& conn) const;
  Outcome Wait(const Context& ctx, std::vector<Hop> hops);
  // "forwarder f-1 and endpoint nse-1".
  static std::string Names(const std::vector<Hop>& hops);

  std::shared_ptr<State> state_;
  std::shared_ptr<Stats> stats_;
};

inline std::shared_ptr<Server> NewServer(std::shared_ptr<NSERegistryServer> local_store,
                                         Options options = {}) {
  return std::make_shared<Server>(std::move(local_store), std::move(options));
}

}  // namespace nsm::restartgrace
