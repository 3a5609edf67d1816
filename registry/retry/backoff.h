// Capped exponential backoff with jitter, and a context-aware wait on the context's clock, for
// every retry loop of the registry clients (DESIGN.md §7; registry.md §3.13-3.14, §7.4, §7.6).
#pragma once

#include <cstdint>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/context.h"

namespace nsm::reg::retry {

struct BackoffOptions {
  absl::Duration initial = absl::Milliseconds(200);
  absl::Duration max = absl::Seconds(5);
  double multiplier = 2.0;
  // Each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter].
  double jitter = 0.1;
};

// Not thread-safe: one per retry loop.
class Backoff {
 public:
  explicit Backoff(BackoffOptions options = {}) : options_(options), next_(options.initial) {}
  // The delay before the next attempt: initial, initial*m, ... capped at max, each jittered.
  absl::Duration Next();
  void Reset() { next_ = options_.initial; }

 private:
  BackoffOptions options_;
  absl::Duration next_;
  absl::BitGen rng_;
};

// `d` scaled by a uniform factor in [1 - jitter, 1 + jitter].
absl::Duration Jitter(absl::Duration d, double jitter);

// Waits `d` on the context's clock (a FakeClock in tests: Advance ends the wait). Returns OK after
// `d`, or the context's error when it ends first.
absl::Status WaitFor(const Context& ctx, absl::Duration d);

// Errors worth another attempt: the peer may come back (UNAVAILABLE, DEADLINE_EXCEEDED of one
// attempt, RESOURCE_EXHAUSTED, ABORTED, UNKNOWN from a broken connection).
bool Retryable(const absl::Status& s);

}  // namespace nsm::reg::retry
