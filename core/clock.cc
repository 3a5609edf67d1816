#include "core/clock.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

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
    bool earliest;
    {
      std::lock_guard<std::mutex> lock(mu_);
      entry->seq = next_seq_++;
      queue_.push(entry);
      earliest = queue_.top() == entry;
    }
    // The scheduler sleeps until the earliest deadline: only a new earliest one must wake it. Most
    // timers (call deadlines, expiries) end after those already queued, and a wake-up per arm was
    // a context switch per gRPC call in every process.
    if (earliest) cv_.notify_one();
    return std::make_unique<RealTimer>(shared_from_this(), entry);
  }

  bool StopEntry(Entry& e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (e.done) return false;
    e.done = true;
    e.fn = nullptr;  // release captured state now; the heap entry is dropped lazily
    return true;
  }

 private:
  struct Later {
    bool operator()(const std::shared_ptr<Entry>& a, const std::shared_ptr<Entry>& b) const {
      return a->deadline != b->deadline ? a->deadline > b->deadline : a->seq > b->seq;
    }
  };

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto top = queue_.top();
      if (top->done) {
        queue_.pop();
        continue;
      }
      if (Steady::now() < top->deadline) {
        cv_.wait_until(lock, top->deadline);
        continue;
      }
      queue_.pop();
      top->done = true;
      auto fn = std::move(top->fn);
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<std::shared_ptr<Entry>, std::vector<std::shared_ptr<Entry>>, Later> queue_;
  uint64_t next_seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

bool RealTimer::Stop() { return clock_->StopEntry(*entry_); }

}  // namespace

std::shared_ptr<Clock> RealClock() {
  // Never destroyed: timers may be stopped from static destructors of other objects.
  static auto* clock = new std::shared_ptr<RealClockImpl>(std::make_shared<RealClockImpl>());
  return *clock;
}

}  // namespace nsm
