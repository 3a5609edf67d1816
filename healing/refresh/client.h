// refresh client: re-Requests the NSC's connection before the earliest expiry on its path,
// jittered, with backoff and a hand-over to heal (nsmgr.md §8.1, fixed per §13.4; DESIGN.md §7).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/time/time.h"
#include "core/backoff.h"
#include "core/context.h"
#include "core/networkservice.h"
#include "core/typed_key.h"

namespace nsm::healing::refresh {

struct Options {
  // The refresh delay is the spec's fraction of the remaining time scaled by a uniform factor in
  // [1 - jitter, 1 + jitter), so connections made together do not refresh together.
  double jitter = 0.1;
  // Source of that factor and of the retry jitter; default DefaultRandom().
  RandomSource random = nullptr;
  // Delays between retries after a failed refresh: 200 ms doubling up to 5 s, jittered.
  BackoffOptions retry = {};
  // After this many refreshes in a row failed, the connection is handed to heal (through the
  // HealTrigger heal keeps in the client metadata); retries go on meanwhile. 0: never.
  int heal_after_failures = 3;
  // Floor of the refresh delay (an expired or nearly expired path never makes a tight loop).
  absl::Duration min_period = absl::Milliseconds(100);
  // Deadline of one refresh Request (also bounded by what the event's context allows).
  absl::Duration attempt_timeout = absl::Seconds(15);  // infinite: none of its own
  // The client's lifetime: when it is cancelled every armed refresh stops.
  Context chain_ctx = Context();
};

// The un-jittered refresh delay for `conn` at `now`: the earliest `expires` over all path segments
// minus now, times 1/3 when the path has at most one segment, else 0.2 + 0.2 * index / segments
// (0.2 for an NSC). nullopt when no segment has an expiry. May be <= 0 (already expired).
std::optional<absl::Duration> RefreshPeriod(const Connection& conn, absl::Time now);

struct Stats {
  std::atomic<uint64_t> refreshed{0};  // own refresh events that succeeded
  std::atomic<uint64_t> failed{0};     // own refresh events that failed
  std::atomic<uint64_t> escalated{0};  // hand-overs to heal
};

// Place after begin and metadata (client chain slot C5). After every successful Request (the
// caller's, a refresh, or a heal attempt) it arms one timer on the context's clock at the jittered
// RefreshPeriod; when it fires, a Request event goes through begin's event factory (serialized
// with the connection's other events) and re-sends the last connection. A failed refresh re-arms
// with backoff and, from the heal_after_failures-th failure in a row on, asks heal to take over;
// it never touches monitoring. A failed Request of the caller or of heal keeps the armed timer.
// Close, the chain context's end or the connection's metadata going away stops the timer; a refresh
// already queued is then skipped.
class Client : public NetworkServiceClient {
 public:
  explicit Client(Options options = {});

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

  const Stats& stats() const { return *stats_; }

 private:
  struct Marker {};
  struct State;
  static const TypedKey<Marker>& OwnEventKey();
  static const TypedKey<State>& StateKey();

  Options options_;
  std::shared_ptr<Marker> marker_ = std::make_shared<Marker>();  // tags our own events
  std::shared_ptr<Stats> stats_ = std::make_shared<Stats>();
};

inline std::shared_ptr<Client> NewClient(Options options = {}) {
  return std::make_shared<Client>(std::move(options));
}

}  // namespace nsm::healing::refresh
