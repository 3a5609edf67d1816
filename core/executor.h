// Executors: a bounded worker pool, the serial executor that runs one connection's events one at
// a time in arrival order, and a keyed multi-executor (chain-model.md §5.3-5.4).
#pragma once

#include <cstddef>
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

namespace nsm {

// A fixed set of worker threads draining one FIFO queue.
class ThreadPool {
 public:
  explicit ThreadPool(size_t threads);
  // Runs what is queued, then joins. May run on one of its own workers (the last owner of the
  // pool can be a task): that worker is detached and exits after its task.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Post(std::function<void()> fn);
  size_t threads() const { return workers_.size(); }

 private:
  struct Queue;
  std::shared_ptr<Queue> queue_;
  std::vector<std::thread> workers_;
};

// The process-wide pool for asynchronous chain events (timers, heal), sized to the machine.
std::shared_ptr<ThreadPool> DefaultThreadPool();

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
