#include "core/fake_clock.h"

namespace nsm {

class FakeClock::FakeTimer : public Timer {
 public:
  FakeTimer(std::weak_ptr<FakeClock> clock, uint64_t seq, absl::Time deadline)
      : clock_(std::move(clock)), seq_(seq), deadline_(deadline) {}
  ~FakeTimer() override { Stop(); }
  bool Stop() override {
    auto clock = clock_.lock();
    return clock && clock->Cancel(seq_, deadline_);
  }

 private:
  std::weak_ptr<FakeClock> clock_;
  uint64_t seq_;
  absl::Time deadline_;
};

std::shared_ptr<FakeClock> FakeClock::Create(absl::Time start) {
  return std::shared_ptr<FakeClock>(new FakeClock(start));
}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

std::unique_ptr<Timer> FakeClock::AfterFunc(absl::Duration d, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  absl::Time deadline = now_ + std::max(d, absl::ZeroDuration());
  uint64_t seq = next_seq_++;
  timers_.emplace(std::make_pair(deadline, seq), std::move(fn));
  return std::make_unique<FakeTimer>(weak_from_this(), seq, deadline);
}

bool FakeClock::Cancel(uint64_t seq, absl::Time deadline) {
  std::function<void()> dropped;  // destroyed outside the lock
  absl::MutexLock lock(&mu_);
  auto it = timers_.find({deadline, seq});
  if (it == timers_.end()) return false;
  dropped = std::move(it->second);
  timers_.erase(it);
  return true;
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock advance(&advance_mu_);
  absl::Time target;
  {
    absl::MutexLock lock(&mu_);
    target = now_ + std::max(d, absl::ZeroDuration());
  }
  for (;;) {
    std::function<void()> fn;
    {
      absl::MutexLock lock(&mu_);
      auto it = timers_.begin();
      if (it == timers_.end() || it->first.first > target) {
        now_ = std::max(now_, target);
        return;
      }
      now_ = std::max(now_, it->first.first);
      fn = std::move(it->second);
      timers_.erase(it);
    }
    fn();
  }
}

void FakeClock::Set(absl::Time t) { Advance(t - Now()); }

size_t FakeClock::PendingTimers() const {
  absl::MutexLock lock(&mu_);
  return timers_.size();
}

std::optional<absl::Time> FakeClock::NextDeadline() const {
  absl::MutexLock lock(&mu_);
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first.first;
}

bool FakeClock::AwaitPendingTimers(size_t n, absl::Duration real_timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return timers_.size() >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), real_timeout);
}

}  // namespace nsm
