#include "core/backoff.h"

#include <algorithm>
#include <memory>
#include <random>

#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "core/fiber.h"

namespace nsm {

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

absl::Status WaitFor(const Context& ctx, absl::Duration d) {
  if (ctx.cancelled()) return ctx.Err();
  struct Flags {
    absl::Mutex mu;
    bool elapsed ABSL_GUARDED_BY(mu) = false;
    bool cancelled ABSL_GUARDED_BY(mu) = false;
  };
  auto flags = std::make_shared<Flags>();
  auto timer = ctx.clock().AfterFunc(d, [flags] {
    absl::MutexLock lock(&flags->mu);
    flags->elapsed = true;
  });
  std::unique_ptr<CancelState::Registration> reg;
  if (const auto& cs = ctx.cancel_state()) {
    reg = cs->OnCancel([flags] {
      absl::MutexLock lock(&flags->mu);
      flags->cancelled = true;
    });
  }
  bool cancelled;
  fiber::Blocking([&] {  // it blocks its thread: on a fiber, a worker's while the fiber parks
    absl::MutexLock lock(&flags->mu);
    auto ready = [f = flags.get()]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu) { return f->elapsed || f->cancelled; };
    flags->mu.Await(absl::Condition(&ready));
    cancelled = flags->cancelled && !flags->elapsed;
  });
  timer.reset();
  reg.reset();
  return cancelled ? ctx.Err() : absl::OkStatus();
}

bool Retryable(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

}  // namespace nsm
