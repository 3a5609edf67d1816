// Jittered delays for every periodic and retry timer: capped exponential backoff with an
// injectable random source (tests fix the seed), and a wait on the context's clock (DESIGN.md §7).
#pragma once

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/context.h"

namespace nsm {

// Uniform doubles in [0, 1). Must be safe to call from several threads at once.
using RandomSource = std::function<double()>;

// The process-wide source (a per-thread absl::BitGen).
RandomSource DefaultRandom();
// A deterministic source for tests: the same seed gives the same sequence (thread-safe).
RandomSource SeededRandom(uint64_t seed);

// `d` scaled by a uniform factor in [1 - jitter, 1 + jitter) drawn from `random` (DefaultRandom
// when null). jitter <= 0 returns `d`.
absl::Duration Jitter(absl::Duration d, double jitter, const RandomSource& random = nullptr);

struct BackoffOptions {
  absl::Duration initial = absl::Milliseconds(200);
  absl::Duration max = absl::Seconds(5);
  double multiplier = 2.0;
  // Each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter).
  double jitter = 0.1;
};

// initial, initial*multiplier, ... capped at max, each jittered. Not thread-safe: one per retry
// loop (the owner's lock guards it).
class Backoff {
 public:
  explicit Backoff(BackoffOptions options = {}, RandomSource random = nullptr);

  absl::Duration Next();
  void Reset() { next_ = options_.initial; }
  // The un-jittered delay Next() will be based on.
  absl::Duration peek() const { return next_; }

 private:
  BackoffOptions options_;
  RandomSource random_;
  absl::Duration next_;
};

// Waits `d` on the context's clock (a FakeClock in tests: Advance ends the wait). Returns OK after
// `d`, or the context's error when it ends first.
absl::Status WaitFor(const Context& ctx, absl::Duration d);

// Errors worth another attempt: the peer may come back (UNAVAILABLE, DEADLINE_EXCEEDED of one
// attempt, RESOURCE_EXHAUSTED, ABORTED, UNKNOWN from a broken connection).
bool Retryable(const absl::Status& s);

}  // namespace nsm
