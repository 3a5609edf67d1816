// heal metrics: episodes by outcome, attempts by result and a time-to-heal histogram, recorded
// from the heal client's Observer (healing/heal; issue #8, docs/metrics.md).
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "healing/heal/client.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace nsm::healing::metrics {

// Time-to-heal buckets in seconds: 1 ms to 5 min.
const std::vector<double>& HealBuckets();

// Declares the nsm_heal_* families in `registry` and records into them. Thread-safe.
//   nsm_heal_episodes_total{outcome="started"|"healed"|"failed"}
//   nsm_heal_attempts_total{result="ok"|<gRPC code name>}
//   nsm_heal_duration_seconds{outcome="healed"|"failed"}: detection to the episode's end, on
//   `clock`.
class HealStats : public std::enable_shared_from_this<HealStats> {
 public:
  // Episodes tracked at once for their duration; an episode started beyond that is counted but
  // not timed (an episode that Close stopped leaves its start time until the id heals again).
  static constexpr size_t kMaxTracked = 100000;

  static std::shared_ptr<HealStats> Create(std::shared_ptr<prometheus::Registry> registry,
                                           std::shared_ptr<Clock> clock = RealClock());

  // An observer that records, then calls `next`'s callbacks. Null stats are not allowed; use
  // `next` directly when metrics are off.
  heal::Observer Wrap(heal::Observer next = {});

  // Episodes whose start time is kept.
  size_t tracked() const;

 private:
  HealStats(std::shared_ptr<prometheus::Registry> registry, std::shared_ptr<Clock> clock);
  void Started(const std::string& id);
  void Ended(const std::string& id, bool healed, int attempts);
  void AttemptFailed(const absl::Status& status);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Clock> clock_;
  prometheus::Family<prometheus::Counter>& episodes_;
  prometheus::Family<prometheus::Counter>& attempts_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Counter& started_;
  prometheus::Counter& healed_;
  prometheus::Counter& failed_;
  prometheus::Counter& attempts_ok_;
  prometheus::Histogram& healed_seconds_;
  prometheus::Histogram& failed_seconds_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> started_at_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nsm::healing::metrics
