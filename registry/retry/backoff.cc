#include "registry/retry/backoff.h"

#include <algorithm>

#include "absl/synchronization/mutex.h"

namespace nsm::reg::retry {

absl::Duration Backoff::Next() {
  absl::Duration d = Jitter(next_, options_.jitter);
  next_ = std::min(next_ * options_.multiplier, options_.max);
  return d;
}

absl::Duration Jitter(absl::Duration d, double jitter) {
  if (jitter <= 0) return d;
  thread_local absl::BitGen rng;
  return d * absl::Uniform(rng, 1.0 - jitter, 1.0 + jitter);
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
  {
    absl::MutexLock lock(&flags->mu);
    auto ready = [f = flags.get()]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu) { return f->elapsed || f->cancelled; };
    flags->mu.Await(absl::Condition(&ready));
    cancelled = flags->cancelled && !flags->elapsed;
  }
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

}  // namespace nsm::reg::retry
