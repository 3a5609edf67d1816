// FakeClock: a deterministic clock for tests. Time moves only when the test calls Advance/Set;
// due timers then fire in deadline order on the calling thread (sandbox.md §8, fixed per §8.4).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "core/clock.h"

namespace nsm {

class FakeClock : public Clock, public std::enable_shared_from_this<FakeClock> {
 public:
  // Starts at 2024-01-01T00:00:00Z (not the Unix epoch, so zero timestamps stay "unset").
  static std::shared_ptr<FakeClock> Create(absl::Time start = absl::FromUnixSeconds(1704067200));

  absl::Time Now() const override;
  // A timer with d <= 0 is due at once and fires at the next Advance/Set (Advance(0) included).
  std::unique_ptr<Timer> AfterFunc(absl::Duration d, std::function<void()> fn) override;

  // Moves time forward by `d` (negative counts as 0). Every timer due by the target time fires,
  // in deadline order (ties in creation order), with Now() equal to its deadline, including timers
  // armed by earlier callbacks of the same Advance. When Advance returns, all have completed.
  void Advance(absl::Duration d);
  // Advance to `t`; a time in the past changes nothing but still fires due timers.
  void Set(absl::Time t);

  size_t PendingTimers() const;
  std::optional<absl::Time> NextDeadline() const;
  // Bounded real-time wait until at least `n` timers are pending (for code that arms timers on
  // other threads). Returns false on timeout.
  bool AwaitPendingTimers(size_t n, absl::Duration real_timeout) const;

 private:
  explicit FakeClock(absl::Time start) : now_(start) {}
  class FakeTimer;
  bool Cancel(uint64_t seq, absl::Time deadline);

  mutable absl::Mutex mu_;
  absl::Mutex advance_mu_;  // one Advance at a time
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> timers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nsm
