#include "core/executor.h"

#include <algorithm>

namespace nsm {

struct ThreadPool::Queue {
  void Work() {
    for (;;) {
      std::function<void()> fn;
      {
        absl::MutexLock lock(&mu);
        auto ready = [this]()
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return stopping || !tasks.empty(); };
        mu.Await(absl::Condition(&ready));
        if (tasks.empty()) return;  // stopping and drained
        fn = std::move(tasks.front());
        tasks.pop_front();
      }
      fn();
    }
  }

  absl::Mutex mu;
  std::deque<std::function<void()>> tasks ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
};

ThreadPool::ThreadPool(size_t threads) : queue_(std::make_shared<Queue>()) {
  threads = std::max<size_t>(threads, 1);
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([q = queue_] { q->Work(); });
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&queue_->mu);
    queue_->stopping = true;
  }
  for (auto& t : workers_) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else {
      t.join();
    }
  }
}

void ThreadPool::Post(std::function<void()> fn) {
  absl::MutexLock lock(&queue_->mu);
  queue_->tasks.push_back(std::move(fn));
}

std::shared_ptr<ThreadPool> DefaultThreadPool() {
  static auto* pool = new std::shared_ptr<ThreadPool>(
      std::make_shared<ThreadPool>(std::max(4u, 2 * std::thread::hardware_concurrency())));
  return *pool;
}

void Completion::Set(absl::Status s) {
  absl::MutexLock lock(&mu_);
  if (done_) return;
  done_ = true;
  status_ = std::move(s);
}

bool Completion::done() const {
  absl::MutexLock lock(&mu_);
  return done_;
}

absl::Status Completion::Wait() const {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&done_));
  return status_;
}

bool Completion::WaitFor(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
}

absl::Status Completion::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

// --- SerialExecutor -------------------------------------------------------------------------

struct SerialExecutor::State : std::enable_shared_from_this<SerialExecutor::State> {
  struct Waiter {
    absl::Mutex mu;
    bool go ABSL_GUARDED_BY(mu) = false;
  };
  struct Item {
    std::function<void()> fn;        // async item
    std::shared_ptr<Waiter> waiter;  // sync item (shared: the waker may outlive the wait)
  };

  explicit State(std::shared_ptr<ThreadPool> p) : pool(std::move(p)) {}

  // Called by whoever holds the turn when its function is finished.
  void Done() {
    Item next;
    {
      absl::MutexLock lock(&mu);
      if (queue.empty()) {
        running = false;
        return;
      }
      next = std::move(queue.front());
      queue.pop_front();
    }
    Dispatch(std::move(next));
  }

  void Dispatch(Item item) {
    if (item.waiter) {
      absl::MutexLock lock(&item.waiter->mu);
      item.waiter->go = true;
      return;
    }
    pool->Post([self = shared_from_this(), fn = std::move(item.fn)] {
      fn();
      self->Done();
    });
  }

  std::shared_ptr<ThreadPool> pool;
  absl::Mutex mu;
  bool running ABSL_GUARDED_BY(mu) = false;
  std::deque<Item> queue ABSL_GUARDED_BY(mu);
};

SerialExecutor::SerialExecutor(std::shared_ptr<ThreadPool> pool)
    : state_(std::make_shared<State>(std::move(pool))) {}

void SerialExecutor::RunSync(const std::function<void()>& fn) {
  std::shared_ptr<State::Waiter> waiter;
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->running) {
      waiter = std::make_shared<State::Waiter>();
      state_->queue.push_back(State::Item{nullptr, waiter});
    } else {
      state_->running = true;
    }
  }
  if (waiter) {
    absl::MutexLock lock(&waiter->mu);
    waiter->mu.Await(absl::Condition(&waiter->go));
  }
  fn();
  state_->Done();
}

void SerialExecutor::Async(std::function<void()> fn) {
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->running) {
      state_->queue.push_back(State::Item{std::move(fn), nullptr});
      return;
    }
    state_->running = true;
  }
  state_->Dispatch(State::Item{std::move(fn), nullptr});
}

// --- MultiExecutor --------------------------------------------------------------------------

MultiExecutor::MultiExecutor(std::shared_ptr<ThreadPool> pool) : pool_(std::move(pool)) {}

MultiExecutor::Slot* MultiExecutor::Acquire(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto& slot = slots_[key];
  if (!slot) slot = std::make_unique<Slot>(Slot{SerialExecutor(pool_), 0});
  ++slot->users;
  return slot.get();
}

void MultiExecutor::Release(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = slots_.find(key);
  if (it != slots_.end() && --it->second->users == 0) slots_.erase(it);
}

void MultiExecutor::RunSync(const std::string& key, const std::function<void()>& fn) {
  Slot* slot = Acquire(key);
  slot->executor.RunSync(fn);
  Release(key);
}

void MultiExecutor::Async(const std::string& key, std::function<void()> fn) {
  Slot* slot = Acquire(key);
  slot->executor.Async([this, key, fn = std::move(fn)] {
    fn();
    Release(key);
  });
}

size_t MultiExecutor::active_keys() const {
  absl::MutexLock lock(&mu_);
  return slots_.size();
}

}  // namespace nsm
