// heal client: on DOWN, DELETE or a lost monitor stream re-Requests the NSC's connection, same path
// first, then reselecting, with backoff and a deadline (nsmgr.md §7, §13.6-7; DESIGN.md §7).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/backoff.h"
#include "core/context.h"
#include "core/networkservice.h"
#include "core/typed_key.h"
#include "healing/heal/liveness.h"
#include "healing/heal/watcher.h"

namespace nsm::healing::heal {

// What a heal attempt sends.
enum class Mode {
  // The last connection as it is: path, forwarder, endpoint, mechanism. Repairs a restarted nsmgr
  // without touching the data path (its downstream hops see a refresh).
  kSamePath,
  // Close the old path first, then Request with the path cut after the next hop (no forwarder
  // segment), no mechanism and state RESELECT_REQUESTED: the nsmgr picks a forwarder again; the
  // endpoint name stays.
  kReselectForwarder,
  // As kReselectForwarder and without network_service_endpoint_name: another endpoint may be
  // chosen (nsmgr.md §7.1 "reselect").
  kReselectEndpoint,
};

const char* ModeName(Mode mode);

// The mode after an attempt in `failed` mode failed. A data path reported alive keeps the same
// path; a next hop that could not be reached keeps the mode (reselecting needs the next hop); an
// attempt whose error named the connection's endpoint unreachable (UnreachableHop: a hop on the
// path could not dial it) goes straight to reselect endpoint; otherwise one step: same path →
// reselect forwarder → reselect endpoint. When the caller named the endpoint and `keep_endpoint`
// is set, reselect forwarder is as far as it goes.
Mode NextMode(Mode failed, bool next_hop_reachable, Liveness liveness, bool keep_endpoint,
              bool endpoint_unreachable = false);

// Heal's outcome per connection. Callbacks run on heal's threads (watch callbacks, begin's pool,
// the clock's timer thread): keep them short, never call back into the chain synchronously.
struct Observer {
  std::function<void(const Connection&, const absl::Status& cause)> started = nullptr;
  std::function<void(const Connection&, int attempts)> healed = nullptr;
  // The heal deadline passed: the connection is being closed. `why` names the attempts and the
  // last error.
  std::function<void(const Connection&, const absl::Status& why)> failed = nullptr;
  // An attempt of the running episode failed with `status`; the next one follows after the
  // backoff (unless the deadline passes first). The nsm_heal_attempts_total counter (issue #8).
  std::function<void(const Connection&, const absl::Status& status)> attempt_failed = nullptr;
};

struct Options {
  // How the next hop is watched; default NewGrpcWatcher() (needs dial in the chain after heal).
  std::shared_ptr<Watcher> watcher = nullptr;
  // Asked before reselecting; default none (kUnknown: reselect as NSM does).
  std::shared_ptr<DataPathChecker> data_path = nullptr;
  // Delay between attempts after the first (which runs at once): 200 ms doubling up to 5 s,
  // jittered ±10 %.
  BackoffOptions retry = {};
  RandomSource random = nullptr;
  // From the detection on; when it passes the connection is closed and Observer::failed called.
  // Infinite: heal until Close or the chain's end (NSM's behaviour).
  absl::Duration heal_timeout = absl::InfiniteDuration();
  // Deadline of one attempt (also bounded by what begin's event context allows).
  absl::Duration attempt_timeout = absl::Seconds(15);  // infinite: none of its own
  // An endpoint the caller named in its first Request is never dropped by a reselect.
  bool keep_requested_endpoint = true;
  Observer observer = {};
  // The client's lifetime: when it is cancelled all heal work stops (connections stay open).
  Context chain_ctx = Context();
};

struct Stats {
  std::atomic<uint64_t> started{0};   // heal episodes begun
  std::atomic<uint64_t> attempts{0};  // heal Requests sent
  std::atomic<uint64_t> healed{0};    // episodes ended by a successful Request
  std::atomic<uint64_t> failed{0};    // episodes ended by the heal deadline
};

// Place after begin and metadata and before dial (client chain slot C8). After every successful
// Request it keeps one watch on the connection at the next hop (a refresh keeps the same watch).
// DOWN, DELETE or a lost stream starts an episode: attempt 1 at once in kSamePath, later attempts
// after a jittered backoff in the mode NextMode picks, each a Request event through begin
// (serialized with the connection's own Requests and Close). Any successful Request ends the
// episode. REFRESH_REQUESTED from downstream re-Requests once. Refresh may start an episode
// through the HealTrigger heal keeps in the client metadata. Close, the heal deadline's Close and
// the chain context's end stop everything: watch, timers and queued attempts.
class Client : public NetworkServiceClient {
 public:
  explicit Client(Options options = {});

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

  const Stats& stats() const;
  // Watches currently open to next hops.
  size_t open_watches() const;
  // Connections heal is looking after (for leak checks).
  size_t connections() const;

  class Conn;  // per-connection state, in the connection's client metadata
  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

inline std::shared_ptr<Client> NewClient(Options options = {}) {
  return std::make_shared<Client>(std::move(options));
}

}  // namespace nsm::healing::heal
