// The real clock: timers on one scheduler thread, in deadline order on the monotonic clock; a
// stopped timer leaves the queue at once (see clock.h).
#include "core/clock.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/container/btree_map.h"

namespace nsm {
namespace {

using Steady = std::chrono::steady_clock;

struct Entry {
  Steady::time_point deadline;
  uint64_t seq = 0;
  std::function<void()> fn;
  bool done = false;  // fired or stopped; guarded by the scheduler mutex
};

class RealClockImpl;

class RealTimer : public Timer {
 public:
  RealTimer(std::shared_ptr<RealClockImpl> clock, std::shared_ptr<Entry> entry)
      : clock_(std::move(clock)), entry_(std::move(entry)) {}
  ~RealTimer() override { Stop(); }
  bool Stop() override;

 private:
  std::shared_ptr<RealClockImpl> clock_;
  std::shared_ptr<Entry> entry_;
};

class RealClockImpl : public Clock, public std::enable_shared_from_this<RealClockImpl> {
 public:
  RealClockImpl() : thread_([this] { Loop(); }) {}
  ~RealClockImpl() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  absl::Time Now() const override { return absl::Now(); }

  std::unique_ptr<Timer> AfterFunc(absl::Duration d, std::function<void()> fn) override {
    auto entry = std::make_shared<Entry>();
    entry->deadline =
        Steady::now() +
        std::chrono::nanoseconds(absl::ToInt64Nanoseconds(std::max(d, absl::ZeroDuration())));
    entry->fn = std::move(fn);
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      entry->seq = next_seq_++;
      queue_.emplace(Key{entry->deadline, entry->seq}, entry);
      wake = entry->deadline < sleeps_until_;
    }
    // Only a deadline before the one the scheduler sleeps until must wake it. Most timers (call
    // deadlines, expiries) end after it, and a wake-up per arm was a context switch per gRPC call
    // in every process. (The deadline slept until may belong to a timer stopped since: then the
    // scheduler wakes once for nothing and sleeps until the next one.)
    if (wake) cv_.notify_one();
    return std::make_unique<RealTimer>(shared_from_this(), entry);
  }

  bool StopEntry(Entry& e) {
    std::function<void()> fn;  // captured state is released outside the lock
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (e.done) return false;
      e.done = true;
      fn = std::move(e.fn);
      // At once: a call's deadline timer is stopped when the call ends, long before it would fire,
      // and keeping stopped ones until their deadline held 15 s worth of calls (~60,000 at 4,000
      // calls/s, several MB) in the queue that every arm walked.
      queue_.erase(Key{e.deadline, e.seq});
    }
    return true;
  }

  size_t queued() {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }

 private:
  // Deadline order; the sequence number keeps timers with equal deadlines in arming order.
  using Key = std::pair<Steady::time_point, uint64_t>;

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      if (queue_.empty()) {
        sleeps_until_ = Steady::time_point::max();
        cv_.wait(lock);
        sleeps_until_ = Steady::time_point::min();
        continue;
      }
      auto top = queue_.begin();
      if (Steady::now() < top->first.first) {
        sleeps_until_ = top->first.first;
        cv_.wait_until(lock, sleeps_until_);
        sleeps_until_ = Steady::time_point::min();
        continue;
      }
      std::shared_ptr<Entry> entry = std::move(top->second);
      queue_.erase(top);
      entry->done = true;
      auto fn = std::move(entry->fn);
      lock.unlock();
      fn();
      fn = nullptr;  // its captures go before the lock is taken again
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  // Armed timers, neither fired nor stopped.
  absl::btree_map<Key, std::shared_ptr<Entry>> queue_;
  // What the scheduler sleeps until: max when the queue is empty, min while it is awake (it looks
  // at the queue again before it sleeps).
  Steady::time_point sleeps_until_ = Steady::time_point::min();
  uint64_t next_seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

bool RealTimer::Stop() { return clock_->StopEntry(*entry_); }

}  // namespace

namespace {

std::shared_ptr<RealClockImpl> TheRealClock() {
  // Never destroyed: timers may be stopped from static destructors of other objects.
  static auto* clock = new std::shared_ptr<RealClockImpl>(std::make_shared<RealClockImpl>());
  return *clock;
}

}  // namespace

std::shared_ptr<Clock> RealClock() { return TheRealClock(); }

size_t RealClockQueuedTimers() { return TheRealClock()->queued(); }

}  // namespace nsm
