// Executors: a bounded worker pool, the serial executor that runs one connection's events one at
// a time in arrival order, and a keyed multi-executor (chain-model.md §5.3-5.4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/fiber.h"

namespace nsm {

// Worker threads draining one FIFO queue.
//
// `threads` workers always run. Chains block a worker for every call they make downstream, so with
// a fixed pool a few calls hanging there (a peer that accepts and never answers) hold every later
// call and timer event of the process until their deadlines. An elastic pool (`max_threads` above
// `threads`, as DefaultThreadPool) therefore adds a worker when work is queued, no worker is free
// and no task has finished for `stall`: the workers are blocked, not busy. At most one worker is
// added per `stall`, and a pool whose tasks keep finishing never grows (on a loaded machine more
// threads only add context switches). Workers the pool could have spared for a whole `linger`
// (never all busy) leave again. Both periods run on `clock`.
class ThreadPool {
 public:
  struct Options {
    size_t threads = 4;
    size_t max_threads = 0;  // at or below `threads`: a fixed pool
    absl::Duration stall = absl::Milliseconds(20);
    absl::Duration linger = absl::Seconds(10);
    std::shared_ptr<Clock> clock = nullptr;  // null: RealClock()
  };
  struct Stats {
    size_t threads = 0;  // live workers
    size_t idle = 0;     // workers waiting for work
    size_t queued = 0;   // tasks not started
    uint64_t added = 0;  // workers added beyond `threads` since the start
  };

  // A fixed pool of `threads` workers.
  explicit ThreadPool(size_t threads);
  explicit ThreadPool(Options options);
  // Runs what is queued (an elastic pool still grows for it), then joins. May run on one of its
  // own workers (the last owner of the pool can be a task): that worker is detached and, after its
  // task, runs what is still queued before it exits.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Post(std::function<void()> fn);
  Stats stats() const;

 private:
  struct Queue;
  std::shared_ptr<Queue> queue_;
};

// Most workers an elastic pool of chains may add up to (DefaultThreadPool, the sandbox's hops).
inline constexpr size_t kMaxPoolThreads = 128;

// A pool for chains that block on calls downstream: `threads` workers (0: 2 per core, at least
// 4), elastic up to kMaxPoolThreads on the real clock.
std::shared_ptr<ThreadPool> NewChainPool(size_t threads = 0);

// The process-wide chain pool (NewChainPool()) for chains and asynchronous chain events (timers,
// heal).
std::shared_ptr<ThreadPool> DefaultThreadPool();

// Drops `held`: on DefaultThreadPool() when the caller runs on a fiber, which may be one of gRPC's
// callback threads (it resumes where an answer arrives), where the last reference to a channel
// must not go (gRPC 1.51, registry/README.md); elsewhere here.
template <typename T>
void DropOffFiber(std::shared_ptr<T> held) {
  if (held != nullptr && fiber::OnFiber()) DefaultThreadPool()->Post([held = std::move(held)] {});
}

// The outcome of an asynchronous event, set once.
class Completion {
 public:
  static std::shared_ptr<Completion> Create() { return std::make_shared<Completion>(); }
  static std::shared_ptr<Completion> Done(absl::Status s) {
    auto c = Create();
    c->Set(std::move(s));
    return c;
  }

  void Set(absl::Status s);  // first call wins
  bool done() const;
  absl::Status Wait() const;
  // Bounded real-time wait; nullopt-like false when still running.
  bool WaitFor(absl::Duration timeout) const;
  absl::Status status() const;  // OK until done

 private:
  mutable absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  // Fibers parked in Wait (core/fiber.h).
  mutable std::vector<std::shared_ptr<fiber::Event>> fibers_ ABSL_GUARDED_BY(mu_);
};

// Runs submitted functions one at a time, in submission order. RunSync runs its function on the
// calling thread once every earlier function has finished (no thread hop when idle); Async runs
// its function on the pool when its turn comes. Safe to destroy with work pending: queued work
// keeps the shared state alive and still runs.
class SerialExecutor {
 public:
  explicit SerialExecutor(std::shared_ptr<ThreadPool> pool = DefaultThreadPool());

  void RunSync(const std::function<void()>& fn);
  void Async(std::function<void()> fn);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// One serial executor per key, created on demand and dropped when its queue drains. Must outlive
// the work queued on it.
class MultiExecutor {
 public:
  explicit MultiExecutor(std::shared_ptr<ThreadPool> pool = DefaultThreadPool());

  void RunSync(const std::string& key, const std::function<void()>& fn);
  void Async(const std::string& key, std::function<void()> fn);
  size_t active_keys() const;

 private:
  struct Slot {
    SerialExecutor executor;
    size_t users = 0;
  };
  Slot* Acquire(const std::string& key);
  void Release(const std::string& key);

  std::shared_ptr<ThreadPool> pool_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nsm
