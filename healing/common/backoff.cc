#include "healing/common/backoff.h"

#include <algorithm>
#include <memory>
#include <random>

#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"

namespace nsm::healing {

RandomSource DefaultRandom() {
  return [] {
    thread_local absl::BitGen rng;
    return absl::Uniform(rng, 0.0, 1.0);
  };
}

RandomSource SeededRandom(uint64_t seed) {
  struct State {
    absl::Mutex mu;
    std::mt19937_64 rng ABSL_GUARDED_BY(mu);
  };
  auto state = std::make_shared<State>();
  {
    absl::MutexLock lock(&state->mu);
    state->rng.seed(seed);
  }
  return [state] {
    absl::MutexLock lock(&state->mu);
    return absl::Uniform(state->rng, 0.0, 1.0);
  };
}

absl::Duration Jitter(absl::Duration d, double jitter, const RandomSource& random) {
  if (jitter <= 0) return d;
  const double u = random ? random() : DefaultRandom()();
  return d * (1.0 - jitter + 2.0 * jitter * u);
}

Backoff::Backoff(BackoffOptions options, RandomSource random)
    : options_(options),
      random_(random ? std::move(random) : DefaultRandom()),
      next_(options.initial) {}

absl::Duration Backoff::Next() {
  const absl::Duration d = Jitter(next_, options_.jitter, random_);
  next_ = std::min(next_ * options_.multiplier, options_.max);
  return d;
}

}  // namespace nsm::healing
