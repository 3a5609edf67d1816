// heal metrics: episodes by outcome, attempts by result and a time-to-heal histogram, recorded
// from the heal client's Observer (healing/heal; issue #8, docs/metrics.md).
#include "healing/metrics/metrics.h"

#include "core/metrics/metrics.h"

namespace nsm::healing::metrics {

const std::vector<double>& HealBuckets() {
  static const auto* buckets = new std::vector<double>{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  return *buckets;
}

std::shared_ptr<HealStats> HealStats::Create(std::shared_ptr<prometheus::Registry> registry,
                                             std::shared_ptr<Clock> clock) {
  return std::shared_ptr<HealStats>(new HealStats(std::move(registry), std::move(clock)));
}

HealStats::HealStats(std::shared_ptr<prometheus::Registry> registry, std::shared_ptr<Clock> clock)
    : registry_(std::move(registry)),
      clock_(clock ? std::move(clock) : RealClock()),
      episodes_(prometheus::BuildCounter()
                    .Name("nsm_heal_episodes_total")
                    .Help("Heal episodes of this client's connections: started, healed (ended by "
                          "a successful Request) or failed (heal deadline passed)")
                    .Register(*registry_)),
      attempts_(prometheus::BuildCounter()
                    .Name("nsm_heal_attempts_total")
                    .Help("Heal attempts (Requests sent by heal), by result (ok or the gRPC code "
                          "name)")
                    .Register(*registry_)),
      duration_(prometheus::BuildHistogram()
                    .Name("nsm_heal_duration_seconds")
                    .Help("Time from the detection of a failure to the end of its heal episode, "
                          "by outcome")
                    .Register(*registry_)),
      started_(episodes_.Add({{"outcome", "started"}})),
      healed_(episodes_.Add({{"outcome", "healed"}})),
      failed_(episodes_.Add({{"outcome", "failed"}})),
      attempts_ok_(attempts_.Add({{"result", "ok"}})),
      healed_seconds_(duration_.Add({{"outcome", "healed"}}, HealBuckets())),
      failed_seconds_(duration_.Add({{"outcome", "failed"}}, HealBuckets())) {}

void HealStats::Started(const std::string& id) {
  started_.Increment();
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  if (started_at_.size() < kMaxTracked || started_at_.contains(id)) started_at_[id] = now;
}

void HealStats::Ended(const std::string& id, bool healed, int /*attempts*/) {
  (healed ? healed_ : failed_).Increment();
  if (healed) attempts_ok_.Increment();  // the attempt that succeeded ended the episode
  std::optional<absl::Time> start;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = started_at_.find(id); it != started_at_.end()) {
      start = it->second;
      started_at_.erase(it);
    }
  }
  if (start) {
    (healed ? healed_seconds_ : failed_seconds_)
        .Observe(absl::ToDoubleSeconds(clock_->Now() - *start));
  }
}

void HealStats::AttemptFailed(const absl::Status& status) {
  attempts_.Add({{"result", nsm::metrics::ResultLabel(status)}}).Increment();
}

heal::Observer HealStats::Wrap(heal::Observer next) {
  auto self = shared_from_this();
  return {
      .started =
          [self, f = next.started](const Connection& conn, const absl::Status& cause) {
            self->Started(conn.id());
            if (f) f(conn, cause);
          },
      .healed =
          [self, f = next.healed](const Connection& conn, int attempts) {
            self->Ended(conn.id(), /*healed=*/true, attempts);
            if (f) f(conn, attempts);
          },
      .failed =
          [self, f = next.failed](const Connection& conn, const absl::Status& why) {
            self->Ended(conn.id(), /*healed=*/false, 0);
            if (f) f(conn, why);
          },
      .attempt_failed =
          [self, f = next.attempt_failed](const Connection& conn, const absl::Status& status) {
            self->AttemptFailed(status);
            if (f) f(conn, status);
          },
  };
}

size_t HealStats::tracked() const {
  absl::MutexLock lock(&mu_);
  return started_at_.size();
}

}  // namespace nsm::healing::metrics
